/* rdb_mapper.c -- the rocksdb positions mapper: WAL files to updates (docs/ROCKSDB.md).
 *
 * The mapper reads the WAL files of a database that another process has
 * open for writing, straight from disk: live ones in the WAL directory and
 * archived ones in its archive/ subdirectory, in log-number order. Each
 * record is a write batch; each data operation in it becomes one update.
 * Positions are RocksDB sequence numbers: the batch's sequence plus the
 * operation's index in the batch, which is also the operation's own
 * sequence number.
 *
 * Tailing: at the end of the newest WAL the mapper waits on inotify (the
 * WAL directory) with a bounded poll as a fallback, re-reading only what is
 * new. A WAL is finished once a newer one exists; only then is an incomplete
 * record at its end an error (or, if the next WAL continues the sequence
 * exactly, a torn write that RocksDB's own recovery dropped too). */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/errbuf.h"
#include "core/intfmt.h"
#include "core/log.h"
#include "mappers/rocksdb/rdb_batch.h"
#include "mappers/rocksdb/rdb_manifest.h"
#include "mappers/rocksdb/rdb_mapper.h"
#include "mappers/rocksdb/rdb_row.h"
#include "mappers/rocksdb/rdb_wal.h"

/* ---- options -------------------------------------------------------------- */

static const wh_cfg_field rdb_fields[] = {
    { "db", WH_CFG_STRING, offsetof(rdb_opts, db), NULL, 1, 0,
      "The RocksDB database directory (the one holding CURRENT and the MANIFEST)." },
    { "wal_dir", WH_CFG_STRING, offsetof(rdb_opts, wal_dir), "\"\"", 1, 0,
      "Directory of the WAL files when the writer sets its wal_dir option; empty means db." },
    { "value_format", WH_CFG_STRING, offsetof(rdb_opts, value_format), "\"raw\"", 1, 0,
      "raw: values are bytes; json: the top-level fields of JSON object values become "
      "update keys (other values are delivered raw and flagged)." },
    { "max_batch_bytes", WH_CFG_INT, offsetof(rdb_opts, max_batch_bytes), "67108864",
      65536, 4294967295LL,
      "Largest write batch the mapper will hold in memory; a larger one is an error." },
    { "read_buffer_bytes", WH_CFG_INT, offsetof(rdb_opts, read_buffer_bytes), "1048576",
      65536, 1073741824,
      "Size of the window through which WAL files are read." },
    { "poll_interval_ms", WH_CFG_INT, offsetof(rdb_opts, poll_interval_ms), "50", 1, 10000,
      "How often to look for new WAL data when inotify is not available." },
    { "secondary_dir", WH_CFG_STRING, offsetof(rdb_opts, secondary_dir), "\"\"", 1, 0,
      "Bootstrap only: where the secondary instance through which column families are "
      "read gets a directory of its own (wh-rdb-secondary-XXXXXX, its info log; removed "
      "when the reader closes); empty means $TMPDIR or /tmp (docs/BOOTSTRAP.md)." },
    { NULL, 0, 0, NULL, 0, 0, NULL },
};

/* ---- state ------------------------------------------------------------------ */

typedef struct walfile {
    uint64_t number;
    bool     archived;
} walfile;

#define N_ASM 2

typedef struct rdb_mapper {
    wh_mapper   base;
    rdb_opts    opt;
    const char *shard;
    bool        json;
    char       *wal_dir;
    char       *archive_dir;
    rdb_cfmap  *cfs;
    uint32_t    last_cf;          /* one-entry cache of the cf map */
    const char *last_cf_name;

    int         ino_fd;           /* inotify on the WAL directory, or -1 */
    int         ino_archive_wd;   /* watch on archive/, or -1 */

    walfile    *files;            /* last directory scan, by number */
    size_t      nfiles, files_cap;

    rdb_wal    *cur;              /* WAL being read, or NULL before the first */
    uint64_t    cur_number;       /* its number (0: none yet) */
    bool        newer_seen;       /* a newer WAL existed at the last end of cur */
    bool        cur_torn;         /* cur ends in an incomplete record */
    uint64_t    torn_off;

    bool        seeked;
    bool        have_target;      /* skip operations with sequence < target */
    uint64_t    target;
    bool        check_first;      /* the first batch read must not start after target */
    bool        have_expect;      /* the next batch must start at expect */
    uint64_t    expect;
    uint64_t    expect_wal;       /* where expect came from (WAL number, offset), */
    uint64_t    expect_off;       /* for messages */

    /* the batch being delivered */
    bool           in_batch;
    const uint8_t *bdata;
    size_t         blen, boff;
    int            bwhere;        /* RDB_IN_WINDOW or RDB_IN_SINK */
    int            basm;          /* asm buffer index if RDB_IN_SINK */
    uint64_t       bseq;
    uint32_t       bcount, bindex;
    uint64_t       boffset;       /* file offset of the record, for messages */
    const char    *bseqstr;       /* arena copy of bseq in decimal, this call */

    wh_buf      asmb[N_ASM];
    bool        asm_used[N_ASM];  /* referenced by updates of this call */
    bool        win_used;         /* window referenced by updates of this call */

    int         pending_err;      /* failure met after updates of the same call */
    char        pending_msg[1024];

    wh_arena    arena;
    wh_update  *ups;
    wh_value   *vals;
    size_t      ups_cap;
} rdb_mapper;


