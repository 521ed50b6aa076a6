/* crc32c.h -- CRC32C (Castagnoli), the one checksum of the push protocol's frames and RocksDB's logs.
 *
 * The CRC of iSCSI and ext4: reflected polynomial 0x82f63b78, initial value
 * and final xor 0xffffffff, so wh_crc32c(0, "123456789", 9) == 0xe3069283.
 * On x86-64 CPUs with SSE4.2 it runs on the crc32 instruction; elsewhere on
 * a slicing-by-8 table. Both paths give the same results on every host.
 *
 * Threads: every function is thread-safe (the table is built once, under
 * pthread_once). */
#ifndef WH_CRC32C_H
#define WH_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Extends crc over n bytes at p: pass 0 to start, the previous result to
 * continue a running sum (wh_crc32c(wh_crc32c(0, a, na), b, nb) is the CRC
 * of a followed by b). */
uint32_t wh_crc32c(uint32_t crc, const void *p, size_t n);

/* The table path only, whatever the CPU: for tests that compare both paths. */
uint32_t wh_crc32c_portable(uint32_t crc, const void *p, size_t n);

/* True when wh_crc32c uses the crc32 instruction (for benchmark reports). */
bool wh_crc32c_hw(void);

#endif
