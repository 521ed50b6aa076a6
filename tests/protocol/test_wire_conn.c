/* test_wire_conn.c -- unit tests of protocol/wire_conn.c over socket pairs: frames in pieces, compaction, limits, flushing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/wire.h"
#include "tests/check.h"

static void pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        perror("socketpair");
        exit(2);
    }
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w <= 0) {
            perror("write");
            exit(2);
        }
        c += w;
        n -= (size_t)w;
    }
}

/* Fills and drains in until the socket is empty; appends frame types to
 * types (NUL-terminated). Returns the first error, or WH_OK. */
static int pump(wire_inbuf *in, int fd, char *types, size_t cap, char *err, size_t errlen)
{
    for (;;) {
        size_t got;
        int rc = wire_inbuf_fill(in, fd, 7, &got, "test-peer", err, errlen);
        if (rc == WH_ERR_AGAIN)
            return WH_OK;
        if (rc != WH_OK)
            return rc;
        int type;
        const uint8_t *pl;
        size_t plen;
        while ((rc = wire_inbuf_next(in, &type, &pl, &plen, err, errlen)) == WH_OK) {
            wire_msg m;
            if (type != WIRE_UPDATES && wire_msg_decode(type, pl, plen, &m, err, errlen) != WH_OK)
                return WH_ERR_PROTOCOL;
            size_t n = strlen(types);
            if (n + 1 < cap) {
                types[n] = (char)('0' + type);
                types[n + 1] = '\0';
            }
        }
        if (rc != WH_ERR_AGAIN)
            return rc;
    }
}

/* Frames that arrive a few bytes at a time come out whole and in order; a
 * partial frame left behind is moved to the front. */
static void test_pieces(void)
{
    int sv[2];
    pair(sv);
    wh_buf out = WH_BUF_INIT;
    wire_put_ack(&out, 1);
    wire_put_heartbeat(&out, 123456789);
    wire_put_hello_ok(&out, "inst", WIRE_FRAME_MAX, WIRE_UPDATE_MAX);
    wire_put_ack(&out, 2);
    wire_inbuf in;
    wire_inbuf_init(&in, 1024, 0);
    char types[32] = "", err[256];
    for (size_t off = 0; off < out.len; off += 3) {
        size_t n = out.len - off < 3 ? out.len - off : 3;
        write_all(sv[0], out.data + off, n);
        CHECK_EQ_INT(pump(&in, sv[1], types, sizeof types, err, sizeof err), WH_OK);
    }
    CHECK_EQ_STR(types, "6726");
    CHECK_EQ_INT(wire_inbuf_pending(&in), 0);

    /* One whole frame and half of the next: after the first is handed out,
     * the next fill moves the half frame to offset 0. */
    size_t first = 0;
    {
        int type;
        const uint8_t *pl;
        size_t plen;
        CHECK_EQ_INT(wire_frame_parse((const uint8_t *)out.data, out.len, 1024, &type, &pl,
                                      &plen, &first, err, sizeof err), WH_OK);
    }
    size_t half = 5;
    write_all(sv[0], out.data, first + half);
    types[0] = '\0';
    CHECK_EQ_INT(pump(&in, sv[1], types, sizeof types, err, sizeof err), WH_OK);
    CHECK_EQ_STR(types, "6");
    CHECK_EQ_INT(in.off, 0);
    CHECK_EQ_INT(wire_inbuf_pending(&in), half);
    CHECK_EQ_INT(memcmp(in.buf.data, out.data + first, half), 0);
    write_all(sv[0], out.data + first + half, out.len - first - half);
    CHECK_EQ_INT(pump(&in, sv[1], types, sizeof types, err, sizeof err), WH_OK);
    CHECK_EQ_STR(types, "6726");

    /* The peer closes: WH_ERR_CLOSED naming it. */
    close(sv[0]);
    size_t got;
    CHECK_EQ_INT(wire_inbuf_fill(&in, sv[1], 64, &got, "test-peer", err, sizeof err),
                 WH_ERR_CLOSED);
    CHECK(strstr(err, "test-peer") != NULL);
    close(sv[1]);
    wire_inbuf_free(&in);
    wh_buf_free(&out);
}

