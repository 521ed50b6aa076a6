/* test_update_json.c -- the update model's JSON form, every value type at its edges.
 *
 * Each update is rendered, parsed back with jansson, and compared field by
 * field with what was rendered (values jansson cannot hold exactly, unsigned
 * integers above 2^63-1, are compared as text).
 *
 * The randomized part compares the renderer's fast paths with small,
 * obviously correct references kept here: string escaping (random bytes,
 * invalid UTF-8 included), integers, floats, temporal values, positions and
 * whole updates (against the same update put together from the public
 * pieces), each also into buffers of every capacity around the output's size
 * so that growth happens at every point of the text. The seed is printed;
 * WH_SEED=N replays it. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <jansson.h>

#include "../check.h"
#include "core/update_json.h"

static wh_buf out = WH_BUF_INIT;

static json_t *render(const wh_update *u)
{
    wh_buf_reset(&out);
    CHECK_EQ_INT(wh_update_to_json(u, &out), WH_OK);
    CHECK(out.len > 0 && out.data[out.len - 1] == '\n');
    CHECK(memchr(out.data, '\n', out.len) == out.data + out.len - 1); /* exactly one line */
    json_error_t err;
    json_t *j = json_loadb(out.data, out.len, 0, &err);
    if (!j)
        fprintf(stderr, "not JSON (%s): %s", err.text, out.data);
    CHECK(j != NULL);
    return j;
}

/* Renders one value alone and returns its text. */
static const char *value_text(const wh_value *v)
{
    wh_buf_reset(&out);
    wh_json_put_value(&out, v);
    return out.data ? out.data : "";
}

static void test_metadata(void)
{
    static const char *names[] = { "id", "name" };
    wh_value before[2] = { { .type = WH_T_INT, .n.i = 7 },
                           { .type = WH_T_STRING, .str = "old", .len = 3 } };
    wh_value after[2] = { { .type = WH_T_INT, .n.i = 7 }, { .type = WH_T_ABSENT } };
    wh_update u = {
        .shard = "shard-1", .op = WH_OP_UPDATE,
        .pos = { .log_name = "mysql-bin.000003", .offset = 4567, .logical = "0-1-42", .index = 3 },
        .ts = 1700000000, .txn = { .id = "0-1-42", .index = 3, .last = false },
        .db = "shop", .table = "users",
        .has_before = true, .has_after = true,
        .before = { names, before, 2 }, .after = { names, after, 2 },
    };
    json_t *j = render(&u);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "shard")), "shard-1");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "op")), "update");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "db")), "shop");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "table")), "users");
    json_t *pos = json_object_get(j, "pos");
    CHECK_EQ_STR(json_string_value(json_object_get(pos, "logical")), "0-1-42/3");
    CHECK_EQ_STR(json_string_value(json_object_get(pos, "physical")), "mysql-bin.000003:4567/3");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "ts")), 1700000000);
    json_t *txn = json_object_get(j, "txn");
    CHECK_EQ_STR(json_string_value(json_object_get(txn, "id")), "0-1-42");
    CHECK_EQ_INT(json_integer_value(json_object_get(txn, "index")), 3);
    CHECK(json_is_false(json_object_get(txn, "last")));
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(j, "before"), "name")), "old");
    /* A column the image did not carry is absent, never null. */
    CHECK(json_object_get(json_object_get(j, "after"), "name") == NULL);
    CHECK_EQ_INT(json_object_size(json_object_get(j, "after")), 1);
    json_decref(j);

    /* Insert: no before; delete: no after; KV: cf instead of db/table. */
    u.op = WH_OP_INSERT;
    u.has_before = false;
    j = render(&u);
    CHECK(json_object_get(j, "before") == NULL);
    CHECK(json_object_get(j, "after") != NULL);
    json_decref(j);
    u.op = WH_OP_KV_DELETE;
    u.db = NULL;
    u.table = "default";
    u.pos = (wh_position){ .offset = 99, .logical = "99", .index = 0 };
    u.flags = WH_UF_RAW_VALUE;
    j = render(&u);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "op")), "delete");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "cf")), "default");
    CHECK(json_object_get(j, "table") == NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(j, "pos"), "physical")), "99/0");
    CHECK(json_is_true(json_object_get(j, "raw")));
    json_decref(j);

    /* DDL carries its statement; unknown logical position is null. */
    wh_update ddl = { .shard = "s", .op = WH_OP_DDL, .db = "shop",
                      .pos = { .log_name = "b.000001", .offset = 4 },
                      .statement = "ALTER TABLE t ADD c INT" };
    j = render(&ddl);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "statement")), "ALTER TABLE t ADD c INT");
    CHECK(json_is_null(json_object_get(json_object_get(j, "pos"), "logical")));
    json_decref(j);
}

