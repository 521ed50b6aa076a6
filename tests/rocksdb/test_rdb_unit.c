/* test_rdb_unit.c -- unit tests of the RocksDB WAL readers over constructed bytes (no database). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "core/crc32c.h"
#include "core/log.h"
#include "core/update_json.h"
#include "mappers/mapper.h"
#include "mappers/rocksdb/rdb_batch.h"
#include "mappers/rocksdb/rdb_manifest.h"
#include "mappers/rocksdb/rdb_mapper.h"
#include "mappers/rocksdb/rdb_wal.h"
#include "rdb_testlib.h"
#include "wormhole/position.h"
#include "wormhole/update.h"

static char tmpdir[512];

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        perror(path);
        exit(2);
    }
    fclose(f);
}

/* The checksum itself is core/crc32c.c (tests/unit/test_crc32c.c); RocksDB
 * stores it masked. */
static void test_crc_mask(void)
{
    /* The checks of LevelDB's and RocksDB's util/crc32c_test.cc, "Mask". */
    uint32_t crc = wh_crc32c(0, "foo", 3);
    CHECK(rdb_crc_mask(crc) != crc);
    CHECK(rdb_crc_mask(rdb_crc_mask(crc)) != crc);
    CHECK_EQ_INT(rdb_crc_unmask(rdb_crc_mask(crc)), crc);
    CHECK_EQ_INT(rdb_crc_unmask(rdb_crc_unmask(rdb_crc_mask(rdb_crc_mask(crc)))), crc);
    CHECK_EQ_INT(rdb_crc_unmask(rdb_crc_mask(0x12345678u)), 0x12345678u);
}

static void test_batch(void)
{
    wh_buf b = WH_BUF_INIT;
    t_batch_begin(&b, 1000, 9);
    t_batch_entry(&b, 0x01, 0, "k1", "v1");          /* put default */
    t_batch_entry(&b, 0x05, 3, "k2", "v2");          /* put cf 3 */
    t_batch_entry(&b, 0x00, 0, "k3", NULL);          /* delete */
    t_batch_entry(&b, 0x04, 300, "k4", NULL);        /* delete cf 300 (2-byte varint) */
    t_batch_entry(&b, 0x07, 0, "k5", NULL);          /* single delete */
    t_batch_entry(&b, 0x08, 1, "k6", NULL);
    t_batch_entry(&b, 0x03, 0, "blob", NULL);        /* log data: not counted */
    wh_buf_putc(&b, 0x0d);                           /* noop: not counted */
    t_batch_entry(&b, 0x0e, 2, "a", "z");            /* range delete cf 2 */
    t_batch_entry(&b, 0x06, 2, "m", "op");           /* merge cf 2 */
    t_batch_entry(&b, 0x02, 0, "m0", "op0");         /* merge default */
    const uint8_t *p = (const uint8_t *)b.data;
    size_t bad = 0;
    const char *why = "";
    CHECK_EQ_INT(rdb_batch_check(p, b.len, &bad, &why), 0);
    uint64_t seq;
    uint32_t count;
    CHECK_EQ_INT(rdb_batch_header(p, b.len, &seq, &count), 0);
    CHECK_EQ_INT(seq, 1000);
    CHECK_EQ_INT(count, 9);
    static const int kinds[] = { WH_OP_PUT, WH_OP_PUT, WH_OP_KV_DELETE, WH_OP_KV_DELETE,
                                 WH_OP_SINGLE_DELETE, WH_OP_SINGLE_DELETE, RDB_KIND_NONE,
                                 RDB_KIND_NONE, WH_OP_DELETE_RANGE, WH_OP_MERGE, WH_OP_MERGE };
    static const uint32_t cfs[] = { 0, 3, 0, 300, 0, 1, 0, 0, 2, 2, 0 };
    size_t off = RDB_BATCH_HEADER;
    for (int i = 0; i < 11; i++) {
        rdb_entry e;
        long n = rdb_batch_entry(p + off, b.len - off, &e, &why);
        CHECK(n > 0);
        if (n <= 0)
            break;
        CHECK_EQ_INT(e.kind, kinds[i]);
        CHECK_EQ_INT(e.cf, cfs[i]);
        off += (size_t)n;
        if (i == 1) {
            CHECK(e.key_len == 2 && memcmp(e.key, "k2", 2) == 0);
            CHECK(e.val_len == 2 && memcmp(e.val, "v2", 2) == 0);
        }
        if (i == 8)
            CHECK(e.val_len == 1 && e.val[0] == 'z');
    }
    CHECK_EQ_INT(off, b.len);
    /* Every truncation is detected, never read past the end. */
    int all_bad = 1;
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, p, n);
        all_bad &= rdb_batch_check(copy, n, &bad, &why) == WH_ERR_CORRUPT;
        free(copy);
    }
    CHECK(all_bad);
    /* Count mismatch. */
    ((uint8_t *)b.data)[8] = 8;
    CHECK_EQ_INT(rdb_batch_check(p, b.len, &bad, &why), WH_ERR_CORRUPT);
    CHECK(strstr(why, "count") != NULL);
    /* Unknown tag, 2PC marker, overlong varint. */
    t_batch_begin(&b, 1, 1);
    wh_buf_putc(&b, 0x30);
    CHECK_EQ_INT(rdb_batch_check((const uint8_t *)b.data, b.len, &bad, &why), WH_ERR_CORRUPT);
    CHECK_EQ_INT(bad, 12);
    t_batch_begin(&b, 1, 0);
    wh_buf_putc(&b, 0x09);
    CHECK_EQ_INT(rdb_batch_check((const uint8_t *)b.data, b.len, &bad, &why), WH_ERR_UNSUPPORTED);
    CHECK(strstr(why, "two-phase") != NULL);
    t_batch_begin(&b, 1, 1);
    wh_buf_append(&b, "\x01\xff\xff\xff\xff\xff\x01", 7);
    CHECK_EQ_INT(rdb_batch_check((const uint8_t *)b.data, b.len, &bad, &why), WH_ERR_CORRUPT);
    /* A length that claims more bytes than exist. */
    t_batch_begin(&b, 1, 1);
    wh_buf_append(&b, "\x01\x05k", 3);
    CHECK_EQ_INT(rdb_batch_check((const uint8_t *)b.data, b.len, &bad, &why), WH_ERR_CORRUPT);
    wh_buf_free(&b);
}