/* ---- directory --------------------------------------------------------------- */

/* "000123.log" -> 123. Returns false for other names. */
static bool parse_wal_name(const char *name, uint64_t *number)
{
    size_t n = strlen(name);
    if (n < 5 || n > 40 || strcmp(name + n - 4, ".log") != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n - 4; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *number = v;
    return true;
}

static int add_file(rdb_mapper *m, uint64_t number, bool archived)
{
    for (size_t i = 0; i < m->nfiles; i++)
        if (m->files[i].number == number)
            return 0;   /* moving to archive/ between the two listings */
    if (m->nfiles == m->files_cap) {
        size_t cap = m->files_cap ? m->files_cap * 2 : 16;
        walfile *f = realloc(m->files, cap * sizeof *f);
        if (!f)
            return WH_ERR_NOMEM;
        m->files = f;
        m->files_cap = cap;
    }
    m->files[m->nfiles++] = (walfile){ number, archived };
    return 0;
}

static int cmp_walfile(const void *a, const void *b)
{
    uint64_t x = ((const walfile *)a)->number, y = ((const walfile *)b)->number;
    return x < y ? -1 : x > y;
}

static int scan_one(rdb_mapper *m, const char *dir, bool archived, char *errbuf, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (archived && errno == ENOENT)
            return 0;
        return wh_seterr(errbuf, errlen, errno == ENOENT ? WH_ERR_NOT_FOUND : WH_ERR_IO,
                         "cannot list the WAL directory %s: %s", dir, strerror(errno));
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        uint64_t number;
        if (parse_wal_name(de->d_name, &number) && (rc = add_file(m, number, archived)) != 0)
            break;
    }
    closedir(d);
    if (rc)
        return wh_seterr(errbuf, errlen, rc, "out of memory listing %s", dir);
    return 0;
}

/* Lists the WAL files (live first, so that a file seen in both places
 * during its move to archive/ counts as live), sorted by number. */
static int scan_dir(rdb_mapper *m, char *errbuf, size_t errlen)
{
    m->nfiles = 0;
    int rc = scan_one(m, m->wal_dir, false, errbuf, errlen);
    if (rc == 0)
        rc = scan_one(m, m->archive_dir, true, errbuf, errlen);
    if (rc == 0 && m->nfiles > 1)
        qsort(m->files, m->nfiles, sizeof *m->files, cmp_walfile);
    return rc;
}

/* Opens WAL number, wherever it is now. WH_ERR_NOT_FOUND if it is gone. */
static int open_wal(rdb_mapper *m, uint64_t number, rdb_wal **out, char *errbuf, size_t errlen)
{
    char path[4096];
    for (int attempt = 0; attempt < 2; attempt++) {
        /* Live first, then archive/, then live again: RocksDB renames a WAL
         * into archive/ at any moment. */
        const char *dir = attempt == 0 ? m->wal_dir : m->archive_dir;
        snprintf(path, sizeof path, "%s/%06" PRIu64 ".log", dir, number);
        int rc = rdb_wal_open(path, number, (size_t)m->opt.read_buffer_bytes, out, errbuf, errlen);
        if (rc != WH_ERR_NOT_FOUND)
            return rc;
    }
    snprintf(path, sizeof path, "%s/%06" PRIu64 ".log", m->wal_dir, number);
    int rc = rdb_wal_open(path, number, (size_t)m->opt.read_buffer_bytes, out, errbuf, errlen);
    if (rc == WH_ERR_NOT_FOUND)
        wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND, "WAL file %06" PRIu64 ".log is gone "
                  "from %s and its archive", number, m->wal_dir);
    return rc;
}

/* Reads the first batch header of WAL number. Returns 1 and *seq if it has
 * one, 0 if it has none (yet) or is gone, negative on errors. */