static void test_integers(void)
{
    wh_value v = { .type = WH_T_INT, .n.i = INT64_MIN };
    CHECK_EQ_STR(value_text(&v), "-9223372036854775808");
    v.n.i = INT64_MAX;
    CHECK_EQ_STR(value_text(&v), "9223372036854775807");
    v.n.i = 0;
    CHECK_EQ_STR(value_text(&v), "0");
    v.n.i = -1;
    CHECK_EQ_STR(value_text(&v), "-1");
    v = (wh_value){ .type = WH_T_UINT, .n.u = UINT64_MAX };
    CHECK_EQ_STR(value_text(&v), "18446744073709551615");  /* exact, not a float */
    v.n.u = (uint64_t)INT64_MAX + 1;
    CHECK_EQ_STR(value_text(&v), "9223372036854775808");
    v = (wh_value){ .type = WH_T_UINT, .flags = WH_VF_BIT, .n.u = 5 };
    CHECK_EQ_STR(value_text(&v), "5");
    v = (wh_value){ .type = WH_T_YEAR, .n.u = 2155 };
    CHECK_EQ_STR(value_text(&v), "2155");
    v = (wh_value){ .type = WH_T_NULL };
    CHECK_EQ_STR(value_text(&v), "null");
}

static void test_floats(void)
{
    wh_value v = { .type = WH_T_FLOAT, .flags = WH_VF_FLOAT32, .n.d = (double)1.1f };
    CHECK_EQ_STR(value_text(&v), "1.1");              /* float precision, not 1.10000002 */
    v.n.d = (double)-FLT_MAX;
    CHECK_EQ_STR(value_text(&v), "-3.4028235e+38");
    v = (wh_value){ .type = WH_T_FLOAT, .n.d = 0.1 };
    CHECK_EQ_STR(value_text(&v), "0.1");
    v.n.d = DBL_MAX;
    CHECK(strtod(value_text(&v), NULL) == DBL_MAX);
    v.n.d = DBL_MIN;
    CHECK(strtod(value_text(&v), NULL) == DBL_MIN);
    v.n.d = 1.0 / 3.0;
    CHECK(strtod(value_text(&v), NULL) == 1.0 / 3.0);
    v.n.d = -0.0;
    CHECK_EQ_STR(value_text(&v), "-0");
    v.n.d = NAN;                                       /* not JSON: rendered null */
    CHECK_EQ_STR(value_text(&v), "null");
}

