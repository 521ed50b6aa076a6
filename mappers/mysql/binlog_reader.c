/* binlog_reader.c -- binlog files, the index, rotation and tailing (see
 * binlog_reader.h). */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "core/log.h"
#include "mappers/mysql/binlog_reader.h"

#define DEFAULT_BUF (1u << 20)

struct binlog_reader {
    char *dir;
    char *index_path;
    size_t buf_size;
    int poll_ms;

    char **files;                 /* base names from the index */
    size_t nfiles;
    struct stat index_st;         /* to notice changes */
    bool index_read;

    char **interned;
    size_t ninterned, cap_interned;

    int fd;
    const char *cur;              /* interned name of the open file, or NULL */
    uint8_t *buf;
    size_t cap, len, pos;
    uint64_t buf_off;             /* file offset of buf[0] */
    uint64_t ev_off;              /* offset of the event returned last */
    size_t need;                  /* length of the event that did not fit */
    binlog_fde fde;
    bool finished;                /* Stop or Rotate seen */
    bool check_first;             /* opened mid-file: check the first event's end position */
    char rotate_to[256];          /* next file named by Rotate, or "" */
    uint64_t file_seq;

    int ifd, wd_dir, wd_file, wd_index_dir;
    bool inotify_tried;

    /* A finished file is mapped instead of read: no copy. data/len expose a
     * window of the map that grows as events are consumed; pages behind the
     * consumed part are dropped so the mapping never pins the whole file. */
    uint8_t *map;
    size_t map_len;
    size_t map_dropped;           /* bytes at the map's start already dropped */
    bool use_mmap;

    /* Looking ahead (binlog_reader_peek) beyond the buffered bytes: a small
     * chunk read from the file, so that scanning a large transaction's event
     * headers costs one pread per SCAN_CHUNK bytes and no memory. */
    uint8_t *scan;
    uint64_t scan_off;
    size_t scan_len;
    size_t scan_hits;             /* lookups the chunk served */
    bool scan_small;              /* read small pieces: events are large */
    uint64_t consumed;            /* bytes moved past (binlog_reader_consumed) */
};

/* Beyond the buffered bytes, peeks read a 64 KiB chunk, or only 1 KiB when
 * the last chunk served few lookups (large events: copying 64 KiB to read a
 * few headers costs more than a system call per header). */
#define SCAN_SMALL 1024u

#define MAP_WINDOW (8u << 20)
#define MAP_MIN_FILE (4u << 20)

/* The bytes the reader parses: the map or the read buffer. */
static inline const uint8_t *data(const binlog_reader *r)
{
    return r->map ? r->map : r->buf;
}

static void unmap(binlog_reader *r)
{
    if (r->map) {
        munmap(r->map, r->map_len);
        r->map = NULL;
        r->map_len = r->map_dropped = 0;
    }
}

/* ---- names ------------------------------------------------------------------ */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Splits "base.000123" into the length of "base" and the number 123.
 * Returns false if the name has no numeric extension. */
static bool split_name(const char *name, size_t *baselen, uint64_t *num)
{
    const char *dot = strrchr(name, '.');
    if (!dot || !dot[1])
        return false;
    uint64_t n = 0;
    for (const char *p = dot + 1; *p; p++) {
        if (*p < '0' || *p > '9' || n > UINT64_MAX / 10 - 9)
            return false;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    *baselen = (size_t)(dot - name);
    *num = n;
    return true;
}

/* Orders binlog names by their numeric extension (same base), else bytes. */
static int name_cmp(const char *a, const char *b)
{
    size_t la, lb;
    uint64_t na, nb;
    if (split_name(a, &la, &na) && split_name(b, &lb, &nb) && la == lb &&
        memcmp(a, b, la) == 0)
        return na < nb ? -1 : na > nb;
    return strcmp(a, b);
}

const char *binlog_reader_intern(binlog_reader *r, const char *name)
{
    for (size_t i = r->ninterned; i-- > 0;)
        if (strcmp(r->interned[i], name) == 0)
            return r->interned[i];
    if (r->ninterned == r->cap_interned) {
        size_t ncap = r->cap_interned ? 2 * r->cap_interned : 16;
        char **n = realloc(r->interned, ncap * sizeof *n);
        if (!n)
            return NULL;
        r->interned = n;
        r->cap_interned = ncap;
    }
    char *s = strdup(name);
    if (!s)
        return NULL;
    r->interned[r->ninterned++] = s;
    return s;
}

/* ---- the index -------------------------------------------------------------- */

static void free_files(binlog_reader *r)
{
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->files[i]);
    free(r->files);
    r->files = NULL;
    r->nfiles = 0;
}

