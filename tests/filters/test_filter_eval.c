/* test_filter_eval.c -- filter evaluation per operator and per value type:
 * metadata keys, row images, typed comparison, absent keys, in-sets small
 * and hashed, schema caching. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/filter.h"
#include "tests/check.h"
#include "tests/filters/filter_test_util.h"

static char err[1024];

/* Matches u against filter text src, both as parsed and after a round trip
 * through the JSON form, with u's schema_id and with schema_id 0. */
static void expect(const char *src, const wh_update *u, bool want, int line)
{
    wh_filter *f = NULL, *fj = NULL;
    if (wh_filter_parse_text(src, strlen(src), &f, err, sizeof err) != WH_OK) {
        fprintf(stderr, "line %d: cannot parse <%s>: %s\n", line, src, err);
        CHECK(0);
        return;
    }
    wh_buf b = WH_BUF_INIT;
    CHECK_EQ_INT(wh_filter_to_json(f, &b), WH_OK);
    CHECK_EQ_INT(wh_filter_parse_json(b.data, b.len, &fj, err, sizeof err), WH_OK);
    wh_update u0 = *u;
    u0.schema_id = 0;
    bool got[4] = { wh_filter_match(f, u), wh_filter_match(f, &u0), fj && wh_filter_match(fj, u),
                    wh_filter_match(f, u) };
    for (int k = 0; k < 4; k++) {
        if (got[k] != want)
            fprintf(stderr, "line %d: <%s> (variant %d) gave %d, expected %d\n", line, src, k,
                    got[k], want);
        CHECK(got[k] == want);
    }
    wh_buf_free(&b);
    wh_filter_free(f);
    wh_filter_free(fj);
}
#define EXPECT(src, u, want) expect(src, u, want, __LINE__)

/* Filler constants that equal none of the values used below, to push an
 * in-list past the size where it is hashed. */
static const char fillers[] = ", 123456789011, 123456789012, -123456789013, 0.123456789014, "
                              "\"filler 1\", \"filler 2\", x'f1f2', 1.5e300, 123456789015";
static const char meta_fillers[] = ", \"f1\", \"f2\", \"f3\", \"f4\", \"f5\", \"f6\", \"f7\", "
                                   "\"f8\", \"f9\"";

/* key = c, key != c, key in (c), key not in (c), and hashed in-lists. */
static void expect_eq(const char *key, const char *c, const wh_update *u, bool want, int line)
{
    char src[1024];
    bool meta = strcmp(key, "db") == 0 || strcmp(key, "table") == 0 || strcmp(key, "shard") == 0 ||
                strcmp(key, "cf") == 0;
    const char *fill = meta ? meta_fillers : fillers;
    snprintf(src, sizeof src, "%s = %s", key, c);
    expect(src, u, want, line);
    snprintf(src, sizeof src, "%s != %s", key, c);
    expect(src, u, !want, line);
    snprintf(src, sizeof src, "%s in (%s)", key, c);
    expect(src, u, want, line);
    snprintf(src, sizeof src, "%s in (%s, %s)", key, meta ? "\"f0\"" : "0.5", c);
    expect(src, u, want, line);
    snprintf(src, sizeof src, "%s in (%s%s)", key, c, fill);
    expect(src, u, want, line);
    snprintf(src, sizeof src, "%s not in (\"x\"%s, %s)", key, fill, c);
    expect(src, u, !want, line);
}
#define EXPECT_EQ(key, c, u, want) expect_eq(key, c, u, want, __LINE__)

