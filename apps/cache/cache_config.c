/* cache_config.c -- wormhole-cache's settings tables and the checks that compile caches and rules. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/cache/cache.h"
#include "core/config.h"
#include "core/errbuf.h"
#include "core/update_json.h"

#define F(key, type, member, def, min, max, desc) \
    { key, type, offsetof(cache_config, member), def, min, max, desc }

const wh_cfg_field cache_config_fields[] = {
    F("subscriber.zookeeper", WH_CFG_STRING, zk_connect, NULL, 1, 0,
      "ZooKeeper servers, host:port[,host:port...]."),
    F("subscriber.zk_root", WH_CFG_STRING, zk_root, "\"/wormhole\"", 1, 0,
      "Root path of wormhole's znodes."),
    F("subscriber.zk_user", WH_CFG_STRING, zk_user, "\"\"", 1, 0,
      "The app's ZooKeeper identity (digest, docs/ZOOKEEPER.md \"Access control\"); empty: none."),
    F("subscriber.zk_secret_file", WH_CFG_STRING, zk_secret_file, "\"\"", 1, 0,
      "File with the password of subscriber.zk_user (mode 0600 or stricter)."),
    F("subscriber.app", WH_CFG_STRING, app, NULL, 1, 0,
      "Subscriber app name this process joins as one instance ([A-Za-z0-9._-])."),
    F("subscriber.instance", WH_CFG_STRING, instance, "\"\"", 1, 0,
      "Instance name; empty means the advertised endpoint host:port."),
    F("subscriber.listen", WH_CFG_STRING, listen, "\"127.0.0.1:0\"", 1, 0,
      "Address publishers connect to, host:port (port 0: any free port)."),
    F("subscriber.advertise", WH_CFG_STRING, advertise, "\"\"", 1, 0,
      "Host name published in ZooKeeper for publishers to connect to; empty means the listen host."),
    F("subscriber.filter", WH_CFG_STRING, filter, "\"\"", 1, 0,
      "Filter applied by the publishers (docs/FILTERS.md); empty means one derived from the rules: "
      "DDL and the rows of the ruled tables."),
    F("subscriber.shards", WH_CFG_JSON, shards, "null", 1, 0,
      "Array of the shards this instance takes; null means every shard."),
    F("subscriber.session_timeout_ms", WH_CFG_INT, session_ms, "10000", 1000, 120000,
      "ZooKeeper session timeout: how soon the instance's registration vanishes after a crash."),
    F("subscriber.zk_wait_ms", WH_CFG_INT, zk_wait_ms, "15000", 100, 600000,
      "How long to wait at start for the registration in ZooKeeper before giving up (exit 1)."),
    F("subscriber.heartbeat_timeout_ms", WH_CFG_INT, heartbeat_timeout_ms, "10000", 200, 600000,
      "Drop a publisher connection that stays silent this long."),
    APP_TLS_CONFIG_FIELDS(cache_config, tls),
    F("caches", WH_CFG_JSON, caches_json, NULL, 1, 0,
      "Array of caches: {name, type (memcached or redis), servers, ...} (docs/APPS.md)."),
    F("rules", WH_CFG_JSON, rules_json, NULL, 1, 0,
      "Array of rules: {table, keys, action, ...} (docs/APPS.md)."),
    F("apply.group_ops", WH_CFG_INT, group_ops, "20000", 1, 10000000,
      "Most cache operations sent in one pipelined round trip (several batches are grouped)."),
    F("apply.max_pending_bytes", WH_CFG_INT, max_pending_bytes, "67108864", 65536, 4294967296,
      "Most bytes of rendered operations queued and not yet confirmed; past it the publisher "
      "connection is refused a batch and redelivers it later."),
    F("apply.second_delete_ms", WH_CFG_INT, redelete_ms, "1000", 0, 600000,
      "Delete each invalidated key again this long after its first delete: MySQL and MariaDB "
      "write a transaction to the binlog before its rows are visible to readers, and a "
      "reader that fills the key in between stores the old row; 0: no second delete."),
    F("apply.retry_min_ms", WH_CFG_INT, retry_min_ms, "100", 1, 600000,
      "First delay before retrying a cache that failed; doubles per failure."),
    F("apply.retry_max_ms", WH_CFG_INT, retry_max_ms, "5000", 1, 600000,
      "Longest delay between retries of a failed cache."),
    F("stats.interval_ms", WH_CFG_INT, stats_interval_ms, "10000", 0, 86400000,
      "Print a statistics line on stderr (and rewrite the status file) this often; 0: never."),
    F("stats.status_interval_ms", WH_CFG_INT, status_interval_ms, "1000", 10, 86400000,
      "Rewrite the status file this often."),
    F("stats.status_file", WH_CFG_STRING, status_file, "\"\"", 1, 0,
      "Path of a JSON status file rewritten atomically each interval; empty: none "
      "(--status-file overrides)."),
    F("log.level", WH_CFG_STRING, log_level, "\"info\"", 1, 0,
      "Log level: error, warn, info or debug."),
    F("log.debug", WH_CFG_STRING, log_debug, "\"\"", 1, 0,
      "Comma-separated debug areas (subscriber,protocol,zk,filter or all)."),
    { NULL, 0, 0, NULL, 0, 0, NULL },
};
#undef F

/* One element of "caches" as its table reads it. */
typedef struct cache_elem {
    char   *name, *type, *password, *distribution;
    json_t *servers;
    int64_t timeout_ms, db, max_item;
} cache_elem;

