/* zk_layout.c -- ZooKeeper paths, names, node data and the rendezvous rule (see zk_layout.h). */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/errbuf.h"
#include "protocol/wire_frame.h"
#include "protocol/zk_layout.h"

_Static_assert(ZKU_INSTANCE_MAX <= ZKU_JUTE_MAXBUFFER / 2 &&
               ZKU_POSITION_MAX <= ZKU_JUTE_MAXBUFFER / 2 &&
               ZKU_APP_MAX <= ZKU_JUTE_MAXBUFFER / 2 &&
               ZKU_FAILURE_MAX <= ZKU_JUTE_MAXBUFFER / 2 &&
               ZKU_PUBLISHER_MAX <= ZKU_JUTE_MAXBUFFER / 2 &&
               ZKU_ROLE_MAX <= ZKU_JUTE_MAXBUFFER / 2,
               "node limits stay well under ZooKeeper's jute.maxbuffer");

/* ---- names and the connect string ------------------------------------------------------ */

bool zku_valid_name(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > ZKU_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == ':'))
            return false;
    }
    return true;
}

bool zku_valid_root(const char *root)
{
    return root && root[0] == '/' && strlen(root) <= ZKU_ROOT_MAX;
}

bool zku_split_connect(const char *spec, char *hosts, size_t hostlen, char *root,
                       size_t rootlen)
{
    const char *slash = strchr(spec, '/');
    size_t hn = slash ? (size_t)(slash - spec) : strlen(spec);
    const char *r = slash ? slash : ZKU_DEFAULT_ROOT;
    size_t rn = strlen(r);
    while (rn > 1 && r[rn - 1] == '/')
        rn--;
    if (hn == 0 || hn >= hostlen || rn >= rootlen || rn < 2)
        return false;
    memcpy(hosts, spec, hn);
    hosts[hn] = '\0';
    memcpy(root, r, rn);
    root[rn] = '\0';
    return strstr(root, "//") == NULL;
}

/* ---- paths ------------------------------------------------------------------------------- */

static int path_fmt(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int path_fmt(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len) {
        if (len > 0)
            buf[0] = '\0';
        return WH_ERR_LIMIT;
    }
    return WH_OK;
}

int zku_path_apps(char *buf, size_t len, const char *root)
{
    return path_fmt(buf, len, "%s/apps", root);
}

int zku_path_app(char *buf, size_t len, const char *root, const char *app)
{
    return path_fmt(buf, len, "%s/apps/%s", root, app);
}

int zku_path_instances(char *buf, size_t len, const char *root, const char *app)
{
    return path_fmt(buf, len, "%s/apps/%s/instances", root, app);
}

int zku_path_instance(char *buf, size_t len, const char *root, const char *app,
                      const char *instance)
{
    return path_fmt(buf, len, "%s/apps/%s/instances/%s", root, app, instance);
}

int zku_path_positions(char *buf, size_t len, const char *root, const char *app)
{
    return path_fmt(buf, len, "%s/apps/%s/positions", root, app);
}

int zku_path_position(char *buf, size_t len, const char *root, const char *app,
                      const char *shard)
{
    return path_fmt(buf, len, "%s/apps/%s/positions/%s", root, app, shard);
}

int zku_path_failures(char *buf, size_t len, const char *root, const char *app)
{
    return path_fmt(buf, len, "%s/apps/%s/failures", root, app);
}

int zku_path_failure(char *buf, size_t len, const char *root, const char *app,
                     const char *shard)
{
    return path_fmt(buf, len, "%s/apps/%s/failures/%s", root, app, shard);
}

int zku_path_shard(char *buf, size_t len, const char *root, const char *shard)
{
    return path_fmt(buf, len, "%s/shards/%s", root, shard);
}

int zku_path_epoch(char *buf, size_t len, const char *root, const char *shard)
{
    return path_fmt(buf, len, "%s/shards/%s/epoch", root, shard);
}

int zku_path_publishers(char *buf, size_t len, const char *root, const char *shard)
{
    return path_fmt(buf, len, "%s/shards/%s/publishers", root, shard);
}

