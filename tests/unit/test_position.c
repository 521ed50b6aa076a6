/* test_position.c -- the position type and the one parser and formatter of its text forms
 * (core/position.c): round trips, hostile text with the errors it must give, bounds, and a
 * random round trip whose seed is printed (WH_SEED=N replays it). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "wormhole/position.h"

static wh_pos garbage(void)
{
    wh_pos p;
    memset(&p, 0x5a, sizeof p);
    p.set = true;
    return p;
}

/* Parses text (physical or logical) and formats it again: the text must come back. */
static void round_trip(bool logical, const char *text, const char *want)
{
    wh_pos p = garbage();
    char err[512] = "", buf[WH_POS_LOGICAL_TEXT_MAX];
    int rc = logical ? wh_pos_parse_logical(&p, text, strlen(text), err, sizeof err)
                     : wh_pos_parse_physical(&p, text, strlen(text), err, sizeof err);
    CHECK_EQ_INT(rc, WH_OK);
    if (rc != WH_OK)
        fprintf(stderr, "  %s: %s\n", text, err);
    CHECK(p.set && p.has_logical == logical && (logical || !p.has_logical));
    int n = logical ? wh_pos_format_logical(&p, buf, sizeof buf)
                    : wh_pos_format_physical(&p, buf, sizeof buf);
    CHECK_EQ_STR(buf, want ? want : text);
    CHECK_EQ_INT(n, (long long)strlen(buf));
    /* The other text form of a position with one part only is empty. */
    n = logical ? wh_pos_format_physical(&p, buf, sizeof buf)
                : wh_pos_format_logical(&p, buf, sizeof buf);
    if (logical) {
        CHECK(n > 0);   /* a logical-only position still has offset 0 */
    } else {
        CHECK_EQ_INT(n, 0);
        CHECK_EQ_STR(buf, "");
    }
}

static void test_round_trips(void)
{
    round_trip(false, "mysql-bin.000003:1234/5", NULL);
    round_trip(false, "mysql-bin.000003:77", "mysql-bin.000003:77/0");   /* INDEX defaults to 0 */
    round_trip(false, "a:b:9/1", NULL);                                 /* FILE may hold ':' */
    round_trip(false, "my bin.1:0/0", NULL);
    round_trip(false, "\xc3\xa9t\xc3\xa9.000001:4/0", NULL);            /* UTF-8 file name */
    round_trip(false, "0/0", NULL);
    round_trip(false, "1005", "1005/0");
    round_trip(false, "18446744073709551615/4294967295", NULL);
    round_trip(false, "007:0012/03", "007:12/3");                       /* leading zeros */
    round_trip(true, "0-1-42/3", NULL);
    round_trip(true, "0-1-42", "0-1-42/0");
    round_trip(true, "3e11fa47-71ca-11e1-9e33-c80aa9429562:23/1", NULL);
    round_trip(true, "0-1-5,1-2-7/3", NULL);
    round_trip(true, "0-1-5, 1-2-7/3", NULL);                           /* opaque to core */
    round_trip(true, "12345/0", NULL);

    wh_pos p = garbage();
    char err[512], buf[64];
    CHECK_EQ_INT(wh_pos_parse(&p, "mysql-bin.000012:4567/3", "0-1-99/3", err, sizeof err), 0);
    CHECK(p.set && p.has_log_name && p.has_logical);
    CHECK_EQ_STR(p.log_name, "mysql-bin.000012");
    CHECK(p.offset == 4567 && p.index == 3);
    CHECK_EQ_STR(p.logical, "0-1-99");
    CHECK_EQ_INT(wh_pos_format_physical(&p, buf, sizeof buf), 23);
    CHECK_EQ_STR(buf, "mysql-bin.000012:4567/3");
    CHECK_EQ_INT(wh_pos_format_logical(&p, buf, sizeof buf), 8);
    CHECK_EQ_STR(buf, "0-1-99/3");
    CHECK_EQ_INT(wh_pos_parse(&p, "99/2", "", err, sizeof err), 0);
    CHECK(p.set && !p.has_log_name && !p.has_logical && p.offset == 99 && p.index == 2);
    CHECK_EQ_INT(wh_pos_parse(&p, NULL, "0-1-1", err, sizeof err), 0);
    CHECK(p.set && !p.has_log_name && p.has_logical && p.index == 0);
    CHECK_EQ_INT(wh_pos_parse(&p, "f:1", "g", err, sizeof err), 0);      /* both index 0 */

    /* Unset positions format as "". */
    wh_pos none = { 0 };
    buf[0] = 'x';
    CHECK_EQ_INT(wh_pos_format_physical(&none, buf, sizeof buf), 0);
    CHECK_EQ_STR(buf, "");
    buf[0] = 'x';
    CHECK_EQ_INT(wh_pos_format_logical(&none, buf, sizeof buf), 0);
    CHECK_EQ_STR(buf, "");
}

