/* crc32c.c -- CRC32C on the SSE4.2 instruction when present, else slicing-by-8 (see crc32c.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/crc32c.h"

#define CRC32C_POLY 0x82f63b78u   /* reflected Castagnoli polynomial */

static uint32_t crc_table[8][256];
/* The three-stream hardware loop (crc_hw): each stream takes CRC_STRIDE
 * bytes, and crc_shift moves a register over CRC_STRIDE zero bytes (the
 * streams are combined with it), one table per byte of the register. */
#define CRC_STRIDE 512
static uint32_t crc_shift[4][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static bool crc_use_hw;
static atomic_bool crc_ready;   /* set last by crc_init: skips pthread_once on the hot path */

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
    /* The register update is linear: the shift of any value is the XOR of
     * the shifts of its bits, each found by running it over the zeros. */
    uint32_t basis[32];
    for (int bit = 0; bit < 32; bit++) {
        uint32_t c = 1u << bit;
        for (int k = 0; k < CRC_STRIDE; k++)
            c = (c >> 8) ^ crc_table[0][c & 0xff];
        basis[bit] = c;
    }
    for (int t = 0; t < 4; t++)
        for (uint32_t v = 0; v < 256; v++) {
            uint32_t c = 0;
            for (int bit = 0; bit < 8; bit++)
                if (v >> bit & 1)
                    c ^= basis[8 * t + bit];
            crc_shift[t][v] = c;
        }
#if defined(__x86_64__)
    __builtin_cpu_init();
    crc_use_hw = __builtin_cpu_supports("sse4.2") != 0;
#endif
    atomic_store_explicit(&crc_ready, true, memory_order_release);
}

static inline void crc_ensure(void)
{
    if (!atomic_load_explicit(&crc_ready, memory_order_acquire))
        pthread_once(&crc_once, crc_init);
}

/* Slicing-by-8 over the pre-inverted crc. The two 32-bit halves are loaded
 * as little-endian words, so the same tables serve big-endian hosts. */
static uint32_t crc_sw(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n && ((uintptr_t)p & 7)) {
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
        n--;
    }
    while (n >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        lo = __builtin_bswap32(lo);
        hi = __builtin_bswap32(hi);
#endif
        lo ^= crc;
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
              crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    return crc;
}

#if defined(__x86_64__)
/* The register c moved over CRC_STRIDE zero bytes. */
static inline uint32_t crc_shift_stride(uint32_t c)
{
    return crc_shift[0][c & 0xff] ^ crc_shift[1][(c >> 8) & 0xff] ^
           crc_shift[2][(c >> 16) & 0xff] ^ crc_shift[3][c >> 24];
}

/* The crc32 instruction, 8 bytes at a time. Unaligned loads cost nothing
 * here, while a byte-wise prologue to align p would halve the speed on
 * short control frames. The instruction's latency is three times its
 * throughput, so a long buffer goes as three independent streams of
 * CRC_STRIDE bytes (about 3x faster: a subscriber checks every frame it
 * receives, bench/pipeline), combined as crc(A B) = shift(crc(A)) ^ crc0(B)
 * since the register update is linear. */
__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t n)
{
    uint64_t c = crc;
    while (n >= 3 * CRC_STRIDE) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < CRC_STRIDE; i += 8) {
            uint64_t a, b, d;
            memcpy(&a, p + i, 8);
            memcpy(&b, p + CRC_STRIDE + i, 8);
            memcpy(&d, p + 2 * CRC_STRIDE + i, 8);
            c = __builtin_ia32_crc32di(c, a);
            c1 = __builtin_ia32_crc32di(c1, b);
            c2 = __builtin_ia32_crc32di(c2, d);
        }
        c = crc_shift_stride(crc_shift_stride((uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
        p += 3 * CRC_STRIDE;
        n -= 3 * CRC_STRIDE;
    }
    while (n >= 32) {
        uint64_t a, b, d, e;
        memcpy(&a, p, 8);
        memcpy(&b, p + 8, 8);
        memcpy(&d, p + 16, 8);
        memcpy(&e, p + 24, 8);
        c = __builtin_ia32_crc32di(c, a);
        c = __builtin_ia32_crc32di(c, b);
        c = __builtin_ia32_crc32di(c, d);
        c = __builtin_ia32_crc32di(c, e);
        p += 32;
        n -= 32;
    }
    while (n >= 8) {
        uint64_t a;
        memcpy(&a, p, 8);
        c = __builtin_ia32_crc32di(c, a);
        p += 8;
        n -= 8;
    }
    while (n--)
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

uint32_t wh_crc32c(uint32_t crc, const void *p, size_t n)
{
    crc_ensure();
#if defined(__x86_64__)
    if (crc_use_hw)
        return ~crc_hw(~crc, p, n);
#endif
    return ~crc_sw(~crc, p, n);
}

uint32_t wh_crc32c_portable(uint32_t crc, const void *p, size_t n)
{
    crc_ensure();
    return ~crc_sw(~crc, p, n);
}

bool wh_crc32c_hw(void)
{
    crc_ensure();
    return crc_use_hw;
}
