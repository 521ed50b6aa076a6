/* test_applied.c -- the effectively-once helper (wormhole/applied.h), compiled against include/ only and linked to the shared library. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wormhole/applied.h>

#include "../check.h"

static char err[1024];

/* A position from its parts (file NULL: a sequence-numbered log). */
static wh_position P(const char *file, uint64_t off, const char *logical, uint32_t index)
{
    wh_position p = { file, off, logical, index };
    return p;
}

/* Loads stored text into a fresh object (checks that it loads). */
static wh_applied *stored(const char *phys, const char *logical)
{
    wh_applied *a = NULL;
    CHECK_EQ_INT(wh_applied_new(&a), WH_OK);
    int rc = wh_applied_load(a, phys, logical, err, sizeof err);
    if (rc != WH_OK)
        fprintf(stderr, "load(%s, %s): %s\n", phys ? phys : "NULL", logical ? logical : "NULL",
                err);
    CHECK_EQ_INT(rc, WH_OK);
    return a;
}

static int check_pos(wh_applied *a, const char *file, uint64_t off, const char *logical,
                     uint32_t index)
{
    wh_position p = P(file, off, logical, index);
    err[0] = '\0';
    return wh_applied_check(a, &p, err, sizeof err);
}

static void advance(wh_applied *a, const char *file, uint64_t off, const char *logical,
                    uint32_t index)
{
    wh_position p = P(file, off, logical, index);
    int rc = wh_applied_advance(a, &p, err, sizeof err);
    if (rc)
        fprintf(stderr, "advance: %s\n", err);
    CHECK_EQ_INT(rc, WH_OK);
}

#define SEEN WH_APPLIED_SEEN
#define NEW  WH_APPLIED_NEW

static void test_empty(void)
{
    wh_applied *a = NULL;
    CHECK_EQ_INT(wh_applied_new(&a), WH_OK);
    CHECK(wh_applied_empty(a));
    CHECK_EQ_INT(check_pos(a, "mysql-bin.000001", 4, NULL, 0), NEW);
    CHECK_EQ_INT(check_pos(a, NULL, 1, "1", 0), NEW);
    CHECK(wh_applied_physical(a) == NULL);
    CHECK(wh_applied_logical(a) == NULL);
    /* Loading nothing is empty, too. */
    CHECK_EQ_INT(wh_applied_load(a, NULL, "", err, sizeof err), WH_OK);
    CHECK(wh_applied_empty(a));
    wh_applied_free(a);
    wh_applied_free(NULL);
}

