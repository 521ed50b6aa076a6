/* idx_config.c -- wormhole-index's settings tables, and the checks and derived values of a loaded config. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apps/index/idx.h"
#include "core/errbuf.h"

#define F(key, type, member, def, min, max, desc) \
    { key, type, offsetof(idx_config, member), def, min, max, desc }

const wh_cfg_field idx_config_fields[] = {
    F("zookeeper.connect", WH_CFG_STRING, zk_connect, NULL, 1, 0,
      "ZooKeeper servers, host:port[,host:port...]."),
    F("zookeeper.root", WH_CFG_STRING, zk_root, "\"/wormhole\"", 1, 0,
      "Root path of wormhole's znodes (the publishers' zookeeper.root)."),
    F("zookeeper.user", WH_CFG_STRING, zk_user, "\"\"", 1, 0,
      "The app's ZooKeeper identity (digest, docs/ZOOKEEPER.md \"Access control\"); empty: none."),
    F("zookeeper.secret_file", WH_CFG_STRING, zk_secret_file, "\"\"", 1, 0,
      "File with the password of zookeeper.user (mode 0600 or stricter)."),
    F("zookeeper.session_timeout_ms", WH_CFG_INT, zk_session_ms, "10000", 1000, 120000,
      "ZooKeeper session timeout: how soon this instance's registration vanishes if it dies."),
    F("zookeeper.wait_ms", WH_CFG_INT, zk_wait_ms, "15000", 100, 600000,
      "How long to wait at start for the first registration in ZooKeeper before giving up."),
    F("subscriber.app", WH_CFG_STRING, app, NULL, 1, 0,
      "Subscriber app name; each index is its own app (a new name starts from the oldest "
      "update in the publishers' logs)."),
    F("subscriber.instance", WH_CFG_STRING, instance, "\"\"", 1, 0,
      "Instance name; empty means the advertised endpoint host:port."),
    F("subscriber.shards", WH_CFG_JSON, shards_json, "[]", 1, 0,
      "Shards this instance takes, as an array of names; empty means all."),
    F("subscriber.listen_host", WH_CFG_STRING, listen_host, "\"127.0.0.1\"", 1, 0,
      "Address to listen on for publishers (0.0.0.0 for every interface)."),
    F("subscriber.listen_port", WH_CFG_INT, listen_port, "0", 0, 65535,
      "Port to listen on; 0 lets the kernel choose."),
    F("subscriber.advertise_host", WH_CFG_STRING, advertise_host, "\"\"", 1, 0,
      "Host name publishers connect to; empty means the listen host."),
    F("subscriber.heartbeat_timeout_ms", WH_CFG_INT, heartbeat_timeout_ms, "10000", 200, 600000,
      "Drop a publisher connection that sent nothing for this long."),
    APP_TLS_CONFIG_FIELDS(idx_config, tls),
    F("backend.type", WH_CFG_STRING, backend, "\"sqlite\"", 1, 0,
      "Where the index lives: sqlite (an FTS5 file) or postgresql (tsvector + GIN)."),
    F("backend.retry_min_ms", WH_CFG_INT, retry_min_ms, "100", 10, 600000,
      "First delay before retrying a failed index backend; doubles per failure."),
    F("backend.retry_max_ms", WH_CFG_INT, retry_max_ms, "5000", 10, 600000,
      "Longest delay between retries of a failed index backend."),
    F("sqlite.path", WH_CFG_STRING, sqlite_path, "\"\"", 1, 0,
      "SQLite database file of the index (created if missing); required for sqlite."),
    F("sqlite.synchronous", WH_CFG_STRING, sqlite_synchronous, "\"full\"", 1, 0,
      "SQLite synchronous mode: full (a commit survives power loss), normal (survives a crash "
      "of the app, not of the machine) or off."),
    F("sqlite.tokenize", WH_CFG_STRING, sqlite_tokenize, "\"unicode61\"", 1, 0,
      "FTS5 tokenizer of new index tables, e.g. \"porter unicode61\"."),
    F("sqlite.busy_timeout_ms", WH_CFG_INT, sqlite_busy_ms, "5000", 0, 600000,
      "How long a write waits for another process holding the database's lock."),
    F("postgresql.conninfo", WH_CFG_STRING, pg_conninfo, "\"\"", 1, 0,
      "libpq connection string (\"host=/run/pg dbname=search\"); empty uses the PG* "
      "environment variables."),
    F("postgresql.text_search_config", WH_CFG_STRING, pg_ts_config, "\"simple\"", 1, 0,
      "Text search configuration of new index tables' tsvector column."),
    F("index.counters", WH_CFG_BOOL, counters, "false", 1, 0,
      "Also count applied row changes per source key in table wormhole_counts (proves "
      "exactly-once application; costs one more write per change)."),
    F("tables", WH_CFG_JSON, tables_json, NULL, 1, 0,
      "Array of indexed tables: {\"source\": \"db.table\", \"name\": index table, \"key\": "
      "[primary key columns], \"text\": [searchable columns], \"stored\": [other columns]}."),
    F("status.file", WH_CFG_STRING, status_file, "\"\"", 1, 0,
      "Status file (JSON, rewritten atomically every interval); empty = none."),
    F("status.interval_ms", WH_CFG_INT, status_interval_ms, "10000", 100, 3600000,
      "Interval of the status line on stderr and of status file rewrites."),
    F("log.level", WH_CFG_STRING, log_level, "\"info\"", 1, 0,
      "Log level: error, warn, info or debug."),
    F("log.debug", WH_CFG_STRING, log_debug, "\"\"", 1, 0,
      "Comma-separated debug areas (subscriber,protocol,zk,filter or all)."),
    { NULL, 0, 0, NULL, 0, 0, NULL },
};

/* One element of "tables", read with its own table. */
typedef struct table_cfg {
    char   *source, *name;
    json_t *key, *text, *stored;
} table_cfg;

