/* fuzz_filter_parse.c -- libFuzzer target for both filter parsers, with
 * stability checks: whatever parses must print in both forms, parse back to
 * an equal tree and print identically again, and evaluate without crashing.
 *
 * Built with -Dfuzzers=true (CC=clang) it is a libFuzzer binary; otherwise
 * FILTER_FUZZ_MAIN adds a main() that runs every file of the seed corpus
 * directories given as arguments, as a unit test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/filter.h"
#include "tests/filters/filter_test_util.h"
#include "tests/fuzz_replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *a, const char *b)
{
    fprintf(stderr, "fuzz_filter_parse: %s\n  first:  %s\n  second: %s\n", what, a ? a : "",
            b ? b : "");
    abort();
}

/* A few updates that exercise every key kind and value type. */
static void evaluate(wh_filter *f)
{
    static const char bin[] = { 'a', 0, 'b' };
    test_update t;
    tu_init(&t, WH_OP_UPDATE, "app", "users", 42);
    tu_col(&t, "id", tv_int(5), tv_int(-1));
    tu_col(&t, "u", tv_uint(UINT64_MAX), tv_uint(5));
    tu_col(&t, "a", tv_dec("5.00"), tv_dec("-12.340"));
    tu_col(&t, "b", tv_str("active"), tv_bytes(bin, 3));
    tu_col(&t, "c", tv_double(0.1), tv_float(0.1f));
    tu_col(&t, "d", tv_temporal(WH_T_DATETIME, 2024, 1, 2, 3, 4, 5, 120000, 3),
           tv_temporal(WH_T_TIME, 0, 0, 0, 838, 59, 59, 0, 0));
    tu_col(&t, "e", tv_enum("active", 2), tv_enum(NULL, 3));
    tu_col(&t, "status", tv_null(), tv_json("{\"a\":1}"));
    tu_col(&t, "x", tv_year(2024), tv_absent());
    (void)wh_filter_match(f, &t.u);
    t.u.schema_id = 0;
    (void)wh_filter_match(f, &t.u);
    t.u.op = WH_OP_DELETE;
    t.u.has_after = false;
    (void)wh_filter_match(f, &t.u);
    t.u.op = WH_OP_PUT;
    t.u.schema_id = 43;
    (void)wh_filter_match(f, &t.u);
}

/* Prints f in both forms; each print parses to an equal tree that prints
 * the same again. */
static void check_stable(wh_filter *f)
{
    char err[512];
    for (int json = 0; json < 2; json++) {
        wh_buf a = WH_BUF_INIT, b = WH_BUF_INIT;
        wh_filter *g = NULL;
        int rc = json ? wh_filter_to_json(f, &a) : wh_filter_to_text(f, &a);
        if (rc != WH_OK)
            fail("printing failed", NULL, NULL);
        rc = json ? wh_filter_parse_json(a.data, a.len, &g, err, sizeof err)
                  : wh_filter_parse_text(a.data, a.len, &g, err, sizeof err);
        if (rc != WH_OK)
            fail("the printed form does not parse", a.data, err);
        if (!wh_filter_equal(f, g))
            fail("the printed form parses to another tree", a.data, NULL);
        rc = json ? wh_filter_to_json(g, &b) : wh_filter_to_text(g, &b);
        if (rc != WH_OK || a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
            fail("printing is not stable", a.data, b.data);
        wh_filter_free(g);
        wh_buf_free(&a);
        wh_buf_free(&b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    const char *s = (const char *)data;
    for (int json = 0; json < 2; json++) {
        wh_filter *f = NULL;
        err[0] = '\0';
        int rc = json ? wh_filter_parse_json(s, size, &f, err, sizeof err)
                      : wh_filter_parse_text(s, size, &f, err, sizeof err);
        if (rc != WH_OK) {
            if (f || !err[0] || strncmp(err, "filter: at ", 11) != 0)
                fail("a failed parse must give no filter and a located message", err, NULL);
            continue;
        }
        check_stable(f);
        evaluate(f);
        wh_filter_free(f);
    }
    return 0;
}

#ifdef FILTER_FUZZ_MAIN
static void replay(void *opaque, const uint8_t *data, size_t len)
{
    (void)opaque;
    LLVMFuzzerTestOneInput(data, len);
}

int main(int argc, char **argv)
{
    int files = fuzz_replay(argc - 1, argv + 1, replay, NULL);
    printf("fuzz_filter_parse: %d inputs, %s\n", files < 0 ? 0 : files,
           files > 0 ? "ok" : "FAILED");
    return files <= 0;
}
#endif
