/* logcat.c -- wormhole-logcat: print a datastore log as JSON update lines.
 *
 * The user's window on any positions mapper, like mysqlbinlog but for
 * updates: one JSON object per line in the form of docs/UPDATES.md. Without
 * --follow it stops at the end of the log. Only committed transactions are
 * shown; --uncommitted also shows transactions that never committed (or not
 * yet), each followed by a line {"uncommitted": {...}} naming it. Exit
 * status: 0 at the end of the log, 1 on a failure (the reason is printed on
 * stderr), 2 on bad usage, 3 when the log ends inside a transaction that is
 * not committed (yet) (the mapper's sentence is printed on stderr). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/update_json.h"
#include "filters/filter.h"
#include "mappers/mapper.h"
#include "wormhole/position.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: wormhole-logcat [--mapper NAME] [mapper options] [--from POS | --from-logical POS]\n"
        "                       [--follow] [--max N] [--shard ID] [--debug AREAS]\n"
        "                       [--filter EXPR | --filter-file FILE] [--uncommitted]\n"
        "\n"
        "Prints each update of a datastore's log as one JSON line (docs/UPDATES.md).\n"
        "\n"
        "  --mapper NAME        positions mapper (default mysql)\n"
        "  --binlog-dir DIR     mysql: the server's binlog directory (option binlog_dir)\n"
        "  --db PATH            rocksdb: the database directory (option db)\n"
        "  --option KEY=VALUE   any mapper option; VALUE is JSON, or else a string\n"
        "                       (not password: argv shows in ps; it is refused)\n"
        "  --password-file FILE mysql: the schema connection's password, from a file of\n"
        "                       mode 0600 (option password_file); without it the password\n"
        "                       is read from $WH_MYSQL_PASSWORD when that is set\n"
        "  --from POS           start at a physical position (FILE:OFFSET/INDEX or SEQ/INDEX,\n"
        "                       docs/UPDATES.md)\n"
        "  --from-logical POS   start at a logical position (GTID/INDEX), mapped to this log\n"
        "  --after              start after POS instead of at it\n"
        "  --follow             keep tailing the live log instead of stopping at its end\n"
        "  --max N              stop after N updates (N printed ones with a filter)\n"
        "  --filter EXPR        print only updates matching EXPR (docs/FILTERS.md)\n"
        "  --filter-file FILE   the filter from FILE, in text or JSON form\n"
        "  --uncommitted        forensics: also print the updates of transactions that never\n"
        "                       committed (or not yet); a line {\"uncommitted\": {\"txn\": ID,\n"
        "                       \"pos\": POS, \"updates\": N}} follows each such transaction\n"
        "  --shard ID           shard id stamped on updates (default \"local\")\n"
        "  --debug AREAS        debug logging for areas (binlog,rocksdb,filter,... or all)\n"
        "\n"
        "Exit status: 0 at the end of the log (or after --max), 1 on a failure, 2 on bad\n"
        "usage, 3 when the log ends inside a transaction not committed (yet).\n");
    for (const wh_mapper_ops *const *m = wh_mapper_all(); *m; m++) {
        fprintf(out, "\noptions of mapper '%s':\n", (*m)->name);
        wh_config_print_help(out, (*m)->options);
    }
}

/* Sets options[key] from "KEY=VALUE": VALUE as JSON if it parses, else a string. */
static int set_option(json_t *options, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return -1;
    char key[128];
    size_t n = (size_t)(eq - kv);
    if (n >= sizeof key)
        return -1;
    memcpy(key, kv, n);
    key[n] = '\0';
    json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
    if (!v)
        v = json_string(eq + 1);
    return json_object_set_new(options, key, v);
}

/* Parses the filter of --filter (expr) or --filter-file (path; JSON if it
 * starts with '{'). Prints the error with its place and returns NULL. */
static wh_filter *load_filter(const char *expr, const char *path)
{
    char errbuf[1024], *text = NULL;
    size_t len = 0;
    wh_filter *f = NULL;
    if (path) {
        FILE *fp = fopen(path, "rb");
        if (!fp) {
            fprintf(stderr, "wormhole-logcat: --filter-file %s: %s\n", path, strerror(errno));
            return NULL;
        }
        text = malloc(WH_FILTER_MAX_TEXT + 2);
        if (text)
            len = fread(text, 1, WH_FILTER_MAX_TEXT + 1, fp);
        bool bad = !text || ferror(fp);
        fclose(fp);
        if (bad) {
            fprintf(stderr, "wormhole-logcat: --filter-file %s: cannot read it\n", path);
            free(text);
            return NULL;
        }
        expr = text;
    } else {
        len = strlen(expr);
    }
    if (wh_filter_parse(expr, len, &f, errbuf, sizeof errbuf) != WH_OK)
        fprintf(stderr, "wormhole-logcat: %s%s: %s\n", path ? "--filter-file " : "--filter",
                path ? path : "", errbuf);
    free(text);
    return f;
}

/* The transaction of the updates printed last, to notice one that never
 * reaches its last update (--uncommitted): its marker line follows it. */
