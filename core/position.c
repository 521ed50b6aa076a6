/* position.c -- positions held by value, and the one formatter and parser of their text forms
 * (see wormhole/position.h; the grammar is in docs/UPDATES.md). */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/errbuf.h"
#include "wormhole/position.h"

/* ---- formatting ---------------------------------------------------------- */

/* Writes v in decimal at p (no NUL); returns the end. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static size_t u64_digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* snprintf-like bounded text: keeps the first cap bytes, counts them all. */
typedef struct pos_text {
    char  *buf;
    size_t cap;
    size_t len;
} pos_text;

static void pos_put(pos_text *t, const char *s, size_t n)
{
    if (t->len < t->cap) {
        size_t k = t->cap - t->len < n ? t->cap - t->len : n;
        memcpy(t->buf + t->len, s, k);
    }
    t->len += n;
}

static void pos_put_u64(pos_text *t, uint64_t v)
{
    char tmp[24];
    pos_put(t, tmp, (size_t)(put_u64(tmp, v) - tmp));
}

static size_t pos_done(pos_text *t)
{
    if (t->buf == NULL)
        return 0;
    size_t n = t->len < t->cap ? t->len : t->cap;
    t->buf[n] = '\0';
    return n;
}

size_t wh_position_physical(const wh_position *p, char *buf, size_t buflen)
{
    pos_text t = { buflen ? buf : NULL, buflen ? buflen - 1 : 0, 0 };
    if (p->log_name) {
        pos_put(&t, p->log_name, strlen(p->log_name));
        pos_put(&t, ":", 1);
    }
    pos_put_u64(&t, p->offset);
    pos_put(&t, "/", 1);
    pos_put_u64(&t, p->index);
    return pos_done(&t);
}

size_t wh_position_logical(const wh_position *p, char *buf, size_t buflen)
{
    if (!p->logical) {
        if (buflen)
            buf[0] = '\0';
        return 0;
    }
    pos_text t = { buflen ? buf : NULL, buflen ? buflen - 1 : 0, 0 };
    pos_put(&t, p->logical, strlen(p->logical));
    pos_put(&t, "/", 1);
    pos_put_u64(&t, p->index);
    return pos_done(&t);
}

/* The strict forms: the whole text of need bytes, or WH_ERR_LIMIT and "".
 * v is NULL for the empty text. */
static int format_checked(const wh_position *v, bool logical, size_t need, char *buf,
                          size_t len)
{
    if (need >= len) {
        if (len)
            buf[0] = '\0';
        return WH_ERR_LIMIT;
    }
    if (!v) {
        buf[0] = '\0';
        return 0;
    }
    size_t n = logical ? wh_position_logical(v, buf, len) : wh_position_physical(v, buf, len);
    assert(n == need);
    return (int)n;
}

int wh_pos_format_physical(const wh_pos *p, char *buf, size_t len)
{
    wh_position v;
    if (!wh_pos_to_view(p, &v))
        return format_checked(NULL, false, 0, buf, len);
    size_t need = (p->has_log_name ? strlen(p->log_name) + 1 : 0) + u64_digits(p->offset) + 1 +
                  u64_digits(p->index);
    return format_checked(&v, false, need, buf, len);
}

int wh_pos_format_logical(const wh_pos *p, char *buf, size_t len)
{
    wh_position v;
    if (!wh_pos_to_view(p, &v) || !p->has_logical)
        return format_checked(NULL, true, 0, buf, len);
    return format_checked(&v, true, strlen(p->logical) + 1 + u64_digits(p->index), buf, len);
}

/* ---- views ----------------------------------------------------------------- */

/* Whether s can be a FILE or GTID of a wh_pos: 1..cap-1 bytes, none of them
 * '/' or a control character, so that its text form parses back. */
static bool storable(const char *s, size_t cap)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n + 1 >= cap || c < 0x20 || c == 0x7f || c == '/')
            return false;
    }
    return n > 0;
}

bool wh_pos_from_view(wh_pos *dst, const wh_position *src)
{
    if ((src->log_name && !storable(src->log_name, sizeof dst->log_name)) ||
        (src->logical && !storable(src->logical, sizeof dst->logical))) {
        memset(dst, 0, sizeof *dst);
        return false;
    }
    dst->set = true;
    dst->has_log_name = src->log_name != NULL;
    dst->has_logical = src->logical != NULL;
    dst->offset = src->offset;
    dst->index = src->index;
    if (src->log_name)
        memcpy(dst->log_name, src->log_name, strlen(src->log_name) + 1);
    else
        dst->log_name[0] = '\0';
    if (src->logical)
        memcpy(dst->logical, src->logical, strlen(src->logical) + 1);
    else
        dst->logical[0] = '\0';
    return true;
}