static void test_strings(void)
{
    wh_value v = { .type = WH_T_STRING, .str = "", .len = 0 };
    CHECK_EQ_STR(value_text(&v), "\"\"");
    v.str = "a\"b\\c\n\t\x01";
    v.len = 8;
    CHECK_EQ_STR(value_text(&v), "\"a\\\"b\\\\c\\n\\t\\u0001\"");
    v.str = "caf\xc3\xa9 \xf0\x9f\x98\x80";               /* 2- and 4-byte UTF-8 kept as is */
    v.len = (uint32_t)strlen(v.str);
    CHECK_EQ_STR(value_text(&v), "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
    v.str = "a\xff" "b";                                 /* invalid byte: U+FFFD, never raw */
    v.len = 3;
    CHECK_EQ_STR(value_text(&v), "\"a\xef\xbf\xbd" "b\"");
    v.str = "a\0b";                                      /* embedded NUL */
    v.len = 3;
    CHECK_EQ_STR(value_text(&v), "\"a\\u0000b\"");
    v = (wh_value){ .type = WH_T_DECIMAL, .str = "-12345678901234567890.1234567890", .len = 32,
                    .scale = 10 };
    CHECK_EQ_STR(value_text(&v), "\"-12345678901234567890.1234567890\"");
    v = (wh_value){ .type = WH_T_JSON, .str = "{\"a\":[1,2,null]}", .len = 16 };
    CHECK_EQ_STR(value_text(&v), "{\"a\":[1,2,null]}");  /* embedded as JSON */
    v = (wh_value){ .type = WH_T_ENUM, .str = "red", .len = 3, .n.u = 1 };
    CHECK_EQ_STR(value_text(&v), "\"red\"");
    v = (wh_value){ .type = WH_T_ENUM, .n.u = 2 };       /* names unknown: index */
    CHECK_EQ_STR(value_text(&v), "2");
    v = (wh_value){ .type = WH_T_SET, .str = "a,c", .len = 3, .n.u = 5 };
    CHECK_EQ_STR(value_text(&v), "\"a,c\"");
}

static void test_bytes(void)
{
    wh_value v = { .type = WH_T_BYTES, .str = "", .len = 0 };
    CHECK_EQ_STR(value_text(&v), "\"\"");
    v.str = "f";
    v.len = 1;
    CHECK_EQ_STR(value_text(&v), "\"Zg==\"");
    v.str = "fo";
    v.len = 2;
    CHECK_EQ_STR(value_text(&v), "\"Zm8=\"");
    v.str = "foobar";
    v.len = 6;
    CHECK_EQ_STR(value_text(&v), "\"Zm9vYmFy\"");
    v.str = "\x00\xff\xfe";
    v.len = 3;
    CHECK_EQ_STR(value_text(&v), "\"AP/+\"");
    /* A multi-megabyte blob renders completely. */
    size_t big = 3u << 20;
    char *blob = malloc(big);
    memset(blob, 0xab, big);
    v.str = blob;
    v.len = (uint32_t)big;
    CHECK_EQ_INT(strlen(value_text(&v)), big / 3 * 4 + 2);
    free(blob);
}

static void test_temporal(void)
{
    wh_value v = { .type = WH_T_DATETIME, .scale = 6,
                   .n.t = { 2024, 2, 29, 23, 59, 58, 123456, false, 0 } };
    CHECK_EQ_STR(value_text(&v), "\"2024-02-29 23:59:58.123456\"");
    v.scale = 3;
    v.n.t.usec = 120000;
    CHECK_EQ_STR(value_text(&v), "\"2024-02-29 23:59:58.120\"");
    v.scale = 0;
    CHECK_EQ_STR(value_text(&v), "\"2024-02-29 23:59:58\"");
    v = (wh_value){ .type = WH_T_DATETIME, .flags = WH_VF_ZERO_DATE };
    CHECK_EQ_STR(value_text(&v), "\"0000-00-00 00:00:00\"");
    v = (wh_value){ .type = WH_T_DATE, .n.t = { .year = 1000, .month = 1, .day = 1 } };
    CHECK_EQ_STR(value_text(&v), "\"1000-01-01\"");
    v = (wh_value){ .type = WH_T_TIME, .scale = 1,
                    .n.t = { .hour = 838, .minute = 59, .second = 59, .usec = 0, .negative = true } };
    CHECK_EQ_STR(value_text(&v), "\"-838:59:59.0\"");
    v = (wh_value){ .type = WH_T_TIME, .n.t = { .hour = 0 } };
    CHECK_EQ_STR(value_text(&v), "\"00:00:00\"");
    v = (wh_value){ .type = WH_T_TIMESTAMP, .scale = 2,
                    .n.t = { 2038, 1, 19, 3, 14, 7, 990000, false, 2147483647 } };
    CHECK_EQ_STR(value_text(&v), "\"2038-01-19 03:14:07.99\"");
}

static void test_names(void)
{
    CHECK_EQ_STR(wh_op_name(WH_OP_SINGLE_DELETE), "single_delete");
    CHECK_EQ_INT(wh_op_parse("delete", false), WH_OP_DELETE);
    CHECK_EQ_INT(wh_op_parse("delete", true), WH_OP_KV_DELETE);
    CHECK_EQ_INT(wh_op_parse("merge", true), WH_OP_MERGE);
    CHECK_EQ_INT(wh_op_parse("nope", true), -1);
    CHECK_EQ_STR(wh_op_name(WH_OP_SNAPSHOT), "snapshot");
    CHECK_EQ_INT(wh_op_parse("snapshot_end", false), WH_OP_SNAPSHOT_END);
    CHECK_EQ_STR(wh_type_name(WH_T_TIMESTAMP), "timestamp");
    static const char *names[] = { "a", "ab", "abc" };
    wh_value vals[3] = { { 0 } };
    wh_row row = { names, vals, 3 };
    CHECK_EQ_INT(wh_row_find(&row, "ab", 2), 1);
    CHECK_EQ_INT(wh_row_find(&row, "abcd", 2), 1);     /* length-limited name */
    CHECK_EQ_INT(wh_row_find(&row, "b", 1), -1);
}

/* ---- randomized differential tests --------------------------------------- */

static uint64_t rnd(void) { return check_rand(); }

/* The reference escaper: one byte or one UTF-8 sequence at a time, decoding
 * the code point to judge it. Appends the quoted form of s to o. */
static void ref_put_string(wh_buf *o, const unsigned char *s, size_t len)
{
    wh_buf_putc(o, '"');
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c == '"' || c == '\\') {
            wh_buf_putc(o, '\\');
            wh_buf_putc(o, (char)c);
            i++;
        } else if (c == '\n') {
            wh_buf_puts(o, "\\n");
            i++;
        } else if (c == '\r') {
            wh_buf_puts(o, "\\r");
            i++;
        } else if (c == '\t') {
            wh_buf_puts(o, "\\t");
            i++;
        } else if (c < 0x20) {
            wh_buf_printf(o, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            wh_buf_putc(o, (char)c);
            i++;
        } else {
            size_t n = c >= 0xf8 ? 0 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
            uint32_t cp = n == 4 ? c & 7 : n == 3 ? c & 15 : c & 31;
            bool ok = n != 0 && i + n <= len;
            for (size_t k = 1; ok && k < n; k++) {
                ok = (s[i + k] & 0xc0) == 0x80;
                cp = cp << 6 | (s[i + k] & 0x3f);
            }
            uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
            if (ok && cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) {
                wh_buf_append(o, s + i, n);
                i += n;
            } else {
                wh_buf_puts(o, "\xef\xbf\xbd");
                i++;
            }
        }
    }
    wh_buf_putc(o, '"');
}

/* Random bytes with many of the interesting ones: controls, quotes,
 * backslashes, valid and invalid UTF-8 of every length. */