int zku_path_publisher(char *buf, size_t len, const char *root, const char *shard,
                       const char *id)
{
    return path_fmt(buf, len, "%s/shards/%s/publishers/%s", root, shard, id);
}

int zku_path_candidates(char *buf, size_t len, const char *root, const char *shard)
{
    return path_fmt(buf, len, "%s/shards/%s/candidates", root, shard);
}

int zku_path_candidate(char *buf, size_t len, const char *root, const char *shard,
                       const char *id)
{
    return path_fmt(buf, len, "%s/shards/%s/candidates/%s", root, shard, id);
}

int zku_path_lease(char *buf, size_t len, const char *root, const char *shard)
{
    return path_fmt(buf, len, "%s/shards/%s/lease", root, shard);
}

int zku_path_move(char *buf, size_t len, const char *root, const char *shard)
{
    return path_fmt(buf, len, "%s/shards/%s/move", root, shard);
}

/* ---- node data: shared --------------------------------------------------------------------- */

/* Encodes o (consumed) compactly with sorted keys into *out, at most max - 1
 * bytes; what names the node in messages. */
static int dump_node(json_t *o, size_t max, const char *what, char **out, char *errbuf,
                     size_t errlen)
{
    *out = NULL;
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!s)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "%s: out of memory encoding its data",
                         what);
    size_t n = strlen(s);
    if (n >= max) {
        free(s);
        return wh_seterr(errbuf, errlen, WH_ERR_LIMIT,
                         "%s: its data would take %zu bytes, more than the limit of %zu", what, n,
                         max - 1);
    }
    *out = s;
    return WH_OK;
}

/* Copies a JSON string (or "" for NULL) into dst; false if it does not fit. */
static bool copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) {
        dst[0] = '\0';
        return false;
    }
    memcpy(dst, src ? src : "", n + 1);
    return true;
}

/* ---- the app node --------------------------------------------------------------------------- */

/* The app node's data (len bytes) with the fields of set (consumed) set:
 * an object that is not one, or empty data, keeps nothing. */
static int app_merge(const char *data, size_t len, json_t *set, char **out, char *errbuf,
                     size_t errlen)
{
    *out = NULL;
    json_t *o = len ? json_loadb(data, len, 0, NULL) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    bool ok = o && set && json_object_update(o, set) == 0;
    json_decref(set);
    if (!ok) {
        json_decref(o);
        o = NULL;   /* dump_node: out of memory */
    }
    return dump_node(o, ZKU_APP_MAX, "app node", out, errbuf, errlen);
}

int zku_app_with_filter(const char *data, size_t len, const char *filter_json,
                        const char *set_by, char **out, char *errbuf, size_t errlen)
{
    json_t *set = json_pack("{s:o, s:s}", "filter",
                            filter_json ? json_string(filter_json) : json_null(), "set_by",
                            set_by ? set_by : "");
    return app_merge(data, len, set, out, errbuf, errlen);
}

int zku_app_from_json(const char *data, size_t len, zku_app *out, char *errbuf, size_t errlen)
{
    json_error_t je;
    memset(out, 0, sizeof *out);
    if (len == 0)
        return WH_OK;
    json_t *o = json_loadb(data, len, 0, &je);
    json_t *f = json_is_object(o) ? json_object_get(o, "filter") : NULL;
    json_t *by = json_is_object(o) ? json_object_get(o, "set_by") : NULL;
    int rc = WH_OK;
    if (!json_is_object(o) || (f && !json_is_string(f) && !json_is_null(f))) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                       "its data is not an app object with a string or null 'filter' (%s)",
                       !o ? je.text : json_is_object(o) ? "'filter' is another JSON value"
                                                        : "not a JSON object");
        goto out;
    }
    if (!f)
        goto out;   /* no record of the app's filter (yet) */
    out->recorded = true;
    if ((json_is_string(f) && !(out->filter_json = strdup(json_string_value(f)))) ||
        !(out->set_by = strdup(json_is_string(by) ? json_string_value(by) : "")))
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory reading an app node");
out:
    json_decref(o);
    return rc;
}

