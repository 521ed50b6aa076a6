/* bench_filter.c -- evaluations per second of compiled filters with 1, 5 and
 * 20 predicates on realistic updates, on one core.
 *
 * The stream is a mix of a 12-column users table (integers, strings, an
 * enum, a decimal, datetimes, a nullable column) with orders and sessions
 * updates, as a binlog of an application database would carry. Each figure
 * runs the filter over the stream for about a second (WH_BENCH_SECONDS);
 * WH_BENCH_ONLY=TEXT runs only the figures whose label holds TEXT. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_util.h"
#include "filters/filter.h"
#include "tests/filters/filter_test_util.h"

/* A publisher filters each batch right after decoding it, while it is in
 * cache: the hot figures use a batch of HOT updates; the cold ones stream
 * over NUPDATES (several MB) to show the cost of cache misses. */
#define NUPDATES 4096
#define HOT 256

static const char *const user_cols[12] = {
    "id", "account_id", "email", "name", "status", "country", "age", "balance", "score",
    "created_at", "updated_at", "deleted_at",
};
static const char *const order_cols[6] = { "id", "user_id", "total", "state", "created_at", "note" };
static const char *const session_cols[4] = { "id", "user_id", "token", "expires_at" };

typedef struct bupdate {
    wh_update u;
    wh_value  before[12], after[12];
    char      email[48], name[32], balance[24], total[24];
} bupdate;

static uint64_t rng = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static wh_value dt(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
                   uint8_t type)
{
    return tv_temporal(type, y, mo, d, h, mi, s, 0, 0);
}

static void user_row(bupdate *b, wh_value *row, bool deleted)
{
    static const char *const statuses[] = { "active", "trial", "suspended", "closed" };
    static const char *const countries[] = { "US", "CA", "GB", "DE", "FR", "BR", "IN", "JP" };
    unsigned id = 1 + rnd(1000000);
    snprintf(b->email, sizeof b->email, "user%u@example.com", id);
    snprintf(b->name, sizeof b->name, "User %u", id);
    snprintf(b->balance, sizeof b->balance, "%u.%02u", rnd(10000), rnd(100));
    unsigned st = rnd(4);
    row[0] = tv_int(id);
    row[1] = tv_uint(1 + rnd(500));
    row[2] = tv_str(b->email);
    row[3] = tv_str(b->name);
    row[4] = tv_enum(statuses[st], st + 1);
    row[5] = tv_str(countries[rnd(8)]);
    row[6] = tv_int(rnd(5) == 0 ? 0 : 18 + rnd(60));
    row[7] = tv_dec(b->balance);
    row[8] = tv_double(rnd(1000) / 10.0);
    row[9] = dt(2020 + rnd(5), 1 + rnd(12), 1 + rnd(28), rnd(24), rnd(60), rnd(60), WH_T_DATETIME);
    row[10] = dt(2024, 1 + rnd(12), 1 + rnd(28), rnd(24), rnd(60), rnd(60), WH_T_TIMESTAMP);
    row[11] = deleted ? dt(2024, 6, 1, 0, 0, 0, WH_T_DATETIME) : tv_null();
}

static void make_update(bupdate *b, bool users_only)
{
    memset(&b->u, 0, sizeof b->u);
    unsigned r = rnd(100), kind = users_only || r < 70 ? 0 : r < 90 ? 1 : 2;
    unsigned o = rnd(10);
    int op = o < 3 ? WH_OP_INSERT : o < 9 ? WH_OP_UPDATE : WH_OP_DELETE;
    wh_update *u = &b->u;
    u->shard = "shard-17";
    u->op = (uint8_t)op;
    u->db = "app";
    u->has_before = op != WH_OP_INSERT;
    u->has_after = op != WH_OP_DELETE;
    if (kind == 0) {
        u->table = "users";
        u->schema_id = 101;
        user_row(b, b->before, false);
        memcpy(b->after, b->before, sizeof b->after);
        b->after[10] = dt(2024, 7, 1 + rnd(28), rnd(24), rnd(60), rnd(60), WH_T_TIMESTAMP);
        if (rnd(3) == 0)
            b->after[4] = tv_enum("active", 1);
        if (rnd(20) == 0)
            b->after[11] = dt(2024, 7, 2, 0, 0, 0, WH_T_DATETIME);
        u->before.names = u->after.names = user_cols;
        u->before.count = u->after.count = 12;
    } else if (kind == 1) {
        u->table = "orders";
        u->schema_id = 102;
        snprintf(b->total, sizeof b->total, "%u.%02u", rnd(1000), rnd(100));
        b->after[0] = tv_int(rnd(1 << 30));
        b->after[1] = tv_int(rnd(1000000));
        b->after[2] = tv_dec(b->total);
        b->after[3] = tv_enum(rnd(2) ? "paid" : "open", 1);
        b->after[4] = dt(2024, 7, 1, 0, 0, 0, WH_T_DATETIME);
        b->after[5] = tv_null();
        memcpy(b->before, b->after, sizeof b->after);
        u->before.names = u->after.names = order_cols;
        u->before.count = u->after.count = 6;
    } else {
        u->table = "sessions";
        u->schema_id = 103;
        b->after[0] = tv_int(rnd(1 << 30));
        b->after[1] = tv_int(rnd(1000000));
        b->after[2] = tv_bytes("0123456789abcdef", 16);
        b->after[3] = dt(2024, 8, 1, 0, 0, 0, WH_T_TIMESTAMP);
        memcpy(b->before, b->after, sizeof b->after);
        u->before.names = u->after.names = session_cols;
        u->before.count = u->after.count = 4;
    }
    u->before.values = b->before;
    u->after.values = b->after;
}

