/* sub_deliver.c -- libwormhole's callback path: calls the application, counts the failures per
 * update position, and gives up on an update after max_attempts (see sub_int.h).
 *
 * A callback that fails leaves its batch unacknowledged and the connection
 * is dropped, so the publisher delivers the batch again from the
 * acknowledged position, possibly through another connection or another
 * publisher. The count of failed calls therefore lives per shard, keyed by
 * the position of the update it is about (its logical position when it has
 * one, which every replica's publisher gives alike), not per connection.
 * When the count reaches max_attempts the subscriber gives up on that
 * update: it refuses the flow with ERROR WH_ERR_REFUSED (the publisher stops
 * the flow and records it) or dead-letters the update and goes on. Either
 * way the log and on_error say so: a failing callback never loops silently.
 * Everything here runs on the loop thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "subscriber/sub_int.h"
#include "wormhole/json.h"

/* ---- failure records ------------------------------------------------------------------ */

/* Whether the stored position p names the update at v: by the logical
 * position when both have one (the same on every replica), else by the
 * physical one. */
static bool pos_is(const wh_pos *p, const wh_position *v)
{
    if (!p->set || p->index != v->index)
        return false;
    if (p->has_logical && v->logical)
        return strcmp(p->logical, v->logical) == 0;
    if (p->has_log_name != (v->log_name != NULL) || p->offset != v->offset)
        return false;
    return !p->has_log_name || strcmp(p->log_name, v->log_name) == 0;
}

static sub_failing *failing_find(wh_subscriber *s, const char *shard)
{
    for (uint32_t i = 0; i < s->nfailing; i++)
        if (strcmp(s->failing[i].shard, shard) == 0)
            return &s->failing[i];
    return NULL;
}

static void failing_drop(wh_subscriber *s, sub_failing *e)
{
    free(e->shard);
    *e = s->failing[--s->nfailing];
}

/* The record of shard, made (with no attempt yet) when there is none; NULL
 * on out of memory. */
static sub_failing *failing_get(wh_subscriber *s, const char *shard)
{
    sub_failing *e = failing_find(s, shard);
    if (e)
        return e;
    if (s->nfailing == s->capfailing) {
        uint32_t cap = s->capfailing ? s->capfailing * 2 : 4;
        sub_failing *f = realloc(s->failing, cap * sizeof *f);
        if (!f)
            return NULL;
        s->failing = f;
        s->capfailing = cap;
    }
    e = &s->failing[s->nfailing];
    memset(e, 0, sizeof *e);
    if (!(e->shard = strdup(shard)))
        return NULL;
    s->nfailing++;
    return e;
}

/* Whether one of ups[0..n) is the update e is about. */
static bool holds(const sub_failing *e, const wh_update *ups, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        if (pos_is(&e->pos, &ups[k].pos))
            return true;
    return false;
}

/* ---- texts ------------------------------------------------------------------------------ */

/* "mysql-bin.000003:4567/2 (GTID 0-1-42/2)" for messages. */
static void pos_text(const wh_position *p, char *buf, size_t len)
{
    char phys[WH_POS_PHYSICAL_TEXT_MAX], logi[WH_POS_LOGICAL_TEXT_MAX];
    wh_position_physical(p, phys, sizeof phys);
    if (wh_position_logical(p, logi, sizeof logi) > 0)
        snprintf(buf, len, "%s (logical %s)", phys, logi);
    else
        snprintf(buf, len, "%s", phys);
}

/* "-1", "-9 (WH_ERR_AGAIN)", plus ": reason" when the callback gave one.
 * Only WH_ERR_AGAIN is named: applications return other numbers of their own. */
static void rc_text(const wh_subscriber *s, int rc, char *buf, size_t len)
{
    snprintf(buf, len, "%d%s%s%s", rc, rc == WH_ERR_AGAIN ? " (WH_ERR_AGAIN)" : "",
             s->cb_reason[0] ? ": " : "", s->cb_reason);
}

/* ---- the dead-letter file --------------------------------------------------------------- */