const wh_cfg_field idx_table_fields[] = {
    { "source", WH_CFG_STRING, offsetof(table_cfg, source), NULL, 1, 0,
      "The source table, \"db.table\"." },
    { "name", WH_CFG_STRING, offsetof(table_cfg, name), "\"\"", 1, 0,
      "Name of the index table; empty means the source table's name." },
    { "key", WH_CFG_JSON, offsetof(table_cfg, key), NULL, 1, 0,
      "The source table's primary key columns." },
    { "text", WH_CFG_JSON, offsetof(table_cfg, text), NULL, 1, 0,
      "Columns whose words are indexed (at least one)." },
    { "stored", WH_CFG_JSON, offsetof(table_cfg, stored), "[]", 1, 0,
      "Columns stored in the index next to the key, not searchable." },
    { NULL, 0, 0, NULL, 0, 0, NULL },
};

/* An SQL identifier that needs no quoting rules beyond "..." in either backend. */
static bool sql_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

/* A MariaDB database or table name we can quote in a filter string without escapes. */
static bool source_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '$' || c == '-'))
            return false;
    }
    return true;
}

/* Appends the strings of a JSON array of column names to t->cols. */
static int add_cols(idx_table *t, const json_t *arr, const char *where, const char *key,
                    bool need_one, uint32_t *count, char *errbuf, size_t errlen)
{
    if (!json_is_array(arr) || (need_one && json_array_size(arr) == 0))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key '%s': expected an array of "
                         "%scolumn names", where, key, need_one ? "one or more " : "");
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) {
        const char *name = json_string_value(v);
        if (!name || !sql_name_ok(name))
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key '%s': element %zu is not a "
                             "column name of 1..63 letters, digits and '_' (not starting with "
                             "a digit)", where, key, i);
        for (uint32_t k = 0; k < t->ncols; k++)
            if (strcasecmp(t->cols[k], name) == 0)
                return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key '%s': column '%s' is "
                                 "listed twice", where, key, name);
        if (strcmp(name, "tsv") == 0 || strncasecmp(name, "wh_", 3) == 0)
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key '%s': column name '%s' is "
                             "reserved for the index's own columns", where, key, name);
        char **cols = realloc(t->cols, (t->ncols + 1) * sizeof *cols);
        if (!cols)
            return WH_ERR_NOMEM;
        t->cols = cols;
        if (!(t->cols[t->ncols] = strdup(name)))
            return WH_ERR_NOMEM;
        t->ncols++;
        (*count)++;
    }
    return WH_OK;
}