static int read_index(binlog_reader *r, char *errbuf, size_t errlen)
{
    FILE *f = fopen(r->index_path, "re");
    if (!f)
        return wh_seterr(errbuf, errlen, errno == ENOENT ? WH_ERR_NOT_FOUND : WH_ERR_IO,
                         "cannot open the binlog index %s: %s", r->index_path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot stat %s: %s", r->index_path,
                         strerror(errno));
    }
    char **files = NULL;
    size_t n = 0, cap = 0;
    char line[PATH_MAX + 16];
    int rc = WH_OK;
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' '))
            line[--l] = '\0';
        if (!l)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nf = realloc(files, cap * sizeof *nf);
            if (!nf) {
                rc = WH_ERR_NOMEM;
                break;
            }
            files = nf;
        }
        if (!(files[n] = strdup(base_name(line)))) {
            rc = WH_ERR_NOMEM;
            break;
        }
        n++;
    }
    fclose(f);
    if (rc != WH_OK) {
        for (size_t i = 0; i < n; i++)
            free(files[i]);
        free(files);
        return wh_seterr(errbuf, errlen, rc, "out of memory reading %s", r->index_path);
    }
    free_files(r);
    r->files = files;
    r->nfiles = n;
    r->index_st = st;
    r->index_read = true;
    return WH_OK;
}

int binlog_reader_refresh_index(binlog_reader *r, char *errbuf, size_t errlen)
{
    struct stat st;
    if (r->index_read && stat(r->index_path, &st) == 0 && st.st_ino == r->index_st.st_ino &&
        st.st_size == r->index_st.st_size && st.st_mtim.tv_sec == r->index_st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == r->index_st.st_mtim.tv_nsec)
        return WH_OK;
    return read_index(r, errbuf, errlen);
}

size_t binlog_reader_nfiles(const binlog_reader *r) { return r->nfiles; }
const char *binlog_reader_file(const binlog_reader *r, size_t i) { return r->files[i]; }

int binlog_reader_file_index(const binlog_reader *r, const char *name)
{
    for (size_t i = 0; i < r->nfiles; i++)
        if (strcmp(r->files[i], name) == 0)
            return (int)i;
    return -1;
}

/* The file that follows cur: the Rotate target, else the next index entry
 * (by number when cur has left the index). NULL if none is listed yet. */
static const char *successor(binlog_reader *r)
{
    if (r->rotate_to[0])
        return binlog_reader_file_index(r, r->rotate_to) >= 0 ? r->rotate_to : NULL;
    int i = binlog_reader_file_index(r, r->cur);
    if (i >= 0)
        return (size_t)i + 1 < r->nfiles ? r->files[i + 1] : NULL;
    for (size_t k = 0; k < r->nfiles; k++)
        if (name_cmp(r->files[k], r->cur) > 0)
            return r->files[k];
    return NULL;
}

/* The error for an event cut off by the end of a finished file: the avail
 * bytes at p, at file offset off, are all there is of it. */
static int truncated_event(binlog_reader *r, const uint8_t *p, size_t avail, uint64_t off,
                           char *errbuf, size_t errlen)
{
    binlog_event ev;
    char e2[64], tail[96] = "";
    if (binlog_event_header(p, avail, &r->fde, &ev, e2, sizeof e2) == WH_OK && ev.length)
        snprintf(tail, sizeof tail, " of the %u bytes its header announces", ev.length);
    const char *next = successor(r);
    return wh_seterr(errbuf, errlen, WH_ERR_TRUNCATED,
                     "%s:%" PRIu64 ": truncated event: the file ends after %zu bytes%s, and "
                     "the binlog continues in %s", r->cur, off, avail, tail,
                     next ? next : "a later file");
}

/* ---- inotify ------------------------------------------------------------------ */

static void watch_file(binlog_reader *r)
{
    if (r->ifd < 0 || !r->cur)
        return;
    if (r->wd_file >= 0)
        inotify_rm_watch(r->ifd, r->wd_file);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", r->dir, r->cur);
    r->wd_file = inotify_add_watch(r->ifd, path, IN_MODIFY | IN_CLOSE_WRITE);
}

static void setup_inotify(binlog_reader *r)
{
    r->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    r->wd_dir = r->wd_file = r->wd_index_dir = -1;
    if (r->ifd < 0) {
        wh_warn(WH_AREA_BINLOG, "inotify unavailable (%s); polling %s every %d ms",
                strerror(errno), r->dir, r->poll_ms);
        return;
    }
    uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE;
    r->wd_dir = inotify_add_watch(r->ifd, r->dir, mask);
    char idir[PATH_MAX];
    snprintf(idir, sizeof idir, "%s", r->index_path);
    char *slash = strrchr(idir, '/');
    if (slash) {
        *slash = '\0';
        struct stat a, b;
        if (stat(idir, &a) == 0 && stat(r->dir, &b) == 0 &&
            (a.st_ino != b.st_ino || a.st_dev != b.st_dev))
            r->wd_index_dir = inotify_add_watch(r->ifd, idir, mask | IN_MODIFY);
    }
}

