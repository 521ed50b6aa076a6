/* filter_schema.c -- wh_filter_missing_columns: which columns a filter tests on a table's updates
 * that the table's schema does not have (docs/FILTERS.md, "Checking a filter against schemas").
 *
 * The compiled program is a DAG whose jumps all go forward (filter_compile
 * emits the targets of an instruction before the instruction and then
 * reverses the program), so the instructions an update of a given table
 * can reach are found in one pass in program order: metadata tests are
 * decided by the table's db, table (or column family) and shard, op tests
 * by the ops the table's updates can have, and column tests go both ways.
 * Running the pass twice, once with the table's name and once with a name
 * the filter does not mention, tells the columns the filter tests only
 * because it names the table (scoped) from those it tests on any table. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "filters/filter_int.h"

/* SQL row ops, a bootstrap's snapshot ops included (as in filter_eval.c). */
static inline bool op_is_sql(unsigned op)
{
    return op < WH_OP_PUT || (op >= WH_OP_SNAPSHOT && op < WH_OP__COUNT);
}

/* The metadata string of key for updates like u; anon_table: the table (or
 * column family) is one the filter does not name. */
typedef struct schema_ctx {
    const wh_update *u;
    bool sql;
    bool anon_table;
    uint32_t ops;      /* bit mask of the ops considered */
} schema_ctx;

static const char *ctx_meta(const schema_ctx *x, uint8_t key, bool *anon)
{
    *anon = false;
    switch ((filter_key_kind)key) {
    case FK_DB:
        return x->sql ? x->u->db : NULL;
    case FK_TABLE:
    case FK_CF:
        /* A RocksDB bootstrap's snapshot rows (no db) answer to cf too (filter_eval.c). */
        if (((key == FK_TABLE) != x->sql && !(key == FK_CF && !x->u->db &&
                                              x->u->op >= WH_OP_SNAPSHOT)) || !x->u->table)
            return NULL;
        *anon = x->anon_table;
        return x->u->table;
    case FK_SHARD:
        return x->u->shard;
    case FK_OP:
    case FK_COLUMN:
    case FK__COUNT:
        break;
    }
    return NULL;
}

static bool set_has(const filter_set *set, const char *s)
{
    size_t n = strlen(s);
    for (uint32_t k = 0; k < set->n; k++) {
        const filter_const *c = &set->c[k];
        if (c->cls == FCC_STR && c->len == n && memcmp(c->s, s, n) == 0)
            return true;
    }
    return false;
}

/* Marks in reach[] the instructions an update described by x can reach. */
static void reach_pass(const wh_filter *f, const schema_ctx *x, bool *reach)
{
    memset(reach, 0, f->nprog * sizeof *reach);
    if (f->entry >= 0)
        reach[f->entry] = true;
    for (uint32_t pc = 0; pc < f->nprog; pc++) {
        if (!reach[pc])
            continue;
        const filter_ins *in = &f->prog[pc];
        bool can_true = true, can_false = true, anon;
        const char *s;
        switch ((filter_ins_code)in->code) {
        case FINS_OPMASK:
            can_true = (in->opmask & x->ops) != 0;
            can_false = (~in->opmask & x->ops) != 0;
            break;
        case FINS_META_EXISTS:
            can_true = ctx_meta(x, in->key, &anon) != NULL;
            can_false = !can_true;
            break;
        case FINS_META_EQ:
        case FINS_META_IN:
            s = ctx_meta(x, in->key, &anon);
            can_true = s && !anon &&
                       (in->code == FINS_META_EQ
                            ? (in->c->cls == FCC_STR && strlen(s) == in->c->len &&
                               memcmp(s, in->c->s, in->c->len) == 0)
                            : set_has(in->set, s));
            can_false = !can_true;
            break;
        case FINS_COL_EXISTS:
        case FINS_COL_EQ:
        case FINS_COL_IN:
            break;   /* the values decide: both ways */
        }
        /* Jumps go forward only (see the file comment). */
        assert(in->on_true < 0 || (uint32_t)in->on_true > pc);
        assert(in->on_false < 0 || (uint32_t)in->on_false > pc);
        if (can_true && in->on_true >= 0)
            reach[in->on_true] = true;
        if (can_false && in->on_false >= 0)
            reach[in->on_false] = true;
    }
}

/* Whether row's names hold the column [s, s+n). */
static bool row_has(const wh_row *row, const char *s, size_t n)
{
    return row->names && wh_row_find(row, s, n) >= 0;
}

int wh_filter_missing_columns(const wh_filter *f, const wh_update *u, wh_filter_missing *out,
                              int max)
{
    if (!f || !u || max < 0 || (max > 0 && !out))
        return WH_ERR_INVALID;
    /* Every row op of an SQL table has the table's columns, so they are
     * checked together. A key-value store's ops carry different names (a
     * delete only the key, a delete_range the key and end_key): only a put
     * or a merge, which carries the value, is checked, with its own op. */
    bool kv_value = u->op == WH_OP_PUT || u->op == WH_OP_MERGE;
    if ((!u->has_before && !u->has_after) || u->op >= WH_OP__COUNT ||
        (!op_is_sql(u->op) && !kv_value) || u->op == WH_OP_DDL || f->nprog == 0 ||
        f->nslots == 0)
        return 0;
    schema_ctx x = { u, op_is_sql(u->op), false, 0 };
    x.ops = x.sql ? (1u << WH_OP_INSERT | 1u << WH_OP_UPDATE | 1u << WH_OP_DELETE |
                     1u << WH_OP_SNAPSHOT)
                  : 1u << u->op;

    bool *reach = calloc(2 * (size_t)f->nprog, sizeof *reach);
    uint8_t *slot = calloc(f->nslots, 1);
    if (!reach || !slot) {
        free(reach);
        free(slot);
        return WH_ERR_NOMEM;
    }
    bool *reach_anon = reach + f->nprog;
    reach_pass(f, &x, reach);
    x.anon_table = true;
    reach_pass(f, &x, reach_anon);

    /* Per slot: 1 reached, 2 reached by an instruction the anonymous table
     * reaches too (unscoped), 4 reached by a test other than exists. */
    for (uint32_t pc = 0; pc < f->nprog; pc++) {
        const filter_ins *in = &f->prog[pc];
        if (!reach[pc] || in->key != FK_COLUMN)
            continue;
        assert(in->slot < f->nslots);
        slot[in->slot] |= 1;
        if (reach_anon[pc])
            slot[in->slot] |= 2;
        if (in->code != FINS_COL_EXISTS)
            slot[in->slot] |= 4;
    }
    int found = 0;
    for (uint32_t s = 0; s < f->nslots; s++) {
        if (!(slot[s] & 1))
            continue;
        const char *name = f->slot_name[s];
        size_t len = f->slot_len[s];
        if ((u->has_after && row_has(&u->after, name, len)) ||
            (u->has_before && row_has(&u->before, name, len)))
            continue;
        if (found < max) {
            out[found].column = name;
            out[found].len = len;
            out[found].scoped = !(slot[s] & 2);
            out[found].exists_only = !(slot[s] & 4);
        }
        found++;
    }
    free(reach);
    free(slot);
    return found;
}