static void test_metadata(void)
{
    test_update t;
    tu_init(&t, WH_OP_INSERT, "app", "users", 1);
    tu_col(&t, "id", tv_absent(), tv_int(1));
    EXPECT("op = \"insert\"", &t.u, true);
    EXPECT("op = \"update\"", &t.u, false);
    EXPECT("op in (\"update\", \"insert\")", &t.u, true);
    EXPECT("op not in (\"update\", \"delete\")", &t.u, true);
    EXPECT("exists op", &t.u, true);
    EXPECT("not exists op", &t.u, false);
    EXPECT_EQ("db", "\"app\"", &t.u, true);
    EXPECT_EQ("db", "\"ap\"", &t.u, false);
    EXPECT_EQ("db", "\"appx\"", &t.u, false);
    EXPECT_EQ("db", "\"APP\"", &t.u, false);
    EXPECT_EQ("db", "\"\"", &t.u, false);
    EXPECT_EQ("table", "\"users\"", &t.u, true);
    EXPECT_EQ("shard", "\"shard1\"", &t.u, true);
    EXPECT_EQ("cf", "\"users\"", &t.u, false);     /* cf only for key-value ops */
    EXPECT("exists db and exists table and exists shard and not exists cf", &t.u, true);

    /* delete: SQL and key-value deletes are both "delete". */
    tu_init(&t, WH_OP_DELETE, "app", "users", 1);
    EXPECT("op = \"delete\"", &t.u, true);
    tu_init(&t, WH_OP_KV_DELETE, NULL, "default", 1);
    EXPECT("op = \"delete\"", &t.u, true);
    EXPECT("op in (\"put\", \"merge\")", &t.u, false);
    EXPECT_EQ("cf", "\"default\"", &t.u, true);
    EXPECT_EQ("table", "\"default\"", &t.u, false);
    EXPECT("exists cf and not exists table and not exists db", &t.u, true);
    /* A key-value update never has a db, even if a producer set one. */
    tu_init(&t, WH_OP_PUT, "app", "cf1", 1);
    EXPECT("exists db", &t.u, false);
    EXPECT("op = \"put\" and cf = \"cf1\"", &t.u, true);
    for (int op = 0; op < WH_OP__COUNT; op++) {
        char src[64];
        tu_init(&t, op, "d", "t", 1);
        snprintf(src, sizeof src, "op = \"%s\"", wh_op_name(op));
        EXPECT(src, &t.u, true);
        snprintf(src, sizeof src, "op != \"%s\"", wh_op_name(op));
        EXPECT(src, &t.u, false);
    }
    EXPECT("op in (\"insert\", \"update\", \"delete\", \"ddl\", \"put\", \"single_delete\", "
           "\"delete_range\")", &t.u, false);
    /* Missing metadata. */
    tu_init(&t, WH_OP_DDL, NULL, NULL, 0);
    t.u.shard = NULL;
    EXPECT("exists db or exists table or exists shard or exists cf", &t.u, false);
    EXPECT_EQ("table", "\"\"", &t.u, false);
    EXPECT_EQ("shard", "\"shard1\"", &t.u, false);
    /* An op outside the known range matches no op name. */
    tu_init(&t, 200, "d", "t", 0);
    EXPECT("op in (\"insert\", \"update\", \"delete\", \"ddl\", \"put\", \"single_delete\", "
           "\"delete_range\", \"merge\")", &t.u, false);
    EXPECT("exists table or exists cf", &t.u, false);
}

static void test_images(void)
{
    test_update t;
    /* insert: bare and after read the after image; before is absent. */
    tu_init(&t, WH_OP_INSERT, "d", "t", 3);
    tu_col(&t, "a", tv_absent(), tv_int(1));
    EXPECT("a = 1 and after.a = 1 and row.a = 1", &t.u, true);
    EXPECT("exists before.a", &t.u, false);
    EXPECT("before.a != 1", &t.u, true);
    /* update: bare is after. */
    tu_init(&t, WH_OP_UPDATE, "d", "t", 3);
    tu_col(&t, "a", tv_int(1), tv_int(2));
    EXPECT("a = 2 and after.a = 2 and before.a = 1", &t.u, true);
    EXPECT("a = 1", &t.u, false);
    /* delete: bare is before. */
    tu_init(&t, WH_OP_DELETE, "d", "t", 3);
    tu_col(&t, "a", tv_int(7), tv_absent());
    EXPECT("a = 7 and before.a = 7 and not exists after.a", &t.u, true);
    /* ddl: no rows at all. */
    tu_init(&t, WH_OP_DDL, "d", "t", 3);
    EXPECT("exists a or exists before.a or exists after.a", &t.u, false);
    /* A minimal row image: columns absent from one image only. */
    tu_init(&t, WH_OP_UPDATE, "d", "t", 4);
    tu_col(&t, "id", tv_int(1), tv_absent());
    tu_col(&t, "b", tv_absent(), tv_str("x"));
    EXPECT("exists before.id and not exists id and exists b and not exists before.b", &t.u, true);
    /* Column names are exact. */
    tu_init(&t, WH_OP_INSERT, "d", "t", 5);
    tu_col(&t, "Name", tv_absent(), tv_str("x"));
    tu_col(&t, "odd name", tv_absent(), tv_str("y"));
    tu_col(&t, "op", tv_absent(), tv_str("z"));
    tu_col(&t, "a.b", tv_absent(), tv_str("w"));
    EXPECT("exists Name and not exists name", &t.u, true);
    EXPECT("`odd name` = \"y\" and `op` = \"z\" and after.op = \"z\" and `a.b` = \"w\"", &t.u,
           true);
    EXPECT("after.`a.b` = \"w\" and row.`op` = \"z\"", &t.u, true);
}

