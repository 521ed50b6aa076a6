/* fuzz_binlog_events.c -- feeds arbitrary bytes as a binlog file through the
 * whole mysql mapper (reader, event framing, table maps, row images, value
 * decoders, payloads, GTIDs, seeking), committed transactions only (the
 * scan ahead for commit events) and, with the option uncommitted, all. The
 * file is followed by an empty one, so a torn end is the end of a finished
 * file.
 *
 * The bytes (after the first) are also parsed as a DDL statement and as the
 * logical text of a stored position (a GTID state).
 *
 * The first input byte picks the framing: 0 the bytes are the whole file;
 * 1/2 a MySQL/MariaDB format description without checksums comes first;
 * 3 a MySQL format description with CRC32, and the harness fixes the CRC of
 * each event the bytes frame, so mutations reach the decoders.
 *
 * Built with -fsanitize=fuzzer under -Dfuzzers=true; otherwise (with
 * BINLOG_FUZZ_STANDALONE) main() replays a seed corpus directory plus
 * deterministic bit-flip mutants of each seed, as a unit test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "binlog_writer.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/update_json.h"
#include "mappers/mapper.h"
#include "mappers/mysql/binlog_ddl.h"
#include "mappers/mysql/binlog_gtid.h"
#include "mappers/mysql/binlog_value.h"
#include "wormhole/position.h"
#include "tests/fuzz_replay.h"

static char fuzz_dir[4096];

static void cleanup(void);

static void setup(void)
{
    if (fuzz_dir[0])
        return;
    wh_log_set_level(WH_LOG_ERROR + 0);
    wh_log_set_fd(-1);
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/wh-binlog-fuzz-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(fuzz_dir)) {
        perror("mkdtemp");
        abort();
    }
    atexit(cleanup);
    char p[4200];
    snprintf(p, sizeof p, "%s/f.index", fuzz_dir);
    FILE *f = fopen(p, "w");
    fputs("f.000001\nf.000002\n", f);
    fclose(f);
}

static void cleanup(void)
{
    if (!fuzz_dir[0])
        return;
    char p[4200];
    const char *names[] = { "f.index", "f.000001", "f.000002" };
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", fuzz_dir, names[i]);
        unlink(p);
    }
    rmdir(fuzz_dir);
    fuzz_dir[0] = '\0';
}

static void write_file(const char *name, const void *p, size_t n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (n)
        fwrite(p, 1, n, f);
    fclose(f);
}

/* Recomputes the CRC32 of every event that fits, from offset start on. */
static void fix_crcs(wh_buf *b, size_t start)
{
    size_t off = start;
    while (off + BINLOG_HEADER_LEN <= b->len) {
        uint32_t len = wh_le32((uint8_t *)b->data + off + 9);
        if (len < BINLOG_HEADER_LEN + 4 || len > b->len - off)
            break;
        uint32_t crc = binlog_crc32(0, b->data + off, len - 4);
        uint8_t *c = (uint8_t *)b->data + off + len - 4;
        c[0] = crc & 0xff; c[1] = (crc >> 8) & 0xff; c[2] = (crc >> 16) & 0xff; c[3] = crc >> 24;
        off += len;
    }
}

