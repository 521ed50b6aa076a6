/* endian.h -- the project's one set of little- and big-endian integer readers and writers.
 *
 * Log formats (binlog, RocksDB WAL) are little-endian; the push protocol's
 * frame header and MessagePack are big-endian. Every decoder reads through
 * these, never through pointer casts, so unaligned input is fine on every
 * target. The caller guarantees that the bytes exist. */
#ifndef WH_ENDIAN_H
#define WH_ENDIAN_H

#include <stdint.h>
#include <string.h>

/* Little-endian unsigned of n (1..8) bytes. */
static inline uint64_t wh_le_n(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static inline uint16_t wh_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static inline uint32_t wh_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t wh_le64(const uint8_t *p)
{
    return (uint64_t)wh_le32(p) | (uint64_t)wh_le32(p + 4) << 32;
}

/* Big-endian unsigned of n (1..8) bytes (MySQL's packed temporal and BIT
 * values have 3, 5 and 6 byte fields). */
static inline uint64_t wh_be_n(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static inline uint16_t wh_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static inline uint32_t wh_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t wh_be64(const uint8_t *p)
{
    return (uint64_t)wh_be32(p) << 32 | wh_be32(p + 4);
}

static inline void wh_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static inline void wh_put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static inline void wh_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static inline void wh_put_be64(uint8_t *p, uint64_t v)
{
    wh_put_be32(p, (uint32_t)(v >> 32));
    wh_put_be32(p + 4, (uint32_t)v);
}

#endif