typedef struct bad_case {
    char        kind;      /* 'p' physical, 'l' logical */
    const char *text;
    size_t      len;       /* 0: strlen(text) */
    int         code;
    const char *msg;       /* must appear in the message */
} bad_case;

static void test_hostile(void)
{
    static const bad_case cases[] = {
        { 'p', "", 0, WH_ERR_PARSE, "physical position is empty" },
        { 'l', "", 0, WH_ERR_PARSE, "logical position is empty" },
        { 'p', "/", 0, WH_ERR_PARSE, "at offset 0: FILE:OFFSET or SEQ is missing before '/'" },
        { 'l', "/", 0, WH_ERR_PARSE, "at offset 0: GTID is missing before '/'" },
        { 'l', "/3", 0, WH_ERR_PARSE, "at offset 0: GTID is missing before '/'" },
        { 'p', "12/", 0, WH_ERR_PARSE, "at offset 3: INDEX is missing after '/'" },
        { 'l', "0-1-2/", 0, WH_ERR_PARSE, "at offset 6: INDEX is missing after '/'" },
        { 'p', "12/x", 0, WH_ERR_PARSE, "at offset 3: INDEX must be decimal digits" },
        { 'p', "12/1x", 0, WH_ERR_PARSE, "at offset 4: INDEX must be decimal digits" },
        { 'p', "12/-1", 0, WH_ERR_PARSE, "at offset 3: INDEX must be decimal digits" },
        { 'p', "12/ 1", 0, WH_ERR_PARSE, "at offset 3: INDEX must be decimal digits" },
        { 'p', "12/4294967296", 0, WH_ERR_PARSE, "at offset 3: INDEX is larger than 4294967295" },
        { 'l', "0-1-2/99999999999999999999999", 0, WH_ERR_PARSE, "INDEX is larger than" },
        { 'p', "f:/1", 0, WH_ERR_PARSE, "at offset 2: OFFSET is missing after ':'" },
        { 'p', "f:", 0, WH_ERR_PARSE, "at offset 2: OFFSET is missing after ':'" },
        { 'p', ":5/1", 0, WH_ERR_PARSE, "at offset 0: FILE is empty before ':'" },
        { 'p', "f:x/1", 0, WH_ERR_PARSE, "at offset 2: OFFSET must be decimal digits" },
        { 'p', "f:1x", 0, WH_ERR_PARSE, "at offset 3: OFFSET must be decimal digits" },
        { 'p', "f:-1/0", 0, WH_ERR_PARSE, "at offset 2: OFFSET must be decimal digits" },
        { 'p', "12x", 0, WH_ERR_PARSE, "at offset 2: SEQ must be decimal digits" },
        { 'p', " 12", 0, WH_ERR_PARSE, "at offset 0: SEQ must be decimal digits" },
        { 'p', "+12", 0, WH_ERR_PARSE, "at offset 0: SEQ must be decimal digits" },
        { 'p', "mysql-bin.000001", 0, WH_ERR_PARSE, "at offset 0: SEQ must be decimal digits" },
        { 'p', "18446744073709551616/0", 0, WH_ERR_PARSE,
          "at offset 0: SEQ is larger than 18446744073709551615" },
        { 'p', "f:99999999999999999999999999", 0, WH_ERR_PARSE,
          "at offset 2: OFFSET is larger than 18446744073709551615" },
        { 'p', "a/b:1/0", 0, WH_ERR_PARSE, "at offset 5: a second '/'" },
        { 'p', "12//0", 0, WH_ERR_PARSE, "at offset 3: a second '/'" },
        { 'l', "0-1-5/3/4", 0, WH_ERR_PARSE, "at offset 7: a second '/'" },
        { 'p', "f\0:1/0", 6, WH_ERR_PARSE, "at offset 1: the control byte 0x00 is not allowed" },
        { 'p', "12/0\0", 5, WH_ERR_PARSE, "at offset 4: the control byte 0x00" },
        { 'l', "0-1-5\n/0", 0, WH_ERR_PARSE, "at offset 5: the control byte 0x0a" },
        { 'p', "f\x7f:1", 0, WH_ERR_PARSE, "at offset 1: the control byte 0x7f" },
        { 'p', "\x1b[31m:1/0", 0, WH_ERR_PARSE, "\"\\x1b[31m:1/0\"" },   /* quoted safely */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->text);
        char err[512] = "";
        wh_pos p = garbage();
        int rc = c->kind == 'p' ? wh_pos_parse_physical(&p, c->text, len, err, sizeof err)
                                : wh_pos_parse_logical(&p, c->text, len, err, sizeof err);
        CHECK_EQ_INT(rc, c->code);
        CHECK(!p.set && !p.has_log_name && !p.has_logical);   /* failure leaves it unset */
        if (!strstr(err, c->msg)) {
            CHECK(0);
            fprintf(stderr, "  case %zu: expected \"%s\" in: %s\n", i, c->msg, err);
        }
        if (c->kind == 'p' && !memchr(c->text, '\0', len)) {   /* the same through wh_pos_parse */
            char err2[512] = "";
            CHECK_EQ_INT(wh_pos_parse(&p, c->text[0] ? c->text : "x", NULL, err2, sizeof err2),
                         c->text[0] ? c->code : WH_ERR_PARSE);
        }
    }

    /* Both parts: the INDEXes must agree; neither is an error. */
    char err[512];
    wh_pos p = garbage();
    CHECK_EQ_INT(wh_pos_parse(&p, "f:1/1", "g/2", err, sizeof err), WH_ERR_PARSE);
    CHECK(strstr(err, "physical position \"f:1/1\" and logical position \"g/2\" name different "
                      "update indexes (1 and 2)") != NULL);
    CHECK(!p.set);
    CHECK_EQ_INT(wh_pos_parse(&p, "f:1/3", "g", err, sizeof err), WH_ERR_PARSE);
    CHECK_EQ_INT(wh_pos_parse(&p, NULL, NULL, err, sizeof err), WH_ERR_PARSE);
    CHECK(strstr(err, "neither a physical nor a logical part") != NULL);
    CHECK_EQ_INT(wh_pos_parse(&p, "", "", err, sizeof err), WH_ERR_PARSE);
    CHECK_EQ_INT(wh_pos_parse(&p, "f:1/0", "0-1-2/x", err, sizeof err), WH_ERR_PARSE);
    CHECK(strstr(err, "logical position \"0-1-2/x\": at offset 6") != NULL && !p.set);

    /* A long text is quoted cut, with its fault's offset. */
    char longtext[300];
    memset(longtext, '7', sizeof longtext);
    longtext[250] = 'x';
    CHECK_EQ_INT(wh_pos_parse_physical(&p, longtext, sizeof longtext, err, sizeof err),
                 WH_ERR_PARSE);
    CHECK(strstr(err, "7777\"...: at offset 250: SEQ must be decimal digits") != NULL);
}