static void test_absent_and_null(void)
{
    test_update t;
    tu_init(&t, WH_OP_INSERT, "d", "t", 6);
    tu_col(&t, "n", tv_absent(), tv_null());
    tu_col(&t, "gone", tv_absent(), tv_absent());
    /* NULL exists and equals only null. */
    EXPECT("exists n", &t.u, true);
    EXPECT_EQ("n", "null", &t.u, true);
    EXPECT_EQ("n", "0", &t.u, false);
    EXPECT_EQ("n", "\"\"", &t.u, false);
    EXPECT_EQ("n", "false", &t.u, false);
    EXPECT_EQ("n", "x''", &t.u, false);
    EXPECT("n in (1, 2, null)", &t.u, true);
    /* Absent and unknown columns: exists is false, = and in are false, != and
     * not in are true (they are the negations), null included. */
    const char *missing[] = { "gone", "nosuch" };
    for (int k = 0; k < 2; k++) {
        char src[128];
        snprintf(src, sizeof src, "exists %s", missing[k]);
        EXPECT(src, &t.u, false);
        EXPECT_EQ(missing[k], "null", &t.u, false);
        EXPECT_EQ(missing[k], "0", &t.u, false);
        EXPECT_EQ(missing[k], "\"\"", &t.u, false);
    }
}

static void test_integers(void)
{
    test_update t;
    tu_init(&t, WH_OP_INSERT, "d", "t", 7);
    tu_col(&t, "i", tv_absent(), tv_int(5));
    tu_col(&t, "neg", tv_absent(), tv_int(-1));
    tu_col(&t, "imin", tv_absent(), tv_int(INT64_MIN));
    tu_col(&t, "imax", tv_absent(), tv_int(INT64_MAX));
    tu_col(&t, "u", tv_absent(), tv_uint(5));
    tu_col(&t, "umax", tv_absent(), tv_uint(UINT64_MAX));
    tu_col(&t, "one", tv_absent(), tv_int(1));
    tu_col(&t, "zero", tv_absent(), tv_uint(0));
    wh_value bit = tv_uint(1);
    bit.flags = WH_VF_BIT;
    tu_col(&t, "bit", tv_absent(), bit);
    tu_col(&t, "y", tv_absent(), tv_year(2024));
    const char *five[] = { "5", "5.0", "5.00", "500e-2", "0.5e1", "+5" };
    for (int k = 0; k < 6; k++) {
        EXPECT_EQ("i", five[k], &t.u, true);
        EXPECT_EQ("u", five[k], &t.u, true);
    }
    EXPECT_EQ("i", "5.5", &t.u, false);
    EXPECT_EQ("i", "5.000000000000000000000001", &t.u, false);
    EXPECT_EQ("i", "-5", &t.u, false);
    EXPECT_EQ("i", "\"5\"", &t.u, false);
    EXPECT_EQ("i", "x'05'", &t.u, false);
    EXPECT_EQ("i", "true", &t.u, false);
    EXPECT_EQ("neg", "-1", &t.u, true);
    EXPECT_EQ("neg", "18446744073709551615", &t.u, false);
    EXPECT_EQ("imin", "-9223372036854775808", &t.u, true);
    EXPECT_EQ("imin", "-9223372036854775807", &t.u, false);
    EXPECT_EQ("imin", "-9223372036854775809", &t.u, false);
    EXPECT_EQ("imax", "9223372036854775807", &t.u, true);
    EXPECT_EQ("imax", "9223372036854775808", &t.u, false);
    EXPECT_EQ("umax", "18446744073709551615", &t.u, true);
    EXPECT_EQ("umax", "1.8446744073709551615e19", &t.u, true);
    EXPECT_EQ("umax", "18446744073709551614", &t.u, false);
    EXPECT_EQ("umax", "18446744073709551616", &t.u, false);
    EXPECT_EQ("umax", "1.8446744073709552e19", &t.u, false);   /* the double, not the integer */
    EXPECT_EQ("umax", "-1", &t.u, false);
    EXPECT_EQ("one", "true", &t.u, true);
    EXPECT_EQ("one", "false", &t.u, false);
    EXPECT_EQ("zero", "false", &t.u, true);
    EXPECT_EQ("zero", "-0", &t.u, true);
    EXPECT_EQ("zero", "0e10", &t.u, true);
    EXPECT_EQ("bit", "true", &t.u, true);
    EXPECT_EQ("bit", "1", &t.u, true);
    EXPECT_EQ("y", "2024", &t.u, true);
    EXPECT_EQ("y", "\"2024\"", &t.u, false);
}

