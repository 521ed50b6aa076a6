/* status_file.c -- the status file of a supervised publisher: its writer and its reader (see status_file.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/file.h"
#include "protocol/status_file.h"

/* ---- writing -------------------------------------------------------------------------------- */

struct status_report {
    char   *path;        /* the status file */
    int     interval_ms;
    char   *position;    /* last position written, kept for status_report_exiting */
    int64_t lag_ms;
    uint64_t failures;   /* writes that failed (status_report_failures) */
};

int status_report_new(status_report **out, const char *path, int interval_ms, char *errbuf,
                      size_t errlen)
{
    if (!out || !path || !*path)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "status file: no path given");
    *out = NULL;
    status_report *rep = calloc(1, sizeof *rep);
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
    status_report_free(rep);
    return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "status file %s: out of memory", path);
}

int status_report_from_env(status_report **out, char *errbuf, size_t errlen)
{
    if (!out)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "status file: no output pointer");
    *out = NULL;
    const char *path = getenv(STATUS_ENV_FILE);
    if (!path || !*path)
        return WH_OK;
    const char *iv = getenv(STATUS_ENV_INTERVAL);
    long interval = iv ? strtol(iv, NULL, 10) : 0;
    if (interval < 0 || interval > 3600000)
        interval = 0;
    return status_report_new(out, path, (int)interval, errbuf, errlen);
}

void status_report_free(status_report *rep)
{
    if (!rep)
        return;
    free(rep->path);
    free(rep->position);
    free(rep);
}

int status_report_interval_ms(const status_report *rep)
{
    return rep ? rep->interval_ms : 1000;
}

uint64_t status_report_failures(const status_report *rep)
{
    return rep ? rep->failures : 0;
}

/* Replaces rep->path with text (readable by the operator's tools: 0644). */
static int replace_file(status_report *rep, const char *text, char *errbuf, size_t errlen)
{
    int rc = wh_file_replace(rep->path, text, strlen(text), 0644, errbuf, errlen);
    return rc ? wh_preferr(errbuf, errlen, rc, "status file") : WH_OK;
}

/* Drops listed flows from the end of o's "flows" (counting them in
 * "flows_unlisted") until o's text fits STATUS_FILE_MAX; returns the text. */
static char *dump_bounded(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT);
    json_t *flows = json_object_get(o, "flows");
    while (text && strlen(text) >= STATUS_FILE_MAX && json_array_size(flows) > 0) {
        size_t n = json_array_size(flows), drop = n / 4 ? n / 4 : 1;
        for (size_t i = 0; i < drop; i++)
            json_array_remove(flows, json_array_size(flows) - 1);
        json_int_t had = json_integer_value(json_object_get(o, "flows_unlisted"));
        json_object_set_new(o, "flows_unlisted", json_integer(had + (json_int_t)drop));
        free(text);
        text = json_dumps(o, JSON_COMPACT);
    }
    return text;
}

static int write_status(status_report *rep, const char *state, const char *error,
                        const json_t *extra, char *errbuf, size_t errlen)
{
    json_t *o = json_object();
    if (!o)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "status file: out of memory");
    if (extra && json_is_object(extra))
        json_object_update(o, (json_t *)extra);
    json_t *flows = json_object_get(o, "flows");
    if (flows)   /* a copy: dump_bounded may shorten it, extra is the caller's */
        json_object_set_new(o, "flows", json_copy(flows));
    json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
    json_object_set_new(o, "ts", json_integer((json_int_t)wh_wall_ms()));
    json_object_set_new(o, "state", json_string(state ? state : "running"));
    if (rep->position)
        json_object_set_new(o, "position", json_string(rep->position));
    if (rep->lag_ms >= 0)
        json_object_set_new(o, "lag_ms", json_integer((json_int_t)rep->lag_ms));
    if (error)
        json_object_set_new(o, "error", json_string(error));
    if (rep->failures)
        json_object_set_new(o, "write_failures", json_integer((json_int_t)rep->failures));
    char *text = dump_bounded(o);
    json_decref(o);
    int rc = text ? replace_file(rep, text, errbuf, errlen)
                  : wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "status file: cannot encode the status");
    free(text);
    if (rc)
        rep->failures++;
    return rc;
}

int status_report_write(status_report *rep, const char *state, const char *position,
                        int64_t lag_ms, const json_t *extra, char *errbuf, size_t errlen)
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

int status_add_failed_flow(json_t *extra, const char *app, const char *code, const char *reason,
                           const char *position, int64_t since_ms)
{
    json_t *list = json_object_get(extra, "failed_flows");
    if (!list) {
        list = json_array();
        if (!list || json_object_set_new(extra, "failed_flows", list) != 0)
            return WH_ERR_NOMEM;
    }
    json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:I}", "app", app, "code", code, "reason", reason,
                          "position", position && position[0] ? json_string(position) : json_null(),
                          "since_ms", (json_int_t)since_ms);
    if (!o || json_array_append_new(list, o) != 0)
        return WH_ERR_NOMEM;
    return WH_OK;
}