typedef struct txn_track {
    bool open;                /* updates seen, the last one not yet */
    char id[512];
    char pos[768];            /* FILE:OFFSET of its start, or its sequence */
    long long n;
} txn_track;

static void track_marker(txn_track *t, wh_buf *out)
{
    json_t *j = json_pack("{s:{s:s, s:s, s:I}}", "uncommitted", "txn", t->id, "pos", t->pos,
                          "updates", (json_int_t)t->n);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (s) {
        wh_buf_puts(out, s);
        wh_buf_puts(out, "\n");
    } else {
        out->oom = true;
    }
    free(s);
    json_decref(j);
    t->open = false;
}

/* Notes update u; a new transaction while the previous one is still open
 * means that one never committed. */
static void track(txn_track *t, const wh_update *u, wh_buf *out)
{
    char pos[768];
    if (u->pos.log_name)
        snprintf(pos, sizeof pos, "%s:%llu", u->pos.log_name, (unsigned long long)u->pos.offset);
    else
        snprintf(pos, sizeof pos, "%llu", (unsigned long long)u->pos.offset);
    const char *id = u->txn.id ? u->txn.id : "";
    bool same = t->n > 0 && strcmp(t->id, id) == 0 && strcmp(t->pos, pos) == 0;
    if (!same) {
        if (t->open)
            track_marker(t, out);
        snprintf(t->id, sizeof t->id, "%s", id);
        snprintf(t->pos, sizeof t->pos, "%s", pos);
        t->n = 0;
    }
    t->n++;
    t->open = !u->txn.last;
}

