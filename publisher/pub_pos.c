/* pub_pos.c -- publisher positions and their text forms (see pub_pos.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "publisher/pub_pos.h"

static bool copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        memcpy(dst, src, cap - 1);
        dst[cap - 1] = '\0';
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

bool pub_pos_from(pub_pos *dst, const wh_position *src)
{
    bool ok = true;
    dst->set = true;
    dst->has_log_name = src->log_name != NULL;
    dst->has_logical = src->logical != NULL;
    dst->offset = src->offset;
    dst->index = src->index;
    if (src->log_name)
        ok &= copy_str(dst->log_name, sizeof dst->log_name, src->log_name);
    else
        dst->log_name[0] = '\0';
    if (src->logical)
        ok &= copy_str(dst->logical, sizeof dst->logical, src->logical);
    else
        dst->logical[0] = '\0';
    return ok;
}

const wh_position *pub_pos_view(const pub_pos *p, wh_position *view)
{
    if (!p->set)
        return NULL;
    view->log_name = p->has_log_name ? p->log_name : NULL;
    view->offset = p->offset;
    view->logical = p->has_logical ? p->logical : NULL;
    view->index = p->index;
    return view;
}

void pub_pos_physical(const pub_pos *p, char *buf, size_t len)
{
    if (!p->set)
        snprintf(buf, len, "%s", "");
    else if (p->has_log_name)
        snprintf(buf, len, "%s:%" PRIu64 "/%" PRIu32, p->log_name, p->offset, p->index);
    else
        snprintf(buf, len, "%" PRIu64 "/%" PRIu32, p->offset, p->index);
}

void pub_pos_logical(const pub_pos *p, char *buf, size_t len)
{
    if (!p->set || !p->has_logical)
        snprintf(buf, len, "%s", "");
    else
        snprintf(buf, len, "%s/%" PRIu32, p->logical, p->index);
}

bool pub_pos_equal(const pub_pos *a, const pub_pos *b)
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

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int pub_pos_parse(pub_pos *out, const char *physical, const char *logical, char *errbuf,
                  size_t errlen)
{
    uint64_t idx = 0;
    memset(out, 0, sizeof *out);
    bool have_phys = physical && *physical, have_log = logical && *logical;
    if (!have_phys && !have_log)
        return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "position has neither a physical nor a "
                         "logical part");
    if (have_phys) {
        const char *slash = strrchr(physical, '/');
        if (!slash || !parse_u64(slash + 1, strlen(slash + 1), &idx) || idx > UINT32_MAX)
            return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                             "physical position '%s' does not end in /INDEX", physical);
        const char *colon = memrchr(physical, ':', (size_t)(slash - physical));
        const char *num = colon ? colon + 1 : physical;
        if (!parse_u64(num, (size_t)(slash - num), &out->offset))
            return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                             "physical position '%s' is not FILE:OFFSET/INDEX or SEQ/INDEX",
                             physical);
        if (colon) {
            size_t n = (size_t)(colon - physical);
            if (n == 0 || n >= sizeof out->log_name)
                return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                                 "physical position '%s' has an empty or too long file name",
                                 physical);
            memcpy(out->log_name, physical, n);
            out->log_name[n] = '\0';
            out->has_log_name = true;
        }
        out->index = (uint32_t)idx;
    }
    if (have_log) {
        const char *slash = strrchr(logical, '/');
        uint64_t lidx;
        if (!slash || slash == logical || !parse_u64(slash + 1, strlen(slash + 1), &lidx) ||
            lidx > UINT32_MAX || (size_t)(slash - logical) >= sizeof out->logical)
            return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                             "logical position '%s' is not GTID/INDEX", logical);
        if (have_phys && lidx != idx)
            return wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                             "physical '%s' and logical '%s' name different update indexes",
                             physical, logical);
        memcpy(out->logical, logical, (size_t)(slash - logical));
        out->logical[slash - logical] = '\0';
        out->has_logical = true;
        out->index = (uint32_t)lidx;
    }
    out->set = true;
    return WH_OK;
}
