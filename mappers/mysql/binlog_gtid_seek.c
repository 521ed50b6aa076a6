/* binlog_gtid_seek.c -- a logical position in this copy's binlog: where to start scanning, and whether it is there yet (see binlog_gtid_seek.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "core/log.h"
#include "mappers/mysql/binlog_gtid_seek.h"

void binlog_gtid_tail_free(binlog_gtid_tail *t)
{
    if (!t)
        return;
    binlog_gtid_state_free(&t->head);
    memset(t, 0, sizeof *t);
}

/* Reads the head state of file name into st (replacing it; empty when the
 * file has none). WH_ERR_AGAIN when the file's head is not written yet. */
static int head_state(binlog_reader *rd, const char *name, bool mysql, binlog_gtid_state *st,
                      bool *has, char *errbuf, size_t errlen)
{
    binlog_fde fde;
    uint8_t type, *body;
    size_t len;
    int rc = binlog_reader_head_gtids(rd, name, &fde, &type, &body, &len, errbuf, errlen);
    binlog_gtid_state_free(st);
    memset(st, 0, sizeof *st);
    st->mysql = mysql;
    *has = body != NULL;
    if (rc != WH_OK || !body)
        return rc;
    binlog_event ev = { .type = type, .body = body, .body_len = len };
    rc = type == BE_GTID_LIST ? binlog_gtid_list_parse(&ev, st, errbuf, errlen)
                              : binlog_previous_gtids_parse(&ev, st, errbuf, errlen);
    free(body);
    if (rc != WH_OK)
        return wh_preferr(errbuf, errlen, rc, "%s", name);
    if (st->mysql != mysql)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID,
                         "a %s GTID position cannot be used with binlog %s, written by %s",
                         mysql ? "MySQL" : "MariaDB", name, fde.server_version);
    return WH_OK;
}

/* ---- has the log received it? ------------------------------------------------------------- */

/* The walk's callback: keeps the newest GTID of each stream. */
static int tail_event(void *ctx, const binlog_event *ev, const binlog_fde *fde)
{
    binlog_gtid_tail *t = ctx;
    bool gtid_event = ev->type == BE_MARIA_GTID || ev->type == BE_GTID;
    if (!fde)
        return gtid_event ? BINLOG_WALK_BODY : BINLOG_WALK_SKIP;
    binlog_gtid g;
    char err[256];
    bool anonymous = false;
    uint8_t flags;
    int rc = ev->type == BE_MARIA_GTID
                 ? binlog_maria_gtid_parse(ev, &g, &flags, err, sizeof err)
                 : binlog_mysql_gtid_parse(ev, &g, &anonymous, err, sizeof err);
    if (rc != WH_OK || anonymous)
        return WH_OK;   /* the reader reports a bad event where it reads it */
    for (uint32_t i = 0; i < t->nlast; i++)
        if (binlog_gtid_same_stream(&t->last[i], &g)) {
            if (g.seq > t->last[i].seq)
                t->last[i] = g;
            return WH_OK;
        }
    if (t->nlast < BINLOG_POS_MAX_GTIDS)
        t->last[t->nlast++] = g;
    return WH_OK;
}

/* Whether the walked newest file (head state and GTIDs since) holds g. */
static bool tail_holds(const binlog_gtid_tail *t, const binlog_gtid *g)
{
    if (binlog_gtid_state_contains(&t->head, g))
        return true;
    for (uint32_t i = 0; i < t->nlast; i++)
        if (binlog_gtid_same_stream(&t->last[i], g))
            return t->last[i].seq >= g->seq;
    return false;
}

/* The newest GTID the log has of g's stream, as text ("none" without one). */
static void tail_newest(const binlog_gtid_tail *t, const binlog_gtid *g, char *buf, size_t len)
{
    for (uint32_t i = 0; i < t->nlast; i++)
        if (binlog_gtid_same_stream(&t->last[i], g)) {
            binlog_gtid_format(&t->last[i], buf, len);
            return;
        }
    snprintf(buf, len, "none after the head of %s", t->file);
}

