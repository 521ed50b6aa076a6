/* wire_frame.c -- framing of the push protocol: header, length patch, CRC32C trailer (see wire_frame.h). */
#include <inttypes.h>

#include "core/crc32c.h"
#include "core/endian.h"
#include "core/errbuf.h"
#include "protocol/wire_frame.h"

static const char *const type_names[] = {
    "UNKNOWN", "HELLO", "HELLO_OK", "ERROR", "UPDATES", "DATAMARKER", "ACK", "HEARTBEAT",
    "SHARD_NOTICE", "UPDATES_PART",
};

const char *wire_type_name(int type)
{
    return (type > 0 && type <= WIRE__MAX) ? type_names[type] : type_names[0];
}

size_t wire_frame_begin(wh_buf *b, int type)
{
    size_t start = b->len;
    uint8_t hdr[WIRE_HEADER_LEN] = { 0, 0, 0, 0, (uint8_t)type };
    wh_buf_append(b, hdr, sizeof hdr);
    return start;
}

int wire_frame_end(wh_buf *b, size_t start)
{
    if (!wh_buf_ok(b))
        return WH_ERR_NOMEM;
    if (b->len < start + WIRE_HEADER_LEN)
        return WH_ERR_INVALID;
    size_t len = b->len - start - 4;
    if (len > WIRE_FRAME_MAX) {
        b->len = start;
        return WH_ERR_LIMIT;
    }
    uint8_t *f = (uint8_t *)b->data + start;
    wh_put_be32(f, (uint32_t)len);
    uint8_t crc[WIRE_TRAILER_LEN];
    wh_put_be32(crc, wh_crc32c(0, f, len + 4));
    wh_buf_append(b, crc, sizeof crc);
    return wh_buf_ok(b) ? WH_OK : WH_ERR_NOMEM;
}

int wire_frame_parse(const uint8_t *p, size_t n, uint32_t max_len, int *type,
                     const uint8_t **payload, size_t *plen, size_t *consumed,
                     char *errbuf, size_t errlen)
{
    if (n < 4)
        return WH_ERR_AGAIN;
    uint32_t len = wh_be32(p);
    if (len == 0)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "frame length is 0");
    if (len > max_len)
        return wh_seterr(errbuf, errlen, WH_ERR_LIMIT,
                         "frame length %" PRIu32 " exceeds the limit of %" PRIu32 " bytes",
                         len, max_len);
    size_t total = 4 + (size_t)len + WIRE_TRAILER_LEN;
    if (n < total)
        return WH_ERR_AGAIN;
    uint32_t want = wh_be32(p + 4 + len), got = wh_crc32c(0, p, 4 + (size_t)len);
    if (want != got)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "frame of type %u and length %" PRIu32
                         " fails its checksum (CRC32C %08" PRIx32 ", frame says %08" PRIx32 ")",
                         p[4], len, got, want);
    *type = p[4];
    *payload = p + WIRE_HEADER_LEN;
    *plen = len - 1;
    *consumed = total;
    return WH_OK;
}
