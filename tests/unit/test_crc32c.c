/* test_crc32c.c -- unit tests of core/crc32c.c: known vectors, running sums, hardware path = table path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crc32c.h"
#include "tests/check.h"

/* Bit-at-a-time reference, straight from the definition. */
static uint32_t crc_ref(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
    }
    return ~c;
}

static void test_vectors(void)
{
    uint8_t b[32];
    CHECK_EQ_INT(wh_crc32c(0, "123456789", 9), 0xe3069283u);    /* the check value */
    CHECK_EQ_INT(wh_crc32c_portable(0, "123456789", 9), 0xe3069283u);
    CHECK_EQ_INT(wh_crc32c(0, "", 0), 0);
    CHECK_EQ_INT(wh_crc32c(0, "a", 1), 0xc1d04330u);
    /* RFC 3720 (iSCSI), appendix B.4. */
    memset(b, 0, sizeof b);
    CHECK_EQ_INT(wh_crc32c(0, b, 32), 0x8a9136aau);
    memset(b, 0xff, sizeof b);
    CHECK_EQ_INT(wh_crc32c(0, b, 32), 0x62a8ab43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    CHECK_EQ_INT(wh_crc32c(0, b, 32), 0x46dd794eu);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    CHECK_EQ_INT(wh_crc32c(0, b, 32), 0x113fdb5cu);
    CHECK_EQ_INT(wh_crc32c_portable(0, b, 32), 0x113fdb5cu);
}

/* Every length up to 300 at every alignment: both paths agree with the
 * reference (covers the 32-, 8- and 1-byte loops and the table's prologue). */
static void test_paths(void)
{
    uint8_t *buf = malloc(4096 + 8);
    for (size_t i = 0; i < 4096 + 8; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    int bad_hw = 0, bad_sw = 0;
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n <= 300; n++) {
            uint32_t want = crc_ref(buf + off, n);
            bad_hw += wh_crc32c(0, buf + off, n) != want;
            bad_sw += wh_crc32c_portable(0, buf + off, n) != want;
        }
    CHECK_EQ_INT(bad_hw, 0);
    CHECK_EQ_INT(bad_sw, 0);
    CHECK_EQ_INT(wh_crc32c(0, buf + 3, 4096), crc_ref(buf + 3, 4096));
    /* Around the three-stream blocks of the hardware path (3 x 512 bytes), on
     * bytes without a period (so that swapped streams would show). */
    uint32_t x = 12345;
    for (size_t i = 0; i < 4096 + 8; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    static const size_t longs[] = { 1535, 1536, 1537, 1543, 1568, 3071, 3072, 3073, 4096 };
    int bad_long = 0;
    for (size_t off = 0; off < 8; off++)
        for (size_t k = 0; k < sizeof longs / sizeof longs[0]; k++)
            bad_long += wh_crc32c(0, buf + off, longs[k]) != crc_ref(buf + off, longs[k]);
    CHECK_EQ_INT(bad_long, 0);
    CHECK_EQ_INT(wh_crc32c_portable(0, buf + 5, 4096), crc_ref(buf + 5, 4096));
    printf("# crc32c path: %s\n", wh_crc32c_hw() ? "sse4.2" : "table");
    free(buf);
}

/* A running sum over pieces equals one pass, at every split. */
static void test_running(void)
{
    uint8_t data[1000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    uint32_t whole = wh_crc32c(0, data, sizeof data);
    int bad = 0;
    for (size_t cut = 0; cut <= sizeof data; cut += 7) {
        bad += wh_crc32c(wh_crc32c(0, data, cut), data + cut, sizeof data - cut) != whole;
        bad += wh_crc32c_portable(wh_crc32c(0, data, cut), data + cut, sizeof data - cut) != whole;
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    test_vectors();
    test_paths();
    test_running();
    return check_done("test_crc32c");
}
