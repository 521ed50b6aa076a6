/* rdb_manifest.h -- column family names from a RocksDB MANIFEST.
 *
 * WAL batches name column families by id; the names live in the MANIFEST
 * (the file CURRENT names), a log-format file of VersionEdit records. Each
 * edit is a list of tagged fields; a column family's creation is an edit
 * with kColumnFamily (id) and kColumnFamilyAdd (name), its drop an edit
 * with kColumnFamilyDrop. The map keeps dropped names too: older WAL
 * batches still refer to them, and RocksDB never reuses an id. */
#ifndef RDB_MANIFEST_H
#define RDB_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What one VersionEdit says about column families. */
typedef struct rdb_edit_cf {
    uint32_t       cf;        /* column family the edit is about (0 if absent) */
    bool           add, drop;
    const uint8_t *name;      /* add: the name (not NUL-terminated) */
    uint32_t       name_len;
} rdb_edit_cf;

/* Parses one VersionEdit. Returns 0; WH_ERR_CORRUPT for malformed bytes;
 * WH_ERR_UNSUPPORTED for a field this parser does not know (then the edit's
 * column family part is unknown). *why gets a static reason. Untrusted
 * input; allocates nothing. */
int rdb_version_edit_parse(const uint8_t *p, size_t len, rdb_edit_cf *out, const char **why);

typedef struct rdb_cfmap rdb_cfmap;

rdb_cfmap *rdb_cfmap_new(void);
void rdb_cfmap_free(rdb_cfmap *m);

/* Reads the MANIFEST that dbdir/CURRENT names, continuing where the last
 * call stopped if it is still the same file. Edits that cannot be parsed
 * are skipped with a warning (their ids then print as numbers). Returns
 * 0, or WH_ERR_NOT_FOUND / WH_ERR_IO / WH_ERR_CORRUPT / WH_ERR_NOMEM with
 * a sentence in errbuf. */
int rdb_cfmap_load(rdb_cfmap *m, const char *dbdir, char *errbuf, size_t errlen);

/* Records id -> name (copied). Later calls for the same id are ignored
 * unless the first was a placeholder. Returns 0 or WH_ERR_NOMEM. */
int rdb_cfmap_set(rdb_cfmap *m, uint32_t id, const char *name, size_t len, bool placeholder);

/* The name of id, or NULL if unknown. Valid until rdb_cfmap_free. */
const char *rdb_cfmap_name(const rdb_cfmap *m, uint32_t id);

/* Number of names known (for tests). */
size_t rdb_cfmap_count(const rdb_cfmap *m);

#endif
