/* test_filter_parse.c -- filter parsing in both forms: canonical printing,
 * round trips, precedence, keys, constants, error messages, limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/filter.h"
#include "tests/check.h"

static char err[1024];

static wh_filter *parse_text(const char *s)
{
    wh_filter *f = NULL;
    int rc = wh_filter_parse_text(s, strlen(s), &f, err, sizeof err);
    if (rc != WH_OK)
        fprintf(stderr, "unexpected error for <%s>: %s\n", s, err);
    return f;
}

static wh_filter *parse_json(const char *s)
{
    wh_filter *f = NULL;
    int rc = wh_filter_parse_json(s, strlen(s), &f, err, sizeof err);
    if (rc != WH_OK)
        fprintf(stderr, "unexpected error for <%s>: %s\n", s, err);
    return f;
}

/* Returns a malloc'd print of f in text (json = false) or JSON form. */
static char *print(const wh_filter *f, bool json)
{
    wh_buf b = WH_BUF_INIT;
    int rc = json ? wh_filter_to_json(f, &b) : wh_filter_to_text(f, &b);
    CHECK_EQ_INT(rc, WH_OK);
    char *s = strdup(b.data ? b.data : "");
    wh_buf_free(&b);
    return s;
}

/* Parses src (text, or JSON when it starts with '{'), checks the canonical
 * text and JSON prints, and that both prints parse back to an equal tree that
 * prints identically. */
static void check_forms(const char *src, const char *want_text, const char *want_json)
{
    wh_filter *f = NULL;
    int rc = wh_filter_parse(src, strlen(src), &f, err, sizeof err);
    if (rc != WH_OK) {
        fprintf(stderr, "parse failed for <%s>: %s\n", src, err);
        CHECK_EQ_INT(rc, WH_OK);
        return;
    }
    char *text = print(f, false), *json = print(f, true);
    if (want_text)
        CHECK_EQ_STR(text, want_text);
    if (want_json)
        CHECK_EQ_STR(json, want_json);
    wh_filter *ft = parse_text(text), *fj = parse_json(json);
    CHECK(ft != NULL);
    CHECK(fj != NULL);
    if (ft && fj) {
        CHECK(wh_filter_equal(f, ft));
        CHECK(wh_filter_equal(f, fj));
        CHECK(wh_filter_equal(ft, fj));
        char *text2 = print(fj, false), *json2 = print(ft, true);
        CHECK_EQ_STR(text2, text);
        CHECK_EQ_STR(json2, json);
        free(text2);
        free(json2);
    }
    wh_filter_free(ft);
    wh_filter_free(fj);
    wh_filter_free(f);
    free(text);
    free(json);
}

/* Checks that a text and a JSON source give equal trees. */
static void check_same(const char *a, const char *b, bool want_equal)
{
    wh_filter *fa = NULL, *fb = NULL;
    int ra = wh_filter_parse(a, strlen(a), &fa, err, sizeof err);
    if (ra)
        fprintf(stderr, "<%s>: %s\n", a, err);
    int rb = wh_filter_parse(b, strlen(b), &fb, err, sizeof err);
    if (rb)
        fprintf(stderr, "<%s>: %s\n", b, err);
    CHECK_EQ_INT(ra, WH_OK);
    CHECK_EQ_INT(rb, WH_OK);
    if (fa && fb) {
        if (wh_filter_equal(fa, fb) != want_equal)
            fprintf(stderr, "expected <%s> and <%s> %s\n", a, b,
                    want_equal ? "equal" : "different");
        CHECK(wh_filter_equal(fa, fb) == want_equal);
    }
    wh_filter_free(fa);
    wh_filter_free(fb);
}

/* Checks that src fails with code and exactly message want. */
static void check_error(const char *src, size_t len, int code, const char *want)
{
    wh_filter *f = (wh_filter *)1;
    err[0] = '\0';
    int rc = wh_filter_parse(src, len, &f, err, sizeof err);
    if (rc != code)
        fprintf(stderr, "for <%.*s>: got %d (%s)\n", (int)(len > 200 ? 200 : len), src, rc, err);
    CHECK_EQ_INT(rc, code);
    if (code == WH_OK) {
        CHECK(f != NULL);
        wh_filter_free(f);
        return;
    }
    CHECK(f == NULL);
    if (want)
        CHECK_EQ_STR(err, want);
}

static void check_err(const char *src, int code, const char *want)
{
    check_error(src, strlen(src), code, want);
}

