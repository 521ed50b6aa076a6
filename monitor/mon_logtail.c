/* mon_logtail.c -- following a publisher's output file (see mon_logtail.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "monitor/mon_logtail.h"

#define PUNCH_STEP    (1u << 20)
#define TRUNCATE_SIZE (64u << 20)

void mon_logtail_init(mon_logtail *t)
{
    memset(t, 0, sizeof *t);
    t->fd = -1;
}

void mon_logtail_close(mon_logtail *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

int mon_logtail_open(mon_logtail *t, const char *path, uint64_t offset, char *errbuf,
                     size_t errlen)
{
    mon_logtail_close(t);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "%s: cannot open: %s", path,
                         strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < offset)
        offset = (uint64_t)st.st_size;
    t->fd = fd;
    t->offset = offset;
    t->punched = 0;                    /* punching a hole twice is harmless */
    t->partlen = 0;
    return WH_OK;
}

static void emit(mon_logtail *t, const char *line, size_t len, mon_line_fn *fn, void *ctx)
{
    char clean[MON_LINE_MAX + 1];
    if (len && line[len - 1] == '\r')
        len--;
    mon_copy_utf8(clean, sizeof clean, line, len);
    len = strlen(clean);
    t->lines++;
    mon_copy_utf8(t->ring[t->ring_next], MON_EXIT_LINE_MAX, clean, len);
    t->ring_next = (t->ring_next + 1) % MON_TAIL_RING;
    if (t->ring_n < MON_TAIL_RING)
        t->ring_n++;
    if (strstr(clean, "ERROR"))
        mon_copy_utf8(t->last_error, sizeof t->last_error, clean, len);
    if (fn)
        fn(ctx, clean, len);
}

void mon_logtail_feed(mon_logtail *t, const char *data, size_t n, mon_line_fn *fn, void *ctx)
{
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        while (take > 0) {
            size_t room = MON_LINE_MAX - t->partlen;
            size_t k = take < room ? take : room;
            memcpy(t->part + t->partlen, data, k);
            t->partlen += k;
            data += k;
            n -= k;
            take -= k;
            if (t->partlen == MON_LINE_MAX) {
                emit(t, t->part, t->partlen, fn, ctx);
                t->partlen = 0;
            }
        }
        if (nl) {
            emit(t, t->part, t->partlen, fn, ctx);
            t->partlen = 0;
            data++;
            n--;
        }
    }
}

void mon_logtail_flush(mon_logtail *t, mon_line_fn *fn, void *ctx)
{
    if (t->partlen) {
        emit(t, t->part, t->partlen, fn, ctx);
        t->partlen = 0;
    }
}

/* Releases the blocks of data already read (or truncates the file). */
static void release(mon_logtail *t)
{
    if (!t->punch_unsupported && t->offset >= t->punched + PUNCH_STEP) {
        uint64_t upto = t->offset & ~(uint64_t)(PUNCH_STEP - 1);
        if (fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)t->punched,
                      (off_t)(upto - t->punched)) == 0)
            t->punched = upto;
        else if (errno == EOPNOTSUPP || errno == ENOSYS)
            t->punch_unsupported = true;
    }
    if (t->punch_unsupported && t->offset >= TRUNCATE_SIZE) {
        struct stat st;
        /* Bytes written between our last read and the truncation are lost;
         * this is the fallback for file systems without hole punching. */
        if (fstat(t->fd, &st) == 0 && (uint64_t)st.st_size == t->offset &&
            ftruncate(t->fd, 0) == 0)
            t->offset = t->punched = 0;
    }
}

int mon_logtail_read(mon_logtail *t, mon_line_fn *fn, void *ctx)
{
    char buf[65536];
    if (t->fd < 0)
        return WH_OK;
    struct stat st;
    if (fstat(t->fd, &st) == 0 && (uint64_t)st.st_size < t->offset) {
        t->offset = 0;             /* truncated by someone else: start over */
        t->punched = 0;
    }
    for (int rounds = 0; rounds < 256; rounds++) {
        ssize_t r = pread(t->fd, buf, sizeof buf, (off_t)t->offset);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return WH_ERR_IO;
        if (r == 0)
            break;
        t->offset += (uint64_t)r;
        mon_logtail_feed(t, buf, (size_t)r, fn, ctx);
    }
    release(t);
    return WH_OK;
}

const char *mon_logtail_recent(const mon_logtail *t, unsigned i)
{
    if (i >= t->ring_n)
        return NULL;
    unsigned idx = (t->ring_next + MON_TAIL_RING - 1 - i) % MON_TAIL_RING;
    return t->ring[idx];
}

const char *mon_logtail_error_line(const mon_logtail *t)
{
    if (t->last_error[0])
        return t->last_error;
    const char *last = mon_logtail_recent(t, 0);
    return last ? last : "";
}

void mon_logtail_new_run(mon_logtail *t)
{
    t->ring_n = t->ring_next = 0;
    t->last_error[0] = '\0';
    t->partlen = 0;
    t->lines = 0;
}
