/* rdb_wal.c -- RocksDB log file record reader (see rdb_wal.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "core/endian.h"
#include "core/errbuf.h"
#include "mappers/rocksdb/rdb_wal.h"

#define HEAD_KEEP 64

enum { MODE_UNKNOWN = 0, MODE_LEGACY, MODE_RECYCLABLE };

/* Fragment types. */
enum {
    T_ZERO = 0, T_FULL = 1, T_FIRST = 2, T_MIDDLE = 3, T_LAST = 4,
    T_R_FULL = 5, T_R_FIRST = 6, T_R_MIDDLE = 7, T_R_LAST = 8,
    T_SET_COMPRESSION = 9,
};

struct rdb_wal {
    bool      pinned;
    int       fd;
    int       mode;
    uint64_t  number;
    char     *name;
    uint64_t  pos;          /* offset of the next fragment header */
    uint8_t  *win;          /* window: file bytes [win_off, win_off + win_len) */
    size_t    win_cap;
    uint64_t  win_off;
    size_t    win_len;
    uint8_t  *blk;          /* scratch block for reads outside a pinned window */
    uint64_t  blk_off;
    size_t    blk_len;
    uint8_t   head[HEAD_KEEP];
    bool      partial, bad_tail, stale;
};

/* One fragment as read from the file. */
typedef struct frag {
    int            type;    /* normalized to T_FULL..T_LAST */
    const uint8_t *data;
    size_t         len;
    uint64_t       off;     /* header offset */
    uint64_t       next;    /* offset after the fragment */
    bool           scratch; /* data points into the scratch block */
} frag;

int rdb_wal_open_fd(int fd, const char *name, uint64_t number, size_t window,
                    rdb_wal **out, char *errbuf, size_t errlen)
{
    rdb_wal *w = calloc(1, sizeof *w);
    if (!w)
        goto nomem;
    w->fd = fd;
    w->number = number;
    w->name = strdup(name);
    window = (window + RDB_BLOCK_SIZE - 1) / RDB_BLOCK_SIZE * RDB_BLOCK_SIZE;
    if (window < 2 * RDB_BLOCK_SIZE)
        window = 2 * RDB_BLOCK_SIZE;
    w->win_cap = window;
    w->win = malloc(window);
    w->blk = malloc(RDB_BLOCK_SIZE);
    if (!w->name || !w->win || !w->blk) {
        rdb_wal_free(w);
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory opening %s", name);
    }
    *out = w;
    return WH_OK;
nomem:
    close(fd);
    return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory opening %s", name);
}

int rdb_wal_open(const char *path, uint64_t number, size_t window, rdb_wal **out,
                 char *errbuf, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return wh_seterr(errbuf, errlen, errno == ENOENT ? WH_ERR_NOT_FOUND : WH_ERR_IO,
                         "cannot open %s: %s", path, strerror(errno));
    return rdb_wal_open_fd(fd, path, number, window, out, errbuf, errlen);
}

void rdb_wal_free(rdb_wal *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    free(w->name);
    free(w->win);
    free(w->blk);
    free(w);
}

void rdb_wal_pin(rdb_wal *w, bool pinned) { w->pinned = pinned; }
bool rdb_wal_partial(const rdb_wal *w) { return w->partial; }
bool rdb_wal_bad_tail(const rdb_wal *w) { return w->bad_tail; }
bool rdb_wal_stale(const rdb_wal *w) { return w->stale; }
uint64_t rdb_wal_offset(const rdb_wal *w) { return w->pos; }
bool rdb_wal_recyclable(const rdb_wal *w) { return w->mode == MODE_RECYCLABLE; }
const char *rdb_wal_name(const rdb_wal *w) { return w->name; }
uint64_t rdb_wal_number(const rdb_wal *w) { return w->number; }