#define CF(key, type, member, def, min, max, desc) \
    { key, type, offsetof(cache_elem, member), def, min, max, desc }
static const wh_cfg_field cache_elem_fields[] = {
    CF("name", WH_CFG_STRING, name, NULL, 1, 0, "Name the rules use to pick this cache."),
    CF("type", WH_CFG_STRING, type, NULL, 1, 0, "memcached or redis."),
    CF("servers", WH_CFG_JSON, servers, NULL, 1, 0,
       "Array of host:port; memcached: the pool (keys are distributed as the clients do), "
       "redis: exactly one server."),
    CF("timeout_ms", WH_CFG_INT, timeout_ms, "2000", 10, 600000,
       "Connect and I/O timeout; a round trip slower than this counts as a failure."),
    CF("db", WH_CFG_INT, db, "0", 0, 1000000, "Redis: database number (SELECT)."),
    CF("password", WH_CFG_STRING, password, "\"\"", 1, 0, "Redis: AUTH password; empty: none."),
    CF("distribution", WH_CFG_STRING, distribution, "\"ketama\"", 1, 0,
       "memcached: how keys map to servers, ketama (libmemcached's weighted ketama, "
       "libketama-compatible) or modula (libmemcached's default); must match the "
       "application's clients."),
    CF("max_item_bytes", WH_CFG_INT, max_item, "1048576", 1024, 1073741824,
       "memcached: the servers' item size limit (-I); a set whose key and value exceed it "
       "is turned into a delete."),
    { NULL, 0, 0, NULL, 0, 0, NULL },
};
#undef CF

/* One element of "rules" as its table reads it. */
typedef struct rule_elem {
    char   *table, *filter, *action, *value, *on_ddl, *null_text;
    json_t *keys, *caches, *columns;
    int64_t ttl;
} rule_elem;

#define RF(key, type, member, def, min, max, desc) \
    { key, type, offsetof(rule_elem, member), def, min, max, desc }
