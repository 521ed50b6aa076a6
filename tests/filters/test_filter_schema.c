/* test_filter_schema.c -- wh_filter_missing_columns: the columns a filter tests on a table's
 * updates that the table lacks, scoped (the filter names the table) or not, exists-only or not,
 * with metadata tests deciding which column tests a table can reach. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/filter.h"
#include "tests/check.h"
#include "tests/filters/filter_test_util.h"

static char err[1024];

/* An update of db.table with op and the given column names (values NULL). */
static void mk(test_update *t, int op, const char *db, const char *table, const char *cols)
{
    static char names[8][32][32];
    static int which;
    char(*nm)[32] = names[which++ % 8];
    tu_init(t, op, db, table, 7);
    int k = 0;
    for (const char *p = cols; p && *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        snprintf(nm[k], sizeof nm[k], "%.*s", (int)n, p);
        tu_col(t, nm[k], tv_null(), tv_null());
        k++;
        p = e ? e + 1 : p + n;
    }
}

/* The missing columns of filter src (text, and again from its JSON form)
 * on u as "name:s|u[:e];..." in the filter's column order. */
static void expect(const char *src, const wh_update *u, const char *want, int line)
{
    wh_filter *f = NULL, *fj = NULL;
    if (wh_filter_parse_text(src, strlen(src), &f, err, sizeof err) != WH_OK) {
        fprintf(stderr, "line %d: cannot parse <%s>: %s\n", line, src, err);
        CHECK(0);
        return;
    }
    wh_buf b = WH_BUF_INIT;
    CHECK_EQ_INT(wh_filter_to_json(f, &b), WH_OK);
    CHECK_EQ_INT(wh_filter_parse_json(b.data, b.len, &fj, err, sizeof err), WH_OK);
    for (int v = 0; v < 2; v++) {
        wh_filter_missing m[16];
        int n = wh_filter_missing_columns(v ? fj : f, u, m, 16);
        char got[512] = "";
        for (int k = 0; k < n && k < 16; k++) {
            size_t len = strlen(got);
            snprintf(got + len, sizeof got - len, "%s%s:%s%s", k ? ";" : "", m[k].column,
                     m[k].scoped ? "s" : "u", m[k].exists_only ? ":e" : "");
        }
        if (n < 0)
            snprintf(got, sizeof got, "error %d", n);
        if (strcmp(got, want) != 0)
            fprintf(stderr, "line %d: <%s> (%s form) on %s.%s: expected \"%s\", got \"%s\"\n",
                    line, src, v ? "JSON" : "text", u->db ? u->db : "-",
                    u->table ? u->table : "-", want, got);
        CHECK(strcmp(got, want) == 0);
    }
    wh_buf_free(&b);
    wh_filter_free(f);
    wh_filter_free(fj);
}
#define EXPECT(src, t, want) expect(src, &(t)->u, want, __LINE__)

static void test_scoped(void)
{
    test_update users, users_ok, orders;
    mk(&users, WH_OP_INSERT, "app", "users", "id,name");
    mk(&users_ok, WH_OP_UPDATE, "app", "users", "id,name,status");
    mk(&orders, WH_OP_DELETE, "app", "orders", "id,amount");

    /* A filter that names the table: its columns must be the table's. */
    EXPECT("table = \"users\" and status = \"active\"", &users, "status:s");
    EXPECT("table = \"users\" and status = \"active\"", &users_ok, "");
    EXPECT("table = \"users\" and status = \"active\"", &orders, "");
    EXPECT("table = \"users\" and status in (\"a\", \"b\") and not exists deleted_at", &users,
           "status:s;deleted_at:s:e");
    EXPECT("table = \"users\" and (status = 1 or name = \"x\")", &users, "status:s");
    EXPECT("table in (\"users\", \"orders\") and amount = 5", &users, "amount:s");
    EXPECT("table in (\"users\", \"orders\") and amount = 5", &orders, "");
    /* Hashed in-lists of tables behave alike. */
    EXPECT("table in (\"users\", \"orders\", \"t1\", \"t2\", \"t3\", \"t4\", \"t5\", \"t6\", "
           "\"t7\", \"t8\") and amount = 5", &users, "amount:s");
    EXPECT("table in (\"t1\", \"t2\", \"t3\", \"t4\", \"t5\", \"t6\", \"t7\", \"t8\", \"t9\") "
           "and amount = 5", &users, "");
    /* One branch per table: each table is checked against its own columns. */
    const char *two = "(table = \"users\" and status = 1) or (table = \"orders\" and amount = 2)";
    EXPECT(two, &users, "status:s");
    EXPECT(two, &users_ok, "");
    EXPECT(two, &orders, "");
    mk(&orders, WH_OP_INSERT, "app", "orders", "id,total");
    EXPECT(two, &orders, "amount:s");
    /* not around the scope keeps it; not on the table test inverts it. */
    EXPECT("not (table = \"users\" and status = 1)", &users, "status:s");
    EXPECT("not (table = \"users\" and status = 1)", &orders, "");
    EXPECT("not (table = \"logs\") and status = 1", &users, "status:u");
    EXPECT("table != \"logs\" and status = 1", &users, "status:u");
    test_update logs;
    mk(&logs, WH_OP_INSERT, "app", "logs", "id");
    EXPECT("table != \"logs\" and status = 1", &logs, "");
    /* A bootstrap's snapshot row is a row of the table like an insert. */
    test_update snap;
    mk(&snap, WH_OP_SNAPSHOT, "app", "users", "id,name");
    EXPECT("table = \"users\" and status = \"active\"", &snap, "status:s");
    EXPECT("op = \"insert\" and table = \"users\" and status = 1", &snap, "status:s");
    /* Every image prefix names the same column of the table. */
    EXPECT("table = \"users\" and before.status = 1 and after.x = 2 and row.id = 3", &users,
           "status:s;x:s");
}