void binlog_reader_wait(binlog_reader *r, int timeout_ms)
{
    if (timeout_ms <= 0)
        return;
    if (!r->inotify_tried) {
        /* Created on first use: readers that never tail need no inotify
         * instance (closing one costs the kernel a grace period). */
        r->inotify_tried = true;
        setup_inotify(r);
        watch_file(r);
        return;   /* the caller re-reads: data may have come before the watch */
    }
    int t = timeout_ms;
    if (r->ifd < 0 || r->wd_file < 0) {
        if (t > r->poll_ms)
            t = r->poll_ms;
        poll(NULL, 0, t);
        return;
    }
    /* inotify can miss changes (e.g. on network filesystems): cap the wait. */
    if (t > 10 * r->poll_ms)
        t = 10 * r->poll_ms;
    struct pollfd pfd = { r->ifd, POLLIN, 0 };
    if (poll(&pfd, 1, t) > 0) {
        char ebuf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        while (read(r->ifd, ebuf, sizeof ebuf) > 0)
            ;   /* drain: what changed does not matter, the caller re-reads */
    }
}

/* ---- construction ---------------------------------------------------------------- */

static int find_index(const char *dir, char **out, char *errbuf, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d)
        return wh_seterr(errbuf, errlen, errno == ENOENT ? WH_ERR_NOT_FOUND : WH_ERR_IO,
                         "cannot open the binlog directory %s: %s", dir, strerror(errno));
    char found[NAME_MAX + 1] = "", others[512] = "";
    int count = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > 6 && strcmp(de->d_name + l - 6, ".index") == 0) {
            if (count++ == 0)
                snprintf(found, sizeof found, "%s", de->d_name);
            else
                snprintf(others + strlen(others), sizeof others - strlen(others), "%s%s",
                         others[0] ? ", " : "", de->d_name);
        }
    }
    closedir(d);
    if (count == 0)
        return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND,
                         "no binlog index (*.index) in %s; set the option index_file", dir);
    if (count > 1)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "several binlog indexes in %s (%s, %s); set the option index_file",
                         dir, found, others);
    size_t n = strlen(dir) + strlen(found) + 2;
    if (!(*out = malloc(n)))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    snprintf(*out, n, "%s/%s", dir, found);
    return WH_OK;
}

int binlog_reader_new(const char *dir, const char *index_path, size_t buf_size, int poll_ms,
                      binlog_reader **out, char *errbuf, size_t errlen)
{
    int rc;
    *out = NULL;
    binlog_reader *r = calloc(1, sizeof *r);
    if (!r)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    r->fd = -1;
    r->ifd = -1;
    r->wd_dir = r->wd_file = r->wd_index_dir = -1;
    r->buf_size = buf_size ? buf_size : DEFAULT_BUF;
    if (r->buf_size < 4096)
        r->buf_size = 4096;
    r->poll_ms = poll_ms > 0 ? poll_ms : 100;
    if (!(r->dir = strdup(dir))) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        goto err;
    }
    size_t dl = strlen(r->dir);
    while (dl > 1 && r->dir[dl - 1] == '/')
        r->dir[--dl] = '\0';
    struct stat st;
    if (stat(r->dir, &st) != 0) {
        rc = wh_seterr(errbuf, errlen, errno == ENOENT ? WH_ERR_NOT_FOUND : WH_ERR_IO,
                       "binlog directory %s: %s", r->dir, strerror(errno));
        goto err;
    }
    if (!S_ISDIR(st.st_mode)) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND, "binlog directory %s is not a "
                       "directory", r->dir);
        goto err;
    }
    if (index_path) {
        if (!(r->index_path = strdup(index_path))) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
            goto err;
        }
    } else if ((rc = find_index(r->dir, &r->index_path, errbuf, errlen)) != WH_OK) {
        goto err;
    }
    if ((rc = read_index(r, errbuf, errlen)) != WH_OK)
        goto err;
    if (!(r->buf = malloc(r->buf_size))) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for the read buffer");
        goto err;
    }
    r->cap = r->buf_size;
    r->use_mmap = true;
    *out = r;
    return WH_OK;
err:
    binlog_reader_free(r);
    return rc;
}

void binlog_reader_free(binlog_reader *r)
{
    if (!r)
        return;
    unmap(r);
    if (r->fd >= 0)
        close(r->fd);
    if (r->ifd >= 0)
        close(r->ifd);
    free_files(r);
    for (size_t i = 0; i < r->ninterned; i++)
        free(r->interned[i]);
    free(r->interned);
    free(r->buf);
    free(r->scan);
    free(r->dir);
    free(r->index_path);
    free(r);
}

/* ---- files -------------------------------------------------------------------- */

void binlog_reader_set_mmap(binlog_reader *r, bool on) { r->use_mmap = on; }
const char *binlog_reader_cur_file(const binlog_reader *r) { return r->cur; }
uint64_t binlog_reader_next_offset(const binlog_reader *r) { return r->buf_off + r->pos; }
uint64_t binlog_reader_consumed(const binlog_reader *r) { return r->consumed; }
uint64_t binlog_reader_event_offset(const binlog_reader *r) { return r->ev_off; }
const binlog_fde *binlog_reader_fde(const binlog_reader *r) { return &r->fde; }
uint64_t binlog_reader_file_seq(const binlog_reader *r) { return r->file_seq; }

