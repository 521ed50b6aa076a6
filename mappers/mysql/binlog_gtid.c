/* binlog_gtid.c -- GTID events, per-file GTID state and the GTIDs of logical positions
 * (see binlog_gtid.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/endian.h"
#include "core/errbuf.h"
#include "core/intfmt.h"
#include "mappers/mysql/binlog_gtid.h"

static const char hexd[] = "0123456789abcdef";

static void format_uuid(const uint8_t u[16], char out[37])
{
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hexd[u[i] >> 4];
        *p++ = hexd[u[i] & 15];
    }
    *p = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses 32 hex digits with optional dashes at the usual places. */
static bool parse_uuid(const char *s, size_t n, uint8_t u[16])
{
    size_t k = 0;
    int half = -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-') {
            if (half >= 0)
                return false;
            continue;
        }
        int v = hexval(s[i]);
        if (v < 0 || k >= 16)
            return false;
        if (half < 0) {
            half = v;
        } else {
            u[k++] = (uint8_t)(half << 4 | v);
            half = -1;
        }
    }
    return k == 16 && half < 0;
}

size_t binlog_gtid_format(const binlog_gtid *g, char *buf, size_t buflen)
{
    /* Called once per transaction: no printf. */
    char tmp[BINLOG_GTID_TEXT_MAX], *p = tmp;
    if (g->mysql) {
        format_uuid(g->uuid, tmp);
        p = tmp + 36;
        *p++ = ':';
        p = wh_fmt_u64(p, g->seq);
    } else {
        p = wh_fmt_u64(p, g->domain);
        *p++ = '-';
        p = wh_fmt_u64(p, g->server_id);
        *p++ = '-';
        p = wh_fmt_u64(p, g->seq);
    }
    size_t n = (size_t)(p - tmp);
    if (buflen == 0)
        return 0;
    if (n >= buflen)
        n = buflen - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return n;
}

/* Parses decimal digits s[0..n) into *v (no sign, no overflow). */
static bool parse_u64(const char *s, size_t n, uint64_t *v)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *v = x;
    return true;
}

int binlog_gtid_parse(const char *s, size_t n, binlog_gtid *g)
{
    memset(g, 0, sizeof *g);
    const char *colon = memchr(s, ':', n);
    if (colon) {
        g->mysql = true;
        if (!parse_uuid(s, (size_t)(colon - s), g->uuid) ||
            !parse_u64(colon + 1, n - (size_t)(colon - s) - 1, &g->seq) || g->seq == 0)
            return WH_ERR_PARSE;
        return WH_OK;
    }
    const char *d1 = memchr(s, '-', n);
    if (!d1)
        return WH_ERR_PARSE;
    const char *d2 = memchr(d1 + 1, '-', n - (size_t)(d1 + 1 - s));
    if (!d2)
        return WH_ERR_PARSE;
    uint64_t dom, srv;
    if (!parse_u64(s, (size_t)(d1 - s), &dom) || dom > UINT32_MAX ||
        !parse_u64(d1 + 1, (size_t)(d2 - d1 - 1), &srv) || srv > UINT32_MAX ||
        !parse_u64(d2 + 1, n - (size_t)(d2 + 1 - s), &g->seq))
        return WH_ERR_PARSE;
    g->domain = (uint32_t)dom;
    g->server_id = (uint32_t)srv;
    return WH_OK;
}

bool binlog_gtid_same_stream(const binlog_gtid *a, const binlog_gtid *b)
{
    if (a->mysql != b->mysql)
        return false;
    return a->mysql ? memcmp(a->uuid, b->uuid, 16) == 0 : a->domain == b->domain;
}

bool binlog_gtid_equal(const binlog_gtid *a, const binlog_gtid *b)
{
    return binlog_gtid_same_stream(a, b) && a->seq == b->seq;
}

/* ---- events ------------------------------------------------------------- */

int binlog_maria_gtid_parse(const binlog_event *ev, binlog_gtid *g, uint8_t *flags,
                            char *errbuf, size_t errlen)
{
    /* seq_no(8) domain_id(4) flags2(1) ... */
    if (ev->body_len < 13)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "MariaDB GTID event body of %zu bytes is shorter than 13",
                         ev->body_len);
    memset(g, 0, sizeof *g);
    g->seq = wh_le64(ev->body);
    g->domain = wh_le32(ev->body + 8);
    g->server_id = ev->server_id;
    *flags = ev->body[12];
    return WH_OK;
}