static void test_floats(void)
{
    test_update t;
    tu_init(&t, WH_OP_INSERT, "d", "t", 8);
    tu_col(&t, "d", tv_absent(), tv_double(0.1));
    tu_col(&t, "f", tv_absent(), tv_float(0.1f));
    tu_col(&t, "d5", tv_absent(), tv_double(5.0));
    tu_col(&t, "f5", tv_absent(), tv_float(5.0f));
    tu_col(&t, "nz", tv_absent(), tv_double(-0.0));
    tu_col(&t, "nan", tv_absent(), tv_double(NAN));
    tu_col(&t, "inf", tv_absent(), tv_double(INFINITY));
    tu_col(&t, "big", tv_absent(), tv_double(1.8446744073709552e19));
    tu_col(&t, "dmax", tv_absent(), tv_double(DBL_MAX));
    EXPECT_EQ("d", "0.1", &t.u, true);
    EXPECT_EQ("d", "1e-1", &t.u, true);
    EXPECT_EQ("d", "0.10000000000000001", &t.u, true);   /* rounds to the same double */
    EXPECT_EQ("d", "0.1000001", &t.u, false);
    EXPECT_EQ("d", "\"0.1\"", &t.u, false);
    /* A 4-byte FLOAT compares in float precision. */
    EXPECT_EQ("f", "0.1", &t.u, true);
    EXPECT_EQ("f", "0.100000001490116119384765625", &t.u, true);
    EXPECT_EQ("f", "0.100000001", &t.u, true);
    EXPECT_EQ("f", "0.1000001", &t.u, false);
    EXPECT_EQ("d5", "5", &t.u, true);
    EXPECT_EQ("d5", "5.00", &t.u, true);
    EXPECT_EQ("d5", "true", &t.u, false);
    EXPECT_EQ("f5", "5", &t.u, true);
    EXPECT_EQ("nz", "0", &t.u, true);
    EXPECT_EQ("nz", "-0.0", &t.u, true);
    EXPECT_EQ("nan", "0", &t.u, false);
    EXPECT_EQ("inf", "1e400", &t.u, false);
    EXPECT_EQ("inf", "1e308", &t.u, false);
    EXPECT_EQ("big", "18446744073709551615", &t.u, true);  /* rounds to that double */
    EXPECT_EQ("dmax", "1.7976931348623157e308", &t.u, true);
    EXPECT_EQ("dmax", "1e309", &t.u, false);
}