const wh_position *wh_pos_to_view(const wh_pos *p, wh_position *view)
{
    if (!p->set)
        return NULL;
    view->log_name = p->has_log_name ? p->log_name : NULL;
    view->offset = p->offset;
    view->logical = p->has_logical ? p->logical : NULL;
    view->index = p->index;
    return view;
}

bool wh_pos_equal(const wh_pos *a, const wh_pos *b)
{
    if (a->set != b->set)
        return false;
    if (!a->set)
        return true;
    return a->has_log_name == b->has_log_name && a->offset == b->offset &&
           a->index == b->index && a->has_logical == b->has_logical &&
           (!a->has_log_name || strcmp(a->log_name, b->log_name) == 0) &&
           (!a->has_logical || strcmp(a->logical, b->logical) == 0);
}

/* ---- parsing ----------------------------------------------------------------- */

/* The text of s[0..n) for a message: quoted, at most 64 bytes of it, with
 * '"', '\\' and bytes outside printable ASCII as \xHH. */
static const char *quote(const char *s, size_t n, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0, i;
    assert(cap >= 64 * 4 + 8);
    out[k++] = '"';
    for (i = 0; i < n && i < 64; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            out[k++] = '\\';
            out[k++] = 'x';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 15];
        } else {
            out[k++] = (char)c;
        }
    }
    out[k++] = '"';
    if (i < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

/* One error sentence: KIND position "TEXT": at offset N: WHY. */
static int fail(char *errbuf, size_t errlen, int code, const char *kind, const char *s, size_t n,
                const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static int fail(char *errbuf, size_t errlen, int code, const char *kind, const char *s, size_t n,
                const char *fmt, ...)
{
    char q[300], why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return wh_seterr(errbuf, errlen, code, "%s position %s: %s", kind, quote(s, n, q, sizeof q),
                     why);
}

enum { NUM_OK, NUM_EMPTY, NUM_DIGIT, NUM_RANGE };

/* Decimal digits s[0..n) (no sign, no space) up to max; *bad gets the
 * offset of the first byte that is not a digit. */
static int parse_num(const char *s, size_t n, uint64_t max, uint64_t *out, size_t *bad)
{
    uint64_t v = 0;
    if (n == 0)
        return NUM_EMPTY;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            *bad = i;
            return NUM_DIGIT;
        }
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (max - d) / 10)
            return NUM_RANGE;
        v = v * 10 + d;
    }
    *out = v;
    return NUM_OK;
}

/* Checks every byte of s[0..n) and finds its one optional '/': *slash gets
 * its offset, or n without one. */
static int scan(const char *kind, const char *s, size_t n, size_t *slash, char *errbuf,
                size_t errlen)
{
    static const char *const expect[2] = { "FILE:OFFSET/INDEX or SEQ/INDEX", "GTID/INDEX" };
    bool logical = kind[0] == 'l';
    *slash = n;
    if (n == 0)
        return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "%s position is empty (expected %s)",
                         kind, expect[logical]);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return fail(errbuf, errlen, WH_ERR_PARSE, kind, s, n,
                        "at offset %zu: the control byte 0x%02x is not allowed", i, c);
        if (c == '/') {
            if (*slash < n)
                return fail(errbuf, errlen, WH_ERR_PARSE, kind, s, n,
                            "at offset %zu: a second '/' (expected %s)", i, expect[logical]);
            *slash = i;
        }
    }
    return WH_OK;
}

/* The optional "/INDEX" at s[slash..n). */
static int parse_index(const char *kind, const char *s, size_t n, size_t slash, uint32_t *index,
                       char *errbuf, size_t errlen)
{
    uint64_t v = 0;
    size_t bad = 0;
    *index = 0;
    if (slash == n)
        return WH_OK;
    switch (parse_num(s + slash + 1, n - slash - 1, UINT32_MAX, &v, &bad)) {
    case NUM_EMPTY:
        return fail(errbuf, errlen, WH_ERR_PARSE, kind, s, n,
                    "at offset %zu: INDEX is missing after '/'", slash + 1);
    case NUM_DIGIT:
        return fail(errbuf, errlen, WH_ERR_PARSE, kind, s, n,
                    "at offset %zu: INDEX must be decimal digits", slash + 1 + bad);
    case NUM_RANGE:
        return fail(errbuf, errlen, WH_ERR_PARSE, kind, s, n,
                    "at offset %zu: INDEX is larger than 4294967295", slash + 1);
    default:
        break;
    }
    *index = (uint32_t)v;
    return WH_OK;
}