/* Builds a log of records of the given sizes; record i is filled with (i & 0xff). */
static void build_log(t_log *l, const size_t *sizes, int n)
{
    for (int i = 0; i < n; i++) {
        uint8_t *p = malloc(sizes[i] ? sizes[i] : 1);
        memset(p, i & 0xff, sizes[i]);
        t_log_add(l, p, sizes[i]);
        free(p);
    }
}

static int read_all(const char *path, uint32_t number, size_t window, const size_t *sizes, int n,
                    bool header_only)
{
    rdb_wal *w = NULL;
    char err[512];
    if (rdb_wal_open(path, number, window, &w, err, sizeof err) != 0)
        return -1;
    wh_buf sink = WH_BUF_INIT;
    int got = 0, ok = 1, rc;
    rdb_record rec;
    while ((rc = rdb_wal_next(w, header_only ? NULL : &sink, 1 << 24, &rec, err, sizeof err)) ==
           RDB_READ_RECORD) {
        if (got >= n || rec.total != sizes[got]) {
            ok = 0;
            break;
        }
        for (size_t j = 0; j < rec.len; j++)
            if (rec.data[j] != (uint8_t)(got & 0xff))
                ok = 0;
        got++;
    }
    if (rc != RDB_READ_END || rdb_wal_partial(w))
        ok = 0;
    rdb_wal_free(w);
    wh_buf_free(&sink);
    return ok ? got : -1;
}

