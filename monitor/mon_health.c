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

int mon_status_parse(const char *text, size_t len, pid_t pid, json_t **out, char *errbuf,
                     size_t errlen)
{
    static const char *const states[] = { "starting", "running", "stopping", "exiting" };
    json_error_t jerr;
    *out = NULL;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "line %d column %d: %s", jerr.line,
                         jerr.column, jerr.text);
    const char *bad = NULL;
    json_t *v;
    if (!json_is_object(o))
        bad = "not a JSON object";
    else if (!json_is_integer(v = json_object_get(o, "pid")))
        bad = "field 'pid' is missing or not an integer";
    else if (json_integer_value(v) != (json_int_t)pid) {
        long long other = (long long)json_integer_value(v);
        json_decref(o);
        return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND, "status of pid %lld, not of %d",
                         other, (int)pid);
    } else if ((v = json_object_get(o, "state")) && !json_is_string(v))
        bad = "field 'state' is not a string";
    else if (v) {
        bad = "field 'state' is not starting, running, stopping or exiting";
        for (unsigned i = 0; i < 4; i++)
            if (strcmp(json_string_value(v), states[i]) == 0)
                bad = NULL;
    }
    if (!bad && (v = json_object_get(o, "position")) && !json_is_string(v))
        bad = "field 'position' is not a string";
    if (!bad && (v = json_object_get(o, "lag_ms")) &&
        !(json_is_integer(v) && json_integer_value(v) >= 0))
        bad = "field 'lag_ms' is not a non-negative integer";
    if (!bad && (v = json_object_get(o, "ts")) && !json_is_integer(v))
        bad = "field 'ts' is not an integer";
    if (!bad && (v = json_object_get(o, "error")) && !json_is_string(v))
        bad = "field 'error' is not a string";
    if (bad) {
        json_decref(o);
        return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "%s", bad);
    }
    *out = o;
    return WH_OK;
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
    if (!S_ISREG(st.st_mode) || st.st_size > MON_STATUS_MAX) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE, "%s: not a regular file of at most %d bytes",
                       path, MON_STATUS_MAX);
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
    rc = mon_status_parse(text, (size_t)n, pid, &o, errbuf, errlen);
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
