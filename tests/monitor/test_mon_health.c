/* test_mon_health.c -- the status channel end to end (protocol/status_file.c writes and parses, mon_health reads), exit records, run-dir records and spawn helpers. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "core/file.h"
#include "monitor/mon_config.h"
#include "monitor/mon_exit.h"
#include "monitor/mon_health.h"
#include "monitor/mon_rundir.h"
#include "monitor/mon_spawn.h"
#include "monitor/mon_status.h"
#include "protocol/status_file.h"

static void expect_parse(const char *text, int want, const char *msg)
{
    char err[256] = "";
    json_t *o = NULL;
    int rc = status_parse(text, strlen(text), 42, &o, err, sizeof err);
    CHECK_EQ_INT(rc, want);
    if (msg && !strstr(err, msg)) {
        fprintf(stderr, "  error was: %s (wanted %s)\n", err, msg);
        CHECK(0);
    }
    CHECK((rc == 0) == (o != NULL));
    json_decref(o);
}

/* A running bootstrap in the status file (status_add_bootstrap), read back
 * (status_parse) and printed by `wormhole-monitor status` (mon_status_print). */
static void test_bootstraps(void)
{
    char err[256], *text = NULL, *printed = NULL;
    size_t plen = 0;
    json_t *ex = json_object(), *got = NULL;
    status_bootstrap b = { .app = "index", .id = "b7", .table = "shop.items", .table_index = 0,
                           .tables = 2, .rows = 320000, .rows_acked = 310000,
                           .table_rows = 320000, .estimate = 1000000, .rows_per_sec = 61000.4,
                           .eta_s = 11, .reread = 1 };
    CHECK_EQ_INT(status_add_bootstrap(ex, &b), WH_OK);
    b = (status_bootstrap){ .app = "cache", .id = "c1", .tables = 1, .rows = 5, .eta_s = -1 };
    CHECK_EQ_INT(status_add_bootstrap(ex, &b), WH_OK);
    json_object_set_new(ex, "pid", json_integer(getpid()));
    CHECK((text = json_dumps(ex, JSON_COMPACT)) != NULL);
    CHECK_EQ_INT(status_parse(text, strlen(text), getpid(), &got, err, sizeof err), WH_OK);
    const json_t *list = json_object_get(got, "bootstraps");
    CHECK_EQ_INT(json_array_size(list), 2);
    const json_t *b0 = json_array_get(list, 0), *b1 = json_array_get(list, 1);
    CHECK_EQ_STR(json_string_value(json_object_get(b0, "table")), "shop.items");
    CHECK_EQ_INT(json_integer_value(json_object_get(b0, "estimate")), 1000000);
    CHECK_EQ_INT(json_integer_value(json_object_get(b0, "eta_s")), 11);
    CHECK(json_is_null(json_object_get(b1, "table")) && json_is_null(json_object_get(b1, "eta_s")));
    /* What `wormhole-monitor status` prints under the instance. */
    json_t *doc = json_pack("{s:n,s:[{s:s,s:s,s:O}]}", "monitor", "instances", "name", "pub1",
                            "state", "running", "report", got);
    FILE *mem = open_memstream(&printed, &plen);
    CHECK(doc && mem);
    mon_status_print(mem, doc);
    fclose(mem);
    CHECK(strstr(printed, "    bootstrap index b7: shop.items 320000 of ~1000000 rows (table 1 "
                          "of 2), 320000 rows in all (310000 acknowledged), 61000 rows/s, "
                          "ETA 11s\n") != NULL);
    CHECK(strstr(printed, "    bootstrap cache c1: (all sent) 0 of ~0 rows (table 1 of 1), 5 "
                          "rows in all (0 acknowledged), 0 rows/s, ETA -\n") != NULL);
    free(printed);
    json_decref(doc);
    json_decref(got);
    free(text);
    /* A malformed entry is refused. */
    expect_parse("{\"pid\":42,\"bootstraps\":{}}", WH_ERR_PARSE, "'bootstraps'");
    expect_parse("{\"pid\":42,\"bootstraps\":[{\"app\":\"a\",\"id\":\"b\"}]}",
                 WH_ERR_PARSE, "'bootstraps'");
    json_decref(ex);
}