static void test_wal_reader(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/000007.log", tmpdir);
    /* Sizes that hit block ends exactly, leave 0..10 bytes, span blocks. */
    size_t sizes[] = { 10, 32768 - 7 - 17 - 7, 0, 100000, 5, 32761 - 5, 3, 70000, 1, 2, 65536,
                       32768 * 3, 40 };
    int n = (int)(sizeof sizes / sizeof *sizes);
    for (int recyc = 0; recyc < 2; recyc++) {
        t_log l = { WH_BUF_INIT, recyc == 1, 7 };
        build_log(&l, sizes, n - 1);
        size_t last_start = l.out.len;
        uint8_t last[40];
        memset(last, n - 1, sizeof last);
        t_log_add(&l, last, sizes[n - 1]);
        write_file(path, l.out.data, l.out.len);
        CHECK_EQ_INT(read_all(path, 7, 65536, sizes, n, false), n);
        CHECK_EQ_INT(read_all(path, 7, 1 << 20, sizes, n, true), n);
        if (recyc) {
            /* Another log number: the records are stale, the log is empty. */
            CHECK_EQ_INT(read_all(path, 8, 65536, sizes, n, false), 0);
        }
        /* Cut anywhere inside the last-but-one record: never a record, a
         * partial end; a cut at a record boundary is a clean end. */
        size_t full = l.out.len;
        int partial_ok = 1;
        for (size_t cut = full - 1; cut > last_start; cut -= 3) {
            write_file(path, l.out.data, cut);
            rdb_wal *w = NULL;
            char err[256];
            rdb_wal_open(path, 7, 65536, &w, err, sizeof err);
            rdb_record rec;
            wh_buf sink = WH_BUF_INIT;
            int cnt = 0, rc;
            while ((rc = rdb_wal_next(w, &sink, 1 << 24, &rec, err, sizeof err)) ==
                   RDB_READ_RECORD)
                cnt++;
            partial_ok &= rc == RDB_READ_END && cnt == n - 1 && rdb_wal_partial(w);
            /* The rest arrives: the same reader now returns the record. */
            write_file(path, l.out.data, full);
            rc = rdb_wal_next(w, &sink, 1 << 24, &rec, err, sizeof err);
            partial_ok &= rc == RDB_READ_RECORD && rec.total == sizes[n - 1];
            rdb_wal_free(w);
            wh_buf_free(&sink);
        }
        CHECK(partial_ok);
        wh_buf_free(&l.out);
    }

    /* A flipped byte in the middle: corruption naming file and offset. */
    t_log l = { WH_BUF_INIT, false, 7 };
    build_log(&l, sizes, n);
    l.out.data[32768 + 100] ^= 0x40;   /* inside record 3 (100000 bytes) */
    write_file(path, l.out.data, l.out.len);
    rdb_wal *w = NULL;
    char err[512];
    rdb_wal_open(path, 7, 65536, &w, err, sizeof err);
    rdb_record rec;
    wh_buf sink = WH_BUF_INIT;
    int rc, cnt = 0;
    while ((rc = rdb_wal_next(w, &sink, 1 << 24, &rec, err, sizeof err)) == RDB_READ_RECORD)
        cnt++;
    CHECK_EQ_INT(rc, WH_ERR_CORRUPT);
    CHECK_EQ_INT(cnt, 3);
    CHECK(strstr(err, "000007.log") && strstr(err, "offset 32768") && strstr(err, "checksum"));
    CHECK(!rdb_wal_bad_tail(w));
    rdb_wal_free(w);
    /* The limit on assembled records. */
    l.out.data[32768 + 100] ^= 0x40;
    write_file(path, l.out.data, l.out.len);
    rdb_wal_open(path, 7, 65536, &w, err, sizeof err);
    cnt = 0;
    while ((rc = rdb_wal_next(w, &sink, 70000, &rec, err, sizeof err)) == RDB_READ_RECORD)
        cnt++;
    CHECK_EQ_INT(rc, WH_ERR_LIMIT);
    CHECK(strstr(err, "max_batch_bytes") != NULL);
    rdb_wal_free(w);
    /* A pinned window never moves: the reader says BLOCKED instead. */
    rdb_wal_open(path, 7, 65536, &w, err, sizeof err);
    rc = rdb_wal_next(w, &sink, 1 << 24, &rec, err, sizeof err);
    CHECK_EQ_INT(rc, RDB_READ_RECORD);
    const uint8_t *first = rec.data;
    uint8_t first_byte = first[0];
    rdb_wal_pin(w, true);
    int blocked = 0;
    for (int i = 0; i < 20 && !blocked; i++) {
        rc = rdb_wal_next(w, &sink, 1 << 24, &rec, err, sizeof err);
        blocked = rc == RDB_READ_BLOCKED;
        CHECK(rc == RDB_READ_RECORD || rc == RDB_READ_BLOCKED);
    }
    CHECK(blocked);
    CHECK_EQ_INT(first[0], first_byte);
    rdb_wal_pin(w, false);
    cnt = 0;
    while ((rc = rdb_wal_next(w, &sink, 1 << 24, &rec, err, sizeof err)) == RDB_READ_RECORD)
        cnt++;
    CHECK_EQ_INT(rc, RDB_READ_END);
    rdb_wal_free(w);
    /* A recycled file: new records, then bytes of its previous life that do
     * not even start at a record boundary. That is the end of the log. */
    for (int shift = 0; shift < 40; shift += 3) {
        t_log old = { WH_BUF_INIT, true, 3 };
        build_log(&old, sizes, n);
        t_log cur = { WH_BUF_INIT, true, 7 };
        build_log(&cur, sizes, 2);
        size_t keep = cur.out.len;
        wh_buf_append(&cur.out, old.out.data + keep + shift, old.out.len - keep - shift);
        write_file(path, cur.out.data, cur.out.len);
        rdb_wal_open(path, 7, 65536, &w, err, sizeof err);
        cnt = 0;
        while ((rc = rdb_wal_next(w, &sink, 1 << 24, &rec, err, sizeof err)) == RDB_READ_RECORD)
            cnt++;
        CHECK(rc == RDB_READ_END && cnt == 2 && rdb_wal_stale(w) && !rdb_wal_partial(w));
        rdb_wal_free(w);
        wh_buf_free(&old.out);
        wh_buf_free(&cur.out);
    }
    /* Garbage record type. */
    wh_buf_reset(&l.out);
    t_log_add(&l, "abc", 3);
    l.out.data[6] = 42;
    write_file(path, l.out.data, l.out.len);
    rdb_wal_open(path, 7, 65536, &w, err, sizeof err);
    CHECK_EQ_INT(rdb_wal_next(w, &sink, 1 << 24, &rec, err, sizeof err), WH_ERR_CORRUPT);
    CHECK(strstr(err, "record type 42") != NULL);
    rdb_wal_free(w);
    /* WAL compression is refused by name. */
    l.out.data[6] = 9;
    write_file(path, l.out.data, l.out.len);
    rdb_wal_open(path, 7, 65536, &w, err, sizeof err);
    CHECK_EQ_INT(rdb_wal_next(w, &sink, 1 << 24, &rec, err, sizeof err), WH_ERR_UNSUPPORTED);
    CHECK(strstr(err, "wal_compression") != NULL);
    rdb_wal_free(w);
    wh_buf_free(&sink);
    wh_buf_free(&l.out);
}

