/* fuzz_pub_recv.c -- libFuzzer target for the publisher's receive path: what a subscriber sends to a publisher.
 *
 * The input is a byte stream as a subscriber (or anything that answers a
 * publisher's connection) would send it. It goes through a real socket
 * pair into a wire_inbuf with the publisher's limits (frames of at most
 * WIRE_CONTROL_MAX, held in a buffer of at most one such frame), cut into
 * writes of sizes drawn from the input's first byte, so the buffer's
 * compaction and cap run as they do on a live connection. Each frame is
 * decoded as the publisher decodes it (wire_msg_decode), and handled by the
 * publisher's rules for a flow: HELLO_OK once and first, then ACK,
 * HEARTBEAT; ERROR ends the connection; anything else is refused. A HELLO_OK
 * sets the encoder's limits for the peer (wire_enc_peer); an update of a
 * size drawn from the input is then encoded under them, and every frame
 * must respect the announced limit and reassemble to the same update. The
 * invariants are asserted, so a breach is a crash the fuzzer reports.
 *
 * Built with -Dfuzzers=true (CC=clang) it is a libFuzzer binary; otherwise
 * main() replays the files or directories named on the command line, so
 * the seed corpus (tests/publisher/fuzz_pub_corpus, written by
 * --write-corpus DIR) runs in the unit suite. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/wire.h"
#include "tests/fuzz_replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The publisher's view of one connection. */
typedef struct flow {
    bool     greeted;     /* HELLO_OK came */
    bool     done;        /* ERROR, or a frame the publisher refuses: it closes */
    uint64_t sent_mseq;   /* datamarkers the publisher sent: an ACK may not pass it */
    wire_enc enc;
} flow;

/* Encodes one update of n bytes of blob under the peer's limits, checks
 * that no frame passes them and that it reassembles (or, without parts, is
 * refused exactly when it cannot fit). */
static void encode_for_peer(flow *f, const wire_msg *m, size_t n, uint32_t own)
{
    static char blob[1 << 18];
    static const char *const names[] = { "id", "b" };
    static wh_buf out = WH_BUF_INIT;
    wh_value v[2];
    memset(v, 0, sizeof v);
    memset(blob, 'z', n);
    v[0].type = WH_T_INT;
    v[1].type = WH_T_BYTES;
    v[1].str = blob;
    v[1].len = (uint32_t)n;
    wh_update u = { .shard = "s", .op = WH_OP_INSERT, .pos = { "f", 4, NULL, 1 },
                    .has_after = true, .after = { names, v, 2 } };
    wire_enc_peer(&f->enc, own, m);
    uint32_t limit = f->enc.frame_max;
    assert(limit >= WIRE_FRAME_MIN && limit <= WIRE_FRAME_MAX);
    assert(!m->max_frame || limit <= m->max_frame);
    wh_buf_reset(&out);
    wire_enc_begin(&f->enc, &out, "s");
    int rc = wire_enc_add(&f->enc, &u);
    assert(rc == WH_OK || (rc == WH_ERR_LIMIT && !m->max_update));
    rc = wire_enc_end(&f->enc);
    assert(rc == WH_OK);
    wire_asm a;
    wire_asm_init(&a, UINT64_MAX);
    size_t off = 0;
    int whole = 0;
    char err[256];
    while (off < out.len) {
        int type;
        const uint8_t *pl, *p;
        size_t plen, used, len;
        rc = wire_frame_parse((const uint8_t *)out.data + off, out.len - off, limit, &type, &pl,
                              &plen, &used, err, sizeof err);
        assert(rc == WH_OK);   /* within the peer's limit, CRC right */
        off += used;
        rc = wire_asm_frame(&a, type, pl, plen, &p, &len, err, sizeof err);
        assert(rc == WH_OK || rc == WH_ERR_AGAIN);
        whole += rc == WH_OK;
    }
    assert(whole == (out.len > 0));
    wire_asm_reset(&a);
}

