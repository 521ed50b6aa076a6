/* tail.c -- wormhole-tail: a subscriber app instance that prints updates as JSON lines.
 *
 * Registers as an instance of --app in ZooKeeper, receives the shards the
 * publishers assign to it, and prints each update as one line of
 * docs/UPDATES.md on stdout (flushed after every batch). Shard notices and
 * problems go to stderr. Exit status: 0 after SIGINT/SIGTERM or --max
 * updates, 1 on a failure (reason on stderr), 2 on bad usage. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/update_json.h"
#include "filters/filter.h"
#include "protocol/zk_layout.h"
#include "wormhole/subscriber.h"

static wh_subscriber *the_sub;

static struct {
    wh_buf    line;
    long long printed, max;
    bool      failed;
} out = { WH_BUF_INIT, 0, -1, false };

static void on_signal(int sig)
{
    (void)sig;
    wh_subscriber_stop(the_sub);
}

static int on_batch(void *opaque, const wh_update *ups, size_t n, const wh_sub_delivery *d)
{
    (void)opaque;
    (void)d;
    wh_buf_reset(&out.line);
    size_t take = n;
    if (out.max >= 0 && (long long)n > out.max - out.printed)
        take = (size_t)(out.max - out.printed);
    for (size_t i = 0; i < take; i++)
        wh_update_to_json(&ups[i], &out.line);
    if (!wh_buf_ok(&out.line) || fwrite(out.line.data, 1, out.line.len, stdout) != out.line.len ||
        fflush(stdout) != 0) {
        wh_error(WH_AREA_SUBSCRIBER, "cannot write to stdout; stopping");
        out.failed = true;
        wh_subscriber_stop(the_sub);
        return -1;   /* not delivered: not acknowledged */
    }
    out.printed += (long long)take;
    if (out.max >= 0 && out.printed >= out.max) {
        wh_subscriber_stop(the_sub);
        if (take < n)
            return -1;   /* the rest was not printed: leave it unacknowledged */
    }
    return 0;
}

static void on_notice(void *opaque, const char *shard, bool held)
{
    (void)opaque;
    wh_info(WH_AREA_SUBSCRIBER, "shard %s %s", shard, held ? "assigned" : "released");
}

/* The contents of a filter file (malloc'd, NUL-terminated), or NULL after
 * saying why on stderr. At most WH_FILTER_MAX_TEXT bytes are read: a longer
 * file is refused by the filter parser, naming the limit. */
static char *read_filter(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "wormhole-tail: --filter-file %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = WH_FILTER_MAX_TEXT + 2, n;
    char *text = malloc(cap);
    if (text) {
        n = fread(text, 1, cap - 1, f);
        text[n] = '\0';
        if (ferror(f) || strlen(text) != n) {
            fprintf(stderr, "wormhole-tail: --filter-file %s: %s\n", path,
                    ferror(f) ? "read error" : "the file holds a NUL byte");
            free(text);
            text = NULL;
        }
    }
    fclose(f);
    return text;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: wormhole-tail --zk HOST:PORT[,HOST:PORT...]/ROOT --app NAME\n"
        "                     [--filter EXPR | --filter-file FILE] [--replace-filter]\n"
        "                     [--shards S1,S2,...] [--instance NAME] [--listen HOST[:PORT]]\n"
        "                     [--advertise HOST] [--max N] [--session-timeout MS] [--debug AREAS]\n"
        "                     [--max-update-bytes N] [--max-frame-bytes N]\n"
        "                     [--tls-ca FILE --tls-cert FILE --tls-key FILE]\n"
        "                     [--tls-publisher-names PATTERNS] [--tls auto|on|off]\n"
        "                     [--zk-user USER --zk-secret-file FILE] [--bootstrap TABLES]\n"
        "\n"
        "Joins subscriber app NAME as one instance and prints every update it receives\n"
        "as one JSON line (docs/UPDATES.md).\n"
        "\n"
        "  --zk SPEC          ZooKeeper servers and root path (root defaults to /wormhole)\n"
        "  --app NAME         the subscriber app to join\n"
        "  --filter EXPR      only updates matching EXPR (docs/FILTERS.md), filtered at the\n"
        "                     publisher; all instances of an app run the same filter: an\n"
        "                     instance with another one is refused while others run\n"
        "  --filter-file FILE the filter's text (or JSON) read from FILE, for filters\n"
        "                     longer than a command line takes\n"
        "  --replace-filter   make the filter the app's even while other instances run\n"
        "                     another one (docs/ZOOKEEPER.md, \"One filter per app\")\n"
        "  --shards LIST      comma-separated shards this instance takes (default all)\n"
        "  --instance NAME    instance name (default: the advertised endpoint)\n"
        "  --listen H[:P]     address to listen on for publishers (default 127.0.0.1, any port)\n"
        "  --advertise HOST   host name publishers connect to (default the listen host)\n"
        "  --max N            exit after printing N updates\n"
        "  --session-timeout MS  ZooKeeper session timeout (default 10000): how soon the\n"
        "                     instance's registration vanishes if this process dies\n"
        "  --debug AREAS      debug logging for areas (subscriber,protocol,zk or all)\n"
        "  --max-update-bytes N  largest update accepted (default 268435456, at least 16384);\n"
        "                     a larger one stops its shard's flow, other shards go on\n"
        "  --max-frame-bytes N   largest frame accepted (16384..67108864, default 67108864)\n"
        "  --tls-ca FILE      PEM CA that publishers' certificates must chain to\n"
        "  --tls-cert FILE    PEM certificate of this instance (publishers deliver app NAME\n"
        "                     only to a certificate named subscriber.NAME.wormhole)\n"
        "  --tls-key FILE     its PEM private key (mode 0600 or stricter); the three files\n"
        "                     are read again when they change (docs/SECURITY.md)\n"
        "  --tls-publisher-names PATTERNS  names a publisher's certificate must carry for\n"
        "                     the shard it delivers (default publisher.{shard}.wormhole)\n"
        "  --tls MODE         auto (default: TLS when the files are given, else plaintext\n"
        "                     from loopback addresses only), on (TLS required), or off\n"
        "                     (plaintext, loopback only)\n"
        "  --zk-user USER     the app's ZooKeeper identity (digest; docs/ZOOKEEPER.md)\n"
        "  --zk-secret-file FILE  file holding USER's password (mode 0600)\n"
        "  --bootstrap TABLES comma-separated tables (db.table, or a RocksDB column family)\n"
        "                     whose existing rows the app gets first: asked at registration\n"
        "                     when the app has no bootstrap request (docs/BOOTSTRAP.md)\n");
}