bool zku_app_same_filter(const char *a, const char *b)
{
    if (!a || !b)
        return !a && !b;
    return strcmp(a, b) == 0;
}

void zku_app_free(zku_app *a)
{
    if (!a)
        return;
    free(a->filter_json);
    free(a->set_by);
    memset(a, 0, sizeof *a);
}

/* ---- the instance node ---------------------------------------------------------------------- */

int zku_instance_to_json(const char *endpoint, const char *filter_json,
                         const char *const *shards, long pid, char **out, char *errbuf,
                         size_t errlen)
{
    *out = NULL;
    json_t *f = json_null();
    if (filter_json) {
        json_error_t je;
        f = json_loads(filter_json, JSON_DECODE_ANY, &je);
        if (!f)
            return wh_seterr(errbuf, errlen, WH_ERR_INVALID,
                             "instance node: the filter is not JSON (%s)", je.text);
    }
    json_t *o = json_object();
    json_t *sh = shards ? json_array() : json_string("all");
    for (const char *const *p = shards; sh && p && *p; p++)
        json_array_append_new(sh, json_string(*p));
    if (!o || !sh) {
        json_decref(o);
        json_decref(sh);
        json_decref(f);
        o = NULL;
    } else {
        json_object_set_new(o, "endpoint", json_string(endpoint));
        json_object_set_new(o, "protocol", json_integer(WIRE_VERSION));
        json_object_set_new(o, "filter", f);
        json_object_set_new(o, "shards", sh);
        json_object_set_new(o, "pid", json_integer((json_int_t)pid));
    }
    return dump_node(o, ZKU_INSTANCE_MAX, "instance node", out, errbuf, errlen);
}

/* Takes the string entries of a "shards" array. */
static int instance_shards(json_t *arr, zku_instance *out)
{
    size_t n = json_array_size(arr), i;
    json_t *v;
    out->shards = calloc(n + 1, sizeof *out->shards);
    if (!out->shards)
        return WH_ERR_NOMEM;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v))
            continue;
        if (!(out->shards[out->nshards] = strdup(json_string_value(v))))
            return WH_ERR_NOMEM;
        out->nshards++;
    }
    return WH_OK;
}

int zku_instance_from_json(const char *data, size_t len, zku_instance *out, char *errbuf,
                           size_t errlen)
{
    json_error_t je;
    memset(out, 0, sizeof *out);
    json_t *o = json_loadb(data, len, 0, &je);
    json_t *ep = json_is_object(o) ? json_object_get(o, "endpoint") : NULL;
    if (!json_is_string(ep)) {
        wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                  "its data is not an instance object with an endpoint (%s)",
                  !o ? je.text : json_is_object(o) ? "no string 'endpoint'" : "not a JSON object");
        json_decref(o);
        return WH_ERR_PARSE;
    }
    int rc = WH_ERR_NOMEM;
    json_t *sh = json_object_get(o, "shards"), *f = json_object_get(o, "filter"), *v;
    if (!(out->endpoint = strdup(json_string_value(ep))))
        goto out;
    if (f && !json_is_null(f) &&
        !(out->filter_json = json_dumps(f, JSON_COMPACT | JSON_ENCODE_ANY)))
        goto out;
    out->all_shards = !sh || json_is_null(sh) ||
                      (json_is_string(sh) && strcmp(json_string_value(sh), "all") == 0);
    if (json_is_array(sh) && instance_shards(sh, out) != WH_OK)
        goto out;
    if (json_is_integer(v = json_object_get(o, "protocol")))
        out->protocol = (int64_t)json_integer_value(v);
    if (json_is_integer(v = json_object_get(o, "pid")))
        out->pid = (int64_t)json_integer_value(v);
    rc = WH_OK;
out:
    json_decref(o);
    if (rc == WH_ERR_NOMEM)
        wh_seterr(errbuf, errlen, rc, "out of memory reading an instance node");
    return rc;
}

bool zku_instance_takes_shard(const zku_instance *in, const char *shard)
{
    if (in->all_shards)
        return true;
    for (uint32_t i = 0; i < in->nshards; i++)
        if (strcmp(in->shards[i], shard) == 0)
            return true;
    return false;
}

