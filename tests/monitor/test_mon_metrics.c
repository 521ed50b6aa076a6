/* test_mon_metrics.c -- unit tests of the metrics: exposition format and label escaping, the rendering of reports, the endpoint's address and token checks, the status file's bound. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "core/buf.h"
#include "monitor/mon_http.h"
#include "monitor/mon_metrics.h"
#include "monitor/mon_prom.h"
#include "protocol/status_file.h"

/* b's text as a NUL-terminated string (the buffer keeps its NUL room). */
static const char *text(wh_buf *b)
{
    wh_buf_putc(b, '\0');
    b->len--;
    return b->data;
}

static void test_escaping(void)
{
    wh_buf b = WH_BUF_INIT;
    mon_prom_escape_label(&b, "a\\b\"c\nd\te");
    CHECK_EQ_STR(text(&b), "a\\\\b\\\"c\\nd\te");
    wh_buf_reset(&b);
    mon_prom_label l[] = { { "app", "we\"ird\\app\n" }, { "shard", NULL } };
    mon_prom_sample(&b, "wormhole_x_total", l, 2, 42);
    CHECK_EQ_STR(text(&b), "wormhole_x_total{app=\"we\\\"ird\\\\app\\n\",shard=\"\"} 42\n");
    wh_buf_reset(&b);
    mon_prom_sample(&b, "wormhole_r", NULL, 0, 0.25);
    mon_prom_sample(&b, "wormhole_r", NULL, 0, -3);
    mon_prom_sample(&b, "wormhole_r", NULL, 0, 1e300 * 1e300);
    mon_prom_sample(&b, "wormhole_r", NULL, 0, 18446744073709551615.0);
    CHECK_EQ_STR(text(&b), "wormhole_r 0.25\nwormhole_r -3\nwormhole_r +Inf\n"
                           "wormhole_r 1.8446744073709552e+19\n");
    wh_buf_reset(&b);
    mon_prom_family(&b, "wormhole_h", "gauge", "line one\nback\\slash \"quoted\"");
    CHECK_EQ_STR(text(&b), "# HELP wormhole_h line one\\nback\\\\slash \"quoted\"\n"
                           "# TYPE wormhole_h gauge\n");
    CHECK(mon_prom_name_ok("wormhole_a:b_1", false));
    CHECK(!mon_prom_name_ok("wormhole_a:b", true));
    CHECK(!mon_prom_name_ok("1abc", false));
    CHECK(!mon_prom_name_ok("a-b", false));
    CHECK(!mon_prom_name_ok("", false));
    wh_buf_free(&b);
}

/* Counts lines of text that start with prefix. */
static int lines_with(const char *t, const char *prefix)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (const char *l = t; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, prefix, pl) == 0)
            n++;
    return n;
}

