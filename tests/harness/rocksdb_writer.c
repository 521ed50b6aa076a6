/* rocksdb_writer.c -- the test harness's RocksDB writer: runs a script of writes against a database.
 *
 * usage: wormhole-test-rocksdb-writer --db DIR [options] [SCRIPT]
 *
 * Reads commands, one per line, from SCRIPT (or stdin) and applies them
 * with the RocksDB C API, the way an application embedding RocksDB would.
 * For every data operation it prints one JSON line on stdout with the
 * sequence number RocksDB gave it, so that a test can build the exact
 * update stream a WAL reader must produce:
 *   {"seq":12,"index":0,"op":"put","cf":"default","key_hex":"6b31","value_hex":"76"}
 * (delete_range prints "end_hex" instead of "value_hex"; the batch's
 * sequence is seq and the operation's own sequence is seq + index.)
 * Other commands print {"event":...} lines. Output is flushed per line.
 *
 * Commands (tokens are separated by blanks; %XX in KEY/VALUE is a byte):
 *   create_cf NAME | drop_cf NAME
 *   put CF KEY VALUE | merge CF KEY VALUE | delete CF KEY
 *   single_delete CF KEY | delete_range CF BEGIN END | log_data BLOB
 *   put_big CF KEY SIZE           value of SIZE bytes (fragmented records)
 *   batch begin | batch commit    group the operations between into one batch
 *   flush [CF]                    flush memtables (all column families)
 *   random SEED N [MAXBATCH]      N random operations over the open families
 *   load CF N VLEN                keys k00000000... with VLEN-byte values, batched, no
 *                                 line per operation (prints {"event":"load"})
 *   churn CF SEED N KEYSPACE      N puts, deletes, range deletes on keys k%08u
 *   dump CF FILE                  CF's keys and values as "KEYHEX VALUEHEX" lines
 *   sleep MS | reopen | echo TEXT | # comment
 *
 * Options: --wal-ttl-seconds N, --wal-size-limit-mb N, --max-total-wal-size N,
 * --recycle-log-file-num N (RocksDB 7 recycles only with --wal-recovery-mode 3),
 * --wal-recovery-mode N, --write-buffer-size N, --sync, --no-create,
 * --disable-auto-compactions.
 *
 * Exit status 0, or 1 with the reason on stderr. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rocksdb/c.h>

#define MAX_CF 64
#define MAX_TOK 8

typedef struct writer {
    const char *path;
    rocksdb_options_t *opts;
    rocksdb_writeoptions_t *wopts;
    rocksdb_mergeoperator_t *merge;
    rocksdb_t *db;
    int ncf;
    char *cf_names[MAX_CF];
    rocksdb_column_family_handle_t *cf[MAX_CF];
    rocksdb_writebatch_t *batch;   /* open "batch begin", or NULL */
    int batch_ops;
    /* operations of the pending batch, printed once its sequence is known */
    char **pending;
    int npending, cap_pending;
    uint64_t rng;
} writer;

static void die(const char *what, char *err)
{
    fprintf(stderr, "rocksdb_writer: %s: %s\n", what, err ? err : "failed");
    exit(1);
}

/* ---- the string-append merge operator: existing,operand,operand... ---- */

static char *merge_full(void *state, const char *key, size_t klen, const char *existing,
                        size_t elen, const char *const *ops, const size_t *oplen, int n,
                        unsigned char *success, size_t *outlen)
{
    (void)state, (void)key, (void)klen;
    size_t total = existing ? elen : 0;
    for (int i = 0; i < n; i++)
        total += oplen[i] + 1;
    char *out = malloc(total + 1), *p = out;
    if (!out) {
        *success = 0;
        return NULL;
    }
    if (existing) {
        memcpy(p, existing, elen);
        p += elen;
    }
    for (int i = 0; i < n; i++) {
        if (p != out)
            *p++ = ',';
        memcpy(p, ops[i], oplen[i]);
        p += oplen[i];
    }
    *outlen = (size_t)(p - out);
    *success = 1;
    return out;
}

static char *merge_partial(void *state, const char *key, size_t klen, const char *const *ops,
                           const size_t *oplen, int n, unsigned char *success, size_t *outlen)
{
    return merge_full(state, key, klen, NULL, 0, ops, oplen, n, success, outlen);
}