/* The publisher's rules for a frame from its subscriber. */
static void handle(flow *f, int type, const uint8_t *pl, size_t plen, const uint8_t *tail,
                   size_t tlen)
{
    wire_msg m;
    char err[256];
    if (wire_msg_decode(type, pl, plen, &m, err, sizeof err) != WH_OK) {
        assert(err[0]);   /* every refusal says why */
        f->done = true;
        return;
    }
    switch (type) {
    case WIRE_HELLO_OK:
        if (f->greeted) {
            f->done = true;
            return;
        }
        f->greeted = true;
        /* The update's size and the publisher's own frame target come from
         * the input bytes that follow the HELLO_OK. */
        encode_for_peer(f, &m, tlen ? (size_t)tail[0] << 10 | (tlen > 1 ? tail[1] : 0) : 100,
                        tlen > 2 && (tail[2] & 1) ? WIRE_FRAME_MIN : 1u << 20);
        return;
    case WIRE_ACK:
        if (!f->greeted || m.seq > f->sent_mseq)
            f->done = true;
        return;
    case WIRE_HEARTBEAT:
        return;
    default:   /* ERROR ends it; nothing else comes from a subscriber */
        f->done = true;
        return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static flow f;
    static bool init;
    if (!init) {
        wire_enc_init(&f.enc);
        init = true;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        abort();
    /* Byte 0: bit 7 small limits (the cap is reached by short inputs too),
     * bits 0-6 the size of the writes. */
    uint8_t ctl = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1, off = 0, step = (size_t)(ctl & 0x7f) + 1;
    uint32_t max_frame = (ctl & 0x80) ? 200 : WIRE_CONTROL_MAX - WIRE_OVERHEAD;
    wire_inbuf in;
    wire_inbuf_init(&in, max_frame, (ctl & 0x80) ? 230 : WIRE_CONTROL_MAX);
    f.greeted = f.done = false;
    f.sent_mseq = 3;
    size_t nread = 0;   /* stream bytes received */
    char err[256];
    while (!f.done) {
        if (off < n) {
            size_t w = n - off < step ? n - off : step;
            ssize_t r = write(sv[0], p + off, w);
            if (r > 0)
                off += (size_t)r;
        } else if (sv[0] >= 0) {
            close(sv[0]);   /* the subscriber is done: the publisher sees the close */
            sv[0] = -1;
        }
        size_t got;
        int rc = wire_inbuf_fill(&in, sv[1], 4096, &got, "fuzz", err, sizeof err);
        nread += got;
        assert(in.buf.len <= in.max_bytes);
        if (rc == WH_ERR_AGAIN)
            continue;
        if (rc != WH_OK)
            break;   /* closed, or the cap: the publisher drops the connection */
        for (;;) {
            int type;
            const uint8_t *pl;
            size_t plen;
            rc = wire_inbuf_next(&in, &type, &pl, &plen, err, sizeof err);
            if (rc == WH_ERR_AGAIN)
                break;
            if (rc != WH_OK) {
                f.done = true;
                break;
            }
            assert(plen + 1 <= max_frame);
            /* The bytes after this frame in the stream steer what follows. */
            size_t at = nread - wire_inbuf_pending(&in);
            assert(at <= n);
            handle(&f, type, pl, plen, p + at, n - at);
            if (f.done)
                break;
        }
        wire_inbuf_trim(&in);
    }
    if (sv[0] >= 0)
        close(sv[0]);
    close(sv[1]);
    wire_inbuf_free(&in);
    return 0;
}

#ifndef WH_FUZZING
static void replay(void *opaque, const uint8_t *data, size_t len)
{
    (void)opaque;
    LLVMFuzzerTestOneInput(data, len);
}

/* The seed corpus: what a subscriber says, whole and in pieces. */
static int write_corpus(const char *dir)
{
    wh_buf b = WH_BUF_INIT;
    for (int k = 0; k < 8; k++) {
        wh_buf_reset(&b);
        uint8_t ctl = (uint8_t)(k == 5 ? 0x80 | 3 : k * 13);
        wh_buf_append(&b, &ctl, 1);
        switch (k) {
        case 0:   /* the usual: HELLO_OK, heartbeats, ACKs */
            wire_put_hello_ok(&b, "inst", WIRE_FRAME_MIN, 1u << 20);
            wire_put_heartbeat(&b, 1);
            wire_put_ack(&b, 1);
            wire_put_ack(&b, 3);
            wh_buf_append(&b, "\x40\x00\x00", 3);   /* 64 KiB in 16 KiB frames: parts */
            break;
        case 1:   /* an older subscriber: no limits; a 64 KiB update it cannot take */
            {
                size_t f = wire_frame_begin(&b, WIRE_HELLO_OK);
                mp_put_map(&b, 2);
                mp_put_uint(&b, 1); mp_put_uint(&b, 1);
                mp_put_uint(&b, 2); mp_put_cstr(&b, "old");
                wire_frame_end(&b, f);
            }
            wire_put_ack(&b, 2);
            wh_buf_append(&b, "\x40\x00\x01", 3);
            break;
        case 2:   /* a refusal */
            wire_put_hello_ok(&b, "inst", 1u << 20, 1u << 30);
            wire_put_error(&b, WH_ERR_LIMIT, "the update at f:4/1 takes 300 bytes");
            break;
        case 3:   /* an ACK before the handshake */
            wire_put_ack(&b, 1);
            break;
        case 4:   /* an ACK for a datamarker never sent */
            wire_put_hello_ok(&b, "inst", 65536, 65536);
            wire_put_ack(&b, 99);
            break;
        case 5:   /* a frame that never completes, against the small cap */
            wh_buf_append(&b, "\x00\x00\x00\xc0\x07", 5);
            for (int i = 0; i < 300; i++)
                wh_buf_putc(&b, (char)i);
            break;
        case 6:   /* a HELLO_OK announcing a frame limit below the minimum */
            wire_put_hello_ok(&b, "inst", 100, 1000);
            break;
        default:  /* two HELLO_OKs */
            wire_put_hello_ok(&b, "a", WIRE_FRAME_MAX, 0);
            wire_put_hello_ok(&b, "b", WIRE_FRAME_MAX, 0);
            break;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/seed-%d", dir, k);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0)
            return 1;
    }
    wh_buf_free(&b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    int files = fuzz_replay(argc - 1, argv + 1, replay, NULL);
    printf("fuzz_pub_recv: %d inputs replayed, %s\n", files < 0 ? 0 : files, files > 0 ? "ok" : "FAILED");
    return files <= 0;
}
#endif
