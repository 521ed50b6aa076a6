/* binlog_reader.h -- reading binlog files from a server's binlog directory.
 *
 * Follows the binlog index and file rotation, verifies each event's CRC32,
 * and tails the file the server is still writing: a half-written event at
 * the end of the live file is simply "not there yet". A truncated event in a
 * finished file (one followed by a later file, or ended by a Stop or Rotate
 * event) is an error naming the file and offset; a caller that looks ahead
 * (binlog_reader_peek) can see it coming and skip the file's torn tail
 * instead (binlog_reader_skip_file).
 *
 * Events are read through a bounded buffer (it grows to hold one event
 * larger than itself, and shrinks back afterwards). An event returned by
 * binlog_reader_next stays valid until the next binlog_reader_refill or
 * binlog_reader_open; the caller decides when to refill so that it can keep
 * pointers into several buffered events at once.
 *
 * Not thread-safe: one mapper thread. */
#ifndef BINLOG_READER_H
#define BINLOG_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mappers/mysql/binlog_event.h"

/* binlog_reader_next's answer when the buffer holds no complete event. */
#define BINLOG_READER_REFILL 1

typedef struct binlog_reader binlog_reader;

/* Opens the binlog directory dir with its index file (NULL: the only
 * *.index file in dir). buf_size is the read buffer (0: 1 MiB), poll_ms the
 * longest sleep between checks for new data when inotify is unavailable or
 * misses a change. Reads the index; opens no binlog yet. */
int binlog_reader_new(const char *dir, const char *index_path, size_t buf_size, int poll_ms,
                      binlog_reader **out, char *errbuf, size_t errlen);
void binlog_reader_free(binlog_reader *r);

/* Whether finished files (followed by a later file) of 4 MiB or more are
 * mapped into memory instead of read (default on: it saves a copy). */
void binlog_reader_set_mmap(binlog_reader *r, bool on);

/* Re-reads the index file if it changed since the last read. */
int binlog_reader_refresh_index(binlog_reader *r, char *errbuf, size_t errlen);

/* The files of the index (base names, oldest first), valid until the next
 * refresh; binlog_reader_file_index finds a name (-1 if absent). */
size_t binlog_reader_nfiles(const binlog_reader *r);
const char *binlog_reader_file(const binlog_reader *r, size_t i);
int binlog_reader_file_index(const binlog_reader *r, const char *name);

/* A stable copy of a file name (lives as long as the reader); for positions
 * that outlive index refreshes. NULL when out of memory. */
const char *binlog_reader_intern(binlog_reader *r, const char *name);

/* Opens binlog file `name` (a base name in the directory), checks its magic
 * number, reads its format description event, and positions the reader at
 * offset (0 or 4: just after the format description). A file missing from
 * the index is WH_ERR_PURGED when it sorts before the oldest file, else
 * WH_ERR_NOT_FOUND; an offset beyond the file is WH_ERR_NOT_FOUND. */
int binlog_reader_open(binlog_reader *r, const char *name, uint64_t offset,
                       char *errbuf, size_t errlen);

/* The next event: 0 with ev set (its checksum verified), BINLOG_READER_REFILL
 * when the buffer must be refilled first, or a negative error (corrupt
 * event, unsupported binlog) with errbuf naming file and offset. Format
 * description events are consumed here and not returned. */
int binlog_reader_next(binlog_reader *r, binlog_event *ev, char *errbuf, size_t errlen);

/* Refills the buffer (invalidating events returned before), moving to the
 * next file when the current one is finished. Returns 0 (call next again),
 * WH_ERR_AGAIN when the live end of the log is reached (nothing new yet),
 * or an error: WH_ERR_TRUNCATED for a truncated event in a finished file,
 * WH_ERR_IO, WH_ERR_CORRUPT. */
int binlog_reader_refill(binlog_reader *r, char *errbuf, size_t errlen);

/* Waits up to timeout_ms for the binlog directory or the current file to
 * change (inotify, with a poll_ms fallback). Never spins. */
void binlog_reader_wait(binlog_reader *r, int timeout_ms);

/* Where the reader stands: the current file (interned), the offset of the
 * next event, and the offset of the event returned last. */
const char *binlog_reader_cur_file(const binlog_reader *r);
uint64_t binlog_reader_next_offset(const binlog_reader *r);
uint64_t binlog_reader_event_offset(const binlog_reader *r);

/* Bytes of the log the reader has moved past since binlog_reader_new: the
 * events returned or skipped, and the magic number and format description
 * of each file opened at its start (so a file read whole counts its size). */
uint64_t binlog_reader_consumed(const binlog_reader *r);

