/* rdb_row.c -- the row of a RocksDB update (see rdb_row.h). */
#include <jansson.h>
#include <string.h>

#include "mappers/rocksdb/rdb_row.h"
#include "wormhole/error.h"

const char *const rdb_names_kv[2] = { "key", "value" };
const char *const rdb_names_k[1] = { "key" };
const char *const rdb_names_range[2] = { "key", "end_key" };

uint64_t rdb_names_hash(const char *const *names, uint32_t count)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < count; i++) {
        for (const unsigned char *p = (const unsigned char *)names[i];; p++) {
            h ^= *p;
            h *= 0x100000001b3ull;
            if (!*p)
                break;
        }
    }
    return h ? h : 1;
}

uint64_t rdb_schema_kv(void)
{
    static _Atomic uint64_t id;
    uint64_t v = id;
    return v ? v : (id = rdb_names_hash(rdb_names_kv, 2));
}

uint64_t rdb_schema_k(void)
{
    static _Atomic uint64_t id;
    uint64_t v = id;
    return v ? v : (id = rdb_names_hash(rdb_names_k, 1));
}

uint64_t rdb_schema_range(void)
{
    static _Atomic uint64_t id;
    uint64_t v = id;
    return v ? v : (id = rdb_names_hash(rdb_names_range, 2));
}

/* Turns a JSON object value into the row: "key" then one key per field.
 * Returns 1 if the value was an object (row filled), 0 if it is not (the
 * caller delivers it raw), or WH_ERR_NOMEM. */
static int json_row(wh_arena *arena, wh_update *u, const uint8_t *key, uint32_t klen,
                    const uint8_t *val, uint32_t vlen)
{
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)val, vlen, JSON_DECODE_ANY | JSON_ALLOW_NUL,
                             &jerr);
    if (!doc || !json_is_object(doc)) {
        json_decref(doc);
        return 0;
    }
    size_t k = json_object_size(doc);
    const char **names = wh_arena_alloc(arena, (k + 1) * sizeof *names);
    wh_value *vals = wh_arena_alloc(arena, (k + 1) * sizeof *vals);
    if (!names || !vals)
        goto nomem;
    names[0] = "key";
    memset(vals, 0, (k + 1) * sizeof *vals);
    rdb_set_bytes(&vals[0], key, klen);
    uint32_t i = 1;
    const char *field;
    json_t *jv;
    json_object_foreach(doc, field, jv) {
        /* "key" is the RocksDB key; a document field of that name is
         * delivered as "value.key". */
        const char *name = strcmp(field, "key") == 0 ? "value.key"
                         : wh_arena_strndup(arena, field, strlen(field));
        if (!name)
            goto nomem;
        wh_value *v = &vals[i];
        switch (json_typeof(jv)) {
        case JSON_STRING: {
            size_t n = json_string_length(jv);
            v->type = WH_T_STRING;
            v->str = wh_arena_strndup(arena, json_string_value(jv), n);
            v->len = (uint32_t)n;
            if (!v->str)
                goto nomem;
            break;
        }
        case JSON_INTEGER:
            v->type = WH_T_INT;
            v->n.i = (int64_t)json_integer_value(jv);
            break;
        case JSON_REAL:
            v->type = WH_T_FLOAT;
            v->n.d = json_real_value(jv);
            break;
        case JSON_TRUE:
        case JSON_FALSE:
            v->type = WH_T_INT;
            v->n.i = json_is_true(jv) ? 1 : 0;
            break;
        case JSON_NULL:
            v->type = WH_T_NULL;
            break;
        default: {
            char *s = json_dumps(jv, JSON_COMPACT | JSON_ENCODE_ANY);
            if (!s)
                goto nomem;
            size_t n = strlen(s);
            v->type = WH_T_JSON;
            v->str = wh_arena_strndup(arena, s, n);
            v->len = (uint32_t)n;
            free(s);
            if (!v->str)
                goto nomem;
        }
        }
        names[i++] = name;
    }
    json_decref(doc);
    u->after.names = names;
    u->after.values = vals;
    u->after.count = i;
    u->schema_id = rdb_names_hash(names, i);
    return 1;
nomem:
    json_decref(doc);
    return WH_ERR_NOMEM;
}

int rdb_row_put(wh_arena *arena, wh_update *u, wh_value *v, const uint8_t *key, uint32_t klen,
                const uint8_t *val, uint32_t vlen, bool json, bool entity)
{
    int jr = 0;
    if (json && !entity && (jr = json_row(arena, u, key, klen, val, vlen)) < 0)
        return WH_ERR_NOMEM;
    if (jr == 0) {
        rdb_set_bytes(&v[0], key, klen);
        rdb_set_bytes(&v[1], val, vlen);
        u->after = (wh_row){ rdb_names_kv, v, 2 };
        u->schema_id = rdb_schema_kv();
        if (json || entity)
            u->flags |= WH_UF_RAW_VALUE;
    }
    return 0;
}
