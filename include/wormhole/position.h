/* position.h -- a position held by value (wh_pos) and its text forms: the one formatter and
 * the one parser of "FILE:OFFSET/INDEX", "SEQ/INDEX" and "GTID/INDEX" (docs/UPDATES.md).
 *
 * A wh_position (wormhole/update.h) is a view whose strings point into a
 * mapper's batch or a received frame; a wh_pos owns its strings and can be
 * stored, copied with '=', compared and passed to a mapper's seek functions.
 * Subscriber apps use it to keep the position of the last update they
 * applied.
 *
 * Bounds (enforced, never truncated): a log (binlog file) name has at most
 * WH_POS_LOG_NAME_MAX - 1 bytes, the logical text (a GTID, or a MariaDB
 * list of one GTID per replication domain) at most WH_POS_LOGICAL_MAX - 1
 * bytes. Every function that fills a wh_pos fails when a part does not fit
 * or could not be written back as text that parses to the same wh_pos.
 *
 * Pure functions without global state: any thread, on objects it owns. */
#ifndef WORMHOLE_POSITION_H
#define WORMHOLE_POSITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wormhole/error.h"
#include "wormhole/update.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Field sizes, NUL included: file names are short (NAME_MAX is 255); a
 * MariaDB GTID list of 64 domains of MySQL-sized GTIDs still fits 4096. */
#define WH_POS_LOG_NAME_MAX 256
#define WH_POS_LOGICAL_MAX  4096

/* Buffer sizes, NUL included, that always hold a wh_pos's text forms:
 * FILE ':' 20-digit OFFSET '/' 10-digit INDEX, and GTID '/' INDEX. */
#define WH_POS_PHYSICAL_TEXT_MAX (WH_POS_LOG_NAME_MAX + 32)
#define WH_POS_LOGICAL_TEXT_MAX  (WH_POS_LOGICAL_MAX + 12)

/* A position held by value. set false means "no position": the oldest
 * update still in the log. The fields mean what wh_position's do:
 * log_name/offset the physical position in this replica's log (log_name
 * only for logs made of files; RocksDB: offset is the batch sequence),
 * logical the replica-independent transaction id (GTID text, opaque here),
 * index the update's index inside its transaction. Strings are valid only
 * when their has_ flag is set (they are "" otherwise). */
typedef struct wh_pos {
    bool     set;
    bool     has_log_name;
    bool     has_logical;
    char     log_name[WH_POS_LOG_NAME_MAX];
    uint64_t offset;
    char     logical[WH_POS_LOGICAL_MAX];
    uint32_t index;
} wh_pos;

/* Copies a view into dst. Returns false, leaving dst unset (set false),
 * when a string is empty, longer than its field, or holds a byte its text
 * form cannot carry ('/' or a control character): a mapper bug, reported
 * instead of truncated. */
bool wh_pos_from_view(wh_pos *dst, const wh_position *src);

/* A view of p that points into p (valid while p is unchanged), written to
 * *view; NULL if p is not set. */
const wh_position *wh_pos_to_view(const wh_pos *p, wh_position *view);

/* Text forms (docs/UPDATES.md): physical "FILE:OFFSET/INDEX" or
 * "SEQ/INDEX", logical "GTID/INDEX". An unset position, or one without a
 * logical part, has the empty text "". Return the text's length, or
 * WH_ERR_LIMIT (buf then holds "") when buf is shorter than the text:
 * WH_POS_PHYSICAL_TEXT_MAX / WH_POS_LOGICAL_TEXT_MAX always suffice. */
int wh_pos_format_physical(const wh_pos *p, char *buf, size_t len);
int wh_pos_format_logical(const wh_pos *p, char *buf, size_t len);

/* The one parser of the text forms (grammar in docs/UPDATES.md), over
 * text[0..len) (no NUL needed; an embedded NUL is an error):
 *   physical: FILE:OFFSET[/INDEX] or SEQ[/INDEX]
 *   logical:  GTID[/INDEX]
 * A missing INDEX is 0. *out is overwritten: on success it is set with
 * only the parsed part (the other part's has_ flag false); on failure it is
 * unset. Errors: WH_ERR_PARSE for malformed text, WH_ERR_LIMIT for a FILE
 * or GTID longer than its field, with a sentence in errbuf quoting the text
 * and naming the offset of the fault in it. */
int wh_pos_parse_physical(wh_pos *out, const char *text, size_t len, char *errbuf,
                          size_t errlen);
int wh_pos_parse_logical(wh_pos *out, const char *text, size_t len, char *errbuf,
                         size_t errlen);

/* Parses a position stored as its two text forms (NUL-terminated; either
 * may be NULL or "", not both). When both are given they must name the
 * same INDEX. Errors as above; both absent is WH_ERR_PARSE. */
int wh_pos_parse(wh_pos *out, const char *physical, const char *logical, char *errbuf,
                 size_t errlen);

/* Whether a and b name the same position: both unset, or the same set of
 * parts with equal contents (unused string fields are not compared). */
bool wh_pos_equal(const wh_pos *a, const wh_pos *b);

/* The text forms of a view, for display (the JSON line renderer uses
 * them): like snprintf they write at most buflen - 1 bytes and a NUL,
 * cutting a longer text, but return the length written. The logical text
 * of a view without one is "" (length 0). */
size_t wh_position_physical(const wh_position *p, char *buf, size_t buflen);
size_t wh_position_logical(const wh_position *p, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif
#endif
