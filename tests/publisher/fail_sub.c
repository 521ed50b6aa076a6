/* fail_sub.c -- a subscriber whose callback fails on chosen updates, for the escalation tests (test_acks.py).
 *
 * Usage:
 *   fail_sub --zk HOSTS/ROOT --app NAME [--filter EXPR] [--replace-filter] [--instance NAME]
 *            [--fail-on EXPR] [--batch] [--max-attempts N] [--dead-letter FILE]
 *            [--heartbeat-timeout MS] [--calls FILE] [--errors FILE]
 *
 * Prints every update its callback accepts as a JSON line on stdout. The
 * callback fails (returns -1, with wh_subscriber_callback_error "injected
 * failure") on every update that matches --fail-on (a filter expression,
 * docs/FILTERS.md), and with --batch (on_batch instead of on_update) on
 * every batch holding one. --calls gets one line per failed call
 * ({"pos": PHYSICAL}), --errors one line per on_error report ({"code",
 * "name", "message", "attempts", "callback_rc", "shard", "pos"}). Exits 0
 * after SIGTERM/SIGINT, 1 when the subscriber fails (the reason on stderr
 * and in --errors), 2 on bad usage. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/log.h"
#include "filters/filter.h"
#include "protocol/zk_layout.h"
#include "wormhole/json.h"
#include "wormhole/subscriber.h"

static wh_subscriber *the_sub;
static wh_filter *fail_on;
static FILE *calls, *errors;

static void on_signal(int sig)
{
    (void)sig;
    wh_subscriber_stop(the_sub);
}

static void print_update(const wh_update *u)
{
    char *text = wh_update_json_alloc(u, NULL);
    if (text) {
        fputs(text, stdout);
        fputc('\n', stdout);
        free(text);
    }
}

/* Records a failed call on u and says why. */
static int fail(const wh_update *u)
{
    char phys[WH_POS_PHYSICAL_TEXT_MAX];
    wh_position_physical(&u->pos, phys, sizeof phys);
    if (calls) {
        fprintf(calls, "{\"pos\":\"%s\"}\n", phys);
        fflush(calls);
    }
    wh_subscriber_callback_error(the_sub, "injected failure");
    return -1;
}

static int on_update(void *opaque, const wh_update *u, const wh_sub_delivery *d)
{
    (void)opaque;
    (void)d;
    if (fail_on && wh_filter_match(fail_on, u))
        return fail(u);
    print_update(u);
    fflush(stdout);
    return 0;
}

static int on_batch(void *opaque, const wh_update *ups, size_t n, const wh_sub_delivery *d)
{
    (void)opaque;
    (void)d;
    for (size_t i = 0; fail_on && i < n; i++)
        if (wh_filter_match(fail_on, &ups[i]))
            return fail(&ups[i]);
    for (size_t i = 0; i < n; i++)
        print_update(&ups[i]);
    fflush(stdout);
    return 0;
}

static void on_error(void *opaque, const wh_sub_error *e)
{
    (void)opaque;
    if (!errors)
        return;
    char phys[WH_POS_PHYSICAL_TEXT_MAX] = "";
    if (e->update)
        wh_position_physical(&e->update->pos, phys, sizeof phys);
    json_t *o = json_pack("{s:i, s:s, s:s, s:i, s:i, s:s?, s:s}", "code", e->code, "name",
                          wh_err_name(e->code), "message", e->message ? e->message : "",
                          "attempts", (int)e->attempts, "callback_rc", e->callback_rc, "shard",
                          e->shard, "pos", phys);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text) {
        fprintf(errors, "%s\n", text);
        fflush(errors);
    }
    free(text);
    json_decref(o);
}

int main(int argc, char **argv)
{
    enum { O_ZK = 256, O_APP, O_FILTER, O_REPLACE, O_INSTANCE, O_FAIL, O_BATCH, O_MAX, O_DEAD,
           O_HB, O_CALLS, O_ERRORS };
    static const struct option longopts[] = {
        { "zk", required_argument, NULL, O_ZK },
        { "app", required_argument, NULL, O_APP },
        { "filter", required_argument, NULL, O_FILTER },
        { "replace-filter", no_argument, NULL, O_REPLACE },
        { "instance", required_argument, NULL, O_INSTANCE },
        { "fail-on", required_argument, NULL, O_FAIL },
        { "batch", no_argument, NULL, O_BATCH },
        { "max-attempts", required_argument, NULL, O_MAX },
        { "dead-letter", required_argument, NULL, O_DEAD },
        { "heartbeat-timeout", required_argument, NULL, O_HB },
        { "calls", required_argument, NULL, O_CALLS },
        { "errors", required_argument, NULL, O_ERRORS },
        { NULL, 0, NULL, 0 },
    };
    wh_sub_options o;
    char hosts[1024], root[512], err[2048];
    const char *zk = NULL;
    bool batch = false;
    int c, status = 1;

    wh_log_set_ident("fail_sub");
    wh_sub_options_init(&o);
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_ZK: zk = optarg; break;
        case O_APP: o.app = optarg; break;
        case O_FILTER: o.filter = optarg; break;
        case O_REPLACE: o.replace_filter = true; break;
        case O_INSTANCE: o.instance = optarg; break;
        case O_FAIL:
            if (wh_filter_parse_text(optarg, strlen(optarg), &fail_on, err, sizeof err)) {
                fprintf(stderr, "fail_sub: --fail-on: %s\n", err);
                return 2;
            }
            break;
        case O_BATCH: batch = true; break;
        case O_MAX: o.max_attempts = (uint32_t)strtoul(optarg, NULL, 10); break;
        case O_DEAD:
            o.dead_letter_path = optarg;
            o.give_up = WH_SUB_GIVE_UP_DEAD_LETTER;
            break;
        case O_HB: o.heartbeat_timeout_ms = atoi(optarg); break;
        case O_CALLS: calls = fopen(optarg, "a"); break;
        case O_ERRORS: errors = fopen(optarg, "a"); break;
        default:
            fprintf(stderr, "fail_sub: see the usage at the top of tests/publisher/fail_sub.c\n");
            return 2;
        }
    }
    if (!zk || !o.app || !zku_split_connect(zk, hosts, sizeof hosts, root, sizeof root)) {
        fprintf(stderr, "fail_sub: --zk HOSTS/ROOT and --app are required\n");
        return 2;
    }
    o.zk_connect = hosts;
    o.zk_root = root;
    o.zk_session_timeout_ms = 2000;
    if (batch)
        o.on_batch = on_batch;
    else
        o.on_update = on_update;
    o.on_error = on_error;
    if (wh_subscriber_new(&o, &the_sub, err, sizeof err) != WH_OK) {
        fprintf(stderr, "fail_sub: %s\n", err);
        goto out;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (wh_subscriber_run(the_sub, err, sizeof err) != WH_OK) {
        fprintf(stderr, "fail_sub: %s\n", err);
        goto out;
    }
    status = 0;
out:
    wh_subscriber_free(the_sub);
    wh_filter_free(fail_on);
    if (calls)
        fclose(calls);
    if (errors)
        fclose(errors);
    return status;
}
