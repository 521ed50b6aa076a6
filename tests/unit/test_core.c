/* test_core.c -- arena, buffer, byte order, CRC32C, error names and log level parsing. */
#include <stdint.h>
#include <stdlib.h>

#include "../check.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/endian.h"
#include "core/errbuf.h"
#include "core/log.h"

static void test_arena(void)
{
    wh_arena a = WH_ARENA_INIT;
    char *first = wh_arena_strndup(&a, "hello", 5);
    CHECK_EQ_STR(first, "hello");
    for (int i = 0; i < 10000; i++) {
        uint64_t *p = wh_arena_alloc(&a, 24);
        CHECK((uintptr_t)p % 16 == 0);
        *p = (uint64_t)i;
    }
    void *huge = wh_arena_alloc(&a, 4u << 20);           /* larger than a chunk */
    CHECK(huge != NULL);
    memset(huge, 1, 4u << 20);
    size_t before = a.total;
    wh_arena_reset(&a);
    CHECK(a.total < before);                             /* the huge chunk is released */
    size_t kept = a.total;
    for (int round = 0; round < 50; round++) {           /* steady state: no growth */
        for (int i = 0; i < 10000; i++)
            CHECK(wh_arena_alloc(&a, 24) != NULL);
        wh_arena_reset(&a);
    }
    CHECK(a.total <= kept + 64 * 1024);
    wh_arena_free(&a);
    CHECK(a.total == 0);
}

static void test_buf(void)
{
    wh_buf b = WH_BUF_INIT;
    wh_buf_puts(&b, "ab");
    wh_buf_putc(&b, 'c');
    wh_buf_printf(&b, "%d-%s", 42, "x");
    CHECK_EQ_STR(b.data, "abc42-x");
    CHECK_EQ_INT(b.len, 7);
    size_t cap = b.cap;
    wh_buf_reset(&b);
    CHECK(b.cap == cap && b.len == 0);
    for (int i = 0; i < 100000; i++)
        wh_buf_putc(&b, 'z');
    CHECK(wh_buf_ok(&b) && b.len == 100000);
    wh_buf_free(&b);

    /* Over borrowed storage: appends stay there while they fit with the
     * NUL, then move to the heap; wh_buf_free leaves the storage alone. */
    char *mem = malloc(8);                  /* exactly 8: ASan sees any overrun */
    CHECK(mem != NULL);
    if (mem) {
        wh_buf_borrow(&b, mem, 8);
        CHECK(b.data == mem && b.len == 0 && mem[0] == '\0');
        wh_buf_puts(&b, "abcdefg");
        CHECK(b.data == mem && strcmp(mem, "abcdefg") == 0);
        wh_buf_putc(&b, 'h');
        CHECK(b.data != mem && wh_buf_ok(&b) && strcmp(b.data, "abcdefgh") == 0);
        CHECK(memcmp(mem, "abcdefg", 8) == 0);     /* left as it was */
        wh_buf_printf(&b, "%d", 9);
        CHECK_EQ_STR(b.data, "abcdefgh9");
        wh_buf_free(&b);
        wh_buf_borrow(&b, mem, 8);
        wh_buf_printf(&b, "%s", "0123456789");    /* too long at once */
        CHECK(b.data != mem && strcmp(b.data, "0123456789") == 0);
        wh_buf_free(&b);
        free(mem);
    }
    wh_buf_borrow(&b, NULL, 0);             /* no storage: the first append allocates */
    wh_buf_putc(&b, 'x');
    CHECK(b.data != NULL && strcmp(b.data, "x") == 0);
    wh_buf_free(&b);
}

/* The byte-order readers against the bytes 01 02 .. 08, and the writers
 * read back. */
static void test_endian(void)
{
    const uint8_t b[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    CHECK_EQ_INT(wh_le16(b), 0x0201);
    CHECK_EQ_INT(wh_le32(b), 0x04030201);
    CHECK(wh_le64(b) == 0x0807060504030201ull);
    CHECK_EQ_INT(wh_be16(b), 0x0102);
    CHECK_EQ_INT(wh_be32(b), 0x01020304);
    CHECK(wh_be64(b) == 0x0102030405060708ull);
    uint64_t le = 0, be = 0;
    for (unsigned n = 1; n <= 8; n++) {
        le |= (uint64_t)b[n - 1] << 8 * (n - 1);
        be = be << 8 | b[n - 1];
        CHECK(wh_le_n(b, n) == le);
        CHECK(wh_be_n(b, n) == be);
    }
    uint8_t o[8];
    wh_put_le32(o, 0xa1b2c3d4u);
    CHECK_EQ_INT(wh_le32(o), 0xa1b2c3d4u);
    wh_put_be16(o, 0xa1b2);
    CHECK_EQ_INT(wh_be16(o), 0xa1b2);
    wh_put_be32(o, 0xa1b2c3d4u);
    CHECK_EQ_INT(wh_be32(o), 0xa1b2c3d4u);
    wh_put_be64(o, 0xa1b2c3d4e5f60718ull);
    CHECK(wh_be64(o) == 0xa1b2c3d4e5f60718ull && wh_be_n(o, 3) == 0xa1b2c3);
}

static void test_errors(void)
{
    char err[64];
    CHECK_EQ_STR(wh_err_name(WH_ERR_CORRUPT), "WH_ERR_CORRUPT");
    CHECK_EQ_STR(wh_err_str(WH_ERR_PURGED), "position purged from the log");
    CHECK_EQ_STR(wh_err_name(-999), "WH_ERR_UNKNOWN");
    for (int c = 0; c > -WH_ERR__COUNT; c--)
        CHECK(strcmp(wh_err_name(c), "WH_ERR_UNKNOWN") != 0);
    CHECK_EQ_INT(wh_seterr(err, sizeof err, WH_ERR_IO, "open %s", "f"), WH_ERR_IO);
    CHECK_EQ_STR(err, "open f");
    CHECK_EQ_INT(wh_preferr(err, sizeof err, WH_ERR_IO, "file %d", 3), WH_ERR_IO);
    CHECK_EQ_STR(err, "file 3: open f");
    CHECK_EQ_INT(wh_seterr(NULL, 0, WH_ERR_EOF, "ignored"), WH_ERR_EOF);
}

static void test_log(void)
{
    CHECK_EQ_INT(wh_log_set_debug("binlog,zk"), WH_OK);
    CHECK(WH_LOG_ENABLED(WH_LOG_DEBUG, WH_AREA_BINLOG));
    CHECK(!WH_LOG_ENABLED(WH_LOG_DEBUG, WH_AREA_FILTER));
    CHECK(WH_LOG_ENABLED(WH_LOG_INFO, WH_AREA_FILTER));
    CHECK_EQ_INT(wh_log_set_debug("binlog,bogus"), WH_ERR_CONFIG);
    CHECK(WH_LOG_ENABLED(WH_LOG_DEBUG, WH_AREA_ZK));    /* unchanged on error */
    wh_log_set_level(WH_LOG_WARN);
    CHECK(!WH_LOG_ENABLED(WH_LOG_INFO, WH_AREA_CORE));
    int evaluated = 0;
    wh_info(WH_AREA_CORE, "%d", ++evaluated);             /* disabled: arguments not evaluated */
    CHECK_EQ_INT(evaluated, 0);
}

int main(void)
{
    test_arena();
    test_buf();
    test_endian();
    test_errors();
    test_log();
    return check_done("test_core");
}
