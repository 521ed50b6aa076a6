/* sub_applied.c -- an app's applied position per shard and the comparison that drops redeliveries (wormhole/applied.h).
 *
 * The text forms parsed here (physical "FILE:OFFSET/INDEX" / "SEQ/INDEX",
 * logical "GTID/INDEX") are those of docs/UPDATES.md. When the public
 * owning position type (wh_pos, core/position.c) lands, pos_parse_physical
 * and gtid_parse below are the two places to switch to its parsers; the
 * comparison rules stay here. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/errbuf.h"
#include "wormhole/applied.h"

#define APPLIED_NAME_MAX 512     /* longest log file name accepted */
#define APPLIED_SRC_MAX  72      /* MySQL source: uuid (36) [":" tag (32)] */

/* The kind of a logical id; two positions compare logically only within one kind. */
typedef enum lkind {
    LK_NONE = 0,
    LK_MARIADB,      /* domain-server-seq */
    LK_MYSQL,        /* uuid[:tag]:gno */
    LK_SEQ,          /* a decimal sequence number (RocksDB) */
} lkind;

static const char *const lkind_names[] = {
    "none", "a MariaDB GTID", "a MySQL GTID", "a sequence number",
};

/* One logical stream (MariaDB domain, MySQL source) and its last applied update. */
typedef struct gtid {
    uint64_t seq;            /* MariaDB seq, MySQL gno, RocksDB sequence */
    uint32_t index;          /* the update's index in its transaction */
    uint32_t domain;         /* MariaDB */
    uint32_t server;         /* MariaDB */
    uint8_t  src_len;        /* MySQL */
    char     src[APPLIED_SRC_MAX + 1];
} gtid;

struct wh_applied {
    bool     has_phys;
    char    *log_name;       /* NULL: a sequence-numbered log ("SEQ/INDEX") */
    size_t   log_cap;
    size_t   base_len;       /* log_name's base name length, if has_fseq */
    bool     has_fseq;       /* log_name ends in ".DIGITS" */
    uint64_t fseq;           /* those digits */
    uint64_t offset;
    uint32_t index;

    lkind    kind;
    gtid    *streams;        /* streams[0]: the last applied update's */
    uint32_t n, cap;

    wh_buf   phys_text, log_text;
    bool     phys_dirty, log_dirty;
};

/* ---- parsing ----------------------------------------------------------------------- */

/* Decimal digits s[0..n) into *v: 1..20 digits, no sign, no overflow. */
static bool parse_u64(const char *s, size_t n, uint64_t *v)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9 || x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *v = x;
    return true;
}

