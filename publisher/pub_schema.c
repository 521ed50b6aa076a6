/* pub_schema.c -- checking each app's filter against the table schemas of the updates (see pub_schema.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "publisher/pub_schema.h"

/* ---- the publisher-wide column names ------------------------------------------------------ */

struct pub_schemas {
    pthread_mutex_t mu;
    char    **names;        /* open addressing; NULL = empty slot */
    uint64_t *hash;
    uint32_t  n, cap;       /* cap: a power of two (or 0) */
};

static uint64_t name_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

pub_schemas *pub_schemas_new(void)
{
    pub_schemas *s = calloc(1, sizeof *s);
    if (s)
        pthread_mutex_init(&s->mu, NULL);
    return s;
}

void pub_schemas_free(pub_schemas *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->cap; i++)
        free(s->names[i]);
    free(s->names);
    free(s->hash);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* The slot of name, or the empty slot where it would go (s->mu held, cap > 0). */
static uint32_t slot_of(const pub_schemas *s, const char *name, size_t len, uint64_t h)
{
    uint32_t i = (uint32_t)h & (s->cap - 1);
    while (s->names[i] && !(s->hash[i] == h && strlen(s->names[i]) == len &&
                            memcmp(s->names[i], name, len) == 0))
        i = (i + 1) & (s->cap - 1);
    return i;
}

static bool grow(pub_schemas *s)
{
    uint32_t cap = s->cap ? s->cap * 2 : 64;
    char **names = calloc(cap, sizeof *names);
    uint64_t *hash = calloc(cap, sizeof *hash);
    if (!names || !hash) {
        free(names);
        free(hash);
        return false;
    }
    pub_schemas old = *s;
    s->names = names;
    s->hash = hash;
    s->cap = cap;
    for (uint32_t i = 0; i < old.cap; i++)
        if (old.names[i]) {
            uint32_t k = slot_of(s, old.names[i], strlen(old.names[i]), old.hash[i]);
            s->names[k] = old.names[i];
            s->hash[k] = old.hash[i];
        }
    free(old.names);
    free(old.hash);
    return true;
}

/* Adds one name (s->mu held). */
static bool add_name(pub_schemas *s, const char *name)
{
    size_t len = strlen(name);
    uint64_t h = name_hash(name, len);
    if ((s->n + 1) * 2 > s->cap && !grow(s))
        return false;
    uint32_t k = slot_of(s, name, len, h);
    if (s->names[k])
        return true;
    if (!(s->names[k] = strdup(name)))
        return false;
    s->hash[k] = h;
    s->n++;
    return true;
}

static bool add_row(pub_schemas *s, const wh_row *row)
{
    bool ok = true;
    for (uint32_t i = 0; row->names && i < row->count; i++)
        if (row->names[i])
            ok &= add_name(s, row->names[i]);
    return ok;
}

/* The key of a table's column: "DB\x1fTABLE\x1fCOLUMN" (unit separators,
 * which no name in a binlog or a column family is expected to hold; a
 * collision could only hide an error, never make one). */
static char *table_key(const wh_update *u, const char *col, size_t len)
{
    size_t n = (u->db ? strlen(u->db) : 0) + (u->table ? strlen(u->table) : 0) + len + 3;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s\x1f%s\x1f%.*s", u->db ? u->db : "", u->table ? u->table : "",
                 (int)len, col);
    return k;
}

static bool add_table_row(pub_schemas *s, const wh_update *u, const wh_row *row)
{
    bool ok = true;
    for (uint32_t i = 0; row->names && i < row->count; i++) {
        if (!row->names[i])
            continue;
        char *k = table_key(u, row->names[i], strlen(row->names[i]));
        ok &= k && add_name(s, k);
        free(k);
    }
    return ok;
}

bool pub_schemas_note(pub_schemas *s, const wh_update *u)
{
    bool ok = true;
    bool before = u->has_before && (!u->has_after || u->before.names != u->after.names);
    pthread_mutex_lock(&s->mu);
    if (u->has_after)
        ok &= add_row(s, &u->after) && add_table_row(s, u, &u->after);
    if (before)
        ok &= add_row(s, &u->before) && add_table_row(s, u, &u->before);
    pthread_mutex_unlock(&s->mu);
    return ok;
}

bool pub_schemas_has(pub_schemas *s, const char *name, size_t len)
{
    pthread_mutex_lock(&s->mu);
    bool has = s->cap && s->names[slot_of(s, name, len, name_hash(name, len))] != NULL;
    pthread_mutex_unlock(&s->mu);
    return has;
}

bool pub_schemas_table_has(pub_schemas *s, const wh_update *u, const char *name, size_t len)
{
    char *k = table_key(u, name, len);
    bool has = k && pub_schemas_has(s, k, strlen(k));
    free(k);
    return has;
}

/* ---- table schemas handled --------------------------------------------------------------- */

/* The key of u's table schema; never 0. */
static uint64_t schema_key(const wh_update *u)
{
    uint64_t h = u->schema_id * 0x9e3779b97f4a7c15ull;
    if (u->db)
        h ^= name_hash(u->db, strlen(u->db)) * 0xff51afd7ed558ccdull;
    if (u->table)
        h ^= name_hash(u->table, strlen(u->table));
    h ^= h >> 31;
    return h ? h : 1;
}