static void test_version_edit(void)
{
    wh_buf b = WH_BUF_INIT;
    rdb_edit_cf e;
    const char *why = "";
    t_edit_cf_add(&b, 5, "users");
    CHECK_EQ_INT(rdb_version_edit_parse((const uint8_t *)b.data, b.len, &e, &why), 0);
    CHECK(e.add && !e.drop && e.cf == 5 && e.name_len == 5 && memcmp(e.name, "users", 5) == 0);
    /* A file edit with NewFile4 custom fields, a safe-to-ignore field, then a drop. */
    wh_buf_reset(&b);
    t_put_varint(&b, 2);  t_put_varint(&b, 17);            /* log number */
    t_put_varint(&b, 103);                                  /* NewFile4 */
    t_put_varint(&b, 0); t_put_varint(&b, 12); t_put_varint(&b, 4096);
    t_put_slice(&b, "aaaaaaaaaaaa", 12); t_put_slice(&b, "zzzzzzzzzzzz", 12);
    t_put_varint(&b, 1); t_put_varint(&b, 9);
    t_put_varint(&b, 5); t_put_slice(&b, "\x01", 1);        /* custom field */
    t_put_varint(&b, 1);                                    /* terminate */
    t_put_varint(&b, (1 << 13) + 1); t_put_slice(&b, "db-id", 5);
    t_put_varint(&b, 200); t_put_varint(&b, 7);
    t_put_varint(&b, 202);
    CHECK_EQ_INT(rdb_version_edit_parse((const uint8_t *)b.data, b.len, &e, &why), 0);
    CHECK(e.drop && !e.add && e.cf == 7);
    for (size_t n = 1; n < b.len; n++) {
        int rc = rdb_version_edit_parse((const uint8_t *)b.data, n, &e, &why);
        if (rc == 0 && !(e.cf == 7 || e.cf == 0)) {
            CHECK(0);
            break;
        }
    }
    wh_buf_reset(&b);
    t_put_varint(&b, 77);
    CHECK_EQ_INT(rdb_version_edit_parse((const uint8_t *)b.data, b.len, &e, &why),
                 WH_ERR_UNSUPPORTED);
    wh_buf_free(&b);
}

