/* test_zk_roles.c -- unit tests of the role nodes of protocol/zk_layout.c: candidate, lease and move paths and data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/zk_layout.h"
#include "tests/check.h"

static void test_paths(void)
{
    char p[ZKU_PATH_MAX];
    CHECK_EQ_INT(zku_path_candidates(p, sizeof p, "/wh", "s1"), WH_OK);
    CHECK_EQ_STR(p, "/wh/shards/s1/candidates");
    CHECK_EQ_INT(zku_path_candidate(p, sizeof p, "/wh", "s1", "pub-a"), WH_OK);
    CHECK_EQ_STR(p, "/wh/shards/s1/candidates/pub-a");
    CHECK_EQ_INT(zku_path_lease(p, sizeof p, "/wh", "s1"), WH_OK);
    CHECK_EQ_STR(p, "/wh/shards/s1/lease");
    CHECK_EQ_INT(zku_path_move(p, sizeof p, "/wh", "s1"), WH_OK);
    CHECK_EQ_STR(p, "/wh/shards/s1/move");
    char small[20];
    CHECK_EQ_INT(zku_path_candidate(small, sizeof small, "/wh", "s1", "pub-a"), WH_ERR_LIMIT);
    CHECK_EQ_STR(small, "");
}

static void test_candidate(void)
{
    char *data = NULL, err[256];
    zku_candidate c = { .priority = -7, .healthy = false, .starting = true, .pid = 42 };
    snprintf(c.reason, sizeof c.reason, "the replica lags \"9\" s");
    snprintf(c.host, sizeof c.host, "h1");
    CHECK_EQ_INT(zku_candidate_to_json(&c, &data, err, sizeof err), WH_OK);
    CHECK_EQ_STR(data, "{\"healthy\":false,\"host\":\"h1\",\"pid\":42,\"priority\":-7,"
                       "\"reason\":\"the replica lags \\\"9\\\" s\",\"starting\":true}");
    zku_candidate got;
    CHECK_EQ_INT(zku_candidate_from_json(data, strlen(data), &got, err, sizeof err), WH_OK);
    CHECK_EQ_INT(got.priority, -7);
    CHECK(!got.healthy && got.starting);
    CHECK_EQ_INT(got.pid, 42);
    CHECK_EQ_STR(got.reason, "the replica lags \"9\" s");
    CHECK_EQ_STR(got.host, "h1");
    free(data);

    /* Only priority and healthy are required; wrong types are errors. */
    const char *min = "{\"priority\":3,\"healthy\":true}";
    CHECK_EQ_INT(zku_candidate_from_json(min, strlen(min), &got, err, sizeof err), WH_OK);
    CHECK(got.healthy && got.priority == 3 && got.reason[0] == '\0');
    CHECK(!got.starting);   /* an older publisher's node: not starting */
    const char *bad[] = { "{\"healthy\":true}", "{\"priority\":1}", "{\"priority\":\"1\","
                          "\"healthy\":true}", "{\"priority\":1,\"healthy\":1}",
                          "{\"priority\":1,\"healthy\":true,\"reason\":5}",
                          "{\"priority\":1,\"healthy\":false,\"starting\":1}", "[]", "nope" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(zku_candidate_from_json(bad[i], strlen(bad[i]), &got, err, sizeof err),
                     WH_ERR_PARSE);

    /* A reason longer than its buffer is cut, not refused. */
    char *longjson = malloc(4096);
    char reason[1500];
    memset(reason, 'x', sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    snprintf(longjson, 4096, "{\"priority\":1,\"healthy\":false,\"reason\":\"%s\"}", reason);
    CHECK_EQ_INT(zku_candidate_from_json(longjson, strlen(longjson), &got, err, sizeof err),
                 WH_OK);
    CHECK_EQ_INT(strlen(got.reason), ZKU_HEALTH_REASON_MAX - 1);
    free(longjson);
}

static void test_lease(void)
{
    char *data = NULL, err[256];
    zku_lease l = { .priority = 10 };
    snprintf(l.id, sizeof l.id, "pub-a");
    CHECK_EQ_INT(zku_lease_to_json(&l, &data, err, sizeof err), WH_OK);
    CHECK_EQ_STR(data, "{\"id\":\"pub-a\",\"priority\":10}");
    zku_lease got;
    CHECK_EQ_INT(zku_lease_from_json(data, strlen(data), &got, err, sizeof err), WH_OK);
    CHECK_EQ_STR(got.id, "pub-a");
    CHECK_EQ_INT(got.priority, 10);
    free(data);
    const char *bad[] = { "{\"id\":\"\",\"priority\":1}", "{\"priority\":1}",
                          "{\"id\":\"a\"}", "{\"id\":1,\"priority\":1}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(zku_lease_from_json(bad[i], strlen(bad[i]), &got, err, sizeof err),
                     WH_ERR_PARSE);
        CHECK(strstr(err, "lease") != NULL);
    }
}

static void test_move(void)
{
    char *data = NULL, err[256];
    zku_move m;
    memset(&m, 0, sizeof m);
    snprintf(m.from, sizeof m.from, "pub-a");
    snprintf(m.by, sizeof m.by, "ctl");
    CHECK_EQ_INT(zku_move_to_json(&m, &data, err, sizeof err), WH_OK);
    CHECK_EQ_STR(data, "{\"by\":\"ctl\",\"from\":\"pub-a\",\"to\":\"\"}");
    zku_move got;
    CHECK_EQ_INT(zku_move_from_json(data, strlen(data), &got, err, sizeof err), WH_OK);
    CHECK_EQ_STR(got.from, "pub-a");
    CHECK_EQ_STR(got.to, "");
    CHECK_EQ_STR(got.by, "ctl");
    free(data);
    CHECK_EQ_INT(zku_move_from_json("{}", 2, &got, err, sizeof err), WH_OK);
    CHECK(!got.from[0] && !got.to[0]);
    CHECK_EQ_INT(zku_move_from_json("{\"to\":3}", 8, &got, err, sizeof err), WH_ERR_PARSE);
}

int main(void)
{
    test_paths();
    test_candidate();
    test_lease();
    test_move();
    return check_done("test_zk_roles");
}
