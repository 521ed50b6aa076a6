/* mon_main.c -- wormhole-monitor: command line of the per-host publisher supervisor.
 *
 * Exit status: 0 on success; 1 on failure (the reason is on stderr); 2 on
 * bad usage; `status` exits 3 when no monitor is running (it then prints
 * what the run directory's records say). */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "monitor/mon_config.h"
#include "monitor/mon_monitor.h"
#include "monitor/mon_status.h"

#define DEFAULT_RUN_DIR "/run/wormhole-monitor"

static void usage(FILE *out)
{
    fprintf(out,
        "usage: wormhole-monitor --config-dir DIR [--run-dir DIR] [--rescan-interval-ms N]\n"
        "                        [--control-group GROUP] [--log-level LEVEL] [--debug AREAS]\n"
        "                        [--metrics-listen ADDRESS:PORT [--metrics-token-file FILE]]\n"
        "       wormhole-monitor status [--json] [--run-dir DIR]\n"
        "       wormhole-monitor rolling-restart [--wait] [--run-dir DIR]\n"
        "       wormhole-monitor reload [--run-dir DIR]\n"
        "       wormhole-monitor check-config --config-dir DIR\n"
        "\n"
        "Supervises one publisher process per instance file DIR/NAME.json: starts,\n"
        "restarts (with backoff), stops and health-checks them; adopts the running ones\n"
        "after its own restart. See docs/MONITOR.md.\n"
        "\n"
        "  --config-dir DIR        directory of instance files (NAME.json)\n"
        "  --run-dir DIR           state, sockets and publisher output (default %s)\n"
        "  --rescan-interval-ms N  periodic rescan of the config directory (default 10000)\n"
        "  --control-group GROUP   members of GROUP may use the control socket (mode 0660);\n"
        "                          default: only root and this user (mode 0600)\n"
        "  --metrics-listen A:P    serve Prometheus metrics at http://A:P/metrics (off by\n"
        "                          default; a non-loopback address needs a token file)\n"
        "  --metrics-token-file F  scrapers must send \"Authorization: Bearer TOKEN\" (F holds\n"
        "                          TOKEN, mode 0600)\n"
        "  --log-level LEVEL       error, warn, info (default) or debug\n"
        "  --debug AREAS           debug logging for areas (monitor, ... or all)\n"
        "  --json                  status: print the JSON document\n"
        "  --wait                  rolling-restart: wait until it has finished\n"
        "\n"
        "Signals: SIGTERM/SIGINT stop every publisher and exit; SIGHUP rereads the config\n"
        "directory; SIGUSR2 starts a rolling restart; SIGQUIT exits leaving the\n"
        "publishers running (the next monitor adopts them).\n"
        "\n"
        "Settings of an instance file:\n", DEFAULT_RUN_DIR);
    wh_config_print_help(out, mon_spec_fields);
}

/* Makes sure descriptors 0-2 are open, so no file we open lands on them. */
static void guard_stdio(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0) {
            int n = open("/dev/null", O_RDWR);
            if (n >= 0 && n != fd)
                close(n);
        }
}

/* status could not produce a document: the reason on stderr and, with
 * --json, as {"ok": false, "error": ...} on stdout (the control socket's
 * form), so that a script always reads one JSON document. */
static int status_failed(bool as_json, int status, const char *reason)
{
    fprintf(stderr, "wormhole-monitor: %s\n", reason);
    if (as_json) {
        json_t *o = json_pack("{s:b, s:s}", "ok", 0, "error", reason);
        char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(o);
    }
    return status;
}

static int cmd_status(const char *run_dir, bool as_json)
{
    char err[512], reason[700];
    json_t *doc = NULL;
    int rc = mon_ctl_request(run_dir, "status", &doc, err, sizeof err);
    int status = 0;
    if (rc == WH_ERR_NOT_FOUND) {
        doc = mon_status_offline(run_dir, err, sizeof err);
        status = 3;
        if (!doc) {
            snprintf(reason, sizeof reason, "no monitor is running and %s", err);
            return status_failed(as_json, 3, reason);
        }
        /* The table says so on its first line; the JSON document by its
         * null "monitor", and the person reading says so here. */
        if (as_json)
            fprintf(stderr, "wormhole-monitor: no monitor is running; showing the records "
                    "of the run directory\n");
    } else if (rc) {
        return status_failed(as_json, 1, err);
    }
    if (as_json) {
        char *text = json_dumps(doc, JSON_INDENT(2));
        if (text)
            printf("%s\n", text);
        free(text);
    } else {
        mon_status_print(stdout, doc);
    }
    json_decref(doc);
    return status;
}