int main(void)
{
    char err[512], dir[] = "/tmp/wh-test-health-XXXXXX", path[256];
    CHECK(mkdtemp(dir) != NULL);

    /* Parsing status documents. */
    expect_parse("{\"pid\":42}", 0, NULL);
    expect_parse("{\"pid\":42,\"state\":\"running\",\"position\":\"f:1\",\"lag_ms\":3,\"ts\":1,"
                 "\"x\":{}}", 0, NULL);
    expect_parse("{\"pid\":43}", WH_ERR_NOT_FOUND, "pid 43");
    expect_parse("{\"state\":\"running\"}", WH_ERR_PARSE, "'pid'");
    expect_parse("{\"pid\":\"42\"}", WH_ERR_PARSE, "'pid'");
    expect_parse("{\"pid\":42,\"state\":\"napping\"}", WH_ERR_PARSE, "'state'");
    expect_parse("{\"pid\":42,\"lag_ms\":-1}", WH_ERR_PARSE, "'lag_ms'");
    expect_parse("{\"pid\":42,\"position\":5}", WH_ERR_PARSE, "'position'");
    expect_parse("{\"pid\":42,\"error\":[]}", WH_ERR_PARSE, "'error'");
    expect_parse("{\"pid\":42", WH_ERR_PARSE, "line 1");
    expect_parse("[42]", WH_ERR_PARSE, "object");
    /* A publisher's role and epoch (docs/FAILOVER.md). */
    expect_parse("{\"pid\":42,\"role\":\"active\",\"epoch\":7}", 0, NULL);
    expect_parse("{\"pid\":42,\"role\":\"standby\",\"epoch\":0}", 0, NULL);
    expect_parse("{\"pid\":42,\"role\":\"leader\"}", WH_ERR_PARSE, "'role'");
    expect_parse("{\"pid\":42,\"role\":1}", WH_ERR_PARSE, "'role'");
    expect_parse("{\"pid\":42,\"epoch\":-1}", WH_ERR_PARSE, "'epoch'");
    json_t *ex = json_object();
    CHECK_EQ_INT(status_set_role(ex, "standby", 3), WH_OK);
    CHECK_EQ_STR(json_string_value(json_object_get(ex, "role")), "standby");
    CHECK_EQ_INT(json_integer_value(json_object_get(ex, "epoch")), 3);
    json_decref(ex);
    test_bootstraps();

    /* status_report writes, mon_health reads: every replacement is a heartbeat. */
    snprintf(path, sizeof path, "%s/status.json", dir);
    status_report *rep = NULL;
    CHECK_EQ_INT(status_report_new(&rep, path, 250, err, sizeof err), WH_OK);
    CHECK_EQ_INT(status_report_interval_ms(rep), 250);
    CHECK_EQ_INT(status_report_interval_ms(NULL), 1000);
    CHECK_EQ_INT(status_report_write(NULL, "running", "x", 1, NULL, err, sizeof err), WH_OK);
    mon_health h;
    mon_health_init(&h);
    CHECK_EQ_INT(mon_health_poll(&h, path, getpid(), 100, err, sizeof err), 0);  /* no file */
    CHECK_EQ_INT(status_report_write(rep, "starting", NULL, -1, NULL, err, sizeof err), WH_OK);
    CHECK_EQ_INT(mon_health_poll(&h, path, getpid(), 200, err, sizeof err), 1);
    CHECK(h.seen && !h.ready);
    CHECK_EQ_INT(h.last_mono, 200);
    CHECK(mon_health_str(&h, "position") == NULL);
    CHECK_EQ_INT(mon_health_lag(&h), -1);
    CHECK_EQ_INT(mon_health_poll(&h, path, getpid(), 300, err, sizeof err), 0);  /* unchanged */
    CHECK_EQ_INT(h.last_mono, 200);
    json_t *extra = json_pack("{s:i}", "subscribers", 3);
    CHECK_EQ_INT(status_report_write(rep, "running", "mysql-bin.000002:120/0", 15, extra, err,
                                     sizeof err), WH_OK);
    json_decref(extra);
    CHECK_EQ_INT(mon_health_poll(&h, path, getpid(), 400, err, sizeof err), 1);
    CHECK(h.ready);
    CHECK_EQ_STR(mon_health_str(&h, "position"), "mysql-bin.000002:120/0");
    CHECK_EQ_INT(mon_health_lag(&h), 15);
    CHECK_EQ_INT(json_integer_value(json_object_get(h.report, "subscribers")), 3);
    /* The same content written again is still a new heartbeat. */
    CHECK_EQ_INT(status_report_write(rep, "running", NULL, 15, NULL, err, sizeof err), WH_OK);
    CHECK_EQ_INT(mon_health_poll(&h, path, getpid(), 500, err, sizeof err), 1);
    CHECK_EQ_STR(mon_health_str(&h, "position"), "mysql-bin.000002:120/0");
    /* The final status carries the reason. */
    status_report_exiting(rep, "zk: session expired");
    CHECK_EQ_INT(mon_health_poll(&h, path, getpid(), 600, err, sizeof err), 1);
    CHECK_EQ_STR(mon_health_str(&h, "state"), "exiting");
    CHECK_EQ_STR(mon_health_str(&h, "error"), "zk: session expired");
    /* A new run: the old file is not a heartbeat of the new process; another pid's file is ignored. */
    mon_health_new_run(&h);
    CHECK_EQ_INT(mon_health_poll(&h, path, getpid(), 700, err, sizeof err), 0);
    CHECK(!h.seen);
    CHECK_EQ_INT(mon_health_poll(&h, path, getpid() + 1, 700, err, sizeof err), 0);
    /* A malformed replacement counts as a heartbeat and is reported. */
    CHECK_EQ_INT(wh_file_replace(path, "{\"pid\": oops", 12, 0640, err, sizeof err), WH_OK);
    CHECK(mon_health_poll(&h, path, getpid(), 800, err, sizeof err) < 0);
    CHECK(strstr(err, "status.json") != NULL);
    CHECK(h.seen && h.last_mono == 800);
    mon_health_free(&h);
    status_report_free(rep);
    status_report_free(NULL);
    /* From the environment. */
    unsetenv("WORMHOLE_STATUS_FILE");
    rep = (status_report *)1;
    CHECK_EQ_INT(status_report_from_env(&rep, err, sizeof err), WH_OK);
    CHECK(rep == NULL);
    setenv("WORMHOLE_STATUS_FILE", path, 1);
    setenv("WORMHOLE_STATUS_INTERVAL_MS", "125", 1);
    CHECK_EQ_INT(status_report_from_env(&rep, err, sizeof err), WH_OK);
    CHECK_EQ_INT(status_report_interval_ms(rep), 125);
    status_report_free(rep);
    unsetenv("WORMHOLE_STATUS_FILE");

    /* Exit descriptions. */
    mon_exit e;
    memset(&e, 0, sizeof e);
    mon_exit_from_wait(&e, 3 << 8, MON_CAUSE_EXIT, NULL);
    CHECK_EQ_STR(e.reason, "exited with code 3");
    CHECK_EQ_INT(e.cause, MON_CAUSE_EXIT);
    CHECK_EQ_INT(e.code, 3);
    mon_exit_from_wait(&e, SIGKILL, MON_CAUSE_STUCK, "stuck: no heartbeat for 2000 ms");
    CHECK_EQ_STR(e.reason, "stuck: no heartbeat for 2000 ms; killed by signal 9 (SIGKILL)");
    CHECK_EQ_INT(e.cause, MON_CAUSE_STUCK);
    CHECK_EQ_INT(e.sig, 9);
    CHECK_EQ_INT(e.code, -1);
    CHECK_EQ_STR(mon_signal_name(SIGTERM), "SIGTERM");
    snprintf(e.error_line, sizeof e.error_line, "ERROR boom");
    e.at_ms = 123;
    e.run_ms = 456;
    json_t *j = mon_exit_to_json(&e);
    mon_exit back;
    mon_exit_from_json(&back, j);
    json_decref(j);
    CHECK_EQ_STR(back.reason, e.reason);
    CHECK_EQ_STR(back.error_line, "ERROR boom");
    CHECK_EQ_INT(back.cause, MON_CAUSE_STUCK);
    CHECK_EQ_INT(back.sig, 9);
    CHECK_EQ_INT(back.run_ms, 456);
    char small[8];
    mon_copy_utf8(small, sizeof small, "caf\xc3\xa9 au lait", 14);
    CHECK_EQ_STR(small, "caf\xc3\xa9 a");
    mon_copy_utf8(small, 6, "abcd\xc3\xa9", 6);              /* no half characters */
    CHECK_EQ_STR(small, "abcd");

    /* Records: save, load, and the identity of a live process. */
    mon_record r, r2;
    memset(&r, 0, sizeof r);
    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) {
        while (getppid() == parent)          /* never outlives the test, even if it crashes */
            usleep(10000);
        _exit(0);
    }
    usleep(50000);
    r.pid = child;
    CHECK_EQ_INT(mon_proc_stat(child, &r.starttime, NULL), WH_OK);
    mon_boot_id(r.boot_id);
    CHECK_EQ_INT(strlen(r.boot_id), 36);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    r.argv = json_pack("[s]", "./test_mon_health");
    r.launch = strdup("{}");
    r.restarts = 7;
    r.nexits = 1;
    r.exits[0] = e;
    snprintf(path, sizeof path, "%s/supervise.json", dir);
    CHECK_EQ_INT(mon_record_save(path, &r, err, sizeof err), WH_OK);
    CHECK_EQ_INT(mon_record_load(path, &r2, err, sizeof err), WH_OK);
    CHECK_EQ_INT(r2.pid, child);
    CHECK_EQ_INT(r2.restarts, 7);
    CHECK_EQ_INT(r2.nexits, 1);
    CHECK_EQ_STR(r2.exits[0].reason, e.reason);
    CHECK_EQ_STR(r2.launch, "{}");
    /* The command line must match /proc/PID/cmdline exactly. */
    json_t *real = json_array();
    {
        FILE *f = fopen("/proc/self/cmdline", "r");
        char buf[4096];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        for (size_t off = 0; off < len; off += strlen(buf + off) + 1)
            json_array_append_new(real, json_string(buf + off));
    }
    json_decref(r2.argv);
    r2.argv = json_deep_copy(real);
    CHECK(mon_record_alive(&r2));                     /* child shares our cmdline */
    r2.starttime++;
    CHECK(!mon_record_alive(&r2));                    /* another start time: another process */
    r2.starttime--;
    json_array_append_new(r2.argv, json_string("x"));
    CHECK(!mon_record_alive(&r2));                    /* another command line */
    json_array_remove(r2.argv, json_array_size(r2.argv) - 1);
    snprintf(r2.boot_id, sizeof r2.boot_id, "00000000-0000-0000-0000-000000000000");
    CHECK(!mon_record_alive(&r2));                    /* another boot */
    mon_boot_id(r2.boot_id);
    kill(child, SIGKILL);
    usleep(50000);
    CHECK(!mon_record_alive(&r2));                    /* a zombie is not alive */
    waitpid(child, NULL, 0);
    CHECK(!mon_record_alive(&r2));
    json_decref(real);
    mon_record_clear(&r);
    mon_record_clear(&r2);
    snprintf(path, sizeof path, "%s/none.json", dir);
    CHECK_EQ_INT(mon_record_load(path, &r2, err, sizeof err), WH_ERR_NOT_FOUND);

    /* Run-dir lock: a second lock on the same directory fails and names the holder. */
    char run[300];
    snprintf(run, sizeof run, "%s/run", dir);
    int fd1 = -1, fd2 = -1;
    CHECK_EQ_INT(mon_rundir_lock(run, &fd1, err, sizeof err), WH_OK);
    pid_t locker = fork();
    if (locker == 0) {
        char e2[512];
        int f = -1;
        int rc = mon_rundir_lock(run, &f, e2, sizeof e2);
        _exit(rc == WH_ERR_INVALID && strstr(e2, "another monitor") ? 0 : 1);
    }
    int st = 0;
    waitpid(locker, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(fd1);
    CHECK_EQ_INT(mon_rundir_lock(run, &fd2, err, sizeof err), WH_OK);
    close(fd2);

    /* Spawn helpers: placeholders, argv, environment. */
    mon_spec *spec = NULL;
    json_t *root = json_loads("{\"args\":[\"--config\",\"{config}\",\"--name={instance}\","
                              "\"{run_dir}/x\",\"{unknown}\"],\"environment\":{\"FAKE_A\":\"1\","
                              "\"HOME\":null}}", 0, NULL);
    CHECK_EQ_INT(mon_spec_from_json(root, "test", &spec, err, sizeof err), WH_OK);
    json_decref(root);
    mon_spawn_ctx ctx = { .instance = "db1", .config = "/r/db1/config.json", .run_dir = "/r/db1",
                          .status_file = "/r/db1/status.json", .log_file = "/r/db1/output.log",
                          .interval_ms = 250 };
    json_t *argv = mon_spawn_argv(spec, "/bin/pub", &ctx);
    char *text = json_dumps(argv, JSON_COMPACT);
    CHECK_EQ_STR(text, "[\"/bin/pub\",\"--config\",\"/r/db1/config.json\",\"--name=db1\","
                       "\"/r/db1/x\",\"{unknown}\"]");
    free(text);
    json_decref(argv);
    setenv("HOME", "/home/x", 1);
    setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
    setenv("WORMHOLE_INSTANCE", "stale", 1);
    char **env = mon_spawn_env(spec, &ctx);
    int seen = 0;
    for (char **p = env; *p; p++) {
        CHECK(strncmp(*p, "HOME=", 5) != 0);
        CHECK(strncmp(*p, "NOTIFY_SOCKET=", 14) != 0);
        CHECK(strcmp(*p, "WORMHOLE_INSTANCE=stale") != 0);
        if (strcmp(*p, "FAKE_A=1") == 0 || strcmp(*p, "WORMHOLE_INSTANCE=db1") == 0 ||
            strcmp(*p, "WORMHOLE_STATUS_INTERVAL_MS=250") == 0 ||
            strcmp(*p, "WORMHOLE_STATUS_FILE=/r/db1/status.json") == 0 ||
            strcmp(*p, "WORMHOLE_CONFIG=/r/db1/config.json") == 0 ||
            strcmp(*p, "WORMHOLE_RUN_DIR=/r/db1") == 0)
            seen++;
    }
    CHECK_EQ_INT(seen, 6);
    mon_spawn_free_env(env);
    char *prog = NULL;
    CHECK_EQ_INT(mon_spawn_resolve("sh", NULL, &prog, err, sizeof err), WH_OK);
    CHECK(prog && prog[0] == '/');
    free(prog);
    CHECK_EQ_INT(mon_spawn_resolve("no-such-program-xyz", NULL, &prog, err, sizeof err),
                 WH_ERR_NOT_FOUND);
    CHECK(strstr(err, "no-such-program-xyz") != NULL);
    CHECK_EQ_INT(mon_spawn_resolve("", NULL, &prog, err, sizeof err), WH_ERR_NOT_FOUND);
    CHECK(strstr(err, "wormhole-publisher") != NULL);
    CHECK_EQ_INT(mon_spawn_resolve("/etc/passwd", NULL, &prog, err, sizeof err), WH_ERR_NOT_FOUND);
    mon_spec_free(spec);

    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(path), 0);
    return check_done("test_mon_health");
}