static int first_seq(rdb_mapper *m, uint64_t number, uint64_t *seq, char *errbuf, size_t errlen)
{
    rdb_wal *w = NULL;
    int rc = open_wal(m, number, &w, errbuf, errlen);
    if (rc == WH_ERR_NOT_FOUND)
        return 0;
    if (rc != 0)
        return rc;
    rdb_record rec;
    uint32_t count;
    int found = 0;
    for (;;) {
        rc = rdb_wal_next(w, NULL, 0, &rec, errbuf, errlen);
        if (rc != RDB_READ_RECORD)
            break;
        if (rdb_batch_header(rec.data, rec.len, seq, &count) != 0) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "corrupt record in %s at offset "
                           "%" PRIu64 ": a write batch shorter than its header",
                           rdb_wal_name(w), rec.offset);
            break;
        }
        found = 1;
        break;
    }
    bool tail = rc == WH_ERR_CORRUPT && rdb_wal_bad_tail(w);
    rdb_wal_free(w);
    if (rc < 0 && !tail)
        return rc;
    return found;
}

/* ---- inotify ------------------------------------------------------------------ */

static void watch_archive(rdb_mapper *m)
{
    if (m->ino_fd < 0 || m->ino_archive_wd >= 0)
        return;
    m->ino_archive_wd = inotify_add_watch(m->ino_fd, m->archive_dir,
                                          IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
}

static void setup_inotify(rdb_mapper *m)
{
    m->ino_archive_wd = -1;
    m->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (m->ino_fd < 0) {
        wh_warn(WH_AREA_ROCKSDB, "inotify is not available (%s); polling %s every %" PRId64
                " ms", strerror(errno), m->wal_dir, m->opt.poll_interval_ms);
        return;
    }
    if (inotify_add_watch(m->ino_fd, m->wal_dir, IN_CREATE | IN_MOVED_TO | IN_MODIFY |
                          IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR) < 0) {
        wh_warn(WH_AREA_ROCKSDB, "cannot watch %s with inotify (%s); polling every %" PRId64
                " ms", m->wal_dir, strerror(errno), m->opt.poll_interval_ms);
        close(m->ino_fd);
        m->ino_fd = -1;
        return;
    }
    watch_archive(m);
}

/* Reads all queued events. Returns true if there were any. */
static bool drain_inotify(rdb_mapper *m)
{
    if (m->ino_fd < 0)
        return true;   /* no events to go by: always look again */
    bool any = false;
    _Alignas(struct inotify_event) char buf[8192];
    for (;;) {
        ssize_t n = read(m->ino_fd, buf, sizeof buf);
        if (n <= 0)
            break;
        any = true;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)(void *)p;
            if ((ev->mask & IN_ISDIR) && ev->len && strcmp(ev->name, "archive") == 0)
                watch_archive(m);
            p += sizeof *ev + ev->len;
        }
    }
    return any;
}

/* Sleeps until the WAL directory changes or ms pass. */
static void wait_change(rdb_mapper *m, int ms)
{
    if (ms <= 0)
        return;
    if (m->ino_fd < 0) {
        if (ms > m->opt.poll_interval_ms)
            ms = (int)m->opt.poll_interval_ms;
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        return;
    }
    /* inotify misses nothing on local file systems; the cap only bounds
     * the damage on ones where it does (network mounts). */
    if (ms > 1000)
        ms = 1000;
    struct pollfd pfd = { m->ino_fd, POLLIN, 0 };
    poll(&pfd, 1, ms);
}

/* ---- column family names ------------------------------------------------------ */

static const char *cf_name(rdb_mapper *m, uint32_t id)
{
    if (id == m->last_cf && m->last_cf_name)
        return m->last_cf_name;
    const char *name = rdb_cfmap_name(m->cfs, id);
    if (!name) {
        /* Created after we last read the MANIFEST: read on from there. */
        char err[512];
        if (rdb_cfmap_load(m->cfs, m->opt.db, err, sizeof err) != 0)
            wh_warn(WH_AREA_ROCKSDB, "cannot read column family names: %s", err);
        name = rdb_cfmap_name(m->cfs, id);
        if (!name) {
            char num[16];
            int n = snprintf(num, sizeof num, "%" PRIu32, id);
            wh_warn(WH_AREA_ROCKSDB, "column family id %" PRIu32 " is not in the MANIFEST "
                    "of %s; it is shown by its id", id, m->opt.db);
            if (rdb_cfmap_set(m->cfs, id, num, (size_t)n, true) != 0)
                return NULL;
            name = rdb_cfmap_name(m->cfs, id);
        }
    }
    m->last_cf = id;
    m->last_cf_name = name;
    return name;
}

/* ---- batches ------------------------------------------------------------------- */

/* The batch's sequence number as text, in the arena (once per batch). */
static const char *seq_text(rdb_mapper *m, uint64_t seq)
{
    char tmp[20];
    return wh_arena_strndup(&m->arena, tmp, (size_t)(wh_fmt_u64(tmp, seq) - tmp));
}