static bool parse_u32(const char *s, size_t n, uint32_t *v)
{
    uint64_t x;
    if (!parse_u64(s, n, &x) || x > UINT32_MAX)
        return false;
    *v = (uint32_t)x;
    return true;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A MySQL source "uuid" or "uuid:tag" (tags since MySQL 8.3), copied lowercased. */
static bool parse_mysql_src(const char *s, size_t n, gtid *g)
{
    static const uint8_t dash_at[] = { 8, 13, 18, 23 };
    if (n < 36 || n > APPLIED_SRC_MAX)
        return false;
    for (size_t i = 0, d = 0; i < 36; i++) {
        if (d < sizeof dash_at && i == dash_at[d]) {
            if (s[i] != '-')
                return false;
            d++;
        } else if (!is_hex(s[i])) {
            return false;
        }
    }
    if (n > 36) {
        /* ":tag": a letter or '_', then up to 31 letters, digits or '_'. */
        if (s[36] != ':' || n == 37)
            return false;
        for (size_t i = 37; i < n; i++) {
            char c = s[i];
            bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
            if (!alpha && !(i > 37 && c >= '0' && c <= '9'))
                return false;
        }
        if (n - 37 > 32)
            return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        g->src[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    g->src[n] = '\0';
    g->src_len = (uint8_t)n;
    return true;
}

/* The update's own logical id in an update position's logical text: all of it, or its
 * first GTID when the text carries a MariaDB GTID state ("0-1-9,1-1-4": the mapper's form,
 * docs/UPDATES.md; the wire carries the first GTID only). A text that ends with the
 * comma has no valid state: its length is kept, so the parse fails. */
static size_t own_len(const char *s)
{
    size_t n = strcspn(s, ",");
    return s[n] == ',' && s[n + 1] == '\0' ? n + 1 : n;
}

/* One logical id (no index) from s[0..n): its kind in *kind, or false if it is none of them. */
static bool gtid_parse(const char *s, size_t n, gtid *g, lkind *kind)
{
    memset(g, 0, sizeof *g);
    *kind = LK_NONE;
    if (!s || n == 0)
        return false;
    const char *colon = memrchr(s, ':', n);
    if (colon) {
        *kind = LK_MYSQL;
        return parse_mysql_src(s, (size_t)(colon - s), g) &&
               parse_u64(colon + 1, n - (size_t)(colon - s) - 1, &g->seq);
    }
    const char *d1 = memchr(s, '-', n);
    if (d1) {
        const char *d2 = memchr(d1 + 1, '-', n - (size_t)(d1 + 1 - s));
        *kind = LK_MARIADB;
        return d2 && parse_u32(s, (size_t)(d1 - s), &g->domain) &&
               parse_u32(d1 + 1, (size_t)(d2 - d1 - 1), &g->server) &&
               parse_u64(d2 + 1, n - (size_t)(d2 + 1 - s), &g->seq);
    }
    *kind = LK_SEQ;
    return parse_u64(s, n, &g->seq);
}

/* Is name[0..n) acceptable as a log file name (stored and read back unchanged)? */
static bool name_ok(const char *name, size_t n)
{
    if (n == 0 || n > APPLIED_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || c == '/')
            return false;
    }
    return true;
}

/* Splits "base.DIGITS": the base name's length and the digits' value. */
static bool name_split(const char *name, size_t n, size_t *base_len, uint64_t *fseq)
{
    const char *dot = memrchr(name, '.', n);
    if (!dot)
        return false;
    *base_len = (size_t)(dot - name);
    return parse_u64(dot + 1, n - *base_len - 1, fseq);
}

static bool same_stream(lkind kind, const gtid *a, const gtid *b)
{
    switch (kind) {
    case LK_MARIADB: return a->domain == b->domain;
    case LK_MYSQL:   return a->src_len == b->src_len && memcmp(a->src, b->src, a->src_len) == 0;
    case LK_SEQ:     return true;
    default:         return false;
    }
}

/* ---- text ---------------------------------------------------------------------------- */

static void gtid_put(wh_buf *b, lkind kind, const gtid *g)
{
    switch (kind) {
    case LK_MARIADB:
        wh_buf_printf(b, "%" PRIu32 "-%" PRIu32 "-%" PRIu64, g->domain, g->server, g->seq);
        break;
    case LK_MYSQL:
        wh_buf_printf(b, "%s:%" PRIu64, g->src, g->seq);
        break;
    default:
        wh_buf_printf(b, "%" PRIu64, g->seq);
        break;
    }
}

static void phys_put(wh_buf *b, const wh_applied *a)
{
    if (a->log_name)
        wh_buf_printf(b, "%s:%" PRIu64 "/%" PRIu32, a->log_name, a->offset, a->index);
    else
        wh_buf_printf(b, "%" PRIu64 "/%" PRIu32, a->offset, a->index);
}

static void logical_put(wh_buf *b, const wh_applied *a)
{
    for (uint32_t i = 0; i < a->n; i++) {
        if (i)
            wh_buf_putc(b, ',');
        gtid_put(b, a->kind, &a->streams[i]);
        wh_buf_printf(b, "/%" PRIu32, a->streams[i].index);
    }
}

/* "PHYS (logical LOG)" of an update's position, for messages. */
static void pos_describe(char *buf, size_t len, const wh_position *p)
{
    if (p->log_name)
        snprintf(buf, len, "%.200s:%" PRIu64 "/%" PRIu32 "%s%.200s%s", p->log_name, p->offset,
                 p->index, p->logical ? " (logical " : "", p->logical ? p->logical : "",
                 p->logical ? ")" : "");
    else
        snprintf(buf, len, "%" PRIu64 "/%" PRIu32 "%s%.200s%s", p->offset, p->index,
                 p->logical ? " (logical " : "", p->logical ? p->logical : "",
                 p->logical ? ")" : "");
}

/* The same for an applied position. */
static void applied_describe(char *buf, size_t len, const wh_applied *a)
{
    wh_buf b = WH_BUF_INIT;
    if (a->has_phys)
        phys_put(&b, a);
    else
        wh_buf_puts(&b, "(no physical part)");
    if (a->n) {
        wh_buf_puts(&b, " (logical ");
        logical_put(&b, a);
        wh_buf_putc(&b, ')');
    }
    snprintf(buf, len, "%.400s", wh_buf_ok(&b) && b.data ? b.data : "?");
    wh_buf_free(&b);
}

/* ---- the object ------------------------------------------------------------------------ */

int wh_applied_new(wh_applied **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? WH_OK : WH_ERR_NOMEM;
}

void wh_applied_free(wh_applied *a)
{
    if (!a)
        return;
    free(a->log_name);
    free(a->streams);
    wh_buf_free(&a->phys_text);
    wh_buf_free(&a->log_text);
    free(a);
}

void wh_applied_clear(wh_applied *a)
{
    a->has_phys = false;
    a->kind = LK_NONE;
    a->n = 0;
    a->phys_dirty = a->log_dirty = true;
}

bool wh_applied_empty(const wh_applied *a)
{
    return !a->has_phys && a->n == 0;
}

/* Room for n streams. */
static int reserve_streams(wh_applied *a, uint32_t n)
{
    if (n <= a->cap)
        return WH_OK;
    if (n > WH_APPLIED_MAX_STREAMS)
        return WH_ERR_LIMIT;
    uint32_t cap = a->cap ? a->cap : 4;
    while (cap < n)
        cap *= 2;
    if (cap > WH_APPLIED_MAX_STREAMS)
        cap = WH_APPLIED_MAX_STREAMS;
    gtid *s = realloc(a->streams, cap * sizeof *s);
    if (!s)
        return WH_ERR_NOMEM;
    a->streams = s;
    a->cap = cap;
    return WH_OK;
}

/* Sets the physical part; the name is checked by the caller; room must exist. */
static void set_phys(wh_applied *a, const char *name, size_t n, uint64_t offset, uint32_t index)
{
    if (name) {
        if (!a->log_name || strlen(a->log_name) != n || memcmp(a->log_name, name, n) != 0) {
            memcpy(a->log_name, name, n);
            a->log_name[n] = '\0';
            a->has_fseq = name_split(name, n, &a->base_len, &a->fseq);
        }
    } else if (a->log_name) {
        free(a->log_name);
        a->log_name = NULL;
        a->log_cap = 0;
    }
    a->offset = offset;
    a->index = index;
    a->has_phys = true;
    a->phys_dirty = true;
}

/* Room for a log name of n bytes (keeps the current one). */
static int reserve_name(wh_applied *a, size_t n)
{
    if (a->log_name && a->log_cap > n)
        return WH_OK;
    char *s = malloc(n + 1);
    if (!s)
        return WH_ERR_NOMEM;
    if (a->log_name)
        memcpy(s, a->log_name, strlen(a->log_name) + 1);
    else
        s[0] = '\0';
    free(a->log_name);
    a->log_name = s;
    a->log_cap = n + 1;
    return WH_OK;
}

static int pos_parse_physical(wh_applied *a, const char *text, char *errbuf, size_t errlen)
{
    size_t n = strlen(text);
    const char *slash = memrchr(text, '/', n);
    uint64_t off, idx;
    if (!slash || !parse_u64(slash + 1, n - (size_t)(slash + 1 - text), &idx) ||
        idx > UINT32_MAX)
        goto bad;
    size_t body = (size_t)(slash - text);
    const char *colon = memrchr(text, ':', body);
    const char *num = colon ? colon + 1 : text;
    if (!parse_u64(num, body - (size_t)(num - text), &off))
        goto bad;
    if (colon) {
        size_t nl = (size_t)(colon - text);
        if (!name_ok(text, nl))
            goto bad;
        if (reserve_name(a, nl) != WH_OK)
            return WH_ERR_NOMEM;
        set_phys(a, text, nl, off, (uint32_t)idx);
    } else {
        set_phys(a, NULL, 0, off, (uint32_t)idx);
    }
    return WH_OK;
bad:
    return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                     "applied position: physical part '%.300s' is not FILE:OFFSET/INDEX "
                     "(e.g. mysql-bin.000003:1234/0) or SEQ/INDEX", text);
}

static int pos_parse_logical(wh_applied *a, const char *text, char *errbuf, size_t errlen)
{
    const char *p = text, *end = text + strlen(text);
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        const char *slash = memrchr(p, '/', (size_t)(e - p));
        gtid g;
        lkind k;
        if (!slash || !gtid_parse(p, (size_t)(slash - p), &g, &k) ||
            !parse_u32(slash + 1, (size_t)(e - slash - 1), &g.index))
            return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                             "applied position: logical part '%.300s': entry %u is not "
                             "GTID/INDEX (domain-server-seq/N, uuid:gno/N or SEQ/N)",
                             text, a->n + 1);
        if (a->n && k != a->kind)
            return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                             "applied position: logical part '%.300s' mixes %s and %s", text,
                             lkind_names[a->kind], lkind_names[k]);
        if (k == LK_SEQ && a->n)
            return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                             "applied position: logical part '%.300s' lists more than one "
                             "sequence number", text);
        for (uint32_t i = 0; i < a->n; i++)
            if (same_stream(k, &a->streams[i], &g))
                return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                                 "applied position: logical part '%.300s' lists the same %s "
                                 "twice", text, k == LK_MYSQL ? "uuid" : "domain");
        int rc = reserve_streams(a, a->n + 1);
        if (rc == WH_ERR_LIMIT)
            return wh_seterr(errbuf, errlen, rc, "applied position: logical part lists more "
                             "than %d GTIDs", WH_APPLIED_MAX_STREAMS);
        if (rc)
            return rc;
        a->kind = k;
        a->streams[a->n++] = g;
        p = comma ? comma + 1 : end;
        if (comma && p == end)
            return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                             "applied position: logical part '%.300s' ends with a comma", text);
    }
    a->log_dirty = true;
    return WH_OK;
}

