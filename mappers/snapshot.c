/* snapshot.c -- the snapshot readers' registry: which mapper's datastore can be bootstrapped (see snapshot.h). */
#include <string.h>

#include "core/errbuf.h"
#include "mappers/snapshot.h"

int wh_snapshot_open(const char *mapper, const json_t *options, const char *shard,
                     wh_snapshot **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (strcmp(mapper, "mysql") == 0)
        return mysql_snapshot_open(options, shard, out, errbuf, errlen);
    if (strcmp(mapper, "rocksdb") == 0)
        return rdb_snapshot_open(options, shard, out, errbuf, errlen);
    return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED, "mapper %s has no snapshot reader: "
                     "a bootstrap is available from MariaDB (mapper mysql) and RocksDB "
                     "(mapper rocksdb)", mapper);
}

int wh_snapshot_read(wh_snapshot *s, const char *db, const char *table, const json_t *after,
                     uint32_t limit, wh_snapshot_chunk *out, char *errbuf, size_t errlen)
{
    return s->ops->read(s, db, table, after, limit, out, errbuf, errlen);
}

int wh_snapshot_keys(wh_snapshot *s, const char *db, const char *table,
                     const char *const **names, uint32_t *n, char *errbuf, size_t errlen)
{
    return s->ops->keys(s, db, table, names, n, errbuf, errlen);
}

int wh_snapshot_estimate(wh_snapshot *s, const char *db, const char *table, uint64_t *rows,
                         char *errbuf, size_t errlen)
{
    return s->ops->estimate(s, db, table, rows, errbuf, errlen);
}

int wh_snapshot_gtid_state(wh_snapshot *s, const wh_pos *at, char *out, size_t outlen,
                           char *errbuf, size_t errlen)
{
    if (!s->ops->gtid_state)
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED, "this snapshot reader has no "
                         "GTID state");
    return s->ops->gtid_state(s, at, out, outlen, errbuf, errlen);
}

void wh_snapshot_close(wh_snapshot *s)
{
    if (s)
        s->ops->close(s);
}
