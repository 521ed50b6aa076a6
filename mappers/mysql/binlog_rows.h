/* binlog_rows.h -- row events: write/update/delete rows v1 and v2, MariaDB's
 * compressed row events and MySQL's partial JSON updates.
 *
 * binlog_rows_parse reads an event's header (table id, flags, column count,
 * the columns-present bitmaps); binlog_rows_image then decodes one row image
 * at a time into wh_values (columns missing from the image - MINIMAL or
 * NOBLOB row images - become WH_T_ABSENT), so a caller can stop between rows
 * and resume later without buffering the event's rows. */
#ifndef BINLOG_ROWS_H
#define BINLOG_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "mappers/mysql/binlog_event.h"
#include "mappers/mysql/binlog_tablemap.h"
#include "wormhole/update.h"

#define BINLOG_ROWS_STMT_END 0x0001   /* last row event of a statement */

/* Bytes a MariaDB compressed event may claim to inflate to. */
#define BINLOG_MAX_INFLATE (1u << 30)

typedef struct binlog_rows_event {
    uint8_t  op;                  /* WH_OP_INSERT, WH_OP_UPDATE or WH_OP_DELETE */
    bool     partial;             /* PARTIAL_UPDATE_ROWS_EVENT (after images carry options) */
    uint64_t table_id;
    uint16_t flags;
    uint32_t width;               /* column count of the row images */
    const uint8_t *present[2];    /* columns-present bitmaps: first image, after image */
    uint32_t npresent[2];         /* set bits in each */
    const uint8_t *rows, *end;    /* the row images */
} binlog_rows_event;

/* Parses the header of a rows event. A MariaDB compressed event is inflated
 * into arena (rows then points there). Returns 0, WH_ERR_CORRUPT,
 * WH_ERR_UNSUPPORTED or WH_ERR_NOMEM with errbuf set. */
int binlog_rows_parse(const binlog_event *ev, const binlog_fde *fde, wh_arena *arena,
                      binlog_rows_event *out, char *errbuf, size_t errlen);

/* Decodes one row image at *pp (advanced past it). image is 0 for the first
 * (or only) image of a row and 1 for an update's after image. vals has
 * t->ncols entries. With skip set, only walks over the values (nothing is
 * decoded or allocated; vals may be NULL). before is the row's decoded
 * before image, needed for partial JSON after images (else NULL); jsonbuf
 * is scratch space for them. Errors (WH_ERR_CORRUPT, WH_ERR_TRUNCATED,
 * WH_ERR_UNSUPPORTED) name the column. */
int binlog_rows_image(const binlog_table *t, const binlog_rows_event *re, int image,
                      const uint8_t **pp, bool skip, wh_arena *arena, wh_value *vals,
                      const wh_value *before, wh_buf *jsonbuf, char *errbuf, size_t errlen);

/* Inflates a MariaDB compressed block (header byte, big-endian length, zlib
 * data) at p[0..len) into arena. Used for compressed rows and queries. */
int binlog_maria_inflate(const uint8_t *p, size_t len, wh_arena *arena, const uint8_t **out,
                         size_t *out_len, char *errbuf, size_t errlen);

#endif
