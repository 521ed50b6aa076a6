/* mon_logtail.h -- following a publisher's output file: lines, recent-line ring, last error line.
 *
 * The publisher's stdout and stderr go to a file in its run directory
 * (O_APPEND), never to a pipe, so that the publisher neither blocks nor dies
 * when the monitor is gone. The monitor follows the file from a saved
 * offset, hands every complete line to a callback, remembers the last
 * MON_TAIL_RING lines and the last line containing "ERROR", and frees the
 * disk space of what it has read by punching holes (the file keeps its size
 * and offsets; its blocks are released). */
#ifndef MON_LOGTAIL_H
#define MON_LOGTAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/mon_exit.h"

#include "wormhole/error.h"

#define MON_LINE_MAX  4096  /* longer lines are split */
#define MON_TAIL_RING 8     /* recent lines kept */

/* Called once per complete line; line is NUL-terminated, without '\n',
 * valid only during the call. */
typedef void mon_line_fn(void *ctx, const char *line, size_t len);

typedef struct mon_logtail {
    int      fd;                 /* -1 when closed */
    uint64_t offset;             /* next byte to read */
    uint64_t punched;            /* bytes before this offset have been released */
    bool     punch_unsupported;
    char     part[MON_LINE_MAX]; /* an incomplete line */
    size_t   partlen;
    char     ring[MON_TAIL_RING][MON_EXIT_LINE_MAX];
    unsigned ring_n, ring_next;
    char     last_error[MON_EXIT_LINE_MAX];
    uint64_t lines;              /* lines seen in this run */
} mon_logtail;

void mon_logtail_init(mon_logtail *t);

/* Opens path for following from offset (clamped to the file size). */
int mon_logtail_open(mon_logtail *t, const char *path, uint64_t offset, char *errbuf,
                     size_t errlen);

void mon_logtail_close(mon_logtail *t);

/* Reads everything available and emits complete lines. Releases the disk
 * space of consumed data in steps of 1 MiB; if the file system cannot punch
 * holes, truncates the file once it is fully read and larger than 64 MiB.
 * Returns WH_OK or WH_ERR_IO. */
int mon_logtail_read(mon_logtail *t, mon_line_fn *fn, void *ctx);

/* Emits a pending incomplete line (the writer has exited). */
void mon_logtail_flush(mon_logtail *t, mon_line_fn *fn, void *ctx);

/* Splits data into lines (the pure part of mon_logtail_read). */
void mon_logtail_feed(mon_logtail *t, const char *data, size_t n, mon_line_fn *fn, void *ctx);

/* The last line containing "ERROR" in this run, else the last line, else "". */
const char *mon_logtail_error_line(const mon_logtail *t);

/* The i-th most recent line (0 = newest), or NULL. */
const char *mon_logtail_recent(const mon_logtail *t, unsigned i);

/* Forgets the lines of the previous run (ring, error line, partial line). */
void mon_logtail_new_run(mon_logtail *t);

#endif