/* Reads exactly n bytes at off (fewer only at end of file). */
static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

/* Opens binlog file name of the reader's directory read-only. A file that
 * is gone was purged by the server: WH_ERR_PURGED. */
static int open_binlog(const binlog_reader *r, const char *name, int *fd,
                       char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return wh_seterr(errbuf, errlen, errno == ENOENT ? WH_ERR_PURGED : WH_ERR_IO,
                         "cannot open binlog %s: %s", path, strerror(errno));
    return WH_OK;
}

/* Reads the magic number and the format description of an open file into
 * fde; *end is set to the offset after the format description. */
static int read_head(int fd, const char *dir, const char *name, binlog_fde *fde, uint64_t *end,
                     char *errbuf, size_t errlen)
{
    uint8_t hdr[BINLOG_MAGIC_LEN + BINLOG_HEADER_LEN];
    ssize_t n = pread_full(fd, hdr, sizeof hdr, 0);
    if (n < 0)
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "%s/%s: read failed: %s", dir, name,
                         strerror(errno));
    if (n >= BINLOG_MAGIC_LEN && memcmp(hdr, BINLOG_MAGIC_ENCRYPTED, BINLOG_MAGIC_LEN) == 0)
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                         "%s:0: the binlog is encrypted (binlog_encryption=ON), which is not "
                         "supported", name);
    if (n < BINLOG_MAGIC_LEN)
        return wh_seterr(errbuf, errlen, WH_ERR_AGAIN, "%s:0: the file is still empty", name);
    if (memcmp(hdr, BINLOG_MAGIC, BINLOG_MAGIC_LEN) != 0)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "%s:0: not a binlog file (bad magic number %02x %02x %02x %02x)", name,
                         hdr[0], hdr[1], hdr[2], hdr[3]);
    if (n < (ssize_t)sizeof hdr)
        return wh_seterr(errbuf, errlen, WH_ERR_AGAIN,
                         "%s:4: the format description event is not written yet", name);
    binlog_event ev;
    int rc = binlog_event_header(hdr + BINLOG_MAGIC_LEN, BINLOG_HEADER_LEN, NULL, &ev, errbuf,
                                 errlen);
    if (rc != WH_OK)
        return wh_preferr(errbuf, errlen, rc, "%s:4", name);
    if (ev.type != BE_FORMAT_DESCRIPTION)
        return wh_seterr(errbuf, errlen, ev.type == BE_START_V3 ? WH_ERR_UNSUPPORTED
                                                                 : WH_ERR_CORRUPT,
                         "%s:4: the first event is %s, not a format description "
                         "(binlog format version 4, MySQL 5.0+)", name,
                         binlog_event_type_name(ev.type));
    if (ev.length > 64 * 1024)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "%s:4: format description event of %u bytes is implausibly large",
                         name, ev.length);
    uint8_t *b = malloc(ev.length);
    if (!b)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    n = pread_full(fd, b, ev.length, BINLOG_MAGIC_LEN);
    if (n < 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_IO, "%s/%s: read failed: %s", dir, name,
                       strerror(errno));
    } else if ((size_t)n < ev.length) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_AGAIN,
                       "%s:4: the format description event is not completely written yet",
                       name);
    } else {
        rc = binlog_fde_parse(b, &ev, fde, errbuf, errlen);
        if (rc != WH_OK)
            wh_preferr(errbuf, errlen, rc, "%s:4", name);
    }
    free(b);
    *end = BINLOG_MAGIC_LEN + ev.length;
    return rc;
}

