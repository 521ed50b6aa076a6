/* fuzz_binlog_value.c -- libFuzzer target for the binlog value decoders.
 *
 * Input layout: byte 0 picks the mode.
 *   mode 0 (column values): byte 1 type (index into a table of type codes),
 *          bytes 2-3 metadata (LE), byte 4 flags (unsigned, binary,
 *          members known, collation choice in the high bits); the rest is a
 *          row image decoded value after value until an error.
 *   mode 1 (binary JSON): the rest is one JSON document.
 *   mode 2 (partial JSON): byte 1 is the length k of a binary JSON document
 *          that follows (the before image, rendered to text first); the rest
 *          is a diff vector.
 * Invariants checked beyond "no crash": binlog_value_size and
 * binlog_value_decode_fast (on the planned column) agree with
 * binlog_value_decode, and the wh_buf and arena JSON renderings are equal.
 *
 * Built with -DWH_FUZZ_STANDALONE it is a plain program that runs every file
 * of the seed directories given as arguments, plus a fixed-seed batch of
 * mutations of each, so the unit suite keeps the target compiling and
 * exercised. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/endian.h"
#include "core/utf8.h"
#include "mappers/mysql/binlog_charset.h"
#include "mappers/mysql/binlog_value.h"
#include "mappers/mysql/binlog_value_int.h"
#include "tests/fuzz_replay.h"
#include "tests/rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t types[] = {
    BT_DECIMAL, BT_TINY, BT_SHORT, BT_LONG, BT_FLOAT, BT_DOUBLE, BT_NULL, BT_TIMESTAMP,
    BT_LONGLONG, BT_INT24, BT_DATE, BT_TIME, BT_DATETIME, BT_YEAR, BT_NEWDATE, BT_VARCHAR,
    BT_BIT, BT_TIMESTAMP2, BT_DATETIME2, BT_TIME2, BT_TYPED_ARRAY, BT_VECTOR, BT_JSON,
    BT_NEWDECIMAL, BT_ENUM, BT_SET, BT_TINY_BLOB, BT_MEDIUM_BLOB, BT_LONG_BLOB, BT_BLOB,
    BT_VAR_STRING, BT_STRING, BT_GEOMETRY, 140, 141, 100,
};

static const uint16_t collations[8] = { 0, 45, 8, 63, 35, 54, 28, 2304 };

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_binlog_value: invariant broken: %s\n", what);
    abort();
}

static void fuzz_values(const uint8_t *data, size_t size)
{
    static const char *const members[] = { "a", "b", "c", "dd", "" };
    if (size < 5)
        return;
    binlog_column col;
    memset(&col, 0, sizeof col);
    col.type = types[data[1] % sizeof types];
    col.meta = wh_le16(data + 2);
    col.is_unsigned = data[4] & 1;
    col.is_binary = (data[4] >> 1) & 1;
    if (data[4] & 4) {
        col.members = members;
        col.n_members = 5;
    }
    col.collation = collations[data[4] >> 5];
    if (col.type == BT_STRING) {
        uint32_t max_len;
        binlog_string_meta(col.meta, &col.real_type, &max_len);
    } else {
        col.real_type = col.type;
    }
    binlog_column planned = col;
    binlog_column_plan(&planned);
    const uint8_t *p = data + 5;
    size_t avail = size - 5;
    wh_arena arena = WH_ARENA_INIT;
    char eb[256];
    for (int k = 0; k < 64; k++) {
        wh_value v;
        size_t used = 0, sz = 0;
        int rc = binlog_value_decode(&col, p, avail, &arena, &v, &used, eb, sizeof eb);
        int rs = binlog_value_size(&col, p, avail, &sz, eb, sizeof eb);
        wh_value fv;
        size_t fused = 0;
        int rf = binlog_value_decode_fast(&planned, p, avail, &arena, &fv, &fused, eb, sizeof eb);
        if (rf != rc || (rc == 0 && (fused != used || fv.type != v.type || fv.len != v.len ||
                                     fv.flags != v.flags || fv.scale != v.scale ||
                                     (v.len && memcmp(fv.str, v.str, v.len) != 0) ||
                                     memcmp(&fv.n, &v.n, sizeof v.n) != 0)))
            fail("binlog_value_decode_fast disagrees with binlog_value_decode");
        if (rc == 0 && (rs != 0 || sz != used))
            fail("binlog_value_size disagrees with a successful decode");
        if (rs != 0 && rc != rs)
            fail("decode succeeded or failed differently where size failed");
        if (rc)
            break;
        if (used > avail)
            fail("used past avail");
        if ((v.type == WH_T_STRING || v.type == WH_T_BYTES || v.type == WH_T_JSON ||
             v.type == WH_T_DECIMAL) && v.len && !v.str)
            fail("string value without bytes");
        if (v.type == WH_T_STRING && v.len && !wh_utf8_valid((const uint8_t *)v.str, v.len, NULL))
            fail("string value is not UTF-8");
        if (used == 0)
            break;
        p += used;
        avail -= used;
    }
    wh_arena_free(&arena);
}

static void fuzz_json(const uint8_t *data, size_t size)
{
    wh_buf out = WH_BUF_INIT;
    wh_arena arena = WH_ARENA_INIT;
    char eb[256];
    const char *text;
    size_t len;
    int r1 = binlog_json_to_text(data, size, &out, eb, sizeof eb);
    int r2 = binlog_json_to_arena(data, size, &arena, &text, &len, eb, sizeof eb);
    if (r1 != r2)
        fail("JSON renderings disagree on success");
    if (r1 == 0) {
        if (out.len != len || memcmp(out.data, text, len) != 0)
            fail("JSON renderings differ");
        if (!wh_utf8_valid((const uint8_t *)text, len, NULL))
            fail("JSON text is not UTF-8");
    }
    wh_buf_free(&out);
    wh_arena_free(&arena);
}

static void fuzz_diff(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    size_t k = data[0];
    if (k > size - 1)
        k = size - 1;
    wh_buf before = WH_BUF_INIT, out = WH_BUF_INIT;
    char eb[256];
    if (binlog_json_to_text(data + 1, k, &before, eb, sizeof eb) != 0) {
        wh_buf_reset(&before);
        wh_buf_puts(&before, "{\"a\":[1,2,{\"b\":null}],\"c\":\"x\",\"dd\":{}}");
    }
    size_t used = 0;
    const uint8_t *d = data + 1 + k;
    size_t avail = size - 1 - k;
    int rc = binlog_json_apply_diff(before.data, before.len, d, avail, &used, &out, eb,
                                    sizeof eb);
    if (rc == 0 && used > avail)
        fail("diff used past avail");
    wh_buf_free(&before);
    wh_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* Work on an exact-size copy so sanitizers catch any over-read. */
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    switch (copy[0] % 3) {
    case 0: fuzz_values(copy, size); break;
    case 1: fuzz_json(copy + 1, size - 1); break;
    default: fuzz_diff(copy + 1, size - 1); break;
    }
    free(copy);
    return 0;
}