static void random_bytes(unsigned char *s, size_t len)
{
    static const char *const pieces[] = {
        "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf",
        "\xee\x80\x80", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xf0\x90\x80\x80",
        "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf",
        "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80",
        "\xc3", "\xe6\x97", "\xf0\x9f\x98", "\x80", "\xbf", "\xff", "\xfe",
        "\"", "\\", "\n", "\r", "\t", "\b", "\f", "\x01", "\x1f", "\x7f", " ", "/",
    };
    size_t npieces = sizeof pieces / sizeof pieces[0];
    unsigned mode = (unsigned)(rnd() % 4);   /* clean ASCII .. anything */
    size_t i = 0;
    while (i < len) {
        uint64_t r = rnd();
        unsigned kind = (unsigned)(r % 16);
        if (mode == 3 && kind < 8) {
            s[i++] = (unsigned char)(r >> 8);                 /* any byte */
        } else if (mode >= 1 && kind < 3 + mode) {
            const char *pc = pieces[(r >> 8) % npieces];
            size_t n = strlen(pc);
            if (n > len - i)
                n = len - i;                                  /* truncated on purpose */
            memcpy(s + i, pc, n);
            i += n;
        } else if (kind == 15 && mode >= 1) {
            s[i++] = '\0';
        } else {
            s[i++] = (unsigned char)(0x20 + (r >> 8) % 95);   /* printable ASCII */
        }
    }
}

/* A wh_buf holding prefix with exactly cap bytes allocated, so that ASan
 * sees any write past it and the next append has to grow. */
static wh_buf tight_buf(const char *prefix, size_t cap)
{
    size_t n = strlen(prefix);
    wh_buf b = { malloc(cap), n, cap, false, false };
    memcpy(b.data, prefix, n + 1);
    return b;
}

static bool same_text(const wh_buf *b, const char *prefix, const wh_buf *want)
{
    size_t n = strlen(prefix);
    return b->len == n + want->len && memcmp(b->data, prefix, n) == 0 &&
           memcmp(b->data + n, want->data, want->len) == 0 && b->data[b->len] == '\0' &&
           b->len < b->cap && wh_buf_ok(b);
}

/* want is the reference's quoted string; its body with "\\u0008" and
 * "\\u000c" written "\\b" and "\\f" is the WH_JSON_ESC_BF form. */
static void bf_form(wh_buf *o, const wh_buf *want)
{
    for (size_t i = 1; i + 1 < want->len; i++) {
        if (want->data[i] != '\\') {
            wh_buf_putc(o, want->data[i]);
        } else if (!strncmp(want->data + i, "\\u0008", 6) ||
                   !strncmp(want->data + i, "\\u000c", 6)) {
            wh_buf_puts(o, want->data[i + 5] == '8' ? "\\b" : "\\f");
            i += 5;
        } else {
            wh_buf_append(o, want->data + i, 2);
            i++;
        }
    }
}

/* The escaper's other forms (core/update_json.h) on s: its exact length,
 * into raw memory of exactly that length plus the slack (ASan sees any
 * write past it), and appended to a wh_buf; with and without
 * WH_JSON_ESC_BF. Each must equal the body of the reference. */
static void check_escaper(const unsigned char *s, size_t len, const wh_buf *want)
{
    wh_buf body = WH_BUF_INIT, bf = WH_BUF_INIT, got = WH_BUF_INIT;
    wh_buf_append(&body, want->data + 1, want->len - 2);
    bf_form(&bf, want);
    for (unsigned flags = 0; flags <= WH_JSON_ESC_BF; flags += WH_JSON_ESC_BF) {
        const wh_buf *w = flags ? &bf : &body;
        const char *text = w->data ? w->data : "";   /* NULL while empty */
        size_t n = wh_json_escaped_len((const char *)s, len, flags);
        CHECK_EQ_INT(n, w->len);
        char *mem = malloc(n + WH_JSON_ESC_SLACK);
        if (mem) {
            char *end = wh_json_escape(mem, (const char *)s, len, flags);
            CHECK(end == mem + w->len && memcmp(mem, text, w->len) == 0);
            free(mem);
        }
        wh_buf_reset(&got);
        wh_buf_puts(&got, "x");
        wh_json_put_escaped(&got, (const char *)s, len, flags);
        CHECK(got.len == w->len + 1 && memcmp(got.data + 1, text, w->len) == 0 &&
              got.data[got.len] == '\0');
    }
    wh_buf_free(&body);
    wh_buf_free(&bf);
    wh_buf_free(&got);
}

/* Renders s with wh_json_put_string into a fresh buffer, after a prefix,
 * and into tight buffers with every capacity from the prefix's up to the
 * output's size (so growth lands on every byte of the text); each must
 * equal the reference. */
static void check_string(const unsigned char *s, size_t len, bool every_cap)
{
    wh_buf want = WH_BUF_INIT, got = WH_BUF_INIT;
    ref_put_string(&want, s, len);
    wh_json_put_string(&got, (const char *)s, len);
    static int reported;
    bool ok = same_text(&got, "", &want);
    CHECK(ok);
    if (!ok && reported++ < 3) {
        size_t at = 0;
        while (at < want.len && at < got.len && want.data[at] == got.data[at])
            at++;
        fprintf(stderr, "  input (%zu bytes):", len);
        for (size_t i = 0; i < len && i < 64; i++)
            fprintf(stderr, " %02x", s[i]);
        fprintf(stderr, "%s\n  output differs at byte %zu of %zu (got %zu)\n",
                len > 64 ? " ..." : "", at, want.len, got.len);
    }
    wh_buf_reset(&got);
    wh_buf_puts(&got, "[1,");
    wh_json_put_string(&got, (const char *)s, len);
    CHECK(same_text(&got, "[1,", &want));
    check_escaper(s, len, &want);
    if (every_cap) {
        int bad = 0;
        for (size_t cap = 4; cap <= want.len + 6; cap++) {
            wh_buf t = tight_buf("[1,", cap);
            wh_json_put_string(&t, (const char *)s, len);
            bad += !same_text(&t, "[1,", &want);
            wh_buf_free(&t);
        }
        CHECK_EQ_INT(bad, 0);
    }
    wh_buf_free(&want);
    wh_buf_free(&got);
}