static void test_physical(void)
{
    wh_applied *a = stored("binlog.000009:5000/3", NULL);
    CHECK(!wh_applied_empty(a));
    /* Same file: offset, then index. */
    CHECK_EQ_INT(check_pos(a, "binlog.000009", 4999, NULL, 9), SEEN);
    CHECK_EQ_INT(check_pos(a, "binlog.000009", 5000, NULL, 2), SEEN);
    CHECK_EQ_INT(check_pos(a, "binlog.000009", 5000, NULL, 3), SEEN);   /* equal */
    CHECK_EQ_INT(check_pos(a, "binlog.000009", 5000, NULL, 4), NEW);
    CHECK_EQ_INT(check_pos(a, "binlog.000009", 5001, NULL, 0), NEW);
    /* Rotation: the file's number decides, whatever the offsets. */
    CHECK_EQ_INT(check_pos(a, "binlog.000010", 4, NULL, 0), NEW);
    CHECK_EQ_INT(check_pos(a, "binlog.000008", 999999, NULL, 0), SEEN);
    CHECK_EQ_INT(check_pos(a, "binlog.10", 4, NULL, 0), NEW);          /* numerically */
    CHECK_EQ_INT(check_pos(a, "binlog.9", 5000, NULL, 3), SEEN);       /* the same file */
    CHECK_EQ_INT(check_pos(a, "binlog.9", 5000, NULL, 4), NEW);
    /* A logical id on the update alone does not matter: physical applies. */
    CHECK_EQ_INT(check_pos(a, "binlog.000010", 4, "0-1-5", 0), NEW);
    CHECK_EQ_INT(check_pos(a, "binlog.000009", 100, "0-1-5", 0), SEEN);
    /* Other base names cannot be compared without a common logical id. */
    CHECK_EQ_INT(check_pos(a, "replica-bin.000001", 4, NULL, 0), WH_ERR_UNSUPPORTED);
    CHECK(strstr(err, "replica-bin.000001:4/0") && strstr(err, "binlog.000009:5000/3") &&
          strstr(err, "base names"));
    CHECK_EQ_INT(check_pos(a, "binlog", 4, NULL, 0), WH_ERR_UNSUPPORTED);
    CHECK_EQ_INT(check_pos(a, "binlog.00001x", 4, NULL, 0), WH_ERR_UNSUPPORTED);
    CHECK_EQ_INT(check_pos(a, "binlogx000010", 4, NULL, 0), WH_ERR_UNSUPPORTED);
    CHECK_EQ_INT(check_pos(a, NULL, 4, NULL, 0), WH_ERR_UNSUPPORTED);   /* a sequence */
    wh_applied_free(a);

    /* Rotation across the width of the number. */
    a = stored("mysql-bin.999999:123456/0", NULL);
    CHECK_EQ_INT(check_pos(a, "mysql-bin.1000000", 4, NULL, 0), NEW);
    CHECK_EQ_INT(check_pos(a, "mysql-bin.999998", 4, NULL, 0), SEEN);
    wh_applied_free(a);

    /* A name without a number compares only with itself. */
    a = stored("current:100/1", NULL);
    CHECK_EQ_INT(check_pos(a, "current", 100, NULL, 1), SEEN);
    CHECK_EQ_INT(check_pos(a, "current", 100, NULL, 2), NEW);
    CHECK_EQ_INT(check_pos(a, "current.000001", 100, NULL, 2), WH_ERR_UNSUPPORTED);
    wh_applied_free(a);

    /* A file name with a colon: the offset follows the last one. */
    a = stored("odd:name.000002:77/0", NULL);
    CHECK_EQ_INT(check_pos(a, "odd:name.000002", 77, NULL, 0), SEEN);
    CHECK_EQ_INT(check_pos(a, "odd:name.000003", 4, NULL, 0), NEW);
    CHECK_EQ_STR(wh_applied_physical(a), "odd:name.000002:77/0");
    wh_applied_free(a);
}