int binlog_gtid_log_has(binlog_reader *rd, binlog_gtid_tail *t, const binlog_logical_pos *lp,
                        const char *pos_text, char *errbuf, size_t errlen)
{
    int rc = binlog_reader_refresh_index(rd, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    size_t n = binlog_reader_nfiles(rd);
    if (n == 0)
        return wh_seterr(errbuf, errlen, WH_ERR_NOT_YET,
                         "logical position %s is not in this copy's binlog yet: the binlog "
                         "index lists no file", pos_text);
    bool mysql = lp->gtids[0].mysql;
    /* The newest file with its head written: a file just created has
     * none yet, and then its predecessor is finished. */
    for (size_t i = n; i-- > 0;) {
        const char *name = binlog_reader_file(rd, i);
        if (strcmp(name, t->file) == 0)
            break;   /* still the file walked before */
        binlog_gtid_state st = { 0 };
        bool has;
        rc = head_state(rd, name, mysql, &st, &has, errbuf, errlen);
        if ((rc == WH_ERR_AGAIN || (rc == WH_OK && !has)) && i > 0 && i == n - 1) {
            binlog_gtid_state_free(&st);
            continue;
        }
        if (rc != WH_OK) {
            binlog_gtid_state_free(&st);
            if (rc != WH_ERR_AGAIN)
                return rc;
            return wh_seterr(errbuf, errlen, WH_ERR_NOT_YET,
                             "logical position %s is not in this copy's binlog yet: its only "
                             "file %s is still being created", pos_text, name);
        }
        binlog_gtid_tail_free(t);
        snprintf(t->file, sizeof t->file, "%s", name);
        t->head = st;
        t->off = 0;
        break;
    }
    if (!t->file[0])
        return wh_seterr(errbuf, errlen, WH_ERR_NOT_YET,
                         "logical position %s is not in this copy's binlog yet: no binlog file "
                         "is written yet", pos_text);
    uint64_t end = t->off;
    rc = binlog_reader_walk(rd, t->file, t->off, tail_event, t, &end, errbuf, errlen);
    if (rc == WH_ERR_AGAIN)
        rc = WH_OK;   /* its head is still being written: nothing in it yet */
    if (rc != WH_OK)
        return rc;
    t->off = end;
    for (uint32_t i = 0; i < lp->n; i++) {
        if (tail_holds(t, &lp->gtids[i]))
            continue;
        char want[BINLOG_GTID_TEXT_MAX], have[300];
        binlog_gtid_format(&lp->gtids[i], want, sizeof want);
        tail_newest(t, &lp->gtids[i], have, sizeof have);
        return wh_seterr(errbuf, errlen, WH_ERR_NOT_YET,
                         "logical position %s is not in this copy's binlog yet: GTID %s has not "
                         "arrived (the newest of its %s in %s is %s)", pos_text, want,
                         mysql ? "uuid" : "domain", t->file, have);
    }
    return WH_OK;
}

/* ---- where to start ------------------------------------------------------------------------ */

/* Whether a file whose head state is s can hold the start of the stream the
 * logical position asks for. */
static bool start_ok(const binlog_gtid_state *s, const binlog_logical_pos *lp)
{
    if (binlog_gtid_state_contains(s, &lp->gtids[0]))
        return false;
    for (uint32_t i = 1; i < lp->n; i++)
        if (binlog_gtid_state_has_after(s, &lp->gtids[i]))
            return false;
    return true;
}

int binlog_gtid_find_start(binlog_reader *rd, const binlog_logical_pos *lp,
                           const char *pos_text, const char *dir, size_t *start,
                           char *errbuf, size_t errlen)
{
    int rc = binlog_reader_refresh_index(rd, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    size_t n = binlog_reader_nfiles(rd);
    if (n == 0)
        return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND,
                         "the binlog index of %s lists no files", dir);
    /* Newest file first: the last file whose head state does not yet hold
     * the position's transactions is where to start scanning. */
    binlog_gtid_state st = { 0 };
    char oldest_state[512] = "";
    for (size_t i = n; i-- > 0;) {
        bool has;
        rc = head_state(rd, binlog_reader_file(rd, i), lp->gtids[0].mysql, &st, &has, errbuf,
                        errlen);
        if (rc == WH_ERR_AGAIN)
            continue;   /* a file still being created: nothing in it yet */
        if (rc != WH_OK)
            break;
        if (!has && i == n - 1 && n > 1)
            continue;   /* the newest file may not have its head written yet */
        if (start_ok(&st, lp)) {
            *start = i;
            binlog_gtid_state_free(&st);
            return WH_OK;
        }
        if (i == 0)
            binlog_gtid_state_format(&st, oldest_state, sizeof oldest_state);
    }
    binlog_gtid_state_free(&st);
    if (rc != WH_OK && rc != WH_ERR_AGAIN)
        return rc;
    return wh_seterr(errbuf, errlen, WH_ERR_PURGED,
                     "logical position %s has been purged: the oldest binlog %s already "
                     "starts after GTID state %s", pos_text, binlog_reader_file(rd, 0),
                     oldest_state[0] ? oldest_state : "(unknown)");
}

/* ---- the GTID state at an offset ------------------------------------------------------------ */

typedef struct run_walk {
    binlog_gtid_run *run;
    const char *file;
    uint64_t off;        /* where the event the walk is at starts */
    uint64_t stop;
    int rc;
    char *errbuf;
    size_t errlen;
} run_walk;

static int run_event(void *ctx, const binlog_event *ev, const binlog_fde *fde)
{
    run_walk *w = ctx;
    if (!fde) {
        if (w->off >= w->stop)
            return BINLOG_WALK_STOP;
        w->off += ev->length;
        return ev->type == BE_MARIA_GTID || ev->type == BE_GTID ? BINLOG_WALK_BODY
                                                                 : BINLOG_WALK_SKIP;
    }
    binlog_gtid g;
    char err[256], at[WH_POS_LOG_NAME_MAX + 32];
    bool anonymous = false;
    uint8_t flags;
    int rc = ev->type == BE_MARIA_GTID
                 ? binlog_maria_gtid_parse(ev, &g, &flags, err, sizeof err)
                 : binlog_mysql_gtid_parse(ev, &g, &anonymous, err, sizeof err);
    if (rc != WH_OK || anonymous)
        return WH_OK;   /* the reader reports a bad event where it reads it */
    snprintf(at, sizeof at, "%s:%" PRIu64, w->file, w->off - ev->length);
    return binlog_gtid_run_add(w->run, &g, at, w->errbuf, w->errlen);
}

int binlog_gtid_run_at(binlog_reader *rd, const char *file, uint64_t off,
                       binlog_gtid_run *run, char *errbuf, size_t errlen)
{
    binlog_gtid_state st = { 0 };
    binlog_fde fde;
    uint8_t type, *body = NULL;
    size_t len;
    run->n = 0;
    int rc = binlog_reader_head_gtids(rd, file, &fde, &type, &body, &len, errbuf, errlen);
    if (rc == WH_OK && body) {
        binlog_event ev = { .type = type, .body = body, .body_len = len };
        rc = type == BE_GTID_LIST ? binlog_gtid_list_parse(&ev, &st, errbuf, errlen)
                                  : binlog_previous_gtids_parse(&ev, &st, errbuf, errlen);
        if (rc == WH_OK)
            rc = binlog_gtid_run_from_head(run, &st, file, errbuf, errlen);
        else
            rc = wh_preferr(errbuf, errlen, rc, "%s", file);
    }
    free(body);
    binlog_gtid_state_free(&st);
    if (rc != WH_OK)
        return rc;
    run_walk w = { run, file, BINLOG_MAGIC_LEN, off, WH_OK, errbuf, errlen };
    uint64_t end;
    return binlog_reader_walk(rd, file, BINLOG_MAGIC_LEN, run_event, &w, &end, errbuf, errlen);
}
