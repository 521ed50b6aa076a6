/* binlog_payload.c -- streaming through MySQL transaction payload events
 * (see binlog_payload.h). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "core/errbuf.h"
#include "mappers/mysql/binlog_payload.h"

/* Header field types of the payload event (type, length, value triples of
 * packed integers, ended by END_MARK). */
enum { PF_END_MARK = 0, PF_PAYLOAD_SIZE = 1, PF_COMPRESSION_TYPE = 2, PF_UNCOMPRESSED_SIZE = 3 };

struct binlog_payload {
    ZSTD_DStream *ds;
    uint8_t *win;                /* uncompressed window */
    size_t cap, len, pos, window;
    const uint8_t *src;          /* compressed (or plain) payload bytes */
    size_t src_len, src_pos;
    int alg;
    bool active, frame_done;
    bool has_usize;
    uint64_t usize;              /* declared uncompressed size */
    uint64_t produced;           /* uncompressed bytes produced so far */
    uint64_t base;               /* uncompressed offset of win[0] */
    size_t need;                 /* length of the event waiting for a bigger window */
    binlog_fde fde;
};

binlog_payload *binlog_payload_new(size_t window)
{
    binlog_payload *pl = calloc(1, sizeof *pl);
    if (!pl)
        return NULL;
    pl->window = window ? window : (1u << 20);
    return pl;
}

void binlog_payload_free(binlog_payload *pl)
{
    if (!pl)
        return;
    if (pl->ds)
        ZSTD_freeDStream(pl->ds);
    free(pl->win);
    free(pl);
}

bool binlog_payload_active(const binlog_payload *pl)
{
    return pl->active;
}

uint64_t binlog_payload_offset(const binlog_payload *pl)
{
    return pl->base + pl->pos;
}

void binlog_payload_end(binlog_payload *pl)
{
    pl->active = false;
    pl->len = pl->pos = 0;
    pl->need = 0;
    /* Give back a window grown for one huge inner event. */
    if (pl->cap > 4 * pl->window) {
        free(pl->win);
        pl->win = NULL;
        pl->cap = 0;
    }
}

int binlog_payload_begin(binlog_payload *pl, const binlog_event *ev, const binlog_fde *fde,
                         char *errbuf, size_t errlen)
{
    const uint8_t *p = ev->body, *end = ev->body + ev->body_len;
    uint64_t psize = 0, usize = 0, alg = BINLOG_PAYLOAD_NONE;
    bool has_psize = false, has_alg = false, has_usize = false;
    for (;;) {
        uint64_t type, len, val;
        size_t k = binlog_packed_int(p, (size_t)(end - p), &type);
        if (!k)
            goto bad_header;
        p += k;
        if (type == PF_END_MARK)
            break;
        if (!(k = binlog_packed_int(p, (size_t)(end - p), &len)) || len > (size_t)(end - p) - k)
            goto bad_header;
        p += k;
        const uint8_t *v = p;
        p += len;
        if (type > PF_UNCOMPRESSED_SIZE)
            continue;   /* a field of a later version */
        if (len == 0 || binlog_packed_int(v, (size_t)len, &val) != len)
            goto bad_header;    /* an empty field would leave val unset */
        if (type == PF_PAYLOAD_SIZE) { psize = val; has_psize = true; }
        else if (type == PF_COMPRESSION_TYPE) { alg = val; has_alg = true; }
        else { usize = val; has_usize = true; }
    }
    if (!has_psize || !has_alg)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "transaction payload header lacks its %s field",
                         has_psize ? "compression type" : "payload size");
    if (psize != (uint64_t)(end - p))
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "transaction payload declares %" PRIu64 " bytes but holds %zu",
                         psize, (size_t)(end - p));
    if (alg != BINLOG_PAYLOAD_ZSTD && alg != BINLOG_PAYLOAD_NONE)
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                         "transaction payload uses unknown compression type %" PRIu64, alg);
    if (alg == BINLOG_PAYLOAD_ZSTD) {
        if (!pl->ds && !(pl->ds = ZSTD_createDStream()))
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a zstd stream");
        size_t z = ZSTD_initDStream(pl->ds);
        if (ZSTD_isError(z))
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "zstd: %s", ZSTD_getErrorName(z));
    }
    if (!pl->win) {
        if (!(pl->win = malloc(pl->window)))
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a payload window");
        pl->cap = pl->window;
    }
    pl->src = p;
    pl->src_len = (size_t)psize;
    pl->src_pos = 0;
    pl->alg = (int)alg;
    pl->has_usize = has_usize;
    pl->usize = usize;
    pl->produced = 0;
    pl->base = 0;
    pl->len = pl->pos = 0;
    pl->need = 0;
    pl->frame_done = false;
    pl->fde = *fde;
    pl->fde.checksum_alg = BINLOG_CHECKSUM_OFF;
    pl->active = true;
    return WH_OK;
