/* zk_bootstrap.c -- the bootstrap nodes: paths and codecs (see zk_bootstrap.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "protocol/zk_bootstrap.h"
#include "protocol/zk_layout.h"

int zku_path_bootstrap(char *buf, size_t len, const char *root, const char *app)
{
    int n = snprintf(buf, len, "%s/apps/%s/bootstrap", root, app);
    return n < 0 || (size_t)n >= len ? WH_ERR_LIMIT : WH_OK;
}

int zku_path_boot_progress(char *buf, size_t len, const char *root, const char *app,
                           const char *shard)
{
    int n = snprintf(buf, len, "%s/apps/%s/bootstrap/%s", root, app, shard);
    return n < 0 || (size_t)n >= len ? WH_ERR_LIMIT : WH_OK;
}

static int dump(json_t *o, char **out, const char *what, char *errbuf, size_t errlen)
{
    *out = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!*out)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "%s: out of memory", what);
    if (strlen(*out) >= ZKU_BOOT_MAX) {
        free(*out);
        *out = NULL;
        return wh_seterr(errbuf, errlen, WH_ERR_LIMIT, "%s: more than %d bytes", what,
                         ZKU_BOOT_MAX - 1);
    }
    return WH_OK;
}

static bool valid_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > ZKU_BOOT_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x21 || id[i] == '"' || id[i] == '\\')
            return false;
    return true;
}

/* "db.table" with both parts non-empty and no further '.' (*dot: the
 * db's length); a key-value store's table without a db (a RocksDB column
 * family): "name" without a '.', or ".name" where name may hold dots (*dot
 * 0, *skip where the name starts). */
static bool split_table(const char *s, size_t *dot, size_t *skip)
{
    if (!s || !s[0])
        return false;
    const char *d = strchr(s, '.');
    if (!d || d == s) {
        *dot = 0;
        *skip = d ? 1 : 0;
        return s[*skip] != '\0';
    }
    if (!d[1] || strchr(d + 1, '.'))
        return false;
    *dot = (size_t)(d - s);
    *skip = *dot + 1;
    return true;
}

int zku_boot_request_to_json(const char *id, const char *const *tables, uint32_t n,
                             char **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    size_t dot, skip;
    if (!valid_id(id))
        return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "bootstrap request: the id must be 1 to "
                         "%d printable characters without spaces or quotes", ZKU_BOOT_ID_MAX);
    if (n == 0 || n > ZKU_BOOT_TABLES)
        return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "bootstrap request: give 1 to %d tables",
                         ZKU_BOOT_TABLES);
    json_t *a = json_array();
    for (uint32_t i = 0; i < n; i++) {
        if (!split_table(tables[i], &dot, &skip)) {
            json_decref(a);
            return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "bootstrap request: table \"%s\" is "
                             "neither db.table nor a column family name (name, or .name "
                             "for a name with dots)", tables[i]);
        }
        json_array_append_new(a, json_string(tables[i]));
    }
    return dump(json_pack("{s:s,s:o}", "id", id, "tables", a), out, "bootstrap request",
                errbuf, errlen);
}

int zku_boot_node_make(const char *root, const char *app, const char *id,
                       const char *const *tables, uint32_t n, const zku_acl_ids *ids,
                       zku_boot_node *out, char *errbuf, size_t errlen)
{
    char now[32];
    memset(out, 0, sizeof *out);
    if (!id) {
        snprintf(now, sizeof now, "%lld", (long long)wh_wall_ms());
        id = now;
    }
    if (zku_path_bootstrap(out->path, sizeof out->path, root, app) != WH_OK)
        return wh_seterr(errbuf, errlen, WH_ERR_LIMIT, "bootstrap request of app %s: the path "
                         "is too long", app);
    int rc = zku_boot_request_to_json(id, tables, n, &out->data, errbuf, errlen);
    if (rc == WH_OK)
        rc = zku_acl_for(ZKU_NODE_BOOTSTRAP, ids, &out->acl, errbuf, errlen);
    return rc;
}

void zku_boot_node_free(zku_boot_node *n)
{
    free(n->data);
    n->data = NULL;
}