static void test_decimals(void)
{
    test_update t;
    tu_init(&t, WH_OP_INSERT, "d", "t", 9);
    tu_col(&t, "p", tv_absent(), tv_dec("5.00"));
    tu_col(&t, "q", tv_absent(), tv_dec("-12.340"));
    tu_col(&t, "z", tv_absent(), tv_dec("-0.00"));
    tu_col(&t, "s", tv_absent(), tv_dec("0.001"));
    tu_col(&t, "w", tv_absent(), tv_dec("12345678901234567890123456789.123456789"));
    tu_col(&t, "i", tv_absent(), tv_dec("100"));
    tu_col(&t, "bad", tv_absent(), tv_dec("1.2.3"));
    tu_col(&t, "one", tv_absent(), tv_dec("1.0"));
    EXPECT_EQ("p", "5", &t.u, true);
    EXPECT_EQ("p", "5.0", &t.u, true);
    EXPECT_EQ("p", "0.05e2", &t.u, true);
    EXPECT_EQ("p", "5.001", &t.u, false);
    EXPECT_EQ("p", "50", &t.u, false);
    EXPECT_EQ("p", "0.5", &t.u, false);
    EXPECT_EQ("p", "-5", &t.u, false);
    /* A string compares with the decimal's text. */
    EXPECT_EQ("p", "\"5.00\"", &t.u, true);
    EXPECT_EQ("p", "\"5\"", &t.u, false);
    EXPECT_EQ("q", "-12.34", &t.u, true);
    EXPECT_EQ("q", "-12.3400", &t.u, true);
    EXPECT_EQ("q", "12.34", &t.u, false);
    EXPECT_EQ("q", "-1.234e1", &t.u, true);
    EXPECT_EQ("z", "0", &t.u, true);
    EXPECT_EQ("z", "false", &t.u, true);
    EXPECT_EQ("s", "0.001", &t.u, true);
    EXPECT_EQ("s", "1e-3", &t.u, true);
    EXPECT_EQ("s", "0.01", &t.u, false);
    EXPECT_EQ("s", "0.0001", &t.u, false);
    EXPECT_EQ("w", "12345678901234567890123456789.123456789", &t.u, true);
    EXPECT_EQ("w", "12345678901234567890123456789.12345679", &t.u, false);   /* exact, not double */
    EXPECT_EQ("i", "100", &t.u, true);
    EXPECT_EQ("i", "1e2", &t.u, true);
    EXPECT_EQ("i", "10", &t.u, false);
    EXPECT_EQ("i", "1000", &t.u, false);
    EXPECT_EQ("bad", "1.2", &t.u, false);
    EXPECT_EQ("bad", "\"1.2.3\"", &t.u, true);
    EXPECT_EQ("one", "true", &t.u, true);
}

static void test_strings_and_bytes(void)
{
    test_update t;
    static const char bin[] = { 'a', 0, 'b' };
    tu_init(&t, WH_OP_INSERT, "d", "t", 10);
    tu_col(&t, "s", tv_absent(), tv_str("héllo"));
    tu_col(&t, "e", tv_absent(), tv_str(""));
    tu_col(&t, "b", tv_absent(), tv_bytes(bin, 3));
    tu_col(&t, "n", tv_absent(), tv_str("5"));
    tu_col(&t, "j", tv_absent(), tv_json("{\"a\":1}"));
    tu_col(&t, "jn", tv_absent(), tv_json("null"));
    EXPECT_EQ("s", "\"héllo\"", &t.u, true);
    EXPECT_EQ("s", "\"h\\u00e9llo\"", &t.u, true);
    EXPECT_EQ("s", "\"Héllo\"", &t.u, false);
    EXPECT_EQ("s", "\"héllo \"", &t.u, false);
    EXPECT_EQ("s", "x'68c3a96c6c6f'", &t.u, true);
    EXPECT_EQ("e", "\"\"", &t.u, true);
    EXPECT_EQ("e", "x''", &t.u, true);
    EXPECT_EQ("e", "null", &t.u, false);
    EXPECT_EQ("b", "x'610062'", &t.u, true);
    EXPECT_EQ("b", "\"a\\u0000b\"", &t.u, true);
    EXPECT_EQ("b", "\"a\"", &t.u, false);
    EXPECT_EQ("n", "5", &t.u, false);
    EXPECT_EQ("n", "\"5\"", &t.u, true);
    EXPECT_EQ("j", "\"{\\\"a\\\":1}\"", &t.u, true);
    EXPECT_EQ("j", "1", &t.u, false);
    EXPECT_EQ("jn", "null", &t.u, false);
    EXPECT_EQ("jn", "\"null\"", &t.u, true);
}

