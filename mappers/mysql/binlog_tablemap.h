/* binlog_tablemap.h -- table map events and the cache of table schemas.
 *
 * A table map event describes the table the following row events change:
 * database, table, column types with their metadata and, when the server
 * logs it (binlog_row_metadata), optional metadata: signedness, charsets,
 * column names, ENUM/SET members, geometry types, primary key, visibility.
 *
 * The cache keeps parsed tables keyed by the bytes of their table map (so a
 * table mapped again in the next transaction costs a hash and a memcmp, not
 * a parse) and maps table ids to tables for the current transaction.
 *
 * Lifetime: a binlog_table stays valid while it is mapped in the current
 * transaction, and otherwise until the next binlog_table_cache_collect()
 * (which the mapper calls at the start of each batch), so updates of one
 * batch may point to its names. Not thread-safe: one mapper thread. */
#ifndef BINLOG_TABLEMAP_H
#define BINLOG_TABLEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mappers/mysql/binlog_event.h"
#include "mappers/mysql/binlog_value.h"

/* MariaDB column types that only appear in its table maps. */
#define BT_MARIA_BLOB_COMPRESSED    140
#define BT_MARIA_VARCHAR_COMPRESSED 141

typedef struct binlog_mem_chunk binlog_mem_chunk;

typedef struct binlog_table {
    uint64_t table_id;          /* id of the latest mapping */
    uint16_t flags;             /* table map flags */
    const char *db, *name;      /* NUL-terminated */
    uint32_t ncols;
    binlog_column *cols;        /* ncols entries */
    const char **names;         /* ncols names, or NULL until known */
    bool names_from_map;        /* names came from the table map's COLUMN_NAME */
    bool names_from_server;     /* names (and what the map lacked) came from the server */
    bool has_signedness;        /* SIGNEDNESS metadata was present */
    bool has_charsets;          /* DEFAULT_/COLUMN_CHARSET metadata was present */
    uint32_t n_json;            /* JSON columns (partial JSON updates number them) */
    uint32_t *pk;               /* primary key column indexes (npk), or NULL */
    uint32_t *pk_prefix;        /* prefix lengths (0 = whole column) */
    uint32_t npk;
    uint8_t *nullable;          /* bitmap, (ncols + 7) / 8 bytes */
    uint64_t schema_id;         /* hash of db, table, types and names; never 0 */

    /* cache bookkeeping (private) */
    uint8_t *raw;               /* table map body after the table id */
    size_t raw_len;
    uint64_t raw_hash;
    struct binlog_table *hnext;
    struct binlog_table *rnext; /* retired list */
    int refs;
    bool in_hash;
    binlog_mem_chunk *mem;
} binlog_table;

/* Parses a table map event into a new table (the caller frees it with
 * binlog_table_free). Names are NULL when the map has no COLUMN_NAME.
 * Returns 0, WH_ERR_CORRUPT, WH_ERR_UNSUPPORTED or WH_ERR_NOMEM with errbuf
 * set (without a location: the caller prefixes file and offset). */
int binlog_table_parse(const binlog_event *ev, const binlog_fde *fde, binlog_table **out,
                       char *errbuf, size_t errlen);

void binlog_table_free(binlog_table *t);

/* Column description from the server's schema, for tables whose map lacks
 * names (binlog_row_metadata=MINIMAL/NO_LOG). */
typedef struct binlog_server_column {
    const char *name;
    const char *data_type;      /* information_schema DATA_TYPE, lower case: "int", "varchar" */
    bool is_unsigned;
    uint32_t collation;         /* collation id, 0 if none */
    const char *const *members; /* ENUM/SET members (UTF-8) or NULL */
    uint32_t n_members;
} binlog_server_column;

/* Fills the names of t (and signedness, collations and ENUM/SET members
 * where the map lacked them) from the server's columns, after checking that
 * they match the map: the same count, and each type compatible with the
 * logged type. Recomputes schema_id. Returns 0, or WH_ERR_CORRUPT with
 * errbuf saying how the server's table differs from the logged one. */
int binlog_table_apply_server(binlog_table *t, const binlog_server_column *cols, uint32_t n,
                              char *errbuf, size_t errlen);

/* Names t's columns "@1", "@2", ... (as mysqlbinlog does) when no names are
 * available and the user asked for positional names. */
int binlog_table_positional_names(binlog_table *t, char *errbuf, size_t errlen);

/* ---- the cache ------------------------------------------------------------ */

typedef struct binlog_table_cache binlog_table_cache;

binlog_table_cache *binlog_table_cache_new(size_t max_tables);
void binlog_table_cache_free(binlog_table_cache *c);

/* Handles a table map event: finds the table with these exact map bytes or
 * parses a new one, and maps the event's table id to it for the current
 * transaction. *out is the table (owned by the cache). */
int binlog_table_cache_map(binlog_table_cache *c, const binlog_event *ev,
                           const binlog_fde *fde, binlog_table **out,
                           char *errbuf, size_t errlen);

/* The table mapped to table_id in the current transaction, or NULL. */
binlog_table *binlog_table_cache_get(binlog_table_cache *c, uint64_t table_id);

/* Forgets the table id mappings (end of a transaction). */
void binlog_table_cache_end_txn(binlog_table_cache *c);

/* Drops every cached table whose names came from the server (a DDL may have
 * changed them); their memory lives until the next collect. */
void binlog_table_cache_invalidate_server(binlog_table_cache *c);

/* Frees retired tables that are no longer mapped, and retires unmapped
 * tables when the cache holds more than its maximum. Call between batches. */
void binlog_table_cache_collect(binlog_table_cache *c);

/* Number of tables in the cache (for tests). */
size_t binlog_table_cache_size(const binlog_table_cache *c);

#endif
