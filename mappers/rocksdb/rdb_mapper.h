/* rdb_mapper.h -- the "rocksdb" positions mapper: tails a live RocksDB WAL (docs/ROCKSDB.md). */
#ifndef RDB_MAPPER_H
#define RDB_MAPPER_H

#include "mappers/mapper.h"

extern const wh_mapper_ops wh_rocksdb_mapper_ops;

/* Parses "SEQ" or "SEQ/INDEX" into the sequence number of the operation it
 * names (SEQ + INDEX). Returns 0 or WH_ERR_PARSE. For tests. */
int rdb_parse_position(const char *pos, uint64_t *op_seq);

#endif