/* The current file's format description. */
const binlog_fde *binlog_reader_fde(const binlog_reader *r);

/* Counts file switches (lets the caller notice a new file). */
uint64_t binlog_reader_file_seq(const binlog_reader *r);

/* Whether the current file is known to be finished (Stop or Rotate seen, or
 * a later file exists in the index). */
bool binlog_reader_file_finished(binlog_reader *r);

/* Looking ahead without consuming: the largest piece of an event that
 * binlog_reader_peek returns at once. */
#define BINLOG_READER_PEEK_MAX (64u * 1024)

/* The event at offset off of the current file (at or after the next event
 * binlog_reader_next would return), without moving the reader and without
 * verifying its checksum: its common header into *ev, and its first
 * min(want, ev->length, BINLOG_READER_PEEK_MAX) bytes at *p. Bytes already
 * buffered are used in place; beyond them a 64 KiB chunk is read (1 KiB when
 * the last chunk served few headers: large events), so that walking a large
 * transaction's headers costs few preads, little copying and no memory.
 * *p stays valid until the next call of any binlog_reader function.
 * Returns 0; WH_ERR_AGAIN when the file as it is now ends first (*have then
 * says how many bytes exist from off: 0 means the file ends exactly at
 * off); WH_ERR_CORRUPT for an impossible header or WH_ERR_IO, with errbuf
 * naming file and offset. */
int binlog_reader_peek(binlog_reader *r, uint64_t off, size_t want, binlog_event *ev,
                       const uint8_t **p, size_t *have, char *errbuf, size_t errlen);

/* The bytes buffered (or mapped) ahead of the reader and not consumed yet:
 * *p holds the current file's bytes [*lo, *hi). Valid until the next
 * binlog_reader_refill, _open, _skip_to or _skip_file (peeking leaves it
 * alone), so a caller can walk event headers there without a call each. */
void binlog_reader_window(const binlog_reader *r, const uint8_t **p, uint64_t *lo,
                          uint64_t *hi);

/* Whether the current file holds at least `end` bytes now (what is buffered
 * or mapped, else one fstat). */
bool binlog_reader_holds(binlog_reader *r, uint64_t end);

/* The current file's size now (fstat; 0 if that fails). */
uint64_t binlog_reader_file_size(binlog_reader *r);

/* Moves the reader forward to offset off of the current file (an event
 * boundary found by peeking, at or after the next event), discarding the
 * events in between. Invalidates events returned before. */
void binlog_reader_skip_to(binlog_reader *r, uint64_t off);

/* Abandons the rest of the current file and opens the file that follows it
 * (as binlog_reader_refill does at a file's end). Returns 0, WH_ERR_AGAIN
 * when no later file is listed (or it is not written yet), or an error. */
int binlog_reader_skip_file(binlog_reader *r, char *errbuf, size_t errlen);

/* Reads the first events of file `name` up to the first event that is not a
 * format description, Gtid_list, Previous_gtids or Binlog_checkpoint, and
 * returns the Gtid_list / Previous_gtids event's body in a malloc'd copy
 * (*body, *len; the caller frees) with the file's format description.
 * *body is NULL if the file has neither. Does not disturb the current file. */
int binlog_reader_head_gtids(binlog_reader *r, const char *name, binlog_fde *fde,
                             uint8_t *type, uint8_t **body, size_t *len,
                             char *errbuf, size_t errlen);


/* What a binlog_reader_walk callback answers for an event header (body
 * NULL): skip it, read it whole and call again with its body, or end the
 * walk before it. */
enum { BINLOG_WALK_SKIP = 0, BINLOG_WALK_BODY = 1, BINLOG_WALK_STOP = 2 };
/* Called with each event's header (fde NULL), then, when it answered
 * BINLOG_WALK_BODY, with the whole event framed (checksum verified) and the
 * file's format description; that second call returns 0 or a negative
 * error, which ends the walk. ev is valid only during the call. */
typedef int (*binlog_walk_fn)(void *ctx, const binlog_event *ev, const binlog_fde *fde);
/* Walks the complete events of file `name` from offset `from` (at most 4:
 * from the format description on) to the file's current end, without
 * disturbing the current file; *end gets the offset after the last complete
 * event (where a later walk goes on). A file being written simply ends at
 * its last complete event. Returns 0 or an error (WH_ERR_PURGED when the
 * file is gone, WH_ERR_IO, WH_ERR_CORRUPT) naming file and offset. */
int binlog_reader_walk(binlog_reader *r, const char *name, uint64_t from, binlog_walk_fn fn,
                       void *ctx, uint64_t *end, char *errbuf, size_t errlen);
#endif