void zku_instance_free(zku_instance *in)
{
    if (!in)
        return;
    free(in->endpoint);
    free(in->filter_json);
    for (uint32_t i = 0; in->shards && i < in->nshards; i++)
        free(in->shards[i]);
    free(in->shards);
    memset(in, 0, sizeof *in);
}

/* ---- the position node ---------------------------------------------------------------------- */

int zku_position_to_json(const char *physical, const char *logical, const char *copy,
                         uint64_t epoch, const char *publisher, char **out, char *errbuf,
                         size_t errlen)
{
    *out = NULL;
    if (copy && strlen(copy) >= ZKU_COPY_MAX)
        return wh_seterr(errbuf, errlen, WH_ERR_LIMIT,
                         "position node: copy identity of %zu bytes (at most %d)", strlen(copy),
                         ZKU_COPY_MAX - 1);
    json_t *o = json_object();
    if (o) {
        if (copy && *copy)
            json_object_set_new(o, "copy", json_string(copy));
        json_object_set_new(o, "physical", physical && *physical ? json_string(physical)
                                                                 : json_null());
        json_object_set_new(o, "logical", logical && *logical ? json_string(logical)
                                                              : json_null());
        json_object_set_new(o, "epoch", json_integer((json_int_t)epoch));
        json_object_set_new(o, "publisher", json_string(publisher ? publisher : ""));
    }
    return dump_node(o, ZKU_POSITION_MAX, "position node", out, errbuf, errlen);
}

int zku_position_start_to_json(const char *physical, const char *logical, const char *copy,
                               uint64_t epoch, const char *publisher, char **out, char *errbuf,
                               size_t errlen)
{
    /* The plain node with the marker added: one writer of the other keys. */
    int rc = zku_position_to_json(physical, logical, copy, epoch, publisher, out, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    json_t *o = json_loads(*out, 0, NULL);
    free(*out);
    if (o && json_object_set_new(o, "start", json_true()) != 0) {
        json_decref(o);
        o = NULL;
    }
    return dump_node(o, ZKU_POSITION_MAX, "position node", out, errbuf, errlen);
}

int zku_position_add_event_ms(char **node, int64_t event_ms, char *errbuf, size_t errlen)
{
    assert(*node);
    if (event_ms <= 0)
        return WH_OK;
    json_t *o = json_loads(*node, 0, NULL);
    free(*node);
    *node = NULL;
    if (o && json_object_set_new(o, "event_ms", json_integer((json_int_t)event_ms)) != 0) {
        json_decref(o);
        o = NULL;
    }
    return dump_node(o, ZKU_POSITION_MAX, "position node", node, errbuf, errlen);
}

int zku_position_from_json(const char *data, size_t len, zku_position *out, char *errbuf,
                           size_t errlen)
{
    json_error_t je;
    memset(out, 0, sizeof *out);
    json_t *o = json_loadb(data, len, 0, &je);
    if (!o || !json_is_object(o)) {
        wh_seterr(errbuf, errlen, WH_ERR_PARSE, "position is not a JSON object (%s)",
                  o ? "another JSON value" : je.text);
        json_decref(o);
        return WH_ERR_PARSE;
    }
    json_t *ph = json_object_get(o, "physical"), *lg = json_object_get(o, "logical"),
           *ep = json_object_get(o, "epoch"), *pu = json_object_get(o, "publisher"),
           *cp = json_object_get(o, "copy");
    int rc = WH_OK;
    if ((ph && !json_is_string(ph) && !json_is_null(ph)) ||
        (lg && !json_is_string(lg) && !json_is_null(lg)) ||
        (cp && !json_is_string(cp) && !json_is_null(cp)) ||
        (ep && (!json_is_integer(ep) || json_integer_value(ep) < 0))) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                       "position: physical/logical/copy must be strings and epoch an integer "
                       ">= 0");
        goto out;
    }
    json_t *st = json_object_get(o, "start");
    if (st && !json_is_boolean(st)) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE, "position: start must be true or false");
        goto out;
    }
    out->start = json_is_true(st);
    json_t *ev = json_object_get(o, "event_ms");
    if (ev && !json_is_null(ev) && (!json_is_integer(ev) || json_integer_value(ev) < 0)) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                       "position: event_ms must be an integer >= 0 (ms since the epoch)");
        goto out;
    }
    if (json_is_integer(ev))
        out->event_ms = (int64_t)json_integer_value(ev);
    if (ep)
        out->epoch = (uint64_t)json_integer_value(ep);
    if (!copy_text(out->physical, sizeof out->physical, json_string_value(ph)) ||
        !copy_text(out->logical, sizeof out->logical, json_string_value(lg)) ||
        !copy_text(out->publisher, sizeof out->publisher, json_string_value(pu)) ||
        !copy_text(out->copy, sizeof out->copy, json_string_value(cp))) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                       "position: physical or logical longer than %d bytes, publisher id "
                       "longer than %d or copy longer than %d", ZKU_POS_TEXT_MAX - 1, ZKU_ID_MAX,
                       ZKU_COPY_MAX - 1);
        goto out;
    }
