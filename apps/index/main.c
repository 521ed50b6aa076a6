/* main.c -- wormhole-index: keeps a searchable index (SQLite FTS5 or PostgreSQL) of chosen tables equal to their source rows, applying each update effectively once.
 *
 * The subscriber's loop runs on the main thread and calls on_batch for each
 * delivered batch: the applier (idx_apply.c) applies it in one index
 * transaction that also stores the shard's position, and only after the
 * commit is the batch acknowledged. A status thread prints a line per
 * interval and rewrites the status file. Exit status: 0 after SIGTERM or
 * SIGINT, 1 on an unrecoverable error (one ERROR line says which), 2 on bad
 * usage. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "apps/index/idx.h"
#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "wormhole/subscriber.h"

static idx_app the_app;
static wh_subscriber *volatile the_sub;

/* The status thread's state. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t  cond;
    bool            stop;
    const char     *file;
    char            instance[300];
} status = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, NULL, "" };

static void on_signal(int sig)
{
    (void)sig;
    the_app.stopping = 1;
    if (the_sub)
        wh_subscriber_stop(the_sub);
}

static int on_batch(void *opaque, const wh_update *ups, size_t n, const wh_sub_delivery *d)
{
    idx_app *app = opaque;
    int rc = idx_app_batch(app, ups, n, d->shard);
    if (rc == WH_OK) {
        wh_subscriber_ack(the_sub, d);      /* committed: now it may be acknowledged */
        return 0;
    }
    if (app->has_fatal)
        wh_subscriber_stop(the_sub);
    /* Not applied: the publisher sends it again. A backend that is down is not
     * the batch's fault: WH_ERR_AGAIN does not count as a failed attempt. */
    return rc == WH_ERR_AGAIN ? WH_ERR_AGAIN : -1;
}

static void on_notice(void *opaque, const char *shard, bool held)
{
    idx_app *app = opaque;
    wh_info(WH_AREA_SUBSCRIBER, "shard %s %s", shard, held ? "assigned" : "released");
    idx_app_notice(app, shard, held);
}