/* ---- the mapper over a constructed database directory ---- */

static void make_db(const char *db)
{
    char p[700];
    mkdir(db, 0755);
    snprintf(p, sizeof p, "%s/CURRENT", db);
    write_file(p, "MANIFEST-000002\n", 16);
    t_log man = { WH_BUF_INIT, false, 2 };
    wh_buf e = WH_BUF_INIT;
    t_edit_cf_add(&e, 1, "alpha");
    t_log_add(&man, e.data, e.len);
    snprintf(p, sizeof p, "%s/MANIFEST-000002", db);
    write_file(p, man.out.data, man.out.len);
    wh_buf_free(&man.out);
    wh_buf_free(&e);
}

static void add_wal(const char *db, int number, uint64_t seq0, int batches, bool torn)
{
    char p[700];
    t_log l = { WH_BUF_INIT, false, (uint32_t)number };
    wh_buf b = WH_BUF_INIT;
    uint64_t seq = seq0;
    for (int i = 0; i < batches; i++) {
        t_batch_begin(&b, seq, 3);
        t_batch_entry(&b, 0x05, 1, "k", "{\"n\":1,\"key\":\"x\",\"f\":1.5,\"t\":true,"
                                        "\"z\":null,\"o\":{\"a\":[1]},\"s\":\"str\"}");
        t_batch_entry(&b, 0x01, 0, "raw", "not json");
        t_batch_entry(&b, 0x0e, 9, "a", "b");
        t_log_add(&l, b.data, b.len);
        seq += 3;
    }
    size_t len = l.out.len;
    if (torn) {
        t_batch_begin(&b, seq, 1);
        t_batch_entry(&b, 0x01, 0, "torn", "record");
        t_log_add(&l, b.data, b.len);
        len = l.out.len - 5;
    }
    snprintf(p, sizeof p, "%s/%06d.log", db, number);
    write_file(p, l.out.data, len);
    wh_buf_free(&l.out);
    wh_buf_free(&b);
}

static int open_mapper(const char *db, const char *fmt, wh_mapper **m, char *err, size_t errlen)
{
    json_t *o = json_pack("{s:s, s:s}", "db", db, "value_format", fmt);
    int rc = wh_mapper_create("rocksdb", o, "s1", false, m, err, errlen);
    json_decref(o);
    return rc;
}

/* Reads everything; returns the count or a negative error. JSON lines in out. */
static int drain(wh_mapper *m, wh_buf *out, char *err, size_t errlen)
{
    int total = 0;
    for (;;) {
        const wh_update *u;
        int n = m->ops->next_batch(m, &u, 2, 10, err, errlen);
        if (n == WH_ERR_EOF)
            return total;
        if (n < 0)
            return n;
        for (int i = 0; i < n; i++)
            wh_update_to_json(&u[i], out);
        total += n;
    }
}

/* Seeks to a position given as text, parsed by the one parser (core/position.c). */
static int seek_text(wh_mapper *m, bool logical, const char *text, bool inclusive, char *err,
                     size_t errlen)
{
    static wh_pos p;
    int rc = logical ? wh_pos_parse_logical(&p, text, strlen(text), err, errlen)
                     : wh_pos_parse_physical(&p, text, strlen(text), err, errlen);
    if (rc != WH_OK)
        return rc;
    return logical ? m->ops->seek_logical(m, &p, inclusive, err, errlen)
                   : m->ops->seek_physical(m, &p, inclusive, err, errlen);
}

/* The operation a position names is SEQ + INDEX wherever batches start
 * (docs/ROCKSDB.md): the first update read tells which one was sought. */