#ifdef WH_FUZZ_STANDALONE

/* Runs one input and a batch of mutations of it (byte flips, truncations,
 * insertions of interesting bytes). */
static void run_with_mutations(void *opaque, const uint8_t *data, size_t size)
{
    int rounds = *(const int *)opaque;
    static const uint8_t interesting[] = { 0x00, 0x01, 0x02, 0x04, 0x0c, 0x0f, 0x7f, 0x80,
                                           0xfc, 0xfe, 0xff };
    LLVMFuzzerTestOneInput(data, size);
    uint8_t *m = malloc(size + 8);
    for (int r = 0; r < rounds; r++) {
        memcpy(m, data, size);
        size_t n = size;
        int edits = 1 + (int)(check_rand() % 4);
        for (int e = 0; e < edits && n > 1; e++) {
            size_t at = 1 + check_rand() % (n - 1); /* keep the mode byte */
            switch (check_rand() % 4) {
            case 0: m[at] ^= (uint8_t)(1u << (check_rand() % 8)); break;
            case 1: m[at] = interesting[check_rand() % sizeof interesting]; break;
            case 2: n = at; break;
            default: m[at] = (uint8_t)check_rand(); break;
            }
        }
        LLVMFuzzerTestOneInput(m, n);
    }
    free(m);
}

int main(int argc, char **argv)
{
    int rounds = 3000;
    check_rng_state = 0x9e3779b97f4a7c15ull;   /* the same mutations on every run */
    printf("fuzz_binlog_value: mutation seed 0x%llx\n", (unsigned long long)check_rng_state);
    int files = fuzz_replay(argc - 1, argv + 1, run_with_mutations, &rounds);
    if (files < 0)
        return 1;
    if (files == 0) {
        fprintf(stderr, "fuzz_binlog_value: no seed files\n");
        return 1;
    }
    printf("fuzz_binlog_value: %d seeds, each with %d mutations: no crash\n", files, rounds);
    return 0;
}
#endif