static void test_issue_example(void)
{
    const char *text = "table = \"users\" and op in (\"insert\",\"update\") and "
                       "(status in (\"active\",\"trial\") or not exists deleted_at)";
    const char *json = "{\"and\":[{\"eq\":[\"table\",\"users\"]},{\"in\":[\"op\",[\"insert\","
                       "\"update\"]]},{\"or\":[{\"in\":[\"status\",[\"active\",\"trial\"]]},"
                       "{\"not_exists\":\"deleted_at\"}]}]}";
    check_forms(text,
                "table = \"users\" and op in (\"insert\", \"update\") and "
                "(status in (\"active\", \"trial\") or not exists deleted_at)",
                json);
    check_same(text, json, true);
    check_forms(json, NULL, json);
    /* White space and layout do not matter in either form. */
    check_same(text, "  TABLE='users'\n AND Op IN ( 'insert' , 'update' )\tand(status in"
                     "('active','trial')OR NOT EXISTS deleted_at)  ", true);
    check_same(json, "{ \"and\" : [ {\"eq\":[\"table\", \"users\"]}, {\"in\": [\"op\", "
                     "[\"insert\", \"update\"]]} ,\n {\"or\":[{\"in\":[\"status\",[\"active\","
                     "\"trial\"]]},{\"not_exists\":\"deleted_at\"}]}]}\n", true);
}

static void test_precedence(void)
{
    check_forms("a = 1 or b = 2 and c = 3", "a = 1 or (b = 2 and c = 3)",
                "{\"or\":[{\"eq\":[\"a\",1]},{\"and\":[{\"eq\":[\"b\",2]},{\"eq\":[\"c\",3]}]}]}");
    check_forms("(a = 1 or b = 2) and c = 3", "(a = 1 or b = 2) and c = 3",
                "{\"and\":[{\"or\":[{\"eq\":[\"a\",1]},{\"eq\":[\"b\",2]}]},{\"eq\":[\"c\",3]}]}");
    check_forms("not a = 1 and b = 2", "not a = 1 and b = 2",
                "{\"and\":[{\"not\":{\"eq\":[\"a\",1]}},{\"eq\":[\"b\",2]}]}");
    check_forms("not (a = 1 and b = 2)", "not (a = 1 and b = 2)",
                "{\"not\":{\"and\":[{\"eq\":[\"a\",1]},{\"eq\":[\"b\",2]}]}}");
    check_forms("not not a = 1", "not not a = 1", "{\"not\":{\"not\":{\"eq\":[\"a\",1]}}}");
    /* Chains are n-ary; explicit parentheses keep their own node. */
    check_forms("a = 1 and b = 2 and c = 3", "a = 1 and b = 2 and c = 3", NULL);
    check_forms("a = 1 and (b = 2 and c = 3)", "a = 1 and (b = 2 and c = 3)", NULL);
    check_same("a = 1 and b = 2 and c = 3", "a = 1 and (b = 2 and c = 3)", false);
    check_same("((a = 1))", "a = 1", true);
    /* not exists is its own predicate; not (exists) stays a not. */
    check_forms("not exists a", "not exists a", "{\"not_exists\":\"a\"}");
    check_forms("not (exists a)", "not (exists a)", "{\"not\":{\"exists\":\"a\"}}");
    check_same("not exists a", "not (exists a)", false);
    check_forms("a != 1", "a != 1", "{\"ne\":[\"a\",1]}");
    check_same("a <> 1", "a != 1", true);
    check_same("a == 1", "a = 1", true);
    check_same("not a = 1", "a != 1", false);
    check_forms("a not in (1, 2)", "a not in (1, 2)", "{\"not_in\":[\"a\",[1,2]]}");
    check_forms("not a in (1, 2)", "not a in (1, 2)", "{\"not\":{\"in\":[\"a\",[1,2]]}}");
    check_forms("true", "true", "true");
    check_forms("false or a = 1", "false or a = 1", "{\"or\":[false,{\"eq\":[\"a\",1]}]}");
    check_forms("not true", "not true", "{\"not\":true}");
    /* Keywords in any case. */
    check_same("A = 1 AnD NOT B IN (TRUE, NULL) oR EXISTS c", "a = 1 and not b in (true, null) or "
               "exists c", false); /* column names keep their case */
    check_same("a = 1 AnD NOT b IN (TRUE, NULL) oR EXISTS c", "a = 1 and not b in (true, null) or "
               "exists c", true);
    /* JSON: empty and single-member and/or. */
    check_same("{\"and\":[]}", "true", true);
    check_same("{\"or\":[]}", "false", true);
    check_same("{\"and\":[{\"eq\":[\"a\",1]}]}", "a = 1", true);
    check_same("{\"or\":[{\"and\":[{\"eq\":[\"a\",1]}]}]}", "a = 1", true);
}

