/* binlog_mapper.c -- the "mysql" positions mapper: binlog events to updates,
 * transaction boundaries, positions and seeking (see binlog_mapper.h and
 * docs/MYSQL.md).
 *
 * Only committed transactions are delivered. Before the first event of a
 * transaction is decoded, the event headers ahead are scanned (type and
 * length, following the chain through the buffered bytes or small chunks
 * read from the file) up to its commit event; the log on disk is the buffer,
 * so memory does not grow with the transaction. A transaction whose commit
 * event is not written yet is waited for; one that never commits (the file
 * ends inside it and a later file exists, or a Stop, Rotate or another
 * transaction follows) is skipped with one warning. The scan remembers how
 * far it got: one scan per transaction, resumed after a wait.
 *
 * Updates are decoded straight from the read buffer into a per-batch arena:
 * strings point into the buffered events (zero-copy), so the reader is only
 * refilled when the batch is empty. The last update of a row event is held
 * back until the next event says whether the transaction goes on (another
 * update follows) or ends (XID/COMMIT), which sets txn.last without ever
 * buffering a whole transaction; a held-back update that must outlive a
 * batch is deep-copied into one of two small carry arenas. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/endian.h"
#include "core/errbuf.h"
#include "core/file.h"
#include "core/log.h"
#include "mappers/mysql/binlog_copy.h"
#include "mappers/mysql/binlog_ddl.h"
#include "mappers/mysql/binlog_event.h"
#include "mappers/mysql/binlog_gtid.h"
#include "mappers/mysql/binlog_gtid_seek.h"
#include "mappers/mysql/binlog_mapper.h"
#include "mappers/mysql/binlog_payload.h"
#include "mappers/mysql/binlog_reader.h"
#include "mappers/mysql/binlog_rows.h"
#include "mappers/mysql/binlog_server.h"
#include "mappers/mysql/binlog_tablemap.h"

/* ---- options --------------------------------------------------------------- */

typedef struct mysql_opts {
    char *binlog_dir;
    char *index_file;
    char *host;
    int64_t port;
    char *socket;
    char *user;
    char *password;
    char *password_file;
    char *password_env;
    char *ssl_mode;
    char *ssl_ca;
    char *ssl_cert;
    char *ssl_key;
    int64_t connect_timeout;
    int64_t poll_ms;
    int64_t read_buffer_kb;
    int64_t max_tables;
    int64_t batch_max_mb;
    bool mmap;
    bool positional_names;
    char *statement_dml;
    bool uncommitted;
} mysql_opts;

static const wh_cfg_field mysql_fields[] = {
    { "binlog_dir", WH_CFG_STRING, offsetof(mysql_opts, binlog_dir), NULL, 1, 0,
      "directory holding the server's binlog files and their index" },
    { "index_file", WH_CFG_STRING, offsetof(mysql_opts, index_file), "\"\"", 1, 0,
      "binlog index file (default: the only *.index file in binlog_dir)" },
    { "host", WH_CFG_STRING, offsetof(mysql_opts, host), "\"\"", 1, 0,
      "server to read column names from when the binlog lacks them (binlog_row_metadata "
      "is not FULL); empty: no server" },
    { "port", WH_CFG_INT, offsetof(mysql_opts, port), "3306", 1, 65535,
      "TCP port of host" },
    { "socket", WH_CFG_STRING, offsetof(mysql_opts, socket), "\"\"", 1, 0,
      "Unix socket of the server, instead of host and port" },
    { "user", WH_CFG_STRING, offsetof(mysql_opts, user), "\"root\"", 1, 0,
      "user for the schema connection (needs SELECT on information_schema)" },
    { "password", WH_CFG_STRING, offsetof(mysql_opts, password), "\"\"", 1, 0,
      "password for the schema connection, inline (discouraged: logs a warning; use "
      "password_file or password_env)" },
    { "password_file", WH_CFG_STRING, offsetof(mysql_opts, password_file), "\"\"", 1, 0,
      "file holding the password for the schema connection (must be mode 0600 or stricter, "
      "owned by this user or root)" },
    { "password_env", WH_CFG_STRING, offsetof(mysql_opts, password_env), "\"\"", 1, 0,
      "name of an environment variable holding the password for the schema connection" },
    { "ssl_mode", WH_CFG_STRING, offsetof(mysql_opts, ssl_mode), "\"preferred\"", 1, 0,
      "TLS on the schema connection: disabled, preferred (TLS if offered, unverified), "
      "required, verify_ca or verify_identity" },
    { "ssl_ca", WH_CFG_STRING, offsetof(mysql_opts, ssl_ca), "\"\"", 1, 0,
      "PEM file of the CA that signed the server's certificate (verify_ca, verify_identity)" },
    { "ssl_cert", WH_CFG_STRING, offsetof(mysql_opts, ssl_cert), "\"\"", 1, 0,
      "PEM client certificate for the schema connection (with ssl_key)" },
    { "ssl_key", WH_CFG_STRING, offsetof(mysql_opts, ssl_key), "\"\"", 1, 0,
      "PEM private key of ssl_cert" },
    { "connect_timeout", WH_CFG_INT, offsetof(mysql_opts, connect_timeout), "10", 1, 3600,
      "seconds to wait for the schema connection" },
    { "poll_ms", WH_CFG_INT, offsetof(mysql_opts, poll_ms), "100", 1, 60000,
      "longest wait between checks of the live binlog when inotify is unavailable" },
    { "read_buffer_kb", WH_CFG_INT, offsetof(mysql_opts, read_buffer_kb), "1024", 16, 1048576,
      "size of the read buffer in KiB (grows temporarily for a larger event)" },
    { "max_tables", WH_CFG_INT, offsetof(mysql_opts, max_tables), "4096", 16, 10000000,
      "table schemas kept in the cache" },
    { "batch_max_mb", WH_CFG_INT, offsetof(mysql_opts, batch_max_mb), "64", 1, 65536,
      "a batch ends early once its decoded values (converted text, JSON) grow by this many MiB" },
    { "mmap", WH_CFG_BOOL, offsetof(mysql_opts, mmap), "true", 1, 0,
      "map finished binlog files into memory instead of reading them (saves a copy)" },
    { "positional_names", WH_CFG_BOOL, offsetof(mysql_opts, positional_names), "false", 1, 0,
      "when neither the binlog nor a server gives column names, name columns @1, @2, ..." },
    { "statement_dml", WH_CFG_STRING, offsetof(mysql_opts, statement_dml), "\"error\"", 1, 0,
      "statement-based INSERT/UPDATE/DELETE in the binlog: \"error\" stops, \"ddl\" delivers "
      "the statement as a ddl update" },
    { "uncommitted", WH_CFG_BOOL, offsetof(mysql_opts, uncommitted), "false", 1, 0,
      "forensics only (wormhole-logcat --uncommitted), never for a publisher: also deliver the "
      "updates of transactions that never committed, as the log holds them, none marked last" },
    { NULL, 0, 0, NULL, 0, 0, NULL },
};

/* ---- state ------------------------------------------------------------------- */

typedef enum txn_mode {
    TXN_NONE = 0,       /* between transactions */
    TXN_AWAIT,          /* MySQL GTID seen: BEGIN follows, or a single DDL statement */
    TXN_STANDALONE,     /* MariaDB standalone GTID: one statement */
    TXN_EXPLICIT,       /* open until XID, COMMIT, ROLLBACK or XA PREPARE */
} txn_mode;

typedef struct mysql_mapper {
    wh_mapper base;
    mysql_opts o;
    const char *shard;
    binlog_reader *rd;
    binlog_payload *pl;
    binlog_table_cache *tc;
    binlog_server *srv;
    binlog_ssl_mode ssl_mode;
    bool dml_as_ddl;
    bool sought;
    bool failed;
    int deferred_rc;             /* failure to report after handing out earlier updates */
    char deferred_err[1024];

    /* the event being handled */
    const char *ev_file;
    uint64_t ev_off;
    uint64_t next_off;           /* where the file's next event starts (the reader's offset) */
    bool ev_inner;               /* inside a transaction payload */
    uint64_t ev_inner_off;
    uint64_t file_seq;

    /* the transaction */
    txn_mode mode;
    bool has_gtid;
    binlog_gtid gtid;
    char gtid_text[BINLOG_GTID_TEXT_MAX];
    char txn_id[320];            /* GTID text, or FILE:OFFSET */
    const char *txn_file;        /* interned */
    uint64_t txn_off;
    uint32_t txn_index;
    const char *txn_id_a;        /* copies in the batch arena */
    const char *logical_a;
    binlog_gtid_run run;         /* the GTID state: the last GTID of each stream read */
    bool state_text;             /* logical_text holds the transaction's state (several streams) */
    char logical_text[WH_POS_LOGICAL_MAX];  /* its GTID, then the other streams' last ones */
    bool skip_all;
    uint32_t skip_below;

    /* the row event being decoded */
    bool rows_active;
    binlog_rows_event re;
    binlog_table *rows_table;
    uint32_t rows_ts;
    uint32_t rows_n;
    const char *rows_file;
    uint64_t rows_off;
    uint8_t rows_type;
    bool rows_in_arena;          /* re.rows points into the batch arena (inflated) */
    bool rows_empty;             /* one row with empty images still to deliver */
    uint8_t *rows_carry;         /* rows of an inflated event, kept across batches */
    size_t rows_carry_cap;

    /* seeking */
    struct {
        bool pending;            /* the first transaction is the sought one */
        bool check;              /* the first event must start a transaction */
        uint32_t skip_below;
        char file[WH_POS_LOG_NAME_MAX];
        uint64_t off;
    } phys;
    struct {
        bool active, found, inclusive;
        binlog_logical_pos pos;
    } lp;
    binlog_gtid_tail tail;       /* the newest file's GTIDs, for has_pos and seek_logical */

    /* Scanning ahead for commit events (see the top of the file). The
     * decoder reads events that start before `verified` freely; at that
     * offset it asks the scan to verify the next transaction. */
    struct {
        uint64_t seq;            /* reader file_seq the offsets belong to; 0: start afresh */
        uint64_t verified;       /* events starting before this may be decoded */
        uint64_t off;            /* next event header to look at */
        uint64_t txn_off;        /* first event of the transaction being scanned */
        txn_mode mode;           /* that transaction's mode; TXN_NONE between transactions */
        bool changed;            /* it has rows or a statement: a BEGIN starts another one */
        bool has_gtid;
        binlog_gtid gtid;
        bool drop;               /* the scanned transaction never commits: skip it */
        bool drop_file;          /* ... and the rest of the file (it ends torn) */
        uint64_t drop_end;       /* else where the log goes on */
        bool tail;               /* no follow: the log ends inside it; it is decoded skipping */
        uint32_t tail_from;      /* ... every update (below this, a seek skipped them anyway) */
    } sc;

    /* the batch */
    wh_update *batch;
    int cap;
    int ready;
    bool has_pending;            /* batch[ready] is held back */
    bool pending_carried;
    wh_arena arena;
    size_t arena_base;           /* arena.total at the batch's start */
    wh_arena carry[2];
    int carry_cur;
    wh_buf jsonbuf;
} mysql_mapper;