int sub_deliver_open(wh_subscriber *s, char *errbuf, size_t errlen)
{
    s->dead_fd = -1;
    if (!s->dead_letter_path)
        return WH_OK;
    s->dead_fd = open(s->dead_letter_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (s->dead_fd < 0)
        return wh_seterr(errbuf, errlen, WH_ERR_IO,
                         "subscriber: dead_letter_path %s: cannot open for appending: %s",
                         s->dead_letter_path, strerror(errno));
    return WH_OK;
}

void sub_deliver_free(wh_subscriber *s)
{
    for (uint32_t i = 0; i < s->nfailing; i++)
        free(s->failing[i].shard);
    free(s->failing);
    s->failing = NULL;
    s->nfailing = s->capfailing = 0;
    if (s->dead_fd >= 0)
        close(s->dead_fd);
    s->dead_fd = -1;
}

/* Appends one JSON line per update of ups[0..n) to the dead-letter file and
 * syncs it: {"app","instance","shard","attempts","error","at_ms","update"}.
 * Returns 0, or an errno value. */
static int dead_letter(wh_subscriber *s, const char *shard, const wh_update *ups, uint32_t n,
                       uint32_t attempts, const char *error)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:I}", "app", s->app, "instance",
                          s->instance, "shard", shard, "attempts", (int)attempts, "error", error,
                          "at_ms", (json_int_t)wh_wall_ms());
    char *head = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    size_t hlen = head ? strlen(head) : 0;
    if (!head || hlen < 2) {
        free(head);
        return ENOMEM;
    }
    head[hlen - 1] = '\0';   /* drop the closing brace: the update follows */
    wh_buf out = WH_BUF_INIT;
    for (uint32_t k = 0; k < n; k++) {
        size_t len;
        char *u = wh_update_json_alloc(&ups[k], &len);
        if (!u) {
            free(head);
            wh_buf_free(&out);
            return ENOMEM;
        }
        wh_buf_append(&out, head, hlen - 1);
        wh_buf_append(&out, ",\"update\":", 10);
        wh_buf_append(&out, u, len);
        wh_buf_append(&out, "}\n", 2);
        free(u);
    }
    free(head);
    if (!wh_buf_ok(&out)) {
        wh_buf_free(&out);
        return ENOMEM;
    }
    int e = 0;
    size_t off = 0;
    while (off < out.len) {
        ssize_t w = write(s->dead_fd, out.data + off, out.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            e = w < 0 ? errno : EIO;
            break;
        }
        off += (size_t)w;
    }
    if (!e && fsync(s->dead_fd) != 0)
        e = errno;
    wh_buf_free(&out);
    return e;
}

/* ---- one call's outcome ----------------------------------------------------------------- */

typedef enum {
    CALL_DONE,      /* processed (or dead-lettered): go on */
    CALL_CLOSE,     /* not processed: the connection closes (why says why) */
} call_outcome;

static void report(wh_subscriber *s, int code, const char *msg, const char *shard,
                   const wh_update *u, uint32_t attempts, int rc)
{
    wh_sub_error e = { code, msg, shard, u, attempts, rc };
    sub_report(s, &e);
}

/* The call on ups[0..n) succeeded: a failure record it answers goes. */
static void call_succeeded(wh_subscriber *s, sub_conn *c, const wh_update *ups, uint32_t n)
{
    sub_failing *e;
    if (s->nfailing == 0 || !(e = failing_find(s, c->shard)) || !holds(e, ups, n))
        return;
    char where[WH_POS_PHYSICAL_TEXT_MAX + WH_POS_LOGICAL_TEXT_MAX + 16];
    wh_position v;
    pos_text(wh_pos_to_view(&e->pos, &v), where, sizeof where);
    wh_info(WH_AREA_SUBSCRIBER, "shard %s: the update at %s went through after %u failed "
            "attempt%s", c->shard, where, e->attempts, e->attempts == 1 ? "" : "s");
    failing_drop(s, e);
}

