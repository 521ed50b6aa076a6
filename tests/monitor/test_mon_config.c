/* test_mon_config.c -- instance files: defaults, validation, errors naming file, line or key and reason. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "monitor/mon_config.h"

static char dir[] = "/tmp/wh-test-mon-config-XXXXXX";
static char path[256];

static int load(const char *text, mon_spec **s, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return mon_spec_load(path, s, err, errlen);
}

/* Loads text, expects WH_ERR_CONFIG and an error containing each of want[]. */
static void expect_error(const char *text, const char *want1, const char *want2)
{
    char err[1024];
    mon_spec *s = (mon_spec *)1;
    CHECK_EQ_INT(load(text, &s, err, sizeof err), WH_ERR_CONFIG);
    CHECK(s == NULL);
    CHECK(strstr(err, path) != NULL);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2))) {
        fprintf(stderr, "  error was: %s\n  wanted: %s / %s\n", err, want1, want2 ? want2 : "");
        CHECK(0);
    }
}

int main(void)
{
    char err[1024];
    mon_spec *s = NULL;
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/shard-a.json", dir);

    /* Defaults. */
    CHECK_EQ_INT(load("{}", &s, err, sizeof err), WH_OK);
    CHECK(s->enabled);
    CHECK_EQ_STR(s->command, "");
    CHECK_EQ_INT(json_array_size(s->args), 2);
    CHECK_EQ_STR(json_string_value(json_array_get(s->args, 1)), "{config}");
    CHECK_EQ_INT(s->policy.restart, MON_RESTART_ALWAYS);
    CHECK_EQ_INT(s->backoff_initial_ms, 1000);
    CHECK_EQ_INT(s->stuck_timeout_ms, 30000);
    CHECK_EQ_INT(s->policy.max_restarts, 5);
    CHECK(json_is_object(s->publisher));
    char *launch_default = strdup(s->launch);
    mon_spec_free(s);

    /* Everything set; key order and whitespace do not change the normalized forms. */
    const char *full =
        "{\"enabled\": false, \"command\": \"/bin/sleep\", \"args\": [\"100\"],\n"
        " \"environment\": {\"TZ\": \"UTC\", \"HOME\": null},\n"
        " \"restart\": \"on-failure\",\n"
        " \"backoff\": {\"initial_ms\": 5, \"max_ms\": 50, \"multiplier\": 3, \"reset_after_ms\": 10},\n"
        " \"crash_loop\": {\"max_restarts\": 2, \"window_ms\": 100, \"retry_ms\": 1000},\n"
        " \"health\": {\"startup_timeout_ms\": 0, \"stuck_timeout_ms\": 0},\n"
        " \"stop_timeout_ms\": 20, \"publisher\": {\"b\": 1, \"a\": [1, 2]}}";
    CHECK_EQ_INT(load(full, &s, err, sizeof err), WH_OK);
    CHECK(!s->enabled);
    CHECK_EQ_STR(s->command, "/bin/sleep");
    CHECK_EQ_INT(s->policy.restart, MON_RESTART_ON_FAILURE);
    CHECK_EQ_INT(s->policy.initial_ms, 5);
    CHECK(s->policy.multiplier == 3.0);
    CHECK_EQ_INT(s->policy.max_restarts, 2);
    CHECK_EQ_INT(s->stop_timeout_ms, 20);
    CHECK(strcmp(s->launch, launch_default) != 0);
    CHECK_EQ_STR(s->launch, "{\"args\":[\"100\"],\"command\":\"/bin/sleep\",\"environment\":"
                            "{\"HOME\":null,\"TZ\":\"UTC\"},\"publisher\":{\"a\":[1,2],\"b\":1}}");
    char *norm = strdup(s->normalized), *launch = strdup(s->launch);
    mon_spec_free(s);
    CHECK_EQ_INT(load("{\"publisher\":{\"a\":[1,2],\"b\":1},\"stop_timeout_ms\":20,"
                      "\"health\":{\"stuck_timeout_ms\":0,\"startup_timeout_ms\":0},"
                      "\"crash_loop\":{\"retry_ms\":1000,\"window_ms\":100,\"max_restarts\":2},"
                      "\"backoff\":{\"reset_after_ms\":10,\"multiplier\":3,\"max_ms\":50,"
                      "\"initial_ms\":5},\"restart\":\"on-failure\",\"environment\":{\"HOME\":null,"
                      "\"TZ\":\"UTC\"},\"args\":[\"100\"],\"command\":\"/bin/sleep\","
                      "\"enabled\":false}", &s, err, sizeof err), WH_OK);
    CHECK_EQ_STR(s->normalized, norm);
    mon_spec_free(s);
    /* A supervision-only change keeps the launch form. */
    CHECK_EQ_INT(load("{\"command\": \"/bin/sleep\", \"args\": [\"100\"],"
                      "\"environment\": {\"TZ\": \"UTC\", \"HOME\": null},"
                      "\"publisher\": {\"b\": 1, \"a\": [1, 2]}, \"stop_timeout_ms\": 999}",
                      &s, err, sizeof err), WH_OK);
    CHECK_EQ_STR(s->launch, launch);
    CHECK(strcmp(s->normalized, norm) != 0);
    mon_spec_free(s);
    free(norm);
    free(launch);
    free(launch_default);

    /* Errors: JSON syntax gives line and column. */
    expect_error("{\n  \"enabled\": true,\n  \"restart\": \"always\"\n  \"x\": 1\n}", ":4:", NULL);
    expect_error("", ":", "end of file");
    expect_error("{\"a\": 1, \"a\": 2}", "duplicate", NULL);
    expect_error("[1, 2]", "expected a JSON object", NULL);
    /* ... and keys name the setting. */
    expect_error("{\"enabeld\": true}", "'enabeld'", "unknown setting");
    expect_error("{\"enabled\": 1}", "'enabled'", "true or false");
    expect_error("{\"restart\": \"sometimes\"}", "'restart'", "always, on-failure, never");
    expect_error("{\"backoff\": {\"initial_ms\": -1}}", "'backoff.initial_ms'", "out of range");
    expect_error("{\"backoff\": {\"initial_ms\": 500, \"max_ms\": 100}}", "'backoff.max_ms'",
                 "below");
    expect_error("{\"backoff\": {\"jitter\": 1}}", "'backoff.jitter'", "unknown");
    expect_error("{\"backoff\": 5}", "'backoff'", "expected an object");
    expect_error("{\"args\": \"--config\"}", "'args'", "array of strings");
    expect_error("{\"args\": [\"a\", 2]}", "'args'", "element 1");
    expect_error("{\"environment\": []}", "'environment'", "object");
    expect_error("{\"environment\": {\"A=B\": \"x\"}}", "'environment.A=B'", "variable name");
    expect_error("{\"environment\": {\"N\": 5}}", "'environment.N'", "string or null");
    expect_error("{\"environment\": {\"WORMHOLE_CONFIG\": \"x\"}}", "'environment.WORMHOLE_CONFIG'",
                 "set by the monitor");
    expect_error("{\"publisher\": \"x\"}", "'publisher'", "expected an object");
    expect_error("{\"crash_loop\": {\"max_restarts\": 0}}", "'crash_loop.max_restarts'",
                 "out of range");
    expect_error("{\"stop_timeout_ms\": 0}", "'stop_timeout_ms'", "out of range");
    /* Settings that must fit together name both sides. */
    expect_error("{\"health\": {\"stuck_timeout_ms\": 150}}", "'health.stuck_timeout_ms'",
                 "two heartbeats");
    expect_error("{\"health\": {\"stuck_timeout_ms\": 199}}", "WORMHOLE_STATUS_INTERVAL_MS",
                 "at least 200");

    /* Unreadable file. */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none.json", dir);
    CHECK_EQ_INT(mon_spec_load(missing, &s, err, sizeof err), WH_ERR_IO);
    CHECK(strstr(err, "none.json") != NULL);

    /* File names. */
    char inst[MON_NAME_MAX + 1];
    CHECK(mon_config_file_name("shard-a.json", inst));
    CHECK_EQ_STR(inst, "shard-a");
    CHECK(mon_config_file_name("db_1.prod.json", inst));
    CHECK_EQ_STR(inst, "db_1.prod");
    CHECK(!mon_config_file_name(".shard-a.json", NULL));
    CHECK(!mon_config_file_name("shard-a.json~", NULL));
    CHECK(!mon_config_file_name("shard-a.json.tmp", NULL));
    CHECK(!mon_config_file_name("#shard-a.json#", NULL));
    CHECK(!mon_config_file_name(".json", NULL));
    CHECK(!mon_config_file_name("a b.json", NULL));
    CHECK(!mon_config_file_name("4913", NULL));
    char longname[80];
    memset(longname, 'x', 65);
    strcpy(longname + 65, ".json");
    CHECK(!mon_config_file_name(longname, NULL));
    longname[64] = '\0';
    strcat(longname, ".json");
    CHECK(mon_config_file_name(longname, NULL));
    CHECK(mon_config_ignored_name(".x.json.swp"));
    CHECK(mon_config_ignored_name("x.json~"));
    CHECK(mon_config_ignored_name("x.json.tmp"));
    CHECK(mon_config_ignored_name("README"));
    CHECK(!mon_config_ignored_name("a b.json"));

    unlink(path);
    rmdir(dir);
    return check_done("test_mon_config");
}