/* ---- small helpers ------------------------------------------------------------ */

/* "FILE:OFFSET" (plus the offset inside a transaction payload) of the event
 * being handled, for messages. */
static const char *here(const mysql_mapper *m, char *buf, size_t n)
{
    if (m->ev_inner)
        snprintf(buf, n, "%s:%" PRIu64 " (event at byte %" PRIu64 " of its transaction "
                 "payload)", m->ev_file ? m->ev_file : "?", m->ev_off, m->ev_inner_off);
    else
        snprintf(buf, n, "%s:%" PRIu64, m->ev_file ? m->ev_file : "?", m->ev_off);
    return buf;
}

static int fail_here(mysql_mapper *m, int rc, char *errbuf, size_t errlen)
{
    char w[400];
    return wh_preferr(errbuf, errlen, rc, "%s", here(m, w, sizeof w));
}

static const char *arena_str(wh_arena *a, const char *s)
{
    return s ? wh_arena_strndup(a, s, strlen(s)) : NULL;
}

/* ---- statements ------------------------------------------------------------------ */

/* Skips blanks and comments; enters MySQL/MariaDB executable comments
 * ("/" "*!50001 ..." and "/" "*M!100101 ..."). */
static const char *skip_noise(const char *p, const char *end)
{
    for (;;) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (end - p >= 3 && p[0] == '/' && p[1] == '*' && (p[2] == '!' || p[2] == 'M')) {
            const char *q = p + 2;
            if (*q == 'M')
                q++;
            if (q < end && *q == '!') {
                q++;
                while (q < end && isdigit((unsigned char)*q))
                    q++;
                p = q;
                continue;
            }
        }
        if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
            const char *q = p + 2;
            while (end - q >= 2 && !(q[0] == '*' && q[1] == '/'))
                q++;
            p = end - q >= 2 ? q + 2 : end;
            continue;
        }
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
            while (p < end && *p != '\n')
                p++;
            continue;
        }
        return p;
    }
}

/* Case-insensitive keyword at p followed by a non-identifier character. */
static bool word(const char **pp, const char *end, const char *kw)
{
    const char *p = skip_noise(*pp, end);
    size_t n = strlen(kw);
    if ((size_t)(end - p) < n || strncasecmp(p, kw, n) != 0)
        return false;
    if ((size_t)(end - p) > n && (isalnum((unsigned char)p[n]) || p[n] == '_'))
        return false;
    *pp = p + n;
    return true;
}

binlog_stmt_kind binlog_classify_statement(const char *q, size_t len)
{
    const char *p = q, *end = q + len;
    if (word(&p, end, "BEGIN"))
        return BSK_BEGIN;
    if (word(&p, end, "START"))
        return word(&p, end, "TRANSACTION") ? BSK_BEGIN : BSK_DDL;
    if (word(&p, end, "COMMIT"))
        return BSK_COMMIT;
    if (word(&p, end, "ROLLBACK"))
        return word(&p, end, "TO") ? BSK_IGNORE : BSK_ROLLBACK;
    if (word(&p, end, "SAVEPOINT"))
        return BSK_IGNORE;
    if (word(&p, end, "RELEASE"))
        return BSK_IGNORE;
    if (word(&p, end, "XA")) {
        if (word(&p, end, "START") || word(&p, end, "BEGIN"))
            return BSK_BEGIN;
        if (word(&p, end, "END"))
            return BSK_IGNORE;
        if (word(&p, end, "COMMIT") || word(&p, end, "PREPARE"))
            return BSK_COMMIT;
        if (word(&p, end, "ROLLBACK"))
            return BSK_ROLLBACK;
        return BSK_IGNORE;   /* XA RECOVER and the like are not logged */
    }
    static const char *const dml[] = { "INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD",
                                       "WITH", "CALL", NULL };
    for (int i = 0; dml[i]; i++) {
        const char *r = p;
        if (word(&r, end, dml[i]))
            return BSK_DML;
    }
    return BSK_DDL;
}

/* ---- the batch ------------------------------------------------------------------- */

static int reserve_batch(mysql_mapper *m, int max)
{
    if (m->cap >= max + 1)
        return WH_OK;
    wh_update *b = realloc(m->batch, (size_t)(max + 1) * sizeof *b);
    if (!b)
        return WH_ERR_NOMEM;
    m->batch = b;
    m->cap = max + 1;
    return WH_OK;
}

/* A new update slot; the held-back one (if any) becomes ready with
 * txn.last false. The new one is held back in its turn. */
static wh_update *new_update(mysql_mapper *m, uint8_t op, int64_t ts)
{
    if (m->has_pending) {
        m->batch[m->ready].txn.last = false;
        m->ready++;
    }
    assert(m->ready < m->cap);
    wh_update *u = &m->batch[m->ready];
    m->has_pending = true;
    m->pending_carried = false;
    *u = (wh_update){
        .shard = m->shard,
        .op = op,
        .pos = { m->txn_file, m->txn_off, m->logical_a, m->txn_index },
        .ts = ts,
        .txn = { m->txn_id_a, m->txn_index, false },
    };
    return u;
}

static const char *carry_str(wh_arena *a, const char *s, bool *ok)
{
    if (!s)
        return NULL;
    const char *c = arena_str(a, s);
    if (!c)
        *ok = false;
    return c;
}

static bool carry_row(wh_arena *a, wh_row *r, const char *const **names_done,
                      const char *const *orig_names)
{
    wh_value *v = wh_arena_alloc(a, (r->count ? r->count : 1) * sizeof *v);
    if (!v)
        return false;
    memcpy(v, r->values, r->count * sizeof *v);
    for (uint32_t i = 0; i < r->count; i++) {
        if (v[i].str && v[i].type != WH_T_ABSENT && v[i].type != WH_T_NULL) {
            char *s = wh_arena_alloc(a, v[i].len + 1);
            if (!s)
                return false;
            memcpy(s, v[i].str, v[i].len);
            s[v[i].len] = '\0';
            v[i].str = s;
        }
    }
    r->values = v;
    if (*names_done && orig_names == r->names) {
        r->names = *names_done;
        return true;
    }
    const char **n = wh_arena_alloc(a, (r->count ? r->count : 1) * sizeof *n);
    if (!n)
        return false;
    for (uint32_t i = 0; i < r->count; i++)
        if (r->names[i] && !(n[i] = arena_str(a, r->names[i])))
            return false;
    *names_done = n;
    r->names = n;
    return true;
}

/* Deep-copies the held-back update into a carry arena so that it survives
 * the batch arena's reset and the read buffer's refill. */
static int carry_pending(mysql_mapper *m)
{
    if (!m->has_pending || m->pending_carried)
        return WH_OK;
    m->carry_cur ^= 1;
    wh_arena *a = &m->carry[m->carry_cur];
    wh_arena_reset(a);
    wh_update *u = &m->batch[m->ready];
    bool ok = true;
    u->db = carry_str(a, u->db, &ok);
    u->table = carry_str(a, u->table, &ok);
    u->statement = carry_str(a, u->statement, &ok);
    u->txn.id = carry_str(a, u->txn.id, &ok);
    u->pos.logical = carry_str(a, u->pos.logical, &ok);
    const char *const *names = NULL;
    const char *const *orig = u->has_before ? u->before.names : u->after.names;
    if (ok && u->has_before && !carry_row(a, &u->before, &names, orig))
        ok = false;
    if (ok && u->has_after && !carry_row(a, &u->after, &names, orig))
        ok = false;
    if (!ok)
        return WH_ERR_NOMEM;
    m->pending_carried = true;
    return WH_OK;
}

/* ---- transactions ------------------------------------------------------------------- */

/* How many updates of the current transaction were delivered (or, for the
 * uncommitted end of the log, would have been): a seek skips all of them or
 * its first skip_below ones. */
static uint32_t txn_delivered(const mysql_mapper *m, uint32_t skipped_below)
{
    if (m->skip_all || m->txn_index <= skipped_below)
        return 0;
    return m->txn_index - skipped_below;
}

/* Ends the current transaction: the held-back update is its last when the
 * transaction committed. One that did not (delivered only with the option
 * uncommitted) has no last update. */
static void finish_txn(mysql_mapper *m, bool committed)
{
    if (m->has_pending) {
        m->batch[m->ready].txn.last = committed;
        m->ready++;
        m->has_pending = false;
    }
    m->mode = TXN_NONE;
    m->has_gtid = false;
    m->skip_all = false;
    m->skip_below = 0;
    m->txn_id_a = m->logical_a = NULL;
    binlog_table_cache_end_txn(m->tc);
}

/* Decides, for a transaction with a GTID, whether a logical seek skips it. */
static int logical_filter(mysql_mapper *m, char *errbuf, size_t errlen)
{
    binlog_logical_pos *lp = &m->lp.pos;
    const binlog_gtid *g = &m->gtid;
    if (!m->lp.active)
        return WH_OK;
    if (!m->has_gtid) {
        m->skip_all = !m->lp.found;
        return WH_OK;
    }
    /* The position is a GTID state (binlog_gtid.h): a transaction it
     * covers was delivered, any other was not, whatever the order of the
     * streams in this copy's log. Its own transaction (gtids[0]) is found
     * to skip its first updates, and checked to be the same transaction. */
    if (!m->lp.found) {
        if (binlog_gtid_equal(g, &lp->gtids[0]) && !g->mysql &&
            g->server_id != lp->gtids[0].server_id) {
            /* Replication keeps a transaction's server id: another one under
             * the same domain and sequence is another transaction, written
             * after the histories diverged (docs/FAILOVER.md). */
            char a[BINLOG_GTID_TEXT_MAX], w[400];
            binlog_gtid_format(&lp->gtids[0], a, sizeof a);
            return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND,
                             "GTID %s is not in the binlog of this server: it has %s at %s "
                             "instead, another transaction under the same sequence number "
                             "(the histories diverged, e.g. the old primary's transaction was "
                             "lost with it)", a, m->gtid_text, here(m, w, sizeof w));
        }
        if (binlog_gtid_equal(g, &lp->gtids[0])) {
            m->lp.found = true;
            m->skip_below = lp->index + (m->lp.inclusive ? 0 : 1);
            return WH_OK;
        }
        if (binlog_gtid_same_stream(g, &lp->gtids[0])) {
            if (g->seq > lp->gtids[0].seq) {
                char a[BINLOG_GTID_TEXT_MAX], w[400];
                binlog_gtid_format(&lp->gtids[0], a, sizeof a);
                return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND,
                                 "GTID %s is not in the binlog of this server: its %s "
                                 "continues with %s at %s", a,
                                 g->mysql ? "uuid" : "domain", m->gtid_text,
                                 here(m, w, sizeof w));
            }
            m->skip_all = true;
            return WH_OK;
        }
    }
    m->skip_all = binlog_logical_pos_covers(lp, g);
    return WH_OK;
}

