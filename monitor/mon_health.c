/* mon_health.c -- reading a publisher's status file (see mon_health.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "monitor/mon_health.h"

void mon_health_init(mon_health *h)
{
    memset(h, 0, sizeof *h);
}

void mon_health_free(mon_health *h)
{
    json_decref(h->report);
    h->report = NULL;
}

void mon_health_new_run(mon_health *h)
{
    json_decref(h->report);
    h->report = NULL;
    h->seen = h->ready = false;
    h->last_mono = 0;
    h->last_error[0] = '\0';
}

int mon_health_poll(mon_health *h, const char *path, pid_t pid, int64_t now_mono, char *errbuf,
                    size_t errlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;                       /* no status yet */
    if (fstat(fd, &st) < 0) {
        close(fd);
        return 0;
    }
    if (h->have_id && h->dev == (uint64_t)st.st_dev && h->ino == (uint64_t)st.st_ino &&
        h->size == (uint64_t)st.st_size && h->mtim.tv_sec == st.st_mtim.tv_sec &&
        h->mtim.tv_nsec == st.st_mtim.tv_nsec && h->ctim.tv_sec == st.st_ctim.tv_sec &&
        h->ctim.tv_nsec == st.st_ctim.tv_nsec) {
        close(fd);
        return 0;
    }
    h->have_id = true;
    h->dev = (uint64_t)st.st_dev;
    h->ino = (uint64_t)st.st_ino;
    h->size = (uint64_t)st.st_size;
    h->mtim = st.st_mtim;
    h->ctim = st.st_ctim;

    char *text = NULL;
    int rc;
    if (!S_ISREG(st.st_mode) || st.st_size > STATUS_FILE_MAX) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE, "%s: not a regular file of at most %d bytes",
                       path, STATUS_FILE_MAX);
        goto out;
    }
    text = malloc((size_t)st.st_size + 1);
    if (!text) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    ssize_t n = pread(fd, text, (size_t)st.st_size, 0);
    if (n < 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        goto out;
    }
    json_t *o;
    rc = status_parse(text, (size_t)n, pid, &o, errbuf, errlen);
    if (rc == WH_ERR_NOT_FOUND) {
        rc = 0;                         /* a stale file of another process */
        goto out;
    }
    h->seen = true;
    h->last_mono = now_mono;
    if (rc) {
        wh_preferr(errbuf, errlen, rc, "%s", path);
        goto out;
    }
    const char *state = json_string_value(json_object_get(o, "state"));
    if (!state || strcmp(state, "running") == 0)
        h->ready = true;
    json_decref(h->report);
    h->report = o;
    rc = 1;
out:
    free(text);
    close(fd);
    return rc;
}

const char *mon_health_str(const mon_health *h, const char *key)
{
    return h->report ? json_string_value(json_object_get(h->report, key)) : NULL;
}

int64_t mon_health_lag(const mon_health *h)
{
    json_t *v = h->report ? json_object_get(h->report, "lag_ms") : NULL;
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}
