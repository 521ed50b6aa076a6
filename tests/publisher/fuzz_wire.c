/* fuzz_wire.c -- libFuzzer target for the subscriber's frame and MessagePack decoders.
 *
 * The input is a byte stream as a publisher would send it: frames are cut
 * from it and each is decoded as its type says, exactly as the subscriber
 * library does with bytes from the network. Built with -Dfuzzers=true it is a
 * libFuzzer binary; otherwise main() below replays the files named on the
 * command line (or every file in the directories named), so the seed corpus
 * runs in the unit suite and the target cannot rot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/update_json.h"
#include "protocol/wire.h"
#include "tests/fuzz_replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_payload(int type, const uint8_t *pl, size_t plen)
{
    static wh_arena arena = WH_ARENA_INIT;
    static wh_buf json = WH_BUF_INIT;
    char err[256];
    if (type == WIRE_UPDATES) {
        wire_batch b;
        wh_arena_reset(&arena);
        if (wire_batch_decode(pl, plen, &arena, &b, err, sizeof err) == WH_OK) {
            /* Render every update: touches every decoded pointer. */
            for (uint32_t i = 0; i < b.count; i++) {
                wh_buf_reset(&json);
                wh_update_to_json(&b.updates[i], &json);
            }
        }
    } else if (type == WIRE_UPDATES_PART) {
        wire_part part;
        wire_part_decode(pl, plen, &part, err, sizeof err);
    } else {
        wire_msg m;
        wire_msg_decode(type, pl, plen, &m, err, sizeof err);
    }
}

/* Inputs whose first byte has the high bit set are one payload of the type in
 * its low bits, given straight to the decoders: random mutations rarely keep a
 * frame's CRC valid, so without this the decoders behind it would go unfuzzed.
 * Other inputs are a byte stream of frames, as read from a socket. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    size_t off = 0;
    if (size > 0 && (data[0] & 0x80)) {
        decode_payload(data[0] & 0x0f, data + 1, size - 1);
        return 0;
    }
    /* Parts of an update are reassembled, as libwormhole does, within a
     * bound small enough for the fuzzer to reach. */
    static wire_asm parts;
    wire_asm_init(&parts, 1u << 16);
    while (off < size) {
        int type;
        const uint8_t *pl, *whole;
        size_t plen, used, wlen;
        /* A small limit keeps the fuzzer's inputs meaningful. */
        if (wire_frame_parse(data + off, size - off, 1u << 20, &type, &pl, &plen, &used, err,
                             sizeof err) != WH_OK)
            break;
        off += used;
        int rc = wire_asm_frame(&parts, type, pl, plen, &whole, &wlen, err, sizeof err);
        if (rc == WH_ERR_AGAIN)
            continue;
        if (rc != WH_OK)
            break;
        if (whole) {
            decode_payload(WIRE_UPDATES, whole, wlen);
            wire_asm_reset(&parts);
            continue;
        }
        decode_payload(type, pl, plen);
    }
    wire_asm_reset(&parts);   /* an update left incomplete */
    return 0;
}

#ifndef WH_FUZZING
static void replay(void *opaque, const uint8_t *data, size_t len)
{
    (void)opaque;
    LLVMFuzzerTestOneInput(data, len);
}

int main(int argc, char **argv)
{
    int files = fuzz_replay(argc - 1, argv + 1, replay, NULL);
    printf("fuzz_wire: %d inputs replayed, %s\n", files < 0 ? 0 : files, files > 0 ? "ok" : "FAILED");
    return files <= 0;
}
#endif