/* Records the transaction's GTID in the state and, when it is delivered
 * and the state has other streams, writes the state's text for its
 * positions (once per transaction; its updates all point to it). */
static int track_state(mysql_mapper *m, char *errbuf, size_t errlen)
{
    char w[400];
    int rc = binlog_gtid_run_add(&m->run, &m->gtid, here(m, w, sizeof w), errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    m->state_text = m->run.n > 1;
    if (!m->state_text || m->skip_all)
        return WH_OK;
    binlog_gtid_run_format(&m->run, &m->gtid, m->logical_text, sizeof m->logical_text);
    if (!(m->logical_a = arena_str(&m->arena, m->logical_text)))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    return WH_OK;
}

static int start_txn(mysql_mapper *m, txn_mode mode, bool has_gtid, const binlog_gtid *g,
                     char *errbuf, size_t errlen)
{
    if (m->mode != TXN_NONE) {
        char w[400];
        if (m->has_pending || m->txn_index > 0)
            wh_warn(WH_AREA_BINLOG, "%s: a new transaction starts before transaction %s "
                    "committed: it never did (its %u updates were delivered as uncommitted)",
                    here(m, w, sizeof w), m->txn_id, txn_delivered(m, m->skip_below));
        finish_txn(m, false);
    }
    m->mode = mode;
    m->has_gtid = has_gtid;
    m->txn_file = m->ev_file;
    m->txn_off = m->ev_off;
    m->txn_index = 0;
    m->skip_all = false;
    m->skip_below = 0;
    if (has_gtid) {
        m->gtid = *g;
        size_t n = binlog_gtid_format(g, m->gtid_text, sizeof m->gtid_text);
        memcpy(m->txn_id, m->gtid_text, n + 1);   /* the GTID is the transaction's id */
    } else {
        m->gtid_text[0] = '\0';
        snprintf(m->txn_id, sizeof m->txn_id, "%s:%" PRIu64, m->txn_file, m->txn_off);
    }
    if (!(m->txn_id_a = arena_str(&m->arena, m->txn_id)))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    m->logical_a = has_gtid ? m->txn_id_a : NULL;
    if (m->phys.pending) {
        m->phys.pending = false;
        m->skip_below = m->phys.skip_below;
    }
    int rc = logical_filter(m, errbuf, errlen);
    if (rc == WH_OK && has_gtid)
        rc = track_state(m, errbuf, errlen);
    if (m->sc.tail) {
        /* The uncommitted end of the log (no follow): decoded, counted,
         * never delivered. */
        m->sc.tail_from = m->skip_below;
        m->skip_below = UINT32_MAX;
    }
    return rc;
}

/* Whether the next update of the transaction is not delivered: dropped by
 * a seek (or, at the uncommitted end of the log, counted only). */
static bool skipping(const mysql_mapper *m)
{
    return m->skip_all || m->txn_index < m->skip_below;
}

/* ---- events ------------------------------------------------------------------------ */

static int resolve_names(mysql_mapper *m, binlog_table *t, char *errbuf, size_t errlen)
{
    if (t->names)
        return WH_OK;
    if (m->srv) {
        const binlog_server_column *cols;
        uint32_t n;
        int rc = binlog_server_columns(m->srv, t->db, t->name, &cols, &n, errbuf, errlen);
        if (rc == WH_OK)
            rc = binlog_table_apply_server(t, cols, n, errbuf, errlen);
        return rc;
    }
    if (m->o.positional_names)
        return binlog_table_positional_names(t, errbuf, errlen);
    return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                     "the binlog carries no column names for `%s`.`%s` (the server logs with "
                     "binlog_row_metadata other than FULL) and no server connection is "
                     "configured to read them (set the options host/port or socket, or "
                     "positional_names to name columns @1, @2, ...)", t->db, t->name);
}

static int handle_table_map(mysql_mapper *m, const binlog_event *ev, char *errbuf,
                            size_t errlen)
{
    binlog_table *t;
    if (m->mode == TXN_NONE) {
        int rc = start_txn(m, TXN_EXPLICIT, false, NULL, errbuf, errlen);
        if (rc != WH_OK)
            return rc;
    }
    return binlog_table_cache_map(m->tc, ev, binlog_reader_fde(m->rd), &t, errbuf, errlen);
}

static int handle_rows(mysql_mapper *m, const binlog_event *ev, char *errbuf, size_t errlen)
{
    int rc;
    if (m->mode == TXN_NONE) {
        if ((rc = start_txn(m, TXN_EXPLICIT, false, NULL, errbuf, errlen)) != WH_OK)
            return rc;
    } else if (m->mode != TXN_EXPLICIT) {
        m->mode = TXN_EXPLICIT;
    }
    binlog_rows_event re;
    if ((rc = binlog_rows_parse(ev, binlog_reader_fde(m->rd), &m->arena, &re, errbuf,
                                errlen)) != WH_OK)
        return rc;
    binlog_table *t = binlog_table_cache_get(m->tc, re.table_id);
    if (!t)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "%s event for table id %" PRIu64 ", which no table map of this "
                         "transaction defines", binlog_event_type_name(ev->type), re.table_id);
    if (re.width != t->ncols)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "%s event for `%s`.`%s` has %u columns but its table map has %u",
                         binlog_event_type_name(ev->type), t->db, t->name, re.width, t->ncols);
    if (m->skip_all)
        return WH_OK;
    if (!t->names && (rc = resolve_names(m, t, errbuf, errlen)) != WH_OK)
        return rc;
    m->re = re;
    m->rows_table = t;
    m->rows_ts = ev->timestamp;
    m->rows_n = 0;
    m->rows_file = m->ev_file;
    m->rows_off = m->ev_off;
    m->rows_type = ev->type;
    m->rows_in_arena = !(re.rows >= ev->body && re.rows <= ev->body + ev->body_len);
    m->rows_active = re.rows < re.end;
    m->rows_empty = false;
    if (re.rows == re.end) {
        /* MySQL logs a row whose image has no columns (INSERT INTO t () VALUES ()
         * under binlog_row_image=MINIMAL) as an event without row data. */
        if (re.npresent[0] != 0 || (re.op == WH_OP_UPDATE && re.npresent[1] != 0))
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "%s event for `%s`.`%s` carries no rows",
                             binlog_event_type_name(ev->type), t->db, t->name);
        m->rows_empty = true;
        m->rows_active = true;
    }
    return WH_OK;
}

/* Decodes rows of the current row event until it ends or the batch is full. */
static int rows_step(mysql_mapper *m, int max, char *errbuf, size_t errlen)
{
    binlog_rows_event *re = &m->re;
    binlog_table *t = m->rows_table;
    int rc = WH_OK;
    size_t limit = (size_t)m->o.batch_max_mb << 20;
    while ((re->rows < re->end || m->rows_empty) && m->ready < max &&
           (m->ready == 0 || m->arena.total - m->arena_base < limit)) {
        const uint8_t *p = re->rows;
        bool empty_row = m->rows_empty;
        m->rows_empty = false;
        m->rows_n++;
        if (skipping(m)) {
            rc = binlog_rows_image(t, re, 0, &p, true, NULL, NULL, NULL, NULL, errbuf, errlen);
            if (rc == WH_OK && re->op == WH_OP_UPDATE)
                rc = binlog_rows_image(t, re, 1, &p, true, NULL, NULL, NULL, NULL, errbuf,
                                       errlen);
            if (rc != WH_OK)
                goto err;
            if (p == re->rows && !empty_row) {
                rc = wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "row of zero bytes");
                goto err;
            }
            re->rows = p;
            m->txn_index++;
            continue;
        }
        size_t nv = t->ncols ? t->ncols : 1;
        wh_value *v0 = wh_arena_alloc(&m->arena, (re->op == WH_OP_UPDATE ? 2 : 1) * nv *
                                                 sizeof *v0);
        wh_value *v1 = re->op == WH_OP_UPDATE && v0 ? v0 + nv : NULL;
        if (!v0) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory decoding a row");
            goto err;
        }
        rc = binlog_rows_image(t, re, 0, &p, false, &m->arena, v0, NULL, &m->jsonbuf,
                               errbuf, errlen);
        if (rc == WH_OK && v1)
            rc = binlog_rows_image(t, re, 1, &p, false, &m->arena, v1, v0, &m->jsonbuf,
                                   errbuf, errlen);
        if (rc != WH_OK)
            goto err;
        if (p == re->rows && !empty_row) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "row of zero bytes");
            goto err;
        }
        re->rows = p;
        wh_update *u = new_update(m, re->op, m->rows_ts);
        u->db = t->db;
        u->table = t->name;
        u->schema_id = t->schema_id;
        wh_row r0 = { t->names, v0, t->ncols };
        if (re->op == WH_OP_INSERT) {
            u->has_after = true;
            u->after = r0;
        } else {
            u->has_before = true;
            u->before = r0;
            if (v1) {
                u->has_after = true;
                u->after = (wh_row){ t->names, v1, t->ncols };
            }
        }
        m->txn_index++;
    }
    if (re->rows >= re->end && !m->rows_empty)
        m->rows_active = false;
    return WH_OK;
err:
    m->rows_active = false;
    return wh_preferr(errbuf, errlen, rc, "%s:%" PRIu64 ": row %u of the %s event on `%s`.`%s`",
                      m->rows_file, m->rows_off, m->rows_n,
                      binlog_event_type_name(m->rows_type), t->db, t->name);
}

/* Delivers a statement as a ddl update of the current transaction. A DDL
 * statement that changes one table carries it (binlog_ddl.h); statement DML
 * (is_ddl false) carries none. */
static int emit_statement(mysql_mapper *m, const binlog_event *ev, const char *db,
                          size_t dblen, const char *q, size_t qlen, bool is_ddl,
                          char *errbuf, size_t errlen)
{
    if (skipping(m)) {
        m->txn_index++;
        return WH_OK;
    }
    const char *stmt = wh_arena_strndup(&m->arena, q, qlen);
    const char *dbs = dblen ? wh_arena_strndup(&m->arena, db, dblen) : NULL;
    const char *tdb = NULL, *table = NULL;
    if (!stmt || (dblen && !dbs) ||
        (is_ddl && binlog_ddl_table(q, qlen, db, dblen, &m->arena, &tdb, &table) < 0))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a statement");
    wh_update *u = new_update(m, WH_OP_DDL, ev->timestamp);
    u->db = table ? tdb : dbs;
    u->table = table;
    u->statement = stmt;
    m->txn_index++;
    return WH_OK;
}