/* Delivers operations of the current batch into ups[*n..max). */
static int emit(rdb_mapper *m, int *n, int max, char *errbuf, size_t errlen)
{
    if (!m->bseqstr && !(m->bseqstr = seq_text(m, m->bseq)))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    if (m->bwhere == RDB_IN_WINDOW)
        m->win_used = true;
    else
        m->asm_used[m->basm] = true;
    while (*n < max && m->boff < m->blen) {
        rdb_entry e;
        const char *why = "";
        long r = rdb_batch_entry(m->bdata + m->boff, m->blen - m->boff, &e, &why);
        assert(r > 0);  /* rdb_batch_check passed */
        if (r <= 0)
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "internal error: the batch in "
                             "%06" PRIu64 ".log at offset %" PRIu64 " changed while being "
                             "delivered", m->cur_number, m->boffset);
        m->boff += (size_t)r;
        if (e.kind == RDB_KIND_NONE)
            continue;
        uint32_t idx = m->bindex++;
        if (m->have_target) {
            if (m->bseq + idx < m->target)
                continue;
            m->have_target = false;
        }
        const char *table = cf_name(m, e.cf);
        if (!table)
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        wh_update *u = &m->ups[*n];
        wh_value *v = &m->vals[2 * *n];
        u->shard = m->shard;
        u->op = e.kind;
        u->flags = 0;
        u->pos.log_name = NULL;
        u->pos.offset = m->bseq;
        u->pos.logical = m->bseqstr;
        u->pos.index = idx;
        u->ts = 0;
        u->txn.id = m->bseqstr;
        u->txn.index = idx;
        u->txn.last = idx + 1 == m->bcount;
        u->db = NULL;
        u->table = table;
        u->statement = NULL;
        u->has_before = false;
        u->has_after = true;
        rdb_set_bytes(&v[0], e.key, e.key_len);
        switch (e.kind) {
        case WH_OP_KV_DELETE:
        case WH_OP_SINGLE_DELETE:
            u->after = (wh_row){ rdb_names_k, v, 1 };
            u->schema_id = rdb_schema_k();
            break;
        case WH_OP_DELETE_RANGE:
            rdb_set_bytes(&v[1], e.val, e.val_len);
            u->after = (wh_row){ rdb_names_range, v, 2 };
            u->schema_id = rdb_schema_range();
            break;
        default:
            if (rdb_row_put(&m->arena, u, v, e.key, e.key_len, e.val, e.val_len, m->json,
                            e.entity) != 0)
                return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        }
        (*n)++;
    }
    if (m->boff >= m->blen)
        m->in_batch = false;
    return 0;
}

static int gap_error(rdb_mapper *m, uint64_t seq, const char *file, uint64_t off,
                     char *errbuf, size_t errlen)
{
    char prev[96];
    snprintf(prev, sizeof prev, "the batch in %06" PRIu64 ".log at offset %" PRIu64,
             m->expect_wal, m->expect_off);
    if (seq > m->expect)
        return wh_seterr(errbuf, errlen, WH_ERR_GAP,
                         "gap in sequence numbers: expected the batch with sequence %" PRIu64
                         " after %s, but %s at offset %" PRIu64 " starts at %" PRIu64 "; "
                         "sequences %" PRIu64 "..%" PRIu64 " are not in the WAL (a WAL file was "
                         "deleted before it was read: raise the writer's WAL_ttl_seconds or "
                         "WAL_size_limit_MB; or the writer wrote with disableWAL)",
                         m->expect, prev, file, off, seq, m->expect, seq - 1);
    return wh_seterr(errbuf, errlen, WH_ERR_GAP,
                     "sequence numbers went backwards: expected %" PRIu64 " after %s, but %s "
                     "at offset %" PRIu64 " starts at %" PRIu64, m->expect, prev, file, off, seq);
}

