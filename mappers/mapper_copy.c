/* mapper_copy.c -- positions across copies of a shard: copy identity, "has it arrived yet", and the seek rule (see mapper.h and docs/FAILOVER.md). */
#include <string.h>

#include "core/errbuf.h"
#include "mappers/mapper.h"

int wh_mapper_identify(wh_mapper *m, char *buf, size_t len, char *errbuf, size_t errlen)
{
    if (len)
        buf[0] = '\0';
    if (!m->ops->identify)
        return WH_OK;
    return m->ops->identify(m, buf, len, errbuf, errlen);
}

int wh_mapper_has_pos(wh_mapper *m, const wh_pos *pos, char *errbuf, size_t errlen)
{
    if (!pos || !pos->set || !m->ops->has_pos)
        return WH_OK;
    return m->ops->has_pos(m, pos, errbuf, errlen);
}

int wh_mapper_localize(const wh_pos *pos, const char *pos_copy, const char *own_copy, wh_pos *out,
                       char *errbuf, size_t errlen)
{
    pos_copy = pos_copy ? pos_copy : "";
    own_copy = own_copy ? own_copy : "";
    *out = *pos;
    if (!pos->set || !own_copy[0] || strcmp(pos_copy, own_copy) == 0)
        return WH_OK;
    if (pos->has_logical) {
        out->has_log_name = false;
        out->log_name[0] = '\0';
        out->offset = 0;
        return WH_OK;
    }
    if (!pos_copy[0])
        return WH_OK;
    char text[WH_POS_PHYSICAL_TEXT_MAX];
    wh_pos_format_physical(pos, text, sizeof text);
    memset(out, 0, sizeof *out);
    return wh_seterr(errbuf, errlen, WH_ERR_INVALID,
                     "position %s was written by another copy of the shard (%s) and has no "
                     "logical part (no GTID): its file and offset mean nothing in this copy's "
                     "log (%s); give the log GTIDs, or reset the position "
                     "(docs/FAILOVER.md \"Positions across copies\")", text, pos_copy, own_copy);
}

int wh_mapper_seek(wh_mapper *m, const wh_pos *pos, bool inclusive, char *errbuf, size_t errlen)
{
    if (!pos || !pos->set)
        return m->ops->seek_physical(m, NULL, true, errbuf, errlen);
    if (!pos->has_log_name && pos->has_logical)
        return m->ops->seek_logical(m, pos, inclusive, errbuf, errlen);
    return m->ops->seek_physical(m, pos, inclusive, errbuf, errlen);
}