int status_add_waiting_reader(json_t *extra, const char *position, const char *reason,
                              int64_t since_ms)
{
    json_t *list = json_object_get(extra, "waiting_readers");
    if (!list) {
        list = json_array();
        if (!list || json_object_set_new(extra, "waiting_readers", list) != 0)
            return WH_ERR_NOMEM;
    }
    json_t *o = json_pack("{s:s,s:s,s:I}", "position", position, "reason", reason, "since_ms",
                          (json_int_t)since_ms);
    if (!o || json_array_append_new(list, o) != 0)
        return WH_ERR_NOMEM;
    return WH_OK;
}

/* Adds one to extra's integer field key. */
static int count_unlisted(json_t *extra, const char *key)
{
    json_int_t had = json_integer_value(json_object_get(extra, key));
    return json_object_set_new(extra, key, json_integer(had + 1)) ? WH_ERR_NOMEM : WH_OK;
}

/* extra's array field key, created when absent; NULL on out of memory. */
static json_t *array_field(json_t *extra, const char *key)
{
    json_t *list = json_object_get(extra, key);
    if (!list && (!(list = json_array()) || json_object_set_new(extra, key, list) != 0))
        return NULL;
    return list;
}

/* s cut to STATUS_TEXT_MAX bytes (at a UTF-8 character boundary). */
static json_t *short_string(const char *s)
{
    size_t n = strlen(s);
    if (n > STATUS_TEXT_MAX) {
        n = STATUS_TEXT_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return json_stringn(s, n);
}

static void set_known(json_t *o, const char *key, int64_t v)
{
    if (v >= 0)
        json_object_set_new(o, key, json_integer((json_int_t)v));
}

int status_add_flow(json_t *extra, const status_flow *fl)
{
    json_t *list = array_field(extra, "flows");
    if (!list)
        return WH_ERR_NOMEM;
    if (json_array_size(list) >= STATUS_FLOWS_MAX)
        return count_unlisted(extra, "flows_unlisted");
    json_t *o = json_pack("{s:o,s:s,s:I,s:I,s:o,s:I,s:I,s:I}", "app", short_string(fl->app),
                          "state", fl->state, "delivered_updates",
                          (json_int_t)fl->delivered_updates, "delivered_bytes",
                          (json_int_t)fl->delivered_bytes, "acked_position",
                          fl->acked_position && fl->acked_position[0]
                              ? json_string(fl->acked_position) : json_null(),
                          "in_flight_bytes", (json_int_t)fl->in_flight_bytes, "window_bytes",
                          (json_int_t)fl->window_bytes, "reconnects", (json_int_t)fl->reconnects);
    if (!o || json_array_append_new(list, o) != 0)
        return WH_ERR_NOMEM;
    set_known(o, "acked_ts", fl->acked_ts);
    set_known(o, "lag_s", fl->lag_s);
    set_known(o, "behind_bytes", fl->behind_bytes);
    set_known(o, "retained_bytes", fl->retained_bytes);
    if (fl->last_error && fl->last_error[0])
        json_object_set_new(o, "last_error", short_string(fl->last_error));
    if (fl->failure_code)
        json_object_set_new(o, "failure",
                            json_pack("{s:s,s:o}", "code", fl->failure_code, "reason",
                                      short_string(fl->failure_reason ? fl->failure_reason : "")));
    return WH_OK;
}

int status_add_caravan(json_t *extra, uint64_t id, const char *position, uint32_t members,
                       bool at_head)
{
    json_t *list = array_field(extra, "caravans");
    if (!list)
        return WH_ERR_NOMEM;
    if (json_array_size(list) >= STATUS_CARAVANS_MAX)
        return count_unlisted(extra, "caravans_unlisted");
    json_t *o = json_pack("{s:I,s:o,s:I,s:b}", "id", (json_int_t)id, "position",
                          position && position[0] ? json_string(position) : json_null(),
                          "members", (json_int_t)members, "at_head", at_head);
    if (!o || json_array_append_new(list, o) != 0)
        return WH_ERR_NOMEM;
    return WH_OK;
}

int status_set_counters(json_t *extra, const status_counters *c)
{
    json_t *dec = json_pack("{s:s,s:I,s:I}", "mapper", c->mapper ? c->mapper : "",
                            "updates", (json_int_t)c->updates_decoded, "batches",
                            (json_int_t)c->batches_decoded);
    if (!dec || json_object_set_new(extra, "decoded", dec) != 0 ||
        json_object_set_new(extra, "zk_writes", json_integer((json_int_t)c->zk_writes)) != 0 ||
        (c->shard && json_object_set_new(extra, "shard", json_string(c->shard)) != 0))
        return WH_ERR_NOMEM;
    return WH_OK;
}

int status_set_role(json_t *extra, const char *role, uint64_t epoch)
{
    if (json_object_set_new(extra, "role", json_string(role)) != 0 ||
        json_object_set_new(extra, "epoch", json_integer((json_int_t)epoch)) != 0)
        return WH_ERR_NOMEM;
    return WH_OK;
}

int status_set_reading(json_t *extra, uint64_t log_bytes_read, uint64_t readers_started)
{
    if (json_object_set_new(extra, "log_bytes_read", json_integer((json_int_t)log_bytes_read)) ||
        json_object_set_new(extra, "readers_started",
                            json_integer((json_int_t)readers_started)))
        return WH_ERR_NOMEM;
    return WH_OK;
}

int status_add_waiting_flow(json_t *extra, const char *app, const char *position,
                            int64_t since_ms)
{
    json_t *list = json_object_get(extra, "waiting_for_caravan");
    if (!list) {
        list = json_array();
        if (!list || json_object_set_new(extra, "waiting_for_caravan", list) != 0)
            return WH_ERR_NOMEM;
    }
    json_t *o = json_pack("{s:s,s:o,s:I}", "app", app,
                          "position", position && position[0] ? json_string(position) : json_null(),
                          "since_ms", (json_int_t)since_ms);
    if (!o || json_array_append_new(list, o) != 0)
        return WH_ERR_NOMEM;
    return WH_OK;
}

int status_add_bootstrap(json_t *extra, const status_bootstrap *b)
{
    json_t *list = json_object_get(extra, "bootstraps");
    if (!list) {
        list = json_array();
        if (!list || json_object_set_new(extra, "bootstraps", list) != 0)
            return WH_ERR_NOMEM;
    }
    json_t *o = json_pack("{s:s,s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:o,s:I}",
                          "app", b->app, "id", b->id,
                          "table", b->table ? json_string(b->table) : json_null(),
                          "table_index", (json_int_t)b->table_index,
                          "tables", (json_int_t)b->tables, "rows", (json_int_t)b->rows,
                          "rows_acked", (json_int_t)b->rows_acked,
                          "table_rows", (json_int_t)b->table_rows,
                          "estimate", (json_int_t)b->estimate, "rows_per_sec", b->rows_per_sec,
                          "eta_s", b->eta_s >= 0 ? json_integer((json_int_t)b->eta_s)
                                                 : json_null(),
                          "reread", (json_int_t)b->reread);
    if (!o || json_array_append_new(list, o) != 0)
        return WH_ERR_NOMEM;
    return WH_OK;
}

void status_report_exiting(status_report *rep, const char *reason)
{
    if (!rep)
        return;
    char err[256];
    (void)write_status(rep, "exiting", reason ? reason : "", NULL, err, sizeof err);
}

/* ---- reading -------------------------------------------------------------------------------- */

/* The "bootstraps" array (status_add_bootstrap): NULL when it is well formed. */
static const char *check_bootstraps(const json_t *v)
{
    size_t i;
    json_t *b;
    if (!json_is_array(v))
        return "field 'bootstraps' is not an array";
    json_array_foreach(v, i, b)
        if (!json_is_object(b) || !json_is_string(json_object_get(b, "app")) ||
            !json_is_string(json_object_get(b, "id")) ||
            !json_is_integer(json_object_get(b, "rows")) ||
            json_integer_value(json_object_get(b, "rows")) < 0)
            return "an entry of 'bootstraps' is not an object with strings app and id and "
                   "a count of rows";
    return NULL;
}

int status_parse(const char *text, size_t len, pid_t pid, json_t **out, char *errbuf,
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
    if (!bad && (v = json_object_get(o, "failed_flows"))) {
        size_t i;
        json_t *ff;
        if (!json_is_array(v))
            bad = "field 'failed_flows' is not an array";
        else
            json_array_foreach(v, i, ff)
                if (!json_is_object(ff) || !json_is_string(json_object_get(ff, "app")) ||
                    !json_is_string(json_object_get(ff, "reason")))
                    bad = "an entry of 'failed_flows' is not an object with strings app and "
                          "reason";
    }
    if (!bad && (v = json_object_get(o, "bootstraps")))
        bad = check_bootstraps(v);
    if (!bad && (v = json_object_get(o, "flows"))) {
        size_t i;
        json_t *fl;
        if (!json_is_array(v))
            bad = "field 'flows' is not an array";
        else
            json_array_foreach(v, i, fl)
                if (!json_is_object(fl) || !json_is_string(json_object_get(fl, "app")) ||
                    !json_is_string(json_object_get(fl, "state")))
                    bad = "an entry of 'flows' is not an object with strings app and state";
    }
    if (!bad && (v = json_object_get(o, "role")) &&
        !(json_is_string(v) && (strcmp(json_string_value(v), "active") == 0 ||
                                strcmp(json_string_value(v), "standby") == 0)))
        bad = "field 'role' is not active or standby";
    if (!bad && (v = json_object_get(o, "epoch")) &&
        !(json_is_integer(v) && json_integer_value(v) >= 0))
        bad = "field 'epoch' is not a non-negative integer";
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