static const wh_cfg_field rule_elem_fields[] = {
    RF("table", WH_CFG_STRING, table, NULL, 1, 0, "The table, as db.table."),
    RF("filter", WH_CFG_STRING, filter, "\"\"", 1, 0,
       "Only rows matching this filter (docs/FILTERS.md), tested on each image alone."),
    RF("keys", WH_CFG_JSON, keys, NULL, 1, 0, "Array of key templates, e.g. \"user:{id}\"."),
    RF("action", WH_CFG_STRING, action, "\"delete\"", 1, 0,
       "delete (invalidate; the default) or set (write the rendered value)."),
    RF("value", WH_CFG_STRING, value, "\"{*}\"", 1, 0,
       "set: the value template; {*} is the after image as a JSON object."),
    RF("ttl", WH_CFG_INT, ttl, "0", 0, CACHE_MAX_TTL, "set: expiry in seconds, 0: none."),
    RF("caches", WH_CFG_JSON, caches, "null", 1, 0,
       "Array of cache names this rule writes to; null: every cache."),
    RF("on_ddl", WH_CFG_STRING, on_ddl, "\"ignore\"", 1, 0,
       "What DDL naming the table does: ignore (log it), stop (exit 1 before it), or flush "
       "(Redis: delete the rule's keys; memcached: flush_all)."),
    RF("null", WH_CFG_STRING, null_text, "\"null\"", 0, 0, "How SQL NULL renders."),
    RF("columns", WH_CFG_JSON, columns, "null", 1, 0,
       "Optional array of the table's columns: templates are checked against it at start."),
    { NULL, 0, 0, NULL, 0, 0, NULL },
};
#undef RF

int cache_split_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1])
        return WH_ERR_CONFIG;
    const char *h = s;
    size_t hn = (size_t)(colon - s);
    if (h[0] == '[' && hn >= 2 && h[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    if (hn == 0 || hn >= hostlen)
        return WH_ERR_CONFIG;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535)
        return WH_ERR_CONFIG;
    memcpy(host, h, hn);
    host[hn] = '\0';
    *port = (int)p;
    return WH_OK;
}

/* Copies a JSON array of non-empty strings into a NULL-terminated array. */
static int string_array(const json_t *a, const char *where, const char *key, bool allow_empty,
                        char ***out, uint32_t *n, char *errbuf, size_t errlen)
{
    if (!json_is_array(a) || (!allow_empty && json_array_size(a) == 0))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key '%s': expected a%s array of "
                         "strings", where, key, allow_empty ? "n" : " non-empty");
    size_t cnt = json_array_size(a);
    char **v = calloc(cnt + 1, sizeof *v);
    if (!v)
        return WH_ERR_NOMEM;
    for (size_t i = 0; i < cnt; i++) {
        const json_t *e = json_array_get(a, i);
        if (!json_is_string(e) || json_string_length(e) == 0) {
            for (size_t k = 0; k < i; k++)
                free(v[k]);
            free(v);
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key '%s': element %zu is not "
                             "a non-empty string", where, key, i);
        }
        v[i] = strdup(json_string_value(e));
        if (!v[i]) {
            for (size_t k = 0; k < i; k++)
                free(v[k]);
            free(v);
            return WH_ERR_NOMEM;
        }
    }
    *out = v;
    *n = (uint32_t)cnt;
    return WH_OK;
}

static void free_strings(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static int load_cache(cache_config *c, const json_t *e, const char *where, cache_cfg *out,
                      char *errbuf, size_t errlen)
{
    cache_elem el;
    memset(&el, 0, sizeof el);
    int rc = wh_config_apply(e, where, cache_elem_fields, &el, errbuf, errlen);
    if (rc)
        goto out;
    for (uint32_t i = 0; i < c->ncaches; i++)
        if (strcmp(c->caches[i].name, el.name) == 0) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'name': a cache named '%s' is "
                           "already defined", where, el.name);
            goto out;
        }
    if (strcmp(el.type, "memcached") == 0)
        out->type = CACHE_MEMCACHED;
    else if (strcmp(el.type, "redis") == 0)
        out->type = CACHE_REDIS;
    else {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'type': '%s' is neither "
                       "memcached nor redis", where, el.type);
        goto out;
    }
    rc = string_array(el.servers, where, "servers", false, &out->servers, &out->nservers, errbuf,
                      errlen);
    if (rc)
        goto out;
    if (out->type == CACHE_REDIS && out->nservers != 1) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'servers': a redis cache has "
                       "exactly one server (define one cache per server)", where);
        goto out;
    }
    for (uint32_t i = 0; i < out->nservers; i++) {
        char host[256];
        int port;
        if (cache_split_hostport(out->servers[i], host, sizeof host, &port) || port == 0) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'servers': '%s' is not "
                           "host:port", where, out->servers[i]);
            goto out;
        }
    }
    if (strcmp(el.distribution, "ketama") == 0)
        out->ketama = true;
    else if (strcmp(el.distribution, "modula") == 0)
        out->ketama = false;
    else {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'distribution': '%s' is neither "
                       "ketama nor modula", where, el.distribution);
        goto out;
    }
    out->name = el.name;
    el.name = NULL;
    if (el.password[0]) {
        out->password = el.password;
        el.password = NULL;
    }
    out->timeout_ms = el.timeout_ms;
    out->db = el.db;
    out->max_item_bytes = el.max_item;