/* Whether mapper ops has an option named key. */
static bool has_option(const wh_mapper_ops *ops, const char *key)
{
    for (const wh_cfg_field *f = ops->options; f && f->key; f++)
        if (strcmp(f->key, key) == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    enum { OPT_FROM_LOGICAL = 256, OPT_AFTER, OPT_OPTION, OPT_MAX, OPT_SHARD, OPT_DEBUG,
           OPT_FILTER, OPT_FILTER_FILE, OPT_PASSWORD_FILE, OPT_UNCOMMITTED };
    static const struct option longopts[] = {
        { "mapper", required_argument, NULL, 'm' },
        { "binlog-dir", required_argument, NULL, 'b' },
        { "db", required_argument, NULL, 'd' },
        { "option", required_argument, NULL, OPT_OPTION },
        { "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
        { "from", required_argument, NULL, 'f' },
        { "from-logical", required_argument, NULL, OPT_FROM_LOGICAL },
        { "after", no_argument, NULL, OPT_AFTER },
        { "follow", no_argument, NULL, 'F' },
        { "max", required_argument, NULL, OPT_MAX },
        { "shard", required_argument, NULL, OPT_SHARD },
        { "debug", required_argument, NULL, OPT_DEBUG },
        { "filter", required_argument, NULL, OPT_FILTER },
        { "filter-file", required_argument, NULL, OPT_FILTER_FILE },
        { "uncommitted", no_argument, NULL, OPT_UNCOMMITTED },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *mapper_name = "mysql", *from = NULL, *from_logical = NULL, *shard = "local";
    const char *filter_expr = NULL, *filter_file = NULL;
    wh_filter *filter = NULL;
    bool follow = false, inclusive = true, uncommitted = false;
    long long max = -1;
    json_t *options = json_object();
    char errbuf[1024];
    int c, status = 2;

    wh_log_set_ident("wormhole-logcat");
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': mapper_name = optarg; break;
        case 'b': json_object_set_new(options, "binlog_dir", json_string(optarg)); break;
        case 'd': json_object_set_new(options, "db", json_string(optarg)); break;
        case 'f': from = optarg; break;
        case OPT_FROM_LOGICAL: from_logical = optarg; break;
        case OPT_AFTER: inclusive = false; break;
        case 'F': follow = true; break;
        case OPT_SHARD: shard = optarg; break;
        case OPT_FILTER: filter_expr = optarg; break;
        case OPT_FILTER_FILE: filter_file = optarg; break;
        case OPT_UNCOMMITTED: uncommitted = true; break;
        case OPT_MAX:
            max = strtoll(optarg, NULL, 10);
            break;
        case OPT_PASSWORD_FILE:
            json_object_set_new(options, "password_file", json_string(optarg));
            break;
        case OPT_OPTION:
            if (strncmp(optarg, "password=", 9) == 0) {
                fprintf(stderr, "wormhole-logcat: --option password=... puts the password where "
                        "ps and shell history show it; use --password-file FILE (mode 0600) "
                        "or the WH_MYSQL_PASSWORD environment variable\n");
                goto out;
            }
            if (set_option(options, optarg) != 0) {
                fprintf(stderr, "wormhole-logcat: --option wants KEY=VALUE, got '%s'\n", optarg);
                goto out;
            }
            break;
        case OPT_DEBUG:
            if (wh_log_set_debug(optarg) != WH_OK) {
                fprintf(stderr, "wormhole-logcat: unknown debug area in '%s'\n", optarg);
                goto out;
            }
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (optind != argc || (from && from_logical) || (filter_expr && filter_file)) {
        usage(stderr);
        goto out;
    }
    if ((filter_expr || filter_file) && !(filter = load_filter(filter_expr, filter_file)))
        goto out;
    /* A mapper with the option "uncommitted" may end the log inside a
     * transaction that is not committed (yet): it then returns WH_ERR_EOF
     * with a sentence in errbuf. */
    const wh_mapper_ops *ops = wh_mapper_find(mapper_name);
    bool has_uncommitted = ops && has_option(ops, "uncommitted");
    if (uncommitted) {
        if (ops && !has_uncommitted) {
            fprintf(stderr, "wormhole-logcat: --uncommitted: the %s mapper delivers nothing "
                    "uncommitted to show (its log records only whole transactions)\n",
                    mapper_name);
            goto out;
        }
        json_object_set_new(options, "uncommitted", json_true());
    }

    /* The password from the environment, named (not copied) in the options. */
    if (strcmp(mapper_name, "mysql") == 0 && getenv("WH_MYSQL_PASSWORD") &&
        !json_object_get(options, "password_file") && !json_object_get(options, "password_env"))
        json_object_set_new(options, "password_env", json_string("WH_MYSQL_PASSWORD"));

    status = 1;
    static wh_pos start;   /* 4 KiB: not on the stack */
    int rc = WH_OK;
    if (from)
        rc = wh_pos_parse_physical(&start, from, strlen(from), errbuf, sizeof errbuf);
    else if (from_logical)
        rc = wh_pos_parse_logical(&start, from_logical, strlen(from_logical), errbuf,
                                  sizeof errbuf);
    if (rc != WH_OK) {
        fprintf(stderr, "wormhole-logcat: %s: %s\n", from ? "--from" : "--from-logical", errbuf);
        goto out;
    }
    wh_mapper *m = NULL;
    rc = wh_mapper_create(mapper_name, options, shard, follow, &m, errbuf, sizeof errbuf);
    if (rc == WH_OK)
        rc = from_logical ? m->ops->seek_logical(m, &start, inclusive, errbuf, sizeof errbuf)
                          : m->ops->seek_physical(m, from ? &start : NULL, inclusive, errbuf,
                                                  sizeof errbuf);
    /* --follow on a copy that has not received the position yet (a lagging
     * replica): wait for it, never start from a later point. */
    if (rc == WH_ERR_NOT_YET && follow) {
        fprintf(stderr, "wormhole-logcat: %s; waiting for it\n", errbuf);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        while (rc == WH_ERR_NOT_YET && !stop_requested) {
            nanosleep(&(struct timespec){ 0, 200 * 1000000 }, NULL);
            rc = m->ops->seek_logical(m, &start, inclusive, errbuf, sizeof errbuf);
        }
    }
    if (rc != WH_OK) {
        fprintf(stderr, "wormhole-logcat: %s\n", errbuf);
        wh_mapper_destroy(m);
        goto out;
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    wh_buf line = WH_BUF_INIT;
    long long printed = 0;
    txn_track tt = { 0 };
    while (!stop_requested && (max < 0 || printed < max)) {
        const wh_update *ups;
        int want = max < 0 || max - printed > 1024 ? 1024 : (int)(max - printed);
        errbuf[0] = '\0';
        int n = m->ops->next_batch(m, &ups, want, 200, errbuf, sizeof errbuf);
        if (n == WH_ERR_AGAIN)
            continue;
        if (n == WH_ERR_EOF) {
            /* A sentence with the end of the log: it ends inside a
             * transaction that is not committed (yet). */
            wh_buf_reset(&line);
            if (uncommitted && tt.open)
                track_marker(&tt, &line);
            if (line.len && fwrite(line.data, 1, line.len, stdout) != line.len)
                fprintf(stderr, "wormhole-logcat: cannot write output\n");
            status = 0;
            if (has_uncommitted && errbuf[0]) {
                fprintf(stderr, "wormhole-logcat: %s%s\n", errbuf,
                        uncommitted ? "" : "; --uncommitted shows them");
                status = 3;
            }
            break;
        }
        if (n < 0) {
            fprintf(stderr, "wormhole-logcat: %s\n", errbuf);
            break;
        }
        wh_buf_reset(&line);
        for (int i = 0; i < n && (max < 0 || printed < max); i++) {
            if (uncommitted)
                track(&tt, &ups[i], &line);
            if (filter && !wh_filter_match(filter, &ups[i]))
                continue;
            wh_update_to_json(&ups[i], &line);
            printed++;
        }
        if (!wh_buf_ok(&line) ||
            (line.len && fwrite(line.data, 1, line.len, stdout) != line.len) ||
            (follow && fflush(stdout) != 0)) {
            fprintf(stderr, "wormhole-logcat: cannot write output\n");
            break;
        }
    }
    if (stop_requested || (max >= 0 && printed >= max))
        status = 0;
    if (fflush(stdout) != 0)
        status = 1;
    wh_buf_free(&line);
    wh_mapper_destroy(m);
out:
    wh_filter_free(filter);
    json_decref(options);
    return status;
}
