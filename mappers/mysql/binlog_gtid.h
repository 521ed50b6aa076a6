/* binlog_gtid.h -- global transaction ids of MariaDB (domain-server-seq) and
 * MySQL (uuid:gno): the GTID events, the GTID state at the head of each
 * binlog file (MariaDB Gtid_list, MySQL Previous_gtids) and the GTIDs of a
 * logical position.
 *
 * Pure functions; the state objects own their memory (_free accepts NULL
 * contents). */
#ifndef BINLOG_GTID_H
#define BINLOG_GTID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mappers/mysql/binlog_event.h"
#include "wormhole/position.h"

/* Longest text of one GTID: "uuid:gno" is 36 + 1 + 20. */
#define BINLOG_GTID_TEXT_MAX 64

/* Most GTIDs a logical position may list (one per MariaDB domain). */
#define BINLOG_POS_MAX_GTIDS 64

typedef struct binlog_gtid {
    bool     mysql;        /* uuid:gno (MySQL) rather than domain-server-seq (MariaDB) */
    uint32_t domain;       /* MariaDB replication domain */
    uint32_t server_id;    /* MariaDB originating server */
    uint64_t seq;          /* MariaDB sequence number, or MySQL gno */
    uint8_t  uuid[16];     /* MySQL source uuid */
} binlog_gtid;

/* Writes "D-S-N" or "uuid:gno"; returns the length (buf >= BINLOG_GTID_TEXT_MAX). */
size_t binlog_gtid_format(const binlog_gtid *g, char *buf, size_t buflen);

/* Parses one GTID in either form from s[0..n). Returns 0 or WH_ERR_PARSE. */
int binlog_gtid_parse(const char *s, size_t n, binlog_gtid *g);

/* True if a and b are in the same ordered stream: the same MariaDB domain,
 * or the same MySQL uuid. Sequence numbers compare only within a stream. */
bool binlog_gtid_same_stream(const binlog_gtid *a, const binlog_gtid *b);

/* True if a and b name the same transaction (MariaDB: domain and seq, the
 * server id is not compared, as after a failover). */
bool binlog_gtid_equal(const binlog_gtid *a, const binlog_gtid *b);

/* ---- events ------------------------------------------------------------- */

/* MariaDB GTID event flags. */
#define BINLOG_MGTID_STANDALONE   0x01
#define BINLOG_MGTID_GROUP_COMMIT 0x02
#define BINLOG_MGTID_TRANSACTIONAL 0x04
#define BINLOG_MGTID_DDL          0x20
#define BINLOG_MGTID_PREPARED_XA  0x40
#define BINLOG_MGTID_COMPLETED_XA 0x80

/* Parses a MariaDB GTID event (type 162). Returns 0 or WH_ERR_CORRUPT. */
int binlog_maria_gtid_parse(const binlog_event *ev, binlog_gtid *g, uint8_t *flags,
                            char *errbuf, size_t errlen);

/* Parses a MySQL GTID or anonymous GTID event (types 33, 34); *anonymous is
 * set for the latter (and for a GTID event with the all-zero uuid). */
int binlog_mysql_gtid_parse(const binlog_event *ev, binlog_gtid *g, bool *anonymous,
                            char *errbuf, size_t errlen);

/* ---- the GTID state at the head of a binlog file ------------------------ */

typedef struct binlog_gno_range { uint64_t start, end; } binlog_gno_range; /* [start, end) */

typedef struct binlog_uuid_set {
    uint8_t uuid[16];
    binlog_gno_range *ranges;
    uint32_t n_ranges;
} binlog_uuid_set;

/* MariaDB: the last seq of each (domain, server) before the file; MySQL:
 * the set of GTIDs in all earlier files. */
typedef struct binlog_gtid_state {
    bool mysql;
    binlog_gtid *list;          /* MariaDB entries */
    uint32_t n_list;
    binlog_uuid_set *sets;      /* MySQL entries */
    uint32_t n_sets;
} binlog_gtid_state;

void binlog_gtid_state_free(binlog_gtid_state *s);

/* Parses a MariaDB Gtid_list event (type 163) into s (replacing it). */
int binlog_gtid_list_parse(const binlog_event *ev, binlog_gtid_state *s,
                           char *errbuf, size_t errlen);

/* Parses a MySQL Previous_gtids event (type 35) into s (replacing it).
 * Tagged GTID sets (MySQL 8.3+) are WH_ERR_UNSUPPORTED. */
int binlog_previous_gtids_parse(const binlog_event *ev, binlog_gtid_state *s,
                                char *errbuf, size_t errlen);

/* Whether the transaction g is already in the state, i.e. was written before
 * the file that starts with this state. MariaDB: g.seq <= the largest seq
 * of g's domain; MySQL: g is inside one of the uuid's ranges. */