static void test_random_strings(void)
{
    unsigned char s[100];
    for (size_t len = 0; len <= 100; len++)
        for (int k = 0; k < 200; k++) {
            random_bytes(s, len);
            check_string(s, len, k < 2);
        }
    /* Long strings: the vector loop over many blocks, and growth in it. */
    for (int k = 0; k < 40; k++) {
        size_t len = 100 + (size_t)(rnd() % (k < 30 ? 5000 : 200000));
        unsigned char *big = malloc(len);
        random_bytes(big, len);
        check_string(big, len, k < 3);
        free(big);
    }
    /* Worst cases for the room reserved up front: every byte expanding
     * (controls to 6 bytes, invalid bytes to 3, quotes to 2), at every
     * length and capacity. */
    static const unsigned char worst[] = { 0x01, 0x1f, 0xff, 0x80, '"', '\n' };
    for (size_t w = 0; w < sizeof worst; w++)
        for (size_t len = 0; len <= 100; len++) {
            memset(s, worst[w], len);
            check_string(s, len, true);
        }
    /* Every byte value alone, and after and before 15 clean bytes (at a
     * block's end and start), in a string the vector loop scans. */
    for (unsigned c = 0; c < 256; c++) {
        unsigned char b[40];
        memset(b, 'x', sizeof b);
        b[0] = (unsigned char)c;
        check_string(b, 1, true);
        b[0] = 'x';
        b[15] = (unsigned char)c;
        check_string(b, 32, false);
        b[15] = 'x';
        b[16] = (unsigned char)c;
        check_string(b, 17, false);
    }
}

/* Integers against printf. */
static void test_random_integers(void)
{
    char want[32];
    int bad = 0;
    for (int k = 0; k < 200000; k++) {
        uint64_t u = rnd() >> (rnd() % 64);
        wh_value v = { .type = WH_T_UINT, .n.u = u };
        snprintf(want, sizeof want, "%" PRIu64, u);
        bad += strcmp(value_text(&v), want) != 0;
        v = (wh_value){ .type = WH_T_INT, .n.i = (int64_t)u * (k & 1 ? -1 : 1) };
        snprintf(want, sizeof want, "%" PRId64, v.n.i);
        bad += strcmp(value_text(&v), want) != 0;
    }
    for (uint64_t p = 1, k = 0; k < 20; k++, p *= 10) {     /* digit-count edges */
        wh_value v = { .type = WH_T_UINT, .n.u = p - 1 };
        snprintf(want, sizeof want, "%" PRIu64, p - 1);
        bad += strcmp(value_text(&v), want) != 0;
        v.n.u = p;
        snprintf(want, sizeof want, "%" PRIu64, p);
        bad += strcmp(value_text(&v), want) != 0;
    }
    CHECK_EQ_INT(bad, 0);
}

/* Floats against the definition: the first of "%.{6..9}g" (FLOAT) or
 * "%.{15..17}g" (DOUBLE) that reads back as the same value. */
static void ref_float(char *o, size_t n, double d, bool float32)
{
    if (!isfinite(d)) {
        snprintf(o, n, "null");
        return;
    }
    for (int prec = float32 ? 6 : 15; prec <= (float32 ? 9 : 17); prec++) {
        snprintf(o, n, "%.*g", prec, d);
        double back = strtod(o, NULL);
        if (float32 ? (float)back == (float)d : back == d)
            return;
    }
}

static void test_random_floats(void)
{
    char want[64];
    int bad = 0;
    for (int k = 0; k < 100000; k++) {
        bool f32 = k & 1;
        double d;
        uint64_t r = rnd();
        switch (k / 2 % 5) {
        case 0: d = (double)(int64_t)(r % 2000000000000000ull) - 1e15; break;  /* integers */
        case 1: d = (double)(int64_t)(r % 20000000) - 1e7; break;
        case 2: d = ldexp((double)(r >> 11), (int)(rnd() % 140) - 70); break;
        case 3: d = (double)(r % 100000) / 100.0 * ((r >> 40) & 1 ? -1 : 1); break;
        default: memcpy(&d, &r, sizeof d); break;                             /* any bits */
        }
        if (f32)
            d = (double)(float)d;
        wh_value v = { .type = WH_T_FLOAT, .flags = f32 ? WH_VF_FLOAT32 : 0, .n.d = d };
        ref_float(want, sizeof want, d, f32);
        bad += strcmp(value_text(&v), want) != 0;
    }
    static const double edges[] = { 0.0, -0.0, 1e15, -1e15, 1e15 - 1, 999999.0, 1e6, 1e6 + 1,
                                    -999999.0, 9007199254740993.0, 0.5, 1.5, 123456789.0 };
    for (size_t k = 0; k < sizeof edges / sizeof edges[0]; k++)
        for (int f32 = 0; f32 < 2; f32++) {
            double d = f32 ? (double)(float)edges[k] : edges[k];
            wh_value v = { .type = WH_T_FLOAT, .flags = f32 ? WH_VF_FLOAT32 : 0, .n.d = d };
            ref_float(want, sizeof want, d, f32);
            bad += strcmp(value_text(&v), want) != 0;
        }
    CHECK_EQ_INT(bad, 0);
}

