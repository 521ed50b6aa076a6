/* wire_part.c -- UPDATES_PART frames: the in-place splitter and the bounded reassembler (see wire_part.h). */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/crc32c.h"
#include "core/endian.h"
#include "core/errbuf.h"
#include "protocol/msgpack.h"
#include "protocol/wire_part.h"

/* Part map keys (docs/PROTOCOL.md). */
enum { PK_TOTAL = 1, PK_OFFSET = 2, PK_CHUNK = 3, PK_POS = 4 };

/* ---- splitting -------------------------------------------------------------------------------- */

/* Bytes of part k before its chunk: length, type, map, total, offset,
 * [position,] chunk's key and bin32 header. */
static size_t part_head(bool first, size_t poslen)
{
    return WIRE_PART_OVERHEAD - WIRE_TRAILER_LEN + (first ? 1 + poslen : 0);
}

/* Writes part's header at p (head bytes) for a chunk of n bytes. */
static void put_head(uint8_t *p, size_t head, uint64_t total, uint64_t offset, size_t n,
                     const uint8_t *pos, size_t poslen)
{
    uint8_t *q = p;
    wh_put_be32(q, (uint32_t)(head - 4 + n));
    q += 4;
    *q++ = WIRE_UPDATES_PART;
    *q++ = pos ? 0x84 : 0x83;           /* fixmap of 4 or 3 */
    *q++ = PK_TOTAL;
    *q++ = 0xcf;                        /* uint64 */
    wh_put_be64(q, total);
    q += 8;
    *q++ = PK_OFFSET;
    *q++ = 0xcf;
    wh_put_be64(q, offset);
    q += 8;
    if (pos) {
        *q++ = PK_POS;
        memcpy(q, pos, poslen);
        q += poslen;
    }
    *q++ = PK_CHUNK;
    *q++ = 0xc6;                        /* bin32 */
    wh_put_be32(q, (uint32_t)n);
    q += 4;
    assert((size_t)(q - p) == head);
    (void)q;
}

int wire_part_split(wh_buf *b, size_t start, uint32_t frame_max, const uint8_t *pos,
                    size_t poslen)
{
    assert(b->len >= start + WIRE_HEADER_LEN);
    size_t plen = b->len - start - WIRE_HEADER_LEN;
    size_t head0 = part_head(true, poslen), head = part_head(false, 0);
    /* Chunk room of the first and of every other part: length - 4 + chunk <= frame_max. */
    if ((size_t)frame_max + 4 <= head0 || plen == 0 || frame_max > WIRE_FRAME_MAX)
        return WH_ERR_INVALID;
    size_t room0 = (size_t)frame_max + 4 - head0, room = (size_t)frame_max + 4 - head;
    size_t nparts = 1, rest = plen > room0 ? plen - room0 : 0;
    nparts += (rest + room - 1) / room;
    /* The parts' size in all; the payload moves to its end, and the parts
     * are written from the front. Part k starts at least sum(head_j + 4,
     * j >= k) bytes before its chunk's source, so no write reaches a byte
     * not yet read. */
    size_t final = plen + head0 + (nparts - 1) * head + nparts * WIRE_TRAILER_LEN;
    size_t grow = final - (plen + WIRE_HEADER_LEN);
    if (!wh_buf_reserve(b, grow)) {
        b->len = start;
        return WH_ERR_NOMEM;
    }
    uint8_t *base = (uint8_t *)b->data + start;
    uint8_t *src = base + final - plen;
    memmove(src, base + WIRE_HEADER_LEN, plen);
    uint8_t *w = base;
    uint64_t off = 0;
    for (size_t k = 0; k < nparts; k++) {
        size_t h = k == 0 ? head0 : head, cap = k == 0 ? room0 : room;
        size_t n = plen - off < cap ? plen - off : cap;
        assert(src >= w + h + WIRE_TRAILER_LEN);
        put_head(w, h, plen, off, n, k == 0 ? pos : NULL, poslen);
        memmove(w + h, src, n);
        wh_put_be32(w + h + n, wh_crc32c(0, w, h + n));
        w += h + n + WIRE_TRAILER_LEN;
        src += n;
        off += n;
    }
    assert(off == plen && w == base + final);
    b->len = start + final;
    b->data[b->len] = '\0';
    return WH_OK;
}

/* ---- reassembling ----------------------------------------------------------------------------- */