/* Moves src's contents into dst and frees what dst had. */
static void applied_move(wh_applied *dst, wh_applied *src)
{
    wh_buf pt = dst->phys_text, lt = dst->log_text;
    free(dst->log_name);
    free(dst->streams);
    *dst = *src;
    dst->phys_text = pt;     /* keep dst's text buffers (reused); src's are freed */
    dst->log_text = lt;
    dst->phys_dirty = dst->log_dirty = true;
    wh_buf_free(&src->phys_text);
    wh_buf_free(&src->log_text);
    memset(src, 0, sizeof *src);
}

int wh_applied_load(wh_applied *a, const char *physical, const char *logical, char *errbuf,
                    size_t errlen)
{
    wh_applied tmp;
    memset(&tmp, 0, sizeof tmp);
    int rc = WH_OK;
    if (physical && *physical)
        rc = pos_parse_physical(&tmp, physical, errbuf, errlen);
    if (rc == WH_OK && logical && *logical)
        rc = pos_parse_logical(&tmp, logical, errbuf, errlen);
    if (rc == WH_OK && tmp.has_phys && tmp.n && tmp.streams[0].index != tmp.index)
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                       "applied position: physical '%.200s' and logical '%.200s' name "
                       "different update indexes", physical, logical);
    if (rc != WH_OK) {
        free(tmp.log_name);
        free(tmp.streams);
        if (rc == WH_ERR_NOMEM)
            wh_seterr(errbuf, errlen, rc, "applied position: out of memory");
        return rc;
    }
    applied_move(a, &tmp);
    return WH_OK;
}

