/* wire_conn.c -- receive and send buffers of a framed, non-blocking connection (see wire_conn.h). */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/endian.h"
#include "core/errbuf.h"
#include "protocol/wire_conn.h"
#include "protocol/wire_frame.h"
#include "protocol/wire_tls.h"

/* Send-side compaction: move the unsent tail to the front once the sent
 * prefix is over this size and more than half the buffer (amortised O(1)
 * per byte, and no copying at all for a peer that keeps up). */
#define OUT_COMPACT_MIN (1u << 20)

void wire_inbuf_init(wire_inbuf *in, uint32_t max_frame, size_t max_bytes)
{
    memset(in, 0, sizeof *in);
    in->max_frame = max_frame;
    in->max_bytes = max_bytes ? max_bytes : (size_t)max_frame + WIRE_OVERHEAD;
}

void wire_inbuf_limit(wire_inbuf *in, uint32_t max_frame, size_t max_bytes)
{
    in->max_frame = max_frame;
    in->max_bytes = max_bytes ? max_bytes : (size_t)max_frame + WIRE_OVERHEAD;
}

void wire_inbuf_reset(wire_inbuf *in)
{
    wh_buf_reset(&in->buf);
    in->off = 0;
}

void wire_inbuf_free(wire_inbuf *in)
{
    wh_buf_free(&in->buf);
    in->off = 0;
}

/* Moves the unconsumed tail to the front of the buffer. */
static void inbuf_compact(wire_inbuf *in)
{
    size_t n = wire_inbuf_pending(in);
    if (in->off == 0)
        return;
    if (n > 0)
        memmove(in->buf.data, in->buf.data + in->off, n);
    in->buf.len = n;
    in->off = 0;
    in->buf.data[n] = '\0';
}

/* Gives back memory a large frame left behind: a buffer of more than
 * WIRE_INBUF_KEEP bytes whose next need (need bytes in all) is under a
 * quarter of it shrinks to twice that need, at least WIRE_INBUF_KEEP. */
static void inbuf_shrink(wire_inbuf *in, size_t need)
{
    assert(in->off == 0 && need >= in->buf.len);
    if (in->buf.cap <= WIRE_INBUF_KEEP || need >= in->buf.cap / 4)
        return;
    if (in->buf.len == 0) {
        wh_buf_free(&in->buf);   /* nothing held: the next fill allocates what it needs */
        return;
    }
    size_t cap = 2 * need + 1 > WIRE_INBUF_KEEP ? 2 * need + 1 : WIRE_INBUF_KEEP;
    char *p = realloc(in->buf.data, cap);
    if (p) {   /* a failed shrink keeps the larger block: harmless */
        in->buf.data = p;
        in->buf.cap = cap;
    }
}

void wire_inbuf_trim(wire_inbuf *in)
{
    inbuf_compact(in);
    inbuf_shrink(in, in->buf.len);
}

int wire_inbuf_fill(wire_inbuf *in, int fd, size_t chunk, size_t *got, const char *peer,
                    char *errbuf, size_t errlen)
{
    return wire_inbuf_fill_tls(in, fd, NULL, chunk, got, peer, errbuf, errlen);
}

int wire_inbuf_fill_tls(wire_inbuf *in, int fd, wire_tls *tls, size_t chunk, size_t *got,
                        const char *peer, char *errbuf, size_t errlen)
{
    const char *who = peer ? peer : "peer";
    *got = 0;
    assert(chunk > 0);
    inbuf_compact(in);
    size_t held = in->buf.len;
    if (held >= in->max_bytes)
        return wh_seterr(errbuf, errlen, WH_ERR_LIMIT,
                         "%s sent %zu bytes without completing a frame (the limit is %zu bytes)",
                         who, held, in->max_bytes);
    size_t room = in->max_bytes - held;
    size_t want = chunk < room ? chunk : room;
    /* A frame's header is here: make room for all of it in one go, so that
     * a large frame is not grown chunk by chunk. */
    if (held >= 4) {
        size_t total = (size_t)wh_be32((const uint8_t *)in->buf.data) + WIRE_OVERHEAD;
        if (total <= in->max_bytes && total > held && total - held > want)
            want = total - held;   /* <= room, as total <= max_bytes */
    }
    inbuf_shrink(in, held + want);
    if (!wh_buf_reserve(&in->buf, want))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM,
                         "out of memory buffering %zu bytes from %s", held + want, who);
    /* wh_buf keeps a NUL after len: cap - len - 1 bytes are free. */
    size_t space = in->buf.cap - in->buf.len - 1;
    if (space > room)
        space = room;
    for (;;) {
        ssize_t n = wire_tls_recv(fd, tls, in->buf.data + in->buf.len, space);
        if (n > 0) {
            in->buf.len += (size_t)n;
            in->buf.data[in->buf.len] = '\0';
            *got = (size_t)n;
            return WH_OK;
        }
        if (n == 0)
            return wh_seterr(errbuf, errlen, WH_ERR_CLOSED, "%s closed the connection", who);
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return WH_ERR_AGAIN;
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "receiving from %s failed: %s", who,
                         tls ? wire_tls_error(tls) : strerror(errno));
    }
}

int wire_inbuf_next(wire_inbuf *in, int *type, const uint8_t **payload, size_t *plen,
                    char *errbuf, size_t errlen)
{
    size_t used;
    int rc = wire_frame_parse((const uint8_t *)in->buf.data + in->off, wire_inbuf_pending(in),
                              in->max_frame, type, payload, plen, &used, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    in->off += used;
    if (in->off == in->buf.len)
        wire_inbuf_reset(in);   /* all consumed: the next fill starts at the front */
    return WH_OK;
}

/* ---- sending ------------------------------------------------------------------------- */

void wire_outbuf_reset(wire_outbuf *o)
{
    wh_buf_reset(&o->buf);
    o->off = 0;
    o->err = 0;
}

void wire_outbuf_free(wire_outbuf *o)
{
    wh_buf_free(&o->buf);
    o->off = 0;
    o->err = 0;
}

int wire_outbuf_flush(wire_outbuf *o, int fd, size_t *sent)
{
    return wire_outbuf_flush_tls(o, fd, NULL, sent);
}

int wire_outbuf_flush_tls(wire_outbuf *o, int fd, wire_tls *tls, size_t *sent)
{
    size_t total = 0;
    int rc = WH_OK;
    if (o->err) {
        rc = WH_ERR_IO;
        goto out;
    }
    while (o->off < o->buf.len) {
        /* Over TLS a write that would block is repeated with the same
         * bytes at o->off (more may have been appended; a compaction may
         * have moved them: the context accepts a moving buffer). */
        ssize_t n = wire_tls_send(fd, tls, o->buf.data + o->off, o->buf.len - o->off);
        if (n > 0) {
            o->off += (size_t)n;
            total += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        o->err = n < 0 ? errno : EPIPE;
        rc = WH_ERR_IO;
        goto out;
    }
    if (o->off == o->buf.len) {
        if (o->buf.cap > WIRE_OUTBUF_KEEP)
            wh_buf_free(&o->buf);   /* a large burst is over: give its memory back */
        else
            wh_buf_reset(&o->buf);
        o->off = 0;
    } else if (o->off > OUT_COMPACT_MIN && o->off > o->buf.len / 2) {
        memmove(o->buf.data, o->buf.data + o->off, o->buf.len - o->off);
        o->buf.len -= o->off;
        o->off = 0;
    }
out:
    if (sent)
        *sent = total;
    return rc;
}
