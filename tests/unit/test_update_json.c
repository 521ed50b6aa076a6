/* test_update_json.c -- the update model's JSON form, every value type at its edges.
 *
 * Each update is rendered, parsed back with jansson, and compared field by
 * field with what was rendered (values jansson cannot hold exactly, unsigned
 * integers above 2^63-1, are compared as text). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

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
    CHECK_EQ_STR(wh_type_name(WH_T_TIMESTAMP), "timestamp");
    static const char *names[] = { "a", "ab", "abc" };
    wh_value vals[3] = { { 0 } };
    wh_row row = { names, vals, 3 };
    CHECK_EQ_INT(wh_row_find(&row, "ab", 2), 1);
    CHECK_EQ_INT(wh_row_find(&row, "abcd", 2), 1);     /* length-limited name */
    CHECK_EQ_INT(wh_row_find(&row, "b", 1), -1);
}

int main(void)
{
    test_metadata();
    test_integers();
    test_floats();
    test_strings();
    test_bytes();
    test_temporal();
    test_names();
    wh_buf_free(&out);
    return check_done("test_update_json");
}