/* "a,b,c" as a NULL-terminated array of copies (free with free_list); NULL
 * when out of memory. */
static char **split_list(const char *list)
{
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    char **arr = calloc(n + 1, sizeof *arr), *copy = strdup(list), *save = NULL;
    size_t k = 0;
    for (char *t = arr && copy ? strtok_r(copy, ",", &save) : NULL; t;
         t = strtok_r(NULL, ",", &save))
        arr[k++] = strdup(t);
    free(copy);
    if (!copy) {
        free(arr);
        return NULL;
    }
    return arr;
}

static void free_list(char **list)
{
    for (char **p = list; p && *p; p++)
        free(*p);
    free(list);
}

int main(int argc, char **argv)
{
    enum { OPT_DEBUG = 256, OPT_ADVERTISE, OPT_MAX, OPT_SESSION, OPT_MAX_UPDATE, OPT_MAX_FRAME,
           OPT_FILTER_FILE, OPT_TLS, OPT_TLS_CA, OPT_TLS_CERT, OPT_TLS_KEY, OPT_TLS_NAMES, OPT_REPLACE,
           OPT_ZK_USER, OPT_ZK_SECRET, OPT_BOOTSTRAP };
    static const struct option longopts[] = {
        { "zk", required_argument, NULL, 'z' },
        { "app", required_argument, NULL, 'a' },
        { "filter", required_argument, NULL, 'f' },
        { "replace-filter", no_argument, NULL, OPT_REPLACE },
        { "shards", required_argument, NULL, 's' },
        { "instance", required_argument, NULL, 'i' },
        { "listen", required_argument, NULL, 'l' },
        { "advertise", required_argument, NULL, OPT_ADVERTISE },
        { "max", required_argument, NULL, OPT_MAX },
        { "session-timeout", required_argument, NULL, OPT_SESSION },
        { "debug", required_argument, NULL, OPT_DEBUG },
        { "max-update-bytes", required_argument, NULL, OPT_MAX_UPDATE },
        { "filter-file", required_argument, NULL, OPT_FILTER_FILE },
        { "max-frame-bytes", required_argument, NULL, OPT_MAX_FRAME },
        { "tls", required_argument, NULL, OPT_TLS },
        { "tls-ca", required_argument, NULL, OPT_TLS_CA },
        { "tls-cert", required_argument, NULL, OPT_TLS_CERT },
        { "tls-key", required_argument, NULL, OPT_TLS_KEY },
        { "tls-publisher-names", required_argument, NULL, OPT_TLS_NAMES },
        { "zk-user", required_argument, NULL, OPT_ZK_USER },
        { "zk-secret-file", required_argument, NULL, OPT_ZK_SECRET },
        { "bootstrap", required_argument, NULL, OPT_BOOTSTRAP },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *zk = NULL, *listen = NULL;
    char hosts[1024], root[512], listen_host[256] = "127.0.0.1", *shard_list = NULL;
    char **shards = NULL, **boot = NULL, errbuf[1024], *filter_text = NULL;
    const char *boot_list = NULL;
    wh_sub_options o;
    int c, status = 2;

    wh_log_set_ident("wormhole-tail");
    wh_sub_options_init(&o);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'z': zk = optarg; break;
        case 'a': o.app = optarg; break;
        case 'f': o.filter = optarg; break;
        case OPT_REPLACE: o.replace_filter = true; break;
        case 's': shard_list = optarg; break;
        case 'i': o.instance = optarg; break;
        case 'l': listen = optarg; break;
        case OPT_ADVERTISE: o.advertise_host = optarg; break;
        case OPT_ZK_USER: o.zk_user = optarg; break;
        case OPT_ZK_SECRET: o.zk_secret_file = optarg; break;
        case OPT_BOOTSTRAP: boot_list = optarg; break;
        case OPT_MAX: {
            char *end;
            out.max = strtoll(optarg, &end, 10);
            if (*end || out.max < 0) {
                fprintf(stderr, "wormhole-tail: --max wants a number >= 0, got '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case OPT_SESSION:
            o.zk_session_timeout_ms = atoi(optarg);
            if (o.zk_session_timeout_ms < 1000) {
                fprintf(stderr, "wormhole-tail: --session-timeout wants milliseconds >= 1000\n");
                return 2;
            }
            break;
        case OPT_FILTER_FILE:
            free(filter_text);
            if (!(filter_text = read_filter(optarg)))
                return 2;
            o.filter = filter_text;
            break;
        case OPT_MAX_UPDATE:
        case OPT_MAX_FRAME: {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || !*optarg || optarg[0] == '-' ||
                (c == OPT_MAX_FRAME && v > UINT32_MAX)) {
                fprintf(stderr, "wormhole-tail: --%s wants a number of bytes, got '%s'\n",
                        c == OPT_MAX_FRAME ? "max-frame-bytes" : "max-update-bytes", optarg);
                return 2;
            }
            if (c == OPT_MAX_FRAME)
                o.max_frame_bytes = (uint32_t)v;
            else
                o.max_update_bytes = v;
            break;   /* ranges: wh_subscriber_new says what is wrong */
        }
        case OPT_TLS: o.tls_mode = optarg; break;
        case OPT_TLS_CA: o.tls_ca_file = optarg; break;
        case OPT_TLS_CERT: o.tls_cert_file = optarg; break;
        case OPT_TLS_KEY: o.tls_key_file = optarg; break;
        case OPT_TLS_NAMES: o.tls_publisher_names = optarg; break;
        case OPT_DEBUG:
            if (wh_log_set_debug(optarg) != WH_OK) {
                fprintf(stderr, "wormhole-tail: unknown debug area in '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || !zk || !o.app) {
        usage(stderr);
        return 2;
    }
    if (!zku_split_connect(zk, hosts, sizeof hosts, root, sizeof root)) {
        fprintf(stderr, "wormhole-tail: --zk '%s' is not HOST:PORT[,...][/ROOT]\n", zk);
        return 2;
    }
    o.zk_connect = hosts;
    o.zk_root = root;
    if (listen) {
        const char *colon = strrchr(listen, ':');
        size_t hn = colon ? (size_t)(colon - listen) : strlen(listen);
        if (hn >= sizeof listen_host) {
            fprintf(stderr, "wormhole-tail: --listen '%s' is too long\n", listen);
            return 2;
        }
        memcpy(listen_host, listen, hn);
        listen_host[hn] = '\0';
        if (colon)
            o.listen_port = atoi(colon + 1);
    }
    o.listen_host = listen_host;
    if (shard_list) {
        if (!(shards = split_list(shard_list)))
            return 1;
        o.shards = (const char *const *)shards;
    }
    if (boot_list) {
        if (!(boot = split_list(boot_list)))
            return 1;
        o.bootstrap_tables = (const char *const *)boot;
    }
    o.on_batch = on_batch;
    o.on_shard_notice = on_notice;

    status = 1;
    if (wh_subscriber_new(&o, &the_sub, errbuf, sizeof errbuf) != WH_OK) {
        fprintf(stderr, "wormhole-tail: %s\n", errbuf);
        goto out;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    wh_info(WH_AREA_SUBSCRIBER, "instance %s of app %s listening on %s",
            wh_subscriber_instance(the_sub), o.app, wh_subscriber_endpoint(the_sub));
    if (wh_subscriber_run(the_sub, errbuf, sizeof errbuf) != WH_OK) {
        fprintf(stderr, "wormhole-tail: %s\n", errbuf);
        goto out;
    }
    status = out.failed ? 1 : 0;
out:
    wh_subscriber_free(the_sub);
    free_list(shards);
    free_list(boot);
    wh_buf_free(&out.line);
    free(filter_text);
    return status;
}