static void check_first(wh_mapper *m, bool logical, const char *text, bool inclusive,
                        const char *want_logical, int want_n)
{
    char err[1024];
    wh_buf out = WH_BUF_INIT;
    int rc = seek_text(m, logical, text, inclusive, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0)
        CHECK_EQ_INT(drain(m, &out, err, sizeof err), want_n);
    char want[64];
    snprintf(want, sizeof want, "\"logical\":\"%s\"", want_logical ? want_logical : "");
    const char *hit = out.data ? strstr(out.data, want) : NULL;
    if (want_n > 0)
        CHECK(hit != NULL && hit < strchr(out.data, '\n'));
    if (want_n > 0 && !hit)
        fprintf(stderr, "  seeking %s %s: %s\n", logical ? "logical" : "physical", text,
                out.data ? out.data : err);
    wh_buf_free(&out);
}

static void test_positions(wh_mapper *m)
{
    char err[1024];
    /* 13/1, 14 and 12/2 all name operation 14; logical and physical alike. */
    check_first(m, false, "13/1", true, "13/1", 8);
    check_first(m, false, "14", true, "13/1", 8);
    check_first(m, false, "12/2", true, "13/1", 8);
    check_first(m, true, "13/1", true, "13/1", 8);
    check_first(m, true, "12/2", false, "13/2", 7);
    check_first(m, false, "18446744073709551615", true, NULL, 0);   /* waited for */
    /* Past the last sequence number; a file name; a logical part that is no
     * sequence number (made by hand: the text parser takes any GTID). */
    CHECK_EQ_INT(seek_text(m, false, "18446744073709551615/1", true, err, sizeof err),
                 WH_ERR_INVALID);
    CHECK(strstr(err, "names no operation") != NULL);
    CHECK_EQ_INT(seek_text(m, true, "18446744073709551615", false, err, sizeof err),
                 WH_ERR_INVALID);
    CHECK_EQ_INT(seek_text(m, false, "000003.log:12/0", true, err, sizeof err), WH_ERR_INVALID);
    CHECK(strstr(err, "is not a RocksDB position") != NULL);
    CHECK_EQ_INT(seek_text(m, true, "0-1-12/0", true, err, sizeof err), WH_ERR_PARSE);
    CHECK(strstr(err, "bad RocksDB logical position: '0-1-12' is not a sequence number") != NULL);
    CHECK_EQ_INT(seek_text(m, true, "18446744073709551616/0", true, err, sizeof err),
                 WH_ERR_PARSE);
    /* An unset position, like NULL, is the oldest. */
    wh_pos none = { 0 };
    wh_buf out = WH_BUF_INIT;
    CHECK_EQ_INT(m->ops->seek_physical(m, &none, true, err, sizeof err), 0);
    CHECK_EQ_INT(drain(m, &out, err, sizeof err), 21);
    CHECK_EQ_INT(m->ops->seek_logical(m, &none, true, err, sizeof err), 0);
    CHECK_EQ_INT(drain(m, &out, err, sizeof err), 21);
    wh_buf_free(&out);
}