/* CPU time of this thread: the figures are per core even when the machine
 * is shared. */
static void run(const char *label, const char *src, bupdate *ups, int n, double seconds,
                bool zero_ids)
{
    char err[512];
    wh_filter *f = NULL;
    const char *only = getenv("WH_BENCH_ONLY");    /* e.g. "5 predicates, users" for perf */
    if (only && *only && !strstr(label, only))
        return;
    if (wh_filter_parse_text(src, strlen(src), &f, err, sizeof err) != WH_OK) {
        fprintf(stderr, "bench_filter: %s\n", err);
        exit(1);
    }
    uint64_t saved[NUPDATES];
    if (zero_ids)
        for (int k = 0; k < n; k++) {
            saved[k] = ups[k].u.schema_id;
            ups[k].u.schema_id = 0;
        }
    uint64_t evals = 0, matched = 0;
    double start = bench_now(CLOCK_THREAD_CPUTIME_ID), end;
    do {
        for (int rep = 0; rep < 16; rep++)
            for (int k = 0; k < n; k++)
                matched += wh_filter_match(f, &ups[k].u);
        evals += 16 * (uint64_t)n;
        end = bench_now(CLOCK_THREAD_CPUTIME_ID);
    } while (end - start < seconds);
    double rate = (double)evals / (end - start);
    printf("%-44s %7.1f M evaluations/s  %6.2f ns each  %5.1f%% matched\n", label, rate / 1e6,
           1e9 / rate, 100.0 * (double)matched / (double)evals);
    if (zero_ids)
        for (int k = 0; k < n; k++)
            ups[k].u.schema_id = saved[k];
    wh_filter_free(f);
}

int main(void)
{
    double seconds = 1.0;
    const char *env = getenv("WH_BENCH_SECONDS");
    if (env && *env)
        seconds = atof(env);
    bupdate *mixed = calloc(NUPDATES, sizeof *mixed), *users = calloc(NUPDATES, sizeof *users);
    if (!mixed || !users)
        return 1;
    for (int k = 0; k < NUPDATES; k++) {
        make_update(&mixed[k], false);
        make_update(&users[k], true);
    }
    const char *f1 = "table = \"users\"";
    const char *f5 = "table = \"users\" and op in (\"insert\", \"update\") and "
                     "status in (\"active\", \"trial\") and country != \"JP\" and age != 0";
    const char *f20 =
        "db = \"app\" and table = \"users\" and op in (\"insert\", \"update\") and "
        "status in (\"active\", \"trial\") and "
        "country in (\"US\", \"CA\", \"GB\", \"DE\", \"FR\", \"BR\", \"ES\", \"IT\", \"NL\", \"SE\") and "
        "age != 0 and exists email and name != \"\" and account_id not in (7, 13, 99) and "
        "balance != 0 and score != -1 and not exists before.nosuch and "
        "created_at != \"1970-01-01 00:00:00\" and deleted_at = null and id != 0 and "
        "(before.status != \"closed\" or after.status = \"active\") and "
        "exists updated_at and shard = \"shard-17\" and op != \"delete\"";
    printf("bench_filter: one core; mixed stream = 70%% users (12 columns), 20%% orders, "
           "10%% sessions\n");
    printf("hot: a batch of %d updates in cache (as right after decoding)\n", HOT);
    run("1 predicate, mixed", f1, mixed, HOT, seconds, false);
    run("5 predicates, mixed", f5, mixed, HOT, seconds, false);
    run("5 predicates, users only (all evaluated)", f5, users, HOT, seconds, false);
    run("5 predicates, users only, schema_id 0", f5, users, HOT, seconds, true);
    run("20 predicates, mixed", f20, mixed, HOT, seconds, false);
    run("20 predicates, users only", f20, users, HOT, seconds, false);
    printf("cold: streaming over %d updates (%.1f MB, mostly cache misses)\n", NUPDATES,
           NUPDATES * (double)sizeof *mixed / 1e6);
    run("1 predicate, mixed", f1, mixed, NUPDATES, seconds, false);
    run("5 predicates, mixed", f5, mixed, NUPDATES, seconds, false);
    run("20 predicates, mixed", f20, mixed, NUPDATES, seconds, false);
    free(mixed);
    free(users);
    return 0;
}
