/* pub_boot_window.h -- a bootstrap chunk's watermark window: which keys the stream changed while the chunk was read, and where the chunk goes in the stream.
 *
 * DBLog's rule (docs/BOOTSTRAP.md): a chunk read in a snapshot consistent
 * with log position `at` is emitted into a flow's stream just before the
 * first update at or after `at`; the window opens (at `low`, the flow's
 * processed position) before the chunk is read, and every key of the
 * chunk's table that the stream carries from then until the emission is
 * recorded; the chunk's rows with such a key are dropped, the stream has
 * carried their newer state. A chunk whose snapshot is older than `low`
 * (the flow already passed a transaction the snapshot does not hold) is
 * read again. Pure: no locks, no I/O; the caller serialises access (the
 * flow's mu). */
#ifndef WH_PUB_BOOT_WINDOW_H
#define WH_PUB_BOOT_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "wormhole/position.h"
#include "wormhole/update.h"

/* Compares two physical positions of one binlog (or one RocksDB WAL: no
 * file names, offsets are sequence numbers). Files compare by their
 * numeric extension ("mariadb-bin.000010" after "mariadb-bin.000009"),
 * then offsets. Returns <0, 0, >0. */
int  boot_pos_cmp(const char *file_a, uint64_t off_a, const char *file_b, uint64_t off_b);

/* Whether the update at u (a transaction starting there) comes at or after
 * the snapshot position at: the chunk goes before it. */
bool boot_pos_reached(const wh_position *u, const wh_pos *at);

/* Whether a chunk whose snapshot is at `at` may go into a stream that had
 * processed up to `low` when its window opened: every transaction the flow
 * had processed is in the snapshot. A low without a file name (nothing
 * processed yet since a resume by logical position) is accepted. */
bool boot_snapshot_covers(const wh_pos *low, const wh_pos *at);

/* The same for a low known only in its logical form (a flow resumed on
 * another copy of the shard: "D-S-N[,D-S-N...]", MariaDB GTIDs) against the
 * GTID state at the snapshot (wh_snapshot_gtid_state): 1 when every GTID of
 * low is in that state (its domain's newest sequence there is at least
 * low's), 0 when one is not, -1 when either text is not a list of MariaDB
 * GTIDs (then the positions cannot be compared). */
int  boot_snapshot_covers_gtid(const wh_pos *low, const char *state);

/* Appends the canonical bytes of the key columns names[0..nkey) of row to
 * out: equal for equal values whether they came from the binlog or from a
 * SELECT. Returns false when a key column is absent from the row. */
bool boot_key_encode(wh_buf *out, const wh_row *row, const char *const *names, uint32_t nkey);

/* A set of keys (byte strings). */
typedef struct boot_keyset {
    wh_buf    bytes;       /* the keys, back to back */
    uint64_t *slots;       /* hash table: 0 empty, else (offset + 1) << 24 | length */
    uint32_t  cap;         /* slots (a power of two) */
    uint32_t  count;
} boot_keyset;

/* Adds a key; false when out of memory. */
bool boot_keyset_add(boot_keyset *s, const void *key, uint32_t len);
bool boot_keyset_has(const boot_keyset *s, const void *key, uint32_t len);
void boot_keyset_clear(boot_keyset *s);
void boot_keyset_free(boot_keyset *s);

/* The window of one chunk: open from low until the chunk is emitted. */
typedef struct boot_window {
    bool         open;
    wh_pos       low;        /* the flow's processed position when it opened */
    const char  *db, *table; /* borrowed: the bootstrap's table names */
    const char *const *keys; /* borrowed: its primary key columns */
    uint32_t     nkey;
    boot_keyset  seen;       /* keys the stream carried since low */
    wh_buf       ranges;     /* RocksDB range deletes since low: [u32 len, begin, u32 len, end]... */
    uint32_t     nranges;
    uint64_t     max_keys;   /* more than this: overflowed (the chunk is read again) */
    bool         overflow;
    wh_buf       scratch;
} boot_window;

/* Opens w at low for db.table with primary key keys[0..nkey) (all borrowed
 * until the window closes). */
void boot_window_open(boot_window *w, const wh_pos *low, const char *db, const char *table,
                      const char *const *keys, uint32_t nkey, uint64_t max_keys);
/* Records the keys (before and after images) of an update of the window's
 * table; other updates are ignored. SQL tables: insert, update, delete.
 * Key-value stores (db "" or NULL: a RocksDB column family, key column
 * "key"): put, delete and single delete record the key; a range delete
 * records its range [key, end_key) (bytewise, RocksDB's default
 * comparator); a merge overflows the window (the chunk is read again: a
 * merge operand is not the key's state, so neither keeping nor dropping the
 * row would be right). */
void boot_window_note(boot_window *w, const wh_update *u);
/* Whether a chunk row (its after image) must be dropped: the stream
 * carried its key (or a range delete over it) inside the window. */
bool boot_window_drops(boot_window *w, const wh_row *row);
void boot_window_close(boot_window *w);
void boot_window_free(boot_window *w);

#endif