static int load_table(idx_config *c, idx_table *t, const json_t *obj, const char *where,
                      char *errbuf, size_t errlen)
{
    table_cfg tc;
    memset(&tc, 0, sizeof tc);
    int rc = wh_config_apply(obj, where, idx_table_fields, &tc, errbuf, errlen);
    if (rc)
        goto out;
    const char *dot = strchr(tc.source, '.');
    if (!dot || !source_name_ok(tc.source, (size_t)(dot - tc.source)) ||
        !source_name_ok(dot + 1, strlen(dot + 1))) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'source': '%s' is not db.table "
                       "(letters, digits, '_', '$' and '-')", where, tc.source);
        goto out;
    }
    t->source = strdup(tc.source);
    t->db = strndup(tc.source, (size_t)(dot - tc.source));
    t->table = strdup(dot + 1);
    t->name = strdup(tc.name[0] ? tc.name : dot + 1);
    if (!t->source || !t->db || !t->table || !t->name) {
        rc = WH_ERR_NOMEM;
        goto out;
    }
    if (!sql_name_ok(t->name) || strncasecmp(t->name, "wormhole_", 9) == 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'name': index table name '%s' "
                       "is not 1..63 letters, digits and '_'%s", where, t->name,
                       tc.name[0] ? "" : " (the source table's name; set 'name')");
        if (sql_name_ok(t->name))
            rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'name': names starting "
                           "with wormhole_ are the index's own tables", where);
        goto out;
    }
    if ((rc = add_cols(t, tc.key, where, "key", true, &t->nkey, errbuf, errlen)) ||
        (rc = add_cols(t, tc.text, where, "text", true, &t->ntext, errbuf, errlen)) ||
        (rc = add_cols(t, tc.stored, where, "stored", false, &t->nstored, errbuf, errlen)))
        goto out;
    if (!(t->at = calloc(t->ncols, sizeof *t->at))) {
        rc = WH_ERR_NOMEM;
        goto out;
    }
    for (uint32_t k = 0; k < c->ntables; k++) {
        if (strcasecmp(c->tables[k].name, t->name) == 0) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: index table '%s' is also the "
                           "index of %s", where, t->name, c->tables[k].source);
            break;
        }
        if (strcmp(c->tables[k].source, t->source) == 0) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: source %s is indexed twice",
                           where, t->source);
            break;
        }
    }
out:
    wh_config_free(idx_table_fields, &tc);
    return rc;
}

static void table_free(idx_table *t)
{
    for (uint32_t k = 0; k < t->ncols; k++)
        free(t->cols[k]);
    free(t->cols);
    free(t->source);
    free(t->db);
    free(t->table);
    free(t->name);
    free(t->at);
}

/* The filter that asks publishers for the indexed tables' rows and every DDL
 * (TRUNCATE and DROP name their table only in the statement). */
static char *make_filter(const idx_config *c)
{
    wh_buf b = WH_BUF_INIT;
    for (uint32_t i = 0; i < c->ntables; i++)
        wh_buf_printf(&b, "%s(db = \"%s\" and table = \"%s\")", i ? " or " : "",
                      c->tables[i].db, c->tables[i].table);
    wh_buf_puts(&b, " or op = \"ddl\"");
    if (!wh_buf_ok(&b)) {
        wh_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static bool one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcasecmp(s, *set) == 0)
            return true;
    return false;
}