int wh_applied_copy(wh_applied *dst, const wh_applied *src)
{
    if (dst == src)
        return WH_OK;
    if (src->log_name && reserve_name(dst, strlen(src->log_name)) != WH_OK)
        return WH_ERR_NOMEM;
    if (reserve_streams(dst, src->n) != WH_OK)
        return WH_ERR_NOMEM;
    if (src->has_phys)
        set_phys(dst, src->log_name, src->log_name ? strlen(src->log_name) : 0, src->offset,
                 src->index);
    dst->has_phys = src->has_phys;
    dst->kind = src->kind;
    dst->n = src->n;
    if (src->n)
        memcpy(dst->streams, src->streams, src->n * sizeof *src->streams);
    dst->phys_dirty = dst->log_dirty = true;
    return WH_OK;
}

/* Compares p with a's physical part: *cmp < 0, 0, > 0 as p is before, at, after a.
 * Returns false (and why) when the two are not in one log. */
static bool phys_compare(const wh_applied *a, const wh_position *p, int *cmp, const char **why)
{
    if (!a->has_phys) {
        *why = "the applied position has no physical part";
        return false;
    }
    if (!p->log_name != !a->log_name) {
        *why = "one is a file position and the other a sequence number";
        return false;
    }
    if (p->log_name) {
        size_t n = strlen(p->log_name), base;
        uint64_t fseq;
        if (strcmp(p->log_name, a->log_name) != 0) {
            if (!a->has_fseq || !name_split(p->log_name, n, &base, &fseq) ||
                base != a->base_len || memcmp(p->log_name, a->log_name, base) != 0) {
                *why = "their log files have different base names";
                return false;
            }
            if (fseq != a->fseq) {
                *cmp = fseq < a->fseq ? -1 : 1;
                return true;
            }   /* "binlog.10" and "binlog.000010": the same file */
        }
    }
    if (p->offset != a->offset)
        *cmp = p->offset < a->offset ? -1 : 1;
    else
        *cmp = p->index < a->index ? -1 : p->index > a->index;
    return true;
}