int binlog_reader_open(binlog_reader *r, const char *name, uint64_t offset,
                       char *errbuf, size_t errlen)
{
    int rc = binlog_reader_refresh_index(r, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    if (binlog_reader_file_index(r, name) < 0) {
        if (r->nfiles && name_cmp(name, r->files[0]) < 0)
            return wh_seterr(errbuf, errlen, WH_ERR_PURGED,
                             "binlog %s has been purged: the oldest binlog in %s is %s",
                             name, r->index_path, r->files[0]);
        return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND,
                         "binlog %s is not listed in %s (its files are %s .. %s)", name,
                         r->index_path, r->nfiles ? r->files[0] : "none",
                         r->nfiles ? r->files[r->nfiles - 1] : "none");
    }
    const char *iname = binlog_reader_intern(r, name);
    if (!iname)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    int fd;
    if ((rc = open_binlog(r, name, &fd, errbuf, errlen)) != WH_OK)
        return rc;
    binlog_fde fde;
    uint64_t start;
    if ((rc = read_head(fd, r->dir, name, &fde, &start, errbuf, errlen)) != WH_OK) {
        close(fd);
        return rc;
    }
    if (offset > start) {
        struct stat st;
        if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < offset) {
            close(fd);
            return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND,
                             "offset %" PRIu64 " is beyond the end of binlog %s (%lld bytes)",
                             offset, name, (long long)st.st_size);
        }
        start = offset;
    } else if (offset > BINLOG_MAGIC_LEN && offset < start) {
        close(fd);
        return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND,
                         "offset %" PRIu64 " of binlog %s is inside its format description "
                         "event", offset, name);
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    unmap(r);
    if (r->fd >= 0)
        close(r->fd);
    r->fd = fd;
    /* A file that a later file follows is finished: map it. */
    struct stat st;
    int idx = binlog_reader_file_index(r, name);
    if (r->use_mmap && idx >= 0 && (size_t)idx + 1 < r->nfiles && fstat(fd, &st) == 0 &&
        (uint64_t)st.st_size >= MAP_MIN_FILE && (uint64_t)st.st_size <= SIZE_MAX) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
            r->map = m;
            r->map_len = (size_t)st.st_size;
            r->map_dropped = 0;
        }
    }
    r->cur = iname;
    r->fde = fde;
    if (r->map) {
        r->buf_off = 0;
        r->pos = (size_t)start;
        r->len = r->pos + MAP_WINDOW < r->map_len ? r->pos + MAP_WINDOW : r->map_len;
    } else {
        r->buf_off = start;
        r->len = r->pos = 0;
    }
    r->ev_off = start;
    if (offset <= BINLOG_MAGIC_LEN)
        r->consumed += start;   /* the magic number and the format description */
    r->need = 0;
    r->finished = false;
    r->check_first = offset > BINLOG_MAGIC_LEN;
    r->rotate_to[0] = '\0';
    r->scan_len = 0;
    r->file_seq++;
    watch_file(r);
    wh_debug(WH_AREA_BINLOG, "opened %s at %" PRIu64 " (server %s, checksum %s)", name, start,
             fde.server_version, fde.checksum_alg == BINLOG_CHECKSUM_CRC32 ? "CRC32" : "none");
    return WH_OK;
}

int binlog_reader_next(binlog_reader *r, binlog_event *ev, char *errbuf, size_t errlen)
{
    if (r->fd < 0)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "no binlog file is open");
    for (;;) {
        size_t avail = r->len - r->pos;
        if (r->finished || avail < BINLOG_HEADER_LEN)
            return BINLOG_READER_REFILL;
        const uint8_t *p = data(r) + r->pos;
        uint64_t off = r->buf_off + r->pos;
        int rc = binlog_event_header(p, avail, &r->fde, ev, errbuf, errlen);
        if (rc != WH_OK)
            return wh_preferr(errbuf, errlen, rc, "%s:%" PRIu64, r->cur, off);
        /* Events in a binlog file record where they end; an offset that is
         * not an event boundary shows here before its garbage length does. */
        if (r->check_first && ev->next_pos != 0 && ev->next_pos != off + ev->length)
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "%s:%" PRIu64 ": no event starts here (the bytes read as an event "
                             "of %u bytes ending at %u)", r->cur, off, ev->length, ev->next_pos);
        if (ev->length > avail) {
            r->need = ev->length;
            return BINLOG_READER_REFILL;
        }
        if (ev->type == BE_FORMAT_DESCRIPTION) {
            binlog_fde fde;
            if ((rc = binlog_fde_parse(p, ev, &fde, errbuf, errlen)) != WH_OK)
                return wh_preferr(errbuf, errlen, rc, "%s:%" PRIu64, r->cur, off);
            r->fde = fde;
            r->pos += ev->length;
            r->consumed += ev->length;
            continue;
        }
        if ((rc = binlog_event_frame(p, &r->fde, true, ev, errbuf, errlen)) != WH_OK)
            return wh_preferr(errbuf, errlen, rc, "%s:%" PRIu64, r->cur, off);
        r->ev_off = off;
        r->pos += ev->length;
        r->consumed += ev->length;
        r->check_first = false;
        if (ev->type == BE_ROTATE) {
            /* position(8) then the next file's name */
            size_t post = binlog_post_header_len(&r->fde, BE_ROTATE);
            if (ev->body_len < post || ev->body_len - post >= sizeof r->rotate_to)
                return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                                 "%s:%" PRIu64 ": malformed Rotate event", r->cur, off);
            memcpy(r->rotate_to, ev->body + post, ev->body_len - post);
            r->rotate_to[ev->body_len - post] = '\0';
            char *nul = memchr(r->rotate_to, '\0', ev->body_len - post);
            if (nul && nul != r->rotate_to + (ev->body_len - post))
                *nul = '\0';
            snprintf(r->rotate_to, sizeof r->rotate_to, "%s", base_name(r->rotate_to));
            r->finished = true;
        } else if (ev->type == BE_STOP) {
            r->finished = true;
        }
        return WH_OK;
    }
}

bool binlog_reader_file_finished(binlog_reader *r)
{
    if (r->finished)
        return true;
    if (binlog_reader_refresh_index(r, NULL, 0) != WH_OK)
        return false;
    return successor(r) != NULL;
}