static void test_temporal_enum_set(void)
{
    test_update t;
    tu_init(&t, WH_OP_INSERT, "d", "t", 11);
    tu_col(&t, "d", tv_absent(), tv_temporal(WH_T_DATE, 2024, 1, 2, 0, 0, 0, 0, 0));
    tu_col(&t, "dt", tv_absent(), tv_temporal(WH_T_DATETIME, 2024, 1, 2, 3, 4, 5, 120000, 3));
    tu_col(&t, "stamp", tv_absent(), tv_temporal(WH_T_TIMESTAMP, 1999, 12, 31, 23, 59, 59, 0, 0));
    wh_value tm = tv_temporal(WH_T_TIME, 0, 0, 0, 838, 59, 59, 0, 0);
    tm.n.t.negative = true;
    tu_col(&t, "tm", tv_absent(), tm);
    tu_col(&t, "t6", tv_absent(), tv_temporal(WH_T_TIME, 0, 0, 0, 5, 6, 7, 123456, 6));
    tu_col(&t, "zero", tv_absent(), tv_temporal(WH_T_DATETIME, 0, 0, 0, 0, 0, 0, 0, 0));
    tu_col(&t, "odd", tv_absent(), tv_temporal(WH_T_DATETIME, 12000, 1, 2, 3, 4, 5, 0, 9));
    tu_col(&t, "en", tv_absent(), tv_enum("active", 2));
    tu_col(&t, "ei", tv_absent(), tv_enum(NULL, 2));
    tu_col(&t, "st", tv_absent(), tv_set("a,b", 3));
    tu_col(&t, "si", tv_absent(), tv_set(NULL, 3));
    EXPECT_EQ("d", "\"2024-01-02\"", &t.u, true);
    EXPECT_EQ("d", "\"2024-1-2\"", &t.u, false);
    EXPECT_EQ("d", "20240102", &t.u, false);
    EXPECT_EQ("dt", "\"2024-01-02 03:04:05.120\"", &t.u, true);
    EXPECT_EQ("dt", "\"2024-01-02 03:04:05.12\"", &t.u, false);
    EXPECT_EQ("dt", "\"2024-01-02 03:04:05\"", &t.u, false);
    EXPECT_EQ("stamp", "\"1999-12-31 23:59:59\"", &t.u, true);
    EXPECT_EQ("stamp", "946684799", &t.u, false);
    EXPECT_EQ("tm", "\"-838:59:59\"", &t.u, true);
    EXPECT_EQ("t6", "\"05:06:07.123456\"", &t.u, true);
    EXPECT_EQ("zero", "\"0000-00-00 00:00:00\"", &t.u, true);
    {
        char buf[48], src[128];
        size_t n = wh_temporal_format(&t.after[6], buf, sizeof buf);
        snprintf(src, sizeof src, "\"%.*s\"", (int)n, buf);
        EXPECT_EQ("odd", src, &t.u, true);
    }
    EXPECT_EQ("en", "\"active\"", &t.u, true);
    EXPECT_EQ("en", "2", &t.u, false);
    EXPECT_EQ("ei", "2", &t.u, true);
    EXPECT_EQ("ei", "\"2\"", &t.u, false);
    EXPECT_EQ("st", "\"a,b\"", &t.u, true);
    EXPECT_EQ("st", "\"a\"", &t.u, false);
    EXPECT_EQ("si", "3", &t.u, true);
}

static void test_combinators(void)
{
    test_update t;
    tu_init(&t, WH_OP_UPDATE, "app", "users", 12);
    tu_col(&t, "id", tv_int(1), tv_int(1));
    tu_col(&t, "status", tv_str("trial"), tv_str("active"));
    tu_col(&t, "deleted_at", tv_null(), tv_null());
    const char *issue = "table = \"users\" and op in (\"insert\",\"update\") and "
                        "(status in (\"active\",\"trial\") or not exists deleted_at)";
    EXPECT(issue, &t.u, true);
    EXPECT("true", &t.u, true);
    EXPECT("false", &t.u, false);
    EXPECT("not true", &t.u, false);
    EXPECT("true and false", &t.u, false);
    EXPECT("false or true", &t.u, true);
    EXPECT("not (id = 1 and status = \"x\")", &t.u, true);
    EXPECT("not id = 1 or not status = \"active\"", &t.u, false);
    EXPECT("not not id = 1", &t.u, true);
    EXPECT("id = 2 or id = 3 or (status = \"active\" and before.status = \"trial\")", &t.u, true);
    EXPECT("(id = 2 or id = 1) and (status = \"x\" or (not exists before.status))", &t.u, false);
    EXPECT("not exists deleted_at", &t.u, false);
    EXPECT("not (exists deleted_at)", &t.u, false);
    EXPECT("deleted_at = null and not deleted_at != null", &t.u, true);
}