static void test_mapper(void)
{
    char db[600], err[1024];
    snprintf(db, sizeof db, "%s/db", tmpdir);
    make_db(db);
    add_wal(db, 3, 1, 4, false);
    add_wal(db, 5, 13, 2, true);    /* ends torn; 000008.log continues after it */
    add_wal(db, 8, 19, 1, false);
    wh_mapper *m = NULL;
    CHECK_EQ_INT(open_mapper(db, "raw", &m, err, sizeof err), 0);
    wh_buf out = WH_BUF_INIT;
    CHECK_EQ_INT(m->ops->seek_physical(m, NULL, true, err, sizeof err), 0);
    CHECK_EQ_INT(drain(m, &out, err, sizeof err), 21);
    CHECK(strstr(out.data, "\"op\":\"put\",\"cf\":\"alpha\",\"pos\":{\"logical\":\"1/0\","
                           "\"physical\":\"1/0\"}") != NULL);
    CHECK(strstr(out.data, "\"op\":\"delete_range\",\"cf\":\"9\",\"pos\":{\"logical\":\"19/2\"")
          != NULL);
    CHECK(strstr(out.data, "\"txn\":{\"id\":\"19\",\"index\":2,\"last\":true},\"after\":"
                           "{\"key\":\"YQ==\",\"end_key\":\"Yg==\"}") != NULL);
    CHECK(strstr(out.data, "dG9ybg") == NULL);   /* the torn record is never delivered */
    wh_buf_reset(&out);
    /* Resume inside a batch, inclusive and not. */
    CHECK_EQ_INT(seek_text(m, false, "13/1", true, err, sizeof err), 0);
    CHECK_EQ_INT(drain(m, &out, err, sizeof err), 8);
    CHECK(strncmp(out.data, "{\"shard\":\"s1\",\"op\":\"put\",\"cf\":\"default\",\"pos\":"
                            "{\"logical\":\"13/1\"", 60) == 0);
    wh_buf_reset(&out);
    CHECK_EQ_INT(seek_text(m, true, "14", false, err, sizeof err), 0);
    CHECK_EQ_INT(drain(m, &out, err, sizeof err), 7);
    CHECK(strstr(out.data, "\"logical\":\"13/2\"") < strchr(out.data, '\n'));
    /* Before the oldest WAL: purged. */
    wh_buf_reset(&out);
    CHECK_EQ_INT(seek_text(m, false, "0", true, err, sizeof err), WH_ERR_PURGED);
    CHECK(strstr(err, "WAL_ttl_seconds") != NULL);
    test_positions(m);
    wh_mapper_destroy(m);

    /* JSON values. */
    CHECK_EQ_INT(open_mapper(db, "json", &m, err, sizeof err), 0);
    const wh_update *u;
    CHECK_EQ_INT(m->ops->seek_physical(m, NULL, true, err, sizeof err), 0);
    CHECK_EQ_INT(m->ops->next_batch(m, &u, 3, 10, err, sizeof err), 3);
    wh_update_to_json(&u[0], &out);
    CHECK(strstr(out.data, "\"after\":{\"key\":\"aw==\",\"n\":1,\"value.key\":\"x\",\"f\":1.5,"
                           "\"t\":1,\"z\":null,\"o\":{\"a\":[1]},\"s\":\"str\"}") != NULL);
    CHECK(!(u[0].flags & WH_UF_RAW_VALUE));
    CHECK(u[1].flags & WH_UF_RAW_VALUE);
    CHECK(u[0].schema_id != 0 && u[0].schema_id != u[1].schema_id);
    CHECK(u[1].schema_id != u[2].schema_id);
    CHECK_EQ_INT(u[0].after.values[1].type, WH_T_INT);
    CHECK_EQ_INT(u[0].after.values[6].type, WH_T_JSON);
    wh_mapper_destroy(m);

    /* A gap: a WAL that does not continue the sequence. */
    add_wal(db, 9, 40, 1, false);
    CHECK_EQ_INT(open_mapper(db, "raw", &m, err, sizeof err), 0);
    wh_buf_reset(&out);
    CHECK_EQ_INT(drain(m, &out, err, sizeof err), WH_ERR_GAP);
    CHECK(strstr(err, "expected the batch with sequence 22") && strstr(err, "000009.log"));
    wh_mapper_destroy(m);
    /* A torn tail that the next WAL does not explain: corruption. */
    snprintf(err, sizeof err, "%s/000008.log", db);
    unlink(err);
    snprintf(err, sizeof err, "%s/000009.log", db);
    unlink(err);
    add_wal(db, 9, 30, 1, false);
    CHECK_EQ_INT(open_mapper(db, "raw", &m, err, sizeof err), 0);
    CHECK_EQ_INT(drain(m, &out, err, sizeof err), WH_ERR_CORRUPT);
    CHECK(strstr(err, "000005.log") && strstr(err, "incomplete"));
    wh_mapper_destroy(m);
    wh_buf_free(&out);
}

/* A record cut at the end of the live WAL, tailed: it is a write in
 * progress, waited for with nothing of it delivered, then delivered whole
 * once complete. A torn record that a newer WAL follows is waited on until
 * that WAL holds its first batch; when that batch continues the sequence
 * (RocksDB's recovery dropped the torn record too) reading goes on. */
