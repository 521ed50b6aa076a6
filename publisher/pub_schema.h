/* pub_schema.h -- checking each app's filter against the table schemas the mapper's updates carry (docs/FILTERS.md).
 *
 * A filter that tests a column the table does not have matches nothing
 * there, silently: the flow would acknowledge every update it drops. The
 * publisher checks each flow's filter against each table schema it meets
 * (wh_filter_missing_columns), once per table schema (schema_id, database
 * and table: a DDL that changes the table gives its updates a new
 * schema_id), and stops the app's flow just before that update, with a
 * reason naming the app, the table and the column, when:
 *  - the filter tests the column only on tables it names
 *    (`table = "users" and status = 1`), the update's table lacks it, and
 *    no version of that table this publisher has read so far (any reader,
 *    from its start) had it; or
 *  - the filter tests the column on any table, with a test other than
 *    exists / not exists, and no table this publisher has read so far has
 *    it.
 * A column that another version of the table has (an update from before
 * the ALTER TABLE that added it) is legitimately absent: no error.
 *
 * Two objects: pub_schemas, the publisher-wide column names of the tables
 * read, by table and in all (mutex inside: any caravan thread), and
 * pub_schema_seen, the table schemas one reader or one flow has already
 * handled (no lock: one thread at a time, its owner's). */
#ifndef WH_PUB_SCHEMA_H
#define WH_PUB_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filters/filter.h"
#include "wormhole/update.h"

typedef struct pub_schemas pub_schemas;

/* The empty set, or NULL on out of memory. */
pub_schemas *pub_schemas_new(void);
void pub_schemas_free(pub_schemas *s);   /* accepts NULL */

/* Adds the column names of u's rows (any thread). Returns false on out of
 * memory (the names may then be missing: a later check may fail the flow). */
bool pub_schemas_note(pub_schemas *s, const wh_update *u);

/* Whether a table seen so far has the column [name, name+len) (any thread). */
bool pub_schemas_has(pub_schemas *s, const char *name, size_t len);

/* Whether a version of u's table seen so far has the column (any thread). */
bool pub_schemas_table_has(pub_schemas *s, const wh_update *u, const char *name, size_t len);

/* Table schemas handled, each known by its schema_id, database and table
 * (a mapper may give tables with the same columns one schema_id, and a
 * filter's check depends on the table's name too): a growable
 * open-addressing set of their hashes. Zero-initialised is empty;
 * pub_schema_seen_free releases it. An update with schema_id 0 (unknown)
 * is never in it: it is checked every time. */
typedef struct pub_schema_seen {
    uint64_t *keys;          /* 0 = empty slot */
    uint32_t  n, cap;
    /* the last one added or found, by identity: most updates repeat it */
    uint64_t  last_id;
    const char *last_db, *last_table;
} pub_schema_seen;

/* Whether u's table schema is in the set. O(1): pointer compares when u is
 * of the last one, else a hash of db and table names. */
bool pub_schema_seen_has(pub_schema_seen *seen, const wh_update *u);
/* Adds u's table schema (no-op for schema_id 0); false on out of memory. */
bool pub_schema_seen_add(pub_schema_seen *seen, const wh_update *u);
void pub_schema_seen_free(pub_schema_seen *seen);

/* Checks filter (app's, on shard) against u's schema under the rules
 * above; names must already hold u's table (pub_schemas_note). Returns 0,
 * or WH_ERR_CONFIG with the reason in why ("app A: its filter tests column
 * C of table D.T, which has no such column (its columns: ...)"), or
 * WH_ERR_NOMEM. */
int pub_schema_check(pub_schemas *names, const wh_filter *filter, const char *app,
                     const char *shard, const wh_update *u, char *why, size_t whylen);

#endif