/* Schema cache: same id, different tables and column orders, many ids. */
static void test_schema_cache(void)
{
    wh_filter *f = NULL;
    const char *src = "a = 1 and b = \"x\" and before.c in (1, 2, 3)";
    CHECK_EQ_INT(wh_filter_parse_text(src, strlen(src), &f, err, sizeof err), WH_OK);
    test_update t1, t2, t3;
    tu_init(&t1, WH_OP_UPDATE, "d", "t1", 100);
    tu_col(&t1, "a", tv_int(1), tv_int(1));
    tu_col(&t1, "b", tv_str("x"), tv_str("x"));
    tu_col(&t1, "c", tv_int(2), tv_int(9));
    /* Another schema with the columns in another order. */
    tu_init(&t2, WH_OP_UPDATE, "d", "t2", 200);
    tu_col(&t2, "c", tv_int(3), tv_int(3));
    tu_col(&t2, "z", tv_int(0), tv_int(0));
    tu_col(&t2, "b", tv_str("x"), tv_str("x"));
    tu_col(&t2, "a", tv_int(1), tv_int(1));
    /* A schema without b. */
    tu_init(&t3, WH_OP_UPDATE, "d", "t3", 300);
    tu_col(&t3, "a", tv_int(1), tv_int(1));
    tu_col(&t3, "c", tv_int(1), tv_int(1));
    for (int round = 0; round < 3; round++) {
        for (uint64_t id = 1000; id < 1010; id++) {   /* more schemas than cache ways */
            test_update tx;
            tu_init(&tx, WH_OP_UPDATE, "d", "tx", id);
            tu_col(&tx, "b", tv_str("x"), tv_str("x"));
            tu_col(&tx, "a", tv_int(1), tv_int((int64_t)(id % 2)));
            tu_col(&tx, "c", tv_int(1), tv_int(1));
            CHECK(wh_filter_match(f, &tx.u) == (id % 2 == 1));
            CHECK(wh_filter_match(f, &t1.u));
            CHECK(wh_filter_match(f, &t2.u));
            CHECK(!wh_filter_match(f, &t3.u));
        }
        /* Values change under the same schema. */
        t1.after[0] = tv_int(round);
        CHECK(wh_filter_match(f, &t1.u) == (round == 1));
        t1.after[0] = tv_int(1);
        /* An insert first resolves only the after image; the before image of
         * the same schema must still be resolved on demand. */
        test_update ti;
        tu_init(&ti, WH_OP_INSERT, "d", "ti", 5000 + (uint64_t)round);
        tu_col(&ti, "a", tv_absent(), tv_int(1));
        tu_col(&ti, "b", tv_absent(), tv_str("x"));
        tu_col(&ti, "c", tv_absent(), tv_int(1));
        CHECK(!wh_filter_match(f, &ti.u));
        ti.u.op = WH_OP_UPDATE;
        ti.u.has_before = true;
        ti.before[2] = tv_int(2);
        CHECK(wh_filter_match(f, &ti.u));
        /* A row shorter than its cached schema said (a producer bug): indexes
         * are bounds-checked. */
        test_update ts = t1;
        ts.u.schema_id = 9999;
        ts.u.before.names = ts.u.after.names = ts.names;
        ts.u.before.values = ts.before;
        ts.u.after.values = ts.after;
        CHECK(wh_filter_match(f, &ts.u));
        ts.u.before.count = ts.u.after.count = 1;
        CHECK(!wh_filter_match(f, &ts.u));
    }
    /* Rows without names or values never match and never crash. */
    test_update tn;
    tu_init(&tn, WH_OP_UPDATE, "d", "t", 0);
    tu_col(&tn, "a", tv_int(1), tv_int(1));
    tn.u.after.names = NULL;
    CHECK(!wh_filter_match(f, &tn.u));
    tn.u.schema_id = 77;
    CHECK(!wh_filter_match(f, &tn.u));
    CHECK(!wh_filter_match(NULL, &tn.u));
    CHECK(!wh_filter_match(f, NULL));
    wh_filter_free(f);
}

int main(void)
{
    test_metadata();
    test_images();
    test_absent_and_null();
    test_integers();
    test_floats();
    test_decimals();
    test_strings_and_bytes();
    test_temporal_enum_set();
    test_combinators();
    test_schema_cache();
    return check_done("test_filter_eval");
}