/* The documented bounds: FILE up to 255 bytes, GTID up to 4095; one more is WH_ERR_LIMIT. */
static void test_bounds(void)
{
    static char text[WH_POS_LOGICAL_MAX + 64], buf[WH_POS_LOGICAL_TEXT_MAX];
    char err[512];
    wh_pos p;
    for (int extra = 0; extra < 2; extra++) {
        size_t name = WH_POS_LOG_NAME_MAX - 1 + (size_t)extra;
        memset(text, 'n', name);
        strcpy(text + name, ":18446744073709551615/4294967295");
        int rc = wh_pos_parse_physical(&p, text, strlen(text), err, sizeof err);
        CHECK_EQ_INT(rc, extra ? WH_ERR_LIMIT : WH_OK);
        if (extra) {
            CHECK(strstr(err, "at offset 0: FILE is 256 bytes long; at most 255 are allowed"));
            continue;
        }
        /* The longest physical text fits WH_POS_PHYSICAL_TEXT_MAX, and not one byte less. */
        CHECK_EQ_INT(wh_pos_format_physical(&p, buf, WH_POS_PHYSICAL_TEXT_MAX),
                     (long long)strlen(text));
        CHECK_EQ_STR(buf, text);
        size_t need = strlen(text) + 1;
        CHECK(need <= WH_POS_PHYSICAL_TEXT_MAX);
        CHECK_EQ_INT(wh_pos_format_physical(&p, buf, need), (long long)need - 1);
        buf[0] = 'x';
        CHECK_EQ_INT(wh_pos_format_physical(&p, buf, need - 1), WH_ERR_LIMIT);
        CHECK_EQ_STR(buf, "");                    /* never a cut text */
        CHECK_EQ_INT(wh_pos_format_physical(&p, buf, 0), WH_ERR_LIMIT);
    }
    for (int extra = 0; extra < 2; extra++) {
        size_t gtid = WH_POS_LOGICAL_MAX - 1 + (size_t)extra;
        memset(text, 'g', gtid);
        strcpy(text + gtid, "/4294967295");
        int rc = wh_pos_parse_logical(&p, text, strlen(text), err, sizeof err);
        CHECK_EQ_INT(rc, extra ? WH_ERR_LIMIT : WH_OK);
        if (extra) {
            CHECK(strstr(err, "GTID is 4096 bytes long; at most 4095 are allowed") != NULL);
            continue;
        }
        size_t need = strlen(text) + 1;
        CHECK(need <= WH_POS_LOGICAL_TEXT_MAX);
        CHECK_EQ_INT(wh_pos_format_logical(&p, buf, WH_POS_LOGICAL_TEXT_MAX),
                     (long long)need - 1);
        CHECK_EQ_STR(buf, text);
        buf[0] = 'x';
        CHECK_EQ_INT(wh_pos_format_logical(&p, buf, need - 1), WH_ERR_LIMIT);
        CHECK_EQ_STR(buf, "");
    }
}