/* pread until n bytes or end of file. Returns bytes read or -1 (errno). */
static ssize_t read_at(int fd, uint8_t *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

enum { F_OK_ = 0, F_SHORT = 1, F_BLOCKED = 2 };

/* Makes the n bytes at off readable (they lie within one block). On F_OK_
 * sets *p (and *scratch if they are in the scratch block); on F_SHORT the
 * file ends first and *have says how many of the n bytes exist. With
 * allow_scratch false a pinned window that cannot reach the bytes gives
 * F_BLOCKED. Negative: WH_ERR_IO. */
static int fetch(rdb_wal *w, uint64_t off, size_t n, bool allow_scratch, const uint8_t **p,
                 bool *scratch, size_t *have, char *errbuf, size_t errlen)
{
    *scratch = false;
    if (off >= w->win_off && off + n <= w->win_off + w->win_len) {
        *p = w->win + (off - w->win_off);
        return F_OK_;
    }
    if (off >= w->win_off && off + n <= w->win_off + w->win_cap) {
        /* Append to the window: bytes already there do not move. */
        ssize_t r = read_at(w->fd, w->win + w->win_len, w->win_cap - w->win_len,
                            w->win_off + w->win_len);
        if (r < 0)
            goto ioerr;
        w->win_len += (size_t)r;
        if (off + n <= w->win_off + w->win_len) {
            *p = w->win + (off - w->win_off);
            return F_OK_;
        }
        uint64_t end = w->win_off + w->win_len;
        *have = end > off ? (size_t)(end - off) : 0;
        return F_SHORT;
    }
    if (!w->pinned) {
        w->win_off = off / RDB_BLOCK_SIZE * RDB_BLOCK_SIZE;
        ssize_t r = read_at(w->fd, w->win, w->win_cap, w->win_off);
        if (r < 0) {
            w->win_len = 0;
            goto ioerr;
        }
        w->win_len = (size_t)r;
        if (off + n <= w->win_off + w->win_len) {
            *p = w->win + (off - w->win_off);
            return F_OK_;
        }
        uint64_t end = w->win_off + w->win_len;
        *have = end > off ? (size_t)(end - off) : 0;
        return F_SHORT;
    }
    if (!allow_scratch)
        return F_BLOCKED;
    uint64_t boff = off / RDB_BLOCK_SIZE * RDB_BLOCK_SIZE;
    if (!(boff == w->blk_off && off + n <= w->blk_off + w->blk_len)) {
        ssize_t r = read_at(w->fd, w->blk, RDB_BLOCK_SIZE, boff);
        if (r < 0) {
            w->blk_len = 0;
            goto ioerr;
        }
        w->blk_off = boff;
        w->blk_len = (size_t)r;
    }
    if (off + n <= w->blk_off + w->blk_len) {
        *p = w->blk + (off - w->blk_off);
        *scratch = true;
        return F_OK_;
    }
    uint64_t end = w->blk_off + w->blk_len;
    *have = end > off ? (size_t)(end - off) : 0;
    return F_SHORT;
ioerr:
    return wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot read %s at offset %llu: %s", w->name,
                     (unsigned long long)off, strerror(errno));
}

/* Drops cached bytes at and after off, so that a retry reads them again
 * (a live file grows; a recycled one is overwritten in place). */
static void forget_from(rdb_wal *w, uint64_t off)
{
    if (off < w->win_off)
        w->win_len = 0;
    else if (off < w->win_off + w->win_len)
        w->win_len = (size_t)(off - w->win_off);
    w->blk_len = 0;
}