/* A frame far larger than the read chunk arrives whole. */
static void test_large_frame(void)
{
    int sv[2];
    pair(sv);
    wh_buf out = WH_BUF_INIT;
    char *msg = malloc(100000);
    memset(msg, 'x', 99999);
    msg[99999] = '\0';
    wire_put_error(&out, WH_ERR_INVALID, msg);
    wire_inbuf in;
    wire_inbuf_init(&in, 200000, 0);
    char err[256];
    size_t sent = 0, got;
    int done = 0, type = 0;
    const uint8_t *pl = NULL;
    size_t plen = 0;
    while (!done) {
        if (sent < out.len) {
            ssize_t w = write(sv[0], out.data + sent, out.len - sent);
            if (w > 0)
                sent += (size_t)w;
        }
        int rc = wire_inbuf_fill(&in, sv[1], 1024, &got, "p", err, sizeof err);
        CHECK(rc == WH_OK || rc == WH_ERR_AGAIN);
        if (rc != WH_OK && rc != WH_ERR_AGAIN)
            break;
        rc = wire_inbuf_next(&in, &type, &pl, &plen, err, sizeof err);
        CHECK(rc == WH_OK || rc == WH_ERR_AGAIN);
        done = rc == WH_OK;
        if (rc != WH_OK && rc != WH_ERR_AGAIN)
            break;
    }
    CHECK_EQ_INT(type, WIRE_ERROR);
    wire_msg m;
    CHECK_EQ_INT(wire_msg_decode(type, pl, plen, &m, err, sizeof err), WH_OK);
    CHECK_EQ_INT(m.message_len, 99999);
    /* Room for the whole frame was made at once, not a chunk at a time. */
    CHECK(in.buf.cap >= out.len);
    CHECK(in.buf.cap < 2 * out.len);
    free(msg);
    close(sv[0]);
    close(sv[1]);
    wire_inbuf_free(&in);
    wh_buf_free(&out);
}

/* The limits: a length above max_frame, a bad CRC, and a peer that sends
 * more than max_bytes without completing a frame. */
static void test_limits(void)
{
    int sv[2];
    char err[256], types[8] = "";
    wire_inbuf in;

    pair(sv);
    wire_inbuf_init(&in, 16, 0);
    wh_buf out = WH_BUF_INIT;
    wire_put_hello_ok(&out, "an instance name longer than sixteen bytes", WIRE_FRAME_MAX, 0);
    write_all(sv[0], out.data, out.len);
    CHECK_EQ_INT(pump(&in, sv[1], types, sizeof types, err, sizeof err), WH_ERR_LIMIT);
    CHECK(strstr(err, "exceeds the limit of 16") != NULL);
    wire_inbuf_free(&in);
    close(sv[0]);
    close(sv[1]);

    pair(sv);
    wire_inbuf_init(&in, 1024, 0);
    out.data[out.len - 1] ^= 1;   /* the CRC's last byte */
    write_all(sv[0], out.data, out.len);
    CHECK_EQ_INT(pump(&in, sv[1], types, sizeof types, err, sizeof err), WH_ERR_CORRUPT);
    CHECK(strstr(err, "checksum") != NULL);
    wire_inbuf_free(&in);
    close(sv[0]);
    close(sv[1]);

    pair(sv);
    wire_inbuf_init(&in, 4096, 64);   /* frames up to 4096, but at most 64 bytes held */
    uint8_t hdr[5] = { 0, 0, 2, 0, WIRE_HEARTBEAT };   /* announces 512 bytes */
    uint8_t body[200];
    memset(body, 0, sizeof body);
    write_all(sv[0], hdr, sizeof hdr);
    write_all(sv[0], body, sizeof body);
    int rc = pump(&in, sv[1], types, sizeof types, err, sizeof err);
    CHECK_EQ_INT(rc, WH_ERR_LIMIT);
    CHECK(strstr(err, "test-peer") != NULL);
    CHECK(strstr(err, "without completing a frame") != NULL);
    CHECK_EQ_INT(wire_inbuf_pending(&in), 64);   /* never more than the cap */
    wire_inbuf_reset(&in);
    CHECK_EQ_INT(wire_inbuf_pending(&in), 0);
    wire_inbuf_free(&in);
    close(sv[0]);
    close(sv[1]);
    wh_buf_free(&out);
}

