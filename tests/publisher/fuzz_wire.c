/* fuzz_wire.c -- libFuzzer target for the subscriber's frame and MessagePack decoders.
 *
 * The input is a byte stream as a publisher would send it: frames are cut
 * from it and each is decoded as its type says, exactly as the subscriber
 * library does with bytes from the network. Built with -Dfuzzers=true it is a
 * libFuzzer binary; otherwise main() below replays the files named on the
 * command line (or every file in the directories named), so the seed corpus
 * runs in the unit suite and the target cannot rot. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/update_json.h"
#include "protocol/wire.h"

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
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_wire: cannot open %s\n", path);
        return 1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n;
    do {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return 1;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            failed += run_file(argv[i]);
            files++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            failed += run_file(path);
            files++;
        }
        closedir(d);
    }
    printf("fuzz_wire: %d inputs replayed, %d unreadable\n", files, failed);
    return failed || files == 0;
}
#endif
