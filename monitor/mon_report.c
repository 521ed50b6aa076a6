/* mon_report.c -- writes the status file a supervised publisher reports through (see mon_report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/file.h"
#include "monitor/mon_report.h"

struct mon_report {
    char   *path;        /* the status file */
    int     interval_ms;
    char   *position;    /* last position written, kept for mon_report_exiting */
    int64_t lag_ms;
};

int mon_report_new(mon_report **out, const char *path, int interval_ms, char *errbuf,
                   size_t errlen)
{
    if (!out || !path || !*path)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "status file: no path given");
    *out = NULL;
    mon_report *rep = calloc(1, sizeof *rep);
    if (!rep)
        goto nomem;
    rep->path = strdup(path);
    if (!rep->path)
        goto nomem;
    rep->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    rep->lag_ms = -1;
    *out = rep;
    return WH_OK;
nomem:
    mon_report_free(rep);
    return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "status file %s: out of memory", path);
}

int mon_report_from_env(mon_report **out, char *errbuf, size_t errlen)
{
    if (!out)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "status file: no output pointer");
    *out = NULL;
    const char *path = getenv("WORMHOLE_STATUS_FILE");
    if (!path || !*path)
        return WH_OK;
    const char *iv = getenv("WORMHOLE_STATUS_INTERVAL_MS");
    long interval = iv ? strtol(iv, NULL, 10) : 0;
    if (interval < 0 || interval > 3600000)
        interval = 0;
    return mon_report_new(out, path, (int)interval, errbuf, errlen);
}

void mon_report_free(mon_report *rep)
{
    if (!rep)
        return;
    free(rep->path);
    free(rep->position);
    free(rep);
}

int mon_report_interval_ms(const mon_report *rep)
{
    return rep ? rep->interval_ms : 1000;
}

/* Replaces rep->path with text (readable by the operator's tools: 0644). */
static int replace_file(mon_report *rep, const char *text, char *errbuf, size_t errlen)
{
    int rc = wh_file_replace(rep->path, text, strlen(text), 0644, errbuf, errlen);
    return rc ? wh_preferr(errbuf, errlen, rc, "status file") : WH_OK;
}

static int write_status(mon_report *rep, const char *state, const char *error,
                        const json_t *extra, char *errbuf, size_t errlen)
{
    json_t *o = json_object();
    if (!o)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "status file: out of memory");
    if (extra && json_is_object(extra))
        json_object_update(o, (json_t *)extra);
    json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
    json_object_set_new(o, "ts", json_integer((json_int_t)wh_wall_ms()));
    json_object_set_new(o, "state", json_string(state ? state : "running"));
    if (rep->position)
        json_object_set_new(o, "position", json_string(rep->position));
    if (rep->lag_ms >= 0)
        json_object_set_new(o, "lag_ms", json_integer((json_int_t)rep->lag_ms));
    if (error)
        json_object_set_new(o, "error", json_string(error));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "status file: cannot encode the status");
    int rc = replace_file(rep, text, errbuf, errlen);
    free(text);
    return rc;
}

int mon_report_write(mon_report *rep, const char *state, const char *position, int64_t lag_ms,
                     const json_t *extra, char *errbuf, size_t errlen)
{
    if (!rep)
        return WH_OK;
    if (position && (!rep->position || strcmp(position, rep->position) != 0)) {
        char *p = strdup(position);
        if (!p)
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "status file: out of memory");
        free(rep->position);
        rep->position = p;
    }
    rep->lag_ms = lag_ms;
    return write_status(rep, state, NULL, extra, errbuf, errlen);
}

void mon_report_exiting(mon_report *rep, const char *reason)
{
    if (!rep)
        return;
    char err[256];
    (void)write_status(rep, "exiting", reason ? reason : "", NULL, err, sizeof err);
}