static void test_torn_follow(void)
{
    char db[600], err[1024], p[700];
    snprintf(db, sizeof db, "%s/dbf", tmpdir);
    make_db(db);
    t_log l = { WH_BUF_INIT, false, 3 };
    wh_buf b = WH_BUF_INIT;
    for (int i = 0; i < 2; i++) {
        t_batch_begin(&b, 1 + 2 * (uint64_t)i, 2);
        t_batch_entry(&b, 0x01, 0, "k", "v");
        t_batch_entry(&b, 0x01, 0, "k2", "v2");
        t_log_add(&l, b.data, b.len);
    }
    size_t good = l.out.len;
    t_batch_begin(&b, 5, 2);
    t_batch_entry(&b, 0x01, 0, "late", "value");
    t_batch_entry(&b, 0x01, 0, "late2", "value2");
    t_log_add(&l, b.data, b.len);
    snprintf(p, sizeof p, "%s/000003.log", db);
    write_file(p, l.out.data, good + (l.out.len - good) / 2);

    json_t *o = json_pack("{s:s, s:i}", "db", db, "poll_interval_ms", 20);
    wh_mapper *m = NULL;
    CHECK_EQ_INT(wh_mapper_create("rocksdb", o, "s1", true, &m, err, sizeof err), 0);
    json_decref(o);
    CHECK_EQ_INT(m->ops->seek_physical(m, NULL, true, err, sizeof err), 0);
    const wh_update *u;
    int n = 0, k;
    while ((k = m->ops->next_batch(m, &u, 10, 0, err, sizeof err)) > 0)
        n += k;
    CHECK_EQ_INT(k, WH_ERR_AGAIN);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(m->ops->next_batch(m, &u, 10, 30, err, sizeof err), WH_ERR_AGAIN);
    write_file(p, l.out.data, l.out.len);   /* the writer completes the record */
    k = m->ops->next_batch(m, &u, 10, 2000, err, sizeof err);
    CHECK_EQ_INT(k, 2);
    if (k == 2)
        CHECK(u[0].pos.offset == 5 && u[1].pos.index == 1 && u[1].txn.last &&
              u[1].after.values[0].len == 5 && !memcmp(u[1].after.values[0].str, "late2", 5));

    /* Cut again, and the writer crashes: a newer WAL appears, empty at first. */
    good = l.out.len;
    t_batch_begin(&b, 7, 1);
    t_batch_entry(&b, 0x01, 0, "lost", "never");
    t_log_add(&l, b.data, b.len);
    write_file(p, l.out.data, l.out.len - 3);
    CHECK_EQ_INT(m->ops->next_batch(m, &u, 10, 30, err, sizeof err), WH_ERR_AGAIN);
    char p5[700];
    snprintf(p5, sizeof p5, "%s/000005.log", db);
    write_file(p5, "", 0);
    CHECK_EQ_INT(m->ops->next_batch(m, &u, 10, 60, err, sizeof err), WH_ERR_AGAIN);
    t_log l5 = { WH_BUF_INIT, false, 5 };
    t_batch_begin(&b, 7, 1);
    t_batch_entry(&b, 0x01, 0, "after", "recovery");
    t_log_add(&l5, b.data, b.len);
    write_file(p5, l5.out.data, l5.out.len);
    k = m->ops->next_batch(m, &u, 10, 2000, err, sizeof err);
    CHECK_EQ_INT(k, 1);
    if (k == 1)
        CHECK(u[0].pos.offset == 7 && u[0].txn.last && u[0].after.values[0].len == 5 &&
              !memcmp(u[0].after.values[0].str, "after", 5));
    CHECK_EQ_INT(m->ops->next_batch(m, &u, 10, 0, err, sizeof err), WH_ERR_AGAIN);
    wh_mapper_destroy(m);
    wh_buf_free(&l.out);
    wh_buf_free(&l5.out);
    wh_buf_free(&b);
}

int main(void)
{
    const char *base = getenv("WH_TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_rdb_unit.XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    wh_log_set_level(WH_LOG_ERROR);
    test_crc_mask();
    test_batch();
    test_wal_reader();
    test_version_edit();
    test_mapper();
    test_torn_follow();
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_done("test_rdb_unit");
}