/* Fills out's physical part from s[0..n) and *index from its "/INDEX". */
static int physical_part(wh_pos *out, const char *s, size_t n, uint32_t *index, char *errbuf,
                         size_t errlen)
{
    static const char kind[] = "physical";
    size_t slash, bad = 0;
    int rc = scan(kind, s, n, &slash, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    /* FILE ends at the last ':' before the '/' (it may hold ':' itself). */
    size_t name = 0;                                   /* FILE's length + 1, 0 without one */
    for (size_t i = slash; i-- > 0;) {
        if (s[i] == ':') {
            name = i + 1;
            break;
        }
    }
    bool colon = name > 0;
    size_t at = name;                                  /* OFFSET or SEQ */
    const char *what = colon ? "OFFSET" : "SEQ";
    if (name == 1)
        return fail(errbuf, errlen, WH_ERR_PARSE, kind, s, n,
                    "at offset 0: FILE is empty before ':'");
    if (colon && name - 1 >= sizeof out->log_name)
        return fail(errbuf, errlen, WH_ERR_LIMIT, kind, s, n,
                    "at offset 0: FILE is %zu bytes long; at most %d are allowed", name - 1,
                    WH_POS_LOG_NAME_MAX - 1);
    switch (parse_num(s + at, slash - at, UINT64_MAX, &out->offset, &bad)) {
    case NUM_EMPTY:
        return fail(errbuf, errlen, WH_ERR_PARSE, kind, s, n,
                    colon ? "at offset %zu: OFFSET is missing after ':'"
                          : "at offset %zu: FILE:OFFSET or SEQ is missing before '/'", at);
    case NUM_DIGIT:
        return fail(errbuf, errlen, WH_ERR_PARSE, kind, s, n,
                    "at offset %zu: %s must be decimal digits (expected FILE:OFFSET/INDEX or "
                    "SEQ/INDEX)", at + bad, what);
    case NUM_RANGE:
        return fail(errbuf, errlen, WH_ERR_PARSE, kind, s, n,
                    "at offset %zu: %s is larger than 18446744073709551615", at, what);
    default:
        break;
    }
    if ((rc = parse_index(kind, s, n, slash, index, errbuf, errlen)) != WH_OK)
        return rc;
    if (colon) {
        memcpy(out->log_name, s, name - 1);
        out->log_name[name - 1] = '\0';
        out->has_log_name = true;
    }
    return WH_OK;
}

/* Fills out's logical part from s[0..n) and *index from its "/INDEX". */
static int logical_part(wh_pos *out, const char *s, size_t n, uint32_t *index, char *errbuf,
                        size_t errlen)
{
    static const char kind[] = "logical";
    size_t slash;
    int rc = scan(kind, s, n, &slash, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    if (slash == 0)
        return fail(errbuf, errlen, WH_ERR_PARSE, kind, s, n,
                    "at offset 0: GTID is missing before '/'");
    if (slash >= sizeof out->logical)
        return fail(errbuf, errlen, WH_ERR_LIMIT, kind, s, n,
                    "at offset 0: GTID is %zu bytes long; at most %d are allowed", slash,
                    WH_POS_LOGICAL_MAX - 1);
    if ((rc = parse_index(kind, s, n, slash, index, errbuf, errlen)) != WH_OK)
        return rc;
    memcpy(out->logical, s, slash);
    out->logical[slash] = '\0';
    out->has_logical = true;
    return WH_OK;
}

int wh_pos_parse_physical(wh_pos *out, const char *text, size_t len, char *errbuf,
                          size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = physical_part(out, text, len, &out->index, errbuf, errlen);
    if (rc != WH_OK) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->set = true;
    return WH_OK;
}

int wh_pos_parse_logical(wh_pos *out, const char *text, size_t len, char *errbuf,
                         size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = logical_part(out, text, len, &out->index, errbuf, errlen);
    if (rc != WH_OK) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->set = true;
    return WH_OK;
}

int wh_pos_parse(wh_pos *out, const char *physical, const char *logical, char *errbuf,
                 size_t errlen)
{
    bool have_p = physical && *physical, have_l = logical && *logical;
    uint32_t pi = 0, li = 0;
    int rc = WH_OK;
    memset(out, 0, sizeof *out);
    if (!have_p && !have_l)
        return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                         "position has neither a physical nor a logical part");
    if (have_p)
        rc = physical_part(out, physical, strlen(physical), &pi, errbuf, errlen);
    if (rc == WH_OK && have_l)
        rc = logical_part(out, logical, strlen(logical), &li, errbuf, errlen);
    if (rc == WH_OK && have_p && have_l && pi != li) {
        char qp[300], ql[300];
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                       "physical position %s and logical position %s name different update "
                       "indexes (%u and %u)", quote(physical, strlen(physical), qp, sizeof qp),
                       quote(logical, strlen(logical), ql, sizeof ql), pi, li);
    }
    if (rc != WH_OK) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->index = have_p ? pi : li;
    out->set = true;
    return WH_OK;
}