static void test_views(void)
{
    static char big[WH_POS_LOGICAL_MAX + 8];
    wh_pos p = garbage(), q;
    wh_position v = { "mysql-bin.000001", 4, "0-1-1", 2 }, w;
    CHECK(wh_pos_from_view(&p, &v));
    CHECK(p.set && p.has_log_name && p.has_logical && p.offset == 4 && p.index == 2);
    CHECK_EQ_STR(p.log_name, "mysql-bin.000001");
    CHECK_EQ_STR(p.logical, "0-1-1");
    CHECK(wh_pos_to_view(&p, &w) == &w);
    CHECK(w.log_name == p.log_name && w.logical == p.logical && w.offset == 4 && w.index == 2);
    CHECK(wh_pos_from_view(&q, &w) && wh_pos_equal(&p, &q));
    wh_position r = { NULL, 99, NULL, 0 };
    CHECK(wh_pos_from_view(&p, &r));
    CHECK(p.set && !p.has_log_name && !p.has_logical && p.log_name[0] == 0 && p.logical[0] == 0);
    CHECK(wh_pos_to_view(&p, &w) && w.log_name == NULL && w.logical == NULL);
    wh_pos none = { 0 };
    CHECK(wh_pos_to_view(&none, &w) == NULL);

    /* What could not be written back as text is refused, never cut. */
    memset(big, 'a', WH_POS_LOG_NAME_MAX);
    big[WH_POS_LOG_NAME_MAX] = '\0';
    const char *refused_names[] = { big, "", "dir/file", "a\nb", "a\x7f" };
    for (size_t i = 0; i < sizeof refused_names / sizeof refused_names[0]; i++) {
        p = garbage();
        wh_position x = { refused_names[i], 1, NULL, 0 };
        CHECK(!wh_pos_from_view(&p, &x));
        CHECK(!p.set);
        wh_position y = { NULL, 1, refused_names[i], 0 };
        if (i == 0)
            continue;   /* 256 bytes is a fine GTID */
        p = garbage();
        CHECK(!wh_pos_from_view(&p, &y));
        CHECK(!p.set);
    }
    big[WH_POS_LOG_NAME_MAX - 1] = '\0';             /* 255 bytes fit */
    wh_position x = { big, 1, NULL, 0 };
    CHECK(wh_pos_from_view(&p, &x) && strlen(p.log_name) == WH_POS_LOG_NAME_MAX - 1);
    memset(big, 'g', WH_POS_LOGICAL_MAX);
    big[WH_POS_LOGICAL_MAX] = '\0';
    wh_position y = { NULL, 1, big, 0 };
    CHECK(!wh_pos_from_view(&p, &y) && !p.set);
    big[WH_POS_LOGICAL_MAX - 1] = '\0';
    CHECK(wh_pos_from_view(&p, &y) && strlen(p.logical) == WH_POS_LOGICAL_MAX - 1);
}