out:
    wh_config_free(cache_elem_fields, &el);
    return rc;
}

static int find_cache(const cache_config *c, const char *name)
{
    for (uint32_t i = 0; i < c->ncaches; i++)
        if (strcmp(c->caches[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Appends s to a glob pattern with the glob's special characters escaped. */
static void glob_escape(wh_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strchr("*?[]\\", s[i]))
            wh_buf_putc(b, '\\');
        wh_buf_putc(b, s[i]);
    }
}

static int load_rule(cache_config *c, const json_t *e, const char *where, cache_rule *r,
                     char *errbuf, size_t errlen)
{
    rule_elem el;
    memset(&el, 0, sizeof el);
    char **declared = NULL;
    uint32_t ndeclared = 0;
    wh_buf pat = WH_BUF_INIT;
    int rc = wh_config_apply(e, where, rule_elem_fields, &el, errbuf, errlen);
    if (rc)
        goto out;
    const char *dot = strchr(el.table, '.');
    if (!dot || dot == el.table || !dot[1]) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'table': '%s' is not db.table",
                       where, el.table);
        goto out;
    }
    r->db = strndup(el.table, (size_t)(dot - el.table));
    r->table = strdup(dot + 1);
    r->null_text = strdup(el.null_text);
    if (!r->db || !r->table || !r->null_text) {
        rc = WH_ERR_NOMEM;
        goto out;
    }
    if (el.filter[0]) {
        char ferr[512];
        rc = wh_filter_parse(el.filter, strlen(el.filter), &r->filter, ferr, sizeof ferr);
        if (rc) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'filter': %s", where, ferr);
            goto out;
        }
        r->filter_text = el.filter;
        el.filter = NULL;
    }
    if (strcmp(el.action, "delete") == 0)
        r->action = RULE_DELETE;
    else if (strcmp(el.action, "set") == 0)
        r->action = RULE_SET;
    else {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'action': '%s' is neither delete "
                       "nor set", where, el.action);
        goto out;
    }
    if (strcmp(el.on_ddl, "ignore") == 0)
        r->on_ddl = DDL_IGNORE;
    else if (strcmp(el.on_ddl, "stop") == 0)
        r->on_ddl = DDL_STOP;
    else if (strcmp(el.on_ddl, "flush") == 0)
        r->on_ddl = DDL_FLUSH;
    else {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'on_ddl': '%s' is not ignore, "
                       "stop or flush", where, el.on_ddl);
        goto out;
    }
    r->ttl = el.ttl;
    if (r->action == RULE_DELETE && el.ttl) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'ttl': only a set rule has a ttl",
                       where);
        goto out;
    }
    if (!json_is_array(el.keys) || json_array_size(el.keys) == 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'keys': expected a non-empty "
                       "array of key templates", where);
        goto out;
    }
    r->nkeys = (uint32_t)json_array_size(el.keys);
    r->keys = calloc(r->nkeys, sizeof *r->keys);
    if (!r->keys) {
        rc = WH_ERR_NOMEM;
        goto out;
    }
    for (uint32_t k = 0; k < r->nkeys; k++) {
        const json_t *t = json_array_get(el.keys, k);
        char terr[512];
        if (!json_is_string(t)) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'keys': element %u is not a "
                           "string", where, k);
            goto out;
        }
        rc = cache_tpl_parse(json_string_value(t), false, &r->keys[k], &r->cols, &r->ncols, terr,
                             sizeof terr);
        if (rc) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'keys': element %u: %s", where,
                           k, terr);
            goto out;
        }
        /* The key as a glob pattern (Redis SCAN MATCH) for on_ddl = flush. */
        const cache_tpl *tp = &r->keys[k];
        for (uint32_t p = 0; p < tp->nparts; p++) {
            glob_escape(&pat, tp->lit + tp->parts[p].lit_off, tp->parts[p].lit_len);
            if (tp->parts[p].col >= 0)
                wh_buf_putc(&pat, '*');
        }
        wh_buf_append(&pat, "", 1);   /* the pattern's terminating NUL */
    }
    if (r->action == RULE_SET) {
        char terr[512];
        rc = cache_tpl_parse(el.value, true, &r->value, &r->cols, &r->ncols, terr, sizeof terr);
        if (rc) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'value': %s", where, terr);
            goto out;
        }
    }
    if (!wh_buf_ok(&pat)) {
        rc = WH_ERR_NOMEM;
        goto out;
    }
    r->patterns = pat.data;
    r->patterns_len = (uint32_t)pat.len;
    pat.data = NULL;
    if (json_is_null(el.caches)) {
        r->caches = (uint32_t)((1ull << c->ncaches) - 1);
    } else {
        char **names = NULL;
        uint32_t nn = 0;
        rc = string_array(el.caches, where, "caches", false, &names, &nn, errbuf, errlen);
        if (rc)
            goto out;
        for (uint32_t i = 0; i < nn; i++) {
            int ci = find_cache(c, names[i]);
            if (ci < 0) {
                rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'caches': no cache is "
                               "named '%s'", where, names[i]);
                free_strings(names);
                goto out;
            }
            r->caches |= 1u << ci;
        }
        free_strings(names);
    }
    if (!json_is_null(el.columns)) {
        rc = string_array(el.columns, where, "columns", false, &declared, &ndeclared, errbuf,
                          errlen);
        if (rc)
            goto out;
        for (uint32_t i = 0; i < r->ncols; i++) {
            bool found = false;
            for (uint32_t k = 0; k < ndeclared && !found; k++)
                found = strcmp(declared[k], r->cols[i]) == 0;
            if (!found) {
                rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: the templates name column "
                               "'%s', which is not among the table's columns declared in "
                               "'columns'", where, r->cols[i]);
                goto out;
            }
        }
    }
    r->res_idx = calloc(r->ncols ? r->ncols : 1, sizeof *r->res_idx);
    if (!r->res_idx)
        rc = WH_ERR_NOMEM;