static void test_keys(void)
{
    check_forms("op = \"insert\" and db = \"d\" and table = \"t\" and shard = \"s\" and cf = \"c\"",
                "op = \"insert\" and db = \"d\" and table = \"t\" and shard = \"s\" and cf = \"c\"",
                "{\"and\":[{\"eq\":[\"op\",\"insert\"]},{\"eq\":[\"db\",\"d\"]},{\"eq\":[\"table\","
                "\"t\"]},{\"eq\":[\"shard\",\"s\"]},{\"eq\":[\"cf\",\"c\"]}]}");
    check_same("OP = \"insert\"", "op = \"insert\"", true);
    check_forms("before.a = 1 and after.b = 2 and row.c = 3 and d = 4",
                "before.a = 1 and after.b = 2 and c = 3 and d = 4",
                "{\"and\":[{\"eq\":[\"before.a\",1]},{\"eq\":[\"after.b\",2]},{\"eq\":[\"c\",3]},"
                "{\"eq\":[\"d\",4]}]}");
    check_same("BEFORE.a = 1", "before.a = 1", true);
    check_same("before.A = 1", "before.a = 1", false);
    /* A column named like metadata, a keyword or an image. */
    check_forms("`op` = 1", "`op` = 1", "{\"eq\":[\"row.op\",1]}");
    check_same("row.op = 1", "`op` = 1", true);
    check_same("{\"eq\":[\"row.op\",1]}", "`op` = 1", true);
    check_same("{\"eq\":[\"ROW.op\",1]}", "`op` = 1", true);
    check_forms("`and` = 1", "`and` = 1", "{\"eq\":[\"and\",1]}");
    check_forms("`ts` = 1", "`ts` = 1", "{\"eq\":[\"row.ts\",1]}");
    check_forms("after.op = 1 and after.and = 2", "after.op = 1 and after.and = 2",
                "{\"and\":[{\"eq\":[\"after.op\",1]},{\"eq\":[\"after.and\",2]}]}");
    check_forms("`before.x` = 1", "`before.x` = 1", "{\"eq\":[\"row.before.x\",1]}");
    check_forms("`row.x` = 1", "`row.x` = 1", "{\"eq\":[\"row.row.x\",1]}");
    check_forms("before.`a.b` = 1", "before.`a.b` = 1", "{\"eq\":[\"before.a.b\",1]}");
    check_forms("`odd name` = 1", "`odd name` = 1", "{\"eq\":[\"odd name\",1]}");
    check_forms("`a``b` = 1", "`a``b` = 1", "{\"eq\":[\"a`b\",1]}");
    check_forms("`1st` = 1", "`1st` = 1", "{\"eq\":[\"1st\",1]}");
    check_forms("`na\"me` = 1", "`na\"me` = 1", "{\"eq\":[\"na\\\"me\",1]}");
    check_forms("{\"eq\":[\"tab\\tname\",1]}", "`tab\tname` = 1", "{\"eq\":[\"tab\\tname\",1]}");
    check_forms("prénom = \"José\"", "prénom = \"José\"", "{\"eq\":[\"prénom\",\"José\"]}");
    check_forms("$x_1 = 1", "$x_1 = 1", NULL);
    check_forms("before = 1", "before = 1", "{\"eq\":[\"before\",1]}");
    check_forms("exists `x` and not exists before.y", "exists x and not exists before.y",
                "{\"and\":[{\"exists\":\"x\"},{\"not_exists\":\"before.y\"}]}");
}