/* Takes a record just read as the next batch. */
static int take_record(rdb_mapper *m, const rdb_record *rec, int asm_idx, char *errbuf,
                       size_t errlen)
{
    const char *file = rdb_wal_name(m->cur);
    size_t bad_off = 0;
    const char *why = "";
    uint64_t seq;
    uint32_t count;
    if (rdb_batch_header(rec->data, rec->len, &seq, &count) != 0)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "corrupt write batch in %s at offset "
                         "%" PRIu64 ": %zu bytes, shorter than the 12-byte header", file,
                         rec->offset, rec->len);
    if (m->have_expect && seq != m->expect)
        return gap_error(m, seq, file, rec->offset, errbuf, errlen);
    if (m->check_first) {
        m->check_first = false;
        if (m->have_target && seq > m->target)
            return wh_seterr(errbuf, errlen, WH_ERR_PURGED,
                             "sequence %" PRIu64 " is no longer in the WAL of %s: the oldest "
                             "batch there starts at %" PRIu64 " (%s). The writer deleted older "
                             "WAL files; to keep them longer raise its WAL_ttl_seconds or "
                             "WAL_size_limit_MB option", m->target, m->opt.db, seq, file);
    }
    m->have_expect = true;
    m->expect = seq + count;
    m->expect_wal = m->cur_number;
    m->expect_off = rec->offset;
    if (m->have_target && seq + count <= m->target)
        return 0;   /* wholly before the start position */
    if (count == 0)
        return 0;   /* LogData only */
    int rc = rdb_batch_check(rec->data, rec->len, &bad_off, &why);
    if (rc != 0)
        return wh_seterr(errbuf, errlen, rc, "%s write batch in %s at offset %" PRIu64
                         " (sequence %" PRIu64 ", byte %zu of the batch): it holds %s",
                         rc == WH_ERR_UNSUPPORTED ? "unsupported" : "corrupt", file,
                         rec->offset, seq, bad_off, why);
    m->in_batch = true;
    m->bdata = rec->data;
    m->blen = rec->len;
    m->boff = RDB_BATCH_HEADER;
    m->bwhere = rec->where;
    m->basm = asm_idx;
    m->bseq = seq;
    m->bcount = count;
    m->bindex = 0;
    m->boffset = rec->offset;
    m->bseqstr = NULL;
    return 0;
}

/* ---- moving between WAL files ---------------------------------------------------- */

/* At the end of cur (or before the first file): moves to the next WAL if
 * cur is finished. Returns 1 if the caller should read again, 0 if there is
 * nothing new, negative on errors. */
static int advance(rdb_mapper *m, char *errbuf, size_t errlen)
{
    int rc = scan_dir(m, errbuf, errlen);
    if (rc != 0)
        return rc;
    const walfile *next = NULL;
    for (size_t i = 0; i < m->nfiles; i++) {
        if (m->files[i].number > m->cur_number) {
            next = &m->files[i];
            break;
        }
    }
    if (!next)
        return 0;
    if (m->cur && !m->newer_seen) {
        /* The writer may have finished its last write to cur after we read
         * and before it created the newer file: read cur once more. */
        m->newer_seen = true;
        return 1;
    }
    if (m->cur && m->cur_torn) {
        uint64_t seq = 0;
        rc = first_seq(m, next->number, &seq, errbuf, errlen);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return 0;   /* the next WAL has no batch yet: cannot tell; wait */
        if (!m->have_expect || seq != m->expect)
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "corrupt record in %s at offset %" PRIu64 ": the WAL is finished "
                             "(%06" PRIu64 ".log follows it) but its last record is incomplete "
                             "or fails its checksum", rdb_wal_name(m->cur), m->torn_off,
                             next->number);
        wh_warn(WH_AREA_ROCKSDB, "%s ends in a torn record at offset %" PRIu64 "; the writer "
                "crashed mid-write and its recovery dropped that record, as the next WAL "
                "%06" PRIu64 ".log continues at sequence %" PRIu64, rdb_wal_name(m->cur),
                m->torn_off, next->number, seq);
    }
    rdb_wal *w = NULL;
    rc = open_wal(m, next->number, &w, errbuf, errlen);
    if (rc == WH_ERR_NOT_FOUND) {
        /* Deleted since the listing. If it held batches we needed, the
         * sequence check on the next batch reports the gap. */
        wh_debug(WH_AREA_ROCKSDB, "%s", errbuf);
        m->cur_number = next->number;
        rdb_wal_free(m->cur);
        m->cur = NULL;
        m->newer_seen = false;
        m->cur_torn = false;
        return 1;
    }
    if (rc != 0)
        return rc;
    wh_debug(WH_AREA_ROCKSDB, "reading %s", rdb_wal_name(w));
    rdb_wal_free(m->cur);
    m->cur = w;
    m->cur_number = next->number;
    m->newer_seen = false;
    m->cur_torn = false;
    return 1;
}

/* ---- the mapper interface -------------------------------------------------------- */

static void reset_reading(rdb_mapper *m)
{
    rdb_wal_free(m->cur);
    m->cur = NULL;
    m->cur_number = 0;
    m->newer_seen = m->cur_torn = false;
    m->in_batch = false;
    m->have_expect = m->have_target = m->check_first = false;
}

/* Seeks to the operation with sequence number t, or with have_t false to
 * the oldest one in the WAL. */