out:
    free_strings(declared);
    wh_buf_free(&pat);
    wh_config_free(rule_elem_fields, &el);
    return rc;
}

static void rule_free(cache_rule *r)
{
    free(r->db);
    free(r->table);
    free(r->filter_text);
    wh_filter_free(r->filter);
    for (uint32_t k = 0; k < r->nkeys; k++)
        cache_tpl_free(&r->keys[k]);
    free(r->keys);
    cache_tpl_free(&r->value);
    for (uint32_t i = 0; i < r->ncols; i++)
        free(r->cols[i]);
    free(r->cols);
    free(r->patterns);
    free(r->null_text);
    free(r->res_idx);
}

/* The filter publishers apply when the config sets none: DDL (rare; rules
 * may act on it) and every row of a ruled table. */
static int derive_filter(cache_config *c)
{
    wh_buf b = WH_BUF_INIT;
    wh_buf_puts(&b, "op = \"ddl\"");
    for (uint32_t i = 0; i < c->nrules; i++) {
        const cache_rule *r = &c->rules[i];
        bool seen = false;
        for (uint32_t k = 0; k < i && !seen; k++)
            seen = strcmp(c->rules[k].db, r->db) == 0 && strcmp(c->rules[k].table, r->table) == 0;
        if (seen)
            continue;
        wh_buf_puts(&b, " or (db = ");
        wh_json_put_string(&b, r->db, strlen(r->db));
        wh_buf_puts(&b, " and table = ");
        wh_json_put_string(&b, r->table, strlen(r->table));
        wh_buf_putc(&b, ')');
    }
    if (!wh_buf_ok(&b)) {
        wh_buf_free(&b);
        return WH_ERR_NOMEM;
    }
    c->sub_filter = b.data;
    return WH_OK;
}

