/* bench_rocksdb_wal.c -- decode throughput of the rocksdb mapper on a WAL of millions of operations.
 *
 * usage: bench_rocksdb_wal [--ops N] [--batch K] [--value-size V] [--json] [--no-compare]
 *                          [--keep DIR | --reuse DIR]
 *
 * A child process writes N operations (puts, with 1 in 16 a delete and 1 in
 * 16 a merge, over 3 column families, K per write batch) into a fresh
 * database whose memtables never flush, so everything stays in the WAL.
 * The parent then reads the whole WAL through the mapper (as wormhole-logcat
 * does, without follow) and prints operations per second of CPU time, MB/s
 * of WAL and the peak RSS of the reading process. With --json each update
 * is also rendered as its JSON line. Unless --no-compare, it also times
 * RocksDB's own rocksdb_get_updates_since over the same WAL (in a child, so
 * that RocksDB's memory does not count against the mapper). --keep DIR
 * writes the database into DIR and keeps it; --reuse DIR reads one written
 * so before (with the same --ops) without writing, for profiling. */
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "bench/bench_util.h"
#include "core/buf.h"
#include "core/crc32c.h"
#include "core/update_json.h"
#include "mappers/mapper.h"

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench_rocksdb_wal: %s: %s\n", what, err ? err : "failed");
    exit(1);
}

static rocksdb_options_t *db_options(void)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_create_missing_column_families(o, 1);
    rocksdb_options_set_write_buffer_size(o, (size_t)4 << 30);
    rocksdb_options_set_db_write_buffer_size(o, (size_t)16 << 30);
    rocksdb_options_set_max_total_wal_size(o, (uint64_t)64 << 30);
    rocksdb_options_set_disable_auto_compactions(o, 1);
    rocksdb_options_set_uint64add_merge_operator(o);
    return o;
}

static const char *cf_names[] = { "default", "users", "orders" };

static void write_db(const char *db, long ops, int batch, int vsize)
{
    char *err = NULL;
    rocksdb_options_t *o = db_options();
    const rocksdb_options_t *cfo[3] = { o, o, o };
    rocksdb_column_family_handle_t *cf[3];
    rocksdb_t *rdb = rocksdb_open_column_families(o, db, 3, cf_names, cfo, cf, &err);
    if (err)
        die("open", err);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    char key[32], *val = malloc((size_t)vsize + 8);
    for (int i = 0; i < vsize; i++)
        val[i] = (char)('a' + i % 26);
    uint64_t rng = 0x2545f4914f6cdd1dull;
    for (long i = 0; i < ops; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        rocksdb_column_family_handle_t *h = cf[rng % 3];
        int kn = snprintf(key, sizeof key, "key%013" PRIu64, rng >> 20);
        switch ((rng >> 8) % 16) {
        case 0: rocksdb_writebatch_delete_cf(wb, h, key, (size_t)kn); break;
        case 1: rocksdb_writebatch_merge_cf(wb, h, key, (size_t)kn, val, 8); break;
        default: rocksdb_writebatch_put_cf(wb, h, key, (size_t)kn, val, (size_t)vsize);
        }
        if ((i + 1) % batch == 0 || i + 1 == ops) {
            rocksdb_write(rdb, wo, wb, &err);
            if (err)
                die("write", err);
            rocksdb_writebatch_clear(wb);
        }
    }
    rocksdb_writebatch_destroy(wb);
    rocksdb_writeoptions_destroy(wo);
    for (int i = 0; i < 3; i++)
        rocksdb_column_family_handle_destroy(cf[i]);
    rocksdb_close(rdb);
    rocksdb_options_destroy(o);
    free(val);
}

static uint64_t wal_bytes(const char *db)
{
    uint64_t total = 0;
    DIR *d = opendir(db);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n > 4 && strcmp(de->d_name + n - 4, ".log") == 0) {
            char p[8400];
            struct stat st;
            snprintf(p, sizeof p, "%s/%s", db, de->d_name);
            if (stat(p, &st) == 0)
                total += (uint64_t)st.st_size;
        }
    }
    if (d)
        closedir(d);
    return total;
}

