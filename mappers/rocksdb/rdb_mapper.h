/* rdb_mapper.h -- the "rocksdb" positions mapper: tails a live RocksDB WAL (docs/ROCKSDB.md). */
#ifndef RDB_MAPPER_H
#define RDB_MAPPER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "mappers/mapper.h"

extern const wh_mapper_ops wh_rocksdb_mapper_ops;

/* The mapper's options (docs/CONFIG.md), shared with its snapshot reader
 * (rdb_snapshot.c), which reads the same database. */
typedef struct rdb_opts {
    char   *db;
    char   *wal_dir;
    char   *value_format;
    int64_t max_batch_bytes;
    int64_t read_buffer_bytes;
    int64_t poll_interval_ms;
    char   *secondary_dir;
} rdb_opts;

/* Reads the options object into o (zeroed by the caller) and checks what the
 * field table cannot; *json is value_format == "json". WH_ERR_CONFIG with a
 * sentence in errbuf. On failure o may hold some settings: free it with
 * rdb_opts_free either way. */
int  rdb_opts_read(const json_t *options, rdb_opts *o, bool *json, char *errbuf, size_t errlen);
void rdb_opts_free(rdb_opts *o);

#endif