static void drain(const char *logical, bool second_file, bool uncommitted)
{
    json_t *o = json_pack("{s:s, s:b, s:s, s:i, s:b}", "binlog_dir", fuzz_dir,
                          "positional_names", 1, "statement_dml", "ddl", "read_buffer_kb", 16,
                          "uncommitted", uncommitted);
    wh_mapper *m = NULL;
    char err[1024];
    wh_buf out = WH_BUF_INIT;
    int rc = wh_mapper_create("mysql", o, "fuzz", false, &m, err, sizeof err);
    json_decref(o);
    static wh_pos pos;
    static const char phys[] = "f.000002:4/0";
    if (rc == WH_OK && logical)
        rc = wh_pos_parse_logical(&pos, logical, strlen(logical), err, sizeof err);
    else if (rc == WH_OK && second_file)
        rc = wh_pos_parse_physical(&pos, phys, sizeof phys - 1, err, sizeof err);
    if (rc == WH_OK)
        rc = logical ? m->ops->seek_logical(m, &pos, true, err, sizeof err)
                     : m->ops->seek_physical(m, second_file ? &pos : NULL, true, err, sizeof err);
    for (int rounds = 0; rc == WH_OK && rounds < 100000; rounds++) {
        const wh_update *u;
        int n = m->ops->next_batch(m, &u, 7, 0, err, sizeof err);
        if (n < 0)
            break;
        wh_buf_reset(&out);
        for (int i = 0; i < n; i++)
            wh_update_to_json(&u[i], &out);
    }
    wh_buf_free(&out);
    wh_mapper_destroy(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bytes as the logical text of a stored position too (a ZooKeeper node's
 * "logical", docs/FAILOVER.md): what parses is a GTID state of at most
 * BINLOG_POS_MAX_GTIDS streams, one GTID each, that covers its own GTIDs and
 * nothing after them, and formats (binlog_gtid_run_format) to a text that
 * parses to the same state. */
static void fuzz_logical(const uint8_t *data, size_t size)
{
    static wh_pos p, q;
    static binlog_logical_pos lp, lq;
    static binlog_gtid_run run;
    static char text[WH_POS_LOGICAL_MAX];
    char err[1024];
    if (wh_pos_parse_logical(&p, (const char *)data, size, err, sizeof err) != WH_OK)
        return;
    int rc = binlog_logical_pos_from(&lp, &p, err, sizeof err);
    if (rc != WH_OK) {
        if ((rc != WH_ERR_PARSE && rc != WH_ERR_LIMIT) || !strstr(err, "logical position"))
            abort();
        return;
    }
    if (lp.n < 1 || lp.n > BINLOG_POS_MAX_GTIDS || lp.index != p.index)
        abort();
    run.n = 0;
    for (uint32_t i = 0; i < lp.n; i++) {
        binlog_gtid g = lp.gtids[i];
        if (!binlog_logical_pos_covers(&lp, &g))
            abort();
        if (g.seq < UINT64_MAX) {
            g.seq++;
            if (binlog_logical_pos_covers(&lp, &g))
                abort();
        }
        if (binlog_gtid_run_add(&run, &lp.gtids[i], "fuzz", err, sizeof err) != WH_OK)
            abort();
    }
    size_t n = binlog_gtid_run_format(&run, &lp.gtids[0], text, sizeof text);
    if (n != strlen(text) ||
        wh_pos_parse_logical(&q, text, n, err, sizeof err) != WH_OK ||
        binlog_logical_pos_from(&lq, &q, err, sizeof err) != WH_OK || lq.n != lp.n ||
        !binlog_gtid_equal(&lq.gtids[0], &lp.gtids[0]))
        abort();
    for (uint32_t i = 0; i < lp.n; i++)
        if (!binlog_logical_pos_covers(&lq, &lp.gtids[i]))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1)
        return 0;
    unsigned mode = data[0] % 4;
    data++;
    size--;
    /* The bytes as a DDL statement too (binlog_ddl.h): an answer is whole. */
    {
        wh_arena a = WH_ARENA_INIT;
        const char *db, *table;
        int rc = binlog_ddl_table((const char *)data, size, "d", 1, &a, &db, &table);
        if (rc == 1 ? !db || !table || !table[0] || strlen(table) > 4 * BINLOG_DDL_NAME_CHARS
                    : rc != 0 || db || table)
            abort();
        wh_arena_free(&a);
    }
    fuzz_logical(data, size);
    wh_buf b = WH_BUF_INIT;
    if (mode == 0) {
        wh_buf_append(&b, data, size);
    } else {
        tbw w;
        tbw_init(&w, mode == 2, mode == 3);
        wh_buf_append(&b, w.b.data, w.b.len);
        size_t start = b.len;
        wh_buf_append(&b, data, size);
        if (mode == 3)
            fix_crcs(&b, start);
        tbw_free(&w);
    }
    write_file("f.000001", b.data, b.len);
    write_file("f.000002", "", 0);
    drain(NULL, false, false);
    drain(NULL, false, true);   /* every transaction, committed or not */
    drain(mode == 2 ? "0-1-1/0" : "3e11fa47-71ca-11e1-9e33-c80aa9429562:1/0", false, false);
    wh_buf_free(&b);
    return 0;
}

#ifdef BINLOG_FUZZ_STANDALONE
/* ---- built-in seeds: constructed streams that reach every decoder ---------- */

static void seed_rows(tbw *w, uint8_t type, bool v2)
{
    static const uint8_t types[] = { 3, 15, BT_JSON, BT_NEWDECIMAL, BT_DATETIME2, BT_BLOB };
    static const uint8_t meta[] = { 0x50, 0x00, 4, 10, 2, 3, 2 };
    static const uint8_t opt[] = { 0x01, 0x01, 0xc0, 0x03, 0x02, 0x2d, 0x3f,
                                   0x04, 0x0c, 0x01, 'a', 0x01, 'b', 0x01, 'c', 0x01, 'd',
                                   0x01, 'e', 0x01, 'f', 0x08, 0x01, 0x00 };
    tbw_table_map(w, 7, "d", "t", types, 6, meta, sizeof meta, opt, sizeof opt);
    static const uint8_t doc[] = { 0x00, 0x01, 0x00, 0x0c, 0x00, 0x0b, 0x00, 0x01, 0x00,
                                   0x05, 0x01, 0x00, 'a' };
    wh_buf r = WH_BUF_INIT;
    for (int img = 0; img < (type == BE_UPDATE_ROWS_V2 || type == BE_UPDATE_ROWS_V1 ? 2 : 1);
         img++) {
        tb_u8(&r, img ? 0x20 : 0x00);
        tb_u32(&r, 42);
        tb_u8(&r, 3); tb_str(&r, "xyz");
        tb_u32(&r, sizeof doc); tb_bytes(&r, doc, sizeof doc);
        static const uint8_t dec[] = { 0x80, 0x00, 0x00, 0x01, 0x0c };   /* 1.12 */
        tb_bytes(&r, dec, sizeof dec);
        static const uint8_t dt[] = { 0x99, 0xb2, 0xc2, 0x00, 0x00, 0x05, 0x00 };
        tb_bytes(&r, dt, sizeof dt);
        if (!img) { tb_u16(&r, 2); tb_str(&r, "ok"); }
    }
    uint8_t bm = 0x3f;
    wh_buf body = WH_BUF_INIT;
    tbw_rows_body(&body, v2, 7, 1, 6, &bm, (type == BE_UPDATE_ROWS_V2 || type == BE_UPDATE_ROWS_V1)
                  ? &bm : NULL, r.data, r.len);
    tbw_event(w, type, body.data, body.len, 0);
    wh_buf_free(&body);
    wh_buf_free(&r);
}

/* Seed k (0, 1): the file's events after its format description. */
static void builtin_seed(int k, wh_buf *out)
{
    tbw w;
    tbw_init(&w, k == 1, k == 0);
    size_t start = w.b.len;
    if (k == 0) {
        static const uint8_t uuid[16] = { 0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1,
                                          0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62 };
        tbw_prev_gtids(&w, uuid, 1, 1);
        tbw_mysql_gtid(&w, uuid, 1);
        tbw_query(&w, "d", "BEGIN");
        seed_rows(&w, BE_WRITE_ROWS_V2, true);
        seed_rows(&w, BE_UPDATE_ROWS_V2, true);
        seed_rows(&w, BE_DELETE_ROWS_V2, true);
        tbw_xid(&w, 1);
        tbw_mysql_gtid(&w, uuid, 2);
        tbw_query(&w, "d", "CREATE TABLE t (a INT)");
        tbw_rotate(&w, "f.000002");
    } else {
        tbw_gtid_list(&w, NULL, 0);
        tbw_maria_gtid(&w, 0, 1, 0x0c);
        seed_rows(&w, BE_WRITE_ROWS_V1, false);
        seed_rows(&w, BE_UPDATE_ROWS_V1, false);
        tbw_xid(&w, 1);
        tbw_maria_gtid(&w, 0, 2, 0x29);
        tbw_query(&w, "d", "DROP TABLE t");
        tbw_stop(&w);
    }
    tb_u8(out, k == 0 ? 3 : 2);
    wh_buf_append(out, w.b.data + start, w.b.len - start);
    tbw_free(&w);
}

/* Mutation state shared by every input, in replay order. */
typedef struct mutants {
    uint32_t seed;
    int      runs;
} mutants;

/* Runs one input and 64 deterministic mutants of it (bit flips, some cut). */
static void run_with_mutants(void *opaque, const uint8_t *buf, size_t n)
{
    mutants *m = opaque;
    LLVMFuzzerTestOneInput(buf, n);
    m->runs++;
    for (int k = 0; k < 64 && n > 1; k++) {
        uint8_t *mut = malloc(n);
        memcpy(mut, buf, n);
        for (int flips = 0; flips < 1 + k % 4; flips++) {
            m->seed = m->seed * 1103515245u + 12345u;
            size_t at = 1 + (m->seed >> 8) % (n - 1);
            mut[at] ^= (uint8_t)(1u << ((m->seed >> 4) & 7));
        }
        LLVMFuzzerTestOneInput(mut, k % 8 == 7 ? (size_t)(1 + (m->seed >> 3) % n) : n);
        free(mut);
        m->runs++;
    }
}

/* Replays the built-in seeds and every file of the corpus, each with 64
 * deterministic mutants. "--write-seeds DIR" stores the built-in seeds for
 * a libFuzzer corpus. */
int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR | --write-seeds DIR\n", argv[0]);
        return 2;
    }
    if (!strcmp(argv[1], "--write-seeds") && argc > 2) {
        for (int k = 0; k < 2; k++) {
            wh_buf b = WH_BUF_INIT;
            builtin_seed(k, &b);
            char p[4200];
            snprintf(p, sizeof p, "%s/builtin-%d", argv[2], k);
            FILE *f = fopen(p, "wb");
            if (!f)
                return 1;
            fwrite(b.data, 1, b.len, f);
            fclose(f);
            wh_buf_free(&b);
        }
        return 0;
    }
    mutants m = { 12345, 0 };
    for (int k = 0; k < 2; k++) {
        wh_buf b = WH_BUF_INIT;
        builtin_seed(k, &b);
        run_with_mutants(&m, (const uint8_t *)b.data, b.len);
        wh_buf_free(&b);
    }
    int files = fuzz_replay(1, argv + 1, run_with_mutants, &m);
    if (files < 0) {
        fprintf(stderr, "FAILED: cannot read corpus %s\n", argv[1]);
        return 1;
    }
    printf("fuzz_binlog_events: %d seeds, %d runs, no crash\n", files, m.runs);
    return files > 0 ? 0 : 1;
}
#endif