static int handle_query(mysql_mapper *m, const binlog_event *ev, char *errbuf, size_t errlen)
{
    uint8_t post = binlog_post_header_len(binlog_reader_fde(m->rd), ev->type);
    const uint8_t *p = ev->body, *end = ev->body + ev->body_len;
    if (post < 11 || (size_t)(end - p) < post)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "Query event of %zu bytes is too short",
                         ev->body_len);
    uint8_t dblen = p[8];
    uint16_t status_len = post >= 13 ? wh_le16(p + 11) : 0;
    p += post;
    if ((size_t)(end - p) < (size_t)status_len + dblen + 1u || p[status_len + dblen] != 0)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "Query event's status variables and database name run past the event");
    p += status_len;
    const char *db = (const char *)p;
    p += dblen + 1;
    const char *q = (const char *)p;
    size_t qlen = (size_t)(end - p);
    if (ev->type == BE_QUERY_COMPRESSED) {
        const uint8_t *qq;
        int rc = binlog_maria_inflate(p, qlen, &m->arena, &qq, &qlen, errbuf, errlen);
        if (rc != WH_OK)
            return wh_preferr(errbuf, errlen, rc, "Query_compressed event");
        q = (const char *)qq;
    }
    binlog_stmt_kind kind = binlog_classify_statement(q, qlen);
    int rc = WH_OK;
    char w[400];
    switch (kind) {
    case BSK_BEGIN:
        if (m->mode == TXN_AWAIT || m->mode == TXN_STANDALONE)
            m->mode = TXN_EXPLICIT;
        else if (m->mode == TXN_EXPLICIT && m->txn_index == 0 && !m->has_pending)
            ;   /* MariaDB XA / payload BEGIN right after the GTID */
        else
            rc = start_txn(m, TXN_EXPLICIT, false, NULL, errbuf, errlen);
        return rc;
    case BSK_COMMIT:
        finish_txn(m, true);
        return WH_OK;
    case BSK_ROLLBACK:
        if (m->has_pending || m->txn_index > 0)
            wh_warn(WH_AREA_BINLOG, "%s: transaction %s ends with %.*s; its %u updates were "
                    "delivered (the server logs a rolled-back transaction only when it changed "
                    "non-transactional tables, or at XA PREPARE)", here(m, w, sizeof w),
                    m->txn_id, (int)(qlen > 40 ? 40 : qlen), q, m->txn_index);
        finish_txn(m, true);
        return WH_OK;
    case BSK_IGNORE:
        if (m->mode == TXN_AWAIT || m->mode == TXN_STANDALONE)
            finish_txn(m, true);
        return WH_OK;
    case BSK_DML:
        if (!m->dml_as_ddl && !memmem(q, qlen, "generated by server", 19))
            return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                             "statement-based DML cannot be decoded into rows: \"%.*s%s\" "
                             "(set binlog_format=ROW on the server, or the option "
                             "statement_dml to \"ddl\" to deliver such statements as ddl "
                             "updates)", (int)(qlen > 80 ? 80 : qlen), q, qlen > 80 ? "..." : "");
        /* fall through */
    case BSK_DDL:
        binlog_table_cache_invalidate_server(m->tc);
        if (m->mode == TXN_NONE &&
            (rc = start_txn(m, TXN_STANDALONE, false, NULL, errbuf, errlen)) != WH_OK)
            return rc;
        if ((rc = emit_statement(m, ev, db, dblen, q, qlen, kind == BSK_DDL, errbuf,
                                 errlen)) != WH_OK)
            return rc;
        if (m->mode != TXN_EXPLICIT)
            finish_txn(m, true);
        return WH_OK;
    }
    return WH_OK;
}

/* A file's head state (Gtid_list, Previous_gtids) becomes the GTID state:
 * what the log held before the file (the same as read so far, unless this
 * is the first file read). */
static int take_head_state(mysql_mapper *m, const binlog_event *ev, char *errbuf, size_t errlen)
{
    if (m->ev_inner)
        return WH_OK;
    binlog_gtid_state st = { 0 };
    int rc = ev->type == BE_GTID_LIST ? binlog_gtid_list_parse(ev, &st, errbuf, errlen)
                                      : binlog_previous_gtids_parse(ev, &st, errbuf, errlen);
    if (rc == WH_OK)
        rc = binlog_gtid_run_from_head(&m->run, &st, m->ev_file, errbuf, errlen);
    binlog_gtid_state_free(&st);
    return rc == WH_OK ? WH_OK : fail_here(m, rc, errbuf, errlen);
}

static int handle_event(mysql_mapper *m, const binlog_event *ev, char *errbuf, size_t errlen)
{
    int rc = WH_OK;
    binlog_gtid g;
    uint8_t flags;
    bool anon;

    if (m->phys.check) {
        m->phys.check = false;
        switch (ev->type) {
        case BE_MARIA_GTID: case BE_GTID: case BE_ANONYMOUS_GTID: case BE_QUERY:
        case BE_QUERY_COMPRESSED:
            break;
        default:
            return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND,
                             "position %s:%" PRIu64 " is not the start of a transaction (the "
                             "event there is %s)", m->phys.file, m->phys.off,
                             binlog_event_type_name(ev->type));
        }
    }

    if (binlog_is_rows_event(ev->type))
        return handle_rows(m, ev, errbuf, errlen);
    switch (ev->type) {
    case BE_MARIA_GTID:
        if ((rc = binlog_maria_gtid_parse(ev, &g, &flags, errbuf, errlen)) != WH_OK)
            return rc;
        return start_txn(m, (flags & BINLOG_MGTID_STANDALONE) ? TXN_STANDALONE : TXN_EXPLICIT,
                         true, &g, errbuf, errlen);
    case BE_GTID:
    case BE_ANONYMOUS_GTID:
        if ((rc = binlog_mysql_gtid_parse(ev, &g, &anon, errbuf, errlen)) != WH_OK)
            return rc;
        return start_txn(m, TXN_AWAIT, !anon, &g, errbuf, errlen);
    case BE_QUERY:
    case BE_QUERY_COMPRESSED:
        return handle_query(m, ev, errbuf, errlen);
    case BE_XID:
    case BE_XA_PREPARE:
        finish_txn(m, true);
        return WH_OK;
    case BE_TABLE_MAP:
        return handle_table_map(m, ev, errbuf, errlen);
    case BE_TRANSACTION_PAYLOAD:
        if (m->ev_inner)
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "transaction payload nested inside a transaction payload");
        if (m->skip_all) {   /* a whole transaction: skip it without inflating it */
            finish_txn(m, true);
            return WH_OK;
        }
        return binlog_payload_begin(m->pl, ev, binlog_reader_fde(m->rd), errbuf, errlen);
    case BE_EXECUTE_LOAD_QUERY:   /* a Query event with a longer post-header */
        return handle_query(m, ev, errbuf, errlen);
    case BE_INCIDENT: {
        const char *msg = "";
        int mlen = 0;
        if (ev->body_len > 3) {   /* incident(2) message_length(1) message */
            mlen = ev->body[2];
            if ((size_t)mlen > ev->body_len - 3)
                mlen = (int)(ev->body_len - 3);
            msg = (const char *)ev->body + 3;
        }
        return wh_seterr(errbuf, errlen, WH_ERR_GAP,
                         "the server logged an incident: changes may be missing from the "
                         "binlog here (%.*s)", mlen, msg);
    }
    case BE_START_ENCRYPTION:
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                         "the binlog is encrypted (encrypt_binlog=ON), which is not supported");
    case BE_GTID_LIST:
    case BE_PREVIOUS_GTIDS:
        return take_head_state(m, ev, errbuf, errlen);
    case BE_ROTATE: case BE_STOP:
    case BE_BINLOG_CHECKPOINT: case BE_ANNOTATE_ROWS: case BE_ROWS_QUERY: case BE_IGNORABLE:
    case BE_HEARTBEAT: case BE_HEARTBEAT_V2: case BE_TRANSACTION_CONTEXT: case BE_VIEW_CHANGE:
    case BE_INTVAR: case BE_RAND: case BE_USER_VAR: case BE_BEGIN_LOAD_QUERY:
    case BE_APPEND_BLOCK: case BE_DELETE_FILE: case BE_FORMAT_DESCRIPTION:
        return WH_OK;
    case BE_GTID_TAGGED:
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                         "tagged GTIDs (MySQL 8.3+ Gtid_tagged event) are not supported");
    default:
        if (ev->flags & BINLOG_F_IGNORABLE)
            return WH_OK;
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                         "event type %u (%s) is not supported and not marked ignorable",
                         ev->type, binlog_event_type_name(ev->type));
    }
}

/* ---- the event source: the payload being iterated, else the files ----------------- */

#define SOURCE_PAYLOAD_DONE 2   /* source_next: a payload ended; look again */