static uint64_t file_size(const rdb_wal *w)
{
    struct stat st;
    return fstat(w->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

enum { FR_OK = 0, FR_END = 1, FR_BLOCKED = 2 };

/* Reads the fragment at or after *at (skipping block trailers and zeroed
 * regions). FR_END: nothing complete there (w->partial, w->stale set).
 * Negative: an error already described in errbuf. */
static int read_frag(rdb_wal *w, uint64_t at, bool allow_scratch, frag *f, char *errbuf,
                     size_t errlen)
{
    const uint8_t *h;
    bool scratch;
    size_t have = 0;
    int r;
    for (;;) {
        size_t left = RDB_BLOCK_SIZE - (size_t)(at % RDB_BLOCK_SIZE);
        size_t hs = w->mode == MODE_RECYCLABLE ? RDB_RECYCLABLE_HEADER : RDB_HEADER_SIZE;
        if (left < hs) {                       /* zero trailer of the block */
            at += left;
            continue;
        }
        r = fetch(w, at, RDB_HEADER_SIZE, true, &h, &scratch, &have, errbuf, errlen);
        if (r < 0)
            return r;
        if (r == F_SHORT) {
            w->partial = have > 0;
            return FR_END;
        }
        uint32_t len = wh_le16(h + 4);
        int type = h[6];
        if (type == T_ZERO && len == 0 && wh_le32(h) == 0) {
            /* A zeroed region (preallocation): RocksDB skips the block's rest. */
            at += left;
            continue;
        }
        int mode;
        if (type >= T_FULL && type <= T_LAST)
            mode = MODE_LEGACY;
        else if (type >= T_R_FULL && type <= T_R_LAST)
            mode = MODE_RECYCLABLE;
        else
            mode = -1;
        if (w->mode == MODE_RECYCLABLE && (mode != MODE_RECYCLABLE || len > left - hs)) {
            /* A recycled file holds its previous life's bytes after the
             * new records: what does not parse is the end of this log. */
            w->stale = true;
            return FR_END;
        }
        if (type == T_SET_COMPRESSION)
            return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                             "%s is a compressed WAL (record at offset %llu sets a compression "
                             "type); this mapper reads only uncompressed WALs: turn off the "
                             "writer's wal_compression option", w->name, (unsigned long long)at);
        if (mode < 0 || (w->mode != MODE_UNKNOWN && mode != w->mode)) {
            w->bad_tail = at + RDB_HEADER_SIZE >= file_size(w);
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "corrupt record in %s at offset %llu: %s record type %d", w->name,
                             (unsigned long long)at, mode < 0 ? "unknown" : "mixed", type);
        }
        hs = mode == MODE_RECYCLABLE ? RDB_RECYCLABLE_HEADER : RDB_HEADER_SIZE;
        if (hs > left || len > left - hs) {
            w->bad_tail = at + hs >= file_size(w);
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "corrupt record in %s at offset %llu: length %u runs past the end "
                             "of its 32 KiB block", w->name, (unsigned long long)at, len);
        }
        r = fetch(w, at, hs + len, allow_scratch, &h, &scratch, &have, errbuf, errlen);
        if (r < 0)
            return r;
        if (r == F_BLOCKED)
            return FR_BLOCKED;
        if (r == F_SHORT) {
            w->partial = true;
            return FR_END;
        }
        if (mode == MODE_RECYCLABLE && wh_le32(h + 7) != (uint32_t)w->number) {
            /* Data of the file's previous life: the end of this log. */
            w->stale = true;
            return FR_END;
        }
        uint32_t want = rdb_crc_unmask(wh_le32(h));
        uint32_t got = wh_crc32c(0, h + 6, hs - 6 + len);
        if (want != got && w->mode == MODE_RECYCLABLE) {
            w->stale = true;
            return FR_END;
        }
        if (want != got) {
            w->bad_tail = at + hs + len >= file_size(w);
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "corrupt record in %s at offset %llu: checksum mismatch "
                             "(stored %08x, computed %08x)", w->name, (unsigned long long)at,
                             want, got);
        }
        if (w->mode == MODE_UNKNOWN)
            w->mode = mode;
        f->type = mode == MODE_RECYCLABLE ? type - (T_R_FULL - T_FULL) : type;
        f->data = h + hs;
        f->len = len;
        f->off = at;
        f->next = at + hs + len;
        f->scratch = scratch;
        return FR_OK;
    }
}