void zku_boot_request_free(zku_boot_request *r)
{
    for (uint32_t i = 0; i < r->ntables; i++) {
        free(r->db[i]);
        free(r->table[i]);
    }
    free(r->db);
    free(r->table);
    memset(r, 0, sizeof *r);
}

int zku_boot_request_from_json(const char *data, size_t len, zku_boot_request *out,
                               char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *o = json_loadb(data, len, 0, &je);
    json_t *id = json_object_get(o, "id"), *tables = json_object_get(o, "tables");
    int rc = WH_OK;
    size_t dot, skip;
    if (!json_is_object(o) || !json_is_string(id) || !valid_id(json_string_value(id)) ||
        !json_is_array(tables) || json_array_size(tables) == 0 ||
        json_array_size(tables) > ZKU_BOOT_TABLES) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE, "bootstrap request is not "
                       "{\"id\":ID,\"tables\":[\"db.table\",...]} (%s)",
                       o ? "wrong or missing fields" : je.text);
        goto out;
    }
    snprintf(out->id, sizeof out->id, "%s", json_string_value(id));
    size_t n = json_array_size(tables);
    out->db = calloc(n, sizeof *out->db);
    out->table = calloc(n, sizeof *out->table);
    if (!out->db || !out->table) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *t = json_string_value(json_array_get(tables, i));
        if (!split_table(t, &dot, &skip)) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE, "bootstrap request: table %zu is "
                           "neither a \"db.table\" text nor a column family name", i);
            goto out;
        }
        out->db[i] = strndup(t, dot);
        out->table[i] = strdup(t + skip);
        out->ntables++;
        if (!out->db[i] || !out->table[i]) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
out:
    json_decref(o);
    return rc;
}

int zku_boot_progress_to_json(const zku_boot_progress *p, char **out, char *errbuf,
                              size_t errlen)
{
    json_t *o = json_pack("{s:s,s:I,s:O,s:I,s:I,s:I,s:I,s:b,s:I,s:I}", "id", p->id,
                          "table", (json_int_t)p->table, "key", p->key ? p->key : json_null(),
                          "rows", (json_int_t)p->rows, "table_rows", (json_int_t)p->table_rows,
                          "estimate", (json_int_t)p->estimate,
                          "dropped", (json_int_t)p->dropped, "done", p->done,
                          "started_ms", (json_int_t)p->started_ms,
                          "updated_ms", (json_int_t)p->updated_ms);
    return dump(o, out, "bootstrap progress", errbuf, errlen);
}

void zku_boot_progress_free(zku_boot_progress *p)
{
    json_decref(p->key);
    memset(p, 0, sizeof *p);
}

static uint64_t get_u64(const json_t *o, const char *k, bool *ok)
{
    const json_t *v = json_object_get(o, k);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        *ok = false;
    return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

int zku_boot_progress_from_json(const char *data, size_t len, zku_boot_progress *out,
                                char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *o = json_loadb(data, len, 0, &je);
    json_t *id = json_object_get(o, "id"), *key = json_object_get(o, "key");
    bool ok = json_is_object(o) && json_is_string(id) && valid_id(json_string_value(id)) &&
              (!key || json_is_null(key) || json_is_array(key));
    if (ok) {
        snprintf(out->id, sizeof out->id, "%s", json_string_value(id));
        uint64_t t = get_u64(o, "table", &ok);
        out->table = t > ZKU_BOOT_TABLES ? (ok = false, 0) : (uint32_t)t;
        out->rows = get_u64(o, "rows", &ok);
        out->table_rows = get_u64(o, "table_rows", &ok);
        out->estimate = get_u64(o, "estimate", &ok);
        out->dropped = get_u64(o, "dropped", &ok);
        out->started_ms = (int64_t)get_u64(o, "started_ms", &ok);
        out->updated_ms = (int64_t)get_u64(o, "updated_ms", &ok);
        out->done = json_is_true(json_object_get(o, "done"));
        out->key = json_is_array(key) ? json_incref(key) : NULL;
    }
    json_decref(o);
    if (!ok) {
        zku_boot_progress_free(out);
        return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "bootstrap progress node is not valid "
                         "(%s)", o ? "wrong or missing fields" : je.text);
    }
    return WH_OK;
}