static uint32_t key_slot(const pub_schema_seen *seen, uint64_t key)
{
    uint32_t i = (uint32_t)(key >> 32) & (seen->cap - 1);
    while (seen->keys[i] && seen->keys[i] != key)
        i = (i + 1) & (seen->cap - 1);
    return i;
}

static void remember(pub_schema_seen *seen, const wh_update *u)
{
    seen->last_id = u->schema_id;
    seen->last_db = u->db;
    seen->last_table = u->table;
}

bool pub_schema_seen_has(pub_schema_seen *seen, const wh_update *u)
{
    if (u->schema_id == 0)
        return false;
    if (u->schema_id == seen->last_id && u->db == seen->last_db && u->table == seen->last_table)
        return true;
    if (!seen->cap || !seen->keys[key_slot(seen, schema_key(u))])
        return false;
    remember(seen, u);
    return true;
}

bool pub_schema_seen_add(pub_schema_seen *seen, const wh_update *u)
{
    if (u->schema_id == 0)
        return true;
    if ((seen->n + 1) * 2 > seen->cap) {
        uint32_t cap = seen->cap ? seen->cap * 2 : 16;
        pub_schema_seen next = { calloc(cap, sizeof(uint64_t)), 0, cap, 0, NULL, NULL };
        if (!next.keys)
            return false;
        for (uint32_t i = 0; i < seen->cap; i++)
            if (seen->keys[i]) {
                next.keys[key_slot(&next, seen->keys[i])] = seen->keys[i];
                next.n++;
            }
        free(seen->keys);
        *seen = next;
    }
    uint64_t key = schema_key(u);
    uint32_t k = key_slot(seen, key);
    if (!seen->keys[k]) {
        seen->keys[k] = key;
        seen->n++;
    }
    remember(seen, u);
    return true;
}

void pub_schema_seen_free(pub_schema_seen *seen)
{
    free(seen->keys);
    memset(seen, 0, sizeof *seen);
}

/* ---- the check ------------------------------------------------------------------------------ */

/* "db.table" (or the column family) of u. */
static void table_name(const wh_update *u, char *buf, size_t len)
{
    if (u->db && u->table)
        snprintf(buf, len, "%s.%s", u->db, u->table);
    else
        snprintf(buf, len, "%s%s", u->op >= WH_OP_PUT ? "column family " : "",
                 u->table ? u->table : "(unnamed)");
}

/* "a, b, c, ... (12 in all)": the columns of u's table, for messages. */
static void columns_text(const wh_update *u, char *buf, size_t len)
{
    const wh_row *row = u->has_after ? &u->after : &u->before;
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; row->names && i < row->count && used + 1 < len; i++) {
        if (i == 12) {
            snprintf(buf + used, len - used, ", ... (%u in all)", row->count);
            return;
        }
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                         row->names[i] ? row->names[i] : "?");
        if (n < 0)
            return;
        used += (size_t)n;
    }
}

int pub_schema_check(pub_schemas *names, const wh_filter *filter, const char *app,
                     const char *shard, const wh_update *u, char *why, size_t whylen)
{
    wh_filter_missing some[16], *m = some;
    int n = wh_filter_missing_columns(filter, u, some, 16);
    if (n > 16 && (m = malloc((size_t)n * sizeof *m)) != NULL)
        n = wh_filter_missing_columns(filter, u, m, n);
    if (n < 0 || !m) {
        if (m != some)
            free(m);
        return wh_seterr(why, whylen, WH_ERR_NOMEM, "app %s: out of memory checking its filter",
                         app);
    }
    int rc = WH_OK;
    char table[600], cols[600];
    for (int k = 0; k < n && rc == WH_OK; k++) {
        if (!m[k].scoped && (m[k].exists_only || pub_schemas_has(names, m[k].column, m[k].len)))
            continue;   /* tested on any table: some table has it, or it asks only whether */
        if (m[k].scoped && pub_schemas_table_has(names, u, m[k].column, m[k].len))
            continue;   /* another version of the table has it: an update from before a DDL */
        table_name(u, table, sizeof table);
        columns_text(u, cols, sizeof cols);
        if (m[k].scoped)
            rc = wh_seterr(why, whylen, WH_ERR_CONFIG,
                           "app %s: its filter tests column '%.*s' on table %s (it names the "
                           "table), but %s has no such column (its columns: %s), nor had it in "
                           "any version of the table read so far", app, (int)m[k].len,
                           m[k].column, table, table, cols);
        else
            rc = wh_seterr(why, whylen, WH_ERR_CONFIG,
                           "app %s: its filter tests column '%.*s' on any table, but table %s "
                           "has no such column (its columns: %s) and no other table seen on "
                           "shard %s so far has one; if the column is in a table not written "
                           "yet, name that table in the filter (table = \"...\" and ...)", app,
                           (int)m[k].len, m[k].column, table, cols, shard);
    }
    if (m != some)
        free(m);
    return rc;
}
