/* filter_test_util.h -- value and update builders shared by the filter tests
 * and the filter benchmark. */
#ifndef WH_FILTER_TEST_UTIL_H
#define WH_FILTER_TEST_UTIL_H

#include <string.h>

#include "filters/filter.h"
#include "wormhole/update.h"

static inline wh_value tv_null(void) { wh_value v = { .type = WH_T_NULL }; return v; }
static inline wh_value tv_absent(void) { wh_value v = { .type = WH_T_ABSENT }; return v; }
static inline wh_value tv_int(int64_t i) { wh_value v = { .type = WH_T_INT }; v.n.i = i; return v; }
static inline wh_value tv_uint(uint64_t u) { wh_value v = { .type = WH_T_UINT }; v.n.u = u; return v; }
static inline wh_value tv_year(unsigned y) { wh_value v = { .type = WH_T_YEAR }; v.n.u = y; return v; }
static inline wh_value tv_double(double d) { wh_value v = { .type = WH_T_FLOAT }; v.n.d = d; return v; }
static inline wh_value tv_float(float f)
{
    wh_value v = { .type = WH_T_FLOAT, .flags = WH_VF_FLOAT32 };
    v.n.d = (double)f;
    return v;
}
static inline wh_value tv_text(uint8_t type, const char *s, size_t n)
{
    wh_value v = { .type = type, .len = (uint32_t)n, .str = s };
    return v;
}
static inline wh_value tv_str(const char *s) { return tv_text(WH_T_STRING, s, strlen(s)); }
static inline wh_value tv_dec(const char *s) { return tv_text(WH_T_DECIMAL, s, strlen(s)); }
static inline wh_value tv_json(const char *s) { return tv_text(WH_T_JSON, s, strlen(s)); }
static inline wh_value tv_bytes(const char *s, size_t n) { return tv_text(WH_T_BYTES, s, n); }
static inline wh_value tv_enum(const char *name, unsigned index)
{
    wh_value v = { .type = WH_T_ENUM, .len = name ? (uint32_t)strlen(name) : 0, .str = name };
    v.n.u = index;
    return v;
}
static inline wh_value tv_set(const char *names, uint64_t mask)
{
    wh_value v = { .type = WH_T_SET, .len = names ? (uint32_t)strlen(names) : 0, .str = names };
    v.n.u = mask;
    return v;
}
static inline wh_value tv_temporal(uint8_t type, unsigned y, unsigned mo, unsigned d, unsigned h,
                                   unsigned mi, unsigned s, unsigned usec, unsigned scale)
{
    wh_value v = { .type = type, .scale = (uint8_t)scale };
    v.n.t.year = (uint16_t)y;
    v.n.t.month = (uint8_t)mo;
    v.n.t.day = (uint8_t)d;
    v.n.t.hour = (uint16_t)h;
    v.n.t.minute = (uint8_t)mi;
    v.n.t.second = (uint8_t)s;
    v.n.t.usec = usec;
    return v;
}

/* An update over one table with up to 32 columns. */
typedef struct test_update {
    wh_update   u;
    const char *names[32];
    wh_value    before[32];
    wh_value    after[32];
    uint32_t    count;
} test_update;

/* Starts an update: op, db, table, schema_id; rows empty. */
static inline void tu_init(test_update *t, int op, const char *db, const char *table,
                           uint64_t schema_id)
{
    memset(t, 0, sizeof *t);
    t->u.shard = "shard1";
    t->u.op = (uint8_t)op;
    t->u.db = db;
    t->u.table = table;
    t->u.schema_id = schema_id;
    t->u.before.names = t->names;
    t->u.before.values = t->before;
    t->u.after.names = t->names;
    t->u.after.values = t->after;
    t->u.has_before = op == WH_OP_UPDATE || op == WH_OP_DELETE || op == WH_OP_KV_DELETE;
    t->u.has_after = op == WH_OP_INSERT || op == WH_OP_UPDATE || op == WH_OP_PUT ||
                     op == WH_OP_SNAPSHOT;
}

/* Adds a column with its before and after values (absent where the image
 * does not exist). */
static inline void tu_col(test_update *t, const char *name, wh_value before, wh_value after)
{
    t->names[t->count] = name;
    t->before[t->count] = before;
    t->after[t->count] = after;
    t->count++;
    t->u.before.count = t->count;
    t->u.after.count = t->count;
}

#endif