static int source_next(mysql_mapper *m, binlog_event *ev, char *errbuf, size_t errlen)
{
    if (binlog_payload_active(m->pl)) {
        uint64_t inner = binlog_payload_offset(m->pl);
        int rc = binlog_payload_next(m->pl, ev, errbuf, errlen);
        if (rc == WH_OK) {
            m->ev_inner = true;
            m->ev_inner_off = inner;
            return WH_OK;
        }
        if (rc == BINLOG_PAYLOAD_REFILL)
            return BINLOG_READER_REFILL;
        if (rc != WH_ERR_EOF)
            return fail_here(m, rc, errbuf, errlen);
        m->ev_inner = false;   /* payload done: back to the file, through the gate */
        return SOURCE_PAYLOAD_DONE;
    }
    int rc = binlog_reader_next(m->rd, ev, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    m->ev_inner = false;
    m->ev_file = binlog_reader_cur_file(m->rd);
    m->ev_off = binlog_reader_event_offset(m->rd);
    m->next_off = m->ev_off + ev->length;
    return WH_OK;
}

static int source_refill(mysql_mapper *m, char *errbuf, size_t errlen)
{
    if (binlog_payload_active(m->pl)) {
        int rc = binlog_payload_refill(m->pl, errbuf, errlen);
        return rc == WH_OK ? WH_OK : fail_here(m, rc, errbuf, errlen);
    }
    const char *old = binlog_reader_cur_file(m->rd);
    int rc = binlog_reader_refill(m->rd, errbuf, errlen);
    if (rc == WH_ERR_TRUNCATED && m->o.uncommitted) {
        /* Forensics: the torn end of a finished file, then the next file.
         * (Committed-only reading sees it coming and never gets here.) */
        wh_warn(WH_AREA_BINLOG, "%s; going on with the next file",
                errbuf ? errbuf : "truncated event");
        rc = binlog_reader_skip_file(m->rd, errbuf, errlen);
    }
    if (rc == WH_OK && binlog_reader_file_seq(m->rd) != m->file_seq) {
        m->file_seq = binlog_reader_file_seq(m->rd);
        if (m->mode != TXN_NONE && m->o.uncommitted) {
            wh_warn(WH_AREA_BINLOG, "%s ends inside transaction %s (started at %s:%" PRIu64
                    "), which never committed: its %u updates were delivered as uncommitted",
                    old, m->txn_id, m->txn_file, m->txn_off, txn_delivered(m, m->skip_below));
            finish_txn(m, false);
        } else if (m->mode != TXN_NONE) {
            return wh_seterr(errbuf, errlen, WH_ERR_TRUNCATED,
                             "%s ends inside transaction %s (started at %s:%" PRIu64 ") without "
                             "its commit event, and the binlog continues in %s: the server "
                             "stopped while writing the transaction", old, m->txn_id,
                             m->txn_file, m->txn_off, binlog_reader_cur_file(m->rd));
        }
    }
    return rc;
}

/* ---- committed transactions: the scan ahead --------------------------------------- */

enum {
    SCAN_VERIFIED = 0,   /* sc.verified moved on: decode up to it */
    SCAN_PENDING,        /* the file as it is now ends inside a transaction (or an event) */
    SCAN_DROPPED,        /* the transaction being scanned never commits (sc.drop is set) */
};

/* An event as the scan sees it: header fields, and its first `have` bytes
 * (at least those asked for, unless the file ends first) at p. */
typedef struct scan_ev {
    const uint8_t *p;
    size_t have;
    uint32_t length, next_pos;
    uint8_t type;
} scan_ev;

/* The window of bytes the reader holds ahead (binlog_reader_window): the
 * scan reads headers there inline, and peeks only beyond it. */
typedef struct scan_win {
    const uint8_t *p;
    uint64_t lo, hi;
    uint32_t min_len;            /* the shortest possible event */
} scan_win;

/* Looks at the event at off, wanting its first `want` bytes (capped by its
 * length). Returns 0, WH_ERR_AGAIN (the file ends first; v->have bytes
 * exist from off) or an error. */
static inline int scan_look(mysql_mapper *m, const scan_win *w, uint64_t off, size_t want,
                            scan_ev *v, char *errbuf, size_t errlen)
{
    if (off >= w->lo && off <= w->hi && w->hi - off >= BINLOG_HEADER_LEN) {
        const uint8_t *p = w->p + (off - w->lo);
        uint32_t len = wh_le32(p + 9);
        if (len >= w->min_len && len <= BINLOG_MAX_EVENT &&
            w->hi - off >= (want < len ? want : len)) {
            v->p = p;
            v->have = (size_t)(w->hi - off);
            v->length = len;
            v->next_pos = wh_le32(p + 13);
            v->type = p[4];
            return WH_OK;
        }
    }
    binlog_event ev;
    int rc = binlog_reader_peek(m->rd, off, want, &ev, &v->p, &v->have, errbuf, errlen);
    if (rc == WH_OK) {
        v->length = ev.length;
        v->next_pos = ev.next_pos;
        v->type = ev.type;
    }
    return rc;
}

/* The event v framed for the decoders that take one (v must hold it whole). */
static binlog_event scan_frame(const mysql_mapper *m, const scan_ev *v)
{
    const binlog_fde *fde = binlog_reader_fde(m->rd);
    size_t crc = fde->checksum_alg == BINLOG_CHECKSUM_CRC32 ? BINLOG_CHECKSUM_LEN : 0;
    return (binlog_event){
        .timestamp = wh_le32(v->p), .type = v->type, .server_id = wh_le32(v->p + 5),
        .length = v->length, .next_pos = v->next_pos, .flags = wh_le16(v->p + 17),
        .data = v->p, .body = v->p + fde->header_len,
        .body_len = v->length - fde->header_len - crc,
    };
}

/* What a query event's statement is, from the first v->have bytes of the
 * event. A statement that cannot be read here counts as DDL (never a
 * transaction marker); the decoder reports what is wrong with it. So does a
 * compressed one (MariaDB's log_bin_compress): only statements longer than
 * log_bin_compress_min_len (10 bytes at least) are compressed, never BEGIN,
 * COMMIT or ROLLBACK, and a long XA START or SAVEPOINT inside a transaction
 * changes nothing for the scan either. */
static binlog_stmt_kind scan_statement(const mysql_mapper *m, const scan_ev *v)
{
    const binlog_fde *fde = binlog_reader_fde(m->rd);
    size_t hdr = fde->header_len;
    size_t end = v->length - (fde->checksum_alg == BINLOG_CHECKSUM_CRC32 ? BINLOG_CHECKSUM_LEN
                                                                         : 0);
    if (v->type == BE_QUERY_COMPRESSED)
        return BSK_DDL;
    if (end > v->have)
        end = v->have;
    uint8_t post = binlog_post_header_len(fde, v->type);
    if (post < 11 || end < hdr + post)
        return BSK_DDL;
    const uint8_t *b = v->p + hdr;
    size_t blen = end - hdr;
    size_t status_len = post >= 13 ? wh_le16(b + 11) : 0;
    size_t qoff = (size_t)post + status_len + b[8] + 1;
    if (blen < qoff)
        return BSK_DDL;
    return binlog_classify_statement((const char *)b + qoff, blen - qoff);
}

/* The scanned transaction's name for messages: its GTID, or the offset of
 * its first event. */
static const char *scan_txn_name(const mysql_mapper *m, char *buf, size_t n)
{
    if (m->sc.has_gtid)
        binlog_gtid_format(&m->sc.gtid, buf, n);
    else
        snprintf(buf, n, "%s:%" PRIu64, binlog_reader_cur_file(m->rd), m->sc.txn_off);
    return buf;
}

/* Marks the scanned transaction dropped: the log goes on at `at` (an event),
 * or with the next file when the file ends inside it (torn). Warns once. */
static int scan_drop(mysql_mapper *m, uint64_t at, bool torn, const char *why)
{
    const char *file = binlog_reader_cur_file(m->rd);
    char name[BINLOG_GTID_TEXT_MAX + 280];
    m->sc.drop = true;
    m->sc.drop_file = torn;
    m->sc.drop_end = at;
    if (m->sc.mode == TXN_NONE) {   /* a torn event between transactions */
        wh_warn(WH_AREA_BINLOG, "%s:%" PRIu64 ": %s; skipping the rest of the file", file,
                m->sc.txn_off, why);
        return SCAN_DROPPED;
    }
    wh_warn(WH_AREA_BINLOG, "%s:%" PRIu64 ": transaction %s never committed: %s; skipping it "
            "(wormhole-logcat --uncommitted shows it)", file, m->sc.txn_off,
            scan_txn_name(m, name, sizeof name), why);
    return SCAN_DROPPED;
}

/* Starts scanning a transaction whose first event is at off. */
static void scan_begin(mysql_mapper *m, uint64_t off, txn_mode mode)
{
    m->sc.mode = mode;
    m->sc.txn_off = off;
    m->sc.changed = false;
    m->sc.has_gtid = false;
}

/* Follows event headers from sc.off until the transaction there commits
 * (events outside transactions are passed on the way). The rules mirror
 * the decoder's (handle_event, handle_query): a transaction ends at XID, XA
 * PREPARE, COMMIT or ROLLBACK, a transaction payload, or with its single
 * statement. Only GTID and query events are read beyond their header.
 * Returns a SCAN_* code or an error. */
static int scan(mysql_mapper *m, char *errbuf, size_t errlen)
{
    const binlog_fde *fde = binlog_reader_fde(m->rd);
    scan_win w;
    binlog_reader_window(m->rd, &w.p, &w.lo, &w.hi);
    w.min_len = fde->header_len +
                (fde->checksum_alg == BINLOG_CHECKSUM_CRC32 ? BINLOG_CHECKSUM_LEN : 0);
    bool looked_again = false;
    char why[400];
    for (;;) {
        uint64_t off = m->sc.off;
        scan_ev v;
        int rc = scan_look(m, &w, off, BINLOG_HEADER_LEN, &v, errbuf, errlen);
        if (rc == WH_ERR_AGAIN)
            goto at_end;
        if (rc != WH_OK)
            return rc;
        /* Every event records where it ends: a corrupt length shows here. */
        if (v.next_pos != 0 && v.next_pos != (uint32_t)(off + v.length))
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "%s:%" PRIu64 ": no event starts here, or its header is corrupt "
                             "(the bytes read as a %s event of %u bytes ending at %u)",
                             binlog_reader_cur_file(m->rd), off, binlog_event_type_name(v.type),
                             v.length, v.next_pos);
        bool ends = false;       /* the event ends the transaction (or is one) */
        txn_mode mode = m->sc.mode;
        switch (v.type) {
        case BE_MARIA_GTID:
        case BE_GTID:
        case BE_ANONYMOUS_GTID: {
            if (mode != TXN_NONE) {
                snprintf(why, sizeof why, "another transaction starts at offset %" PRIu64
                         " before its commit event", off);
                return scan_drop(m, off, false, why);
            }
            if ((rc = scan_look(m, &w, off, v.length, &v, errbuf, errlen)) == WH_ERR_AGAIN)
                goto at_end;
            if (rc != WH_OK)
                return rc;
            if (v.have < v.length)
                return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                                 "%s:%" PRIu64 ": a %s event of %u bytes is implausibly large",
                                 binlog_reader_cur_file(m->rd), off,
                                 binlog_event_type_name(v.type), v.length);
            binlog_event ev = scan_frame(m, &v);
            binlog_gtid g;
            uint8_t flags;
            bool anon = false;
            if (v.type == BE_MARIA_GTID) {
                rc = binlog_maria_gtid_parse(&ev, &g, &flags, errbuf, errlen);
                mode = (flags & BINLOG_MGTID_STANDALONE) ? TXN_STANDALONE : TXN_EXPLICIT;
            } else {
                rc = binlog_mysql_gtid_parse(&ev, &g, &anon, errbuf, errlen);
                mode = TXN_AWAIT;
            }
            if (rc != WH_OK)
                return wh_preferr(errbuf, errlen, rc, "%s:%" PRIu64,
                                  binlog_reader_cur_file(m->rd), off);
            scan_begin(m, off, mode);
            m->sc.has_gtid = !anon;
            m->sc.gtid = g;
            break;
        }
        case BE_QUERY:
        case BE_QUERY_COMPRESSED:
        case BE_EXECUTE_LOAD_QUERY: {
            if ((rc = scan_look(m, &w, off, v.length, &v, errbuf, errlen)) == WH_ERR_AGAIN)
                goto at_end;
            if (rc != WH_OK)
                return rc;
            binlog_stmt_kind kind = scan_statement(m, &v);
            if (mode == TXN_NONE) {
                if (kind == BSK_BEGIN)
                    scan_begin(m, off, TXN_EXPLICIT);
                else if (kind == BSK_DDL || kind == BSK_DML)
                    ends = true;   /* a statement on its own */
                break;
            }
            switch (kind) {
            case BSK_BEGIN:
                if (mode != TXN_EXPLICIT) {
                    m->sc.mode = TXN_EXPLICIT;
                } else if (m->sc.changed) {
                    snprintf(why, sizeof why, "another transaction begins at offset %" PRIu64
                             " before its commit event", off);
                    return scan_drop(m, off, false, why);
                }
                break;
            case BSK_COMMIT:
            case BSK_ROLLBACK:
                ends = true;
                break;
            case BSK_IGNORE:
                ends = mode != TXN_EXPLICIT;
                break;
            case BSK_DDL:
            case BSK_DML:
                ends = mode != TXN_EXPLICIT;
                m->sc.changed = true;
                break;
            }
            break;
        }
        case BE_XID:
        case BE_XA_PREPARE:
            ends = mode != TXN_NONE;
            break;
        case BE_TRANSACTION_PAYLOAD:
            ends = true;   /* a whole transaction in one event */
            break;
        case BE_TABLE_MAP:
            if (mode == TXN_NONE)
                scan_begin(m, off, TXN_EXPLICIT);
            break;
        case BE_WRITE_ROWS_V1: case BE_UPDATE_ROWS_V1: case BE_DELETE_ROWS_V1:
        case BE_WRITE_ROWS_V2: case BE_UPDATE_ROWS_V2: case BE_DELETE_ROWS_V2:
        case BE_PARTIAL_UPDATE_ROWS:
        case BE_WRITE_ROWS_COMPRESSED_V1: case BE_UPDATE_ROWS_COMPRESSED_V1:
        case BE_DELETE_ROWS_COMPRESSED_V1: case BE_WRITE_ROWS_COMPRESSED_V2:
        case BE_UPDATE_ROWS_COMPRESSED_V2: case BE_DELETE_ROWS_COMPRESSED_V2:
            if (mode == TXN_NONE)
                scan_begin(m, off, TXN_EXPLICIT);
            m->sc.mode = TXN_EXPLICIT;
            m->sc.changed = true;
            break;
        case BE_ROTATE:
        case BE_STOP:
            if (mode != TXN_NONE) {
                snprintf(why, sizeof why, "a %s event follows it at offset %" PRIu64,
                         binlog_event_type_name(v.type), off);
                return scan_drop(m, off, false, why);
            }
            break;
        default:
            break;
        }
        bool outside = m->sc.mode == TXN_NONE;   /* an event outside any transaction */
        if ((ends || outside) && off + v.length > w.hi &&
            !binlog_reader_holds(m->rd, off + v.length)) {
            v.have = 1;   /* not completely written */
            goto at_end;
        }
        m->sc.off = off + v.length;
        if (ends) {
            m->sc.mode = TXN_NONE;
            m->sc.verified = m->sc.off;
            return SCAN_VERIFIED;
        }
        if (outside) {
            m->sc.verified = m->sc.off;
            if (v.type == BE_ROTATE || v.type == BE_STOP)
                return SCAN_VERIFIED;   /* the file ends here */
        }
        looked_again = false;
        continue;
at_end:
        /* The file as it is now ends exactly at off (v.have == 0) or inside
         * the event there. */
        if (m->sc.mode == TXN_NONE && v.have == 0) {
            m->sc.verified = off;   /* the reader takes it from here */
            return SCAN_VERIFIED;
        }
        if (!binlog_reader_file_finished(m->rd))
            return SCAN_PENDING;   /* the live end: the rest is being written */
        if (!looked_again) {
            /* A later file exists; the server may have written more here
             * before it rotated: look once more before deciding. */
            looked_again = true;
            continue;
        }
        int i = binlog_reader_file_index(m->rd, binlog_reader_cur_file(m->rd));
        const char *next = i >= 0 && (size_t)i + 1 < binlog_reader_nfiles(m->rd)
                           ? binlog_reader_file(m->rd, (size_t)i + 1) : "a later file";
        uint64_t size = binlog_reader_file_size(m->rd);
        if (m->sc.mode == TXN_NONE) {
            m->sc.txn_off = off;
            snprintf(why, sizeof why, "the file ends inside an event (%" PRIu64 " bytes of it "
                     "are there) and the binlog continues in %s: the server stopped while "
                     "writing it", size > off ? size - off : 0, next);
        } else {
            snprintf(why, sizeof why, "the file ends inside it, %" PRIu64 " bytes on, and the "
                     "binlog continues in %s (the server stopped while writing it, and rolls "
                     "such a transaction back when it restarts)",
                     size > m->sc.txn_off ? size - m->sc.txn_off : 0, next);
        }
        return scan_drop(m, 0, true, why);
    }
}