/* The reference temporal text: snprintf's "%04u-%02u-%02u %02u:%02u:%02u"
 * forms into buflen bytes, then ".ffffff" cut to scale digits if it fits
 * there whole. Returns the length written. */
static size_t ref_temporal(const wh_value *v, char *buf, size_t buflen)
{
    const wh_temporal *t = &v->n.t;
    int n;
    if (v->type == WH_T_DATE)
        n = snprintf(buf, buflen, "%04u-%02u-%02u", t->year, t->month, t->day);
    else if (v->type == WH_T_TIME)
        n = snprintf(buf, buflen, "%s%02u:%02u:%02u", t->negative ? "-" : "", t->hour,
                     t->minute, t->second);
    else
        n = snprintf(buf, buflen, "%04u-%02u-%02u %02u:%02u:%02u", t->year, t->month, t->day,
                     t->hour, t->minute, t->second);
    if ((size_t)n >= buflen)
        return buflen - 1;
    size_t len = (size_t)n;
    unsigned k = v->scale > 6 ? 6 : v->scale;
    if (v->type != WH_T_DATE && v->scale && buflen - len >= v->scale + 2u) {
        char digits[16];
        snprintf(digits, sizeof digits, "%06u", t->usec % 1000000u);
        buf[len++] = '.';
        memcpy(buf + len, digits, k);
        len += k;
        buf[len] = '\0';
    }
    return len;
}

/* Temporal values (fields at and beyond their ranges, any scale) against the
 * snprintf reference: wh_temporal_format into buffers of every size from
 * its documented minimum, and the renderer (the 48-byte buffer it
 * documents). */
static void test_random_temporal(void)
{
    static const uint8_t types[] = { WH_T_DATE, WH_T_TIME, WH_T_DATETIME, WH_T_TIMESTAMP };
    int bad = 0;
    for (int k = 0; k < 100000; k++) {
        uint64_t r = rnd();
        bool wild = k % 8 == 0;
        wh_value v = { .type = types[r % 4],
                       .scale = (uint8_t)(wild ? rnd() % 256 : rnd() % 7),
                       .n.t = { .year = (uint16_t)(wild ? rnd() : rnd() % 10000),
                                .month = (uint8_t)(wild ? rnd() : rnd() % 13),
                                .day = (uint8_t)(wild ? rnd() : rnd() % 32),
                                .hour = (uint16_t)(wild ? rnd() : rnd() % 839),
                                .minute = (uint8_t)(wild ? rnd() : rnd() % 60),
                                .second = (uint8_t)(wild ? rnd() : rnd() % 60),
                                .usec = (uint32_t)(wild ? rnd() : rnd() % 1000000),
                                .negative = (r >> 8) & 1 } };
        char ref[80], got[80], want[96];
        size_t buflen = k % 2 ? 48 : 32 + (size_t)(rnd() % 33);
        size_t rn = ref_temporal(&v, ref, buflen);
        memset(got, 'x', sizeof got);
        size_t n = wh_temporal_format(&v, got, buflen);
        bool ok = n == rn && strcmp(got, ref) == 0 && got[buflen] == 'x';
        if (!ok && bad < 3)
            fprintf(stderr, "  type %d scale %u buflen %zu: got %zu \"%s\", want %zu \"%s\"\n",
                    v.type, v.scale, buflen, n, got, rn, ref);
        bad += !ok;
        rn = ref_temporal(&v, ref, 48);
        snprintf(want, sizeof want, "\"%.*s\"", (int)rn, ref);
        bad += strcmp(value_text(&v), want) != 0;
    }
    CHECK_EQ_INT(bad, 0);
    wh_value none = { .type = WH_T_INT };
    char buf[8] = "x";
    CHECK_EQ_INT(wh_temporal_format(&none, buf, sizeof buf), 0);
    CHECK_EQ_STR(buf, "");
}

