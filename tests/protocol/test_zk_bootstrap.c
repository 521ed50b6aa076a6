/* test_zk_bootstrap.c -- the bootstrap nodes' paths and codecs (protocol/zk_bootstrap.h): round trips and what is refused. */
#include <stdlib.h>
#include <string.h>

#include "protocol/zk_bootstrap.h"
#include "tests/check.h"

static void test_paths(void)
{
    char buf[128];
    CHECK_EQ_INT(zku_path_bootstrap(buf, sizeof buf, "/wh", "idx"), WH_OK);
    CHECK_EQ_STR(buf, "/wh/apps/idx/bootstrap");
    CHECK_EQ_INT(zku_path_boot_progress(buf, sizeof buf, "/wh", "idx", "s1"), WH_OK);
    CHECK_EQ_STR(buf, "/wh/apps/idx/bootstrap/s1");
    CHECK_EQ_INT(zku_path_boot_progress(buf, 10, "/wh", "idx", "s1"), WH_ERR_LIMIT);
}

static void test_request(void)
{
    char err[256], *j = NULL;
    const char *tables[] = { "shop.items", "shop.stock" };
    CHECK_EQ_INT(zku_boot_request_to_json("b1", tables, 2, &j, err, sizeof err), WH_OK);
    CHECK_EQ_STR(j, "{\"id\":\"b1\",\"tables\":[\"shop.items\",\"shop.stock\"]}");
    zku_boot_request r;
    CHECK_EQ_INT(zku_boot_request_from_json(j, strlen(j), &r, err, sizeof err), WH_OK);
    CHECK_EQ_STR(r.id, "b1");
    CHECK_EQ_INT(r.ntables, 2);
    CHECK_EQ_STR(r.db[1], "shop");
    CHECK_EQ_STR(r.table[1], "stock");
    zku_boot_request_free(&r);
    free(j);
    const char *bad[] = { "shop.items.x" };
    CHECK_EQ_INT(zku_boot_request_to_json("b1", bad, 1, &j, err, sizeof err), WH_ERR_PARSE);
    CHECK(strstr(err, "shop.items.x") != NULL);
    /* Column families: a bare name, or .name for one with dots; no db. */
    const char *cfs[] = { "default", ".my.cf" };
    CHECK_EQ_INT(zku_boot_request_to_json("b2", cfs, 2, &j, err, sizeof err), WH_OK);
    CHECK_EQ_INT(zku_boot_request_from_json(j, strlen(j), &r, err, sizeof err), WH_OK);
    CHECK_EQ_INT(r.ntables, 2);
    CHECK_EQ_STR(r.db[0], "");
    CHECK_EQ_STR(r.table[0], "default");
    CHECK_EQ_STR(r.db[1], "");
    CHECK_EQ_STR(r.table[1], "my.cf");
    zku_boot_request_free(&r);
    free(j);
    CHECK_EQ_INT(zku_boot_request_to_json("has space", tables, 1, &j, err, sizeof err),
                 WH_ERR_PARSE);
    CHECK_EQ_INT(zku_boot_request_to_json("b1", tables, 0, &j, err, sizeof err), WH_ERR_PARSE);
    static const char *const invalid[] = {
        "", "[]", "{\"id\":\"b1\"}", "{\"id\":\"b1\",\"tables\":[]}",
        "{\"id\":\"b1\",\"tables\":[\"a.b.c\"]}", "{\"id\":7,\"tables\":[\"a.b\"]}",
        "{\"id\":\"b1\",\"tables\":[\"a.\"]}", "{\"id\":\"b1\",\"tables\":[\".\"]}",
        "{\"id\":\"b1\",\"tables\":[\"\"]}",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        CHECK_EQ_INT(zku_boot_request_from_json(invalid[i], strlen(invalid[i]), &r, err,
                                                sizeof err), WH_ERR_PARSE);
        zku_boot_request_free(&r);
    }
}

static void test_progress(void)
{
    char err[256], *j = NULL;
    zku_boot_progress p = { .table = 1, .key = json_pack("[s,{s:s}]", "42", "hex", "00ff"),
                            .rows = 20000, .table_rows = 5000, .estimate = 100000,
                            .dropped = 3, .started_ms = 1000, .updated_ms = 2000 };
    strcpy(p.id, "b1");
    CHECK_EQ_INT(zku_boot_progress_to_json(&p, &j, err, sizeof err), WH_OK);
    zku_boot_progress q;
    CHECK_EQ_INT(zku_boot_progress_from_json(j, strlen(j), &q, err, sizeof err), WH_OK);
    CHECK_EQ_STR(q.id, "b1");
    CHECK_EQ_INT(q.table, 1);
    CHECK(json_equal(q.key, p.key));
    CHECK_EQ_INT(q.rows, 20000);
    CHECK_EQ_INT(q.table_rows, 5000);
    CHECK_EQ_INT(q.estimate, 100000);
    CHECK_EQ_INT(q.dropped, 3);
    CHECK(!q.done);
    CHECK_EQ_INT(q.updated_ms, 2000);
    zku_boot_progress_free(&q);
    zku_boot_progress_free(&p);
    free(j);
    /* From a table's start: key null. */
    const char *start = "{\"id\":\"b2\",\"table\":0,\"key\":null,\"done\":true}";
    CHECK_EQ_INT(zku_boot_progress_from_json(start, strlen(start), &q, err, sizeof err), WH_OK);
    CHECK(q.key == NULL && q.done);
    zku_boot_progress_free(&q);
    static const char *const invalid[] = {
        "{}", "{\"id\":\"b1\",\"table\":-1}", "{\"id\":\"b1\",\"key\":\"42\"}",
        "{\"id\":\"b1\",\"rows\":\"many\"}", "not json",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        CHECK_EQ_INT(zku_boot_progress_from_json(invalid[i], strlen(invalid[i]), &q, err,
                                                 sizeof err), WH_ERR_PARSE);
        CHECK(q.key == NULL);
    }
}

int main(void)
{
    test_paths();
    test_request();
    test_progress();
    return check_done("test_zk_bootstrap");
}