out:
    json_decref(o);
    return rc;
}

/* ---- the app node's data --------------------------------------------------------------- */

bool zku_on_purged_parse(const char *text, bool *oldest)
{
    if (!text)
        return false;
    if (strcmp(text, "stop") == 0)
        *oldest = false;
    else if (strcmp(text, "oldest") == 0)
        *oldest = true;
    else
        return false;
    return true;
}

int zku_app_settings_to_json(const char *data, size_t len, const zku_app_settings *st,
                             char **out, char *errbuf, size_t errlen)
{
    json_t *set = json_pack("{s:s}", "on_purged", st->on_purged_oldest ? "oldest" : "stop");
    return app_merge(data, len, set, out, errbuf, errlen);
}

int zku_app_settings_from_json(const char *data, size_t len, zku_app_settings *out,
                               char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t k = 0;
    while (k < len && (data[k] == ' ' || data[k] == '\n' || data[k] == '\t' || data[k] == '\r'))
        k++;
    if (k == len)
        return WH_OK;
    json_error_t je;
    json_t *o = json_loadb(data, len, 0, &je);
    int rc = WH_OK;
    if (!o || !json_is_object(o)) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE, "app node is not a JSON object (%s)",
                       o ? "another JSON value" : je.text);
    } else {
        json_t *op = json_object_get(o, "on_purged");
        bool oldest = false;
        if (op && !zku_on_purged_parse(json_string_value(op), &oldest))
            rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE, "app node: on_purged must be \"stop\" "
                           "or \"oldest\"");
        else
            out->on_purged_oldest = oldest;
    }
    json_decref(o);
    return rc;
}

/* ---- the failure node ---------------------------------------------------------------------- */

static json_t *text_or_null(const char *s)
{
    return s && s[0] ? json_string(s) : json_null();
}

int zku_failure_to_json(const zku_failure *f, char **out, char *errbuf, size_t errlen)
{
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "code", json_string(f->code));
        json_object_set_new(o, "epoch", json_integer((json_int_t)f->epoch));
        json_object_set_new(o, "logical", text_or_null(f->logical));
        json_object_set_new(o, "physical", text_or_null(f->physical));
        json_object_set_new(o, "publisher", json_string(f->publisher));
        json_object_set_new(o, "reason", json_string(f->reason));
        json_object_set_new(o, "since_ms", json_integer((json_int_t)f->since_ms));
    }
    return dump_node(o, ZKU_FAILURE_MAX, "failure node", out, errbuf, errlen);
}