static int rdb_seek_to(rdb_mapper *m, bool have_t, uint64_t t, char *errbuf, size_t errlen)
{
    reset_reading(m);
    m->pending_err = 0;
    m->seeked = true;
    int rc = scan_dir(m, errbuf, errlen);
    if (rc != 0)
        return rc;
    if (!have_t)
        return 0;   /* from the oldest WAL */
    m->have_target = m->check_first = true;
    m->target = t;
    /* The WAL holding t is the last one whose first batch starts at or
     * before t; read from there. */
    uint64_t start = 0, oldest_seq = 0, oldest_file = 0;
    bool any = false;
    for (size_t i = 0; i < m->nfiles; i++) {
        uint64_t seq;
        rc = first_seq(m, m->files[i].number, &seq, errbuf, errlen);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        if (!any) {
            any = true;
            oldest_seq = seq;
            oldest_file = m->files[i].number;
        }
        if (seq > t)
            break;
        start = m->files[i].number;
    }
    if (any && oldest_seq > t)
        return wh_seterr(errbuf, errlen, WH_ERR_PURGED,
                         "sequence %" PRIu64 " is no longer in the WAL of %s: the oldest WAL "
                         "file %06" PRIu64 ".log starts at sequence %" PRIu64 ". The writer "
                         "deleted older WAL files; to keep them longer raise its "
                         "WAL_ttl_seconds or WAL_size_limit_MB option", t, m->opt.db,
                         oldest_file, oldest_seq);
    if (start)
        m->cur_number = start - 1;   /* advance() opens the first file above */
    return 0;
}

/* The operation a position names: SEQ + INDEX (docs/ROCKSDB.md), one past it
 * when not inclusive. */
static int rdb_target(uint64_t seq, uint32_t index, bool inclusive, uint64_t *t, char *errbuf,
                      size_t errlen)
{
    uint64_t extra = (uint64_t)index + (inclusive ? 0 : 1);
    if (seq > UINT64_MAX - extra)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID,
                         "RocksDB position with sequence %" PRIu64 " and index %" PRIu32
                         " names no operation%s: the last sequence number is "
                         "18446744073709551615", seq, index, inclusive ? "" : " after it");
    *t = seq + extra;
    return 0;
}

static int rdb_seek_physical(wh_mapper *base, const wh_pos *pos, bool inclusive, char *errbuf,
                             size_t errlen)
{
    rdb_mapper *m = (rdb_mapper *)base;
    uint64_t t = 0;
    if (!pos || !pos->set)
        return rdb_seek_to(m, false, 0, errbuf, errlen);
    if (pos->has_log_name) {
        char text[WH_POS_PHYSICAL_TEXT_MAX];
        wh_pos_format_physical(pos, text, sizeof text);
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "'%s' is not a RocksDB position: it "
                         "names a file; expected SEQ or SEQ/INDEX (decimal sequence number "
                         "and operation index)", text);
    }
    int rc = rdb_target(pos->offset, pos->index, inclusive, &t, errbuf, errlen);
    return rc != 0 ? rc : rdb_seek_to(m, true, t, errbuf, errlen);
}

/* A RocksDB logical position is the batch's sequence number in decimal,
 * the same as the physical one; a position without a logical part is
 * sought by its physical part. */
static int rdb_seek_logical(wh_mapper *base, const wh_pos *pos, bool inclusive, char *errbuf,
                            size_t errlen)
{
    if (!pos || !pos->set || !pos->has_logical)
        return rdb_seek_physical(base, pos, inclusive, errbuf, errlen);
    uint64_t seq = 0, t = 0;
    bool ok = pos->logical[0] != '\0';
    for (const char *p = pos->logical; ok && *p; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        ok = *p >= '0' && *p <= '9' && seq <= (UINT64_MAX - d) / 10;
        seq = seq * 10 + d;
    }
    if (!ok)
        return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "bad RocksDB logical position: '%s' is "
                         "not a sequence number (decimal digits, at most "
                         "18446744073709551615)", pos->logical);
    int rc = rdb_target(seq, pos->index, inclusive, &t, errbuf, errlen);
    return rc != 0 ? rc : rdb_seek_to((rdb_mapper *)base, true, t, errbuf, errlen);
}

static int fill_batch(rdb_mapper *m, int max, int timeout_ms, int *n_out, char *errbuf,
                      size_t errlen);

/* Updates decoded before a failure are delivered first; the failure comes
 * with the next call. */
static int rdb_next_batch(wh_mapper *base, const wh_update **out, int max, int timeout_ms,
                          char *errbuf, size_t errlen)
{
    rdb_mapper *m = (rdb_mapper *)base;
    if (!out)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "next_batch: out is NULL");
    if (m->pending_err) {
        snprintf(errbuf, errlen, "%s", m->pending_msg);
        return m->pending_err;
    }
    int n = 0;
    int rc = fill_batch(m, max, timeout_ms, &n, errbuf, errlen);
    if (rc < 0 && n > 0 && rc != WH_ERR_AGAIN && rc != WH_ERR_EOF) {
        m->pending_err = rc;
        snprintf(m->pending_msg, sizeof m->pending_msg, "%s", errbuf);
        rc = n;
    }
    if (rc > 0)
        *out = m->ups;
    return rc;
}