static void test_equal(void)
{
    char err[256];
    wh_pos a, b, none = { 0 }, none2 = garbage();
    none2.set = false;
    CHECK(wh_pos_equal(&none, &none2));             /* unset: nothing else compared */
    wh_pos_parse(&a, "f:1/2", "0-1-3/2", err, sizeof err);
    b = a;
    CHECK(wh_pos_equal(&a, &b));
    CHECK(!wh_pos_equal(&a, &none));
    b.index = 3;
    CHECK(!wh_pos_equal(&a, &b));
    b = a;
    b.offset = 2;
    CHECK(!wh_pos_equal(&a, &b));
    b = a;
    b.log_name[0] = 'g';
    CHECK(!wh_pos_equal(&a, &b));
    b = a;
    strcpy(b.logical, "0-1-4");
    CHECK(!wh_pos_equal(&a, &b));
    b = a;
    b.has_logical = false;
    CHECK(!wh_pos_equal(&a, &b));
    wh_pos_parse(&a, "7/0", NULL, err, sizeof err);
    b = a;
    strcpy(b.log_name, "stale");                     /* unused fields are not compared */
    strcpy(b.logical, "stale");
    CHECK(wh_pos_equal(&a, &b));
}

/* ---- random round trips ------------------------------------------------------ */

static uint64_t rnd(void)
{
    return check_rand();
}

/* A random FILE or GTID of 1..max bytes: printable ASCII but '/', UTF-8 and spaces. */
static void random_name(char *out, size_t max)
{
    static const char *const pieces[] = { ":", ",", "-", " ", ".", "\xc3\xa9", "0", "9" };
    size_t n = 1 + (size_t)(rnd() % 4 == 0 ? rnd() % max : rnd() % (max < 40 ? max : 40));
    size_t k = 0;
    while (k < n) {
        if (rnd() % 4 == 0) {
            const char *s = pieces[rnd() % 8];
            size_t l = strlen(s);
            if (k + l > n)
                break;
            memcpy(out + k, s, l);
            k += l;
        } else {
            char c = (char)(0x20 + rnd() % 95);
            out[k++] = c == '/' ? '_' : c;
        }
    }
    if (k == 0)
        out[k++] = 'x';
    out[k] = '\0';
}

static uint64_t random_u64(void)
{
    return rnd() >> (rnd() % 64);
}