int zku_failure_from_json(const char *data, size_t len, zku_failure *out, char *errbuf,
                          size_t errlen)
{
    json_error_t je;
    memset(out, 0, sizeof *out);
    json_t *o = json_loadb(data, len, 0, &je);
    if (!o || !json_is_object(o)) {
        wh_seterr(errbuf, errlen, WH_ERR_PARSE, "failure is not a JSON object (%s)",
                  o ? "another JSON value" : je.text);
        json_decref(o);
        return WH_ERR_PARSE;
    }
    int rc = WH_OK;
    json_t *code = json_object_get(o, "code"), *reason = json_object_get(o, "reason");
    json_t *ep = json_object_get(o, "epoch"), *since = json_object_get(o, "since_ms");
    if (!json_is_string(code) || !json_is_string(reason)) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE, "failure: code and reason must be strings");
        goto out;
    }
    if (!copy_text(out->code, sizeof out->code, json_string_value(code)) ||
        !copy_text(out->physical, sizeof out->physical,
                   json_string_value(json_object_get(o, "physical"))) ||
        !copy_text(out->logical, sizeof out->logical,
                   json_string_value(json_object_get(o, "logical"))) ||
        !copy_text(out->publisher, sizeof out->publisher,
                   json_string_value(json_object_get(o, "publisher")))) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE, "failure: a field is too long");
        goto out;
    }
    snprintf(out->reason, sizeof out->reason, "%s", json_string_value(reason));
    if (json_is_integer(ep) && json_integer_value(ep) >= 0)
        out->epoch = (uint64_t)json_integer_value(ep);
    if (json_is_integer(since))
        out->since_ms = (int64_t)json_integer_value(since);
out:
    json_decref(o);
    return rc;
}

const char *zku_failure_code(int rc)
{
    switch (rc) {
    case WH_ERR_PURGED:  return "purged";
    case WH_ERR_INVALID: return "invalid";
    case WH_ERR_PARSE:   return "parse";
    case WH_ERR_REFUSED: return "refused";
    case WH_ERR_LIMIT:   return "too_large";
    case WH_ERR_CONFIG:  return "config";
    default:             return "error";
    }
}

/* ---- the epoch node ---------------------------------------------------------------------- */

size_t zku_epoch_format(char *buf, size_t len, uint64_t epoch)
{
    int n = snprintf(buf, len, "%llu", (unsigned long long)epoch);
    return n < 0 ? 0 : (size_t)n;
}

uint64_t zku_epoch_parse(const char *data, size_t len)
{
    char buf[ZKU_EPOCH_MAX];
    if (len >= sizeof buf)
        len = sizeof buf - 1;   /* a decimal uint64 needs 20 digits: the rest cannot matter */
    memcpy(buf, data, len);
    buf[len] = '\0';
    return strtoull(buf, NULL, 10);
}

/* ---- the publisher node ------------------------------------------------------------------- */

int zku_publisher_to_json(uint64_t epoch, const char *host, long pid, char **out, char *errbuf,
                          size_t errlen)
{
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "epoch", json_integer((json_int_t)epoch));
        json_object_set_new(o, "host", json_string(host ? host : ""));
        json_object_set_new(o, "pid", json_integer((json_int_t)pid));
    }
    return dump_node(o, ZKU_PUBLISHER_MAX, "publisher node", out, errbuf, errlen);
}

/* ---- roles: candidate, lease and move nodes ------------------------------------------------ */

/* Loads a role node's object; WH_ERR_PARSE naming what when it is not one. */
static json_t *load_object(const char *data, size_t len, const char *what, char *errbuf,
                           size_t errlen)
{
    json_error_t je;
    json_t *o = json_loadb(data, len, 0, &je);
    if (!o || !json_is_object(o)) {
        wh_seterr(errbuf, errlen, WH_ERR_PARSE, "%s is not a JSON object (%s)", what,
                  o ? "another JSON value" : je.text);
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Copies the string field key of o (absent or null: "", cut to cap). False
 * when it is present and not a string. */
static bool cut_text(json_t *o, const char *key, char *dst, size_t cap)
{
    json_t *v = json_object_get(o, key);
    dst[0] = '\0';
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v))
        return false;
    snprintf(dst, cap, "%s", json_string_value(v));
    return true;
}

int zku_candidate_to_json(const zku_candidate *c, char **out, char *errbuf, size_t errlen)
{
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "priority", json_integer((json_int_t)c->priority));
        json_object_set_new(o, "healthy", json_boolean(c->healthy));
        json_object_set_new(o, "starting", json_boolean(c->starting));
        json_object_set_new(o, "reason", json_string(c->reason));
        json_object_set_new(o, "host", json_string(c->host));
        json_object_set_new(o, "pid", json_integer((json_int_t)c->pid));
    }
    return dump_node(o, ZKU_ROLE_MAX, "candidate node", out, errbuf, errlen);
}