static void test_constants(void)
{
    /* Numbers: exact values, one canonical spelling. */
    check_forms("a = 5", "a = 5", "{\"eq\":[\"a\",5]}");
    check_same("a = 5.00", "a = 5", true);
    check_same("a = 500e-2", "a = 5", true);
    check_same("a = 0.5e1", "a = 5", true);
    check_same("a = +5", "a = 5", true);
    check_same("a = 005", "a = 5", true);
    check_same("a = 5", "a = 5.000000000000000000001", false);
    check_same("a = -0", "a = 0", true);
    check_same("a = -0.000e5", "a = 0", true);
    check_same("{\"eq\":[\"a\",5.0]}", "a = 5", true);
    check_same("{\"eq\":[\"a\",-0.0]}", "a = 0", true);
    check_forms("a = -5", "a = -5", "{\"eq\":[\"a\",-5]}");
    check_forms("a = 12.5", "a = 12.5", "{\"eq\":[\"a\",12.5]}");
    check_forms("a = 0.001", "a = 0.001", "{\"eq\":[\"a\",0.001]}");
    check_forms("a = 0.0000001", "a = 1e-7", "{\"eq\":[\"a\",1e-7]}");
    check_forms("a = 1.5e-10", "a = 1.5e-10", NULL);
    check_forms("a = 1000", "a = 1000", NULL);
    check_forms("a = 1e20", "a = 100000000000000000000", NULL);
    check_forms("a = 1e21", "a = 1e21", NULL);
    check_forms("a = 1e22", "a = 1e22", NULL);
    check_forms("a = 12345678901234567890123456789.5", "a = 1.23456789012345678901234567895e28",
                NULL);
    check_forms("a = 18446744073709551615", "a = 18446744073709551615", NULL);
    check_forms("a = -9223372036854775808", "a = -9223372036854775808", NULL);
    check_forms("a = 1E+3", "a = 1000", NULL);
    check_forms("a = -1.25E-3", "a = -0.00125", NULL);
    check_forms("a = 1e99999", "a = 1e99999", NULL);
    /* Strings and escapes. */
    check_forms("a = \"x\\\"y\\\\z\\/\\b\\f\\n\\r\\t\"", "a = \"x\\\"y\\\\z/\\b\\f\\n\\r\\t\"",
                "{\"eq\":[\"a\",\"x\\\"y\\\\z/\\b\\f\\n\\r\\t\"]}");
    check_same("a = 'it\\'s'", "a = \"it's\"", true);
    check_same("a = \"\\u00e9\\uD83D\\uDE00\"", "a = \"é😀\"", true);
    check_forms("a = \"\\u0000\\u001f\x7f\"", "a = \"\\u0000\\u001f\x7f\"",
                "{\"eq\":[\"a\",\"\\u0000\\u001f\x7f\"]}");
    check_forms("a = \"\"", "a = \"\"", "{\"eq\":[\"a\",\"\"]}");
    check_forms("a = \"tab\there\"", "a = \"tab\\there\"", NULL);
    /* Bytes, booleans, null. */
    check_forms("a = x'00FFa1'", "a = x'00ffa1'", "{\"eq\":[\"a\",{\"hex\":\"00ffa1\"}]}");
    check_same("{\"eq\":[\"a\",{\"hex\":\"00FFA1\"}]}", "a = X'00ffa1'", true);
    check_forms("a = x''", "a = x''", "{\"eq\":[\"a\",{\"hex\":\"\"}]}");
    check_same("a = x'61'", "a = \"a\"", false);
    check_forms("a in (true, false, null)", "a in (true, false, null)",
                "{\"in\":[\"a\",[true,false,null]]}");
    check_same("a = true", "a = 1", false);
    check_same("a = TRUE", "a = true", true);
    check_forms("a in (1, \"1\", x'31', true, null, 1.5)", NULL,
                "{\"in\":[\"a\",[1,\"1\",{\"hex\":\"31\"},true,null,1.5]]}");
}