enum {
    GATE_OK = 0,         /* the next event may be decoded */
    GATE_WAIT = 2,       /* nothing can be decoded until the log grows */
    GATE_YIELD,          /* hand out the batch first (the reader is about to move) */
    GATE_MOVED,          /* the reader skipped a dropped transaction: look again */
    GATE_END,            /* no follow: the uncommitted end of the log is counted */
};

/* Called when the decoder reaches the offset the scan verified: scans the
 * next transaction and decides whether it may be decoded, is waited for, or
 * is skipped. */
static int gate(mysql_mapper *m, char *errbuf, size_t errlen)
{
    if (m->sc.tail)
        return GATE_END;
    if (m->sc.seq != m->file_seq) {   /* a new file (or a seek): scan from where the reader is */
        memset(&m->sc, 0, sizeof m->sc);
        m->sc.seq = m->file_seq;
        m->sc.off = m->sc.verified = binlog_reader_next_offset(m->rd);
    }
    if (!m->sc.drop) {
        assert(binlog_reader_next_offset(m->rd) <= m->sc.off);
        int rc = scan(m, errbuf, errlen);
        if (rc < 0)
            return rc;
        if (rc == SCAN_VERIFIED)
            return GATE_OK;
        if (rc == SCAN_PENDING) {
            if (m->base.follow || m->sc.mode == TXN_NONE)
                return GATE_WAIT;
            /* No follow, and the log ends inside a transaction: decode what
             * is there of it, counting its updates instead of delivering
             * them; next_batch then says so. */
            if (m->ready > 0)
                return GATE_YIELD;
            m->sc.tail = true;
            m->sc.verified = m->sc.off;
            return GATE_OK;
        }
    }
    /* A dropped transaction: skip it. */
    if (m->ready > 0)
        return GATE_YIELD;   /* their bytes may be in the buffer the reader leaves */
    if (m->phys.pending) {
        /* The sought position was in this transaction: it never committed,
         * so what follows it is the next update. */
        m->phys.pending = false;
        m->phys.check = false;
    }
    if (m->sc.drop_file) {
        int rc = binlog_reader_skip_file(m->rd, errbuf, errlen);
        if (rc == WH_ERR_AGAIN)
            return GATE_WAIT;   /* the next file is not written yet */
        if (rc != WH_OK)
            return rc;
        m->file_seq = binlog_reader_file_seq(m->rd);
    } else {
        binlog_reader_skip_to(m->rd, m->sc.drop_end);
        m->sc.off = m->sc.verified = m->sc.drop_end;
        m->sc.mode = TXN_NONE;
    }
    m->sc.drop = false;
    return GATE_MOVED;
}

/* ---- the batch loop ------------------------------------------------------------------ */

#define RUN_END 1   /* live end of the log reached */

/* Waits for the log to grow (follow mode, until the batch's deadline).
 * Returns WH_OK to look again, or RUN_END. */
static int wait_log(mysql_mapper *m, int timeout_ms, int64_t *deadline)
{
    if (!m->base.follow || timeout_ms <= 0)
        return RUN_END;
    int64_t now = wh_mono_ms();
    if (*deadline < 0)
        *deadline = now + timeout_ms;
    if (now >= *deadline)
        return RUN_END;
    binlog_reader_wait(m->rd, (int)(*deadline - now));
    return WH_OK;
}

static int run(mysql_mapper *m, int max, int timeout_ms, char *errbuf, size_t errlen)
{
    int64_t deadline = -1;
    size_t limit = (size_t)m->o.batch_max_mb << 20;
    while (m->ready < max) {
        if (m->ready > 0 && m->arena.total - m->arena_base >= limit)
            return WH_OK;   /* bounded memory: hand these out first */
        if (m->rows_active) {
            int rc = rows_step(m, max, errbuf, errlen);
            if (rc != WH_OK)
                return rc;
            continue;
        }
        int rc = WH_OK;
        /* Committed transactions only: past what the scan verified, the
         * next transaction's commit event must be in the log first. */
        if ((m->next_off >= m->sc.verified || m->sc.seq != m->file_seq) && !m->o.uncommitted &&
            !binlog_payload_active(m->pl)) {
            rc = gate(m, errbuf, errlen);
            m->next_off = binlog_reader_next_offset(m->rd);
            if (rc == GATE_MOVED)
                continue;
            if (rc == GATE_YIELD)
                return WH_OK;
            if (rc == GATE_END)
                return RUN_END;
            if (rc == GATE_WAIT) {
                if (m->ready > 0)
                    return WH_OK;
                if ((rc = wait_log(m, timeout_ms, &deadline)) != WH_OK)
                    return rc;
                continue;
            }
        }
        binlog_event ev;
        if (rc == WH_OK)
            rc = source_next(m, &ev, errbuf, errlen);
        if (rc == SOURCE_PAYLOAD_DONE)
            continue;
        if (rc == BINLOG_READER_REFILL) {
            if (m->ready > 0)
                return WH_OK;   /* hand these out before their bytes are replaced */
            if ((rc = carry_pending(m)) != WH_OK)
                return wh_seterr(errbuf, errlen, rc, "out of memory keeping an update");
            rc = source_refill(m, errbuf, errlen);
            if (m->sc.tail && (rc != WH_OK || m->sc.seq != m->file_seq))
                return RUN_END;   /* counting the log's unfinished end: it is counted */
            if (rc == WH_OK)
                continue;
            if (rc != WH_ERR_AGAIN)
                return rc;
            if ((rc = wait_log(m, timeout_ms, &deadline)) != WH_OK)
                return rc;
            continue;
        }
        if (rc != WH_OK) {
            if (m->phys.check) {   /* the sought offset is not an event boundary */
                m->phys.check = false;
                return wh_preferr(errbuf, errlen, WH_ERR_NOT_FOUND,
                                  "position %s:%" PRIu64 " does not point to an event",
                                  m->phys.file, m->phys.off);
            }
            return rc;
        }
        if ((rc = handle_event(m, &ev, errbuf, errlen)) != WH_OK)
            return fail_here(m, rc, errbuf, errlen);
    }
    return WH_OK;
}

/* Keeps the rows of an inflated event that outlive this batch's arena. */
static int keep_inflated_rows(mysql_mapper *m)
{
    if (!m->rows_active || !m->rows_in_arena)
        return WH_OK;
    size_t n = (size_t)(m->re.end - m->re.rows);
    if (n > m->rows_carry_cap) {
        uint8_t *b = realloc(m->rows_carry, n);
        if (!b)
            return WH_ERR_NOMEM;
        m->rows_carry = b;
        m->rows_carry_cap = n;
    }
    memmove(m->rows_carry, m->re.rows, n);
    m->re.rows = m->rows_carry;
    m->re.end = m->rows_carry + n;
    m->rows_in_arena = false;
    return WH_OK;
}

/* next_batch of the mapper contract (mappers/mapper.h), with one addition:
 * without follow, WH_ERR_EOF comes with a sentence in errbuf when the log
 * ends inside a transaction that is not committed (yet), and with errbuf
 * untouched otherwise. */