static int cmd_simple(const char *run_dir, const char *cmd, bool wait)
{
    char err[512];
    json_t *reply = NULL;
    if (mon_ctl_request(run_dir, cmd, &reply, err, sizeof err)) {
        fprintf(stderr, "wormhole-monitor: %s\n", err);
        return 1;
    }
    if (!json_is_true(json_object_get(reply, "ok"))) {
        fprintf(stderr, "wormhole-monitor: %s: %s\n", cmd,
                json_string_value(json_object_get(reply, "error")));
        json_decref(reply);
        return 1;
    }
    json_int_t gen = json_integer_value(json_object_get(reply, "generation"));
    if (strcmp(cmd, "rolling-restart") == 0)
        printf("rolling restart #%lld started (%lld instance(s))\n", (long long)gen,
               (long long)json_integer_value(json_object_get(reply, "instances")));
    else
        printf("%s\n", json_string_value(json_object_get(reply, "message")));
    json_decref(reply);
    if (!wait)
        return 0;
    for (;;) {
        struct timespec ts = { 0, 200 * 1000000L };
        nanosleep(&ts, NULL);
        json_t *doc = NULL;
        if (mon_ctl_request(run_dir, "status", &doc, err, sizeof err)) {
            fprintf(stderr, "wormhole-monitor: %s\n", err);
            return 1;
        }
        json_t *roll = json_object_get(json_object_get(doc, "monitor"), "rolling_restart");
        bool done = !json_is_true(json_object_get(roll, "active")) &&
                    json_integer_value(json_object_get(roll, "generation")) >= gen;
        if (done) {
            const char *result = json_string_value(json_object_get(roll, "result"));
            int rc = result && strcmp(result, "completed") == 0 ? 0 : 1;
            printf("rolling restart #%lld: %s\n", (long long)gen, result ? result : "unknown");
            json_decref(doc);
            return rc;
        }
        json_decref(doc);
    }
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_check_config(const char *dir)
{
    char err[1024], path[4096], *names[4096];
    size_t n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "wormhole-monitor: cannot read %s\n", dir);
        return 1;
    }
    struct dirent *de;
    int bad = 0;
    while ((de = readdir(d)) && n < sizeof names / sizeof names[0]) {
        if (mon_config_file_name(de->d_name, NULL))
            names[n++] = strdup(de->d_name);
        else if (!mon_config_ignored_name(de->d_name)) {
            printf("BAD  %s/%s: not a valid instance file name\n", dir, de->d_name);
            bad = 1;
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        mon_spec *spec = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, names[i] ? names[i] : "");
        if (names[i] && mon_spec_load(path, &spec, err, sizeof err) == WH_OK) {
            printf("OK   %s%s\n", path, spec->enabled ? "" : " (disabled)");
        } else {
            printf("BAD  %s\n", names[i] ? err : "out of memory");
            bad = 1;
        }
        mon_spec_free(spec);
        free(names[i]);
    }
    return bad;
}

int main(int argc, char **argv)
{
    enum { OPT_RUN_DIR = 256, OPT_RESCAN, OPT_LEVEL, OPT_DEBUG, OPT_JSON, OPT_WAIT, OPT_GROUP,
           OPT_METRICS_LISTEN, OPT_METRICS_TOKEN };
    static const struct option longopts[] = {
        { "config-dir", required_argument, NULL, 'c' },
        { "run-dir", required_argument, NULL, OPT_RUN_DIR },
        { "rescan-interval-ms", required_argument, NULL, OPT_RESCAN },
        { "control-group", required_argument, NULL, OPT_GROUP },
        { "metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN },
        { "metrics-token-file", required_argument, NULL, OPT_METRICS_TOKEN },
        { "log-level", required_argument, NULL, OPT_LEVEL },
        { "debug", required_argument, NULL, OPT_DEBUG },
        { "json", no_argument, NULL, OPT_JSON },
        { "wait", no_argument, NULL, OPT_WAIT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    mon_options opt = { .config_dir = NULL, .run_dir = DEFAULT_RUN_DIR, .rescan_ms = 10000 };
    bool as_json = false, wait = false;
    const char *cmd = NULL;
    guard_stdio();
    if (argc > 1 && argv[1][0] != '-') {
        cmd = argv[1];
        argv++;
        argc--;
    }
    int c;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            opt.config_dir = optarg;
            break;
        case OPT_RUN_DIR:
            opt.run_dir = optarg;
            break;
        case OPT_GROUP:
            opt.control_group = optarg;
            break;
        case OPT_METRICS_LISTEN:
            opt.metrics_listen = optarg;
            break;
        case OPT_METRICS_TOKEN:
            opt.metrics_token_file = optarg;
            break;
        case OPT_RESCAN: {
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (*end || v < 100 || v > 86400000) {
                fprintf(stderr, "wormhole-monitor: --rescan-interval-ms: '%s' is not a number "
                        "of milliseconds in [100, 86400000]\n", optarg);
                return 2;
            }
            opt.rescan_ms = v;
            break;
        }
        case OPT_LEVEL: {
            static const char *const levels[] = { "error", "warn", "info", "debug" };
            int l;
            for (l = 0; l < 4 && strcmp(optarg, levels[l]) != 0; l++)
                ;
            if (l == 4) {
                fprintf(stderr, "wormhole-monitor: --log-level: '%s' is not error, warn, info "
                        "or debug\n", optarg);
                return 2;
            }
            wh_log_set_level((wh_log_level)l);
            if (l == 3)
                wh_log_set_debug("monitor");
            break;
        }
        case OPT_DEBUG:
            if (wh_log_set_debug(optarg)) {
                fprintf(stderr, "wormhole-monitor: --debug: unknown area in '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_JSON:
            as_json = true;
            break;
        case OPT_WAIT:
            wait = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "wormhole-monitor: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!cmd) {
        if (!opt.config_dir) {
            fprintf(stderr, "wormhole-monitor: --config-dir is required\n");
            usage(stderr);
            return 2;
        }
        return mon_monitor_run(&opt);
    }
    if (strcmp(cmd, "status") == 0)
        return cmd_status(opt.run_dir, as_json);
    if (strcmp(cmd, "rolling-restart") == 0 || strcmp(cmd, "reload") == 0)
        return cmd_simple(opt.run_dir, cmd, wait && strcmp(cmd, "rolling-restart") == 0);
    if (strcmp(cmd, "check-config") == 0) {
        if (!opt.config_dir) {
            fprintf(stderr, "wormhole-monitor: check-config needs --config-dir\n");
            return 2;
        }
        return cmd_check_config(opt.config_dir);
    }
    fprintf(stderr, "wormhole-monitor: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