bad_header:
    return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "transaction payload header is malformed");
}

/* Whether every compressed byte has been turned into window bytes. */
static bool input_done(const binlog_payload *pl)
{
    return pl->src_pos >= pl->src_len && (pl->alg == BINLOG_PAYLOAD_NONE || pl->frame_done);
}

int binlog_payload_next(binlog_payload *pl, binlog_event *ev, char *errbuf, size_t errlen)
{
    if (!pl->active)
        return WH_ERR_EOF;
    size_t avail = pl->len - pl->pos;
    const uint8_t *p = pl->win + pl->pos;
    if (avail < pl->fde.header_len) {
        if (!input_done(pl))
            return BINLOG_PAYLOAD_REFILL;
        if (avail == 0) {
            if (pl->has_usize && pl->produced != pl->usize)
                return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                                 "transaction payload inflates to %" PRIu64 " bytes, not the "
                                 "declared %" PRIu64, pl->produced, pl->usize);
            binlog_payload_end(pl);
            return WH_ERR_EOF;
        }
        goto truncated;
    }
    int rc = binlog_event_header(p, avail, &pl->fde, ev, errbuf, errlen);
    if (rc != WH_OK)
        return rc == WH_ERR_TRUNCATED ? BINLOG_PAYLOAD_REFILL : rc;
    if (ev->length > avail) {
        if (input_done(pl))
            goto truncated;
        pl->need = ev->length;
        return BINLOG_PAYLOAD_REFILL;
    }
    rc = binlog_event_frame(p, &pl->fde, false, ev, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    pl->pos += ev->length;
    return WH_OK;
truncated:
    return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                     "transaction payload ends inside an event at uncompressed offset %" PRIu64,
                     pl->base + pl->pos);
}

int binlog_payload_refill(binlog_payload *pl, char *errbuf, size_t errlen)
{
    size_t rem = pl->len - pl->pos;
    if (pl->pos > 0) {
        memmove(pl->win, pl->win + pl->pos, rem);
        pl->base += pl->pos;
        pl->pos = 0;
        pl->len = rem;
    }
    /* Grow toward an oversized inner event by doubling, so that a corrupt
     * length costs at most twice the bytes that really decompress. */
    size_t want = pl->need > pl->window ? pl->need : pl->window;
    if (want > pl->cap && want > 2 * pl->cap)
        want = 2 * pl->cap;
    if (want > pl->cap) {
        uint8_t *w = realloc(pl->win, want);
        if (!w)
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM,
                             "out of memory for a transaction payload event of %zu bytes", want);
        pl->win = w;
        pl->cap = want;
    }
    pl->need = 0;
    size_t before = pl->len;
    if (pl->alg == BINLOG_PAYLOAD_NONE) {
        size_t n = pl->src_len - pl->src_pos;
        if (n > pl->cap - pl->len)
            n = pl->cap - pl->len;
        memcpy(pl->win + pl->len, pl->src + pl->src_pos, n);
        pl->src_pos += n;
        pl->len += n;
    } else {
        ZSTD_outBuffer out = { pl->win, pl->cap, pl->len };
        ZSTD_inBuffer in = { pl->src, pl->src_len, pl->src_pos };
        while (out.pos < out.size && !pl->frame_done) {
            size_t z = ZSTD_decompressStream(pl->ds, &out, &in);
            if (ZSTD_isError(z))
                return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                                 "transaction payload does not decompress (zstd: %s)",
                                 ZSTD_getErrorName(z));
            if (z == 0 && in.pos >= in.size)
                pl->frame_done = true;
            else if (in.pos >= in.size && out.pos < out.size)
                return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                                 "transaction payload ends inside its zstd frame");
        }
        pl->src_pos = in.pos;
        pl->len = out.pos;
    }
    pl->produced += pl->len - before;
    if (pl->has_usize && pl->produced > pl->usize)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "transaction payload inflates past its declared %" PRIu64 " bytes",
                         pl->usize);
    return WH_OK;
}