static void merge_delete(void *state, const char *v, size_t n)
{
    (void)state, (void)n;
    free((void *)v);
}

static void merge_destroy(void *state) { (void)state; }
static const char *merge_name(void *state) { (void)state; return "wormhole.stringappend"; }

/* ---- output ----------------------------------------------------------- */

static void hex(char *out, const char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[(unsigned char)p[i] >> 4];
        out[2 * i + 1] = digits[(unsigned char)p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Remembers an operation of the batch being built; printed on commit. */
static void note_op(writer *w, const char *op, const char *cf, const char *k, size_t kn,
                    const char *second, const char *v, size_t vn)
{
    size_t need = 128 + strlen(cf) + 2 * kn + 2 * vn;
    char *line = malloc(need), *kh = malloc(2 * kn + 1), *vh = malloc(2 * vn + 1);
    if (!line || !kh || !vh)
        die("note_op", "out of memory");
    hex(kh, k, kn);
    if (second) {
        hex(vh, v, vn);
        snprintf(line, need, "\"op\":\"%s\",\"cf\":\"%s\",\"key_hex\":\"%s\",\"%s\":\"%s\"}",
                 op, cf, kh, second, vh);
    } else {
        snprintf(line, need, "\"op\":\"%s\",\"cf\":\"%s\",\"key_hex\":\"%s\"}", op, cf, kh);
    }
    free(kh);
    free(vh);
    if (w->npending == w->cap_pending) {
        w->cap_pending = w->cap_pending ? 2 * w->cap_pending : 64;
        w->pending = realloc(w->pending, (size_t)w->cap_pending * sizeof *w->pending);
        if (!w->pending)
            die("note_op", "out of memory");
    }
    w->pending[w->npending++] = line;
}

static void write_batch(writer *w, rocksdb_writebatch_t *b)
{
    char *err = NULL;
    int count = rocksdb_writebatch_count(b);
    rocksdb_write(w->db, w->wopts, b, &err);
    if (err)
        die("write", err);
    uint64_t last = rocksdb_get_latest_sequence_number(w->db);
    uint64_t seq = last - (uint64_t)count + 1;
    for (int i = 0; i < w->npending; i++) {
        printf("{\"seq\":%" PRIu64 ",\"index\":%d,%s\n", seq, i, w->pending[i]);
        free(w->pending[i]);
    }
    w->npending = 0;
    fflush(stdout);
}

/* ---- database --------------------------------------------------------- */

static int find_cf(writer *w, const char *name)
{
    for (int i = 0; i < w->ncf; i++)
        if (strcmp(w->cf_names[i], name) == 0)
            return i;
    fprintf(stderr, "rocksdb_writer: unknown column family '%s'\n", name);
    exit(1);
}

static void open_db(writer *w)
{
    char *err = NULL;
    size_t n = 0;
    char **names = rocksdb_list_column_families(w->opts, w->path, &n, &err);
    if (err) {
        /* A new database has only "default". (The C API returns an
         * empty allocation even then.) */
        free(err);
        err = NULL;
        free(names);
        names = NULL;
        n = 0;
    }
    w->ncf = 0;
    const char *list[MAX_CF];
    const rocksdb_options_t *cfo[MAX_CF];
    if (n == 0) {
        list[0] = "default";
        cfo[0] = w->opts;
        n = 1;
    } else {
        if (n > MAX_CF)
            die("open", "too many column families");
        for (size_t i = 0; i < n; i++) {
            list[i] = names[i];
            cfo[i] = w->opts;
        }
    }
    w->db = rocksdb_open_column_families(w->opts, w->path, (int)n, list, cfo, w->cf, &err);
    if (err)
        die("open", err);
    for (size_t i = 0; i < n; i++)
        w->cf_names[i] = strdup(list[i]);
    w->ncf = (int)n;
    if (names)
        rocksdb_list_column_families_destroy(names, n);
}

static void close_db(writer *w)
{
    for (int i = 0; i < w->ncf; i++) {
        rocksdb_column_family_handle_destroy(w->cf[i]);
        free(w->cf_names[i]);
    }
    w->ncf = 0;
    rocksdb_close(w->db);
    w->db = NULL;
}

/* Decodes %XX escapes in place. Returns the length. */
static size_t unescape(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '%' && p[1] && p[2]) {
            char h[3] = { p[1], p[2], 0 };
            *o++ = (char)strtol(h, NULL, 16);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return (size_t)(o - s);
}

static uint64_t rnd(writer *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

/* Adds one operation to the open batch, or writes it alone. */
static void do_op(writer *w, const char *op, const char *cfname, char *k, size_t kn, char *v,
                  size_t vn)
{
    int ci = find_cf(w, cfname);
    rocksdb_column_family_handle_t *cf = w->cf[ci];
    rocksdb_writebatch_t *b = w->batch ? w->batch : rocksdb_writebatch_create();
    if (strcmp(op, "put") == 0) {
        rocksdb_writebatch_put_cf(b, cf, k, kn, v, vn);
        note_op(w, op, cfname, k, kn, "value_hex", v, vn);
    } else if (strcmp(op, "merge") == 0) {
        rocksdb_writebatch_merge_cf(b, cf, k, kn, v, vn);
        note_op(w, op, cfname, k, kn, "value_hex", v, vn);
    } else if (strcmp(op, "delete") == 0) {
        rocksdb_writebatch_delete_cf(b, cf, k, kn);
        note_op(w, op, cfname, k, kn, NULL, NULL, 0);
    } else if (strcmp(op, "single_delete") == 0) {
        rocksdb_writebatch_singledelete_cf(b, cf, k, kn);
        note_op(w, op, cfname, k, kn, NULL, NULL, 0);
    } else if (strcmp(op, "delete_range") == 0) {
        rocksdb_writebatch_delete_range_cf(b, cf, k, kn, v, vn);
        note_op(w, op, cfname, k, kn, "end_hex", v, vn);
    }
    if (!w->batch) {
        write_batch(w, b);
        rocksdb_writebatch_destroy(b);
    }
}

static void random_ops(writer *w, uint64_t seed, long n, long maxbatch)
{
    static const char *ops[] = { "put", "put", "put", "put", "merge", "delete",
                                 "single_delete", "delete_range" };
    w->rng = seed * 0x9e3779b97f4a7c15ull + 1;
    bool own = !w->batch;
    long left = n;
    while (left > 0) {
        long bn = maxbatch > 1 ? 1 + (long)(rnd(w) % (uint64_t)maxbatch) : 1;
        if (bn > left)
            bn = left;
        if (own && bn > 1)
            w->batch = rocksdb_writebatch_create();
        for (long i = 0; i < bn; i++) {
            const char *op = ops[rnd(w) % 8];
            const char *cf = w->cf_names[rnd(w) % (uint64_t)w->ncf];
            char k[32], v[80];
            /* Single deletes get keys of their own: RocksDB forbids mixing
             * them with deletes, merges or repeated puts of a key. */
            size_t kn = (size_t)snprintf(k, sizeof k, "%c%05u",
                                         strcmp(op, "single_delete") == 0 ? 's' : 'k',
                                         (unsigned)(rnd(w) % 2000));
            size_t vn = 1 + rnd(w) % 60;
            for (size_t j = 0; j < vn; j++)
                v[j] = (char)('a' + rnd(w) % 26);
            if (strcmp(op, "delete_range") == 0) {
                /* RocksDB wants begin <= end: a short range after the key. */
                unsigned a = (unsigned)(rnd(w) % 2000);
                kn = (size_t)snprintf(k, sizeof k, "k%05u", a);
                vn = (size_t)snprintf(v, sizeof v, "k%05u", a + 1 + (unsigned)(rnd(w) % 20));
            }
            do_op(w, op, cf, k, kn, v, vn);
        }
        if (own && bn > 1) {
            write_batch(w, w->batch);
            rocksdb_writebatch_destroy(w->batch);
            w->batch = NULL;
        }
        left -= bn;
    }
}

/* load CF N VLEN: keys k00000000.. in order, values of VLEN bytes, in
 * batches of 1000, without a line per operation (a bulk load). */
static void load(writer *w, const char *cfname, long n, long vlen)
{
    rocksdb_column_family_handle_t *cf = w->cf[find_cf(w, cfname)];
    char k[32], v[256];
    if (vlen < 10 || vlen > (long)sizeof v)
        die("load", "VLEN must be 10..256");
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    for (long i = 0; i < n; i++) {
        int kn = snprintf(k, sizeof k, "k%08ld", i);
        int vn = snprintf(v, sizeof v, "v%08ld-", i);
        for (long j = vn; j < vlen; j++)
            v[j] = (char)('a' + (i + j) % 26);
        rocksdb_writebatch_put_cf(b, cf, k, (size_t)kn, v, (size_t)vlen);
        if (rocksdb_writebatch_count(b) == 1000 || i + 1 == n) {
            char *err = NULL;
            rocksdb_write(w->db, w->wopts, b, &err);
            if (err)
                die("load", err);
            rocksdb_writebatch_clear(b);
        }
    }
    rocksdb_writebatch_destroy(b);
    printf("{\"event\":\"load\",\"n\":%ld,\"last_seq\":%" PRIu64 "}\n", n,
           rocksdb_get_latest_sequence_number(w->db));
}

/* churn CF SEED N KEYSPACE: N puts, deletes and short range deletes on keys
 * k%08u below KEYSPACE plus a tenth past it (new keys), in batches of 1..4. */
static void churn(writer *w, const char *cf, uint64_t seed, long n, unsigned space)
{
    w->rng = seed * 0x9e3779b97f4a7c15ull + 7;
    unsigned span = space + space / 10 + 1;
    for (long left = n; left > 0;) {
        long bn = 1 + (long)(rnd(w) % 4);
        bn = bn > left ? left : bn;
        if (bn > 1)
            w->batch = rocksdb_writebatch_create();
        for (long i = 0; i < bn; i++) {
            unsigned r = (unsigned)(rnd(w) % 10), a = (unsigned)(rnd(w) % span);
            char k[32], v[80];
            size_t kn = (size_t)snprintf(k, sizeof k, "k%08u", a), vn;
            if (r < 6) {
                vn = (size_t)snprintf(v, sizeof v, "c%" PRIu64, rnd(w) % 1000000);
                do_op(w, "put", cf, k, kn, v, vn);
            } else if (r < 9) {
                do_op(w, "delete", cf, k, kn, NULL, 0);
            } else {
                vn = (size_t)snprintf(v, sizeof v, "k%08u", a + 1 + (unsigned)(rnd(w) % 20));
                do_op(w, "delete_range", cf, k, kn, v, vn);
            }
        }
        if (bn > 1) {
            write_batch(w, w->batch);
            rocksdb_writebatch_destroy(w->batch);
            w->batch = NULL;
        }
        left -= bn;
    }
}

/* dump CF FILE: every key and value of CF, in order, as "KEYHEX VALUEHEX" lines. */
static void dump(writer *w, const char *cfname, const char *path)
{
    rocksdb_column_family_handle_t *cf = w->cf[find_cf(w, cfname)];
    FILE *f = fopen(path, "w");
    if (!f)
        die("dump", strerror(errno));
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(w->db, ro, cf);
    long n = 0;
    char *kh = NULL, *vh = NULL;
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it), n++) {
        size_t kn, vn;
        const char *k = rocksdb_iter_key(it, &kn), *v = rocksdb_iter_value(it, &vn);
        kh = realloc(kh, 2 * kn + 1);
        vh = realloc(vh, 2 * vn + 1);
        if (!kh || !vh)
            die("dump", "out of memory");
        hex(kh, k, kn);
        hex(vh, v, vn);
        fprintf(f, "%s %s\n", kh, vh);
    }
    free(kh);
    free(vh);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    if (fclose(f) != 0)
        die("dump", strerror(errno));
    printf("{\"event\":\"dump\",\"cf\":\"%s\",\"n\":%ld}\n", cfname, n);
}

static void flush(writer *w)
{
    char *err = NULL;
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    for (int i = 0; i < w->ncf; i++) {
        rocksdb_flush_cf(w->db, fo, w->cf[i], &err);
        if (err)
            die("flush", err);
    }
    rocksdb_flushoptions_destroy(fo);
}

static void run_line(writer *w, char *line)
{
    char *tok[MAX_TOK];
    int nt = 0;
    for (char *save = NULL, *t = strtok_r(line, " \t\r\n", &save); t && nt < MAX_TOK;
         t = strtok_r(NULL, " \t\r\n", &save))
        tok[nt++] = t;
    if (nt == 0 || tok[0][0] == '#')
        return;
    const char *c = tok[0];
    char *err = NULL;
    if (strcmp(c, "create_cf") == 0 && nt == 2) {
        if (w->ncf == MAX_CF)
            die("create_cf", "too many column families");
        w->cf[w->ncf] = rocksdb_create_column_family(w->db, w->opts, tok[1], &err);
        if (err)
            die("create_cf", err);
        w->cf_names[w->ncf++] = strdup(tok[1]);
        printf("{\"event\":\"create_cf\",\"cf\":\"%s\"}\n", tok[1]);
    } else if (strcmp(c, "drop_cf") == 0 && nt == 2) {
        int i = find_cf(w, tok[1]);
        rocksdb_drop_column_family(w->db, w->cf[i], &err);
        if (err)
            die("drop_cf", err);
        rocksdb_column_family_handle_destroy(w->cf[i]);
        free(w->cf_names[i]);
        w->cf[i] = w->cf[w->ncf - 1];
        w->cf_names[i] = w->cf_names[w->ncf - 1];
        w->ncf--;
        printf("{\"event\":\"drop_cf\",\"cf\":\"%s\"}\n", tok[1]);
    } else if ((strcmp(c, "put") == 0 || strcmp(c, "merge") == 0 ||
                strcmp(c, "delete_range") == 0) && nt == 4) {
        size_t kn = unescape(tok[2]), vn = unescape(tok[3]);
        do_op(w, c, tok[1], tok[2], kn, tok[3], vn);
    } else if ((strcmp(c, "delete") == 0 || strcmp(c, "single_delete") == 0) && nt == 3) {
        size_t kn = unescape(tok[2]);
        do_op(w, c, tok[1], tok[2], kn, NULL, 0);
    } else if (strcmp(c, "put_big") == 0 && nt == 4) {
        size_t kn = unescape(tok[2]);
        size_t size = strtoul(tok[3], NULL, 10);
        char *v = malloc(size + 1);
        if (!v)
            die("put_big", "out of memory");
        for (size_t i = 0; i < size; i++)
            v[i] = (char)('a' + i % 26);
        do_op(w, "put", tok[1], tok[2], kn, v, size);
        free(v);
    } else if (strcmp(c, "log_data") == 0 && nt == 2) {
        size_t n = unescape(tok[1]);
        rocksdb_writebatch_t *b = w->batch ? w->batch : rocksdb_writebatch_create();
        rocksdb_writebatch_put_log_data(b, tok[1], n);
        if (!w->batch) {
            rocksdb_write(w->db, w->wopts, b, &err);
            if (err)
                die("write", err);
            rocksdb_writebatch_destroy(b);
        }
    } else if (strcmp(c, "batch") == 0 && nt == 2 && strcmp(tok[1], "begin") == 0) {
        if (w->batch)
            die("batch begin", "a batch is already open");
        w->batch = rocksdb_writebatch_create();
    } else if (strcmp(c, "batch") == 0 && nt == 2 && strcmp(tok[1], "commit") == 0) {
        if (!w->batch)
            die("batch commit", "no batch is open");
        write_batch(w, w->batch);
        rocksdb_writebatch_destroy(w->batch);
        w->batch = NULL;
    } else if (strcmp(c, "flush") == 0) {
        flush(w);
        printf("{\"event\":\"flush\"}\n");
    } else if (strcmp(c, "random") == 0 && (nt == 3 || nt == 4)) {
        random_ops(w, strtoull(tok[1], NULL, 10), strtol(tok[2], NULL, 10),
                   nt == 4 ? strtol(tok[3], NULL, 10) : 1);
    } else if (strcmp(c, "load") == 0 && nt == 4) {
        load(w, tok[1], strtol(tok[2], NULL, 10), strtol(tok[3], NULL, 10));
    } else if (strcmp(c, "churn") == 0 && nt == 5) {
        churn(w, tok[1], strtoull(tok[2], NULL, 10), strtol(tok[3], NULL, 10),
              (unsigned)strtoul(tok[4], NULL, 10));
    } else if (strcmp(c, "dump") == 0 && nt == 3) {
        dump(w, tok[1], tok[2]);
    } else if (strcmp(c, "sleep") == 0 && nt == 2) {
        long ms = strtol(tok[1], NULL, 10);
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    } else if (strcmp(c, "reopen") == 0 && nt == 1) {
        close_db(w);
        open_db(w);
        printf("{\"event\":\"reopen\",\"last_seq\":%" PRIu64 "}\n",
               rocksdb_get_latest_sequence_number(w->db));
    } else if (strcmp(c, "echo") == 0) {
        printf("{\"event\":\"echo\",\"text\":\"%s\"}\n", nt > 1 ? tok[1] : "");
    } else {
        fprintf(stderr, "rocksdb_writer: bad command '%s' (%d words)\n", c, nt);
        exit(1);
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    enum { O_TTL = 256, O_SIZE, O_MAXWAL, O_RECYCLE, O_WBS, O_SYNC, O_NOCREATE, O_NOCOMPACT,
           O_RECOVERY };
    static const struct option longopts[] = {
        { "db", required_argument, NULL, 'd' },
        { "wal-ttl-seconds", required_argument, NULL, O_TTL },
        { "wal-size-limit-mb", required_argument, NULL, O_SIZE },
        { "max-total-wal-size", required_argument, NULL, O_MAXWAL },
        { "recycle-log-file-num", required_argument, NULL, O_RECYCLE },
        { "write-buffer-size", required_argument, NULL, O_WBS },
        { "wal-recovery-mode", required_argument, NULL, O_RECOVERY },
        { "sync", no_argument, NULL, O_SYNC },
        { "no-create", no_argument, NULL, O_NOCREATE },
        { "disable-auto-compactions", no_argument, NULL, O_NOCOMPACT },
        { NULL, 0, NULL, 0 },
    };
    writer w = { 0 };
    w.opts = rocksdb_options_create();
    w.wopts = rocksdb_writeoptions_create();
    rocksdb_options_set_create_if_missing(w.opts, 1);
    rocksdb_options_set_create_missing_column_families(w.opts, 1);
    w.merge = rocksdb_mergeoperator_create(NULL, merge_destroy, merge_full, merge_partial,
                                           merge_delete, merge_name);
    rocksdb_options_set_merge_operator(w.opts, w.merge);
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': w.path = optarg; break;
        case O_TTL: rocksdb_options_set_WAL_ttl_seconds(w.opts, strtoull(optarg, NULL, 10)); break;
        case O_SIZE: rocksdb_options_set_WAL_size_limit_MB(w.opts, strtoull(optarg, NULL, 10)); break;
        case O_MAXWAL: rocksdb_options_set_max_total_wal_size(w.opts, strtoull(optarg, NULL, 10)); break;
        case O_RECYCLE: rocksdb_options_set_recycle_log_file_num(w.opts, strtoul(optarg, NULL, 10)); break;
        case O_WBS: rocksdb_options_set_write_buffer_size(w.opts, strtoul(optarg, NULL, 10)); break;
        case O_RECOVERY: rocksdb_options_set_wal_recovery_mode(w.opts, atoi(optarg)); break;
        case O_SYNC: rocksdb_writeoptions_set_sync(w.wopts, 1); break;
        case O_NOCREATE: rocksdb_options_set_create_if_missing(w.opts, 0); break;
        case O_NOCOMPACT: rocksdb_options_set_disable_auto_compactions(w.opts, 1); break;
        default:
            fprintf(stderr, "usage: %s --db DIR [options] [SCRIPT]\n", argv[0]);
            return 2;
        }
    }
    if (!w.path || argc - optind > 1) {
        fprintf(stderr, "usage: %s --db DIR [options] [SCRIPT]\n", argv[0]);
        return 2;
    }
    FILE *in = stdin;
    if (optind < argc && !(in = fopen(argv[optind], "r"))) {
        fprintf(stderr, "rocksdb_writer: cannot open %s: %s\n", argv[optind], strerror(errno));
        return 1;
    }
    open_db(&w);
    printf("{\"event\":\"open\",\"last_seq\":%" PRIu64 "}\n",
           rocksdb_get_latest_sequence_number(w.db));
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0)
        run_line(&w, line);
    free(line);
    if (in != stdin)
        fclose(in);
    if (w.batch)
        die("end of script", "a batch was begun and never committed");
    close_db(&w);
    printf("{\"event\":\"close\"}\n");
    rocksdb_writeoptions_destroy(w.wopts);
    rocksdb_options_destroy(w.opts);   /* owns the merge operator */
    free(w.pending);
    return 0;
}