/* The send buffer: flushes until the socket is full, keeps the rest,
 * compacts what was sent, and reports a dead peer's errno. */
static void test_outbuf(void)
{
    int sv[2];
    pair(sv);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    wire_outbuf o = WIRE_OUTBUF_INIT;
    for (uint64_t i = 0; i < 200000; i++)   /* about 2.2 MB of ACK frames */
        wire_put_ack(&o.buf, i);
    size_t total = o.buf.len, sent = 0, recvd = 0, compacted = 0;
    char *copy = malloc(total), *in = malloc(total + 1);
    memcpy(copy, o.buf.data, total);
    CHECK_EQ_INT(wire_outbuf_flush(&o, sv[0], &sent), WH_OK);
    CHECK(sent > 0 && sent < total);   /* the socket filled up: the rest is kept */
    CHECK_EQ_INT(wire_outbuf_pending(&o), total - sent);
    int rounds = 0;
    while (recvd < total && rounds++ < 1000000) {
        ssize_t r = read(sv[1], in + recvd, total - recvd);
        if (r > 0)
            recvd += (size_t)r;
        size_t before = o.off;
        CHECK_EQ_INT(wire_outbuf_flush(&o, sv[0], &sent), WH_OK);
        if (o.off < before)
            compacted++;
    }
    CHECK_EQ_INT(recvd, total);
    CHECK_EQ_INT(memcmp(in, copy, total), 0);
    CHECK_EQ_INT(wire_outbuf_pending(&o), 0);
    CHECK_EQ_INT(o.buf.len, 0);
    CHECK(compacted > 0);   /* more than 1 MiB was sent while bytes were pending */

    /* The peer is gone: WH_ERR_IO with its errno, sticky until reset. */
    close(sv[1]);
    wire_put_ack(&o.buf, 1);
    CHECK_EQ_INT(wire_outbuf_flush(&o, sv[0], &sent), WH_ERR_IO);
    CHECK(o.err == EPIPE || o.err == ECONNRESET);
    CHECK_EQ_INT(wire_outbuf_flush(&o, sv[0], NULL), WH_ERR_IO);
    wire_outbuf_reset(&o);
    CHECK_EQ_INT(o.err, 0);
    CHECK_EQ_INT(wire_outbuf_pending(&o), 0);
    close(sv[0]);
    wire_outbuf_free(&o);
    free(copy);
    free(in);
}

/* Memory goes back: after a frame of several MiB the buffer keeps at most
 * WIRE_INBUF_KEEP (trim, or the next fill); a stranger's small limits are
 * raised once it is known (wire_inbuf_limit); a partial frame kept across
 * fills never lets the buffer grow past its cap. */