static void test_render(void)
{
    json_error_t jerr;
    json_t *r1 = json_loads(
        "{\"pid\":1,\"role\":\"active\",\"epoch\":3,\"lag_ms\":1500,\"zk_writes\":7,"
        "\"log_bytes_read\":1000,\"readers_started\":2,"
        "\"decoded\":{\"mapper\":\"mysql\",\"updates\":500,\"batches\":5},"
        "\"caravans\":[{\"id\":4,\"position\":\"b.1:4/0\",\"members\":2,\"at_head\":true}],"
        "\"flows\":[{\"app\":\"a\\\"1\",\"state\":\"streaming\",\"delivered_updates\":10,"
        "\"delivered_bytes\":100,\"in_flight_bytes\":50,\"window_bytes\":200,\"reconnects\":1,"
        "\"lag_s\":2},{\"app\":\"b\",\"state\":\"failed\",\"delivered_updates\":0,"
        "\"delivered_bytes\":0,\"in_flight_bytes\":0,\"window_bytes\":200,\"reconnects\":0,"
        "\"failure\":{\"code\":\"purged\",\"reason\":\"gone\\nfrom the log\"}}]}",
        0, &jerr);
    CHECK(r1 != NULL);
    mon_metrics_pub pubs[] = {
        { .name = "p1", .shard = "s1", .up = true, .restarts = 2, .heartbeat_age_ms = 500,
          .report = r1 },
        { .name = "p2", .shard = "s2", .up = false, .restarts = 5, .heartbeat_age_ms = -1,
          .report = NULL },
    };
    wh_buf b = WH_BUF_INIT;
    mon_metrics_format(&b, pubs, 2);
    CHECK(wh_buf_ok(&b));
    const char *t = text(&b);
    CHECK(strstr(t, "wormhole_publisher_up{shard=\"s1\",publisher=\"p1\"} 1\n") != NULL);
    CHECK(strstr(t, "wormhole_publisher_up{shard=\"s2\",publisher=\"p2\"} 0\n") != NULL);
    CHECK(strstr(t, "wormhole_publisher_restarts_total{shard=\"s2\",publisher=\"p2\"} 5\n"));
    CHECK(strstr(t, "wormhole_publisher_active{shard=\"s1\",publisher=\"p1\"} 1\n"));
    CHECK(strstr(t, "wormhole_publisher_epoch{shard=\"s1\",publisher=\"p1\"} 3\n"));
    CHECK(strstr(t, "wormhole_publisher_lag_seconds{shard=\"s1\",publisher=\"p1\"} 1.5\n"));
    CHECK(strstr(t, "wormhole_log_bytes_read_total{shard=\"s1\",publisher=\"p1\"} 1000\n"));
    CHECK(strstr(t, "wormhole_readers_started_total{shard=\"s1\",publisher=\"p1\"} 2\n"));
    CHECK(strstr(t, "wormhole_zk_writes_total{shard=\"s1\",publisher=\"p1\"} 7\n"));
    CHECK(strstr(t, "wormhole_mapper_updates_decoded_total{shard=\"s1\",publisher=\"p1\","
                    "mapper=\"mysql\"} 500\n"));
    CHECK(strstr(t, "wormhole_caravan_members{shard=\"s1\",publisher=\"p1\",caravan=\"4\"} 2\n"));
    CHECK(strstr(t, "wormhole_flow_delivered_updates_total{shard=\"s1\",app=\"a\\\"1\","
                    "publisher=\"p1\"} 10\n"));
    CHECK(strstr(t, "wormhole_flow_window_fill_ratio{shard=\"s1\",app=\"a\\\"1\","
                    "publisher=\"p1\"} 0.25\n"));
    CHECK(strstr(t, "wormhole_flow_lag_seconds{shard=\"s1\",app=\"a\\\"1\",publisher=\"p1\"} 2\n"));
    CHECK(strstr(t, "wormhole_flow_failed{shard=\"s1\",app=\"b\",publisher=\"p1\"} 1\n"));
    CHECK(strstr(t, "wormhole_flow_failed{shard=\"s1\",app=\"a\\\"1\",publisher=\"p1\"} 0\n"));
    CHECK(strstr(t, "wormhole_flow_state{shard=\"s1\",app=\"b\",publisher=\"p1\",state=\"failed\"} 1\n"));
    CHECK(strstr(t, "wormhole_flow_failure_info{shard=\"s1\",app=\"b\",publisher=\"p1\","
                    "code=\"purged\",reason=\"gone\\nfrom the log\"} 1\n"));
    /* No lag sample for a flow that has none; one HELP and TYPE per family. */
    CHECK(!strstr(t, "wormhole_flow_lag_seconds{shard=\"s1\",app=\"b\""));
    CHECK_EQ_INT(lines_with(t, "# TYPE wormhole_flow_delivered_updates_total "), 1);
    CHECK_EQ_INT(lines_with(t, "# HELP wormhole_publisher_up "), 1);
    CHECK_EQ_INT(lines_with(t, "wormhole_flow_state{"), 10);
    /* Every sample's family was typed before it, and families are not split. */
    char last[128] = "";
    int splits = 0;
    for (const char *l = t; *l; l = strchr(l, '\n') + 1) {
        if (*l == '#')
            continue;
        size_t n = strcspn(l, "{ ");
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)n, l);
        if (strcmp(name, last) != 0) {
            char typed[160];
            snprintf(typed, sizeof typed, "# TYPE %s ", name);
            if (lines_with(t, typed) != 1)
                splits++;
            snprintf(last, sizeof last, "%s", name);
        }
    }
    CHECK_EQ_INT(splits, 0);
    wh_buf_free(&b);
    json_decref(r1);
}