int cache_config_from_json(const json_t *root, const char *where, cache_config **out,
                           char *errbuf, size_t errlen)
{
    char w[1024];
    *out = NULL;
    cache_config *c = calloc(1, sizeof *c);
    if (!c)
        return WH_ERR_NOMEM;
    int rc = wh_config_apply(root, where, cache_config_fields, c, errbuf, errlen);
    if (rc)
        goto err;
    if (!json_is_array(c->caches_json) || json_array_size(c->caches_json) == 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'caches': expected a non-empty "
                       "array of caches", where);
        goto err;
    }
    if (json_array_size(c->caches_json) > CACHE_MAX_CACHES) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'caches': at most %d caches",
                       where, CACHE_MAX_CACHES);
        goto err;
    }
    for (size_t i = 0; i < json_array_size(c->caches_json); i++) {
        snprintf(w, sizeof w, "%s: caches[%zu]", where, i);
        rc = load_cache(c, json_array_get(c->caches_json, i), w, &c->caches[c->ncaches], errbuf,
                        errlen);
        c->ncaches++;       /* also when it failed: cache_config_free frees what it holds */
        if (rc)
            goto err;
    }
    if (!json_is_array(c->rules_json) || json_array_size(c->rules_json) == 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'rules': expected a non-empty "
                       "array of rules", where);
        goto err;
    }
    if (json_array_size(c->rules_json) > CACHE_MAX_RULES) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'rules': at most %d rules", where,
                       CACHE_MAX_RULES);
        goto err;
    }
    c->rules = calloc(json_array_size(c->rules_json), sizeof *c->rules);
    if (!c->rules) {
        rc = WH_ERR_NOMEM;
        goto err;
    }
    for (size_t i = 0; i < json_array_size(c->rules_json); i++) {
        snprintf(w, sizeof w, "%s: rules[%zu]", where, i);
        c->rules[i].index = (int)i;
        rc = load_rule(c, json_array_get(c->rules_json, i), w, &c->rules[i], errbuf, errlen);
        c->nrules++;
        if (rc)
            goto err;
    }
    if (!json_is_null(c->shards)) {
        uint32_t n;
        rc = string_array(c->shards, where, "subscriber.shards", false, &c->shard_list, &n,
                          errbuf, errlen);
        if (rc)
            goto err;
    }
    char host[256];
    int port;
    if (cache_split_hostport(c->listen, host, sizeof host, &port)) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'subscriber.listen': '%s' is not "
                       "host:port", where, c->listen);
        goto err;
    }
    if (c->retry_min_ms > c->retry_max_ms) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'apply.retry_min_ms': %lld is "
                       "above apply.retry_max_ms (%lld)", where, (long long)c->retry_min_ms,
                       (long long)c->retry_max_ms);
        goto err;
    }
    if (c->filter[0]) {
        c->sub_filter = strdup(c->filter);
        rc = c->sub_filter ? WH_OK : WH_ERR_NOMEM;
    } else {
        rc = derive_filter(c);
    }
    if (rc)
        goto err;
    *out = c;
    return WH_OK;
err:
    cache_config_free(c);
    return rc;
}

int cache_config_load(const char *path, cache_config **out, char *errbuf, size_t errlen)
{
    json_error_t jerr;
    *out = NULL;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (jerr.line < 0)
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: %s", path, jerr.text);
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s:%d:%d: %s", path, jerr.line,
                         jerr.column, jerr.text);
    }
    int rc = cache_config_from_json(root, path, out, errbuf, errlen);
    json_decref(root);
    if (rc == WH_OK)
        (*out)->path = path;
    return rc;
}

void cache_config_free(cache_config *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < c->ncaches; i++) {
        free(c->caches[i].name);
        free_strings(c->caches[i].servers);
        free(c->caches[i].password);
    }
    for (uint32_t i = 0; i < c->nrules; i++)
        rule_free(&c->rules[i]);
    free(c->rules);
    free(c->sub_filter);
    free_strings(c->shard_list);
    wh_config_free(cache_config_fields, c);
    free(c);
}