int wire_part_decode(const uint8_t *payload, size_t len, wire_part *out, char *errbuf,
                     size_t errlen)
{
    mp_reader r = { payload, payload + len };
    uint32_t n;
    bool have_total = false, have_offset = false;
    memset(out, 0, sizeof *out);
    if (!mp_get_map(&r, &n))
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "UPDATES_PART payload is not a map");
    for (uint32_t k = 0; k < n; k++) {
        uint64_t key;
        bool ok;
        if (!mp_get_uint(&r, &key))
            return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                             "UPDATES_PART payload: key %u is not an unsigned integer", k);
        switch (key) {
        case PK_TOTAL: ok = have_total = mp_get_uint(&r, &out->total); break;
        case PK_OFFSET: ok = have_offset = mp_get_uint(&r, &out->offset); break;
        case PK_CHUNK: ok = mp_get_bin(&r, &out->chunk, &out->chunk_len); break;
        case PK_POS: ok = wire_get_pos(&r, &out->pos); break;
        default: ok = mp_skip(&r, 16); break;
        }
        if (!ok)
            return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                             "UPDATES_PART payload: value of key %" PRIu64
                             " is malformed or of the wrong type", key);
    }
    if (r.p != r.end)
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                         "UPDATES_PART payload: %zu bytes after the map", (size_t)(r.end - r.p));
    if (!have_total || !have_offset || !out->chunk || out->chunk_len == 0)
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                         "UPDATES_PART payload without %s",
                         !have_total ? "its total" : !have_offset ? "its offset" : "a chunk");
    if (out->offset == 0 && !out->pos.present)
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                         "UPDATES_PART: the first part (offset 0) has no position");
    return WH_OK;
}

void wire_asm_init(wire_asm *a, uint64_t max)
{
    memset(a, 0, sizeof *a);
    a->max = max;
}

void wire_asm_reset(wire_asm *a)
{
    free(a->data);
    a->data = NULL;
    a->total = a->got = 0;
    a->pos[0] = '\0';
}

/* Fails the reassembly: resets a, passes the error on. */
static int asm_fail(wire_asm *a, int rc)
{
    wire_asm_reset(a);
    return rc;
}

int wire_asm_frame(wire_asm *a, int type, const uint8_t *payload, size_t plen,
                   const uint8_t **out, size_t *outlen, char *errbuf, size_t errlen)
{
    wire_part p;
    *out = NULL;
    *outlen = 0;
    if (type != WIRE_UPDATES_PART) {
        if (!wire_asm_busy(a))
            return WH_OK;
        wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                  "a %s frame came in the middle of the update at %s, split into parts "
                  "(%" PRIu64 " of %" PRIu64 " bytes received)", wire_type_name(type), a->pos,
                  a->got, a->total);
        return asm_fail(a, WH_ERR_PROTOCOL);
    }
    int rc = wire_part_decode(payload, plen, &p, errbuf, errlen);
    if (rc != WH_OK)
        return asm_fail(a, rc);
    if (!wire_asm_busy(a)) {
        /* The first part: it says the update's size before anything is buffered. */
        wire_asm_reset(a);   /* the previous update's memory, if it was not released */
        if (p.offset != 0)
            return asm_fail(a, wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                                         "UPDATES_PART at offset %" PRIu64 " of %" PRIu64
                                         " without the parts before it", p.offset, p.total));
        char pos[WIRE_POS_TEXT_MAX];
        wire_pos_text(&p.pos, pos, sizeof pos);
        if (p.total > a->max)
            return asm_fail(a, wh_seterr(errbuf, errlen, WH_ERR_LIMIT,
                                         "the update at %s takes %" PRIu64 " bytes, more than "
                                         "the limit of %" PRIu64 " bytes (max_update_bytes)",
                                         pos, p.total, a->max));
        if (p.chunk_len > p.total)
            return asm_fail(a, wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                                         "UPDATES_PART of the update at %s: a chunk of %" PRIu32
                                         " bytes at offset 0 is longer than its total of %"
                                         PRIu64, pos, p.chunk_len, p.total));
        if (p.total > SIZE_MAX || !(a->data = malloc((size_t)p.total)))
            return asm_fail(a, wh_seterr(errbuf, errlen, WH_ERR_NOMEM,
                                         "out of memory for the update at %s (%" PRIu64
                                         " bytes)", pos, p.total));
        a->total = p.total;
        a->got = 0;
        memcpy(a->pos, pos, sizeof pos);
    } else if (p.total != a->total) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                       "UPDATES_PART of the update at %s says its total is %" PRIu64
                       " bytes, the first part said %" PRIu64, a->pos, p.total, a->total);
        return asm_fail(a, rc);
    } else if (p.offset != a->got) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                       "UPDATES_PART of the update at %s starts at offset %" PRIu64
                       ", but %" PRIu64 " bytes came before it (a part %s)", a->pos, p.offset,
                       a->got, p.offset > a->got ? "is missing" : "came twice or out of order");
        return asm_fail(a, rc);
    } else if (p.chunk_len > a->total - a->got) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                       "UPDATES_PART of the update at %s: a chunk of %" PRIu32
                       " bytes at offset %" PRIu64 " runs past its total of %" PRIu64, a->pos,
                       p.chunk_len, p.offset, a->total);
        return asm_fail(a, rc);
    }
    memcpy(a->data + a->got, p.chunk, p.chunk_len);
    a->got += p.chunk_len;
    if (a->got < a->total)
        return WH_ERR_AGAIN;
    *out = a->data;
    *outlen = (size_t)a->total;
    return WH_OK;
}