int wh_applied_check(const wh_applied *a, const wh_position *p, char *errbuf, size_t errlen)
{
    char pd[512], ad[512];
    if (!a->has_phys && a->n == 0)
        return WH_APPLIED_NEW;
    gtid g;
    lkind k = LK_NONE;
    if (p->logical && !gtid_parse(p->logical, own_len(p->logical), &g, &k)) {
        pos_describe(pd, sizeof pd, p);
        return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                         "update position %s: the logical id is not a GTID "
                         "(domain-server-seq or uuid:gno) or a sequence number", pd);
    }
    if (k != LK_NONE && k == a->kind) {
        for (uint32_t i = 0; i < a->n; i++) {
            const gtid *s = &a->streams[i];
            if (!same_stream(k, s, &g))
                continue;
            if (g.seq != s->seq)
                return g.seq < s->seq ? WH_APPLIED_SEEN : WH_APPLIED_NEW;
            if (k == LK_MARIADB && g.server != s->server) {
                pos_describe(pd, sizeof pd, p);
                applied_describe(ad, sizeof ad, a);
                return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                                 "update position %s and applied position %s: GTID seq %" PRIu64
                                 " of domain %" PRIu32 " comes from server %" PRIu32 " and from "
                                 "server %" PRIu32 ": the histories of the shard's copies "
                                 "diverged", pd, ad, g.seq, g.domain, g.server, s->server);
            }
            return p->index <= s->index ? WH_APPLIED_SEEN : WH_APPLIED_NEW;
        }
        return WH_APPLIED_NEW;    /* a stream nothing was applied from */
    }
    int cmp;
    const char *why;
    if (phys_compare(a, p, &cmp, &why))
        return cmp <= 0 ? WH_APPLIED_SEEN : WH_APPLIED_NEW;
    pos_describe(pd, sizeof pd, p);
    applied_describe(ad, sizeof ad, a);
    const char *lwhy = k == LK_NONE ? "the update has no logical id"
                     : a->kind == LK_NONE ? "the applied position has no logical part"
                     : "their logical ids are of different kinds";
    return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                     "cannot tell whether update position %s is at or before applied position "
                     "%s: %s, and %s", pd, ad, lwhy, why);
}

