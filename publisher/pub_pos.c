/* pub_pos.c -- publisher positions, their JSON form, and rendezvous hashing (see pub_pos.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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

char *pub_pos_to_json(const pub_pos *p, uint64_t epoch, const char *publisher)
{
    char phys[512], logi[640];
    pub_pos_physical(p, phys, sizeof phys);
    pub_pos_logical(p, logi, sizeof logi);
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "physical", phys[0] ? json_string(phys) : json_null());
    json_object_set_new(o, "logical", logi[0] ? json_string(logi) : json_null());
    json_object_set_new(o, "epoch", json_integer((json_int_t)epoch));
    json_object_set_new(o, "publisher", json_string(publisher ? publisher : ""));
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

int pub_pos_from_json(const char *data, size_t len, pub_pos *out, uint64_t *epoch,
                      char *errbuf, size_t errlen)
{
    json_error_t je;
    memset(out, 0, sizeof *out);
    *epoch = 0;
    json_t *o = json_loadb(data, len, 0, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "position is not a JSON object (%s)",
                         o ? "another JSON value" : je.text);
    }
    json_t *ph = json_object_get(o, "physical"), *lg = json_object_get(o, "logical"),
           *ep = json_object_get(o, "epoch");
    int rc = WH_OK;
    if ((ph && !json_is_string(ph) && !json_is_null(ph)) ||
        (lg && !json_is_string(lg) && !json_is_null(lg)) ||
        (ep && (!json_is_integer(ep) || json_integer_value(ep) < 0))) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_PARSE,
                       "position: physical/logical must be strings and epoch an integer >= 0");
        goto out;
    }
    if (ep)
        *epoch = (uint64_t)json_integer_value(ep);
    const char *p = json_is_string(ph) ? json_string_value(ph) : NULL;
    const char *l = json_is_string(lg) ? json_string_value(lg) : NULL;
    if ((p && *p) || (l && *l))
        rc = pub_pos_parse(out, p, l, errbuf, errlen);
out:
    json_decref(o);
    return rc;
}

/* FNV-1a, then a 64-bit finalizer so that similar names spread well. */
uint64_t pub_rendezvous_weight(const char *instance, const char *shard)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)instance; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;   /* separator no name contains */
    for (const unsigned char *p = (const unsigned char *)shard; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

int pub_rendezvous_pick(const char *const *names, int n, const char *shard)
{
    int best = -1;
    uint64_t bw = 0;
    for (int i = 0; i < n; i++) {
        uint64_t w = pub_rendezvous_weight(names[i], shard);
        if (best < 0 || w > bw || (w == bw && strcmp(names[i], names[best]) < 0)) {
            best = i;
            bw = w;
        }
    }
    return best;
}