/* Positions against snprintf, truncation included. */
static void test_random_positions(void)
{
    char name[700], got[600], want[600];
    int bad = 0;
    for (int k = 0; k < 20000; k++) {
        size_t nl = (size_t)(k % 4 == 0 ? rnd() % 600 : rnd() % 24);
        for (size_t i = 0; i < nl; i++)
            name[i] = (char)(0x21 + rnd() % 94);
        name[nl] = '\0';
        wh_position p = { .log_name = k & 1 ? name : NULL, .offset = rnd() >> (rnd() % 64),
                          .logical = k & 2 ? name : NULL, .index = (uint32_t)rnd() };
        size_t buflen = (size_t)(k % 3 == 0 ? 1 + rnd() % 40 : sizeof got);
        int w = p.log_name ? snprintf(want, buflen, "%s:%" PRIu64 "/%" PRIu32, p.log_name,
                                      p.offset, p.index)
                           : snprintf(want, buflen, "%" PRIu64 "/%" PRIu32, p.offset, p.index);
        size_t wl = (size_t)w >= buflen ? buflen - 1 : (size_t)w;
        size_t n = wh_position_physical(&p, got, buflen);
        bad += n != wl || strcmp(got, want) != 0;
        if (p.logical) {
            w = snprintf(want, buflen, "%s/%" PRIu32, p.logical, p.index);
            wl = (size_t)w >= buflen ? buflen - 1 : (size_t)w;
        } else {
            want[0] = '\0';
            wl = 0;
        }
        n = wh_position_logical(&p, got, buflen);
        bad += n != wl || strcmp(got, want) != 0;
    }
    CHECK_EQ_INT(bad, 0);
}

/* The update as the renderer's public pieces put it together. */
static void ref_put_cstr(wh_buf *o, const char *s)
{
    if (s)
        wh_json_put_string(o, s, strlen(s));
    else
        wh_buf_puts(o, "null");
}

static void ref_put_row(wh_buf *o, const char *name, const wh_row *row)
{
    wh_buf_printf(o, ",\"%s\":{", name);
    bool first = true;
    for (uint32_t k = 0; k < row->count; k++) {
        if (row->values[k].type == WH_T_ABSENT)
            continue;
        if (!first)
            wh_buf_putc(o, ',');
        first = false;
        ref_put_cstr(o, row->names[k] ? row->names[k] : "");
        wh_buf_putc(o, ':');
        wh_json_put_value(o, &row->values[k]);
    }
    wh_buf_putc(o, '}');
}

static void ref_update(wh_buf *o, const wh_update *u)
{
    char pos[512];
    bool kv = u->op >= WH_OP_PUT && u->op <= WH_OP_MERGE;
    wh_buf_puts(o, "{\"shard\":");
    ref_put_cstr(o, u->shard);
    wh_buf_printf(o, ",\"op\":\"%s\"", wh_op_name(u->op));
    if (!kv && u->db) {
        wh_buf_puts(o, ",\"db\":");
        ref_put_cstr(o, u->db);
    }
    if (u->table) {
        wh_buf_puts(o, kv ? ",\"cf\":" : ",\"table\":");
        ref_put_cstr(o, u->table);
    }
    wh_buf_puts(o, ",\"pos\":{\"logical\":");
    size_t n = wh_position_logical(&u->pos, pos, sizeof pos);
    if (n)
        wh_json_put_string(o, pos, n);
    else
        wh_buf_puts(o, "null");
    wh_buf_puts(o, ",\"physical\":");
    wh_json_put_string(o, pos, wh_position_physical(&u->pos, pos, sizeof pos));
    wh_buf_printf(o, "},\"ts\":%" PRId64 ",\"txn\":{\"id\":", u->ts);
    ref_put_cstr(o, u->txn.id);
    wh_buf_printf(o, ",\"index\":%" PRIu32 ",\"last\":%s}", u->txn.index,
                  u->txn.last ? "true" : "false");
    if (u->flags & WH_UF_RAW_VALUE)
        wh_buf_puts(o, ",\"raw\":true");
    if (u->statement) {
        wh_buf_puts(o, ",\"statement\":");
        ref_put_cstr(o, u->statement);
    }
    if (u->has_before)
        ref_put_row(o, "before", &u->before);
    if (u->has_after)
        ref_put_row(o, "after", &u->after);
    wh_buf_puts(o, "}\n");
}

/* A random NUL-terminated string (no NUL inside) of up to max bytes. */
static char *random_cstr(char *s, size_t max)
{
    size_t len = (size_t)(rnd() % (max + 1));
    random_bytes((unsigned char *)s, len);
    for (size_t i = 0; i < len; i++)
        if (!s[i])
            s[i] = 'z';
    s[len] = '\0';
    return s;
}

static void random_value(wh_value *v, char *store, size_t max)
{
    uint64_t r = rnd();
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)(r % WH_T__COUNT);
    switch (v->type) {
    case WH_T_INT: v->n.i = (int64_t)rnd() >> (rnd() % 64); break;
    case WH_T_UINT: case WH_T_YEAR: v->n.u = rnd() >> (rnd() % 64); break;
    case WH_T_FLOAT:
        v->n.d = (double)(int64_t)(rnd() % 100000) / ((r >> 8) & 1 ? 8.0 : 1.0);
        v->flags = (r >> 9) & 1 ? WH_VF_FLOAT32 : 0;
        break;
    case WH_T_DATE: case WH_T_TIME: case WH_T_DATETIME: case WH_T_TIMESTAMP:
        v->scale = (uint8_t)(rnd() % 7);
        v->n.t = (wh_temporal){ 2024, 2, 29, 23, 59, 58, (uint32_t)(rnd() % 1000000),
                                (r >> 8) & 1, 0 };
        break;
    case WH_T_ENUM: case WH_T_SET:
        v->n.u = rnd() % 64;
        if ((r >> 8) & 1)
            break;
        /* fall through */
    default:
        v->len = (uint32_t)(rnd() % (max + 1));
        random_bytes((unsigned char *)store, v->len);
        v->str = store;
        if (v->type == WH_T_JSON && v->len)
            memcpy(store, "[1,\"x\"]", v->len = 7);
        break;
    }
}