/* The call on ups[0..n) returned rc != 0. */
static call_outcome call_failed(wh_subscriber *s, sub_conn *c, const wh_update *ups, uint32_t n,
                                int rc, bool *refused, char *why, size_t whylen)
{
    char rcs[700], where[2 * (WH_POS_PHYSICAL_TEXT_MAX + WH_POS_LOGICAL_TEXT_MAX) + 64];
    rc_text(s, rc, rcs, sizeof rcs);
    if (rc == WH_ERR_AGAIN || atomic_load(&s->stop)) {
        snprintf(why, whylen, "the application's callback returned %s%s; the batch will be "
                 "delivered again", rcs, rc == WH_ERR_AGAIN ? " (not counted as an attempt)" : "");
        return CALL_CLOSE;
    }
    s->stats.failed_calls++;
    sub_failing *e = failing_find(s, c->shard);
    if (e && holds(e, ups, n)) {
        e->attempts++;
    } else if ((e = failing_get(s, c->shard))) {
        /* A new update fails: the count starts over with it (a batch by its first update). */
        e->attempts = 1;
        if (!wh_pos_from_view(&e->pos, &ups[0].pos))
            wh_warn(WH_AREA_SUBSCRIBER, "shard %s: the position of a failing update cannot be "
                    "kept; its attempts are not counted", c->shard);
    }
    uint32_t attempts = e ? e->attempts : 1;
    pos_text(&ups[0].pos, where, sizeof where);
    if (n > 1) {
        /* A batch: say where it ends too. */
        char last[WH_POS_PHYSICAL_TEXT_MAX + WH_POS_LOGICAL_TEXT_MAX + 16];
        pos_text(&ups[n - 1].pos, last, sizeof last);
        size_t wl = strlen(where);
        snprintf(where + wl, sizeof where - wl, " (%u updates, to %s)", n, last);
    }
    if (!e || !e->pos.set || attempts < s->max_attempts) {
        snprintf(why, whylen, "the application's callback returned %s on the %s at %s (attempt "
                 "%u of %u); the batch will be delivered again", rcs,
                 n > 1 ? "batch starting" : "update", where, attempts, s->max_attempts);
        return CALL_CLOSE;
    }

    /* Give up on it. */
    char msg[16384];
    const wh_update *u = &ups[0];
    snprintf(msg, sizeof msg, "app %s, shard %s: the callback failed %u times on the %s at %s "
             "(%s%s%s%s%s): it returned %s", s->app, c->shard, attempts,
             n > 1 ? "batch starting with the update" : "update", where,
             wh_op_name(u->op), u->table ? " " : "", u->db ? u->db : "", u->db && u->table ? "." : "",
             u->table ? u->table : "", rcs);
    s->stats.given_up++;
    failing_drop(s, e);   /* a later delivery of it gets max_attempts again */
    if (s->give_up == WH_SUB_GIVE_UP_DEAD_LETTER) {
        int err = dead_letter(s, c->shard, ups, n, attempts, rcs);
        if (!err) {
            s->stats.dead_lettered += n;
            size_t len = strlen(msg);
            snprintf(msg + len, sizeof msg - len, "; %u update%s written to the dead-letter "
                     "file %s and acknowledged", n, n == 1 ? "" : "s", s->dead_letter_path);
            wh_warn(WH_AREA_SUBSCRIBER, "%s", msg);
            report(s, WH_OK, msg, c->shard, u, attempts, rc);
            return CALL_DONE;
        }
        size_t len = strlen(msg);
        snprintf(msg + len, sizeof msg - len, "; writing the dead-letter file %s failed (%s), "
                 "so", s->dead_letter_path, strerror(err));
    }
    size_t len = strlen(msg);
    snprintf(msg + len, sizeof msg - len, "; refusing the flow (max_attempts %u)",
             s->max_attempts);
    wh_error(WH_AREA_SUBSCRIBER, "%s", msg);
    report(s, WH_ERR_REFUSED, msg, c->shard, u, attempts, rc);
    wire_put_error(&c->out.buf, WH_ERR_REFUSED, msg);
    sub_conn_flush(s, c);
    *refused = true;
    snprintf(why, whylen, "%s", msg);
    return CALL_CLOSE;
}

/* ---- a batch ---------------------------------------------------------------------------- */

const char *sub_deliver(wh_subscriber *s, sub_conn *c, const wh_update *ups, uint32_t count,
                        bool *refused, char *why, size_t whylen)
{
    *refused = false;
    if (count == 0)
        return NULL;
    wh_sub_delivery d = { c->shard, c->flow, c->seq };
    uint64_t first = c->seq - count + 1;
    if (s->on_batch) {
        s->in_callback = true;
        s->cb_reason[0] = '\0';
        int rc = s->on_batch(s->opaque, ups, count, &d);
        s->in_callback = false;
        if (rc == 0) {
            call_succeeded(s, c, ups, count);
            return NULL;
        }
        return call_failed(s, c, ups, count, rc, refused, why, whylen) == CALL_DONE ? NULL : why;
    }
    for (uint32_t i = 0; i < count; i++) {
        d.seq = first + i;
        s->in_callback = true;
        s->cb_reason[0] = '\0';
        int rc = s->on_update(s->opaque, &ups[i], &d);
        s->in_callback = false;
        if (rc == 0) {
            call_succeeded(s, c, &ups[i], 1);
            continue;
        }
        if (call_failed(s, c, &ups[i], 1, rc, refused, why, whylen) == CALL_CLOSE)
            return why;
    }
    return NULL;
}