bool binlog_gtid_state_contains(const binlog_gtid_state *s, const binlog_gtid *g);

/* Whether the state holds any transaction of g's stream that comes after g
 * (MariaDB: a larger seq in g's domain; MySQL: a larger gno for g's uuid). */
bool binlog_gtid_state_has_after(const binlog_gtid_state *s, const binlog_gtid *g);

/* Writes the state as text ("0-1-5,1-2-7" or "uuid:1-5:7-9,...") for
 * messages; truncated to buflen. */
void binlog_gtid_state_format(const binlog_gtid_state *s, char *buf, size_t buflen);

/* ---- positions ------------------------------------------------------------ */

/* A logical position: the GTIDs of wh_pos.logical ("GTID[,GTID...]") and
 * its index. The first GTID names the transaction the index refers to; the
 * others are the last transaction of every other stream (MariaDB domain,
 * MySQL uuid) at that point: together the GTID state of the position. Every
 * transaction the state covers (binlog_logical_pos_covers) was delivered,
 * the first one up to the index; no other was. A one-GTID position is the
 * state of a log with one stream. */
typedef struct binlog_logical_pos {
    binlog_gtid gtids[BINLOG_POS_MAX_GTIDS];
    uint32_t n;
    uint32_t index;
} binlog_logical_pos;

/* Whether the transaction g is covered by the position lp, read as a GTID
 * state: lp lists a GTID of g's stream (MariaDB domain, MySQL uuid) whose
 * seq is at least g's. This is the rule of a multi-domain position (docs/
 * FAILOVER.md "Positions across copies"): a transaction is already delivered
 * iff covered (the position's own transaction, lp->gtids[0], only up to
 * lp->index). A stream lp does not list covers nothing. */
bool binlog_logical_pos_covers(const binlog_logical_pos *lp, const binlog_gtid *g);

/* Reads pos's logical part: the comma-separated GTIDs of pos->logical (a
 * space may follow a comma; at most BINLOG_POS_MAX_GTIDS, at most one per
 * domain or uuid) and pos->index. The "/INDEX" text form is parsed by
 * core/position.c, never here. Errors: WH_ERR_INVALID if pos has no
 * logical part, WH_ERR_PARSE naming the GTID that is wrong. */
int binlog_logical_pos_from(binlog_logical_pos *out, const wh_pos *pos, char *errbuf,
                            size_t errlen);

/* ---- the GTID state of a point in the log ---------------------------------- */

/* The last GTID of each stream (MariaDB domain, MySQL uuid) at a point in
 * the binlog, kept while reading: the file's head state (Gtid_list,
 * Previous_gtids), then each transaction's GTID. Streams are kept sorted
 * (domain; uuid bytes), at most BINLOG_POS_MAX_GTIDS of them: a log with
 * more is refused (WH_ERR_LIMIT), never cut. Plain data: zero it to start,
 * copy with '='. */
typedef struct binlog_gtid_run {
    binlog_gtid g[BINLOG_POS_MAX_GTIDS];
    char text[BINLOG_POS_MAX_GTIDS][BINLOG_GTID_TEXT_MAX];   /* g[i] as text, NUL-ended */
    uint8_t len[BINLOG_POS_MAX_GTIDS];                       /* ... and its length */
    uint32_t n;
} binlog_gtid_run;

/* Replaces r with the newest GTID of each stream of the head state s
 * (MariaDB: the largest seq among the domain's servers; MySQL: the largest
 * gno of the uuid's intervals). WH_ERR_LIMIT with a sentence naming where
 * (file) when s has more than BINLOG_POS_MAX_GTIDS streams. */
int binlog_gtid_run_from_head(binlog_gtid_run *r, const binlog_gtid_state *s,
                              const char *file, char *errbuf, size_t errlen);

/* Records g as the last GTID of its stream. WH_ERR_LIMIT when g opens a
 * stream beyond BINLOG_POS_MAX_GTIDS (at names where, for the message). */
int binlog_gtid_run_add(binlog_gtid_run *r, const binlog_gtid *g, const char *at,
                        char *errbuf, size_t errlen);

/* The logical text of a position inside transaction own (which r already
 * records): own's GTID first, then the last GTID of every other stream of
 * r, comma-separated ("1-1-57,0-1-100,2-3-9"), NUL-terminated. Returns the
 * length; buf must hold BINLOG_POS_MAX_GTIDS * BINLOG_GTID_TEXT_MAX bytes
 * (WH_POS_LOGICAL_MAX does). Allocation-free, copies of the GTIDs' texts
 * kept since each was recorded: called once per transaction. */
size_t binlog_gtid_run_format(const binlog_gtid_run *r, const binlog_gtid *own, char *buf,
                              size_t buflen);

#endif