/* Whole updates with random text everywhere: equal to ref_update, into
 * fresh buffers and into tight buffers of every capacity. */
static void test_random_updates(void)
{
    enum { COLS = 6, TEXT = 300 };
    static char text[8][TEXT + 1], names[COLS][40], store[COLS][TEXT + 1];
    static const char *name_ptrs[COLS];
    wh_value before[COLS], after[COLS];
    wh_buf want = WH_BUF_INIT, got = WH_BUF_INIT;
    int bad = 0, bad_tight = 0;
    for (int k = 0; k < 3000; k++) {
        size_t max = k % 10 == 0 ? TEXT : 12;
        wh_update u = {
            .shard = (k & 1) ? random_cstr(text[0], max) : NULL,
            .op = (uint8_t)(rnd() % (WH_OP__COUNT + 1)),
            .flags = (uint8_t)(rnd() % 2),
            .pos = { .log_name = (k & 2) ? random_cstr(text[1], k % 50 == 0 ? TEXT : max) : NULL,
                     .offset = rnd() >> (rnd() % 64),
                     .logical = (k & 4) ? random_cstr(text[2], max) : NULL,
                     .index = (uint32_t)rnd() },
            .ts = (int64_t)rnd() >> (rnd() % 64),
            .txn = { .id = (k & 8) ? random_cstr(text[3], max) : NULL,
                     .index = (uint32_t)rnd(), .last = (k >> 4) & 1 },
            .db = (k & 32) ? random_cstr(text[4], max) : NULL,
            .table = (k & 64) ? random_cstr(text[5], max) : NULL,
            .statement = (k & 128) ? random_cstr(text[6], max) : NULL,
            .has_before = (k >> 8) & 1, .has_after = (k >> 9) & 1,
        };
        if (k % 37 == 0) {   /* names long enough to be cut at 511 bytes, maybe mid-character */
            static char longname[600];
            size_t n = 480 + (size_t)(rnd() % 100);
            for (size_t i = 0; i < n; i++)
                longname[i] = i % 2 ? '\xa9' : '\xc3';
            longname[n] = '\0';
            if (rnd() % 2)
                longname[rnd() % n] = 'x';
            u.pos.log_name = longname;
            u.pos.logical = rnd() % 2 ? longname : NULL;
        }
        uint32_t count = (uint32_t)(rnd() % (COLS + 1));
        for (uint32_t c = 0; c < count; c++) {
            name_ptrs[c] = rnd() % 8 ? random_cstr(names[c], 20) : NULL;
            random_value(&before[c], store[c], max);
            after[c] = before[c];
            if (rnd() % 4 == 0)
                after[c].type = WH_T_ABSENT;
        }
        u.before = (wh_row){ name_ptrs, before, count };
        u.after = (wh_row){ name_ptrs, after, count };
        wh_buf_reset(&want);
        ref_update(&want, &u);
        wh_buf_reset(&got);
        int rc = wh_update_to_json(&u, &got);
        bool ok = rc == WH_OK && same_text(&got, "", &want);
        bad += !ok;
        if (!ok && bad < 4)
            fprintf(stderr, "update %d differs:\n  want: %s  got:  %s", k, want.data,
                    got.data ? got.data : "");
        if (k % 20 == 0)
            for (size_t cap = 1; cap <= want.len + 2; cap++) {
                wh_buf t = tight_buf("", cap);
                rc = wh_update_to_json(&u, &t);
                bad_tight += rc != WH_OK || !same_text(&t, "", &want);
                wh_buf_free(&t);
            }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(bad_tight, 0);
    wh_buf_free(&want);
    wh_buf_free(&got);
}

/* A buffer that cannot grow: the append fails cleanly (no partial text). */
static void test_oom(void)
{
    wh_buf b = tight_buf("x", 8);
    b.oom = true;                       /* growth now fails */
    wh_json_put_string(&b, "a long string that does not fit", 31);
    CHECK(!wh_buf_ok(&b));
    CHECK_EQ_INT(b.len, 1);
    CHECK_EQ_STR(b.data, "x");
    wh_update u = { .shard = "s", .op = WH_OP_INSERT, .pos = { .offset = 4 } };
    CHECK_EQ_INT(wh_update_to_json(&u, &b), WH_ERR_NOMEM);
    CHECK_EQ_STR(b.data, "x");
    wh_buf_free(&b);
}

int main(void)
{
    check_seed("test_update_json");
    test_metadata();
    test_integers();
    test_floats();
    test_strings();
    test_bytes();
    test_temporal();
    test_names();
    test_random_strings();
    test_random_integers();
    test_random_floats();
    test_random_temporal();
    test_random_positions();
    test_random_updates();
    test_oom();
    wh_buf_free(&out);
    return check_done("test_update_json");
}
