/* bench_json.c -- throughput of the JSON line renderer (core/update_json.c)
 * alone, on synthetic updates held in memory, one thread.
 *
 * usage: bench_json [--count N] [--cpu K] [--repeat N] [--mix NAME]
 * Mixes: sysbench (the rows of sysbench's oltp tables: two INTs, CHAR(120)
 * and CHAR(60) of digits and dashes; inserts, updates, deletes), text
 * (UTF-8 text with accents, CJK, quotes and newlines), types (temporal,
 * DECIMAL, DOUBLE, BIGINT UNSIGNED, BLOB, JSON, NULL). Output, one line per
 * mix and run:
 *   json sysbench: 2000000 updates, 912.3 MB of JSON in 0.456 s cpu: 4.39 M updates/s, 2001 MB/s */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_util.h"
#include "core/buf.h"
#include "core/update_json.h"
#include "tests/rng.h"

enum { POOL = 256, BATCH = 1024, COLS = 8 };


/* One synthetic update with its own storage. */
typedef struct item {
    wh_update u;
    wh_value  before[COLS], after[COLS];
    char      logical[32], txn[32], text[4][512];
} item;

static const char *const sb_names[] = { "id", "k", "c", "pad" };
static const char *const text_names[] = { "id", "title", "body", "author" };
static const char *const type_names[] = { "id", "created_at", "d", "price", "amount",
                                          "big", "blob", "doc" };

/* sysbench's c/pad: groups of 11 digits joined by dashes. */
static void sb_text(char *o, size_t groups)
{
    for (size_t g = 0; g < groups; g++) {
        for (int d = 0; d < 11; d++)
            *o++ = (char)('0' + check_rand() % 10);
        if (g + 1 < groups)
            *o++ = '-';
    }
    *o = '\0';
}

static void utf8_text(char *o, size_t chars)
{
    static const char *const pieces[] = { "caf\xc3\xa9 ", "na\xc3\xafve ", "\xe6\x97\xa5\xe6\x9c\xac",
                                          "\xe8\xaa\x9e", "plain words ", "\"quoted\" ",
                                          "line\n", "tab\t", "\xf0\x9f\x98\x80", "back\\slash " };
    char *start = o;
    for (size_t c = 0; c < chars && o - start < 440; c++) {
        const char *pc = pieces[check_rand() % 10];
        size_t l = strlen(pc);
        memcpy(o, pc, l);
        o += l;
    }
    *o = '\0';
}

static void set_str(wh_value *v, const char *s)
{
    *v = (wh_value){ .type = WH_T_STRING, .str = s, .len = (uint32_t)strlen(s) };
}