/* Moves to the file after the current one. */
static int next_file(binlog_reader *r, char *errbuf, size_t errlen)
{
    int rc = binlog_reader_refresh_index(r, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    const char *next = successor(r);
    if (!next)
        return WH_ERR_AGAIN;
    char name[256];
    snprintf(name, sizeof name, "%s", next);
    wh_debug(WH_AREA_BINLOG, "%s finished; continuing with %s", r->cur, name);
    rc = binlog_reader_open(r, name, 0, errbuf, errlen);
    if (rc == WH_ERR_AGAIN || rc == WH_ERR_PURGED)
        return WH_ERR_AGAIN;   /* created but not written yet, or not there yet */
    return rc;
}

int binlog_reader_refill(binlog_reader *r, char *errbuf, size_t errlen)
{
    if (r->fd < 0)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "no binlog file is open");
    if (r->finished) {
        struct stat st;
        uint64_t here = r->buf_off + r->pos;
        if (fstat(r->fd, &st) == 0 && (uint64_t)st.st_size > here)
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "%s:%" PRIu64 ": %" PRIu64 " unexpected bytes follow the file's "
                             "last (%s) event", r->cur, here, (uint64_t)st.st_size - here,
                             r->rotate_to[0] ? "Rotate" : "Stop");
        return next_file(r, errbuf, errlen);
    }
    if (r->map) {
        /* Drop the pages behind the consumed bytes (nothing points there
         * once the caller refills), then expose the next window. */
        size_t page = 4096, drop = r->pos & ~(page - 1);
        if (drop > r->map_dropped) {
            madvise(r->map + r->map_dropped, drop - r->map_dropped, MADV_DONTNEED);
            r->map_dropped = drop;
        }
        if (r->len < r->map_len) {
            size_t want = r->pos + (r->need > MAP_WINDOW ? r->need : MAP_WINDOW);
            size_t old = r->len;
            r->len = want < r->map_len ? want : r->map_len;
            r->need = 0;
#ifdef MADV_POPULATE_READ
            /* Map the new window's pages in one call rather than fault by fault. */
            size_t from = old & ~(page - 1);
            madvise(r->map + from, r->len - from, MADV_POPULATE_READ);
#else
            (void)old;
#endif
            return WH_OK;
        }
        struct stat st;
        if (fstat(r->fd, &st) == 0 && (uint64_t)st.st_size == r->map_len) {
            if (r->pos < r->len)
                return truncated_event(r, r->map + r->pos, r->len - r->pos, r->pos, errbuf,
                                       errlen);
            wh_warn(WH_AREA_BINLOG, "%s ends at %zu without a Rotate or Stop event (the "
                    "server stopped abruptly); continuing with the next binlog", r->cur, r->pos);
            return next_file(r, errbuf, errlen);
        }
        /* The file changed after all: go on reading it the usual way. */
        uint64_t at = r->pos;
        unmap(r);
        r->buf_off = at;
        r->len = r->pos = 0;
        return WH_OK;
    }
    /* Compact, then grow for an oversized event or shrink after one. */
    size_t rem = r->len - r->pos;
    if (r->pos) {
        memmove(r->buf, r->buf + r->pos, rem);
        r->buf_off += r->pos;
        r->len = rem;
        r->pos = 0;
    }
    size_t want = r->need > r->buf_size ? r->need : r->buf_size;
    if (want > r->cap) {
        /* Grow only to what the file holds now: a corrupt length must not
         * make us allocate a gigabyte for a small file. */
        struct stat st;
        if (fstat(r->fd, &st) == 0 && (uint64_t)st.st_size > r->buf_off &&
            (uint64_t)st.st_size - r->buf_off < want)
            want = (size_t)((uint64_t)st.st_size - r->buf_off);
        if (want < r->buf_size)
            want = r->buf_size;
    }
    if (want > r->cap || (r->cap > 2 * r->buf_size && want < r->cap && rem <= want)) {
        uint8_t *b = realloc(r->buf, want);
        if (!b)
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM,
                             "out of memory for a binlog event of %zu bytes", want);
        r->buf = b;
        r->cap = want;
    }
    ssize_t n = pread(r->fd, r->buf + r->len, r->cap - r->len, (off_t)(r->buf_off + r->len));
    if (n < 0 && errno != EINTR)
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "%s:%" PRIu64 ": read failed: %s", r->cur,
                         r->buf_off + r->len, strerror(errno));
    if (n > 0) {
        r->len += (size_t)n;
        return WH_OK;
    }
    if (n < 0)
        return WH_OK;   /* EINTR: try again */
    /* End of the file as it is now. Is the file finished? */
    int rc = binlog_reader_refresh_index(r, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    if (!successor(r))
        return WH_ERR_AGAIN;
    /* A later file exists; the server may still have written more here
     * before rotating, so look once more before deciding. */
    n = pread(r->fd, r->buf + r->len, r->cap - r->len, (off_t)(r->buf_off + r->len));
    if (n > 0) {
        r->len += (size_t)n;
        return WH_OK;
    }
    assert(r->pos == 0);   /* compacted above */
    if (r->len > 0)
        return truncated_event(r, data(r), r->len, r->buf_off, errbuf, errlen);
    wh_warn(WH_AREA_BINLOG, "%s ends at %" PRIu64 " without a Rotate or Stop event (the server "
            "stopped abruptly); continuing with %s", r->cur, r->buf_off, successor(r));
    return next_file(r, errbuf, errlen);
}