static void keep_head(rdb_wal *w, size_t *kept, const uint8_t *p, size_t n)
{
    if (*kept < HEAD_KEEP) {
        size_t c = n < HEAD_KEEP - *kept ? n : HEAD_KEEP - *kept;
        memcpy(w->head + *kept, p, c);
        *kept += c;
    }
}

int rdb_wal_next(rdb_wal *w, wh_buf *sink, size_t max_len, rdb_record *rec,
                 char *errbuf, size_t errlen)
{
    frag f;
    w->partial = w->bad_tail = w->stale = false;
    int r = read_frag(w, w->pos, true, &f, errbuf, errlen);
    if (r != FR_OK)
        goto stop;
    if (f.type == T_FULL) {
        if (f.scratch) {
            if (sink) {
                /* Pinned window and the record is outside it: it may not
                 * point into the scratch block, which the next read reuses. */
                return RDB_READ_BLOCKED;
            }
            size_t kept = 0;
            keep_head(w, &kept, f.data, f.len);
            rec->data = w->head;
            rec->len = kept;
            rec->where = RDB_IN_HEAD;
        } else {
            rec->data = f.data;
            rec->len = f.len;
            rec->where = RDB_IN_WINDOW;
        }
        rec->total = f.len;
        rec->offset = f.off;
        rec->end = f.next;
        w->pos = f.next;
        return RDB_READ_RECORD;
    }
    if (f.type != T_FIRST) {
        w->bad_tail = false;
        r = wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                      "corrupt record in %s at offset %llu: a %s fragment without a first "
                      "fragment", w->name, (unsigned long long)f.off,
                      f.type == T_MIDDLE ? "middle" : "last");
        goto stop;
    }
    uint64_t start = f.off;
    size_t total = 0, kept = 0;
    if (sink)
        wh_buf_reset(sink);
    for (;;) {
        if (sink) {
            if (f.len > max_len - total) {
                r = wh_seterr(errbuf, errlen, WH_ERR_LIMIT,
                              "the write batch in %s at offset %llu is larger than "
                              "max_batch_bytes (%zu bytes); raise that option to read it",
                              w->name, (unsigned long long)start, max_len);
                goto stop;
            }
            wh_buf_append(sink, f.data, f.len);
            if (!wh_buf_ok(sink)) {
                r = wh_seterr(errbuf, errlen, WH_ERR_NOMEM,
                              "out of memory assembling the record in %s at offset %llu",
                              w->name, (unsigned long long)start);
                goto stop;
            }
        } else {
            keep_head(w, &kept, f.data, f.len);
        }
        total += f.len;
        if (f.type == T_LAST)
            break;
        r = read_frag(w, f.next, true, &f, errbuf, errlen);
        if (r != FR_OK) {
            if (r == FR_END && !w->stale)
                w->partial = true;
            if (r == FR_END && w->stale) {
                /* The record was cut by the file's previous content: a torn
                 * record, not a clean end. */
                w->stale = false;
                w->partial = true;
            }
            goto stop;
        }
        if (f.type != T_MIDDLE && f.type != T_LAST) {
            w->bad_tail = false;
            r = wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                          "corrupt record in %s at offset %llu: the record that starts at "
                          "offset %llu has no last fragment", w->name,
                          (unsigned long long)f.off, (unsigned long long)start);
            goto stop;
        }
    }
    if (sink) {
        rec->data = (const uint8_t *)sink->data;
        rec->len = total;
        rec->where = RDB_IN_SINK;
    } else {
        rec->data = w->head;
        rec->len = kept;
        rec->where = RDB_IN_HEAD;
    }
    rec->total = total;
    rec->offset = start;
    rec->end = f.next;
    w->pos = f.next;
    return RDB_READ_RECORD;
stop:
    if (r == FR_BLOCKED)
        return RDB_READ_BLOCKED;
    if (r == FR_END) {
        forget_from(w, w->pos);
        return RDB_READ_END;
    }
    forget_from(w, w->pos);
    return r;
}