static void test_mariadb(void)
{
    /* Last applied: 0-1-42 index 3; domain 1 up to 1-1-30 index 0. */
    wh_applied *a = stored("mysql-bin.000003:9000/3", "0-1-42/3,1-1-30/0");
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "0-1-42", 3), SEEN);    /* equal */
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "0-1-42", 2), SEEN);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "0-1-42", 4), NEW);     /* rest of the transaction */
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "0-1-41", 99), SEEN);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "0-1-43", 0), NEW);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "1-1-30", 0), SEEN);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "1-1-30", 1), NEW);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "1-1-31", 0), NEW);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "1-7-29", 0), SEEN);    /* server ids are not compared */
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "1-7-31", 0), NEW);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "2-1-1", 0), NEW);      /* a domain never applied */
    /* A position carrying the GTID state (the mapper's text, e.g. from wormhole-logcat):
     * the update is its first GTID; the state's other domains say nothing about it. */
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "0-1-42,1-1-99,2-1-5", 3), SEEN);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "1-1-31,0-1-42", 0), NEW);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "0-1-42,", 3), WH_ERR_PARSE);
    /* Logical wins over a physical position in the same-named log (another server
     * with the same base name after a failover). */
    CHECK_EQ_INT(check_pos(a, "mysql-bin.000001", 4, "0-2-43", 0), NEW);
    CHECK_EQ_INT(check_pos(a, "mysql-bin.000009", 4, "0-1-40", 0), SEEN);
    /* One seq from two servers: diverged histories, an error. */
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "0-2-42", 0), WH_ERR_CORRUPT);
    CHECK(strstr(err, "diverged") != NULL);
    /* A logical id of another kind falls back to physical, within one log only. */
    CHECK_EQ_INT(check_pos(a, "mysql-bin.000004", 4, "77", 0), NEW);
    CHECK_EQ_INT(check_pos(a, "replica-bin.000004", 4, "77", 0), WH_ERR_UNSUPPORTED);
    CHECK(strstr(err, "different kinds") != NULL);
    /* Without a logical id, the update compares physically. */
    CHECK_EQ_INT(check_pos(a, "mysql-bin.000003", 9000, NULL, 4), NEW);
    CHECK_EQ_INT(check_pos(a, "replica-bin.000003", 9000, NULL, 4), WH_ERR_UNSUPPORTED);
    CHECK(strstr(err, "no logical id") != NULL);
    /* Malformed logical ids of updates are refused, never guessed at. */
    CHECK_EQ_INT(check_pos(a, "mysql-bin.000003", 9000, "0-1", 4), WH_ERR_PARSE);
    CHECK_EQ_INT(check_pos(a, "mysql-bin.000003", 9000, "0-1-x", 4), WH_ERR_PARSE);
    CHECK_EQ_INT(check_pos(a, "mysql-bin.000003", 9000, "0-1-2-3", 4), WH_ERR_PARSE);
    CHECK_EQ_INT(check_pos(a, "mysql-bin.000003", 9000, "", 4), WH_ERR_PARSE);
    CHECK_EQ_INT(check_pos(a, "mysql-bin.000003", 9000, "-1-1-1", 4), WH_ERR_PARSE);
    CHECK_EQ_INT(check_pos(a, "mysql-bin.000003", 9000, "0-4294967296-1", 4), WH_ERR_PARSE);
    CHECK(strstr(err, "0-4294967296-1") != NULL);

    /* Advancing keeps every domain, the newest first. */
    advance(a, "mysql-bin.000003", 9500, "1-1-31", 0);
    CHECK_EQ_STR(wh_applied_logical(a), "1-1-31/0,0-1-42/3");
    CHECK_EQ_STR(wh_applied_physical(a), "mysql-bin.000003:9500/0");
    advance(a, "mysql-bin.000003", 9800, "2-5-1", 0);
    advance(a, "mysql-bin.000004", 4, "0-1-43", 1);
    CHECK_EQ_STR(wh_applied_logical(a), "0-1-43/1,2-5-1/0,1-1-31/0");
    CHECK_EQ_STR(wh_applied_physical(a), "mysql-bin.000004:4/1");
    CHECK_EQ_INT(check_pos(a, "r.1", 1, "2-5-1", 0), SEEN);
    CHECK_EQ_INT(check_pos(a, "r.1", 1, "0-1-43", 2), NEW);
    wh_applied_free(a);

    /* Index mismatch between the stored parts is refused. */
    wh_applied *b = NULL;
    CHECK_EQ_INT(wh_applied_new(&b), WH_OK);
    CHECK_EQ_INT(wh_applied_load(b, "mysql-bin.000003:9000/3", "0-1-42/2", err, sizeof err),
                 WH_ERR_PARSE);
    CHECK(strstr(err, "indexes") != NULL);
    wh_applied_free(b);
}

/* A failover while a transaction was half applied, with two domains that the
 * replica interleaves differently from the primary. */