static void test_release(void)
{
    int sv[2];
    pair(sv);
    char err[256];
    wh_buf out = WH_BUF_INIT;
    size_t big = 3u << 20;
    char *msg = malloc(big + 1);
    memset(msg, 'y', big);
    msg[big] = '\0';
    wire_put_error(&out, WH_ERR_INVALID, msg);
    wire_put_ack(&out, 7);
    wire_inbuf in;
    wire_inbuf_init(&in, 1024, 2048);   /* a stranger: small frames only */
    write_all(sv[0], out.data, 64);
    char types[8] = "";
    CHECK_EQ_INT(pump(&in, sv[1], types, sizeof types, err, sizeof err), WH_ERR_LIMIT);
    CHECK(strstr(err, "exceeds the limit of 1024") != NULL);
    wire_inbuf_free(&in);
    close(sv[0]);
    close(sv[1]);

    pair(sv);
    wire_inbuf_init(&in, 1024, 2048);
    wire_inbuf_limit(&in, 8u << 20, 0);   /* known now */
    CHECK_EQ_INT(in.max_bytes, (8u << 20) + WIRE_OVERHEAD);
    size_t sent = 0, got;
    int frames = 0;
    while (frames < 2) {
        if (sent < out.len) {
            ssize_t w = write(sv[0], out.data + sent, out.len - sent);
            if (w > 0)
                sent += (size_t)w;
        }
        int rc = wire_inbuf_fill(&in, sv[1], 4096, &got, "p", err, sizeof err);
        if (rc != WH_OK && rc != WH_ERR_AGAIN) {
            CHECK_EQ_INT(rc, WH_OK);
            break;
        }
        CHECK(in.buf.len <= in.max_bytes);
        int type;
        const uint8_t *pl;
        size_t plen;
        while (wire_inbuf_next(&in, &type, &pl, &plen, err, sizeof err) == WH_OK) {
            CHECK_EQ_INT(type, frames == 0 ? WIRE_ERROR : WIRE_ACK);
            frames++;
        }
    }
    CHECK(in.buf.cap > big);   /* the large frame needed it */
    wire_inbuf_trim(&in);
    CHECK(in.buf.cap <= WIRE_INBUF_KEEP);
    /* A large frame that never completes (the connection ends): the next
     * fill shrinks to what the next frame needs. */
    wh_buf_reset(&out);
    wire_put_error(&out, WH_ERR_INVALID, msg);
    write_all(sv[0], out.data, 100);
    CHECK_EQ_INT(wire_inbuf_fill(&in, sv[1], 4096, &got, "p", err, sizeof err), WH_OK);
    CHECK_EQ_INT(wire_inbuf_pending(&in), 100);
    CHECK_EQ_INT(wire_inbuf_fill(&in, sv[1], 4096, &got, "p", err, sizeof err), WH_ERR_AGAIN);
    CHECK(in.buf.cap > big);   /* room was made for the whole frame whose header is in */
    wire_inbuf_reset(&in);     /* e.g. the connection ended */
    wh_buf_reset(&out);
    wire_put_ack(&out, 8);
    write_all(sv[0], out.data, out.len);
    CHECK_EQ_INT(wire_inbuf_fill(&in, sv[1], 4096, &got, "p", err, sizeof err), WH_OK);
    CHECK(in.buf.cap <= WIRE_INBUF_KEEP);
    free(msg);
    close(sv[0]);
    close(sv[1]);
    wire_inbuf_free(&in);
    wh_buf_free(&out);

    /* The send buffer frees a large burst once it is out. */
    pair(sv);
    wire_outbuf o = WIRE_OUTBUF_INIT;
    for (uint64_t i = 0; i < 600000; i++)   /* about 6.6 MB of ACK frames */
        wire_put_ack(&o.buf, i);
    CHECK(o.buf.cap > WIRE_OUTBUF_KEEP);
    char sink[65536];
    int rounds = 0;
    while (wire_outbuf_pending(&o) > 0 && rounds++ < 100000) {
        CHECK_EQ_INT(wire_outbuf_flush(&o, sv[0], NULL), WH_OK);
        while (read(sv[1], sink, sizeof sink) > 0)
            ;
    }
    CHECK_EQ_INT(wire_outbuf_pending(&o), 0);
    CHECK(o.buf.cap == 0 && o.buf.data == NULL);
    wire_outbuf_free(&o);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    test_pieces();
    test_large_frame();
    test_limits();
    test_outbuf();
    test_release();
    return check_done("test_wire_conn");
}
