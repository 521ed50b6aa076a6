/* mapper.c -- the registry of positions mappers (see mapper.h). */
#include <assert.h>
#include <string.h>

#include "core/errbuf.h"
#include "mappers/mapper.h"
#include "mappers/mysql/binlog_mapper.h"
#include "mappers/rocksdb/rdb_mapper.h"
#include "mappers/synthetic/synthetic_mapper.h"

/* Each mapper's ops are defined in its own folder. Add new ones here. */
static const wh_mapper_ops *const mappers[] = {
    &wh_mapper_mysql,
    &wh_rocksdb_mapper_ops,
    &wh_mapper_synthetic,
    NULL,
};

const wh_mapper_ops *const *wh_mapper_all(void)
{
    return mappers;
}

const wh_mapper_ops *wh_mapper_find(const char *name)
{
    for (size_t i = 0; mappers[i]; i++)
        if (strcmp(mappers[i]->name, name) == 0)
            return mappers[i];
    return NULL;
}

/* The registry's answer to a name it does not know. */
static int unknown_mapper(const char *name, char *errbuf, size_t errlen)
{
    char known[256] = "";
    for (size_t i = 0; mappers[i]; i++) {
        if (i)
            strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, mappers[i]->name, sizeof known - strlen(known) - 1);
    }
    return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "unknown mapper '%s' (known: %s)",
                     name, known[0] ? known : "none");
}

int wh_mapper_check(const char *name, const json_t *options, char *errbuf, size_t errlen)
{
    const wh_mapper_ops *ops = wh_mapper_find(name);
    if (!ops)
        return unknown_mapper(name, errbuf, errlen);
    assert(ops->check);
    return ops->check(options, errbuf, errlen);
}

int wh_mapper_log_span(const char *name, const json_t *options, const wh_pos *const *pos,
                       size_t n, int64_t *behind, int64_t *retained, char *errbuf, size_t errlen)
{
    const wh_mapper_ops *ops = wh_mapper_find(name);
    if (!ops)
        return unknown_mapper(name, errbuf, errlen);
    if (!ops->log_span)
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED, "mapper %s cannot tell how much "
                         "log lies behind a position", name);
    return ops->log_span(options, pos, n, behind, retained, errbuf, errlen);
}

int wh_mapper_create(const char *name, const json_t *options, const char *shard,
                     bool follow, wh_mapper **out, char *errbuf, size_t errlen)
{
    const wh_mapper_ops *ops = wh_mapper_find(name);
    if (!ops)
        return unknown_mapper(name, errbuf, errlen);
    int rc = ops->create(options, shard, out, errbuf, errlen);
    if (rc == WH_OK)
        (*out)->follow = follow;
    return rc;
}