int binlog_mysql_gtid_parse(const binlog_event *ev, binlog_gtid *g, bool *anonymous,
                            char *errbuf, size_t errlen)
{
    /* flags(1) sid(16) gno(8) [logical clock, timestamps, length ...] */
    if (ev->body_len < 25)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "%s event body of %zu bytes is shorter than 25",
                         binlog_event_type_name(ev->type), ev->body_len);
    memset(g, 0, sizeof *g);
    g->mysql = true;
    memcpy(g->uuid, ev->body + 1, 16);
    g->seq = wh_le64(ev->body + 17);
    static const uint8_t zero[16];
    *anonymous = ev->type == BE_ANONYMOUS_GTID || memcmp(g->uuid, zero, 16) == 0;
    if (!*anonymous && (g->seq == 0 || g->seq > INT64_MAX))
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "GTID event carries the invalid transaction number %" PRIu64, g->seq);
    return WH_OK;
}

/* ---- state -------------------------------------------------------------- */

void binlog_gtid_state_free(binlog_gtid_state *s)
{
    if (!s)
        return;
    free(s->list);
    for (uint32_t i = 0; i < s->n_sets; i++)
        free(s->sets[i].ranges);
    free(s->sets);
    memset(s, 0, sizeof *s);
}

int binlog_gtid_list_parse(const binlog_event *ev, binlog_gtid_state *s,
                           char *errbuf, size_t errlen)
{
    binlog_gtid_state_free(s);
    if (ev->body_len < 4)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "Gtid_list event body of %zu bytes is shorter than 4", ev->body_len);
    uint32_t count = wh_le32(ev->body) & 0x0fffffff;   /* high 4 bits are flags */
    if ((uint64_t)count * 16 > ev->body_len - 4)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "Gtid_list event lists %u GTIDs but has room for only %zu",
                         count, (ev->body_len - 4) / 16);
    s->mysql = false;
    if (count) {
        s->list = calloc(count, sizeof *s->list);
        if (!s->list)
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a Gtid_list");
    }
    const uint8_t *p = ev->body + 4;
    for (uint32_t i = 0; i < count; i++, p += 16) {
        s->list[i].domain = wh_le32(p);
        s->list[i].server_id = wh_le32(p + 4);
        s->list[i].seq = wh_le64(p + 8);
    }
    s->n_list = count;
    return WH_OK;
}

int binlog_previous_gtids_parse(const binlog_event *ev, binlog_gtid_state *s,
                                char *errbuf, size_t errlen)
{
    binlog_gtid_state_free(s);
    s->mysql = true;
    const uint8_t *p = ev->body, *end = ev->body + ev->body_len;
    if (end - p < 8)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "Previous_gtids event body of %zu bytes is shorter than 8",
                         ev->body_len);
    uint64_t n_sids = wh_le64(p);
    p += 8;
    if (n_sids >> 56)
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                         "Previous_gtids event uses the tagged GTID format (MySQL 8.3+), "
                         "which is not supported");
    if (n_sids > (uint64_t)(end - p) / 24)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "Previous_gtids event lists %" PRIu64 " uuids but has room for %zu",
                         n_sids, (size_t)(end - p) / 24);
    if (n_sids) {
        s->sets = calloc(n_sids, sizeof *s->sets);
        if (!s->sets)
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a GTID set");
    }
    for (uint64_t i = 0; i < n_sids; i++) {
        if (end - p < 24)
            goto short_event;
        binlog_uuid_set *u = &s->sets[i];
        memcpy(u->uuid, p, 16);
        uint64_t nr = wh_le64(p + 16);
        p += 24;
        s->n_sets = (uint32_t)i + 1;
        if (nr > (uint64_t)(end - p) / 16)
            goto short_event;
        if (nr) {
            u->ranges = calloc(nr, sizeof *u->ranges);
            if (!u->ranges)
                return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a GTID set");
        }
        for (uint64_t k = 0; k < nr; k++, p += 16) {
            u->ranges[k].start = wh_le64(p);
            u->ranges[k].end = wh_le64(p + 8);
            if (u->ranges[k].start >= u->ranges[k].end || u->ranges[k].start == 0)
                return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                                 "Previous_gtids event has the empty or invalid interval "
                                 "%" PRIu64 "-%" PRIu64, u->ranges[k].start,
                                 u->ranges[k].end);
        }
        u->n_ranges = (uint32_t)nr;
    }
    if (p != end)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "Previous_gtids event has %zu unexpected bytes after its GTID set",
                         (size_t)(end - p));
    return WH_OK;
short_event:
    return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                     "Previous_gtids event ends inside its GTID set");
}