static void test_failover_partial(void)
{
    wh_applied *a = NULL;
    CHECK_EQ_INT(wh_applied_new(&a), WH_OK);
    /* The primary's log: 1-1-4, 0-1-10 (2 updates), 0-1-11 (3 updates), 1-1-5.
     * The app committed up to 0-1-11 index 1, then crashed. */
    advance(a, "mysql-bin.000001", 50, "1-1-4", 0);
    advance(a, "mysql-bin.000001", 100, "0-1-10", 0);
    advance(a, "mysql-bin.000001", 100, "0-1-10", 1);
    advance(a, "mysql-bin.000001", 300, "0-1-11", 0);
    advance(a, "mysql-bin.000001", 300, "0-1-11", 1);
    CHECK_EQ_STR(wh_applied_logical(a), "0-1-11/1,1-1-4/0");
    CHECK_EQ_STR(wh_applied_physical(a), "mysql-bin.000001:300/1");
    wh_applied *b = stored(wh_applied_physical(a), wh_applied_logical(a));
    /* The replica wrote 1-1-4, 1-1-5, 0-1-10, 0-1-11: domain 1 runs ahead. */
    CHECK_EQ_INT(check_pos(b, "replica-bin.000002", 10, "1-1-4", 0), SEEN);
    CHECK_EQ_INT(check_pos(b, "replica-bin.000002", 20, "1-1-5", 0), NEW);
    advance(b, "replica-bin.000002", 20, "1-1-5", 0);
    /* Domain 0's half-applied transaction is still known to be half applied. */
    CHECK_EQ_INT(check_pos(b, "replica-bin.000002", 30, "0-1-10", 1), SEEN);
    CHECK_EQ_INT(check_pos(b, "replica-bin.000002", 40, "0-1-11", 1), SEEN);
    CHECK_EQ_INT(check_pos(b, "replica-bin.000002", 40, "0-1-11", 2), NEW);
    CHECK_EQ_STR(wh_applied_logical(b), "1-1-5/0,0-1-11/1");
    CHECK_EQ_STR(wh_applied_physical(b), "replica-bin.000002:20/0");
    wh_applied_free(a);
    wh_applied_free(b);
}

static void test_mysql(void)
{
    const char *u1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    wh_applied *a = stored("binlog.000002:400/0",
                           "3E11FA47-71CA-11E1-9E33-C80AA9429562:23/0,"
                           "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee:tag_1:5/2");
    char g[128];
    snprintf(g, sizeof g, "%s:23", u1);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, g, 0), SEEN);       /* uuids compare case-blind */
    CHECK_EQ_INT(check_pos(a, "x.1", 1, g, 1), NEW);
    snprintf(g, sizeof g, "%s:22", u1);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, g, 7), SEEN);
    snprintf(g, sizeof g, "%s:100", u1);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, g, 0), NEW);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee:tag_1:5", 2), SEEN);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee:5", 3), NEW);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "bbbbbbbb-bbbb-cccc-dddd-eeeeeeeeeeee:1", 0), NEW);
    CHECK_EQ_STR(wh_applied_logical(a), "3e11fa47-71ca-11e1-9e33-c80aa9429562:23/0,"
                 "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee:tag_1:5/2");
    /* Hostile uuids. */
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "3e11fa47-71ca-11e1-9e33-c80aa942956:23", 0),
                 WH_ERR_PARSE);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "3e11fa47x71ca-11e1-9e33-c80aa9429562:23", 0),
                 WH_ERR_PARSE);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "3e11fa47-71ca-11e1-9e33-c80aa9429562:", 0),
                 WH_ERR_PARSE);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "3e11fa47-71ca-11e1-9e33-c80aa9429562::1", 0),
                 WH_ERR_PARSE);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1tag:1", 0),
                 WH_ERR_PARSE);
    CHECK_EQ_INT(check_pos(a, "x.1", 1, ":1", 0), WH_ERR_PARSE);
    wh_applied_free(a);
}

static void test_rocksdb(void)
{
    wh_applied *a = stored("1000/2", "1000/2");
    CHECK_EQ_INT(check_pos(a, NULL, 1000, "1000", 2), SEEN);
    CHECK_EQ_INT(check_pos(a, NULL, 1000, "1000", 3), NEW);
    CHECK_EQ_INT(check_pos(a, NULL, 999, "999", 50), SEEN);
    CHECK_EQ_INT(check_pos(a, NULL, 1001, "1001", 0), NEW);
    CHECK_EQ_INT(check_pos(a, NULL, 999, NULL, 50), SEEN);        /* physical only */
    CHECK_EQ_INT(check_pos(a, NULL, 1001, NULL, 0), NEW);
    CHECK_EQ_INT(check_pos(a, "wal.000001", 1001, NULL, 0), WH_ERR_UNSUPPORTED);
    advance(a, NULL, 1001, "1001", 0);
    CHECK_EQ_STR(wh_applied_physical(a), "1001/0");
    CHECK_EQ_STR(wh_applied_logical(a), "1001/0");
    wh_applied_free(a);

    /* A stored logical part alone, against an update without one. */
    a = stored(NULL, "0-1-5/0");
    CHECK_EQ_INT(check_pos(a, "mysql-bin.000001", 4, "0-1-5", 0), SEEN);
    CHECK_EQ_INT(check_pos(a, "mysql-bin.000001", 4, NULL, 0), WH_ERR_UNSUPPORTED);
    CHECK(strstr(err, "no physical part") != NULL);
    wh_applied_free(a);
}