static void test_unscoped(void)
{
    test_update users;
    mk(&users, WH_OP_INSERT, "app", "users", "id,status");
    EXPECT("stauts = 1", &users, "stauts:u");
    EXPECT("status = 1", &users, "");
    EXPECT("not exists deleted_at", &users, "deleted_at:u:e");
    EXPECT("exists deleted_at or deleted_at = null", &users, "deleted_at:u");
    /* A column tested both on the table and on any table is unscoped. */
    EXPECT("(table = \"users\" and x = 1) or x = 2", &users, "x:u");
    /* Metadata is not a column; a backquoted name is. */
    EXPECT("op = \"insert\" and db = \"app\" and table = \"users\" and shard = \"shard1\"",
           &users, "");
    EXPECT("`op` = 1 and `table` = \"x\"", &users, "op:u;table:u");
    EXPECT("true", &users, "");
    EXPECT("false", &users, "");
    EXPECT("false and x = 1", &users, "");
}

static void test_metadata_reach(void)
{
    test_update users;
    mk(&users, WH_OP_UPDATE, "app", "users", "id");
    /* Any SQL row op may come from the table: op tests keep the column reachable. */
    EXPECT("op = \"delete\" and before.x = 1", &users, "x:u");
    EXPECT("op = \"insert\" and x = 1", &users, "x:u");
    /* Ops the table never has make it unreachable. */
    EXPECT("op = \"put\" and x = 1", &users, "");
    EXPECT("op in (\"ddl\", \"merge\") and x = 1", &users, "");
    /* Databases: a test on another database's tables does not apply. */
    EXPECT("db = \"other\" and x = 1", &users, "");
    EXPECT("db = \"app\" and x = 1", &users, "x:u");
    EXPECT("db = \"app\" and table = \"users\" and x = 1", &users, "x:s");
    EXPECT("shard = \"shard2\" and x = 1", &users, "");
    EXPECT("shard = \"shard1\" and x = 1", &users, "x:u");
    EXPECT("exists db and x = 1", &users, "x:u");
    EXPECT("not exists table and x = 1", &users, "");
    /* cf never holds for an SQL table. */
    EXPECT("cf = \"users\" and x = 1", &users, "");
    /* Updates without rows (DDL) are never checked. */
    test_update ddl;
    mk(&ddl, WH_OP_DDL, "app", "users", "");
    ddl.u.has_before = ddl.u.has_after = false;
    EXPECT("table = \"users\" and x = 1", &ddl, "");
}

static void test_kv(void)
{
    test_update put, del, put_other;
    mk(&put, WH_OP_PUT, NULL, "default", "key,value");
    mk(&del, WH_OP_KV_DELETE, NULL, "default", "key");
    mk(&put_other, WH_OP_PUT, NULL, "meta", "key,value");
    EXPECT("cf = \"default\" and value = \"x\"", &put, "");
    EXPECT("cf = \"default\" and vlaue = \"x\"", &put, "vlaue:s");
    EXPECT("cf = \"default\" and vlaue = \"x\"", &put_other, "");
    /* A delete carries only the key: not checked. */
    EXPECT("cf = \"default\" and value = \"x\"", &del, "");
    /* table never holds for a key-value op. */
    EXPECT("table = \"default\" and vlaue = 1", &put, "");
    EXPECT("op = \"delete_range\" and end_key = \"k\"", &put, "");
    EXPECT("end_key = \"k\"", &put, "end_key:u");
}

static void test_api(void)
{
    test_update users;
    mk(&users, WH_OP_INSERT, "app", "users", "id");
    wh_filter *f = NULL;
    const char *src = "a = 1 and b = 2 and id = 3 and c = 4";
    CHECK_EQ_INT(wh_filter_parse_text(src, strlen(src), &f, err, sizeof err), WH_OK);
    wh_filter_missing m[2];
    /* The count is of every missing column; only max are written. */
    CHECK_EQ_INT(wh_filter_missing_columns(f, &users.u, m, 2), 3);
    CHECK_EQ_STR(m[0].column, "a");
    CHECK_EQ_STR(m[1].column, "b");
    CHECK_EQ_INT(m[1].len, 1);
    CHECK_EQ_INT(wh_filter_missing_columns(f, &users.u, NULL, 0), 3);
    CHECK_EQ_INT(wh_filter_missing_columns(f, &users.u, NULL, 1), WH_ERR_INVALID);
    CHECK_EQ_INT(wh_filter_missing_columns(NULL, &users.u, m, 2), WH_ERR_INVALID);
    CHECK_EQ_INT(wh_filter_missing_columns(f, NULL, m, 2), WH_ERR_INVALID);
    /* Matching still works and the check leaves it alone. */
    CHECK(!wh_filter_match(f, &users.u));
    CHECK_EQ_INT(wh_filter_missing_columns(f, &users.u, m, 2), 3);
    wh_filter_free(f);
    /* A column name with odd bytes comes back as written. */
    const char *odd = "{\"and\":[{\"eq\":[\"table\",\"users\"]},{\"eq\":[\"row.a b`c\",1]}]}";
    CHECK_EQ_INT(wh_filter_parse_json(odd, strlen(odd), &f, err, sizeof err), WH_OK);
    CHECK_EQ_INT(wh_filter_missing_columns(f, &users.u, m, 2), 1);
    CHECK_EQ_STR(m[0].column, "a b`c");
    CHECK(m[0].scoped && !m[0].exists_only);
    wh_filter_free(f);
}

int main(void)
{
    test_scoped();
    test_unscoped();
    test_metadata_reach();
    test_kv();
    test_api();
    return check_done("test_filter_schema");
}