bool binlog_gtid_state_contains(const binlog_gtid_state *s, const binlog_gtid *g)
{
    if (g->mysql != s->mysql)
        return false;
    if (!s->mysql) {
        for (uint32_t i = 0; i < s->n_list; i++)
            if (s->list[i].domain == g->domain && s->list[i].seq >= g->seq)
                return true;
        return false;
    }
    for (uint32_t i = 0; i < s->n_sets; i++) {
        const binlog_uuid_set *u = &s->sets[i];
        if (memcmp(u->uuid, g->uuid, 16) != 0)
            continue;
        for (uint32_t k = 0; k < u->n_ranges; k++)
            if (g->seq >= u->ranges[k].start && g->seq < u->ranges[k].end)
                return true;
    }
    return false;
}

bool binlog_gtid_state_has_after(const binlog_gtid_state *s, const binlog_gtid *g)
{
    if (g->mysql != s->mysql)
        return false;
    if (!s->mysql) {
        for (uint32_t i = 0; i < s->n_list; i++)
            if (s->list[i].domain == g->domain && s->list[i].seq > g->seq)
                return true;
        return false;
    }
    for (uint32_t i = 0; i < s->n_sets; i++) {
        const binlog_uuid_set *u = &s->sets[i];
        if (memcmp(u->uuid, g->uuid, 16) != 0)
            continue;
        for (uint32_t k = 0; k < u->n_ranges; k++)
            if (u->ranges[k].end - 1 > g->seq)
                return true;
    }
    return false;
}

void binlog_gtid_state_format(const binlog_gtid_state *s, char *buf, size_t buflen)
{
    size_t len = 0;
    if (buflen == 0)
        return;
    buf[0] = '\0';
#define APPEND(...)                                                                  \
    do {                                                                             \
        if (len < buflen) {                                                          \
            int w_ = snprintf(buf + len, buflen - len, __VA_ARGS__);                \
            if (w_ > 0)                                                              \
                len += (size_t)w_;                                                   \
        }                                                                            \
    } while (0)
    if (!s->mysql) {
        for (uint32_t i = 0; i < s->n_list; i++)
            APPEND("%s%" PRIu32 "-%" PRIu32 "-%" PRIu64, i ? "," : "", s->list[i].domain,
                   s->list[i].server_id, s->list[i].seq);
    } else {
        for (uint32_t i = 0; i < s->n_sets; i++) {
            char u[37];
            format_uuid(s->sets[i].uuid, u);
            APPEND("%s%s", i ? "," : "", u);
            for (uint32_t k = 0; k < s->sets[i].n_ranges; k++) {
                const binlog_gno_range *r = &s->sets[i].ranges[k];
                if (r->end - r->start == 1)
                    APPEND(":%" PRIu64, r->start);
                else
                    APPEND(":%" PRIu64 "-%" PRIu64, r->start, r->end - 1);
            }
        }
    }
#undef APPEND
    if (len >= buflen)
        buf[buflen - 1] = '\0';
}

/* ---- positions ------------------------------------------------------------ */

int binlog_logical_pos_from(binlog_logical_pos *out, const wh_pos *pos, char *errbuf,
                            size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!pos || !pos->set || !pos->has_logical)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID,
                         "a logical binlog position needs a GTID, and this position has none");
    const char *text = pos->logical, *p = text, *end = text + strlen(text);
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        while (p < e && *p == ' ')
            p++;
        if (out->n >= BINLOG_POS_MAX_GTIDS)
            return wh_seterr(errbuf, errlen, WH_ERR_LIMIT,
                             "logical position GTIDs '%s': more than %d GTIDs (at most one per "
                             "MariaDB domain)", text, BINLOG_POS_MAX_GTIDS);
        if (binlog_gtid_parse(p, (size_t)(e - p), &out->gtids[out->n]) != WH_OK)
            return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                             "logical position GTIDs '%s': '%.*s' at offset %zu is not a GTID "
                             "(expected domain-server-seq such as 0-1-42, or uuid:gno such as "
                             "3e11fa47-71ca-11e1-9e33-c80aa9429562:23; several MariaDB GTIDs "
                             "are comma-separated, one per domain)", text, (int)(e - p), p,
                             (size_t)(p - text));
        for (uint32_t i = 0; i < out->n; i++)
            if (binlog_gtid_same_stream(&out->gtids[i], &out->gtids[out->n]))
                return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                                 "logical position GTIDs '%s': two GTIDs of the same %s", text,
                                 out->gtids[i].mysql ? "uuid" : "domain");
        out->n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    out->index = pos->index;
    return WH_OK;
}

bool binlog_logical_pos_covers(const binlog_logical_pos *lp, const binlog_gtid *g)
{
    for (uint32_t i = 0; i < lp->n; i++)
        if (binlog_gtid_same_stream(&lp->gtids[i], g))
            return g->seq <= lp->gtids[i].seq;
    return false;
}

