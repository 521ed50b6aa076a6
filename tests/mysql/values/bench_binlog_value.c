/* bench_binlog_value.c -- decode throughput of the column value decoders, one core.
 *
 * Decodes two row images in a loop and prints rows/s, ns per value and MB/s
 * (CPU time of this process, so a busy machine inflates the figures less):
 *   - a sysbench oltp row: INT, INT, CHAR(120), CHAR(60) in utf8mb4;
 *   - a mixed row: those plus BIGINT, DATETIME2(0), DECIMAL(10,2),
 *     VARCHAR(40) and TIMESTAMP2(3).
 * Usage: bench_binlog_value [rows]   (default 5000000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench_util.h"
#include "mappers/mysql/binlog_value.h"

static size_t put(uint8_t *row, size_t n, const char *bytes, size_t len)
{
    memcpy(row + n, bytes, len);
    return n + len;
}

int main(int argc, char **argv)
{
    long rows = argc > 1 ? atol(argv[1]) : 5000000;
    binlog_column cols[9];
    memset(cols, 0, sizeof cols);
    cols[0].type = BT_LONG;
    cols[1].type = BT_LONG;
    cols[2].type = BT_STRING;
    cols[2].meta = 0xeee0;      /* CHAR(120) utf8mb4: 480 bytes, 2-byte length */
    cols[2].collation = 45;
    cols[3].type = BT_STRING;
    cols[3].meta = 0xfef0;      /* CHAR(60) utf8mb4: 240 bytes */
    cols[3].collation = 45;
    cols[4].type = BT_LONGLONG;
    cols[5].type = BT_DATETIME2;
    cols[6].type = BT_NEWDECIMAL;
    cols[6].meta = 10 << 8 | 2;
    cols[7].type = BT_VARCHAR;
    cols[7].meta = 160;
    cols[7].collation = 45;
    cols[8].type = BT_TIMESTAMP2;
    cols[8].meta = 3;

    uint8_t row[1024];
    size_t n = 0;
    n = put(row, n, "\x01\x00\x00\x00", 4);
    n = put(row, n, "\x39\x30\x00\x00", 4);
    row[n++] = 119;
    row[n++] = 0;
    for (int i = 0; i < 119; i++)
        row[n++] = (uint8_t)"0123456789-"[i % 11];
    row[n++] = 59;
    for (int i = 0; i < 59; i++)
        row[n++] = (uint8_t)"0123456789-"[i % 11];
    size_t sysbench_len = n;
    n = put(row, n, "\x67\x2b\x00\x00\x00\x00\x00\x00", 8);
    n = put(row, n, "\x99\xb2\xba\xc8\xb8", 5);
    n = put(row, n, "\x80\xbc\x61\x4e\x63", 5);
    n = put(row, n, "\x05" "abcde", 6);
    n = put(row, n, "\x65\xe0\x79\xf0\x04\xce", 6);

    wh_arena arena = WH_ARENA_INIT;
    wh_value v[9];
    char eb[256];
    for (int pass = 0; pass < 2; pass++) {
        int ncol = pass == 0 ? 4 : 9;
        size_t len = pass == 0 ? sysbench_len : n;
        double t0 = bench_now(CLOCK_PROCESS_CPUTIME_ID);
        for (long r = 0; r < rows; r++) {
            size_t off = 0;
            for (int c = 0; c < ncol; c++) {
                size_t used;
                if (binlog_value_decode(&cols[c], row + off, len - off, &arena, &v[c], &used, eb,
                                        sizeof eb)) {
                    fprintf(stderr, "bench_binlog_value: %s\n", eb);
                    return 1;
                }
                off += used;
            }
            if ((r & 1023) == 0)
                wh_arena_reset(&arena);
        }
        double dt = bench_now(CLOCK_PROCESS_CPUTIME_ID) - t0;
        printf("%-44s %6.2f M rows/s  %5.1f ns/value  %6.0f MB/s\n",
               pass == 0 ? "sysbench row (INT, INT, CHAR(120), CHAR(60))"
                         : "mixed row (9 columns)",
               (double)rows / dt / 1e6, dt * 1e9 / ((double)rows * ncol),
               (double)rows * (double)len / dt / 1e6);
    }
    wh_arena_free(&arena);
    return 0;
}