static int fill_batch(rdb_mapper *m, int max, int timeout_ms, int *n_out, char *errbuf,
                      size_t errlen)
{
    wh_mapper *base = &m->base;
    if (max <= 0)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "next_batch: max must be positive");
    if (!m->seeked) {
        int rc = rdb_seek_physical(base, NULL, true, errbuf, errlen);
        if (rc != 0)
            return rc;
    }
    if ((size_t)max > m->ups_cap) {
        wh_update *u = realloc(m->ups, (size_t)max * sizeof *u);
        if (u)
            m->ups = u;
        wh_value *v = realloc(m->vals, (size_t)max * 2 * sizeof *v);
        if (v)
            m->vals = v;
        if (!u || !v)
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        m->ups_cap = (size_t)max;
    }
    wh_arena_reset(&m->arena);
    m->bseqstr = NULL;
    m->win_used = false;
    for (int k = 0; k < N_ASM; k++) {
        m->asm_used[k] = false;
        bool held = m->in_batch && m->bwhere == RDB_IN_SINK && m->basm == k;
        if (!held && m->asmb[k].cap > 4u << 20)
            wh_buf_free(&m->asmb[k]);   /* keep memory bounded after a huge batch */
    }
    int64_t deadline = wh_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    *n_out = 0;
    for (;;) {
        if (m->in_batch) {
            int rc = emit(m, n_out, max, errbuf, errlen);
            if (rc != 0)
                return rc;
            if (*n_out >= max)
                break;
            continue;
        }
        if (*n_out >= max)
            break;
        int rc = RDB_READ_END;
        if (m->cur) {
            int k = 0;
            while (k < N_ASM && m->asm_used[k])
                k++;
            if (k == N_ASM)
                break;   /* both assembly buffers hold updates of this call */
            rdb_wal_pin(m->cur, m->win_used);
            rdb_record rec;
            rc = rdb_wal_next(m->cur, &m->asmb[k], (size_t)m->opt.max_batch_bytes, &rec,
                              errbuf, errlen);
            if (rc == RDB_READ_RECORD) {
                m->cur_torn = false;
                m->newer_seen = false;
                rc = take_record(m, &rec, k, errbuf, errlen);
                if (rc != 0)
                    return rc;
                continue;
            }
            if (rc == RDB_READ_BLOCKED)
                break;
            if (rc == WH_ERR_CORRUPT && rdb_wal_bad_tail(m->cur)) {
                /* Possibly a write still in progress: an error only once
                 * the WAL is finished (see advance()). */
                wh_debug(WH_AREA_ROCKSDB, "%s", errbuf);
                m->cur_torn = true;
                m->torn_off = rdb_wal_offset(m->cur);
                rc = RDB_READ_END;
            } else if (rc < 0) {
                return rc;
            } else {
                m->cur_torn = rdb_wal_partial(m->cur) && !rdb_wal_stale(m->cur);
                m->torn_off = rdb_wal_offset(m->cur);
            }
        }
        /* End of what cur holds now. */
        if (*n_out > 0)
            break;
        rc = advance(m, errbuf, errlen);
        if (rc < 0)
            return rc;
        if (rc > 0)
            continue;
        if (!m->base.follow)
            return wh_seterr(errbuf, errlen, WH_ERR_EOF, "end of the WAL");
        if (drain_inotify(m) && m->ino_fd >= 0)
            continue;   /* something changed since we looked: look again */
        int64_t now = wh_mono_ms();
        if (now >= deadline)
            return WH_ERR_AGAIN;
        wait_change(m, (int)(deadline - now));
        drain_inotify(m);
    }
    return *n_out;
}

/* identify of the mapper contract: the database's IDENTITY file (a unique
 * id RocksDB writes when it creates the database), with its path. */
static int rdb_identify(wh_mapper *base, char *buf, size_t len, char *errbuf, size_t errlen)
{
    rdb_mapper *m = (rdb_mapper *)base;
    char path[PATH_MAX], id[128] = "";
    snprintf(path, sizeof path, "%s/IDENTITY", m->opt.db);
    FILE *f = fopen(path, "re");
    if (!f && errno == ENOENT) {
        /* Databases made by old RocksDB versions have none: positions are then
         * taken as this database's own, as before copies were recorded. */
        wh_warn(WH_AREA_ROCKSDB, "%s does not exist: this database has no copy identity "
                "(docs/FAILOVER.md)", path);
        if (len)
            buf[0] = '\0';
        return WH_OK;
    }
    if (!f)
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    size_t n = fread(id, 1, sizeof id - 1, f);
    fclose(f);
    id[n] = '\0';
    id[strcspn(id, "\r\n")] = '\0';
    if (!id[0])
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "%s is empty", path);
    int k = snprintf(buf, len, "rocksdb identity=%s", id);
    if (k < 0 || (size_t)k >= len)
        return wh_seterr(errbuf, errlen, WH_ERR_LIMIT, "the identity in %s is too long", path);
    return WH_OK;
}

