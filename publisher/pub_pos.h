/* pub_pos.h -- positions owned by the publisher and their text forms. */
#ifndef WH_PUB_POS_H
#define WH_PUB_POS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wormhole/error.h"
#include "wormhole/update.h"

/* A position held by value (a wh_position points into a mapper's batch).
 * set false means "no position yet": start at the oldest update in the log. */
typedef struct pub_pos {
    bool     set;
    bool     has_log_name;
    bool     has_logical;
    char     log_name[256];
    uint64_t offset;
    char     logical[512];
    uint32_t index;
} pub_pos;

/* Copies an update's position. Names that do not fit are truncated and
 * reported by returning false (a bug in a mapper: names are short). */
bool pub_pos_from(pub_pos *dst, const wh_position *src);

/* A wh_position view of p (pointing into p); NULL if p is not set. */
const wh_position *pub_pos_view(const pub_pos *p, wh_position *view);

/* Text forms of docs/UPDATES.md: physical "FILE:OFFSET/INDEX" or
 * "SEQ/INDEX", logical "GTID/INDEX" ("" if none). */
void pub_pos_physical(const pub_pos *p, char *buf, size_t len);
void pub_pos_logical(const pub_pos *p, char *buf, size_t len);

bool pub_pos_equal(const pub_pos *a, const pub_pos *b);

/* Parses the text forms back (either may be NULL or ""; at least one must
 * be given). Returns 0 or WH_ERR_PARSE with the reason in errbuf. */
int pub_pos_parse(pub_pos *out, const char *physical, const char *logical, char *errbuf,
                  size_t errlen);

#endif