static void test_hostile_text(void)
{
    static const char *bad_phys[] = {
        "x", "/", "/0", ":/0", ":1/0", "f:1", "f:1/", "f:/1", "f:x/1", "f:1/x", "f:-1/0",
        "f:+1/0", "f: 1/0", "f:1/ 0", "f:18446744073709551616/0", "f:1/4294967296",
        "f:1/0/0", "a/b:1/0", "fi\nle:1/0", "fi\x7fle:1/0", "18446744073709551616/0", "1/",
        "1:2:3", " 1/0",
    };
    static const char *bad_logical[] = {
        "x", "0-1-2", "0-1-2/", "/0", "0-1-2/x", "0-1-2/0,", ",0-1-2/0", "0-1-2/0,,1-1-1/0",
        "0-1-2/0,0-3-4/1", "0-1-2/0,5/0", "5/0,6/0", "0-1-2/0;1-1-1/0", "0-1-2 /0",
        "0-1-18446744073709551616/0", "4294967296-1-1/0", "a-b-c/0",
        "3e11fa47-71ca-11e1-9e33-c80aa9429562/0", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1/0,"
        "3E11FA47-71CA-11E1-9E33-C80AA9429562:2/0",
    };
    wh_applied *a = stored("keep.000001:5/0", "0-1-9/0");
    for (size_t i = 0; i < sizeof bad_phys / sizeof *bad_phys; i++) {
        err[0] = '\0';
        int rc = wh_applied_load(a, bad_phys[i], NULL, err, sizeof err);
        if (rc != WH_ERR_PARSE)
            fprintf(stderr, "physical '%s' was accepted\n", bad_phys[i]);
        CHECK_EQ_INT(rc, WH_ERR_PARSE);
        CHECK(strstr(err, "physical") != NULL);
    }
    for (size_t i = 0; i < sizeof bad_logical / sizeof *bad_logical; i++) {
        err[0] = '\0';
        int rc = wh_applied_load(a, NULL, bad_logical[i], err, sizeof err);
        if (rc != WH_ERR_PARSE)
            fprintf(stderr, "logical '%s' was accepted\n", bad_logical[i]);
        CHECK_EQ_INT(rc, WH_ERR_PARSE);
        CHECK(strstr(err, "logical") != NULL);
    }
    /* A failed load leaves the position as it was. */
    CHECK_EQ_STR(wh_applied_physical(a), "keep.000001:5/0");
    CHECK_EQ_STR(wh_applied_logical(a), "0-1-9/0");

    /* Very long and very many. */
    char *big = malloc(200000);
    memset(big, 'a', 199990);
    strcpy(big + 199990, ".1:1/0");
    CHECK_EQ_INT(wh_applied_load(a, big, NULL, err, sizeof err), WH_ERR_PARSE);
    size_t n = 0;
    for (int d = 0; d <= WH_APPLIED_MAX_STREAMS; d++)
        n += (size_t)snprintf(big + n, 200000 - n, "%s%d-1-1/0", d ? "," : "", d);
    CHECK_EQ_INT(wh_applied_load(a, NULL, big, err, sizeof err), WH_ERR_LIMIT);
    /* Exactly the limit loads. */
    *strrchr(big, ',') = '\0';
    CHECK_EQ_INT(wh_applied_load(a, NULL, big, err, sizeof err), WH_OK);
    CHECK_EQ_STR(wh_applied_logical(a), big);
    wh_position p = P("f.1", 1, "999-1-1", 0);
    CHECK_EQ_INT(wh_applied_advance(a, &p, err, sizeof err), WH_ERR_LIMIT);
    CHECK_EQ_STR(wh_applied_logical(a), big);          /* unchanged */
    p.logical = "5-1-2";
    CHECK_EQ_INT(wh_applied_advance(a, &p, err, sizeof err), WH_OK);   /* a known domain */
    free(big);

    /* Advancing with a hostile update position changes nothing. */
    wh_applied *b = stored("keep.000001:5/0", "0-1-9/0");
    p = P("bad\nname.1", 9, "0-1-10", 0);
    CHECK_EQ_INT(wh_applied_advance(b, &p, err, sizeof err), WH_ERR_PARSE);
    p = P("", 9, "0-1-10", 0);
    CHECK_EQ_INT(wh_applied_advance(b, &p, err, sizeof err), WH_ERR_PARSE);
    p = P("ok.1", 9, "zero-one-ten", 0);
    CHECK_EQ_INT(wh_applied_advance(b, &p, err, sizeof err), WH_ERR_PARSE);
    CHECK_EQ_STR(wh_applied_physical(b), "keep.000001:5/0");
    CHECK_EQ_STR(wh_applied_logical(b), "0-1-9/0");
    wh_applied_free(a);
    wh_applied_free(b);
}