/* ---- looking ahead ----------------------------------------------------------- */

/* Points *p at the bytes of the current file from off on, at least n of them
 * if the file holds them: the buffered bytes not consumed yet, else the scan
 * chunk, else a chunk read now. Returns how many bytes *p holds (fewer than
 * n only where the file ends), or -1 with errno. */
static ssize_t look(binlog_reader *r, uint64_t off, size_t n, const uint8_t **p)
{
    uint64_t lo = r->buf_off + r->pos, hi = r->buf_off + r->len;
    if (off >= lo && off + n <= hi) {
        *p = data(r) + (off - r->buf_off);
        return (ssize_t)(hi - off);
    }
    if (r->scan && off >= r->scan_off && off + n <= r->scan_off + r->scan_len) {
        r->scan_hits++;
        *p = r->scan + (off - r->scan_off);
        return (ssize_t)(r->scan_off + r->scan_len - off);
    }
    if (!r->scan && !(r->scan = malloc(BINLOG_READER_PEEK_MAX)))
        return -1;
    if (r->scan_len)   /* a full chunk that served a header per 4 KiB or less: go small */
        r->scan_small = r->scan_small ? r->scan_hits < 4 : r->scan_hits * 4096 < r->scan_len;
    size_t size = r->scan_small ? SCAN_SMALL : BINLOG_READER_PEEK_MAX;
    ssize_t k = pread_full(r->fd, r->scan, size > n ? size : n, off);
    r->scan_off = off;
    r->scan_len = k > 0 ? (size_t)k : 0;
    r->scan_hits = 1;
    *p = r->scan;
    return k;
}

int binlog_reader_peek(binlog_reader *r, uint64_t off, size_t want, binlog_event *ev,
                       const uint8_t **p, size_t *have, char *errbuf, size_t errlen)
{
    assert(r->fd >= 0 && off >= r->buf_off + r->pos);
    *have = 0;
    ssize_t k = look(r, off, BINLOG_HEADER_LEN, p);
    if (k < 0)
        return wh_seterr(errbuf, errlen, errno == ENOMEM ? WH_ERR_NOMEM : WH_ERR_IO,
                         "%s:%" PRIu64 ": read failed: %s", r->cur, off, strerror(errno));
    *have = (size_t)k;
    if (*have < BINLOG_HEADER_LEN)
        return WH_ERR_AGAIN;
    int rc = binlog_event_header(*p, *have, &r->fde, ev, errbuf, errlen);
    if (rc != WH_OK)
        return wh_preferr(errbuf, errlen, rc, "%s:%" PRIu64, r->cur, off);
    size_t n = want < ev->length ? want : ev->length;
    if (n > BINLOG_READER_PEEK_MAX)
        n = BINLOG_READER_PEEK_MAX;
    if (*have >= n)
        return WH_OK;
    if ((k = look(r, off, n, p)) < 0)
        return wh_seterr(errbuf, errlen, errno == ENOMEM ? WH_ERR_NOMEM : WH_ERR_IO,
                         "%s:%" PRIu64 ": read failed: %s", r->cur, off, strerror(errno));
    *have = (size_t)k;
    return *have >= n ? WH_OK : WH_ERR_AGAIN;
}

bool binlog_reader_holds(binlog_reader *r, uint64_t end)
{
    if (end <= r->buf_off + r->len || (r->scan && end <= r->scan_off + r->scan_len))
        return true;
    if (r->map && end <= r->map_len)
        return true;
    struct stat st;
    return fstat(r->fd, &st) == 0 && (uint64_t)st.st_size >= end;
}

void binlog_reader_window(const binlog_reader *r, const uint8_t **p, uint64_t *lo, uint64_t *hi)
{
    *lo = r->buf_off + r->pos;
    *hi = r->buf_off + r->len;
    *p = data(r) ? data(r) + r->pos : NULL;
}

