/* rdb_mapper.h -- the "rocksdb" positions mapper: tails a live RocksDB WAL (docs/ROCKSDB.md). */
#ifndef RDB_MAPPER_H
#define RDB_MAPPER_H

#include "mappers/mapper.h"

extern const wh_mapper_ops wh_rocksdb_mapper_ops;

#endif