int idx_config_load(const char *path, idx_config *c, char *errbuf, size_t errlen)
{
    static const char *const backends[] = { "sqlite", "postgresql", NULL };
    static const char *const syncs[] = { "off", "normal", "full", "extra", NULL };
    memset(c, 0, sizeof *c);
    int rc = wh_config_load_file(path, idx_config_fields, c, errbuf, errlen);
    if (rc)
        return rc;
    const char *bad = NULL;
    char why[256];
    if (!one_of(c->backend, backends)) {
        bad = "backend.type";
        snprintf(why, sizeof why, "'%s' is not sqlite or postgresql", c->backend);
    } else if (strcmp(c->backend, "sqlite") == 0 && !c->sqlite_path[0]) {
        bad = "sqlite.path";
        snprintf(why, sizeof why, "required with backend.type sqlite");
    } else if (!one_of(c->sqlite_synchronous, syncs)) {
        bad = "sqlite.synchronous";
        snprintf(why, sizeof why, "'%s' is not off, normal, full or extra",
                 c->sqlite_synchronous);
    } else if (strchr(c->sqlite_tokenize, '\'') || !c->sqlite_tokenize[0]) {
        bad = "sqlite.tokenize";
        snprintf(why, sizeof why, "must be a non-empty tokenizer spec without quotes '");
    } else if (strspn(c->pg_ts_config, "abcdefghijklmnopqrstuvwxyz0123456789_.") !=
                   strlen(c->pg_ts_config) || !c->pg_ts_config[0]) {
        bad = "postgresql.text_search_config";
        snprintf(why, sizeof why, "'%s' is not a text search configuration name",
                 c->pg_ts_config);
    } else if (c->retry_min_ms > c->retry_max_ms) {
        bad = "backend.retry_min_ms";
        snprintf(why, sizeof why, "%lld is more than backend.retry_max_ms",
                 (long long)c->retry_min_ms);
    } else if (c->zk_root[0] != '/') {
        bad = "zookeeper.root";
        snprintf(why, sizeof why, "'%s' is not an absolute path", c->zk_root);
    } else if (!json_is_array(c->shards_json)) {
        bad = "subscriber.shards";
        snprintf(why, sizeof why, "expected an array of shard names");
    } else if (!json_is_array(c->tables_json) || json_array_size(c->tables_json) == 0) {
        bad = "tables";
        snprintf(why, sizeof why, "expected an array of one or more tables");
    }
    if (bad) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key '%s': %s", path, bad, why);
        goto err;
    }
    size_t n = json_array_size(c->shards_json);
    if (n) {
        if (!(c->shards = calloc(n + 1, sizeof *c->shards))) {
            rc = WH_ERR_NOMEM;
            goto err;
        }
        for (size_t i = 0; i < n; i++) {
            const char *s = json_string_value(json_array_get(c->shards_json, i));
            if (!s || !*s) {
                rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: key 'subscriber.shards': "
                               "element %zu is not a shard name", path, i);
                goto err;
            }
            if (!(c->shards[i] = strdup(s))) {
                rc = WH_ERR_NOMEM;
                goto err;
            }
        }
    }
    n = json_array_size(c->tables_json);
    if (!(c->tables = calloc(n, sizeof *c->tables))) {
        rc = WH_ERR_NOMEM;
        goto err;
    }
    for (size_t i = 0; i < n; i++) {
        char where[600];
        snprintf(where, sizeof where, "%s: tables[%zu]", path, i);
        rc = load_table(c, &c->tables[c->ntables], json_array_get(c->tables_json, i), where,
                        errbuf, errlen);
        c->ntables++;           /* also a half-loaded one, so that it is freed */
        if (rc)
            goto err;
    }
    if (!(c->filter = make_filter(c))) {
        rc = WH_ERR_NOMEM;
        goto err;
    }
    return WH_OK;
err:
    if (rc == WH_ERR_NOMEM)
        wh_seterr(errbuf, errlen, rc, "%s: out of memory", path);
    idx_config_free(c);
    return rc == WH_ERR_NOMEM ? rc : WH_ERR_CONFIG;
}

void idx_config_free(idx_config *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < c->ntables; i++)
        table_free(&c->tables[i]);
    free(c->tables);
    if (c->shards) {
        for (char **p = c->shards; *p; p++)
            free(*p);
        free(c->shards);
    }
    free(c->filter);
    wh_config_free(idx_config_fields, c);
    memset(c, 0, sizeof *c);
}
