/* test_rdb_crosscheck.c -- our WAL reading checked against RocksDB's own (rocksdb_get_updates_since).
 *
 * Writes a database with the RocksDB C API (several column families, all
 * operation kinds, big fragmented batches, memtable flushes that switch
 * WALs, archived WALs), then compares, batch by batch:
 *   - the bytes our record reader assembles from the WAL files with the
 *     batch bytes RocksDB's transaction log iterator returns;
 *   - our entry decoding with rocksdb_writebatch_count, and for batches of
 *     default-family puts and deletes with rocksdb_writebatch_iterate
 *     (the C API's iterate knows only those two);
 *   - the mapper's updates with what the test wrote.
 * Integration suite: needs RocksDB, no server. */
#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "../check.h"
#include "core/buf.h"
#include "core/log.h"
#include "mappers/mapper.h"
#include "mappers/rocksdb/rdb_batch.h"
#include "mappers/rocksdb/rdb_wal.h"

#define MAX_BATCHES 4000

typedef struct batch_ref {
    uint64_t seq;
    char    *data;
    size_t   len;
} batch_ref;

static batch_ref ours[MAX_BATCHES], theirs[MAX_BATCHES];
static int nours, ntheirs;

static void die(const char *what, char *err)
{
    fprintf(stderr, "test_rdb_crosscheck: %s: %s\n", what, err ? err : "failed");
    exit(2);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Reads every WAL (archive/ and live, by number) with our reader. The
 * database is open, so RocksDB may move a WAL from the live directory to
 * archive/ at any moment: the live directory is listed first (a file that
 * moves in between is then seen twice, and read once), and a live file that
 * is gone by the time it is opened is read from archive/. */
static void read_ours(const char *db)
{
    uint64_t nums[512];
    int n = 0;
    const char *dirs[2] = { "archive", "" };
    for (int d = 1; d >= 0; d--) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", db, dirs[d]);
        DIR *dir = opendir(path);
        if (!dir)
            continue;
        struct dirent *de;
        while ((de = readdir(dir)) && n < 512) {
            size_t l = strlen(de->d_name);
            if (l > 4 && strcmp(de->d_name + l - 4, ".log") == 0)
                nums[n++] = strtoull(de->d_name, NULL, 10) * 2 + (uint64_t)d;
        }
        closedir(dir);
    }
    qsort(nums, (size_t)n, sizeof *nums, cmp_u64);
    wh_buf sink = WH_BUF_INIT;
    for (int i = 0; i < n; i++) {
        char path[1024], err[512];
        uint64_t num = nums[i] / 2;
        if (i > 0 && nums[i - 1] / 2 == num)
            continue;                       /* listed in both directories */
        snprintf(path, sizeof path, "%s/%s%s%06" PRIu64 ".log", db, nums[i] % 2 ? "" : "archive",
                 nums[i] % 2 ? "" : "/", num);
        rdb_wal *w = NULL;
        int orc = rdb_wal_open(path, num, 1 << 16, &w, err, sizeof err);
        if (orc != 0 && nums[i] % 2) {      /* moved to archive/ meanwhile */
            snprintf(path, sizeof path, "%s/archive/%06" PRIu64 ".log", db, num);
            orc = rdb_wal_open(path, num, 1 << 16, &w, err, sizeof err);
        }
        if (orc != 0)
            die("open", err);
        rdb_record rec;
        int rc;
        while ((rc = rdb_wal_next(w, &sink, 1 << 26, &rec, err, sizeof err)) == RDB_READ_RECORD) {
            if (nours == MAX_BATCHES)
                die("read", "too many batches");
            uint32_t count;
            rdb_batch_header(rec.data, rec.len, &ours[nours].seq, &count);
            ours[nours].data = malloc(rec.len);
            memcpy(ours[nours].data, rec.data, rec.len);
            ours[nours].len = rec.len;
            nours++;
        }
        CHECK_EQ_INT(rc, RDB_READ_END);
        if (rc < 0)
            fprintf(stderr, "%s\n", err);
        rdb_wal_free(w);
    }
    wh_buf_free(&sink);
}

typedef struct iter_state {
    const uint8_t *p, *end;
    int ok, calls;
} iter_state;

/* rocksdb_writebatch_iterate callbacks: compare with our decoding in step. */
static void next_entry(iter_state *s, int kind, const char *k, size_t kn, const char *v, size_t vn)
{
    rdb_entry e;
    const char *why;
    long r;
    do {
        r = rdb_batch_entry(s->p, (size_t)(s->end - s->p), &e, &why);
        if (r <= 0) {
            s->ok = 0;
            return;
        }
        s->p += r;
    } while (e.kind == RDB_KIND_NONE);
    s->calls++;
    if (e.kind != kind || e.cf != 0 || e.key_len != kn || memcmp(e.key, k, kn) != 0 ||
        (v && (e.val_len != vn || memcmp(e.val, v, vn) != 0)))
        s->ok = 0;
}

