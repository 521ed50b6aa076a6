/* update.c -- names and small helpers of the update model (see wormhole/update.h). */
#include <string.h>

#include "wormhole/update.h"

static const char *const op_names[WH_OP__COUNT] = {
    "insert", "update", "delete", "ddl", "put", "delete", "single_delete",
    "delete_range", "merge", "snapshot", "snapshot_begin", "snapshot_end",
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