int wh_applied_advance(wh_applied *a, const wh_position *p, char *errbuf, size_t errlen)
{
    gtid g;
    lkind k = LK_NONE;
    char pd[512];
    if (p->logical && !gtid_parse(p->logical, own_len(p->logical), &g, &k)) {
        pos_describe(pd, sizeof pd, p);
        return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                         "update position %s: the logical id is not a GTID "
                         "(domain-server-seq or uuid:gno) or a sequence number", pd);
    }
    size_t nl = p->log_name ? strlen(p->log_name) : 0;
    if (p->log_name && !name_ok(p->log_name, nl)) {
        pos_describe(pd, sizeof pd, p);
        return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                         "update position %s: the log name is empty, longer than %d bytes or "
                         "has control characters or '/'", pd, APPLIED_NAME_MAX);
    }
    /* Find the stream and make room before changing anything. */
    uint32_t at = UINT32_MAX;
    if (k != LK_NONE && k == a->kind)
        for (uint32_t i = 0; i < a->n; i++)
            if (same_stream(k, &a->streams[i], &g)) {
                at = i;
                break;
            }
    if (k != LK_NONE && at == UINT32_MAX) {
        uint32_t need = k == a->kind ? a->n + 1 : 1;
        int rc = reserve_streams(a, need);
        if (rc == WH_ERR_LIMIT)
            return wh_seterr(errbuf, errlen, rc, "applied position: more than %d GTID "
                             "domains or uuids", WH_APPLIED_MAX_STREAMS);
        if (rc)
            return wh_seterr(errbuf, errlen, rc, "applied position: out of memory");
    }
    if (p->log_name && reserve_name(a, nl) != WH_OK)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "applied position: out of memory");

    set_phys(a, p->log_name, nl, p->offset, p->index);
    g.index = p->index;
    if (k == LK_NONE) {
        a->n = 0;
    } else if (k != a->kind) {
        a->kind = k;
        a->streams[0] = g;
        a->n = 1;
    } else if (at == UINT32_MAX) {
        memmove(a->streams + 1, a->streams, a->n * sizeof *a->streams);
        a->streams[0] = g;
        a->n++;
    } else {
        if (at > 0)
            memmove(a->streams + 1, a->streams, at * sizeof *a->streams);
        a->streams[0] = g;
    }
    if (a->n == 0)
        a->kind = LK_NONE;
    a->log_dirty = true;
    return WH_OK;
}

const char *wh_applied_physical(wh_applied *a)
{
    if (!a->has_phys)
        return NULL;
    if (a->phys_dirty) {
        wh_buf_reset(&a->phys_text);
        phys_put(&a->phys_text, a);
        a->phys_dirty = !wh_buf_ok(&a->phys_text);
    }
    return wh_buf_ok(&a->phys_text) ? a->phys_text.data : NULL;
}

const char *wh_applied_logical(wh_applied *a)
{
    if (a->n == 0)
        return NULL;
    if (a->log_dirty) {
        wh_buf_reset(&a->log_text);
        logical_put(&a->log_text, a);
        a->log_dirty = !wh_buf_ok(&a->log_text);
    }
    return wh_buf_ok(&a->log_text) ? a->log_text.data : NULL;
}