static void test_http_checks(void)
{
    struct sockaddr_storage sa;
    socklen_t len;
    bool lo;
    char err[256];
    CHECK_EQ_INT(mon_http_parse_listen("127.0.0.1:9464", &sa, &len, &lo, err, sizeof err), WH_OK);
    CHECK(lo);
    CHECK_EQ_INT(mon_http_parse_listen("127.8.9.1:1", &sa, &len, &lo, err, sizeof err), WH_OK);
    CHECK(lo);
    CHECK_EQ_INT(mon_http_parse_listen("[::1]:9464", &sa, &len, &lo, err, sizeof err), WH_OK);
    CHECK(lo && sa.ss_family == AF_INET6);
    CHECK_EQ_INT(mon_http_parse_listen("0.0.0.0:9464", &sa, &len, &lo, err, sizeof err), WH_OK);
    CHECK(!lo);
    CHECK_EQ_INT(mon_http_parse_listen("[::]:9464", &sa, &len, &lo, err, sizeof err), WH_OK);
    CHECK(!lo);
    CHECK_EQ_INT(mon_http_parse_listen("localhost:9464", &sa, &len, &lo, err, sizeof err),
                 WH_ERR_CONFIG);
    CHECK_EQ_INT(mon_http_parse_listen("127.0.0.1:0", &sa, &len, &lo, err, sizeof err),
                 WH_ERR_CONFIG);
    CHECK_EQ_INT(mon_http_parse_listen("127.0.0.1:65536", &sa, &len, &lo, err, sizeof err),
                 WH_ERR_CONFIG);
    CHECK_EQ_INT(mon_http_parse_listen("127.0.0.1", &sa, &len, &lo, err, sizeof err),
                 WH_ERR_CONFIG);
    CHECK_EQ_INT(mon_http_parse_listen("127.0.0.1:9x", &sa, &len, &lo, err, sizeof err),
                 WH_ERR_CONFIG);
    CHECK(mon_http_bearer_ok("Bearer tok", "tok"));
    CHECK(mon_http_bearer_ok("bearer tok", "tok"));
    CHECK(!mon_http_bearer_ok("Bearer tok2", "tok"));
    CHECK(!mon_http_bearer_ok("Bearer to", "tok"));
    CHECK(!mon_http_bearer_ok("Bearer tak", "tok"));
    CHECK(!mon_http_bearer_ok("Basic tok", "tok"));
    CHECK(!mon_http_bearer_ok("Bearer ", "tok"));
    CHECK(!mon_http_bearer_ok(NULL, "tok"));
    /* Off loopback, no token: refused before binding anything. */
    mon_http *h = NULL;
    CHECK_EQ_INT(mon_http_start("0.0.0.0:9464", NULL, &h, err, sizeof err), WH_ERR_CONFIG);
    CHECK(h == NULL && strstr(err, "not a loopback address") != NULL);
}

/* The status file stays under STATUS_FILE_MAX with many long flows, counting
 * those it does not list. */
static void test_status_bound(void)
{
    char dir[] = "/tmp/wh-metrics-XXXXXX", path[64], err[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/status.json", dir);
    status_report *rep = NULL;
    CHECK_EQ_INT(status_report_new(&rep, path, 100, err, sizeof err), WH_OK);
    json_t *extra = json_object();
    char app[120], why[1100];
    memset(why, 'x', sizeof why - 1);
    why[sizeof why - 1] = '\0';
    for (int i = 0; i < 300; i++) {
        snprintf(app, sizeof app, "app-%03d-%0100d", i, 0);
        status_flow fl = { .app = app, .state = "failed", .acked_position = "mysql-bin.000001:4/0",
                           .acked_ts = 1, .lag_s = 5, .behind_bytes = -1, .retained_bytes = -1,
                           .last_error = why, .failure_code = "purged", .failure_reason = why,
                           .window_bytes = 1 };
        CHECK_EQ_INT(status_add_flow(extra, &fl), WH_OK);
    }
    CHECK_EQ_INT(json_array_size(json_object_get(extra, "flows")), STATUS_FLOWS_MAX);
    CHECK_EQ_INT(json_integer_value(json_object_get(extra, "flows_unlisted")),
                 300 - STATUS_FLOWS_MAX);
    CHECK_EQ_INT(status_report_write(rep, "running", NULL, -1, extra, err, sizeof err), WH_OK);
    /* The caller's object is not shortened by the write. */
    CHECK_EQ_INT(json_array_size(json_object_get(extra, "flows")), STATUS_FLOWS_MAX);
    json_error_t jerr;
    json_t *o = json_load_file(path, 0, &jerr);
    CHECK(o != NULL);
    FILE *f = fopen(path, "r");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    CHECK(size > 0 && size < STATUS_FILE_MAX);
    size_t listed = json_array_size(json_object_get(o, "flows"));
    CHECK(listed > 0 && listed < STATUS_FLOWS_MAX);
    CHECK_EQ_INT((size_t)json_integer_value(json_object_get(o, "flows_unlisted")) + listed, 300);
    /* Strings are cut to STATUS_TEXT_MAX. */
    const json_t *first = json_array_get(json_object_get(o, "flows"), 0);
    CHECK_EQ_INT(strlen(json_string_value(json_object_get(first, "last_error"))), STATUS_TEXT_MAX);
    /* The monitor's parser takes it. */
    char *t = json_dumps(o, JSON_COMPACT);
    json_t *parsed = NULL;
    json_object_set_new(o, "pid", json_integer(getpid()));
    free(t);
    t = json_dumps(o, JSON_COMPACT);
    CHECK_EQ_INT(status_parse(t, strlen(t), getpid(), &parsed, err, sizeof err), WH_OK);
    json_decref(parsed);
    free(t);
    json_decref(o);
    json_decref(extra);
    status_report_free(rep);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_escaping();
    test_render();
    test_http_checks();
    test_status_bound();
    return check_done("test_mon_metrics");
}
