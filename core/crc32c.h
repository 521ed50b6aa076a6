/* crc32c.h -- CRC32C (Castagnoli), the checksum of RocksDB's log records and of the push
 * protocol's frames. */
#ifndef WH_CRC32C_H
#define WH_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over n bytes at p: wh_crc32c(wh_crc32c(0, a, na), b, nb)
 * is the CRC of a then b. Uses the SSE4.2 crc32 instruction when the CPU has
 * it, else a slicing-by-8 table. Thread-safe. */
uint32_t wh_crc32c(uint32_t crc, const void *p, size_t n);

/* The table path only, whatever the CPU (for tests that compare both). */
uint32_t wh_crc32c_soft(uint32_t crc, const void *p, size_t n);

/* True when the hardware path is in use (for the benchmarks' reports). */
int wh_crc32c_hw(void);

#endif