static int next_batch_read(wh_mapper *base, const wh_update **updates, int max,
                           int timeout_ms, char *errbuf, size_t errlen)
{
    mysql_mapper *m = (mysql_mapper *)base;
    if (!updates || max <= 0)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "next_batch needs room for an update");
    if (m->deferred_rc) {
        int d = m->deferred_rc;
        m->deferred_rc = 0;
        return wh_seterr(errbuf, errlen, d, "%s", m->deferred_err);
    }
    if (m->failed)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID,
                         "the mysql mapper failed earlier; destroy it and create a new one");
    if (!m->sought)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID,
                         "the mysql mapper must be positioned with seek_physical or "
                         "seek_logical first");
    /* Start the batch: the previous one is no longer referenced. */
    int rc = keep_inflated_rows(m);
    if (rc == WH_OK)
        rc = reserve_batch(m, max);
    if (rc != WH_OK)
        goto nomem;
    if (m->has_pending && m->ready > 0)
        m->batch[0] = m->batch[m->ready];
    m->ready = 0;
    /* The arena keeps its chunks for the next batch; past twice the batch
     * limit (batches that ended early on it), give them back. */
    if (m->arena.total > 2 * ((size_t)m->o.batch_max_mb << 20))
        wh_arena_free(&m->arena);
    else
        wh_arena_reset(&m->arena);
    m->arena_base = m->arena.total;
    binlog_table_cache_collect(m->tc);
    if (m->mode != TXN_NONE) {
        if (!(m->txn_id_a = arena_str(&m->arena, m->txn_id)))
            goto nomem;
        m->logical_a = m->has_gtid ? m->txn_id_a : NULL;   /* the same text */
        if (m->has_gtid && m->state_text && !m->skip_all &&
            !(m->logical_a = arena_str(&m->arena, m->logical_text)))
            goto nomem;
    }

    rc = run(m, max, timeout_ms, errbuf, errlen);
    if (rc < 0) {
        m->failed = true;
        if (m->ready == 0)
            return rc;
        /* Deliver what came before the failure first; fail on the next call. */
        m->deferred_rc = rc;
        snprintf(m->deferred_err, sizeof m->deferred_err, "%s", errbuf ? errbuf : "");
        m->has_pending = false;
        *updates = m->batch;
        return m->ready;
    }
    if (rc == RUN_END && m->ready == 0) {
        if (m->sc.tail) {
            char name[BINLOG_GTID_TEXT_MAX + 280];
            uint32_t n = m->mode != TXN_NONE ? txn_delivered(m, m->sc.tail_from) : 0;
            return wh_seterr(errbuf, errlen, WH_ERR_EOF,
                             "the log ends inside transaction %s at %s:%" PRIu64 ": not "
                             "committed (yet); %u update%s not shown",
                             scan_txn_name(m, name, sizeof name), binlog_reader_cur_file(m->rd),
                             m->sc.txn_off, n, n == 1 ? "" : "s");
        }
        if (!m->base.follow && m->has_pending) {
            /* Option uncommitted: the log ends inside a transaction still
             * being written; show what is there, no update marked last. */
            m->batch[0].txn.last = false;
            m->ready = 1;
            m->has_pending = false;
        } else {
            if (carry_pending(m) != WH_OK)
                goto nomem;
            if (!m->base.follow && m->mode != TXN_NONE && m->o.uncommitted)
                return wh_seterr(errbuf, errlen, WH_ERR_EOF,
                                 "the log ends inside transaction %s at %s:%" PRIu64 ": not "
                                 "committed (yet); %u update%s delivered as uncommitted",
                                 m->txn_id, m->txn_file, m->txn_off,
                                 txn_delivered(m, m->skip_below),
                                 txn_delivered(m, m->skip_below) == 1 ? "" : "s");
            return m->base.follow ? WH_ERR_AGAIN : WH_ERR_EOF;
        }
    }
    if (carry_pending(m) != WH_OK)
        goto nomem;
    *updates = m->batch;
    return m->ready;
nomem:
    m->failed = true;
    return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory in the mysql mapper");
}

/* ... and the count of log bytes read (wh_mapper.log_bytes). */
static int mysql_next_batch(wh_mapper *base, const wh_update **updates, int max,
                            int timeout_ms, char *errbuf, size_t errlen)
{
    mysql_mapper *m = (mysql_mapper *)base;
    int n = next_batch_read(base, updates, max, timeout_ms, errbuf, errlen);
    if (m->rd)
        base->log_bytes = binlog_reader_consumed(m->rd);
    return n;
}

/* ---- seeking --------------------------------------------------------------------------- */

static void reset_stream(mysql_mapper *m)
{
    m->mode = TXN_NONE;
    m->has_gtid = false;
    m->txn_index = 0;
    m->skip_all = false;
    m->skip_below = 0;
    m->rows_active = false;
    m->rows_empty = false;
    m->has_pending = false;
    m->pending_carried = false;
    m->ready = 0;
    m->txn_id_a = m->logical_a = NULL;
    memset(&m->phys, 0, sizeof m->phys);
    memset(&m->lp, 0, sizeof m->lp);
    memset(&m->sc, 0, sizeof m->sc);
    m->run.n = 0;
    m->state_text = false;
    binlog_payload_end(m->pl);
    binlog_table_cache_end_txn(m->tc);
    wh_arena_reset(&m->arena);
    m->failed = false;
    m->deferred_rc = 0;
}

static int mysql_seek_physical(wh_mapper *base, const wh_pos *pos, bool inclusive,
                               char *errbuf, size_t errlen)
{
    mysql_mapper *m = (mysql_mapper *)base;
    reset_stream(m);
    m->sought = false;
    char file[WH_POS_LOG_NAME_MAX];
    uint64_t offset = 0;
    uint32_t index = 0;
    int rc;
    if (pos && pos->set) {
        if (!pos->has_log_name) {
            char text[WH_POS_PHYSICAL_TEXT_MAX];
            wh_pos_format_physical(pos, text, sizeof text);
            return wh_seterr(errbuf, errlen, WH_ERR_INVALID,
                             "'%s' is not a physical binlog position: it names no binlog file "
                             "(expected FILE:OFFSET/INDEX, e.g. mysql-bin.000003:1234/0)", text);
        }
        snprintf(file, sizeof file, "%s", pos->log_name);
        offset = pos->offset;
        index = pos->index;
    } else {
        if ((rc = binlog_reader_refresh_index(m->rd, errbuf, errlen)) != WH_OK)
            return rc;
        if (binlog_reader_nfiles(m->rd) == 0)
            return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND,
                             "the binlog index of %s lists no files", m->o.binlog_dir);
        snprintf(file, sizeof file, "%s", binlog_reader_file(m->rd, 0));
    }
    /* Inside a file: the GTID state there, which the file's head and the
     * transactions before the offset make (a seek to the file's start
     * reads its head state like any later file's). */
    if ((rc = binlog_reader_open(m->rd, file, offset, errbuf, errlen)) != WH_OK)
        return rc;
    if (offset > BINLOG_MAGIC_LEN &&
        (rc = binlog_gtid_run_at(m->rd, file, offset, &m->run, errbuf, errlen)) != WH_OK)
        return rc;
    m->file_seq = binlog_reader_file_seq(m->rd);
    if (offset > BINLOG_MAGIC_LEN) {
        m->phys.pending = true;
        m->phys.check = true;
        m->phys.skip_below = index + (inclusive ? 0 : 1);
        snprintf(m->phys.file, sizeof m->phys.file, "%s", file);
        m->phys.off = offset;
    }
    m->sought = true;
    return WH_OK;
}

static int mysql_seek_logical(wh_mapper *base, const wh_pos *wpos, bool inclusive,
                              char *errbuf, size_t errlen)
{
    mysql_mapper *m = (mysql_mapper *)base;
    reset_stream(m);
    m->sought = false;
    if (!wpos || !wpos->set)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "seek_logical needs a position");
    binlog_logical_pos lp;
    int rc = binlog_logical_pos_from(&lp, wpos, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    char pos[WH_POS_LOGICAL_TEXT_MAX];   /* the position's text, for messages */
    wh_pos_format_logical(wpos, pos, sizeof pos);
    /* A copy that has not received the position yet must not start at a
     * later point: the caller waits and seeks again (WH_ERR_NOT_YET). */
    size_t start;
    if ((rc = binlog_gtid_find_start(m->rd, &lp, pos, m->o.binlog_dir, &start, errbuf,
                                     errlen)) != WH_OK ||
        (rc = binlog_gtid_log_has(m->rd, &m->tail, &lp, pos, errbuf, errlen)) != WH_OK)
        return rc;
    char name[WH_POS_LOG_NAME_MAX];
    snprintf(name, sizeof name, "%s", binlog_reader_file(m->rd, start));
    if ((rc = binlog_reader_open(m->rd, name, 0, errbuf, errlen)) != WH_OK)
        return rc;
    m->file_seq = binlog_reader_file_seq(m->rd);
    m->lp.active = true;
    m->lp.found = false;
    m->lp.inclusive = inclusive;
    m->lp.pos = lp;
    m->sought = true;
    wh_debug(WH_AREA_BINLOG, "logical position %s: scanning from %s", pos, name);
    return WH_OK;
}

/* has_pos of the mapper contract: purged (no file to start from), else
 * whether the log holds every GTID of the position. */
static int mysql_has_pos(wh_mapper *base, const wh_pos *wpos, char *errbuf, size_t errlen)
{
    mysql_mapper *m = (mysql_mapper *)base;
    if (!wpos || !wpos->set || !wpos->has_logical)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID,
                         "has_pos needs a position with a logical part (GTIDs)");
    binlog_logical_pos lp;
    int rc = binlog_logical_pos_from(&lp, wpos, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    char pos[WH_POS_LOGICAL_TEXT_MAX];
    wh_pos_format_logical(wpos, pos, sizeof pos);
    size_t start;
    if ((rc = binlog_gtid_find_start(m->rd, &lp, pos, m->o.binlog_dir, &start, errbuf,
                                     errlen)) != WH_OK)
        return rc;
    return binlog_gtid_log_has(m->rd, &m->tail, &lp, pos, errbuf, errlen);
}

/* identify of the mapper contract: the binlog's copy identity, and the
 * server's settings when the mapper has a schema connection. */