static void test_random(void)
{
    static char name[WH_POS_LOG_NAME_MAX], gtid[WH_POS_LOGICAL_MAX];
    static char ptext[WH_POS_PHYSICAL_TEXT_MAX], ltext[WH_POS_LOGICAL_TEXT_MAX];
    static char cut[WH_POS_LOGICAL_TEXT_MAX];
    static wh_pos p, q, r;
    char err[512];
    int bad = 0;
    check_seed("test_position");
    for (int k = 0; k < 20000 && bad < 5; k++) {
        random_name(name, sizeof name - 1);
        random_name(gtid, k % 16 == 0 ? sizeof gtid - 1 : 120);
        wh_position v = { k & 1 ? name : NULL, random_u64(), k & 2 ? gtid : NULL,
                          (uint32_t)random_u64() };
        if (!wh_pos_from_view(&p, &v)) {
            bad++;
            fprintf(stderr, "  from_view refused %s / %s\n", name, gtid);
            continue;
        }
        int pn = wh_pos_format_physical(&p, ptext, sizeof ptext);
        int ln = wh_pos_format_logical(&p, ltext, sizeof ltext);
        /* The display formatters of the view write the same text. */
        bool ok = pn > 0 && ln >= 0 &&
                  wh_position_physical(&v, cut, sizeof cut) == (size_t)pn &&
                  strcmp(cut, ptext) == 0 &&
                  wh_position_logical(&v, cut, sizeof cut) == (size_t)ln &&
                  strcmp(cut, ltext) == 0;
        /* Both texts parse back to the same position, together and apart. */
        ok = ok && wh_pos_parse(&q, ptext, ltext, err, sizeof err) == WH_OK &&
             wh_pos_equal(&p, &q);
        ok = ok && wh_pos_parse_physical(&r, ptext, (size_t)pn, err, sizeof err) == WH_OK &&
             r.offset == p.offset && r.index == p.index && r.has_log_name == p.has_log_name &&
             !r.has_logical && (!p.has_log_name || strcmp(r.log_name, p.log_name) == 0);
        if (p.has_logical)
            ok = ok && wh_pos_parse_logical(&r, ltext, (size_t)ln, err, sizeof err) == WH_OK &&
                 r.index == p.index && strcmp(r.logical, p.logical) == 0;
        else
            ok = ok && ln == 0;
        /* A cut is never silent: one byte short is WH_ERR_LIMIT. */
        ok = ok && wh_pos_format_physical(&p, cut, (size_t)pn) == WH_ERR_LIMIT && !cut[0];
        if (!ok) {
            bad++;
            fprintf(stderr, "  no round trip: physical \"%s\" logical \"%s\": %s\n", ptext, ltext,
                    err);
        }
    }
    CHECK_EQ_INT(bad, 0);

    /* Random bytes: the parser fails with a located sentence and an unset
     * position, or what it accepts formats to text that parses the same. */
    static const char alphabet[] = "0123456789:/-,abf \x00\x01\xff";
    bad = 0;
    for (int k = 0; k < 50000 && bad < 5; k++) {
        char text[48];
        size_t n = (size_t)(rnd() % sizeof text);
        for (size_t i = 0; i < n; i++)
            text[i] = alphabet[rnd() % (sizeof alphabet - 1)];
        bool logical = k & 1;
        err[0] = '\0';
        int rc = logical ? wh_pos_parse_logical(&p, text, n, err, sizeof err)
                         : wh_pos_parse_physical(&p, text, n, err, sizeof err);
        if (rc != WH_OK) {
            bool located = strncmp(err, logical ? "logical position " : "physical position ",
                                   logical ? 17 : 18) == 0 &&
                           (n == 0 || strstr(err, ": at offset ") != NULL);
            if (p.set || rc != WH_ERR_PARSE || !located) {
                bad++;
                fprintf(stderr, "  failure without its sentence (%d): %s\n", rc, err);
            }
            continue;
        }
        int tn = logical ? wh_pos_format_logical(&p, ltext, sizeof ltext)
                         : wh_pos_format_physical(&p, ltext, sizeof ltext);
        rc = logical ? wh_pos_parse_logical(&q, ltext, (size_t)tn, err, sizeof err)
                     : wh_pos_parse_physical(&q, ltext, (size_t)tn, err, sizeof err);
        if (tn <= 0 || rc != WH_OK || !wh_pos_equal(&p, &q)) {
            bad++;
            fprintf(stderr, "  \"%.*s\" formats to \"%s\" that does not parse the same\n",
                    (int)n, text, ltext);
        }
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    test_round_trips();
    test_hostile();
    test_bounds();
    test_views();
    test_equal();
    test_random();
    return check_done("test_position");
}
