/* bench_binlog_decode.c -- decode throughput of the mysql mapper: reads every
 * binlog of a directory from its oldest position to the end through the
 * mapper (one thread, pinned to one CPU), to the in-memory update form or
 * also rendered as JSON lines, and prints row changes/s, MB/s and peak RSS.
 *
 * usage: bench_binlog_decode BINLOG_DIR [--json] [--batch N] [--cpu K] [--repeat N]
 *                            [--option KEY=JSON]...
 * Output (one line per run):
 *   decode: 1234567 updates, 456.7 MB in 0.321 s (cpu 0.320 s): 3.85 M updates/s, 1423 MB/s,
 *   peak RSS 12.3 MB */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <jansson.h>

#include "bench/bench_util.h"
#include "core/buf.h"
#include "core/update_json.h"
#include "mappers/mapper.h"

/* Bytes of the binlog files in dir (everything but *.index). */
static uint64_t binlog_bytes(const char *dir)
{
    uint64_t total = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || (l > 6 && !strcmp(de->d_name + l - 6, ".index")))
            continue;
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    bool json = false;
    int batch = 1024, cpu = 0, repeat = 1;
    json_t *opts = json_object();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cpu") && i + 1 < argc)
            cpu = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--option") && i + 1 < argc && strchr(argv[i + 1], '=')) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            *eq = '\0';
            json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
            json_object_set_new(opts, kv, v ? v : json_string(eq + 1));
        }
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else {
            fprintf(stderr, "usage: %s BINLOG_DIR [--json] [--batch N] [--cpu K] [--repeat N]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!dir || batch < 1) {
        fprintf(stderr, "usage: %s BINLOG_DIR [--json] [--batch N] [--cpu K] [--repeat N]\n",
                argv[0]);
        return 2;
    }
    bench_pin_cpu(cpu);
    uint64_t bytes = binlog_bytes(dir);
    for (int run = 0; run < repeat; run++) {
        json_t *o = json_deep_copy(opts);
        json_object_set_new(o, "binlog_dir", json_string(dir));
        wh_mapper *m = NULL;
        char err[1024];
        int rc = wh_mapper_create("mysql", o, "bench", false, &m, err, sizeof err);
        json_decref(o);
        if (rc == WH_OK)
            rc = m->ops->seek_physical(m, NULL, true, err, sizeof err);
        if (rc != WH_OK) {
            fprintf(stderr, "bench_binlog_decode: %s\n", err);
            return 1;
        }
        wh_buf out = WH_BUF_INIT;
        uint64_t updates = 0, rows = 0, json_bytes = 0;
        double t0 = bench_now(CLOCK_MONOTONIC), c0 = bench_now(CLOCK_PROCESS_CPUTIME_ID);
        for (;;) {
            const wh_update *u;
            int n = m->ops->next_batch(m, &u, batch, 0, err, sizeof err);
            if (n == WH_ERR_EOF)
                break;
            if (n < 0) {
                fprintf(stderr, "bench_binlog_decode: %s\n", err);
                return 1;
            }
            updates += (uint64_t)n;
            for (int i = 0; i < n; i++)
                rows += u[i].op != WH_OP_DDL;
            if (json) {
                wh_buf_reset(&out);
                for (int i = 0; i < n; i++)
                    wh_update_to_json(&u[i], &out);
                json_bytes += out.len;
            }
        }
        double t = bench_now(CLOCK_MONOTONIC) - t0, c = bench_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("%s: %" PRIu64 " row changes (%" PRIu64 " updates), %.1f MB of binlog in %.3f s "
               "(cpu %.3f s): %.2f M row changes/s, %.0f MB/s",
               json ? "decode+json" : "decode", rows, updates, bytes / 1e6, t, c,
               rows / c / 1e6, bytes / c / 1e6);
        if (json)
            printf(", %.1f MB of JSON", json_bytes / 1e6);
        printf(", peak RSS %.1f MB\n", ru.ru_maxrss / 1024.0);
        fflush(stdout);
        wh_buf_free(&out);
        wh_mapper_destroy(m);
    }
    json_decref(opts);
    return 0;
}