uint64_t binlog_reader_file_size(binlog_reader *r)
{
    struct stat st;
    return r->fd >= 0 && fstat(r->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

void binlog_reader_skip_to(binlog_reader *r, uint64_t off)
{
    assert(r->fd >= 0 && off >= r->buf_off + r->pos && !r->finished);
    r->consumed += off - (r->buf_off + r->pos);
    if (r->map && off <= r->map_len) {
        r->pos = (size_t)off;
        if (r->len < r->pos)
            r->len = r->pos + MAP_WINDOW < r->map_len ? r->pos + MAP_WINDOW : r->map_len;
    } else if (!r->map && off <= r->buf_off + r->len) {
        r->pos = (size_t)(off - r->buf_off);
    } else {
        unmap(r);
        r->buf_off = off;
        r->len = r->pos = 0;
    }
    r->need = 0;
    r->check_first = false;
}

int binlog_reader_skip_file(binlog_reader *r, char *errbuf, size_t errlen)
{
    return next_file(r, errbuf, errlen);
}

int binlog_reader_head_gtids(binlog_reader *r, const char *name, binlog_fde *fde,
                             uint8_t *type, uint8_t **body, size_t *len,
                             char *errbuf, size_t errlen)
{
    *body = NULL;
    *len = 0;
    *type = 0;
    int fd;
    int rc = open_binlog(r, name, &fd, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    uint64_t off;
    rc = read_head(fd, r->dir, name, fde, &off, errbuf, errlen);
    uint8_t *b = NULL;
    struct stat st;
    uint64_t size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    for (int guard = 0; rc == WH_OK && guard < 16; guard++) {
        uint8_t hdr[BINLOG_HEADER_LEN];
        ssize_t n = pread_full(fd, hdr, sizeof hdr, off);
        if (n < (ssize_t)sizeof hdr)
            break;   /* file ends (or is still being written) before any such event */
        binlog_event ev;
        if ((rc = binlog_event_header(hdr, sizeof hdr, fde, &ev, errbuf, errlen)) != WH_OK) {
            wh_preferr(errbuf, errlen, rc, "%s:%" PRIu64, name, off);
            break;
        }
        if (ev.type != BE_GTID_LIST && ev.type != BE_PREVIOUS_GTIDS &&
            ev.type != BE_BINLOG_CHECKPOINT && ev.type != BE_FORMAT_DESCRIPTION &&
            ev.type != BE_START_ENCRYPTION)
            break;
        if (off + ev.length > size)
            break;   /* not completely written yet (or a corrupt length) */
        if (ev.type == BE_GTID_LIST || ev.type == BE_PREVIOUS_GTIDS) {
            if (!(b = malloc(ev.length))) {
                rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
                break;
            }
            if (pread_full(fd, b, ev.length, off) < (ssize_t)ev.length)
                break;   /* not completely written yet */
            if ((rc = binlog_event_frame(b, fde, true, &ev, errbuf, errlen)) != WH_OK) {
                wh_preferr(errbuf, errlen, rc, "%s:%" PRIu64, name, off);
                break;
            }
            *body = malloc(ev.body_len ? ev.body_len : 1);
            if (!*body) {
                rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
                break;
            }
            memcpy(*body, ev.body, ev.body_len);
            *len = ev.body_len;
            *type = ev.type;
            break;
        }
        off += ev.length;
    }
    free(b);
    close(fd);
    return rc;
}

int binlog_reader_walk(binlog_reader *r, const char *name, uint64_t from, binlog_walk_fn fn,
                       void *ctx, uint64_t *end, char *errbuf, size_t errlen)
{
    int fd;
    int rc = open_binlog(r, name, &fd, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    binlog_fde fde;
    uint64_t after_fde;
    if ((rc = read_head(fd, r->dir, name, &fde, &after_fde, errbuf, errlen)) != WH_OK) {
        close(fd);
        return rc;
    }
    uint64_t off = from > BINLOG_MAGIC_LEN ? from : BINLOG_MAGIC_LEN;
    uint8_t *b = NULL;
    size_t cap = 0;
    struct stat st;
    uint64_t size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;   /* grows: see below */
    (void)after_fde;
    for (;;) {
        uint8_t hdr[BINLOG_HEADER_LEN];
        if (pread_full(fd, hdr, sizeof hdr, off) < (ssize_t)sizeof hdr)
            break;   /* the file ends here, or inside a header still being written */
        binlog_event ev;
        if ((rc = binlog_event_header(hdr, sizeof hdr, &fde, &ev, errbuf, errlen)) != WH_OK) {
            wh_preferr(errbuf, errlen, rc, "%s:%" PRIu64, name, off);
            break;
        }
        int what = fn(ctx, &ev, NULL);
        if (what == BINLOG_WALK_STOP)
            break;
        if (what == BINLOG_WALK_BODY) {
            if (cap < ev.length) {
                uint8_t *nb = realloc(b, ev.length);
                if (!nb) {
                    rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
                    break;
                }
                b = nb;
                cap = ev.length;
            }
            if (pread_full(fd, b, ev.length, off) < (ssize_t)ev.length)
                break;   /* not completely written yet */
            if ((rc = binlog_event_frame(b, &fde, true, &ev, errbuf, errlen)) != WH_OK) {
                wh_preferr(errbuf, errlen, rc, "%s:%" PRIu64, name, off);
                break;
            }
            int f = fn(ctx, &ev, &fde);
            if (f < 0) {
                rc = f;
                break;
            }
        } else if (off + ev.length > size) {
            if (fstat(fd, &st) == 0)
                size = (uint64_t)st.st_size;
            if (off + ev.length > size)
                break;   /* not completely written yet */
        }
        off += ev.length;
    }
    free(b);
    close(fd);
    *end = off;
    return rc;
}