static void test_text_errors(void)
{
    check_err("", WH_ERR_PARSE,
              "filter: at offset 0 (line 1, column 1): the filter is empty (write true to match "
              "every update)");
    check_err("   ", WH_ERR_PARSE, NULL);
    check_err("(a = 1", WH_ERR_PARSE,
              "filter: at offset 6 (line 1, column 7): expected ')', 'and' or 'or', found the "
              "end of the filter");
    check_err("a = 1 and", WH_ERR_PARSE,
              "filter: at offset 9 (line 1, column 10): expected a key, '(', 'not', 'exists', "
              "'true' or 'false', found the end of the filter");
    check_err("a = 1 b = 2", WH_ERR_PARSE,
              "filter: at offset 6 (line 1, column 7): expected 'and', 'or' or the end of the "
              "filter, found the name 'b'");
    check_err("a =", WH_ERR_PARSE,
              "filter: at offset 3 (line 1, column 4): expected a constant (a string, number, "
              "true, false, null or x'..'), found the end of the filter");
    check_err("a", WH_ERR_PARSE,
              "filter: at offset 1 (line 1, column 2): expected '=', '!=', 'in' or 'not in' "
              "after the key, found the end of the filter");
    check_err("a in 1", WH_ERR_PARSE,
              "filter: at offset 5 (line 1, column 6): expected '(' starting the list of values, "
              "found the number 1");
    check_err("a in ()", WH_ERR_PARSE,
              "filter: at offset 6 (line 1, column 7): expected a constant (a string, number, "
              "true, false, null or x'..'), found ')'");
    check_err("a in (1 2)", WH_ERR_PARSE,
              "filter: at offset 8 (line 1, column 9): expected ',' or ')' in the list of values, "
              "found the number 2");
    check_err("a not = 1", WH_ERR_PARSE,
              "filter: at offset 6 (line 1, column 7): expected 'in' after 'not', found '='");
    check_err("a = 1 and\n  and = 2", WH_ERR_PARSE,
              "filter: at offset 12 (line 2, column 3): expected a key, '(', 'not', 'exists', "
              "'true' or 'false', found the keyword 'and'");
    check_err("é = 1 or ü", WH_ERR_PARSE,
              "filter: at offset 12 (line 1, column 11): expected '=', '!=', 'in' or 'not in' "
              "after the key, found the end of the filter");
    check_err("a > 1", WH_ERR_PARSE,
              "filter: at offset 2 (line 1, column 3): found '>', but filters only test equality "
              "and membership (=, !=, in, not in, exists)");
    check_err("a = \"abc", WH_ERR_PARSE,
              "filter: at offset 4 (line 1, column 5): the string starting here is not closed "
              "with \"");
    check_err("a = \"a\\qb\"", WH_ERR_PARSE,
              "filter: at offset 6 (line 1, column 7): unknown escape '\\q' in a string (escapes "
              "are \\\" \\' \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
    check_err("a = \"\\ud800\"", WH_ERR_PARSE,
              "filter: at offset 5 (line 1, column 6): \\uD800 is a high surrogate without a low "
              "surrogate after it");
    check_err("a = \"\\u12\"", WH_ERR_PARSE,
              "filter: at offset 5 (line 1, column 6): expected four hex digits after \\u");
    check_err("a = 1.", WH_ERR_PARSE,
              "filter: at offset 6 (line 1, column 7): expected a digit after '.' in a number");
    check_err("a = 1e", WH_ERR_PARSE,
              "filter: at offset 6 (line 1, column 7): expected a digit in the number's exponent");
    check_err("a = .5", WH_ERR_PARSE,
              "filter: at offset 4 (line 1, column 5): expected a digit before '.' in a number");
    check_err("a = 12abc", WH_ERR_PARSE,
              "filter: at offset 4 (line 1, column 5): malformed number (quote names that start "
              "with a digit: `12abc`)");
    check_err("a = x'0g'", WH_ERR_PARSE,
              "filter: at offset 7 (line 1, column 8): expected a hex digit or ' in a hex "
              "constant");
    check_err("a = x'0'", WH_ERR_PARSE,
              "filter: at offset 4 (line 1, column 5): the hex constant has an odd number of "
              "digits");
    check_err("`abc = 1", WH_ERR_PARSE,
              "filter: at offset 0 (line 1, column 1): the quoted name starting here is not "
              "closed with `");
    check_err("`` = 1", WH_ERR_PARSE,
              "filter: at offset 0 (line 1, column 1): a quoted column name is empty");
    check_err("foo.bar = 1", WH_ERR_PARSE,
              "filter: at offset 0 (line 1, column 1): expected before, after or row before '.', "
              "found the name 'foo' (quote a column name that holds a dot: `foo.name`)");
    check_err("before. = 1", WH_ERR_PARSE,
              "filter: at offset 8 (line 1, column 9): expected a column name after 'before.', "
              "found '='");
    check_err("ts = 5", WH_ERR_PARSE,
              "filter: at offset 0 (line 1, column 1): 'ts' is update metadata that filters "
              "cannot test; for a column of that name write `ts` or row.ts");
    check_err("a = 'it''s'", WH_ERR_PARSE,
              "filter: at offset 8 (line 1, column 9): expected 'and', 'or' or the end of the "
              "filter, found the string 's'");
    check_err("a = 1 # comment", WH_ERR_PARSE,
              "filter: at offset 6 (line 1, column 7): unexpected character '#'");
    check_err("a = !1", WH_ERR_PARSE,
              "filter: at offset 4 (line 1, column 5): expected '!=', found '!' (negate with "
              "'not')");
    check_error("a = 1\0", 6, WH_ERR_PARSE,
                "filter: at offset 5 (line 1, column 6): unexpected NUL character");
    check_err("a = \"\xff\"", WH_ERR_PARSE,
              "filter: at offset 5 (line 1, column 6): invalid UTF-8 byte 0xff");
    check_err("a = 1\x01", WH_ERR_PARSE,
              "filter: at offset 5 (line 1, column 6): unexpected control character 0x01");
    /* Type errors known at parse time. */
    check_err("op = 5", WH_ERR_TYPE,
              "filter: at offset 5 (line 1, column 6): op is compared with a number, but op is "
              "one of the strings insert, update, delete, ddl, put, single_delete, delete_range, "
              "merge");
    check_err("op in (\"insert\", \"bogus_op\")", WH_ERR_TYPE,
              "filter: at offset 17 (line 1, column 18): \"bogus_op\" is not an op; ops are "
              "insert, update, delete, ddl, put, single_delete, delete_range, merge");
    check_err("op = \"INSERT\"", WH_ERR_TYPE, NULL);
    check_err("table = 5", WH_ERR_TYPE,
              "filter: at offset 8 (line 1, column 9): table is compared with a number, but "
              "table is a string");
    check_err("db != null", WH_ERR_TYPE,
              "filter: at offset 6 (line 1, column 7): db is compared with null, but db is never "
              "null (write \"not exists db\" for an update without one)");
    check_err("shard in (\"a\", true)", WH_ERR_TYPE,
              "filter: at offset 15 (line 1, column 16): shard is compared with true, but shard "
              "is a string");
    check_err("cf = x'00'", WH_ERR_TYPE,
              "filter: at offset 5 (line 1, column 6): cf is compared with a hex constant, but "
              "cf is a string");
    check_err("table = \"a\\u0000b\"", WH_ERR_TYPE,
              "filter: at offset 8 (line 1, column 9): table is compared with a string holding a "
              "NUL character, which table never holds");
}

static void test_json_errors(void)
{
    check_err("{}", WH_ERR_PARSE,
              "filter: at $ (offset 1): expected an operator (and, or, not, exists, not_exists, "
              "eq, ne, in, not_in), found an empty object");
    check_err("{\"and\":[{\"eq\":[\"a\",1]},{\"in\":[\"op\",[\"insert\",5]]}]}", WH_ERR_TYPE,
              "filter: at $.and[1].in[1][1] (offset 45): op is compared with a number, but op is "
              "one of the strings insert, update, delete, ddl, put, single_delete, delete_range, "
              "merge");
    check_err("{\"and\":[{\"eq\":[\"a\",1]},{\"eq\":[\"a\",1]},{\"in\":[\"x\",[1,{}]]}]}",
              WH_ERR_PARSE,
              "filter: at $.and[2].in[1][1] (offset 53): expected \"hex\", found '}'");
    check_err("{\"and\":[{\"eq\":[\"a\",1]},{\"eq\":[\"a\",1]},{\"in\":[\"x\",[1,[2]]]}]}",
              WH_ERR_PARSE,
              "filter: at $.and[2].in[1][1] (offset 52): expected a constant (a string, number, "
              "true, false, null or {\"hex\":\"..\"}), found '['");
    check_err("{\"eq\":[\"a\",1], \"ne\":[\"a\",2]}", WH_ERR_PARSE,
              "filter: at $ (offset 13): expected '}', found ',' (an operator object has exactly "
              "one member; combine filters with and/or)");
    check_err("{\"like\":[\"a\",1]}", WH_ERR_PARSE,
              "filter: at $ (offset 1): unknown operator \"like\"; operators are and, or, not, "
              "exists, not_exists, eq, ne, in, not_in");
    check_err("{\"eq\":[\"a\"]}", WH_ERR_PARSE,
              "filter: at $.eq (offset 10): expected ',' after the key, found ']'");
    check_err("{\"eq\":[\"a\",1,2]}", WH_ERR_PARSE,
              "filter: at $.eq (offset 12): expected ']' after [key, value], found ','");
    check_err("{\"eq\":[5,1]}", WH_ERR_PARSE,
              "filter: at $.eq[0] (offset 7): expected a key string (\"table\", \"status\", "
              "\"before.status\", ...), found a number");
    check_err("{\"eq\":[\"\",1]}", WH_ERR_PARSE,
              "filter: at $.eq[0] (offset 7): a key is empty");
    check_err("{\"eq\":[\"before.\",1]}", WH_ERR_PARSE,
              "filter: at $.eq[0] (offset 7): expected a column name after \"before.\"");
    check_err("{\"exists\":\"ts\"}", WH_ERR_PARSE,
              "filter: at $.exists (offset 10): \"ts\" is update metadata that filters cannot "
              "test; for a column of that name write \"row.ts\"");
    check_err("{\"in\":[\"a\",[]]}", WH_ERR_PARSE,
              "filter: at $.in[1] (offset 12): the list of values is empty");
    check_err("{\"eq\":[\"a\",01]}", WH_ERR_PARSE,
              "filter: at $.eq[1] (offset 11): malformed number: a leading zero is followed by "
              "a digit");
    check_err("{\"eq\":[\"a\",1.]}", WH_ERR_PARSE,
              "filter: at $.eq[1] (offset 13): malformed number: expected a digit after '.'");
    check_err("{\"eq\":[\"a\",-]}", WH_ERR_PARSE, NULL);
    check_err("{\"eq\":[\"a\",+1]}", WH_ERR_PARSE, NULL);
    check_err("{\"eq\":[\"a\",tru]}", WH_ERR_PARSE, NULL);
    check_err("{\"eq\":[\"a\",\"x\ty\"]}", WH_ERR_PARSE,
              "filter: at $.eq[1] (offset 13): control character 0x09 in a string (write it as "
              "\\u0009)");
    check_err("{\"eq\":[\"a\",\"x\\'\"]}", WH_ERR_PARSE,
              "filter: at $.eq[1] (offset 13): unknown escape in a string (escapes are \\\" \\\\ "
              "\\/ \\b \\f \\n \\r \\t \\uXXXX)");
    check_err("{\"eq\":[\"a\",{\"hex\":\"0g\"}]}", WH_ERR_PARSE,
              "filter: at $.eq[1].hex (offset 18): the hex string holds a character that is not "
              "a hex digit");
    check_err("{\"eq\":[\"a\",{\"hex\":\"012\"}]}", WH_ERR_PARSE,
              "filter: at $.eq[1].hex (offset 18): the hex string has an odd number of digits");
    check_err("{\"eq\":[\"a\",1]} x", WH_ERR_PARSE,
              "filter: at $ (offset 15): expected the end of the input after the filter, found "
              "'x'");
    check_err("{\"eq\":[\"a\",1]", WH_ERR_PARSE,
              "filter: at $ (offset 13): expected '}', found the end of the input");
    check_err("{\"not\":[{\"eq\":[\"a\",1]}]}", WH_ERR_PARSE,
              "filter: at $.not (offset 7): expected a filter (an object such as "
              "{\"eq\":[\"table\",\"users\"]}, true or false), found '['");
    check_err("{\"eq\":[\"a\",\"\xc3\"]}", WH_ERR_PARSE,
              "filter: at $ (offset 12): invalid UTF-8 byte 0xc3");
    check_err("{\"eq\":[\"table\",null]}", WH_ERR_TYPE, NULL);
    check_err("{\"and\":{}}", WH_ERR_PARSE, NULL);
    check_err("{\"and\":[true,]}", WH_ERR_PARSE, NULL);
}

/* Builds "a = 1 and (a = 1 and (...))" with depth nested ands. */
static char *nested_text(int depth)
{
    wh_buf b = WH_BUF_INIT;
    for (int k = 1; k < depth; k++)
        wh_buf_puts(&b, "a = 1 and (");
    wh_buf_puts(&b, "a = 1 and a = 2");
    for (int k = 1; k < depth; k++)
        wh_buf_putc(&b, ')');
    return b.data;
}

static char *nested_json(int depth)
{
    wh_buf b = WH_BUF_INIT;
    for (int k = 1; k < depth; k++)
        wh_buf_puts(&b, "{\"not\":");
    wh_buf_puts(&b, "{\"eq\":[\"a\",1]}");
    for (int k = 1; k < depth; k++)
        wh_buf_putc(&b, '}');
    return b.data;
}

static void test_limits(void)
{
    /* Depth: an and-chain nested 63 times holds predicates at depth 64. */
    char *s = nested_text(WH_FILTER_MAX_DEPTH - 1);
    check_forms(s, NULL, NULL);
    free(s);
    s = nested_text(WH_FILTER_MAX_DEPTH);
    check_err(s, WH_ERR_LIMIT, NULL);
    CHECK(strstr(err, "nests deeper than 64 levels") != NULL);
    free(s);
    s = nested_json(WH_FILTER_MAX_DEPTH);
    check_forms(s, NULL, NULL);
    free(s);
    s = nested_json(WH_FILTER_MAX_DEPTH + 1);
    check_err(s, WH_ERR_LIMIT, NULL);
    CHECK(strstr(err, "nests deeper than 64 levels") != NULL);
    free(s);
    /* Deep parentheses and nots are bounded too (no stack exhaustion). */
    wh_buf b = WH_BUF_INIT;
    for (int k = 0; k < 100000; k++)
        wh_buf_putc(&b, '(');
    check_error(b.data, b.len, WH_ERR_LIMIT, NULL);
    wh_buf_reset(&b);
    for (int k = 0; k < 100000; k++)
        wh_buf_puts(&b, "not ");
    wh_buf_puts(&b, "a = 1");
    check_error(b.data, b.len, WH_ERR_LIMIT, NULL);
    wh_buf_reset(&b);
    for (int k = 0; k < 100000; k++)
        wh_buf_puts(&b, "{\"not\":");
    check_error(b.data, b.len, WH_ERR_LIMIT, NULL);
    CHECK(strstr(err, "nests deeper than 64 levels") != NULL);
    /* Nodes. */
    wh_buf_reset(&b);
    for (int k = 0; k < WH_FILTER_MAX_NODES - 1; k++)
        wh_buf_puts(&b, k ? " or a = 1" : "a = 1");
    check_error(b.data, b.len, WH_OK, NULL);
    wh_buf_puts(&b, " or a = 1");
    check_error(b.data, b.len, WH_ERR_LIMIT, NULL);
    CHECK(strstr(err, "more than 10000 operators and predicates") != NULL);
    /* In-lists. */
    wh_buf_reset(&b);
    wh_buf_puts(&b, "a in (0");
    for (int k = 1; k < WH_FILTER_MAX_IN; k++)
        wh_buf_printf(&b, ",%d", k);
    wh_buf_putc(&b, ')');
    check_error(b.data, b.len, WH_OK, NULL);
    b.data[b.len - 1] = ',';
    wh_buf_puts(&b, "1)");
    check_error(b.data, b.len, WH_ERR_LIMIT, NULL);
    CHECK(strstr(err, "the list has more than 10000 values") != NULL);
    /* Constants in total. */
    wh_buf_reset(&b);
    for (int k = 0; k < 11; k++) {
        wh_buf_puts(&b, k ? " or a in (0" : "a in (0");
        for (int j = 1; j < WH_FILTER_MAX_IN; j++)
            wh_buf_puts(&b, ",1");
        wh_buf_putc(&b, ')');
    }
    check_error(b.data, b.len, WH_ERR_LIMIT, NULL);
    CHECK(strstr(err, "more than 100000 constants") != NULL);
    /* Strings, names, numbers, text size. */
    wh_buf_reset(&b);
    wh_buf_puts(&b, "a = \"");
    for (int k = 0; k < WH_FILTER_MAX_STRING; k++)
        wh_buf_putc(&b, 'x');
    wh_buf_putc(&b, '"');
    check_error(b.data, b.len, WH_OK, NULL);
    b.data[b.len - 1] = 'x';
    wh_buf_putc(&b, '"');
    check_error(b.data, b.len, WH_ERR_LIMIT,
                "filter: at offset 4 (line 1, column 5): the string is longer than 65536 bytes");
    wh_buf_reset(&b);
    for (int k = 0; k <= WH_FILTER_MAX_NAME; k++)
        wh_buf_putc(&b, 'n');
    wh_buf_puts(&b, " = 1");
    check_error(b.data, b.len, WH_ERR_LIMIT, NULL);
    CHECK(strstr(err, "the column name is longer than 1024 bytes") != NULL);
    wh_buf_reset(&b);
    wh_buf_puts(&b, "{\"eq\":[\"");
    for (int k = 0; k <= WH_FILTER_MAX_NAME; k++)
        wh_buf_putc(&b, 'n');
    wh_buf_puts(&b, "\",1]}");
    check_error(b.data, b.len, WH_ERR_LIMIT,
                "filter: at $.eq[0] (offset 7): a column name is longer than 1024 bytes");
    wh_buf_reset(&b);
    wh_buf_puts(&b, "a = 0.");
    for (int k = 0; k < WH_FILTER_MAX_DIGITS; k++)
        wh_buf_putc(&b, '1');
    check_error(b.data, b.len, WH_OK, NULL);
    wh_buf_putc(&b, '1');
    check_error(b.data, b.len, WH_ERR_LIMIT,
                "filter: at offset 4 (line 1, column 5): the number has more than 1000 "
                "significant digits");
    check_err("a = 1e100001", WH_ERR_LIMIT,
              "filter: at offset 4 (line 1, column 5): the number's exponent is out of range "
              "(at most 100000 digits either side of the point)");
    check_err("a = 1e99999999999999999999999", WH_ERR_LIMIT, NULL);
    check_err("{\"eq\":[\"a\",1e-100002]}", WH_ERR_LIMIT, NULL);
    check_forms("{\"eq\":[\"a\",1e-100001]}", "a = 1e-100001", NULL);
    wh_buf_reset(&b);
    wh_buf_puts(&b, "a = 1");
    while (b.len <= WH_FILTER_MAX_TEXT)
        wh_buf_puts(&b, "        ");
    check_error(b.data, b.len, WH_ERR_LIMIT,
                "filter: at offset 1048576 (line 1, column 1048577): the filter is longer than "
                "1048576 bytes");
    wh_buf_free(&b);
}

static void test_api(void)
{
    wh_filter *f = (wh_filter *)1;
    CHECK_EQ_INT(wh_filter_parse_text(NULL, 0, &f, err, sizeof err), WH_ERR_PARSE);
    CHECK(f == NULL);
    CHECK_EQ_INT(wh_filter_parse_text("a = 1", 5, NULL, err, sizeof err), WH_ERR_INVALID);
    CHECK_EQ_INT(wh_filter_parse_json(NULL, 3, &f, err, sizeof err), WH_ERR_INVALID);
    /* Error buffers may be absent or tiny. */
    CHECK_EQ_INT(wh_filter_parse_text("a =", 3, &f, NULL, 0), WH_ERR_PARSE);
    char tiny[8];
    CHECK_EQ_INT(wh_filter_parse_text("a =", 3, &f, tiny, sizeof tiny), WH_ERR_PARSE);
    CHECK_EQ_INT((int)strlen(tiny), 7);
    /* Length, not NUL, ends the text. */
    CHECK_EQ_INT(wh_filter_parse_text("a = 1 garbage", 5, &f, err, sizeof err), WH_OK);
    wh_filter_free(f);
    wh_filter_free(NULL);
    CHECK(wh_filter_equal(NULL, NULL));
    wh_buf b = WH_BUF_INIT;
    CHECK_EQ_INT(wh_filter_to_text(NULL, &b), WH_ERR_INVALID);
    CHECK_EQ_INT(wh_filter_to_json(NULL, &b), WH_ERR_INVALID);
    wh_buf_free(&b);
}

int main(void)
{
    test_issue_example();
    test_precedence();
    test_keys();
    test_constants();
    test_text_errors();
    test_json_errors();
    test_limits();
    test_api();
    return check_done("test_filter_parse");
}
