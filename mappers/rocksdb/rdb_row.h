/* rdb_row.h -- the row of a RocksDB update: key and value columns, or the key and the fields of a JSON value, shared by the WAL mapper and the snapshot reader.
 *
 * Both the WAL mapper (rdb_mapper.c) and the snapshot reader
 * (rdb_snapshot.c) turn a key and a value into an update's after image
 * here, so a key read from the WAL and the same key read from a snapshot
 * give equal rows (docs/ROCKSDB.md, "Updates"; docs/BOOTSTRAP.md):
 *   key, value                 (value_format raw, or a value that is not a
 *                               JSON object: flagged WH_UF_RAW_VALUE when
 *                               json was asked for, or for wide-column entities)
 *   key, FIELD...              (value_format json and a JSON object value;
 *                               a field named "key" is delivered as "value.key")
 *   key                        (deletes)   key, end_key   (range deletes)
 * Values point at the bytes given (not copied) and into the arena.
 * Pure; any thread (the schema ids are constants). */
#ifndef RDB_ROW_H
#define RDB_ROW_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "wormhole/update.h"

extern const char *const rdb_names_kv[2];     /* "key", "value" */
extern const char *const rdb_names_k[1];      /* "key" */
extern const char *const rdb_names_range[2];  /* "key", "end_key" */

/* schema_id of a names array: 64-bit FNV-1a over the names, each followed
 * by a NUL, never 0. Rows with the same names in the same order share it. */
uint64_t rdb_names_hash(const char *const *names, uint32_t count);

/* The schema ids of the three fixed rows above. */
uint64_t rdb_schema_kv(void);
uint64_t rdb_schema_k(void);
uint64_t rdb_schema_range(void);

/* v as a BYTES value of n bytes at p. */
static inline void rdb_set_bytes(wh_value *v, const uint8_t *p, uint32_t n)
{
    v->type = WH_T_BYTES;
    v->scale = 0;
    v->flags = 0;
    v->len = n;
    v->str = (const char *)p;
}

/* Fills u->after, u->schema_id and u->flags (ORs WH_UF_RAW_VALUE) for a put
 * of key/val: json asks for value_format json, entity marks a wide-column
 * entity (always raw). v holds at least 2 values (used for the raw row);
 * a JSON row's names and values go into the arena. Returns 0 or
 * WH_ERR_NOMEM. */
int rdb_row_put(wh_arena *arena, wh_update *u, wh_value *v, const uint8_t *key, uint32_t klen,
                const uint8_t *val, uint32_t vlen, bool json, bool entity);

#endif