static void rdb_destroy(wh_mapper *base)
{
    rdb_mapper *m = (rdb_mapper *)base;
    if (!m)
        return;
    rdb_wal_free(m->cur);
    rdb_cfmap_free(m->cfs);
    if (m->ino_fd >= 0)
        close(m->ino_fd);
    for (int k = 0; k < N_ASM; k++)
        wh_buf_free(&m->asmb[k]);
    wh_arena_free(&m->arena);
    free(m->files);
    free(m->ups);
    free(m->vals);
    free(m->wal_dir);
    free(m->archive_dir);
    wh_config_free(rdb_fields, &m->opt);
    free(m);
}

void rdb_opts_free(rdb_opts *o)
{
    wh_config_free(rdb_fields, o);
}

int rdb_opts_read(const json_t *options, rdb_opts *o, bool *json, char *errbuf, size_t errlen)
{
    int rc = wh_config_apply(options, "rocksdb mapper options", rdb_fields, o, errbuf, errlen);
    if (rc != 0)
        return rc;
    if (strcmp(o->value_format, "raw") == 0)
        *json = false;
    else if (strcmp(o->value_format, "json") == 0)
        *json = true;
    else
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "rocksdb mapper options: key "
                         "'value_format': '%s' is neither \"raw\" nor \"json\"",
                         o->value_format);
    return 0;
}

static int rdb_check(const json_t *options, char *errbuf, size_t errlen)
{
    json_t *tmp = NULL;
    rdb_opts o;
    bool json;
    if (!options && !(options = tmp = json_object()))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    memset(&o, 0, sizeof o);
    int rc = rdb_opts_read(options, &o, &json, errbuf, errlen);
    wh_config_free(rdb_fields, &o);
    json_decref(tmp);
    return rc;
}

static int rdb_create(const json_t *options, const char *shard, wh_mapper **out, char *errbuf,
                      size_t errlen)
{
    json_t *tmp = NULL;
    int rc;
    struct stat st;
    char path[4096];
    if (!options && !(options = tmp = json_object()))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    rdb_mapper *m = calloc(1, sizeof *m);
    if (!m) {
        json_decref(tmp);
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    }
    m->base.ops = &wh_rocksdb_mapper_ops;
    m->shard = shard;
    m->ino_fd = -1;
    m->ino_archive_wd = -1;
    rc = rdb_opts_read(options, &m->opt, &m->json, errbuf, errlen);
    json_decref(tmp);
    if (rc != 0)
        goto err;
    if (stat(m->opt.db, &st) != 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND, "RocksDB database directory %s: %s",
                       m->opt.db, strerror(errno));
        goto err;
    }
    if (!S_ISDIR(st.st_mode)) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND, "%s is not a RocksDB database: it is "
                       "not a directory", m->opt.db);
        goto err;
    }
    snprintf(path, sizeof path, "%s/CURRENT", m->opt.db);
    if (access(path, R_OK) != 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND, "%s is not a RocksDB database: it has "
                       "no CURRENT file (%s)", m->opt.db, strerror(errno));
        goto err;
    }
    m->wal_dir = strdup(m->opt.wal_dir[0] ? m->opt.wal_dir : m->opt.db);
    if (!m->wal_dir || asprintf(&m->archive_dir, "%s/archive", m->wal_dir) < 0) {
        m->archive_dir = NULL;
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        goto err;
    }
    if (!(m->cfs = rdb_cfmap_new())) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        goto err;
    }
    rc = rdb_cfmap_load(m->cfs, m->opt.db, errbuf, errlen);
    if (rc != 0) {
        wh_preferr(errbuf, errlen, rc, "%s is not a readable RocksDB database", m->opt.db);
        goto err;
    }
    rc = scan_dir(m, errbuf, errlen);
    if (rc != 0)
        goto err;
    setup_inotify(m);
    *out = &m->base;
    return 0;
err:
    rdb_destroy(&m->base);
    return rc;
}

const wh_mapper_ops wh_rocksdb_mapper_ops = {
    .name = "rocksdb",
    .options = rdb_fields,
    .create = rdb_create,
    .check = rdb_check,
    .seek_physical = rdb_seek_physical,
    .seek_logical = rdb_seek_logical,
    .next_batch = rdb_next_batch,
    .destroy = rdb_destroy,
    .identify = rdb_identify,
};