static int mysql_identify(wh_mapper *base, char *buf, size_t len, char *errbuf, size_t errlen)
{
    mysql_mapper *m = (mysql_mapper *)base;
    int rc = binlog_copy_id(m->rd, m->o.binlog_dir, buf, len, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    if (!m->srv) {
        wh_info(WH_AREA_BINLOG, "no schema connection (host/socket): the server's settings for "
                "takeover are not checked (docs/MYSQL.md \"Failover\")");
        return WH_OK;
    }
    return binlog_copy_check_settings(m->srv, errbuf, errlen);
}

/* ---- construction ------------------------------------------------------------------------ */

static void mysql_destroy(wh_mapper *base)
{
    mysql_mapper *m = (mysql_mapper *)base;
    if (!m)
        return;
    binlog_reader_free(m->rd);
    binlog_payload_free(m->pl);
    binlog_table_cache_free(m->tc);
    binlog_server_free(m->srv);
    binlog_gtid_tail_free(&m->tail);
    wh_arena_free(&m->arena);
    wh_arena_free(&m->carry[0]);
    wh_arena_free(&m->carry[1]);
    wh_buf_free(&m->jsonbuf);
    free(m->batch);
    free(m->rows_carry);
    if (m->o.password)
        wh_secret_wipe(m->o.password, strlen(m->o.password));
    wh_config_free(mysql_fields, &m->o);
    free(m);
}

/* Reads the options object (NULL: all defaults) into o and checks what the
 * table cannot. On failure o may hold some settings: free it with
 * wh_config_free either way. */
static int mysql_read_opts(const json_t *options, mysql_opts *o, bool *dml_as_ddl,
                           binlog_ssl_mode *ssl_mode, char *errbuf, size_t errlen)
{
    json_t *empty = options ? NULL : json_object();
    int rc = wh_config_apply(options ? options : empty, "mysql mapper options", mysql_fields,
                             o, errbuf, errlen);
    json_decref(empty);
    if (rc != WH_OK)
        return rc;
    if (strcmp(o->statement_dml, "error") == 0)
        *dml_as_ddl = false;
    else if (strcmp(o->statement_dml, "ddl") == 0)
        *dml_as_ddl = true;
    else
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "mysql mapper options: key 'statement_dml': expected \"error\" or "
                         "\"ddl\", got \"%s\"", o->statement_dml);
    if (binlog_ssl_mode_parse(o->ssl_mode, ssl_mode) != WH_OK)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "mysql mapper options: key 'ssl_mode': expected \"disabled\", "
                         "\"preferred\", \"required\", \"verify_ca\" or \"verify_identity\", "
                         "got \"%s\"", o->ssl_mode);
    if (*ssl_mode >= BINLOG_SSL_VERIFY_CA && !o->ssl_ca[0])
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "mysql mapper options: ssl_mode \"%s\" needs ssl_ca (the CA that "
                         "signed the server's certificate)", o->ssl_mode);
    if (!o->ssl_cert[0] != !o->ssl_key[0])
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "mysql mapper options: ssl_cert and ssl_key go together");
    int nsrc = !!o->password[0] + !!o->password_file[0] + !!o->password_env[0];
    if (nsrc > 1)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "mysql mapper options: give at most one of password, password_file "
                         "and password_env");
    return WH_OK;
}

/* The schema connection's password from password_file, password_env or
 * (with a warning) password; *out is NULL when none is set, else malloc'd
 * (the caller wipes and frees it). Reads the file and the environment now,
 * at create time. */
static int mysql_password(const mysql_opts *o, char **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (o->password_file[0])
        return wh_file_read_secret(o->password_file, out, errbuf, errlen);
    if (o->password_env[0]) {
        const char *v = getenv(o->password_env);
        if (!v || !*v)
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                             "mysql mapper options: environment variable %s (password_env) is "
                             "%s", o->password_env, v ? "empty" : "not set");
        if (!(*out = strdup(v)))
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        return WH_OK;
    }
    if (o->password[0]) {
        wh_warn(WH_AREA_BINLOG, "mysql mapper options: the password is inline in the "
                "configuration; use password_file (mode 0600) or password_env instead");
        if (!(*out = strdup(o->password)))
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    }
    return WH_OK;
}

static void secret_free(char *s)
{
    if (s)
        wh_secret_wipe(s, strlen(s));
    free(s);
}

static int mysql_check(const json_t *options, char *errbuf, size_t errlen)
{
    mysql_opts o;
    bool dml_as_ddl;
    binlog_ssl_mode ssl_mode;
    memset(&o, 0, sizeof o);
    /* Opens nothing (mapper.h): password_file and password_env are read by create. */
    int rc = mysql_read_opts(options, &o, &dml_as_ddl, &ssl_mode, errbuf, errlen);
    wh_config_free(mysql_fields, &o);
    return rc;
}

static int mysql_create(const json_t *options, const char *shard, wh_mapper **out,
                        char *errbuf, size_t errlen)
{
    int rc;
    *out = NULL;
    mysql_mapper *m = calloc(1, sizeof *m);
    if (!m)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    m->base.ops = &wh_mapper_mysql;
    m->shard = shard;
    if ((rc = mysql_read_opts(options, &m->o, &m->dml_as_ddl, &m->ssl_mode, errbuf, errlen)) !=
        WH_OK)
        goto err;
    if ((rc = binlog_reader_new(m->o.binlog_dir, m->o.index_file[0] ? m->o.index_file : NULL,
                                (size_t)m->o.read_buffer_kb * 1024, (int)m->o.poll_ms, &m->rd,
                                errbuf, errlen)) != WH_OK)
        goto err;
    binlog_reader_set_mmap(m->rd, m->o.mmap);
    m->pl = binlog_payload_new((size_t)m->o.read_buffer_kb * 1024);
    m->tc = binlog_table_cache_new((size_t)m->o.max_tables);
    if (!m->pl || !m->tc) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        goto err;
    }
    if (m->o.host[0] || m->o.socket[0]) {
        char *password = NULL;
        if ((rc = mysql_password(&m->o, &password, errbuf, errlen)) != WH_OK)
            goto err;
        binlog_server_opts so = {
            .host = m->o.host[0] ? m->o.host : NULL,
            .port = (unsigned)m->o.port,
            .socket = m->o.socket[0] ? m->o.socket : NULL,
            .user = m->o.user,
            .password = password,
            .timeout_s = (unsigned)m->o.connect_timeout,
            .ssl_mode = m->ssl_mode,
            .ssl_ca = m->o.ssl_ca[0] ? m->o.ssl_ca : NULL,
            .ssl_cert = m->o.ssl_cert[0] ? m->o.ssl_cert : NULL,
            .ssl_key = m->o.ssl_key[0] ? m->o.ssl_key : NULL,
        };
        rc = binlog_server_new(&so, &m->srv, errbuf, errlen);
        secret_free(password);
        if (rc != WH_OK)
            goto err;
    }
    if (reserve_batch(m, 1024) != WH_OK) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        goto err;
    }
    *out = &m->base;
    return WH_OK;
err:
    mysql_destroy(&m->base);
    return rc;
}

/* Healthy when the server (if one is configured) answers and replicates
 * within the bound, and the binlog index is still there. */
static int mysql_health(wh_mapper *base, int max_lag_s, char *errbuf, size_t errlen)
{
    mysql_mapper *m = (mysql_mapper *)base;
    if (m->srv)
        return binlog_server_health(m->srv, max_lag_s, errbuf, errlen);
    if (access(m->o.binlog_dir, R_OK | X_OK) != 0)
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "binlog directory %s: %s", m->o.binlog_dir,
                         strerror(errno));
    return WH_OK;
}

/* The binlog files' sizes (the index's files, oldest first; a file that
 * cannot be stat'ed counts 0) and each position's distance to the head and
 * to the start of the oldest file (wh_mapper_ops.log_span). */
static int mysql_log_span(const json_t *options, const wh_pos *const *pos, size_t n,
                          int64_t *behind, int64_t *retained, char *errbuf, size_t errlen)
{
    mysql_opts o;
    bool dml_as_ddl;
    binlog_ssl_mode ssl_mode;
    binlog_reader *rd = NULL;
    int64_t *sizes = NULL;
    memset(&o, 0, sizeof o);
    for (size_t i = 0; i < n; i++)
        behind[i] = retained[i] = -1;
    int rc = mysql_read_opts(options, &o, &dml_as_ddl, &ssl_mode, errbuf, errlen);
    if (rc == WH_OK)
        rc = binlog_reader_new(o.binlog_dir, o.index_file[0] ? o.index_file : NULL, 4096, 0, &rd,
                               errbuf, errlen);
    size_t nf = rd ? binlog_reader_nfiles(rd) : 0;
    if (rc == WH_OK && nf && !(sizes = calloc(nf, sizeof *sizes)))
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    int64_t total = 0;
    for (size_t k = 0; rc == WH_OK && k < nf; k++) {
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", o.binlog_dir, binlog_reader_file(rd, k));
        sizes[k] = stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
        total += sizes[k];
    }
    for (size_t i = 0; rc == WH_OK && i < n; i++) {
        int k = pos[i] && pos[i]->set && pos[i]->has_log_name
                    ? binlog_reader_file_index(rd, pos[i]->log_name) : -1;
        if (k < 0)
            continue;
        int64_t before = 0;
        for (int j = 0; j < k; j++)
            before += sizes[j];
        int64_t at = before + (int64_t)(pos[i]->offset < (uint64_t)sizes[k] ? pos[i]->offset
                                                                            : (uint64_t)sizes[k]);
        retained[i] = at;
        behind[i] = total - at;
    }
    free(sizes);
    binlog_reader_free(rd);
    if (o.password)   /* an inline password: its copy goes like the mapper's */
        wh_secret_wipe(o.password, strlen(o.password));
    wh_config_free(mysql_fields, &o);
    return rc;
}

int binlog_mapper_server(const json_t *options, binlog_server **out, char *errbuf, size_t errlen)
{
    mysql_opts o;
    bool dml_as_ddl;
    binlog_ssl_mode ssl_mode;
    char *password = NULL;
    memset(&o, 0, sizeof o);
    *out = NULL;
    int rc = mysql_read_opts(options, &o, &dml_as_ddl, &ssl_mode, errbuf, errlen);
    if (rc == WH_OK && !o.host[0] && !o.socket[0])
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "mysql mapper options: a bootstrap reads "
                       "the tables from the server: set host or socket");
    if (rc == WH_OK)
        rc = mysql_password(&o, &password, errbuf, errlen);
    if (rc == WH_OK) {
        binlog_server_opts so = {
            .host = o.host[0] ? o.host : NULL,
            .port = (unsigned)o.port,
            .socket = o.socket[0] ? o.socket : NULL,
            .user = o.user,
            .password = password,
            .timeout_s = (unsigned)o.connect_timeout,
            .ssl_mode = ssl_mode,
            .ssl_ca = o.ssl_ca[0] ? o.ssl_ca : NULL,
            .ssl_cert = o.ssl_cert[0] ? o.ssl_cert : NULL,
            .ssl_key = o.ssl_key[0] ? o.ssl_key : NULL,
        };
        rc = binlog_server_new(&so, out, errbuf, errlen);
    }
    secret_free(password);
    wh_config_free(mysql_fields, &o);
    return rc;
}

const wh_mapper_ops wh_mapper_mysql = {
    .name = "mysql",
    .options = mysql_fields,
    .create = mysql_create,
    .check = mysql_check,
    .seek_physical = mysql_seek_physical,
    .seek_logical = mysql_seek_logical,
    .next_batch = mysql_next_batch,
    .health = mysql_health,
    .destroy = mysql_destroy,
    .identify = mysql_identify,
    .has_pos = mysql_has_pos,
    .log_span = mysql_log_span,
};
