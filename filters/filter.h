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

/* Parses the text form, e.g.
 *   table = "users" and op in ("insert","update") and not exists deleted_at
 * On error returns WH_ERR_PARSE (or WH_ERR_LIMIT, WH_ERR_TYPE) and writes
 * "at offset N: expected X, found Y" to errbuf. Caller frees with wh_filter_free. */
int wh_filter_parse_text(const char *text, size_t len, wh_filter **out,
                         char *errbuf, size_t errlen);

/* Parses the canonical JSON form; errors name the JSON path ("$.and[2].in"). */
int wh_filter_parse_json(const char *json, size_t len, wh_filter **out,
                         char *errbuf, size_t errlen);

/* True if the update matches. Never allocates. */
bool wh_filter_match(wh_filter *f, const wh_update *u);

/* Appends the filter in text or canonical JSON form; parsing the output gives
 * an equal tree. Returns 0 or WH_ERR_NOMEM. */
int wh_filter_to_text(const wh_filter *f, wh_buf *out);
int wh_filter_to_json(const wh_filter *f, wh_buf *out);

void wh_filter_free(wh_filter *f);   /* accepts NULL */

#endif