static void test_text_and_copy(void)
{
    wh_applied *a = NULL, *b = NULL;
    CHECK_EQ_INT(wh_applied_new(&a), WH_OK);
    CHECK_EQ_INT(wh_applied_new(&b), WH_OK);
    advance(a, "mysql-bin.000007", 1234, "0-1-42", 0);
    advance(a, "mysql-bin.000007", 1234, "0-1-42", 1);
    CHECK_EQ_STR(wh_applied_physical(a), "mysql-bin.000007:1234/1");
    CHECK_EQ_STR(wh_applied_logical(a), "0-1-42/1");
    /* Round trip through the stored text. */
    CHECK_EQ_INT(wh_applied_load(b, wh_applied_physical(a), wh_applied_logical(a), err,
                                 sizeof err), WH_OK);
    CHECK_EQ_STR(wh_applied_physical(b), "mysql-bin.000007:1234/1");
    CHECK_EQ_STR(wh_applied_logical(b), "0-1-42/1");
    CHECK_EQ_INT(check_pos(b, "mysql-bin.000007", 1234, "0-1-42", 1), SEEN);
    /* A working copy advances; the original stays. */
    CHECK_EQ_INT(wh_applied_copy(b, a), WH_OK);
    advance(b, "mysql-bin.000008", 4, "0-1-43", 0);
    CHECK_EQ_STR(wh_applied_physical(a), "mysql-bin.000007:1234/1");
    CHECK_EQ_STR(wh_applied_physical(b), "mysql-bin.000008:4/0");
    CHECK_EQ_INT(check_pos(a, "mysql-bin.000008", 4, "0-1-43", 0), NEW);
    CHECK_EQ_INT(check_pos(b, "mysql-bin.000008", 4, "0-1-43", 0), SEEN);
    CHECK_EQ_INT(wh_applied_copy(a, b), WH_OK);
    CHECK_EQ_STR(wh_applied_physical(a), "mysql-bin.000008:4/0");
    CHECK_EQ_INT(wh_applied_copy(a, a), WH_OK);
    /* An update without a logical id drops the logical part. */
    advance(a, "mysql-bin.000008", 100, NULL, 0);
    CHECK(wh_applied_logical(a) == NULL);
    CHECK_EQ_STR(wh_applied_physical(a), "mysql-bin.000008:100/0");
    /* A sequence-numbered log after a file one, and back. */
    advance(a, NULL, 77, "77", 0);
    CHECK_EQ_STR(wh_applied_physical(a), "77/0");
    advance(a, "f.000001", 4, NULL, 0);
    CHECK_EQ_STR(wh_applied_physical(a), "f.000001:4/0");
    wh_applied_clear(a);
    CHECK(wh_applied_empty(a));
    CHECK(wh_applied_physical(a) == NULL);
    CHECK_EQ_INT(wh_applied_copy(b, a), WH_OK);
    CHECK(wh_applied_empty(b));
    wh_applied_free(a);
    wh_applied_free(b);
}

