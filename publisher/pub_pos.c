/* pub_pos.c -- the JSON form of positions in ZooKeeper, and rendezvous hashing (see pub_pos.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/errbuf.h"
#include "publisher/pub_pos.h"

char *pub_pos_to_json(const wh_pos *p, uint64_t epoch, const char *publisher)
{
    char phys[WH_POS_PHYSICAL_TEXT_MAX], logi[WH_POS_LOGICAL_TEXT_MAX];
    wh_pos_format_physical(p, phys, sizeof phys);
    wh_pos_format_logical(p, logi, sizeof logi);
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

int pub_pos_from_json(const char *data, size_t len, wh_pos *out, uint64_t *epoch,
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
        rc = wh_pos_parse(out, p, l, errbuf, errlen);
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