static void make(item *it, const char *mix, uint64_t n)
{
    memset(it, 0, sizeof *it);
    wh_update *u = &it->u;
    snprintf(it->logical, sizeof it->logical, "0-1-%" PRIu64, 1000000 + n / 4);
    snprintf(it->txn, sizeof it->txn, "0-1-%" PRIu64, 1000000 + n / 4);
    u->shard = "bench";
    u->db = "sbtest";
    u->pos = (wh_position){ .log_name = "mysql-bin.000002", .offset = 4 + n * 431,
                            .logical = it->logical, .index = (uint32_t)(n % 4) };
    u->ts = 1795397804 + (int64_t)(n / 100);
    u->txn.id = it->txn;
    u->txn.index = (uint32_t)(n % 4);
    u->txn.last = n % 4 == 3;
    u->op = (uint8_t)(n % 3 == 0 ? WH_OP_INSERT : n % 3 == 1 ? WH_OP_UPDATE : WH_OP_DELETE);
    wh_value *img = u->op == WH_OP_DELETE ? it->before : it->after;
    wh_row row = { NULL, img, 0 };
    if (!strcmp(mix, "sysbench")) {
        u->table = "sbtest1";
        row.names = sb_names;
        row.count = 4;
        img[0] = (wh_value){ .type = WH_T_INT, .n.i = (int64_t)(check_rand() % 250000) + 1 };
        img[1] = (wh_value){ .type = WH_T_INT, .n.i = (int64_t)(check_rand() % 250000) + 1 };
        sb_text(it->text[0], 10);
        sb_text(it->text[1], 5);
        set_str(&img[2], it->text[0]);
        set_str(&img[3], it->text[1]);
    } else if (!strcmp(mix, "text")) {
        u->table = "articles";
        row.names = text_names;
        row.count = 4;
        img[0] = (wh_value){ .type = WH_T_UINT, .n.u = check_rand() % 100000000 };
        utf8_text(it->text[0], 6);
        utf8_text(it->text[1], 60);
        utf8_text(it->text[2], 3);
        set_str(&img[1], it->text[0]);
        set_str(&img[2], it->text[1]);
        set_str(&img[3], it->text[2]);
    } else {
        u->table = "orders";
        row.names = type_names;
        row.count = 8;
        img[0] = (wh_value){ .type = WH_T_INT, .n.i = (int64_t)n };
        img[1] = (wh_value){ .type = WH_T_DATETIME, .scale = 6,
                             .n.t = { 2024, 1 + n % 12, 1 + n % 28, n % 24, n % 60, n % 60,
                                      (uint32_t)(check_rand() % 1000000), false, 0 } };
        img[2] = (wh_value){ .type = WH_T_DATE, .n.t = { .year = 2025, .month = 6, .day = 30 } };
        snprintf(it->text[0], 64, "%" PRIu64 ".%02u", check_rand() % 100000, (unsigned)(n % 100));
        img[3] = (wh_value){ .type = WH_T_DECIMAL, .scale = 2, .str = it->text[0],
                             .len = (uint32_t)strlen(it->text[0]) };
        img[4] = (wh_value){ .type = WH_T_FLOAT, .n.d = (double)(check_rand() % 100000) / 7.0 };
        img[5] = n % 5 ? (wh_value){ .type = WH_T_UINT, .n.u = check_rand() }
                       : (wh_value){ .type = WH_T_NULL };
        for (int i = 0; i < 48; i++)
            it->text[1][i] = (char)check_rand();
        img[6] = (wh_value){ .type = WH_T_BYTES, .str = it->text[1], .len = 48 };
        snprintf(it->text[2], 128, "{\"tags\":[\"a\",\"b\"],\"n\":%u}", (unsigned)(n % 1000));
        img[7] = (wh_value){ .type = WH_T_JSON, .str = it->text[2],
                             .len = (uint32_t)strlen(it->text[2]) };
    }
    if (u->op == WH_OP_UPDATE) {
        memcpy(it->before, it->after, sizeof it->before);
        it->before[row.count - 1].type = WH_T_NULL;
    }
    row.values = it->after;
    u->after = row;
    row.values = it->before;
    u->before = row;
    u->has_before = u->op != WH_OP_INSERT;
    u->has_after = u->op != WH_OP_DELETE;
}

int main(int argc, char **argv)
{
    uint64_t count = 2000000;
    int cpu = -1, repeat = 1;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--cpu") && i + 1 < argc)
            cpu = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--mix") && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--count N] [--cpu K] [--repeat N] "
                    "[--mix sysbench|text|types]\n", argv[0]);
            return 2;
        }
    }
    bench_pin_cpu(cpu);
    item *pool = malloc(POOL * sizeof *pool);
    if (!pool)
        return 1;
    static const char *const mixes[] = { "sysbench", "text", "types" };
    for (size_t m = 0; m < sizeof mixes / sizeof mixes[0]; m++) {
        if (only && strcmp(only, mixes[m]))
            continue;
        for (uint64_t n = 0; n < POOL; n++)
            make(&pool[n], mixes[m], n);
        for (int run = 0; run < repeat; run++) {
            wh_buf out = WH_BUF_INIT;
            uint64_t bytes = 0, done = 0;
            double c0 = bench_now(CLOCK_PROCESS_CPUTIME_ID);
            while (done < count) {
                wh_buf_reset(&out);
                for (int i = 0; i < BATCH; i++, done++)
                    if (wh_update_to_json(&pool[done % POOL].u, &out) != WH_OK) {
                        fprintf(stderr, "bench_json: out of memory\n");
                        return 1;
                    }
                bytes += out.len;
            }
            double c = bench_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
            printf("json %s: %" PRIu64 " updates, %.1f MB of JSON in %.3f s cpu: "
                   "%.2f M updates/s, %.0f MB/s\n", mixes[m], done, bytes / 1e6, c,
                   done / c / 1e6, bytes / c / 1e6);
            wh_buf_free(&out);
        }
    }
    free(pool);
    return 0;
}