int zku_candidate_from_json(const char *data, size_t len, zku_candidate *out, char *errbuf,
                            size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *o = load_object(data, len, "candidate", errbuf, errlen);
    if (!o)
        return WH_ERR_PARSE;
    json_t *pr = json_object_get(o, "priority"), *he = json_object_get(o, "healthy"),
           *pid = json_object_get(o, "pid"), *st = json_object_get(o, "starting");
    int rc = WH_OK;
    if (!json_is_integer(pr) || !json_is_boolean(he) || (pid && !json_is_integer(pid)) ||
        (st && !json_is_boolean(st)) ||
        !cut_text(o, "reason", out->reason, sizeof out->reason) ||
        !cut_text(o, "host", out->host, sizeof out->host)) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE, "candidate: priority must be an integer, "
                       "healthy and starting booleans, pid an integer and reason and host "
                       "strings");
    } else {
        out->priority = (int64_t)json_integer_value(pr);
        out->healthy = json_is_true(he);
        out->starting = st && json_is_true(st);
        out->pid = pid ? (int64_t)json_integer_value(pid) : 0;
    }
    json_decref(o);
    return rc;
}

int zku_lease_to_json(const zku_lease *l, char **out, char *errbuf, size_t errlen)
{
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "id", json_string(l->id));
        json_object_set_new(o, "priority", json_integer((json_int_t)l->priority));
    }
    return dump_node(o, ZKU_ROLE_MAX, "lease node", out, errbuf, errlen);
}

int zku_lease_from_json(const char *data, size_t len, zku_lease *out, char *errbuf,
                        size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *o = load_object(data, len, "lease", errbuf, errlen);
    if (!o)
        return WH_ERR_PARSE;
    json_t *id = json_object_get(o, "id"), *pr = json_object_get(o, "priority");
    int rc = WH_OK;
    if (!json_is_string(id) || !json_is_integer(pr) || !*json_string_value(id) ||
        !copy_text(out->id, sizeof out->id, json_string_value(id)))
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE, "lease: id must be a string of 1 to %d "
                       "characters and priority an integer", ZKU_ID_MAX);
    else
        out->priority = (int64_t)json_integer_value(pr);
    json_decref(o);
    return rc;
}

int zku_move_to_json(const zku_move *m, char **out, char *errbuf, size_t errlen)
{
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "from", json_string(m->from));
        json_object_set_new(o, "to", json_string(m->to));
        json_object_set_new(o, "by", json_string(m->by));
    }
    return dump_node(o, ZKU_ROLE_MAX, "move node", out, errbuf, errlen);
}

int zku_move_from_json(const char *data, size_t len, zku_move *out, char *errbuf,
                       size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *o = load_object(data, len, "move request", errbuf, errlen);
    if (!o)
        return WH_ERR_PARSE;
    int rc = WH_OK;
    if (!cut_text(o, "from", out->from, sizeof out->from) ||
        !cut_text(o, "to", out->to, sizeof out->to) || !cut_text(o, "by", out->by, sizeof out->by))
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                       "move request: from, to and by must be strings");
    json_decref(o);
    return rc;
}

/* ---- assignment ----------------------------------------------------------------------------- */

/* FNV-1a, then a 64-bit finalizer so that similar names spread well. */
uint64_t zku_rendezvous_weight(const char *instance, const char *shard)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)instance; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;   /* separator no name contains */
    for (const unsigned char *p = (const unsigned char *)shard; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

int zku_rendezvous_pick(const char *const *names, int n, const char *shard)
{
    int best = -1;
    uint64_t bw = 0;
    for (int i = 0; i < n; i++) {
        uint64_t w = zku_rendezvous_weight(names[i], shard);
        if (best < 0 || w > bw || (w == bw && strcmp(names[i], names[best]) < 0)) {
            best = i;
            bw = w;
        }
    }
    return best;
}
