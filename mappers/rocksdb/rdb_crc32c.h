/* rdb_crc32c.h -- CRC32C (Castagnoli) as used by RocksDB log records, with its masking. */
#ifndef RDB_CRC32C_H
#define RDB_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over n bytes at p. Uses the SSE4.2 crc32
 * instruction when the CPU has it, else a slicing-by-8 table. Thread-safe. */
uint32_t rdb_crc32c(uint32_t crc, const void *p, size_t n);

/* The table path only, whatever the CPU (for tests that compare both). */
uint32_t rdb_crc32c_soft(uint32_t crc, const void *p, size_t n);

/* True when the hardware path is in use (for the benchmark's report). */
int rdb_crc32c_hw(void);

/* RocksDB stores CRCs masked, so that a CRC over data containing CRCs stays
 * well distributed: rotate right by 15 bits and add a constant. */
static inline uint32_t rdb_crc_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static inline uint32_t rdb_crc_unmask(uint32_t masked)
{
    uint32_t rot = masked - 0xa282ead8u;
    return (rot >> 17) | (rot << 15);
}

#endif
