/* filter.h -- subscriber filters: AND/OR/NOT trees of predicates on update keys.
 *
 * A filter is parsed once (from its text or JSON form, docs/FILTERS.md),
 * compiled, and evaluated for every update of a flow. Evaluation never
 * allocates and never fails: a key that is absent or of another type simply
 * does not match, as documented.
 *
 * Threads: wh_filter_match caches key resolution per schema inside the
 * filter, so one filter object is used by one thread at a time; parse the
 * same text twice for two threads. */
#ifndef WH_FILTER_H
#define WH_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "wormhole/error.h"
#include "wormhole/update.h"

typedef struct wh_filter wh_filter;

/* Limits (docs/FILTERS.md). Exceeding one is WH_ERR_LIMIT, with the place. */
#define WH_FILTER_MAX_TEXT      (1u << 20)  /* bytes of filter text or JSON */
#define WH_FILTER_MAX_DEPTH     64          /* tree depth (and/or/not; a predicate is 1) */
#define WH_FILTER_MAX_NODES     10000       /* operators and predicates */
#define WH_FILTER_MAX_IN        10000       /* constants in one in-list */
#define WH_FILTER_MAX_CONSTANTS 100000      /* constants in the whole filter */
#define WH_FILTER_MAX_STRING    65536       /* bytes of one string or hex constant */
#define WH_FILTER_MAX_NAME      1024        /* bytes of one column name */
#define WH_FILTER_MAX_DIGITS    1000        /* significant digits of a number */

/* Parses the text form, e.g.
 *   table = "users" and op in ("insert","update") and not exists deleted_at
 * text need not be NUL-terminated; len bytes are read. On error returns
 * WH_ERR_PARSE (or WH_ERR_LIMIT, WH_ERR_TYPE, WH_ERR_NOMEM), sets *out to NULL
 * and writes "filter: at offset N (line L, column C): expected X, found Y" to
 * errbuf. On success *out is the caller's; free it with wh_filter_free.
 * Thread-safe (no shared state). */
int wh_filter_parse_text(const char *text, size_t len, wh_filter **out,
                         char *errbuf, size_t errlen);

/* Parses the canonical JSON form. As wh_filter_parse_text, but errors name
 * the JSON path and offset: "filter: at $.and[2].in[1] (offset 37): ...". */
int wh_filter_parse_json(const char *json, size_t len, wh_filter **out,
                         char *errbuf, size_t errlen);

/* True if the update matches (docs/FILTERS.md, "Comparison"). Never
 * allocates, never fails; NULL f or u is false. Mutates f's resolution
 * cache: one thread at a time per filter. */
bool wh_filter_match(wh_filter *f, const wh_update *u);

/* Appends the filter in text or canonical JSON form; parsing the output gives
 * an equal tree. Returns 0, WH_ERR_NOMEM, or WH_ERR_INVALID for NULL f. */
int wh_filter_to_text(const wh_filter *f, wh_buf *out);
int wh_filter_to_json(const wh_filter *f, wh_buf *out);

/* Parses either form: JSON if the first character after white space is
 * '{', text otherwise (the text form never starts with '{'). Same results,
 * errors and ownership as the two parsers above. */
int wh_filter_parse(const char *src, size_t len, wh_filter **out,
                    char *errbuf, size_t errlen);

/* True if a and b are the same tree (same operators in the same order, same
 * keys, same constants by kind and value). Compares trees, not meanings:
 * "a = 1 and b = 2" and "b = 2 and a = 1" differ. */
bool wh_filter_equal(const wh_filter *a, const wh_filter *b);

void wh_filter_free(wh_filter *f);   /* accepts NULL */

/* ---- checking a filter against a table's schema (docs/FILTERS.md) ------------------ */

/* A column the filter may test on updates of a table that lacks it. */
typedef struct wh_filter_missing {
    const char *column;   /* the column's name (NUL-terminated), owned by the filter */
    size_t      len;      /* its length in bytes */
    bool        scoped;   /* the filter tests it only because it names this table (or
                             column family): `table = "t" and c = 1`; false when it tests
                             it on tables it does not name too */
    bool        exists_only; /* every such test is `exists` / `not exists` */
} wh_filter_missing;

/* Finds the columns f can test on updates like u (same shard, database,
 * table or column family; for an SQL table any of insert, update and
 * delete, for a key-value store u's op) that u's row names do not hold,
 * whatever the values: a column test that metadata tests on the table, the
 * database, the shard or the op make unreachable is not reported. Returns
 * how many there are and writes the first max of them to out; 0 when u has
 * no row (a DDL update) or is a key-value op other than put and merge
 * (deletes carry only the key). WH_ERR_INVALID for NULL f or u, WH_ERR_NOMEM.
 * Costs two passes over the program and a name lookup per column (O(program
 * + columns x row width)): call it once per schema (u->schema_id), not per
 * update. Reads only what compiling made, not the resolution cache: any
 * thread, also while another one runs wh_filter_match on f. */
int wh_filter_missing_columns(const wh_filter *f, const wh_update *u, wh_filter_missing *out,
                              int max);

#endif
