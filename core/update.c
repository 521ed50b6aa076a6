/* update.c -- names and small helpers of the update model (see wormhole/update.h). */
#include <stdio.h>
#include <string.h>

#include "wormhole/update.h"

static const char *const op_names[WH_OP__COUNT] = {
    "insert", "update", "delete", "ddl", "put", "delete", "single_delete",
    "delete_range", "merge",
};

static const char *const type_names[WH_T__COUNT] = {
    "absent", "null", "int", "uint", "float", "decimal", "string", "bytes", "date",
    "time", "datetime", "timestamp", "year", "json", "enum", "set",
};

const char *wh_op_name(int op)
{
    return (op >= 0 && op < WH_OP__COUNT) ? op_names[op] : "unknown";
}

int wh_op_parse(const char *name, bool kv)
{
    if (strcmp(name, "delete") == 0)
        return kv ? WH_OP_KV_DELETE : WH_OP_DELETE;
    for (int op = 0; op < WH_OP__COUNT; op++)
        if (strcmp(name, op_names[op]) == 0)
            return op;
    return -1;
}

const char *wh_type_name(int type)
{
    return (type >= 0 && type < WH_T__COUNT) ? type_names[type] : "unknown";
}

int wh_row_find(const wh_row *row, const char *name, size_t name_len)
{
    for (uint32_t k = 0; k < row->count; k++) {
        const char *n = row->names[k];
        if (n && strncmp(n, name, name_len) == 0 && n[name_len] == '\0')
            return (int)k;
    }
    return -1;
}

/* Appends ".ffffff" truncated to scale digits. */
static size_t format_fraction(char *p, size_t room, uint32_t usec, unsigned scale)
{
    if (scale == 0 || room < scale + 2)
        return 0;
    char digits[7];
    snprintf(digits, sizeof digits, "%06u", usec % 1000000u);
    p[0] = '.';
    memcpy(p + 1, digits, scale > 6 ? 6 : scale);
    return 1 + (scale > 6 ? 6 : scale);
}

size_t wh_temporal_format(const wh_value *v, char *buf, size_t buflen)
{
    const wh_temporal *t = &v->n.t;
    int n = 0;
    switch (v->type) {
    case WH_T_DATE:
        n = snprintf(buf, buflen, "%04u-%02u-%02u", t->year, t->month, t->day);
        return n < 0 ? 0 : (size_t)n;
    case WH_T_TIME:
        n = snprintf(buf, buflen, "%s%02u:%02u:%02u", t->negative ? "-" : "", t->hour,
                     t->minute, t->second);
        break;
    case WH_T_DATETIME:
    case WH_T_TIMESTAMP:
        n = snprintf(buf, buflen, "%04u-%02u-%02u %02u:%02u:%02u", t->year, t->month,
                     t->day, t->hour, t->minute, t->second);
        break;
    default:
        if (buflen)
            buf[0] = '\0';
        return 0;
    }
    if (n < 0 || (size_t)n >= buflen)
        return n < 0 ? 0 : buflen - 1;
    size_t len = (size_t)n;
    len += format_fraction(buf + len, buflen - len, t->usec, v->scale);
    buf[len] = '\0';
    return len;
}