/* RocksDB's own reader over the same WAL, for comparison. */
static void compare_rocksdb(const char *db, long ops)
{
    char *err = NULL;
    rocksdb_options_t *o = db_options();
    const rocksdb_options_t *cfo[3] = { o, o, o };
    rocksdb_column_family_handle_t *cf[3];
    rocksdb_options_set_WAL_ttl_seconds(o, 3600);
    rocksdb_t *rdb = rocksdb_open_column_families(o, db, 3, cf_names, cfo, cf, &err);
    if (err)
        die("reopen", err);
    double c0 = bench_now(CLOCK_PROCESS_CPUTIME_ID), w0 = bench_now(CLOCK_MONOTONIC);
    rocksdb_wal_iterator_t *it = rocksdb_get_updates_since(rdb, 0, NULL, &err);
    if (err)
        die("get_updates_since", err);
    long n = 0;
    for (; rocksdb_wal_iter_valid(it); rocksdb_wal_iter_next(it)) {
        uint64_t seq;
        rocksdb_writebatch_t *wb = rocksdb_wal_iter_get_batch(it, &seq);
        n += rocksdb_writebatch_count(wb);
        rocksdb_writebatch_destroy(wb);
    }
    rocksdb_wal_iter_destroy(it);
    double cpu = bench_now(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = bench_now(CLOCK_MONOTONIC) - w0;
    printf("rocksdb_get_updates_since (batches only, no per-operation decoding): %ld ops in "
           "%.3f s CPU (%.3f s wall): %.2f M ops/s per core\n", n, cpu, wall, n / cpu / 1e6);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("  peak RSS of that process (the opened database replays the WAL into memtables): "
           "%.1f MB\n", ru.ru_maxrss / 1024.0);
    if (n < ops)
        printf("  (note: it returned %ld of %ld operations)\n", n, ops);
    for (int i = 0; i < 3; i++)
        rocksdb_column_family_handle_destroy(cf[i]);
    rocksdb_close(rdb);
    rocksdb_options_destroy(o);
}

int main(int argc, char **argv)
{
    long ops = 1000000;
    const char *keep = NULL, *reuse = NULL;
    int batch = 1, vsize = 100, json = 0, compare = 1;
    static const struct option longopts[] = {
        { "ops", required_argument, NULL, 'n' },
        { "batch", required_argument, NULL, 'b' },
        { "value-size", required_argument, NULL, 'v' },
        { "json", no_argument, NULL, 'j' },
        { "no-compare", no_argument, NULL, 'c' },
        { "keep", required_argument, NULL, 'k' },
        { "reuse", required_argument, NULL, 'r' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': ops = atol(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 'v': vsize = atoi(optarg); break;
        case 'j': json = 1; break;
        case 'c': compare = 0; break;
        case 'k': keep = optarg; break;
        case 'r': reuse = optarg; break;
        default:
            fprintf(stderr, "usage: %s [--ops N] [--batch K] [--value-size V] [--json] "
                    "[--no-compare]\n", argv[0]);
            return 2;
        }
    }
    if (ops < 1 || batch < 1 || vsize < 8)
        die("usage", "--ops and --batch must be positive, --value-size at least 8");
    char dir[4096], db[4200];
    const char *base = getenv("TMPDIR");
    if (keep || reuse) {
        snprintf(dir, sizeof dir, "%s", keep ? keep : reuse);
        mkdir(dir, 0755);
    } else {
        snprintf(dir, sizeof dir, "%s/bench_rocksdb_wal.XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(dir))
            die("mkdtemp", dir);
    }
    snprintf(db, sizeof db, "%s/db", dir);
    int status;
    pid_t pid;
    if (!reuse) {
        printf("writing %ld operations (%d per batch, %d-byte values, 3 column families)...\n",
               ops, batch, vsize);
        fflush(stdout);
        double w0 = bench_now(CLOCK_MONOTONIC);
        pid = fork();
        if (pid == 0) {
            write_db(db, ops, batch, vsize);
            _exit(0);
        }
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            die("writer", "the writing child failed");
        printf("wrote in %.1f s\n", bench_now(CLOCK_MONOTONIC) - w0);
    }
    uint64_t bytes = wal_bytes(db);
    printf("WAL: %.1f MB\n", bytes / 1e6);

    json_t *opt = json_pack("{s:s}", "db", db);
    wh_mapper *m = NULL;
    char err[1024];
    if (wh_mapper_create("rocksdb", opt, "bench", false, &m, err, sizeof err) != 0 ||
        m->ops->seek_physical(m, NULL, true, err, sizeof err) != 0)
        die("mapper", err);
    json_decref(opt);
    wh_buf line = WH_BUF_INIT;
    long n = 0;
    uint64_t sum = 0;
    double c0 = bench_now(CLOCK_PROCESS_CPUTIME_ID), t0 = bench_now(CLOCK_MONOTONIC);
    for (;;) {
        const wh_update *u;
        int k = m->ops->next_batch(m, &u, 4096, 0, err, sizeof err);
        if (k == WH_ERR_EOF)
            break;
        if (k < 0)
            die("next_batch", err);
        for (int i = 0; i < k; i++) {
            /* Touch what a consumer would: the key and the value. */
            const wh_row *r = &u[i].after;
            sum += r->values[0].len + (unsigned char)r->values[0].str[0];
            if (r->count > 1)
                sum += r->values[1].len;
            if (json) {
                wh_buf_reset(&line);
                wh_update_to_json(&u[i], &line);
                sum += line.len;
            }
        }
        n += k;
    }
    double cpu = bench_now(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = bench_now(CLOCK_MONOTONIC) - t0;
    wh_mapper_destroy(m);
    wh_buf_free(&line);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("rocksdb mapper%s: %ld ops in %.3f s CPU (%.3f s wall)\n",
           json ? " + JSON rendering" : "", n, cpu, wall);
    printf("  %.2f M ops/s per core, %.0f MB/s of WAL, peak RSS %.1f MB, crc32c %s "
           "(checksum %" PRIu64 ")\n", n / cpu / 1e6, bytes / cpu / 1e6, ru.ru_maxrss / 1024.0,
           wh_crc32c_hw() ? "sse4.2" : "table", sum);
    if (n != ops)
        die("check", "the mapper did not read every operation");

    if (compare && !reuse) {
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            compare_rocksdb(db, ops);
            fflush(stdout);
            _exit(0);
        }
        waitpid(pid, &status, 0);
    }
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (!keep && !reuse && system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return 0;
}