static void on_put(void *st, const char *k, size_t kn, const char *v, size_t vn)
{
    next_entry(st, WH_OP_PUT, k, kn, v, vn);
}

static void on_delete(void *st, const char *k, size_t kn)
{
    next_entry(st, WH_OP_KV_DELETE, k, kn, NULL, 0);
}

int main(void)
{
    char dir[512], db[600], *err = NULL;
    const char *base = getenv("WH_ROCKSDB_DIR");
    if (!base)
        base = getenv("WH_TMPDIR");
    snprintf(dir, sizeof dir, "%s/test_rdb_crosscheck.XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp", NULL);
    snprintf(db, sizeof db, "%s/db", dir);
    wh_log_set_level(WH_LOG_ERROR);

    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_WAL_ttl_seconds(o, 3600);
    rocksdb_options_set_write_buffer_size(o, 64 << 10);
    rocksdb_options_set_uint64add_merge_operator(o);
    rocksdb_t *rdb = rocksdb_open(o, db, &err);
    if (err)
        die("open", err);
    rocksdb_column_family_handle_t *cf[3];
    cf[0] = NULL;
    cf[1] = rocksdb_create_column_family(rdb, o, "one", &err);
    cf[2] = rocksdb_create_column_family(rdb, o, "two", &err);
    if (err)
        die("create_cf", err);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    uint64_t rng = 88172645463325252ull;
    long total_ops = 0;
    char key[32], val[300000];
    for (int b = 0; b < 1500; b++) {
        rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
        bool plain = b % 5 == 0;   /* default family, puts and deletes only */
        int nops = 1 + (int)(rng % 7);
        for (int i = 0; i < nops; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            int kind = plain ? (int)(rng % 2) : (int)(rng % 6);
            rocksdb_column_family_handle_t *h = plain ? NULL : cf[rng / 7 % 3];
            size_t kn = (size_t)snprintf(key, sizeof key, "key%06d", (int)(rng / 31 % 100000));
            bool big = b % 41 == 3 && i == 0;   /* records of several fragments */
            size_t vn = big ? 40000 + (size_t)(rng % 200000) : (size_t)(rng / 11 % 200);
            if (big)
                kind = 0;
            memset(val, 'a' + (int)(rng % 26), vn);
            if (kind == 4)
                vn = 8;   /* uint64add operands are 8 bytes */
            if (h) {
                switch (kind) {
                case 0: rocksdb_writebatch_put_cf(wb, h, key, kn, val, vn); break;
                case 1: rocksdb_writebatch_delete_cf(wb, h, key, kn); break;
                case 2: rocksdb_writebatch_singledelete_cf(wb, h, "sd", 2); break;
                case 3: rocksdb_writebatch_delete_range_cf(wb, h, "a", 1, key, kn); break;
                case 4: rocksdb_writebatch_merge_cf(wb, h, key, kn, val, vn); break;
                default: rocksdb_writebatch_put_log_data(wb, "note", 4); break;
                }
            } else {
                switch (kind) {
                case 0: rocksdb_writebatch_put(wb, key, kn, val, vn); break;
                case 1: rocksdb_writebatch_delete(wb, key, kn); break;
                case 2: rocksdb_writebatch_singledelete(wb, "sd", 2); break;
                case 3: rocksdb_writebatch_delete_range(wb, "a", 1, key, kn); break;
                case 4: rocksdb_writebatch_merge(wb, key, kn, val, vn); break;
                default: rocksdb_writebatch_put_log_data(wb, "note", 4); break;
                }
            }
        }
        total_ops += rocksdb_writebatch_count(wb);
        rocksdb_write(rdb, wo, wb, &err);
        if (err)
            die("write", err);
        rocksdb_writebatch_destroy(wb);
        if (b % 400 == 399) {
            rocksdb_flush_cf(rdb, fo, cf[1], &err);
            if (err)
                die("flush", err);
        }
    }

    /* RocksDB's view: every batch since sequence 0. */
    rocksdb_wal_iterator_t *it = rocksdb_get_updates_since(rdb, 0, NULL, &err);
    if (err)
        die("get_updates_since", err);
    for (; rocksdb_wal_iter_valid(it); rocksdb_wal_iter_next(it)) {
        uint64_t seq;
        rocksdb_writebatch_t *wb = rocksdb_wal_iter_get_batch(it, &seq);
        size_t n;
        const char *d = rocksdb_writebatch_data(wb, &n);
        if (ntheirs == MAX_BATCHES)
            die("iter", "too many batches");
        theirs[ntheirs].seq = seq;
        theirs[ntheirs].data = malloc(n);
        memcpy(theirs[ntheirs].data, d, n);
        theirs[ntheirs].len = n;
        ntheirs++;
        rocksdb_writebatch_destroy(wb);
    }
    rocksdb_wal_iter_status(it, &err);
    if (err)
        die("iter", err);
    rocksdb_wal_iter_destroy(it);

    read_ours(db);
    CHECK_EQ_INT(nours, ntheirs);
    CHECK(ntheirs >= 1500);
    int same = 1, counts = 1, iter_ok = 1, iterated = 0, fragmented = 0;
    long our_ops = 0;
    for (int i = 0; i < nours && i < ntheirs; i++) {
        if (ours[i].seq != theirs[i].seq || ours[i].len != theirs[i].len ||
            memcmp(ours[i].data, theirs[i].data, ours[i].len) != 0) {
            if (same)
                fprintf(stderr, "batch %d differs (seq %" PRIu64 " vs %" PRIu64 ")\n", i,
                        ours[i].seq, theirs[i].seq);
            same = 0;
        }
        fragmented += ours[i].len > 32768;
        size_t bad;
        const char *why;
        const uint8_t *p = (const uint8_t *)ours[i].data;
        CHECK_EQ_INT(rdb_batch_check(p, ours[i].len, &bad, &why), 0);
        rocksdb_writebatch_t *wb = rocksdb_writebatch_create_from(ours[i].data, ours[i].len);
        uint64_t seq;
        uint32_t count;
        rdb_batch_header(p, ours[i].len, &seq, &count);
        counts &= (int)count == rocksdb_writebatch_count(wb);
        our_ops += count;
        /* Batches whose operations are all default-family puts/deletes. */
        bool plain = true;
        for (size_t off = RDB_BATCH_HEADER; off < ours[i].len;) {
            rdb_entry e;
            long r = rdb_batch_entry(p + off, ours[i].len - off, &e, &why);
            if (r <= 0)
                break;
            off += (size_t)r;
            if (e.tag != 0x01 && e.tag != 0x00)
                plain = false;
        }
        if (plain) {
            iter_state s = { p + RDB_BATCH_HEADER, p + ours[i].len, 1, 0 };
            rocksdb_writebatch_iterate(wb, &s, on_put, on_delete);
            iter_ok &= s.ok && s.calls == (int)count;
            iterated++;
        }
        rocksdb_writebatch_destroy(wb);
    }
    CHECK(same);
    CHECK(counts);
    CHECK(iter_ok);
    CHECK(iterated > 100);
    CHECK(fragmented > 5);
    CHECK_EQ_INT(our_ops, total_ops);

    /* The mapper over the same files, while the database is open. */
    json_t *opts = json_pack("{s:s}", "db", db);
    wh_mapper *m = NULL;
    char ebuf[1024];
    CHECK_EQ_INT(wh_mapper_create("rocksdb", opts, "x", false, &m, ebuf, sizeof ebuf), 0);
    json_decref(opts);
    long seen = 0;
    int names_ok = 1;
    uint64_t last_pos = 0;
    if (m && m->ops->seek_physical(m, NULL, true, ebuf, sizeof ebuf) == 0) {
        for (;;) {
            const wh_update *u;
            int n = m->ops->next_batch(m, &u, 1000, 10, ebuf, sizeof ebuf);
            if (n < 0) {
                CHECK_EQ_INT(n, WH_ERR_EOF);
                if (n != WH_ERR_EOF)
                    fprintf(stderr, "%s\n", ebuf);
                break;
            }
            for (int i = 0; i < n; i++) {
                names_ok &= strcmp(u[i].table, "default") == 0 || strcmp(u[i].table, "one") == 0 ||
                            strcmp(u[i].table, "two") == 0;
                uint64_t pos = u[i].pos.offset + u[i].pos.index;
                names_ok &= pos > last_pos;
                last_pos = pos;
            }
            seen += n;
        }
    }
    wh_mapper_destroy(m);
    CHECK_EQ_INT(seen, total_ops);
    CHECK(names_ok);

    for (int i = 0; i < nours; i++)
        free(ours[i].data);
    for (int i = 0; i < ntheirs; i++)
        free(theirs[i].data);
    rocksdb_column_family_handle_destroy(cf[1]);
    rocksdb_column_family_handle_destroy(cf[2]);
    rocksdb_close(rdb);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_flushoptions_destroy(fo);
    rocksdb_options_destroy(o);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return check_done("test_rdb_crosscheck");
}