/* ---- the GTID state of a point in the log ---------------------------------- */

/* Stream order: MariaDB by domain, MySQL by uuid bytes. */
static int stream_cmp(const binlog_gtid *a, const binlog_gtid *b)
{
    if (a->mysql != b->mysql)
        return a->mysql ? 1 : -1;
    if (a->mysql)
        return memcmp(a->uuid, b->uuid, 16);
    return a->domain < b->domain ? -1 : a->domain > b->domain;
}

/* Where g's stream is in r (*found), or where it would be inserted. */
static uint32_t run_find(const binlog_gtid_run *r, const binlog_gtid *g, bool *found)
{
    uint32_t lo = 0, hi = r->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = stream_cmp(&r->g[mid], g);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Puts g in r: replaces its stream's entry (keep_max: only by a larger seq)
 * or inserts it. False when a new stream finds r full. */
static void run_set(binlog_gtid_run *r, uint32_t at, const binlog_gtid *g)
{
    r->g[at] = *g;
    r->len[at] = (uint8_t)binlog_gtid_format(g, r->text[at], sizeof r->text[at]);
}

static bool run_put(binlog_gtid_run *r, const binlog_gtid *g, bool keep_max)
{
    bool found;
    uint32_t at = run_find(r, g, &found);
    if (found) {
        if (!keep_max || g->seq > r->g[at].seq)
            run_set(r, at, g);
        return true;
    }
    if (r->n >= BINLOG_POS_MAX_GTIDS)
        return false;
    uint32_t k = r->n - at;
    memmove(&r->g[at + 1], &r->g[at], k * sizeof r->g[0]);
    memmove(&r->text[at + 1], &r->text[at], k * sizeof r->text[0]);
    memmove(&r->len[at + 1], &r->len[at], k * sizeof r->len[0]);
    run_set(r, at, g);
    r->n++;
    return true;
}

int binlog_gtid_run_from_head(binlog_gtid_run *r, const binlog_gtid_state *s,
                              const char *file, char *errbuf, size_t errlen)
{
    r->n = 0;
    bool ok = true;
    if (!s->mysql) {
        for (uint32_t i = 0; ok && i < s->n_list; i++)
            ok = run_put(r, &s->list[i], true);
    } else {
        for (uint32_t i = 0; ok && i < s->n_sets; i++) {
            const binlog_uuid_set *u = &s->sets[i];
            if (u->n_ranges == 0)
                continue;
            binlog_gtid g = { .mysql = true };
            memcpy(g.uuid, u->uuid, 16);
            for (uint32_t k = 0; k < u->n_ranges; k++)
                if (u->ranges[k].end - 1 > g.seq)
                    g.seq = u->ranges[k].end - 1;
            ok = run_put(r, &g, true);
        }
    }
    if (ok)
        return WH_OK;
    r->n = 0;
    return wh_seterr(errbuf, errlen, WH_ERR_LIMIT,
                     "%s: the GTID state at the head of the file lists more than %d %s; a "
                     "position holds at most %d (docs/FAILOVER.md \"Positions across copies\")",
                     file, BINLOG_POS_MAX_GTIDS,
                     s->mysql ? "source uuids" : "replication domains", BINLOG_POS_MAX_GTIDS);
}

int binlog_gtid_run_add(binlog_gtid_run *r, const binlog_gtid *g, const char *at,
                        char *errbuf, size_t errlen)
{
    if (run_put(r, g, false))
        return WH_OK;
    char t[BINLOG_GTID_TEXT_MAX];
    binlog_gtid_format(g, t, sizeof t);
    return wh_seterr(errbuf, errlen, WH_ERR_LIMIT,
                     "%s: GTID %s opens a %s beyond the %d a position can hold (docs/"
                     "FAILOVER.md \"Positions across copies\")", at, t,
                     g->mysql ? "source uuid" : "replication domain", BINLOG_POS_MAX_GTIDS);
}

size_t binlog_gtid_run_format(const binlog_gtid_run *r, const binlog_gtid *own, char *buf,
                              size_t buflen)
{
    if (buflen == 0)
        return 0;
    size_t n = binlog_gtid_format(own, buf, buflen);
    for (uint32_t i = 0; i < r->n; i++) {
        if (binlog_gtid_same_stream(&r->g[i], own))
            continue;
        if (n + 1 + r->len[i] >= buflen)
            break;   /* cannot happen with the documented size */
        buf[n++] = ',';
        memcpy(buf + n, r->text[i], r->len[i]);
        n += r->len[i];
    }
    buf[n] = '\0';
    return n;
}