/* Property: a random multi-domain history applied up to a random cut on the
 * primary, then replayed from the start in a replica's order (each domain's
 * order kept, domains interleaved anew): exactly the updates before the cut
 * are SEEN, whatever the interleaving, also while the app advances. */
static void test_random_failover(void)
{
    enum { MAXU = 400 };
    typedef struct { uint32_t dom; uint64_t seq; uint32_t idx; } upd;
    static upd prim[MAXU], repl[MAXU];
    static int applied_flag[MAXU];
    for (int round = 0; round < 300; round++) {
        int ndom = 1 + (int)(check_rand() % 4), n = 0;
        uint64_t next_seq[4] = { 1, 1, 1, 1 };
        while (n < MAXU - 8) {
            uint32_t d = (uint32_t)(check_rand() % (uint64_t)ndom);
            int len = 1 + (int)(check_rand() % 4);
            for (int i = 0; i < len; i++)
                prim[n++] = (upd){ d, next_seq[d], (uint32_t)i };
            next_seq[d]++;
            if (check_rand() % 8 == 0)
                break;
        }
        int cut = (int)(check_rand() % (uint64_t)(n + 1));
        wh_applied *a = NULL;
        CHECK_EQ_INT(wh_applied_new(&a), WH_OK);
        char g[64], file[32];
        for (int i = 0; i < cut; i++) {
            snprintf(g, sizeof g, "%u-1-%" PRIu64, prim[i].dom, prim[i].seq);
            advance(a, "mysql-bin.000001", 100 + prim[i].seq * 10 + prim[i].dom, g,
                    prim[i].idx);
        }
        /* Store and load back, as after a crash. */
        wh_applied *b = NULL;
        CHECK_EQ_INT(wh_applied_new(&b), WH_OK);
        CHECK_EQ_INT(wh_applied_load(b, wh_applied_physical(a), wh_applied_logical(a), err,
                                     sizeof err), WH_OK);
        /* The replica's order: merge the per-domain queues in random order. */
        int head[4] = { 0, 0, 0, 0 }, m = 0;
        while (m < n) {
            uint32_t d = (uint32_t)(check_rand() % (uint64_t)ndom);
            while (head[d] < n && prim[head[d]].dom != d)
                head[d]++;
            if (head[d] >= n)
                continue;
            /* Move a whole transaction of domain d. */
            uint64_t s = prim[head[d]].seq;
            while (head[d] < n && (prim[head[d]].dom != d || prim[head[d]].seq == s)) {
                if (prim[head[d]].dom == d) {
                    repl[m] = prim[head[d]];
                    applied_flag[m] = head[d] < cut;
                    m++;
                }
                head[d]++;
            }
        }
        int bad = 0;
        for (int i = 0; i < m; i++) {
            /* A replica keeps the GTID, server id included, in its own binlog. */
            snprintf(g, sizeof g, "%u-1-%" PRIu64, repl[i].dom, repl[i].seq);
            snprintf(file, sizeof file, "replica-bin.%06d", 1 + i / 50);
            int r = check_pos(b, file, (uint64_t)(i % 50) * 100, g, repl[i].idx);
            if (r != (applied_flag[i] ? SEEN : NEW))
                bad++;
            if (r == NEW)
                advance(b, file, (uint64_t)(i % 50) * 100, g, repl[i].idx);
        }
        if (bad)
            fprintf(stderr, "round %d: %d of %d updates misjudged\n", round, bad, m);
        CHECK_EQ_INT(bad, 0);
        wh_applied_free(a);
        wh_applied_free(b);
    }
}

int main(void)
{
    check_seed("test_applied");
    test_empty();
    test_physical();
    test_mariadb();
    test_failover_partial();
    test_mysql();
    test_rocksdb();
    test_hostile_text();
    test_text_and_copy();
    test_random_failover();
    return check_done("test_applied");
}