/* Rewrites the status file: a temporary file next to it, then rename. */
static void write_status(const char *path, double rate)
{
    wh_buf b = WH_BUF_INIT;
    char tmp[4200];
    idx_stats_json(&the_app, status.instance, rate, &b);
    if (!wh_buf_ok(&b) || snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        wh_buf_free(&b);
        return;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && write(fd, b.data, b.len) == (ssize_t)b.len;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        wh_warn(WH_AREA_SUBSCRIBER, "cannot write the status file %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    wh_buf_free(&b);
}

/* One status line, and the status file. */
static void report(double rate)
{
    idx_stats *st = &the_app.stats;
    wh_buf line = WH_BUF_INIT;
    int64_t now = wh_wall_ms();
    pthread_mutex_lock(&st->mu);
    wh_buf_printf(&line, "%.0f row changes/s; applied %" PRIu64 ", redelivered and skipped %"
                  PRIu64 ", refused batches %" PRIu64 ", errors %" PRIu64 "; backend %s",
                  rate, st->applied, st->skipped, st->refused, st->errors,
                  st->backend_up ? "up" : "down");
    for (uint32_t i = 0; i < st->nshards; i++) {
        const idx_shard_stat *s = &st->shards[i];
        wh_buf_printf(&line, "; shard %s%s at %s", s->shard, s->held ? "" : " (released)",
                      s->physical ? s->physical : "(nothing applied)");
        if (s->logical)
            wh_buf_printf(&line, " (%s)", s->logical);
        if (s->event_ts)
            wh_buf_printf(&line, ", age %.1f s", (double)(now - s->event_ts * 1000) / 1000.0);
    }
    pthread_mutex_unlock(&st->mu);
    if (wh_buf_ok(&line))
        wh_info(WH_AREA_SUBSCRIBER, "%s", line.data);
    wh_buf_free(&line);
    if (status.file)
        write_status(status.file, rate);
}

static void *status_main(void *arg)
{
    int64_t interval = (int64_t)(intptr_t)arg;
    uint64_t prev = 0;
    int64_t prev_ms = wh_mono_ms();
    pthread_mutex_lock(&status.mu);
    while (!status.stop) {
        struct timespec dl = wh_cond_deadline(interval);
        while (!status.stop && pthread_cond_timedwait(&status.cond, &status.mu, &dl) == 0)
            ;
        if (status.stop)
            break;
        pthread_mutex_unlock(&status.mu);
        pthread_mutex_lock(&the_app.stats.mu);
        uint64_t now_applied = the_app.stats.applied;
        pthread_mutex_unlock(&the_app.stats.mu);
        int64_t now = wh_mono_ms();
        double rate = now > prev_ms ? (double)(now_applied - prev) * 1000.0 / (double)(now - prev_ms)
                                    : 0.0;
        prev = now_applied;
        prev_ms = now;
        report(rate);
        pthread_mutex_lock(&status.mu);
    }
    pthread_mutex_unlock(&status.mu);
    return NULL;
}

/* The settings tables as markdown (docs/APPS.md carries them; tests/apps checks it). */
static void print_table_markdown(FILE *out, const wh_cfg_field *fields)
{
    static const char *const types[] = { "string", "integer", "boolean", "number", "JSON" };
    fprintf(out, "| key | type | default | range | meaning |\n|---|---|---|---|---|\n");
    for (const wh_cfg_field *f = fields; f->key; f++) {
        fprintf(out, "| `%s` | %s | %s%s%s | ", f->key, types[f->type], f->def ? "`" : "",
                f->def ? f->def : "required", f->def ? "`" : "");
        if (f->min <= f->max && f->type == WH_CFG_INT)
            fprintf(out, "%lld..%lld", (long long)f->min, (long long)f->max);
        fprintf(out, " | %s |\n", f->desc);
    }
}

static void print_markdown(FILE *out)
{
    print_table_markdown(out, idx_config_fields);
    fprintf(out, "\nEach element of `tables`:\n\n");
    print_table_markdown(out, idx_table_fields);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: wormhole-index --config FILE [--status FILE] [--check] [--debug AREAS]\n"
               "       wormhole-index --help\n");
}

static void help(FILE *f)
{
    fprintf(f,
        "NAME\n"
        "    wormhole-index - keep a full-text index of database tables equal to their rows\n"
        "\n"
        "SYNOPSIS\n"
        "    wormhole-index --config FILE [--status FILE] [--check] [--debug AREAS]\n"
        "\n"
        "DESCRIPTION\n"
        "    Joins the wormhole subscriber app named in the config as one instance and\n"
        "    applies the inserts, updates (primary key changes included) and deletes of\n"
        "    the configured tables to an index: an SQLite file with one FTS5 table per\n"
        "    indexed table (backend sqlite, the default), or PostgreSQL tables with a\n"
        "    tsvector column under a GIN index (backend postgresql), which several\n"
        "    instances may share. TRUNCATE and DROP TABLE of an indexed table empty\n"
        "    its index.\n"
        "\n"
        "    Effectively once: each delivered batch is applied in one transaction that\n"
        "    also stores the shard's position (table wormhole_positions), and is\n"
        "    acknowledged only after that commit. Updates at or before the stored\n"
        "    position (redelivered after a crash, a restart or a failover to another\n"
        "    copy of the shard) are recognised (include/wormhole/applied.h) and change\n"
        "    nothing. When the index backend fails (PostgreSQL down, disk full) the app\n"
        "    refuses batches, so that nothing is acknowledged, and retries with backoff.\n"
        "\n"
        "    Every status.interval_ms it logs one line on stderr (row changes per second,\n"
        "    totals, errors, each shard's last applied position and its age) and rewrites\n"
        "    the status file, if any, as one JSON object (docs/APPS.md).\n"
        "\n"
        "OPTIONS\n"
        "    --config FILE    the JSON config (CONFIG below); required\n"
        "    --status FILE    write the status file there (overrides status.file)\n"
        "    --check          load and check the config, open the index once (creating\n"
        "                     its tables), print the filter sent to publishers, and exit\n"
        "    --debug AREAS    debug logging for areas (subscriber,protocol,zk,filter or all)\n"
        "    --help           this text\n"
        "    --config-markdown  print the CONFIG tables as markdown (docs/APPS.md) and exit\n"
        "\n"
        "CONFIG\n"
        "    A JSON object; dotted keys are nested objects. Unknown keys are errors.\n\n");
    wh_config_print_help(f, idx_config_fields);
    fprintf(f, "\n    Each element of \"tables\":\n\n");
    wh_config_print_help(f, idx_table_fields);
    fprintf(f,
        "\n"
        "    The source must log full row images (binlog_format=ROW, binlog_row_image=FULL).\n"
        "    Column and index names are 1..63 letters, digits and '_'.\n"
        "\n"
        "EXIT STATUS\n"
        "    0  stopped by SIGTERM or SIGINT\n"
        "    1  unrecoverable error, named by the one ERROR line logged (bad config, an\n"
        "       index whose tables do not match the config, positions that cannot be\n"
        "       compared, rows without a configured column, no ZooKeeper at start)\n"
        "    2  bad usage\n"
        "\n"
        "EXAMPLES\n"
        "    A config indexing shop.products into an SQLite file:\n"
        "\n"
        "      {\"zookeeper\": {\"connect\": \"127.0.0.1:2181\", \"root\": \"/wormhole\"},\n"
        "       \"subscriber\": {\"app\": \"product-search\"},\n"
        "       \"sqlite\": {\"path\": \"/var/lib/search/products.db\"},\n"
        "       \"tables\": [{\"source\": \"shop.products\", \"key\": [\"id\"],\n"
        "                   \"text\": [\"title\", \"description\"], \"stored\": [\"price\"]}]}\n"
        "\n"
        "    wormhole-index --config products.json --status /run/search/status.json\n"
        "    sqlite3 /var/lib/search/products.db \\\n"
        "      \"SELECT p.id, p.title FROM products_fts f JOIN products p ON p.wh_rowid = f.rowid\n"
        "       WHERE products_fts MATCH 'red shoes' ORDER BY rank LIMIT 10\"\n"
        "\n"
        "    With \"backend\": {\"type\": \"postgresql\"} and \"postgresql\": {\"conninfo\":\n"
        "    \"dbname=search\"}:\n"
        "    psql search -c \"SELECT id, title FROM products\n"
        "                    WHERE tsv @@ plainto_tsquery('simple', 'red shoes')\"\n"
        "\n"
        "SEE ALSO\n"
        "    docs/APPS.md, docs/UPDATES.md, wormhole-tail(1)\n");
}

static int apply_logging(const idx_config *cfg, const char *path)
{
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    int level = -1;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(cfg->log_level, levels[i]) == 0)
            level = i;
    if (level < 0) {
        wh_error(WH_AREA_SUBSCRIBER, "%s: key 'log.level': '%s' is not error, warn, info or "
                 "debug", path, cfg->log_level);
        return WH_ERR_CONFIG;
    }
    wh_log_set_level((wh_log_level)level);
    if (cfg->log_debug[0] && wh_log_set_debug(cfg->log_debug) != WH_OK) {
        wh_error(WH_AREA_SUBSCRIBER, "%s: key 'log.debug': unknown area in '%s'", path,
                 cfg->log_debug);
        return WH_ERR_CONFIG;
    }
    return WH_OK;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "status", required_argument, NULL, 's' },
        { "check", no_argument, NULL, 'k' },
        { "debug", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { "config-markdown", no_argument, NULL, 'M' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *status_path = NULL, *debug = NULL;
    bool check_only = false;
    static idx_config cfg;
    char err[2048];
    int c, exit_code = 1;
    pthread_t status_thread;
    bool status_started = false;
    wh_subscriber *sub = NULL;

    wh_log_set_ident("wormhole-index");
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 's': status_path = optarg; break;
        case 'k': check_only = true; break;
        case 'd': debug = optarg; break;
        case 'h':
            help(stdout);
            return 0;
        case 'M':
            print_markdown(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!config_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (debug && wh_log_set_debug(debug) != WH_OK) {
        fprintf(stderr, "wormhole-index: --debug: unknown area in '%s'\n", debug);
        usage(stderr);
        return 2;
    }
    if (idx_config_load(config_path, &cfg, err, sizeof err) != WH_OK) {
        wh_error(WH_AREA_SUBSCRIBER, "%s", err);
        return 1;
    }
    if (apply_logging(&cfg, config_path) != WH_OK)
        goto out_cfg;
    if (debug)
        wh_log_set_debug(debug);
    if (idx_app_init(&the_app, &cfg, err, sizeof err) != WH_OK) {
        wh_error(WH_AREA_SUBSCRIBER, "%s", err);
        goto out;
    }
    status.file = status_path ? status_path : cfg.status_file[0] ? cfg.status_file : NULL;

    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);   /* a file size limit fails the write, like a full disk: retried */

    if (check_only) {
        /* One attempt: a check must answer, not wait for the backend. */
        if (the_app.be->ops->open(the_app.be, err, sizeof err) != WH_OK) {
            wh_error(WH_AREA_SUBSCRIBER, "%s", err);
            goto out;
        }
        printf("config %s is valid; the index is open (%s)\nfilter: %s\n", config_path,
               cfg.backend, cfg.filter);
        exit_code = 0;
        goto out;
    }
    /* The index first: publishers are not asked for updates that cannot be applied. */
    int rc = idx_app_open_backend(&the_app, err, sizeof err);
    if (rc == WH_ERR_CLOSED) {
        exit_code = 0;
        goto out;
    }
    if (rc != WH_OK) {
        wh_error(WH_AREA_SUBSCRIBER, "%s", err);
        goto out;
    }

    wh_sub_options o;
    wh_sub_options_init(&o);
    o.zk_connect = cfg.zk_connect;
    o.zk_root = cfg.zk_root;
    o.zk_user = cfg.zk_user[0] ? cfg.zk_user : NULL;
    o.zk_secret_file = cfg.zk_secret_file[0] ? cfg.zk_secret_file : NULL;
    o.zk_session_timeout_ms = (int)cfg.zk_session_ms;
    o.zk_wait_ms = (int)cfg.zk_wait_ms;
    o.app = cfg.app;
    o.instance = cfg.instance[0] ? cfg.instance : NULL;
    o.filter = cfg.filter;
    o.shards = (const char *const *)cfg.shards;
    o.listen_host = cfg.listen_host;
    o.listen_port = (int)cfg.listen_port;
    o.advertise_host = cfg.advertise_host[0] ? cfg.advertise_host : NULL;
    o.manual_ack = true;
    o.heartbeat_timeout_ms = (int)cfg.heartbeat_timeout_ms;
    app_tls_options(&cfg.tls, &o);
    o.on_batch = on_batch;
    o.on_shard_notice = on_notice;
    o.opaque = &the_app;
    if (wh_subscriber_new(&o, &sub, err, sizeof err) != WH_OK) {
        wh_error(WH_AREA_SUBSCRIBER, "%s: %s", config_path, err);
        goto out;
    }
    snprintf(status.instance, sizeof status.instance, "%s", wh_subscriber_instance(sub));
    the_sub = sub;
    if (the_app.stopping) {           /* a signal came before the_sub was set */
        exit_code = 0;
        goto out;
    }
    wh_info(WH_AREA_SUBSCRIBER, "instance %s of app %s listening on %s; index: %s %s",
            wh_subscriber_instance(sub), cfg.app, wh_subscriber_endpoint(sub), cfg.backend,
            strcmp(cfg.backend, "sqlite") == 0 ? cfg.sqlite_path : "(postgresql.conninfo)");
    if (pthread_create(&status_thread, NULL, status_main,
                       (void *)(intptr_t)cfg.status_interval_ms) == 0)
        status_started = true;
    rc = wh_subscriber_run(sub, err, sizeof err);
    if (rc != WH_OK) {
        wh_error(WH_AREA_SUBSCRIBER, "%s", err);
    } else if (the_app.has_fatal) {
        wh_error(WH_AREA_SUBSCRIBER, "%s", the_app.fatal);
    } else {
        exit_code = 0;
        wh_info(WH_AREA_SUBSCRIBER, "stopped");
    }
out:
    if (status_started) {
        pthread_mutex_lock(&status.mu);
        status.stop = true;
        pthread_cond_signal(&status.cond);
        pthread_mutex_unlock(&status.mu);
        pthread_join(status_thread, NULL);
    }
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, NULL);   /* the handler must not see a freed subscriber */
    the_sub = NULL;
    wh_subscriber_free(sub);
    if (status.file && the_app.cfg) {
        pthread_mutex_lock(&the_app.stats.mu);
        the_app.stats.stopped = true;
        pthread_mutex_unlock(&the_app.stats.mu);
        write_status(status.file, 0.0);
    }
    idx_app_free(&the_app);
out_cfg:
    idx_config_free(&cfg);
    return exit_code;
}
