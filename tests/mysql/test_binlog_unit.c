/* test_binlog_unit.c -- the mysql mapper over binlogs built byte by byte:
 * framing, checksums, GTIDs and positions, table maps, row images
 * (FULL/MINIMAL), MariaDB compressed events, MySQL transaction payloads and
 * partial JSON, seeking, purged positions, corrupt and truncated files,
 * tailing and rotation. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "core/endian.h"
#include "../check.h"
#include "binlog_writer.h"
#include "core/log.h"
#include "mappers/mysql/binlog_gtid.h"
#include "mappers/mysql/binlog_mapper.h"
#include "mappers/mysql/binlog_payload.h"
#include "mappers/mysql/binlog_tablemap.h"
#include "test_util.h"

static const uint8_t UUID1[16] = { 0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1,
                                   0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62 };
#define UUID1_TEXT "3e11fa47-71ca-11e1-9e33-c80aa9429562"

/* Table t (id INT UNSIGNED, name VARCHAR(40) utf8mb4) with FULL metadata. */
static const uint8_t T_TYPES[] = { 3, 15 };
static const uint8_t T_META[] = { 0xa0, 0x00 };
static const uint8_t T_OPT[] = {
    0x01, 0x01, 0x80,                               /* SIGNEDNESS: id unsigned */
    0x02, 0x03, 0xfc, 0xff, 0x00,                   /* DEFAULT_CHARSET 255 */
    0x04, 0x08, 0x02, 'i', 'd', 0x04, 'n', 'a', 'm', 'e',   /* COLUMN_NAME */
};

/* One row image of t: NULL bitmap, id, name (1-byte length). */
static size_t t_row(uint8_t *p, uint32_t id, const char *name)
{
    size_t n = 0;
    p[n++] = name ? 0x00 : 0x02;
    p[n++] = id & 0xff; p[n++] = (id >> 8) & 0xff; p[n++] = (id >> 16) & 0xff; p[n++] = id >> 24;
    if (name) {
        p[n++] = (uint8_t)strlen(name);
        memcpy(p + n, name, strlen(name));
        n += strlen(name);
    }
    return n;
}

static void t_map(tbw *w, uint64_t id)
{
    tbw_table_map(w, id, "db", "t", T_TYPES, 2, T_META, sizeof T_META, T_OPT, sizeof T_OPT);
}

static void t_insert(tbw *w, uint8_t type, uint64_t id, uint32_t first, int n)
{
    uint8_t rows[4096];
    size_t len = 0;
    uint8_t bm = 0x03;
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "n%u", first + (uint32_t)i);
        len += t_row(rows + len, first + (uint32_t)i, name);
    }
    tbw_rows(w, type, id, 1, 2, &bm, NULL, rows, len);
}

/* ---- captured warnings -------------------------------------------------------- */

static FILE *log_file;

/* Sends warnings to a temporary file until log_end returns them. */
static void log_begin(void)
{
    log_file = tmpfile();
    if (log_file)
        wh_log_set_fd(fileno(log_file));
    wh_log_set_level(WH_LOG_WARN);
}

/* The warnings since log_begin (malloc'd text); back to errors on stderr. */
static char *log_end(void)
{
    wh_log_set_level(WH_LOG_ERROR);
    wh_log_set_fd(2);
    char *text = NULL;
    size_t len = 0;
    if (log_file) {
        long n = ftell(log_file);
        rewind(log_file);
        text = malloc(n > 0 ? (size_t)n + 1 : 1);
        if (text && n > 0)
            len = fread(text, 1, (size_t)n, log_file);
        fclose(log_file);
        log_file = NULL;
    }
    if (!text)
        text = malloc(1);
    if (text)
        text[len] = '\0';
    return text;
}

static int count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- pure helpers ------------------------------------------------------------ */

static void test_helpers(void)
{
    CHECK_EQ_INT(binlog_crc32(0, "123456789", 9), 0xCBF43926u);
    /* Every length and alignment the folding code distinguishes, chained
     * from a non-zero crc, against zlib's table-driven CRC-32. */
    static uint8_t bytes[1200];
    uint32_t seed = 12345, crc_bad = 0;
    for (size_t i = 0; i < sizeof bytes; i++) {
        seed = seed * 1103515245u + 12345u;
        bytes[i] = (uint8_t)(seed >> 16);
    }
    for (size_t off = 0; off < 16; off++)
        for (size_t len = 0; len + off <= sizeof bytes && len <= 1100; len++) {
            uint32_t want = (uint32_t)crc32(crc32(0, bytes, 7), bytes + off, (uInt)len);
            crc_bad += binlog_crc32(binlog_crc32(0, bytes, 7), bytes + off, len) != want;
        }
    CHECK_EQ_INT(crc_bad, 0);
    uint8_t b[9] = { 0xfc, 0x34, 0x12 };
    uint64_t v;
    CHECK_EQ_INT(binlog_packed_int(b, 3, &v), 3);
    CHECK_EQ_INT(v, 0x1234);
    CHECK_EQ_INT(binlog_packed_int(b, 2, &v), 0);
    b[0] = 0xfb;
    CHECK_EQ_INT(binlog_packed_int(b, 9, &v), 0);

    binlog_gtid g;
    char t[BINLOG_GTID_TEXT_MAX];
    CHECK_EQ_INT(binlog_gtid_parse("0-1-42", 6, &g), WH_OK);
    CHECK(!g.mysql && g.domain == 0 && g.server_id == 1 && g.seq == 42);
    binlog_gtid_format(&g, t, sizeof t);
    CHECK_EQ_STR(t, "0-1-42");
    CHECK_EQ_INT(binlog_gtid_parse(UUID1_TEXT ":23", strlen(UUID1_TEXT ":23"), &g), WH_OK);
    CHECK(g.mysql && g.seq == 23 && memcmp(g.uuid, UUID1, 16) == 0);
    binlog_gtid_format(&g, t, sizeof t);
    CHECK_EQ_STR(t, UUID1_TEXT ":23");
    CHECK_EQ_INT(binlog_gtid_parse("0-1", 3, &g), WH_ERR_PARSE);
    CHECK_EQ_INT(binlog_gtid_parse("x-1-2", 5, &g), WH_ERR_PARSE);
    CHECK_EQ_INT(binlog_gtid_parse(UUID1_TEXT ":0", strlen(UUID1_TEXT ":0"), &g), WH_ERR_PARSE);

    char err[512];
    /* The GTIDs of a logical position (its text is parsed by core/position.c). */
    wh_pos wp;
    binlog_logical_pos lp;
    CHECK_EQ_INT(wh_pos_parse_logical(&wp, "0-1-5, 1-2-7/3", 14, err, sizeof err), WH_OK);
    CHECK_EQ_INT(binlog_logical_pos_from(&lp, &wp, err, sizeof err), WH_OK);
    CHECK(lp.n == 2 && lp.index == 3 && lp.gtids[1].domain == 1 && lp.gtids[1].seq == 7);
    CHECK_EQ_INT(wh_pos_parse_logical(&wp, "0-1-5,0-2-7/3", 13, err, sizeof err), WH_OK);
    CHECK_EQ_INT(binlog_logical_pos_from(&lp, &wp, err, sizeof err), WH_ERR_PARSE);
    CHECK(strstr(err, "two GTIDs of the same domain") != NULL);
    CHECK_EQ_INT(wh_pos_parse_logical(&wp, "0-1-5", 5, err, sizeof err), WH_OK);
    CHECK_EQ_INT(binlog_logical_pos_from(&lp, &wp, err, sizeof err), WH_OK);
    CHECK(lp.n == 1 && lp.index == 0 && lp.gtids[0].seq == 5 && !lp.gtids[0].mysql);
    CHECK_EQ_INT(wh_pos_parse_logical(&wp, UUID1_TEXT ":23/2", strlen(UUID1_TEXT ":23/2"), err,
                                      sizeof err), WH_OK);
    CHECK_EQ_INT(binlog_logical_pos_from(&lp, &wp, err, sizeof err), WH_OK);
    CHECK(lp.n == 1 && lp.index == 2 && lp.gtids[0].mysql && lp.gtids[0].seq == 23);
    /* Not GTIDs: the message names the one that is wrong and where it starts. */
    static const char *const bad[] = { "0-1", "0-1-5,", "0-1-5,,1-2-3", "x-1-2", "0-1-5,1-2",
                                       "0-1-99999999999999999999", UUID1_TEXT ":0" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(wh_pos_parse_logical(&wp, bad[i], strlen(bad[i]), err, sizeof err), WH_OK);
        err[0] = '\0';
        CHECK_EQ_INT(binlog_logical_pos_from(&lp, &wp, err, sizeof err), WH_ERR_PARSE);
        CHECK(strstr(err, "is not a GTID") != NULL && strstr(err, "at offset") != NULL);
    }
    /* More GTIDs than a position may list (one per domain). */
    wh_buf many = WH_BUF_INIT;
    for (int d = 0; d <= BINLOG_POS_MAX_GTIDS; d++)
        wh_buf_printf(&many, "%s%d-1-1", d ? "," : "", d);
    CHECK_EQ_INT(wh_pos_parse_logical(&wp, many.data, many.len, err, sizeof err), WH_OK);
    CHECK_EQ_INT(binlog_logical_pos_from(&lp, &wp, err, sizeof err), WH_ERR_LIMIT);
    wh_buf_free(&many);
    /* A position without a logical part is not a logical binlog position. */
    CHECK_EQ_INT(wh_pos_parse_physical(&wp, "mysql-bin.000003:77", 19, err, sizeof err), WH_OK);
    CHECK_EQ_INT(binlog_logical_pos_from(&lp, &wp, err, sizeof err), WH_ERR_INVALID);

    const char *s;
#define CLS(q, k) do { s = (q); CHECK_EQ_INT(binlog_classify_statement(s, strlen(s)), k); } while (0)
    CLS("BEGIN", BSK_BEGIN);
    CLS("  begin  ", BSK_BEGIN);
    CLS("COMMIT", BSK_COMMIT);
    CLS("ROLLBACK", BSK_ROLLBACK);
    CLS("ROLLBACK TO SAVEPOINT a", BSK_IGNORE);
    CLS("SAVEPOINT a", BSK_IGNORE);
    CLS("XA START X'7831',X'',1", BSK_BEGIN);
    CLS("XA END X'7831',X'',1", BSK_IGNORE);
    CLS("XA COMMIT X'7831',X'',1", BSK_COMMIT);
    CLS("XA ROLLBACK 'x'", BSK_ROLLBACK);
    CLS("insert into t values (1)", BSK_DML);
    CLS("/* c */ DELETE FROM t", BSK_DML);
    CLS("CREATE TABLE commitments (a int)", BSK_DDL);
    CLS("/*!40000 ALTER TABLE `t` DISABLE KEYS */", BSK_DDL);
    CLS("BEGINNING", BSK_DDL);
    CLS("UPDATEX", BSK_DDL);
#undef CLS
}

/* ---- table maps ---------------------------------------------------------------- */

static int parse_map(bool mariadb, const uint8_t *types, uint32_t n, const uint8_t *meta,
                     size_t ml, const uint8_t *opt, size_t ol, binlog_table **t, char *err,
                     size_t errlen)
{
    wh_buf b = WH_BUF_INIT;
    tbw_table_map_body(&b, 9, "d", "x", types, n, meta, ml, opt, ol);
    binlog_fde fde;
    binlog_fde_default(&fde, mariadb, BINLOG_CHECKSUM_OFF);
    binlog_event ev = { .type = BE_TABLE_MAP, .body = (const uint8_t *)b.data,
                        .body_len = b.len };
    int rc = binlog_table_parse(&ev, &fde, t, err, errlen);
    wh_buf_free(&b);
    return rc;
}

static void test_table_map(void)
{
    char err[512];
    binlog_table *t = NULL;
    /* a TINYINT, YEAR, INT UNSIGNED: MariaDB counts YEAR in SIGNEDNESS, MySQL does not */
    const uint8_t types[] = { BT_TINY, BT_YEAR, BT_LONG };
    const uint8_t opt_maria[] = { 0x01, 0x01, 0x60 };   /* YEAR and INT unsigned */
    CHECK_EQ_INT(parse_map(true, types, 3, NULL, 0, opt_maria, sizeof opt_maria, &t, err,
                           sizeof err), WH_OK);
    CHECK(t && !t->cols[0].is_unsigned && t->cols[2].is_unsigned);
    binlog_table_free(t);
    const uint8_t opt_mysql[] = { 0x01, 0x01, 0x40 };   /* INT unsigned */
    CHECK_EQ_INT(parse_map(false, types, 3, NULL, 0, opt_mysql, sizeof opt_mysql, &t, err,
                           sizeof err), WH_OK);
    CHECK(t && !t->cols[0].is_unsigned && t->cols[2].is_unsigned);
    binlog_table_free(t);

    /* GEOMETRY, VARCHAR: a COLUMN_CHARSET of 1 entry means GEOMETRY does not count */
    const uint8_t gtypes[] = { BT_GEOMETRY, BT_VARCHAR, BT_STRING };
    const uint8_t gmeta[] = { 4, 40, 0, BT_ENUM, 1 };
    const uint8_t gopt1[] = { 0x03, 0x01, 0x08,                 /* latin1 for the VARCHAR */
                              0x06, 0x05, 0x02, 0x01, 'a', 0x01, 'b',   /* ENUM('a','b') */
                              0x0a, 0x01, 0x2d };               /* ENUM charset utf8mb4 */
    CHECK_EQ_INT(parse_map(false, gtypes, 3, gmeta, sizeof gmeta, gopt1, sizeof gopt1, &t, err,
                           sizeof err), WH_OK);
    CHECK(t && t->cols[1].collation == 8 && t->cols[0].collation == 0);
    CHECK(t && t->cols[2].real_type == BT_ENUM && t->cols[2].n_members == 2);
    CHECK(t && t->cols[2].members && !strcmp(t->cols[2].members[1], "b"));
    CHECK(t && t->cols[2].collation == 45);
    binlog_table_free(t);
    const uint8_t gopt2[] = { 0x03, 0x02, 0x3f, 0x08 };          /* binary, latin1 */
    CHECK_EQ_INT(parse_map(true, gtypes, 3, gmeta, sizeof gmeta, gopt2, sizeof gopt2, &t, err,
                           sizeof err), WH_OK);
    CHECK(t && t->cols[0].collation == 63 && t->cols[0].is_binary && t->cols[1].collation == 8);
    binlog_table_free(t);
    /* DEFAULT_CHARSET with an exception for character column 1 */
    const uint8_t gopt3[] = { 0x02, 0x03, 0x2d, 0x01, 0x08 };
    CHECK_EQ_INT(parse_map(true, gtypes, 3, gmeta, sizeof gmeta, gopt3, sizeof gopt3, &t, err,
                           sizeof err), WH_OK);
    CHECK(t && t->cols[0].collation == 45 && t->cols[1].collation == 8);
    binlog_table_free(t);

    /* malformed: names for 1 of 3 columns; unknown column type */
    const uint8_t bad_names[] = { 0x04, 0x02, 0x01, 'a' };
    CHECK_EQ_INT(parse_map(true, types, 3, NULL, 0, bad_names, sizeof bad_names, &t, err,
                           sizeof err), WH_ERR_CORRUPT);
    CHECK(strstr(err, "COLUMN_NAME metadata ends at column 2 of 3") != NULL);
    const uint8_t btypes[] = { 99 };
    CHECK_EQ_INT(parse_map(true, btypes, 1, NULL, 0, NULL, 0, &t, err, sizeof err),
                 WH_ERR_UNSUPPORTED);
    CHECK(strstr(err, "unsupported type code 99") != NULL);
    const uint8_t pk[] = { 0x08, 0x01, 0x05 };
    CHECK_EQ_INT(parse_map(true, types, 3, NULL, 0, pk, sizeof pk, &t, err, sizeof err),
                 WH_ERR_CORRUPT);
    CHECK(strstr(err, "primary key names column 6 of 3") != NULL);
}

/* ---- a MySQL 8.0 file: GTIDs, DDL, FULL metadata -------------------------------- */

static void test_mysql_basic(void)
{
    char *dir = tu_tmpdir();
    tbw w;
    tbw_init(&w, false, true);
    tbw_prev_gtids(&w, NULL, 0, 0);
    size_t off1 = w.b.len;
    tbw_mysql_gtid(&w, UUID1, 1);
    tbw_query(&w, "db", "CREATE TABLE t (id INT UNSIGNED, name VARCHAR(40))");
    size_t off2 = w.b.len;
    tbw_mysql_gtid(&w, UUID1, 2);
    tbw_query(&w, "db", "BEGIN");
    t_map(&w, 70);
    t_insert(&w, BE_WRITE_ROWS_V2, 70, 1, 2);
    uint8_t rows[64], bm = 3;
    size_t n = t_row(rows, 2, "n2");
    n += t_row(rows + n, 2, NULL);
    tbw_rows(&w, BE_UPDATE_ROWS_V2, 70, 1, 2, &bm, &bm, rows, n);
    tbw_xid(&w, 9);
    size_t off3 = w.b.len;
    tbw_mysql_gtid(&w, UUID1, 3);
    tbw_query(&w, "db", "BEGIN");
    t_map(&w, 71);
    n = t_row(rows, 0xffffffffu, "z");
    tbw_rows(&w, BE_DELETE_ROWS_V2, 71, 1, 2, &bm, NULL, rows, n);
    tbw_xid(&w, 10);
    CHECK_EQ_INT(tbw_save(&w, dir, "binlog.000001"), 0);
    const char *files[] = { "binlog.000001", NULL };
    CHECK_EQ_INT(tbw_index(dir, "binlog.index", files), 0);

    tu_run r;
    tu_collect(&r, dir, NULL, NULL, NULL, true, 100);
    CHECK_EQ_INT(r.rc, WH_ERR_EOF);
    CHECK_EQ_INT(r.n, 5);
    char exp[1024], line[2048];
    snprintf(exp, sizeof exp,
             "{\"shard\":\"t\",\"op\":\"ddl\",\"db\":\"db\",\"table\":\"t\",\"pos\":{\"logical\":\"" UUID1_TEXT
             ":1/0\",\"physical\":\"binlog.000001:%zu/0\"},\"ts\":1700000000,\"txn\":{\"id\":\""
             UUID1_TEXT ":1\",\"index\":0,\"last\":true},\"statement\":\"CREATE TABLE t (id "
             "INT UNSIGNED, name VARCHAR(40))\"}", off1);
    CHECK_EQ_STR(tu_line(r.out.data, 0, line, sizeof line), exp);
    snprintf(exp, sizeof exp,
             "{\"shard\":\"t\",\"op\":\"insert\",\"db\":\"db\",\"table\":\"t\",\"pos\":{\"logical\""
             ":\"" UUID1_TEXT ":2/1\",\"physical\":\"binlog.000001:%zu/1\"},\"ts\":1700000000,"
             "\"txn\":{\"id\":\"" UUID1_TEXT ":2\",\"index\":1,\"last\":false},\"after\":{\"id\":2,"
             "\"name\":\"n2\"}}", off2);
    CHECK_EQ_STR(tu_line(r.out.data, 2, line, sizeof line), exp);
    snprintf(exp, sizeof exp,
             "{\"shard\":\"t\",\"op\":\"update\",\"db\":\"db\",\"table\":\"t\",\"pos\":{\"logical\""
             ":\"" UUID1_TEXT ":2/2\",\"physical\":\"binlog.000001:%zu/2\"},\"ts\":1700000000,"
             "\"txn\":{\"id\":\"" UUID1_TEXT ":2\",\"index\":2,\"last\":true},\"before\":{\"id\":2,"
             "\"name\":\"n2\"},\"after\":{\"id\":2,\"name\":null}}", off2);
    CHECK_EQ_STR(tu_line(r.out.data, 3, line, sizeof line), exp);
    char f[256];
    CHECK_EQ_STR(tu_field(tu_line(r.out.data, 4, line, sizeof line), "before.id", f, sizeof f),
                 "4294967295");
    tu_field(line, "pos.physical", f, sizeof f);
    char phys[64];
    snprintf(phys, sizeof phys, "\"binlog.000001:%zu/0\"", off3);
    CHECK_EQ_STR(f, phys);

    /* Every update is reachable by its physical and its logical position,
     * inclusive (starts with it) and exclusive (starts after it). */
    for (int i = 0; i < r.n; i++) {
        char l0[2048], p[128], lg[128];
        tu_line(r.out.data, i, l0, sizeof l0);
        json_t *j = json_loads(l0, 0, NULL);
        snprintf(p, sizeof p, "%s", json_string_value(json_object_get(json_object_get(j, "pos"),
                                                                     "physical")));
        snprintf(lg, sizeof lg, "%s", json_string_value(json_object_get(json_object_get(j, "pos"),
                                                                      "logical")));
        json_decref(j);
        for (int excl = 0; excl < 2; excl++) {
            for (int logical = 0; logical < 2; logical++) {
                tu_run s;
                tu_collect(&s, dir, NULL, logical ? NULL : p, logical ? lg : NULL, !excl, 1);
                CHECK_EQ_INT(s.rc, WH_ERR_EOF);
                if (s.rc != WH_ERR_EOF)
                    fprintf(stderr, "  from %s: %s\n", logical ? lg : p, s.err);
                CHECK_EQ_INT(s.n, r.n - i - excl);
                char want[2048], got[2048];
                CHECK_EQ_STR(tu_line(s.out.data, 0, got, sizeof got),
                             tu_line(r.out.data, i + excl, want, sizeof want));
                tu_free(&s);
            }
        }
    }
    /* A physical position must name a binlog file; a logical one a GTID. */
    tu_run s;
    tu_collect(&s, dir, NULL, "77/0", NULL, true, 10);
    CHECK_EQ_INT(s.rc, WH_ERR_INVALID);
    CHECK(strstr(s.err, "'77/0' is not a physical binlog position: it names no binlog file"));
    tu_free(&s);
    tu_collect(&s, dir, NULL, NULL, "0-1-x/0", true, 10);
    CHECK_EQ_INT(s.rc, WH_ERR_PARSE);
    CHECK(strstr(s.err, "'0-1-x' at offset 0 is not a GTID"));
    tu_free(&s);
    /* Not the start of a transaction; not an event at all. */
    char pos[128];
    snprintf(pos, sizeof pos, "binlog.000001:%zu/0", off2 + 65 + 44);
    tu_collect(&s, dir, NULL, pos, NULL, true, 10);
    CHECK_EQ_INT(s.rc, WH_ERR_NOT_FOUND);
    CHECK(strstr(s.err, "is not the start of a transaction (the event there is Table_map)"));
    tu_free(&s);
    snprintf(pos, sizeof pos, "binlog.000001:%zu/1", off2 + 65);   /* BEGIN starts one too */
    tu_collect(&s, dir, NULL, pos, NULL, true, 10);
    CHECK_EQ_INT(s.rc, WH_ERR_EOF);
    CHECK_EQ_INT(s.n, 3);
    tu_free(&s);
    snprintf(pos, sizeof pos, "binlog.000001:%zu/0", off2 + 3);
    tu_collect(&s, dir, NULL, pos, NULL, true, 10);
    CHECK_EQ_INT(s.rc, WH_ERR_NOT_FOUND);
    snprintf(exp, sizeof exp, "position binlog.000001:%zu does not point to an event", off2 + 3);
    CHECK(strstr(s.err, exp) != NULL);
    tu_free(&s);
    tu_free(&r);
    tbw_free(&w);
    tu_rmdir(dir);
}

/* ---- MariaDB: files, rotation, GTID lists, multi-domain, purged ---------------- */

/* Writes a MariaDB transaction; returns the offset of its row event. */
static size_t maria_txn(tbw *w, uint32_t domain, uint64_t seq, uint32_t first, int rows)
{
    tbw_maria_gtid(w, domain, seq, 0x0c);
    t_map(w, 20);
    size_t off = w->b.len;
    t_insert(w, BE_WRITE_ROWS_V1, 20, first, rows);
    tbw_xid(w, seq);
    return off;
}

static void test_mariadb_files(void)
{
    char *dir = tu_tmpdir();
    tbw a, b, c;
    uint64_t l1[][3] = { { 0, 1, 3 } };
    tbw_init(&a, true, true);
    tbw_gtid_list(&a, NULL, 0);
    maria_txn(&a, 0, 1, 1, 2);
    maria_txn(&a, 0, 2, 3, 1);
    maria_txn(&a, 1, 1, 100, 1);
    maria_txn(&a, 0, 3, 4, 3);
    tbw_rotate(&a, "mysql-bin.000002");
    uint64_t l2[][3] = { { 0, 1, 3 }, { 1, 1, 1 } };
    tbw_init(&b, true, true);
    tbw_gtid_list(&b, l2, 2);
    maria_txn(&b, 1, 2, 101, 1);
    maria_txn(&b, 0, 4, 7, 2);
    tbw_stop(&b);
    uint64_t l3[][3] = { { 0, 1, 4 }, { 1, 1, 2 } };
    tbw_init(&c, true, true);
    tbw_gtid_list(&c, l3, 2);
    maria_txn(&c, 0, 5, 9, 1);
    (void)l1;
    CHECK_EQ_INT(tbw_save(&a, dir, "mysql-bin.000001"), 0);
    CHECK_EQ_INT(tbw_save(&b, dir, "mysql-bin.000002"), 0);
    CHECK_EQ_INT(tbw_save(&c, dir, "mysql-bin.000003"), 0);
    const char *files[] = { "mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000003", NULL };
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", files), 0);

    tu_run r, r1;
    tu_collect(&r, dir, NULL, NULL, NULL, true, 1000);
    CHECK_EQ_INT(r.rc, WH_ERR_EOF);
    CHECK_EQ_INT(r.n, 11);
    tu_collect(&r1, dir, NULL, NULL, NULL, true, 1);   /* one at a time: same stream */
    CHECK_EQ_STR(r1.out.data, r.out.data);
    tu_free(&r1);
    char line[2048], f[256];
    /* the update's GTID, then the GTID state's other domains */
    CHECK_EQ_STR(tu_field(tu_line(r.out.data, 9, line, sizeof line), "pos.logical", f, sizeof f),
                 "\"0-1-4,1-1-2/1\"");
    CHECK_EQ_STR(tu_field(line, "txn.last", f, sizeof f), "true");
    CHECK_EQ_STR(tu_field(line, "after.id", f, sizeof f), "8");
    CHECK_EQ_STR(tu_field(tu_line(r.out.data, 0, line, sizeof line), "pos.logical", f, sizeof f),
                 "\"0-1-1/0\"");   /* one domain so far: the GTID alone */

    /* logical positions resume across files and domains */
    tu_run s;
    /* (a one-domain state: domain 1 had nothing delivered, so 1-1-1 comes) */
    tu_collect(&s, dir, NULL, NULL, "0-1-3/1", true, 100);
    CHECK_EQ_INT(s.rc, WH_ERR_EOF);
    CHECK_EQ_INT(s.n, 1 + 2 + 1 + 2 + 1);  /* 1-1-1; 0-1-3 rows 1,2; 1-1-2; 0-1-4 x2; 0-1-5 */
    CHECK_EQ_STR(tu_field(tu_line(s.out.data, 0, line, sizeof line), "after.id", f, sizeof f),
                 "100");
    CHECK_EQ_STR(tu_field(tu_line(s.out.data, 1, line, sizeof line), "after.id", f, sizeof f), "5");
    tu_free(&s);
    /* two domains: domain 1 done up to 1-1-1, domain 0 resumes after 0-1-2 */
    tu_collect(&s, dir, NULL, NULL, "0-1-2,1-1-1/0", false, 100);
    CHECK_EQ_INT(s.rc, WH_ERR_EOF);
    CHECK_EQ_INT(s.n, 3 + 1 + 2 + 1);
    CHECK_EQ_STR(tu_field(tu_line(s.out.data, 3, line, sizeof line), "pos.logical", f, sizeof f),
                 "\"1-1-2,0-1-3/0\"");
    tu_free(&s);
    /* domain 1 not listed: nothing of it was delivered, all of it comes (the
     * state's positions carry domain 0's last GTID) */
    tu_collect(&s, dir, NULL, NULL, "0-1-3/0", true, 100);
    CHECK(strstr(s.out.data, "\"1-1-1,0-1-2/0\"") && strstr(s.out.data, "\"1-1-2,0-1-3/0\""));
    tu_free(&s);
    /* a GTID this binlog skips over */
    tu_collect(&s, dir, NULL, NULL, "0-1-2/0", true, 100);
    CHECK_EQ_INT(s.rc, WH_ERR_EOF);
    tu_free(&s);

    /* purge the first file: its positions are gone */
    const char *files2[] = { "mysql-bin.000002", "mysql-bin.000003", NULL };
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", files2), 0);
    tu_collect(&s, dir, NULL, "mysql-bin.000001:256/0", NULL, true, 10);
    CHECK_EQ_INT(s.rc, WH_ERR_PURGED);
    CHECK(strstr(s.err, "binlog mysql-bin.000001 has been purged: the oldest binlog in ") &&
          strstr(s.err, "mysql-bin.index is mysql-bin.000002"));
    tu_free(&s);
    tu_collect(&s, dir, NULL, "mysql-bin.000009:256/0", NULL, true, 10);
    CHECK_EQ_INT(s.rc, WH_ERR_NOT_FOUND);
    CHECK(strstr(s.err, "binlog mysql-bin.000009 is not listed in") != NULL);
    tu_free(&s);
    tu_collect(&s, dir, NULL, NULL, "0-1-2/0", true, 10);
    CHECK_EQ_INT(s.rc, WH_ERR_PURGED);
    CHECK(strstr(s.err, "logical position 0-1-2/0 has been purged: the oldest binlog "
                        "mysql-bin.000002 already starts after GTID state 0-1-3,1-1-1") != NULL);
    tu_free(&s);
    tu_collect(&s, dir, NULL, NULL, "0-1-4/1", true, 10);   /* still there */
    CHECK_EQ_INT(s.rc, WH_ERR_EOF);
    CHECK_EQ_INT(s.n, 3);   /* 1-1-2 (domain 1 not listed), 0-1-4 row 2, 0-1-5 */
    tu_free(&s);
    /* a GTID that a later one of its domain proves missing */
    tu_collect(&s, dir, NULL, NULL, "1-1-1/0", true, 10);
    CHECK_EQ_INT(s.rc, WH_ERR_PURGED);
    tu_free(&s);
    tu_free(&r);
    tbw_free(&a);
    tbw_free(&b);
    tbw_free(&c);
    tu_rmdir(dir);
}

/* ---- several domains: the GTID state of positions -------------------------------- */

static void test_gtid_run(void)
{
    char err[512], buf[WH_POS_LOGICAL_MAX];
    binlog_gtid_run r = { .n = 0 };
    binlog_gtid g1 = { .domain = 1, .server_id = 1, .seq = 57 };
    binlog_gtid g0 = { .domain = 0, .server_id = 2, .seq = 100 };
    binlog_gtid g2 = { .domain = 2, .server_id = 1, .seq = 9 };
    CHECK_EQ_INT(binlog_gtid_run_add(&r, &g1, "here", err, sizeof err), WH_OK);
    CHECK_EQ_INT((int)binlog_gtid_run_format(&r, &g1, buf, sizeof buf), 6);
    CHECK_EQ_STR(buf, "1-1-57");   /* one domain: the GTID alone, as before */
    CHECK_EQ_INT(binlog_gtid_run_add(&r, &g2, "here", err, sizeof err), WH_OK);
    CHECK_EQ_INT(binlog_gtid_run_add(&r, &g0, "here", err, sizeof err), WH_OK);
    binlog_gtid_run_format(&r, &g1, buf, sizeof buf);
    CHECK_EQ_STR(buf, "1-1-57,0-2-100,2-1-9");   /* own first, then by domain */
    g1.seq = 58;
    CHECK_EQ_INT(binlog_gtid_run_add(&r, &g1, "here", err, sizeof err), WH_OK);
    binlog_gtid_run_format(&r, &g0, buf, sizeof buf);
    CHECK_EQ_STR(buf, "0-2-100,1-1-58,2-1-9");
    CHECK_EQ_INT((int)r.n, 3);

    /* The text is a position the parser reads back, and the covered-by rule. */
    wh_pos p;
    binlog_logical_pos lp;
    CHECK_EQ_INT(wh_pos_parse_logical(&p, "0-2-100,1-1-58,2-1-9/3", 22, err, sizeof err), 0);
    CHECK_EQ_INT(binlog_logical_pos_from(&lp, &p, err, sizeof err), WH_OK);
    CHECK(lp.n == 3 && lp.index == 3 && lp.gtids[0].domain == 0 && lp.gtids[0].seq == 100);
    binlog_gtid t = { .domain = 1, .server_id = 7, .seq = 58 };
    CHECK(binlog_logical_pos_covers(&lp, &t));            /* <= its domain's seq */
    t.seq = 59;
    CHECK(!binlog_logical_pos_covers(&lp, &t));           /* after it */
    t.domain = 2, t.seq = 1;
    CHECK(binlog_logical_pos_covers(&lp, &t));
    t.domain = 3;
    CHECK(!binlog_logical_pos_covers(&lp, &t));           /* an unlisted domain: nothing */
    t.domain = 0, t.seq = 100;
    CHECK(binlog_logical_pos_covers(&lp, &t));            /* its own (up to the index) */
    /* a one-GTID position (older nodes) is a one-domain state */
    CHECK_EQ_INT(wh_pos_parse_logical(&p, "0-1-42/2", 8, err, sizeof err), 0);
    CHECK_EQ_INT(binlog_logical_pos_from(&lp, &p, err, sizeof err), WH_OK);
    t.domain = 0, t.seq = 42;
    CHECK(lp.n == 1 && binlog_logical_pos_covers(&lp, &t));
    t.domain = 1, t.seq = 1;
    CHECK(!binlog_logical_pos_covers(&lp, &t));

    /* The bound: 64 domains; the 65th fails loudly, naming where. */
    binlog_gtid_run big = { .n = 0 };
    for (uint32_t d = 0; d < BINLOG_POS_MAX_GTIDS; d++) {
        binlog_gtid g = { .domain = 1000000 + d * 7919, .server_id = 4294967295u,
                          .seq = UINT64_MAX - d };
        CHECK_EQ_INT(binlog_gtid_run_add(&big, &g, "x", err, sizeof err), WH_OK);
    }
    binlog_gtid extra = { .domain = 5, .server_id = 1, .seq = 1 };
    CHECK_EQ_INT(binlog_gtid_run_add(&big, &extra, "mysql-bin.000002:1234", err, sizeof err),
                 WH_ERR_LIMIT);
    CHECK(strstr(err, "mysql-bin.000002:1234: GTID 5-1-1 opens a replication domain beyond "
                      "the 64") != NULL);
    size_t n = binlog_gtid_run_format(&big, &big.g[10], buf, sizeof buf);
    CHECK(n < WH_POS_LOGICAL_MAX && strlen(buf) == n);   /* the longest state fits */
    CHECK_EQ_INT(wh_pos_parse_logical(&p, buf, n, err, sizeof err), 0);
    CHECK_EQ_INT(binlog_logical_pos_from(&lp, &p, err, sizeof err), WH_OK);
    CHECK_EQ_INT((int)lp.n, BINLOG_POS_MAX_GTIDS);

    /* A head state (Gtid_list) of several servers per domain: the largest seq. */
    binlog_gtid list[] = { { .domain = 0, .server_id = 1, .seq = 5 },
                           { .domain = 0, .server_id = 2, .seq = 9 },
                           { .domain = 3, .server_id = 1, .seq = 4 } };
    binlog_gtid_state st = { .mysql = false, .list = list, .n_list = 3 };
    CHECK_EQ_INT(binlog_gtid_run_from_head(&r, &st, "f", err, sizeof err), WH_OK);
    binlog_gtid_run_format(&r, &list[2], buf, sizeof buf);
    CHECK_EQ_STR(buf, "3-1-4,0-2-9");
}

/* The same transactions of three domains in two copies' orders (each domain's
 * own order kept, as replication does): every position the mapper gives on
 * copy A, sought on copy B, delivers exactly the updates A has after it,
 * wherever B has them; inside a transaction too. Sought on A itself,
 * logically and physically, it gives A's own lines after it, with the same
 * state texts. */
static void domain_copy(const char *dir, const char *base, const int *order, int n, int rot)
{
    static const struct { uint32_t d; uint64_t seq; int rows; } T[] = {
        { 0, 1, 3 }, { 1, 1, 1 }, { 0, 2, 2 }, { 2, 1, 2 }, { 1, 2, 1 }, { 0, 3, 3 },
        { 2, 2, 1 }, { 1, 3, 2 }, { 0, 4, 1 }, { 2, 3, 3 }, { 1, 4, 1 },
    };
    tbw w;
    char name[64];
    const char *files[3] = { name, NULL, NULL };
    static char name2[64];
    uint64_t last[3] = { 0, 0, 0 };
    snprintf(name, sizeof name, "%s.000001", base);
    snprintf(name2, sizeof name2, "%s.000002", base);
    tbw_init(&w, true, true);
    tbw_gtid_list(&w, NULL, 0);
    for (int i = 0; i < n; i++) {
        if (i == rot) {
            tbw_rotate(&w, name2);
            CHECK_EQ_INT(tbw_save(&w, dir, name), 0);
            tbw_free(&w);
            uint64_t l[3][3];
            uint32_t k = 0;
            for (uint32_t d = 0; d < 3; d++)
                if (last[d]) {
                    l[k][0] = d, l[k][1] = 1, l[k][2] = last[d];
                    k++;
                }
            tbw_init(&w, true, true);
            tbw_gtid_list(&w, (const uint64_t (*)[3])l, k);
            files[1] = name2;
        }
        int t = order[i];
        maria_txn(&w, T[t].d, T[t].seq, (uint32_t)(100 * T[t].d + 10 * T[t].seq),
                  T[t].rows);
        last[T[t].d] = T[t].seq;
    }
    CHECK_EQ_INT(tbw_save(&w, dir, files[1] ? name2 : name), 0);
    tbw_free(&w);
    char index[80];
    snprintf(index, sizeof index, "%s.index", base);
    CHECK_EQ_INT(tbw_index(dir, index, files), 0);
}

/* The updates of a run as sorted "GTID/INDEX" keys (the own GTID of the
 * logical text), one a line, from its line from on. */
static void own_keys(const char *out, int from, wh_buf *keys)
{
    char line[4096], f[4096], *k[64];
    int n = 0;
    for (int i = from; *tu_line(out, i, line, sizeof line) && n < 64; i++) {
        tu_field(line, "pos.logical", f, sizeof f);
        char *s = f + 1, *slash = strrchr(s, '/'), *comma = strchr(s, ',');
        *strrchr(s, '"') = '\0';
        if (comma)
            memmove(comma, slash, strlen(slash) + 1);
        k[n++] = strdup(s);
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(k[j - 1], k[j]) > 0; j--) {
            char *x = k[j];
            k[j] = k[j - 1];
            k[j - 1] = x;
        }
    wh_buf_reset(keys);
    for (int i = 0; i < n; i++) {
        wh_buf_printf(keys, "%s\n", k[i]);
        free(k[i]);
    }
    wh_buf_puts(keys, "");
}

static void test_domain_copies(void)
{
    char *da = tu_tmpdir(), *db = tu_tmpdir();
    static const int A[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    static const int B[] = { 1, 4, 3, 0, 6, 7, 2, 10, 9, 5, 8 };   /* domains reordered */
    domain_copy(da, "a-bin", A, 11, 6);
    domain_copy(db, "b-bin", B, 11, 5);
    tu_run ra, s;
    tu_collect(&ra, da, NULL, NULL, NULL, true, 1000);
    CHECK_EQ_INT(ra.rc, WH_ERR_EOF);
    CHECK_EQ_INT(ra.n, 20);
    wh_buf want = WH_BUF_INIT, got = WH_BUF_INIT;
    char line[4096], logi[4096], phys[512];
    for (int k = 0; k < ra.n; k++) {
        tu_field(tu_line(ra.out.data, k, line, sizeof line), "pos.logical", logi, sizeof logi);
        tu_field(line, "pos.physical", phys, sizeof phys);
        *strrchr(logi, '"') = '\0';
        *strrchr(phys, '"') = '\0';
        own_keys(ra.out.data, k + 1, &want);
        /* copy B, by the state */
        tu_collect(&s, db, NULL, NULL, logi + 1, false, 3);
        CHECK_EQ_INT(s.rc, WH_ERR_EOF);
        own_keys(s.out.data, 0, &got);
        if (strcmp(got.data, want.data) != 0)
            fprintf(stderr, "after A's update %d (%s) B gave:\n%s\nwant:\n%s\n", k, logi + 1,
                    got.data, want.data);
        CHECK_EQ_STR(got.data, want.data);
        tu_free(&s);
        /* copy A itself, logically and physically: its own lines, state texts and all */
        const char *rest = k + 1 < ra.n ? strstr(ra.out.data, tu_line(ra.out.data, k + 1, line,
                                                                       sizeof line)) : "";
        tu_collect(&s, da, NULL, NULL, logi + 1, false, 2);
        CHECK_EQ_STR(s.out.data ? s.out.data : "", rest);
        tu_free(&s);
        tu_collect(&s, da, NULL, phys + 1, NULL, false, 1000);
        CHECK_EQ_STR(s.out.data ? s.out.data : "", rest);
        tu_free(&s);
    }
    wh_buf_free(&want);
    wh_buf_free(&got);
    tu_free(&ra);
    tu_rmdir(da);
    tu_rmdir(db);
}

/* ---- corrupt and truncated files, unknown events ------------------------------------ */

static void test_corrupt(void)
{
    char *dir = tu_tmpdir();
    tbw a, b;
    tbw_init(&a, true, true);
    tbw_gtid_list(&a, NULL, 0);
    maria_txn(&a, 0, 1, 1, 2);
    size_t t2 = a.b.len;
    size_t rows_off = maria_txn(&a, 0, 2, 3, 1);
    size_t end_a = a.b.len;
    tbw_init(&b, true, true);
    tbw_gtid_list(&b, NULL, 0);
    maria_txn(&b, 0, 3, 9, 1);
    CHECK_EQ_INT(tbw_save(&b, dir, "mysql-bin.000002"), 0);
    const char *files[] = { "mysql-bin.000001", "mysql-bin.000002", NULL };
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", files), 0);

    /* flip a byte inside the second transaction's row event */
    wh_buf bad = WH_BUF_INIT;
    wh_buf_append(&bad, a.b.data, a.b.len);
    bad.data[rows_off + 25] ^= 0x40;
    char path[4096];
    snprintf(path, sizeof path, "%s/mysql-bin.000001", dir);
    FILE *fp = fopen(path, "wb");
    fwrite(bad.data, 1, bad.len, fp);
    fclose(fp);
    tu_run r;
    tu_collect(&r, dir, NULL, NULL, NULL, true, 100);
    CHECK_EQ_INT(r.rc, WH_ERR_CORRUPT);
    char exp[512];
    snprintf(exp, sizeof exp, "mysql-bin.000001:%zu: CRC32 checksum mismatch in a Write_rows_v1 "
             "event of", rows_off);
    CHECK(strncmp(r.err, exp, strlen(exp)) == 0);
    if (strncmp(r.err, exp, strlen(exp)) != 0)
        fprintf(stderr, "  got: %s\n  want: %s\n", r.err, exp);
    CHECK_EQ_INT(r.n, 2);   /* the first transaction came out whole */
    tu_free(&r);

    /* cut the first file inside its last event (the XID), then between
     * events: a later file exists, so the transaction never committed (the
     * server rolls it back at restart): skipped with one warning, and the
     * next file goes on */
    for (int k = 0; k < 2; k++) {
        size_t cut = k == 0 ? end_a - 10 : end_a - 31;
        fp = fopen(path, "wb");
        fwrite(a.b.data, 1, cut, fp);
        fclose(fp);
        log_begin();
        tu_collect(&r, dir, NULL, NULL, NULL, true, 100);
        char *log = log_end();
        CHECK_EQ_INT(r.rc, WH_ERR_EOF);
        CHECK_EQ_STR(r.err, "");
        CHECK_EQ_INT(r.n, 3);   /* 0-1-1's two updates, then 0-1-3 of the next file */
        CHECK(strstr(r.out.data, "\"0-1-2") == NULL && strstr(r.out.data, "\"0-1-3/0\""));
        snprintf(exp, sizeof exp, "mysql-bin.000001:%zu: transaction 0-1-2 never committed: the "
                 "file ends inside it, %zu bytes on, and the binlog continues in "
                 "mysql-bin.000002 (the server stopped while writing it, and rolls such a "
                 "transaction back when it restarts); skipping it (wormhole-logcat "
                 "--uncommitted shows it)", t2, cut - t2);
        CHECK_EQ_INT(count_str(log, exp), 1);
        CHECK_EQ_INT(count_str(log, "never committed"), 1);
        if (count_str(log, exp) != 1)
            fprintf(stderr, "  log: %s\n  want: %s\n", log, exp);
        free(log);
        tu_free(&r);
        /* forensics: the option uncommitted shows it, never marked last */
        tu_collect(&r, dir, "{\"uncommitted\": true}", NULL, NULL, true, 100);
        CHECK_EQ_INT(r.rc, WH_ERR_EOF);
        CHECK_EQ_INT(r.n, 4);
        char l[2048], fl[64];
        CHECK_EQ_STR(tu_field(tu_line(r.out.data, 2, l, sizeof l), "pos.logical", fl, sizeof fl),
                     "\"0-1-2/0\"");
        CHECK_EQ_STR(tu_field(l, "txn.last", fl, sizeof fl), "false");
        CHECK_EQ_STR(tu_field(tu_line(r.out.data, 3, l, sizeof l), "pos.logical", fl, sizeof fl),
                     "\"0-1-3/0\"");
        tu_free(&r);
    }

    /* the same cut in the last file is the live end of the log: nothing of
     * the transaction is delivered, and the end says why */
    const char *only[] = { "mysql-bin.000001", NULL };
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", only), 0);
    fp = fopen(path, "wb");
    fwrite(a.b.data, 1, end_a - 10, fp);
    fclose(fp);
    tu_collect(&r, dir, NULL, NULL, NULL, true, 100);
    CHECK_EQ_INT(r.rc, WH_ERR_EOF);
    CHECK_EQ_INT(r.n, 2);
    snprintf(exp, sizeof exp, "the log ends inside transaction 0-1-2 at mysql-bin.000001:%zu: "
             "not committed (yet); 1 update not shown", t2);
    CHECK_EQ_STR(r.err, exp);
    tu_free(&r);
    tu_collect(&r, dir, "{\"uncommitted\": true}", NULL, NULL, true, 100);
    CHECK_EQ_INT(r.rc, WH_ERR_EOF);
    CHECK_EQ_INT(r.n, 3);   /* the open transaction's update, its end unknown */
    char line[2048], f[64];
    CHECK_EQ_STR(tu_field(tu_line(r.out.data, 2, line, sizeof line), "txn.last", f, sizeof f),
                 "false");
    snprintf(exp, sizeof exp, "the log ends inside transaction 0-1-2 at mysql-bin.000001:%zu: "
             "not committed (yet); 1 update delivered as uncommitted", t2);
    CHECK_EQ_STR(r.err, exp);
    tu_free(&r);

    /* unknown events: skipped when ignorable, an error otherwise */
    tbw u;
    tbw_init(&u, false, true);
    tbw_event(&u, 200, "abc", 3, BINLOG_F_IGNORABLE);
    size_t uoff = u.b.len;
    tbw_event(&u, 201, "abc", 3, 0);
    CHECK_EQ_INT(tbw_save(&u, dir, "mysql-bin.000001"), 0);
    tu_collect(&r, dir, NULL, NULL, NULL, true, 100);
    CHECK_EQ_INT(r.rc, WH_ERR_UNSUPPORTED);
    snprintf(exp, sizeof exp, "mysql-bin.000001:%zu: event type 201 (Unknown) is not supported "
             "and not marked ignorable", uoff);
    CHECK_EQ_STR(r.err, exp);
    tu_free(&r);
    tbw_free(&u);

    /* not a binlog */
    fp = fopen(path, "wb");
    fputs("hello world, not a binlog", fp);
    fclose(fp);
    tu_collect(&r, dir, NULL, NULL, NULL, true, 100);
    CHECK_EQ_INT(r.rc, WH_ERR_CORRUPT);
    CHECK_EQ_STR(r.err, "mysql-bin.000001:0: not a binlog file (bad magic number 68 65 6c 6c)");
    tu_free(&r);
    wh_buf_free(&bad);
    tbw_free(&a);
    tbw_free(&b);
    tu_rmdir(dir);
}

/* ---- row images: MINIMAL, large events, compressed rows -------------------------- */

static void test_images(void)
{
    char *dir = tu_tmpdir();
    tbw w;
    tbw_init(&w, true, true);
    tbw_gtid_list(&w, NULL, 0);
    tbw_maria_gtid(&w, 0, 1, 0x0c);
    t_map(&w, 5);
    /* MINIMAL update: before has only id, after only name */
    uint8_t bm1 = 0x01, bm2 = 0x02, rows[64];
    size_t n = 0;
    rows[n++] = 0; rows[n++] = 7; rows[n++] = 0; rows[n++] = 0; rows[n++] = 0;
    rows[n++] = 0; rows[n++] = 1; rows[n++] = 'x';
    tbw_rows(&w, BE_UPDATE_ROWS_V1, 5, 1, 2, &bm1, &bm2, rows, n);
    tbw_xid(&w, 1);
    /* an event far larger than the read buffer (3 MB name) */
    tbw_maria_gtid(&w, 0, 2, 0x0c);
    const uint8_t btypes[] = { 3, BT_BLOB };
    const uint8_t bmeta[] = { 4 };
    const uint8_t bopt[] = { 0x03, 0x01, 0x3f, 0x04, 0x06, 0x02, 'i', 'd', 0x02, 'b', 'l' };
    tbw_table_map(&w, 6, "db", "big", btypes, 2, bmeta, 1, bopt, sizeof bopt);
    size_t big = 3u << 20;
    uint8_t *brow = malloc(big + 16);
    size_t bn = 0;
    brow[bn++] = 0;
    brow[bn++] = 1; brow[bn++] = 0; brow[bn++] = 0; brow[bn++] = 0;
    brow[bn++] = big & 0xff; brow[bn++] = (big >> 8) & 0xff; brow[bn++] = (big >> 16) & 0xff;
    brow[bn++] = big >> 24;
    for (size_t i = 0; i < big; i++)
        brow[bn++] = (uint8_t)('a' + i % 26);
    uint8_t bm3 = 3;
    tbw_rows(&w, BE_WRITE_ROWS_V1, 6, 1, 2, &bm3, NULL, brow, bn);
    tbw_xid(&w, 2);
    /* a MariaDB compressed row event */
    tbw_maria_gtid(&w, 0, 3, 0x0c);
    t_map(&w, 5);
    uint8_t plain[256];
    size_t pn = 0;
    for (int i = 0; i < 10; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "row%d", i);
        pn += t_row(plain + pn, (uint32_t)i, nm);
    }
    uLongf zl = compressBound(pn);
    uint8_t comp[512];
    comp[0] = 0x81;
    comp[1] = (uint8_t)pn;
    compress(comp + 2, &zl, plain, pn);
    tbw_rows(&w, BE_WRITE_ROWS_COMPRESSED_V1, 5, 1, 2, &bm3, NULL, comp, zl + 2);
    tbw_xid(&w, 3);
    CHECK_EQ_INT(tbw_save(&w, dir, "mysql-bin.000001"), 0);
    const char *files[] = { "mysql-bin.000001", NULL };
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", files), 0);

    tu_run r;
    tu_collect(&r, dir, "{\"read_buffer_kb\": 64}", NULL, NULL, true, 3);
    CHECK_EQ_INT(r.rc, WH_ERR_EOF);
    CHECK_EQ_INT(r.n, 12);
    char line[2048], f[256];
    tu_line(r.out.data, 0, line, sizeof line);
    CHECK(strstr(line, "\"before\":{\"id\":7},\"after\":{\"name\":\"x\"}") != NULL);
    const char *l1 = strstr(r.out.data, "\n") + 1;
    CHECK(strncmp(l1, "{\"shard\":\"t\",\"op\":\"insert\",\"db\":\"db\",\"table\":\"big\"", 50) == 0);
    CHECK(strstr(l1, "\"bl\":\"YWJjZGVm") != NULL);   /* base64 of "abcdef" */
    CHECK_EQ_STR(tu_field(tu_line(r.out.data, 11, line, sizeof line), "after.name", f, sizeof f),
                 "\"row9\"");
    CHECK_EQ_STR(tu_field(line, "txn.last", f, sizeof f), "true");
    tu_free(&r);
    free(brow);
    tbw_free(&w);
    tu_rmdir(dir);
}

/* ---- MySQL transaction payloads and partial JSON ----------------------------------- */

static void build_payload(tbw *w, int rows, bool zstd, uint64_t gno)
{
    wh_buf inner = WH_BUF_INIT, body = WH_BUF_INIT;
    tbw_query_body(&body, "db", "BEGIN");
    tbw_raw_event(&inner, w->ts, BE_QUERY, 1, body.data, body.len);
    wh_buf_reset(&body);
    tbw_table_map_body(&body, 80, "db", "t", T_TYPES, 2, T_META, sizeof T_META, T_OPT,
                       sizeof T_OPT);
    tbw_raw_event(&inner, w->ts, BE_TABLE_MAP, 1, body.data, body.len);
    for (int done = 0; done < rows;) {
        int k = rows - done > 100 ? 100 : rows - done;
        uint8_t rbuf[4096], bm = 3;
        size_t len = 0;
        for (int i = 0; i < k; i++) {
            char nm[16];
            snprintf(nm, sizeof nm, "p%d", done + i);
            len += t_row(rbuf + len, (uint32_t)(done + i), nm);
        }
        wh_buf_reset(&body);
        tbw_rows_body(&body, true, 80, done + k == rows ? 1 : 0, 2, &bm, NULL, rbuf, len);
        tbw_raw_event(&inner, w->ts, BE_WRITE_ROWS_V2, 1, body.data, body.len);
        done += k;
    }
    wh_buf_reset(&body);
    tb_u64(&body, 77);
    tbw_raw_event(&inner, w->ts, BE_XID, 1, body.data, body.len);

    wh_buf ev = WH_BUF_INIT;
    size_t cap = ZSTD_compressBound(inner.len);
    uint8_t *z = malloc(cap);
    size_t zn = zstd ? ZSTD_compress(z, cap, inner.data, inner.len, 3) : inner.len;
    if (!zstd)
        memcpy(z, inner.data, inner.len);
    tb_packed(&ev, 2); tb_packed(&ev, zstd ? 1 : 3); tb_packed(&ev, zstd ? 0 : 255);
    if (zstd) {
        wh_buf v = WH_BUF_INIT;
        tb_packed(&v, inner.len);
        tb_packed(&ev, 3); tb_packed(&ev, v.len); tb_packed(&ev, inner.len);
        wh_buf_free(&v);
    }
    wh_buf v = WH_BUF_INIT;
    tb_packed(&v, zn);
    tb_packed(&ev, 1); tb_packed(&ev, v.len); tb_packed(&ev, zn);
    wh_buf_free(&v);
    tb_packed(&ev, 0);
    tb_bytes(&ev, z, zn);
    tbw_mysql_gtid(w, UUID1, gno);
    tbw_event(w, BE_TRANSACTION_PAYLOAD, ev.data, ev.len, 0);
    free(z);
    wh_buf_free(&ev);
    wh_buf_free(&inner);
    wh_buf_free(&body);
}

static void test_payload(void)
{
    char *dir = tu_tmpdir();
    tbw w;
    tbw_init(&w, false, true);
    tbw_prev_gtids(&w, NULL, 0, 0);
    build_payload(&w, 20000, true, 1);
    build_payload(&w, 3, false, 2);
    CHECK_EQ_INT(tbw_save(&w, dir, "binlog.000001"), 0);
    const char *files[] = { "binlog.000001", NULL };
    CHECK_EQ_INT(tbw_index(dir, "binlog.index", files), 0);
    tu_run r;
    tu_collect(&r, dir, "{\"read_buffer_kb\": 16}", NULL, NULL, true, 500);
    CHECK_EQ_INT(r.rc, WH_ERR_EOF);
    if (r.rc != WH_ERR_EOF)
        fprintf(stderr, "  error: %s\n", r.err);
    CHECK_EQ_INT(r.n, 20003);
    char line[2048], f[256];
    CHECK_EQ_STR(tu_field(tu_line(r.out.data, 19999, line, sizeof line), "after.name", f,
                          sizeof f), "\"p19999\"");
    CHECK_EQ_STR(tu_field(line, "txn.last", f, sizeof f), "true");
    CHECK_EQ_STR(tu_field(line, "pos.logical", f, sizeof f), "\"" UUID1_TEXT ":1/19999\"");
    CHECK_EQ_STR(tu_field(tu_line(r.out.data, 19998, line, sizeof line), "txn.last", f,
                          sizeof f), "false");
    CHECK_EQ_STR(tu_field(tu_line(r.out.data, 20002, line, sizeof line), "after.name", f,
                          sizeof f), "\"p2\"");
    tu_free(&r);
    /* resume in the middle of a compressed transaction */
    tu_collect(&r, dir, NULL, NULL, UUID1_TEXT ":1/15000", false, 1000);
    CHECK_EQ_INT(r.n, 5002);
    CHECK_EQ_STR(tu_field(tu_line(r.out.data, 0, line, sizeof line), "after.id", f, sizeof f),
                 "15001");
    tu_free(&r);

    /* a corrupt payload */
    size_t mid = w.b.len / 2;
    w.b.data[mid] ^= 0xff;
    /* re-checksum the payload event so that only zstd notices */
    size_t off = BINLOG_MAGIC_LEN;
    while (off < w.b.len) {
        uint32_t len = wh_le32((uint8_t *)w.b.data + off + 9);
        if (mid >= off && mid < off + len) {
            uint32_t crc = binlog_crc32(0, w.b.data + off, len - 4);
            memcpy(w.b.data + off + len - 4, &crc, 4);
            break;
        }
        off += len;
    }
    CHECK_EQ_INT(tbw_save(&w, dir, "binlog.000001"), 0);
    tu_collect(&r, dir, NULL, NULL, NULL, true, 500);
    CHECK_EQ_INT(r.rc, WH_ERR_CORRUPT);
    char exp[256];
    snprintf(exp, sizeof exp, "binlog.000001:%zu", off);
    CHECK(strncmp(r.err, exp, strlen(exp)) == 0);
    if (strncmp(r.err, exp, strlen(exp)) != 0)
        fprintf(stderr, "  got: %s\n", r.err);
    tu_free(&r);
    tbw_free(&w);
    tu_rmdir(dir);
}

/* Payload headers: every field holds one packed integer; an empty one (or
 * one with bytes after its integer) is malformed, never read as a value. */
static void test_payload_header(void)
{
    /* Fields: type, length, packed integer; 0 ends the header. 255 (stored
     * plainly) packs as fc ff 00. */
    static const struct { uint8_t body[12]; size_t len; int rc; } cases[] = {
        { { 1, 1, 0, 2, 3, 0xfc, 0xff, 0, 0 }, 9, WH_OK },         /* size 0, stored plainly */
        { { 1, 0, 2, 3, 0xfc, 0xff, 0, 0 }, 8, WH_ERR_CORRUPT },   /* empty payload size */
        { { 1, 1, 0, 2, 0, 0 }, 6, WH_ERR_CORRUPT },               /* empty compression type */
        { { 1, 2, 0, 0, 2, 3, 0xfc, 0xff, 0, 0 }, 10, WH_ERR_CORRUPT }, /* byte after the integer */
        { { 1, 1, 0, 0 }, 4, WH_ERR_CORRUPT },                     /* no compression type */
    };
    binlog_fde fde;
    memset(&fde, 0, sizeof fde);
    binlog_payload *pl = binlog_payload_new(4096);
    CHECK(pl != NULL);
    for (size_t i = 0; pl && i < sizeof cases / sizeof cases[0]; i++) {
        binlog_event ev;
        memset(&ev, 0, sizeof ev);
        uint8_t *body = malloc(cases[i].len);   /* exact size: ASan sees over-reads */
        memcpy(body, cases[i].body, cases[i].len);
        ev.body = body;
        ev.body_len = cases[i].len;
        char err[256] = "";
        int rc = binlog_payload_begin(pl, &ev, &fde, err, sizeof err);
        CHECK_EQ_INT(rc, cases[i].rc);
        if (rc != cases[i].rc)
            fprintf(stderr, "  case %zu: %s\n", i, err);
        binlog_payload_end(pl);
        free(body);
    }
    binlog_payload_free(pl);
}

static void test_partial_json(void)
{
    char *dir = tu_tmpdir();
    tbw w;
    tbw_init(&w, false, true);
    tbw_prev_gtids(&w, NULL, 0, 0);
    tbw_mysql_gtid(&w, UUID1, 1);
    tbw_query(&w, "db", "BEGIN");
    const uint8_t types[] = { 3, BT_JSON };
    const uint8_t meta[] = { 4 };
    const uint8_t opt[] = { 0x04, 0x06, 0x02, 'i', 'd', 0x02, 'j', 's' };
    tbw_table_map(&w, 3, "db", "docs", types, 2, meta, 1, opt, sizeof opt);
    /* {"a":1} in MySQL's binary JSON: small object, 1 member, int16 inline */
    const uint8_t doc[] = { 0x00, 0x01, 0x00, 0x0c, 0x00, 0x0b, 0x00, 0x01, 0x00,
                            0x05, 0x01, 0x00, 'a' };
    /* REPLACE $.a with 2 */
    const uint8_t diff[] = { 0x00, 0x03, '$', '.', 'a', 0x03, 0x05, 0x02, 0x00 };
    wh_buf row = WH_BUF_INIT;
    tb_u8(&row, 0);                       /* before: NULL bitmap */
    tb_u32(&row, 1);
    tb_u32(&row, sizeof doc);
    tb_bytes(&row, doc, sizeof doc);
    tb_packed(&row, 1);                   /* after: value options PARTIAL_JSON */
    tb_u8(&row, 0x01);                    /* partial bit of the JSON column */
    tb_u8(&row, 0);                       /* NULL bitmap */
    tb_u32(&row, 1);
    tb_u32(&row, sizeof diff);            /* the diff vector: its length, then diffs */
    tb_bytes(&row, diff, sizeof diff);
    uint8_t bm = 3;
    tbw_rows(&w, BE_PARTIAL_UPDATE_ROWS, 3, 1, 2, &bm, &bm, row.data, row.len);
    tbw_xid(&w, 1);
    CHECK_EQ_INT(tbw_save(&w, dir, "binlog.000001"), 0);
    const char *files[] = { "binlog.000001", NULL };
    CHECK_EQ_INT(tbw_index(dir, "binlog.index", files), 0);
    tu_run r;
    tu_collect(&r, dir, NULL, NULL, NULL, true, 10);
    CHECK_EQ_INT(r.rc, WH_ERR_EOF);
    CHECK_EQ_INT(r.n, 1);
    CHECK(strstr(r.out.data, "\"before\":{\"id\":1,\"js\":{\"a\":1}},\"after\":{\"id\":1,"
                             "\"js\":{\"a\":2}}") != NULL);
    if (r.n != 1 || !strstr(r.out.data, "{\"a\":2}"))
        fprintf(stderr, "  got: %s / %s\n", r.out.data, r.err);
    tu_free(&r);
    wh_buf_free(&row);
    tbw_free(&w);
    tu_rmdir(dir);
}

/* ---- tailing: half-written events, rotation ------------------------------------------ */

static int append_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0)
        return -1;
    ssize_t k = write(fd, p, n);
    close(fd);
    return k == (ssize_t)n ? 0 : -1;
}

static void test_tail(void)
{
    char *dir = tu_tmpdir();
    tbw a;
    tbw_init(&a, true, true);
    tbw_gtid_list(&a, NULL, 0);
    size_t head = a.b.len;
    maria_txn(&a, 0, 1, 1, 1);
    size_t t1 = a.b.len;
    maria_txn(&a, 0, 2, 2, 1);
    size_t t2 = a.b.len;
    tbw_rotate(&a, "mysql-bin.000002");
    tbw b;
    tbw_init(&b, true, true);
    tbw_gtid_list(&b, NULL, 0);
    maria_txn(&b, 0, 3, 3, 1);
    const char *files[] = { "mysql-bin.000001", NULL };
    CHECK_EQ_INT(append_file(dir, "mysql-bin.000001", a.b.data, head), 0);
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", files), 0);

    json_t *o = json_pack("{s:s, s:i}", "binlog_dir", dir, "poll_ms", 20);
    wh_mapper *m = NULL;
    char err[1024];
    CHECK_EQ_INT(wh_mapper_create("mysql", o, "t", true, &m, err, sizeof err), WH_OK);
    json_decref(o);
    CHECK_EQ_INT(m->ops->seek_physical(m, NULL, true, err, sizeof err), WH_OK);
    const wh_update *u;
    CHECK_EQ_INT(m->ops->next_batch(m, &u, 10, 30, err, sizeof err), WH_ERR_AGAIN);
    /* half of the first transaction: its update is held back, not emitted */
    CHECK_EQ_INT(append_file(dir, "mysql-bin.000001", a.b.data + head, t1 - head - 20), 0);
    CHECK_EQ_INT(m->ops->next_batch(m, &u, 10, 30, err, sizeof err), WH_ERR_AGAIN);
    CHECK_EQ_INT(append_file(dir, "mysql-bin.000001", a.b.data + t1 - 20, 20), 0);
    int n = m->ops->next_batch(m, &u, 10, 1000, err, sizeof err);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK(u[0].txn.last);
        CHECK_EQ_STR(u[0].pos.logical, "0-1-1");
    }
    /* the rest, a rotation, and the next file appearing later */
    CHECK_EQ_INT(append_file(dir, "mysql-bin.000001", a.b.data + t1, a.b.len - t1), 0);
    n = m->ops->next_batch(m, &u, 10, 1000, err, sizeof err);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(m->ops->next_batch(m, &u, 10, 30, err, sizeof err), WH_ERR_AGAIN);
    CHECK_EQ_INT(append_file(dir, "mysql-bin.000002", b.b.data, b.b.len), 0);
    const char *files2[] = { "mysql-bin.000001", "mysql-bin.000002", NULL };
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", files2), 0);
    n = m->ops->next_batch(m, &u, 10, 1000, err, sizeof err);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK_EQ_STR(u[0].pos.log_name, "mysql-bin.000002");
        CHECK_EQ_STR(u[0].txn.id, "0-1-3");
    }
    CHECK_EQ_INT(m->ops->next_batch(m, &u, 10, 0, err, sizeof err), WH_ERR_AGAIN);
    (void)t2;
    wh_mapper_destroy(m);
    tbw_free(&a);
    tbw_free(&b);
    tu_rmdir(dir);
}

/* ---- options and names ------------------------------------------------------------------ */

static void test_options(void)
{
    char err[1024];
    wh_mapper *m = NULL;
    json_t *o = json_pack("{s:s}", "binlog_dir", "/nonexistent/binlogs");
    CHECK_EQ_INT(wh_mapper_create("mysql", o, "t", false, &m, err, sizeof err), WH_ERR_NOT_FOUND);
    CHECK(strstr(err, "binlog directory /nonexistent/binlogs") != NULL);
    json_decref(o);
    o = json_pack("{s:s, s:s}", "binlog_dir", "/tmp", "statement_dml", "maybe");
    CHECK_EQ_INT(wh_mapper_create("mysql", o, "t", false, &m, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "statement_dml") != NULL);
    json_decref(o);
    o = json_pack("{s:s, s:i}", "binlog_dir", "/tmp", "bogus", 1);
    CHECK_EQ_INT(wh_mapper_create("mysql", o, "t", false, &m, err, sizeof err), WH_ERR_CONFIG);
    json_decref(o);

    /* no names in the table map and no server: a clear error */
    char *dir = tu_tmpdir();
    tbw w;
    tbw_init(&w, false, false);
    tbw_prev_gtids(&w, NULL, 0, 0);
    tbw_mysql_gtid(&w, NULL, 0);
    tbw_query(&w, "db", "BEGIN");
    tbw_table_map(&w, 70, "db", "t", T_TYPES, 2, T_META, sizeof T_META, NULL, 0);
    t_insert(&w, BE_WRITE_ROWS_V2, 70, 1, 1);
    tbw_xid(&w, 1);
    CHECK_EQ_INT(tbw_save(&w, dir, "binlog.000001"), 0);
    const char *files[] = { "binlog.000001", NULL };
    CHECK_EQ_INT(tbw_index(dir, "binlog.index", files), 0);
    tu_run r;
    tu_collect(&r, dir, NULL, NULL, NULL, true, 10);
    CHECK_EQ_INT(r.rc, WH_ERR_CONFIG);
    CHECK(strstr(r.err, "the binlog carries no column names for `db`.`t`") != NULL);
    tu_free(&r);
    tu_collect(&r, dir, "{\"positional_names\": true}", NULL, NULL, true, 10);
    CHECK_EQ_INT(r.rc, WH_ERR_EOF);
    CHECK(strstr(r.out.data, "\"after\":{\"@1\":1,\"@2\":\"n1\"}") != NULL);
    CHECK(strstr(r.out.data, "\"logical\":null,\"physical\":\"binlog.000001:") != NULL);
    tu_free(&r);
    tbw_free(&w);
    tu_rmdir(dir);
}

/* ---- finished files are mapped: same stream, same errors ------------------------ */

static void test_mmap(void)
{
    char *dir = tu_tmpdir();
    tbw a, b;
    tbw_init(&a, true, true);
    tbw_gtid_list(&a, NULL, 0);
    size_t mid_rows = 0;
    for (uint64_t k = 1; k <= 3500; k++) {
        size_t off = maria_txn(&a, 0, k, (uint32_t)k * 1000, 150);
        if (k == 1500)
            mid_rows = off;
    }
    tbw_rotate(&a, "mysql-bin.000002");
    CHECK(a.b.len > (5u << 20));
    tbw_init(&b, true, true);
    uint64_t l2[][3] = { { 0, 1, 3500 } };
    tbw_gtid_list(&b, l2, 1);
    maria_txn(&b, 0, 9999, 1, 1);
    CHECK_EQ_INT(tbw_save(&a, dir, "mysql-bin.000001"), 0);
    CHECK_EQ_INT(tbw_save(&b, dir, "mysql-bin.000002"), 0);
    const char *files[] = { "mysql-bin.000001", "mysql-bin.000002", NULL };
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", files), 0);
    tu_run r1, r2;
    tu_collect(&r1, dir, "{\"mmap\": true}", NULL, NULL, true, 333);
    tu_collect(&r2, dir, "{\"mmap\": false}", NULL, NULL, true, 1000);
    CHECK_EQ_INT(r1.rc, WH_ERR_EOF);
    CHECK_EQ_INT(r1.n, 3500 * 150 + 1);
    CHECK(r1.out.len == r2.out.len && memcmp(r1.out.data, r2.out.data, r1.out.len) == 0);
    tu_free(&r1);
    tu_free(&r2);
    /* resume in the middle of the mapped file */
    tu_collect(&r1, dir, NULL, NULL, "0-1-3000/149", true, 100);
    CHECK_EQ_INT(r1.n, 1 + 500 * 150 + 1);
    if (r1.rc != WH_ERR_EOF)
        fprintf(stderr, "  %s\n", r1.err);
    tu_free(&r1);
    /* a flipped byte far into the mapped file */
    a.b.data[mid_rows + 40] ^= 0x10;
    CHECK_EQ_INT(tbw_save(&a, dir, "mysql-bin.000001"), 0);
    tu_collect(&r1, dir, "{\"mmap\": true}", NULL, NULL, true, 1000);
    tu_collect(&r2, dir, "{\"mmap\": false}", NULL, NULL, true, 1000);
    CHECK_EQ_INT(r1.rc, WH_ERR_CORRUPT);
    CHECK_EQ_STR(r1.err, r2.err);
    CHECK_EQ_INT(r1.n, 1499 * 150);
    CHECK_EQ_INT(r2.n, 1499 * 150);
    tu_free(&r1);
    tu_free(&r2);
    a.b.data[mid_rows + 40] ^= 0x10;
    /* cut inside an event: that transaction never committed; the next
     * file follows (mapped or read, the same stream) */
    char path[4096];
    snprintf(path, sizeof path, "%s/mysql-bin.000001", dir);
    FILE *fp = fopen(path, "wb");
    fwrite(a.b.data, 1, mid_rows + 100, fp);
    fclose(fp);
    tu_collect(&r1, dir, "{\"mmap\": true}", NULL, NULL, true, 1000);
    tu_collect(&r2, dir, "{\"mmap\": false}", NULL, NULL, true, 1000);
    CHECK_EQ_INT(r1.rc, WH_ERR_EOF);
    CHECK_EQ_INT(r1.n, 1499 * 150 + 1);
    CHECK(r1.out.len == r2.out.len && memcmp(r1.out.data, r2.out.data, r1.out.len) == 0);
    tu_free(&r1);
    tu_free(&r2);
    tbw_free(&a);
    tbw_free(&b);
    tu_rmdir(dir);
}

/* ---- an insert whose MINIMAL image has no columns -------------------------------- */

static void test_empty_image(void)
{
    char *dir = tu_tmpdir();
    tbw w;
    tbw_init(&w, false, true);
    tbw_prev_gtids(&w, NULL, 0, 0);
    tbw_mysql_gtid(&w, UUID1, 1);
    tbw_query(&w, "db", "BEGIN");
    t_map(&w, 70);
    uint8_t none = 0;
    tbw_rows(&w, BE_WRITE_ROWS_V2, 70, 1, 2, &none, NULL, "", 0);
    tbw_xid(&w, 1);
    CHECK_EQ_INT(tbw_save(&w, dir, "binlog.000001"), 0);
    const char *files[] = { "binlog.000001", NULL };
    CHECK_EQ_INT(tbw_index(dir, "binlog.index", files), 0);
    tu_run r;
    tu_collect(&r, dir, NULL, NULL, NULL, true, 10);
    CHECK_EQ_INT(r.rc, WH_ERR_EOF);
    CHECK_EQ_INT(r.n, 1);
    CHECK(strstr(r.out.data, "\"op\":\"insert\"") && strstr(r.out.data, "\"after\":{}}"));
    tu_free(&r);
    tbw_free(&w);
    tu_rmdir(dir);
}

/* ---- a large transaction streams with bounded memory ------------------------------ */

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void test_big_txn(void)
{
    char *dir = tu_tmpdir();
    tbw w;
    tbw_init(&w, true, true);
    tbw_gtid_list(&w, NULL, 0);
    tbw_maria_gtid(&w, 0, 1, 0x0c);
    const int events = 2500, per = 160;   /* 400000 rows, one transaction */
    for (int e = 0; e < events; e++) {
        t_map(&w, 20);
        t_insert(&w, BE_WRITE_ROWS_V1, 20, (uint32_t)(e * per), per);
    }
    tbw_xid(&w, 1);
    CHECK_EQ_INT(tbw_save(&w, dir, "mysql-bin.000001"), 0);
    const char *files[] = { "mysql-bin.000001", NULL };
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", files), 0);
    size_t file_len = w.b.len;
    tbw_free(&w);

    json_t *o = json_pack("{s:s}", "binlog_dir", dir);
    wh_mapper *m = NULL;
    char err[1024];
    CHECK_EQ_INT(wh_mapper_create("mysql", o, "t", false, &m, err, sizeof err), WH_OK);
    json_decref(o);
    CHECK_EQ_INT(m->ops->seek_physical(m, NULL, true, err, sizeof err), WH_OK);
    long before = rss_kb(), peak = before;
    uint64_t n = 0, lasts = 0, sum = 0, bad_index = 0;
    for (;;) {
        const wh_update *u;
        int k = m->ops->next_batch(m, &u, 1000, 0, err, sizeof err);
        if (k < 0)
            break;
        for (int i = 0; i < k; i++) {
            lasts += u[i].txn.last;
            sum += u[i].after.values[0].n.u;
            bad_index += u[i].txn.index != n + (uint64_t)i;
        }
        n += (uint64_t)k;
        long r = rss_kb();
        if (r > peak)
            peak = r;
    }
    wh_mapper_destroy(m);
    CHECK_EQ_INT(n, (uint64_t)events * per);
    CHECK_EQ_INT(lasts, 1);
    CHECK_EQ_INT(bad_index, 0);
    CHECK_EQ_INT(sum, (uint64_t)events * per * (events * per - 1) / 2);
    /* Holding the transaction would take well over 100 MB here. */
    CHECK(peak - before < 24 * 1024);
    printf("big transaction: %zu bytes, %" PRIu64 " rows, RSS grew by %ld KiB\n", file_len, n,
           peak - before);
    tu_rmdir(dir);
}

/* ---- committed transactions only: cut transactions ----------------------------- */

/* Writes exactly n bytes as dir/name (replacing it). */
static int write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
    return append_file(dir, name, p, n);
}

/* Reads next_batch (7 updates at most, no wait) into JSON lines until it
 * returns something else than updates; returns that. */
static int drain(wh_mapper *m, wh_buf *out, int *n, char *err, size_t errlen)
{
    for (;;) {
        const wh_update *u;
        int k = m->ops->next_batch(m, &u, 7, 0, err, errlen);
        if (k < 0)
            return k;
        for (int i = 0; i < k; i++)
            wh_update_to_json(&u[i], out);
        *n += k;
    }
}

/* A binlog whose last transaction, the victim, gets cut: the file's head
 * and a committed transaction (2 updates), then the victim (GTID 0-1-2 or
 * UUID1:2), then (for tailing) one more committed transaction. The file
 * written after a crash and restart holds the victim's GTID again, reused
 * by a committed transaction of 2 updates (ids 50, 51), and one more (60). */
enum { CUT_MARIA_XID, CUT_MARIA_COMMIT, CUT_MYSQL_XID, CUT_MYSQL_PAYLOAD, CUT_MARIA_DDL,
       CUT_MARIA_BIG, CUT__COUNT };

typedef struct cut_case {
    tbw file;                 /* head, transaction 1, victim, transaction 3 */
    tbw next;                 /* the file after the restart */
    size_t start, gtid_end, end, after_end;
    int nev;
    size_t ev_end[128];       /* where the victim's events end */
    int ev_updates[128];      /* updates complete when the file ends there */
    int updates;              /* the victim's updates */
    const char *gtid;         /* its GTID text */
    const char *opts;
} cut_case;

static void cut_mark(cut_case *c, int updates)
{
    c->ev_end[c->nev] = c->file.b.len;
    c->ev_updates[c->nev] = updates;
    c->nev++;
}

static void cut_build(cut_case *c, int kind)
{
    memset(c, 0, sizeof *c);
    bool maria = kind != CUT_MYSQL_XID && kind != CUT_MYSQL_PAYLOAD;
    tbw *w = &c->file;
    tbw_init(w, maria, true);
    if (maria) {
        tbw_gtid_list(w, NULL, 0);
        maria_txn(w, 0, 1, 1, 2);
    } else {
        tbw_prev_gtids(w, NULL, 0, 0);
        tbw_mysql_gtid(w, UUID1, 1);
        tbw_query(w, "db", "BEGIN");
        t_map(w, 70);
        t_insert(w, BE_WRITE_ROWS_V2, 70, 1, 2);
        tbw_xid(w, 1);
    }
    c->start = w->b.len;
    c->gtid = maria ? "0-1-2" : UUID1_TEXT ":2";
    c->opts = NULL;
    int u = 0;
    switch (kind) {
    case CUT_MARIA_XID:
        tbw_maria_gtid(w, 0, 2, 0x0c);
        cut_mark(c, 0);
        t_map(w, 20);
        cut_mark(c, 0);
        for (int i = 0; i < 3; i++) {
            t_insert(w, BE_WRITE_ROWS_V1, 20, 10 + 2 * (uint32_t)i, 2);
            cut_mark(c, u += 2);
        }
        tbw_xid(w, 2);
        break;
    case CUT_MARIA_COMMIT:   /* a non-transactional table: BEGIN ... COMMIT */
        tbw_maria_gtid(w, 0, 2, 0);
        cut_mark(c, 0);
        tbw_query(w, "db", "BEGIN");
        cut_mark(c, 0);
        t_map(w, 20);
        cut_mark(c, 0);
        for (int i = 0; i < 2; i++) {
            t_insert(w, BE_WRITE_ROWS_V1, 20, 10 + 2 * (uint32_t)i, 2);
            cut_mark(c, u += 2);
        }
        tbw_query(w, "db", "COMMIT");
        break;
    case CUT_MYSQL_XID:
        tbw_mysql_gtid(w, UUID1, 2);
        cut_mark(c, 0);
        tbw_query(w, "db", "BEGIN");
        cut_mark(c, 0);
        t_map(w, 70);
        cut_mark(c, 0);
        for (int i = 0; i < 2; i++) {
            t_insert(w, BE_WRITE_ROWS_V2, 70, 10 + 2 * (uint32_t)i, 2);
            cut_mark(c, u += 2);
        }
        tbw_xid(w, 2);
        break;
    case CUT_MYSQL_PAYLOAD:   /* GTID, then the whole transaction in one event */
        build_payload(w, 3, true, 2);
        c->ev_end[c->nev++] = c->start + wh_le32((const uint8_t *)w->b.data + c->start + 9);
        u = 3;
        break;
    case CUT_MARIA_DDL:   /* a statement is its own transaction */
        tbw_maria_gtid(w, 0, 2, BINLOG_MGTID_STANDALONE | BINLOG_MGTID_DDL);
        cut_mark(c, 0);
        tbw_query(w, "db", "CREATE TABLE x (a INT)");
        u = 1;
        break;
    case CUT_MARIA_BIG:   /* far larger than the 16 KiB read buffer */
        tbw_maria_gtid(w, 0, 2, 0x0c);
        cut_mark(c, 0);
        for (int i = 0; i < 60; i++) {
            t_map(w, 20);
            cut_mark(c, u);
            t_insert(w, BE_WRITE_ROWS_V1, 20, 1000 + 100 * (uint32_t)i, 100);
            cut_mark(c, u += 100);
        }
        tbw_xid(w, 2);
        c->opts = "{\"read_buffer_kb\": 16}";
        break;
    }
    c->gtid_end = c->ev_end[0];
    c->end = w->b.len;
    c->updates = u;
    if (maria) {
        maria_txn(w, 0, 3, 30, 1);
    } else {
        tbw_mysql_gtid(w, UUID1, 3);
        tbw_query(w, "db", "BEGIN");
        t_map(w, 70);
        t_insert(w, BE_WRITE_ROWS_V2, 70, 30, 1);
        tbw_xid(w, 3);
    }
    c->after_end = w->b.len;

    tbw *n = &c->next;
    tbw_init(n, maria, true);
    if (maria) {
        uint64_t l[][3] = { { 0, 1, 1 } };
        tbw_gtid_list(n, l, 1);
        maria_txn(n, 0, 2, 50, 2);
        maria_txn(n, 0, 3, 60, 1);
    } else {
        tbw_prev_gtids(n, UUID1, 1, 2);
        for (uint64_t g = 2; g <= 3; g++) {
            tbw_mysql_gtid(n, UUID1, g);
            tbw_query(n, "db", "BEGIN");
            t_map(n, 70);
            t_insert(n, BE_WRITE_ROWS_V2, 70, g == 2 ? 50 : 60, g == 2 ? 2 : 1);
            tbw_xid(n, g);
        }
    }
}

static void cut_free(cut_case *c)
{
    tbw_free(&c->file);
    tbw_free(&c->next);
}

/* The victim's updates complete when the file ends at cut. */
static int cut_updates(const cut_case *c, size_t cut)
{
    int u = 0;
    for (int i = 0; i < c->nev && c->ev_end[i] <= cut; i++)
        u = c->ev_updates[i];
    return u;
}

/* One cut: file 1 ends at `cut` inside the victim. */
static void cut_run(cut_case *c, const char *dir, size_t cut, const tu_run *ref, int *bad)
{
    const char *both[] = { "mysql-bin.000001", "mysql-bin.000002", NULL };
    const char *one[] = { "mysql-bin.000001", NULL };
    int before = check_failed;
    char exp[1024], line[2048], f[256];

    /* (1) a later file exists: dropped, with one warning; the stream is
     * exactly that of a file that ends before the victim */
    CHECK_EQ_INT(write_file(dir, "mysql-bin.000001", c->file.b.data, cut), 0);
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", both), 0);
    tu_run r;
    log_begin();
    tu_collect(&r, dir, c->opts, NULL, NULL, true, 3);
    char *log = log_end();
    CHECK_EQ_INT(r.rc, WH_ERR_EOF);
    CHECK_EQ_STR(r.err, "");
    CHECK(r.out.len == ref->out.len && memcmp(r.out.data, ref->out.data, r.out.len) == 0);
    if (cut == c->start) {
        CHECK_EQ_INT(count_str(log, "skipping"), 0);
    } else if (cut < c->gtid_end) {
        CHECK_EQ_INT(count_str(log, "skipping"), 1);
        snprintf(exp, sizeof exp, "mysql-bin.000001:%zu: the file ends inside an event (%zu "
                 "bytes of it are there) and the binlog continues in mysql-bin.000002", c->start,
                 cut - c->start);
        CHECK_EQ_INT(count_str(log, exp), 1);
    } else {
        CHECK_EQ_INT(count_str(log, "skipping"), 1);
        snprintf(exp, sizeof exp, "mysql-bin.000001:%zu: transaction %s never committed: the "
                 "file ends inside it, %zu bytes on, and the binlog continues in "
                 "mysql-bin.000002", c->start, c->gtid, cut - c->start);
        CHECK_EQ_INT(count_str(log, exp), 1);
    }
    if (check_failed != before)
        fprintf(stderr, "  cut at %zu (victim %zu..%zu): rc %d %s\n  log: %s\n", cut, c->start,
                c->end, r.rc, r.err, log);
    free(log);
    tu_free(&r);

    /* (2) the last file, no follow: nothing of it; the end says so */
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", one), 0);
    tu_collect(&r, dir, c->opts, NULL, NULL, true, 3);
    CHECK_EQ_INT(r.rc, WH_ERR_EOF);
    CHECK_EQ_INT(r.n, 2);
    if (cut < c->gtid_end) {
        CHECK_EQ_STR(r.err, "");
    } else {
        int k = cut_updates(c, cut);
        snprintf(exp, sizeof exp, "the log ends inside transaction %s at mysql-bin.000001:%zu: "
                 "not committed (yet); %d update%s not shown", c->gtid, c->start, k,
                 k == 1 ? "" : "s");
        CHECK_EQ_STR(r.err, exp);
    }
    tu_free(&r);

    /* (3) the last file, tailed: nothing until the rest is written, then
     * all of it, its last update marked, and the transaction after it */
    json_t *o = c->opts ? json_loads(c->opts, 0, NULL) : json_object();
    json_object_set_new(o, "binlog_dir", json_string(dir));
    wh_mapper *m = NULL;
    char err[1024];
    CHECK_EQ_INT(wh_mapper_create("mysql", o, "t", true, &m, err, sizeof err), WH_OK);
    json_decref(o);
    CHECK_EQ_INT(m->ops->seek_physical(m, NULL, true, err, sizeof err), WH_OK);
    wh_buf out = WH_BUF_INIT;
    int n = 0;
    CHECK_EQ_INT(drain(m, &out, &n, err, sizeof err), WH_ERR_AGAIN);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(append_file(dir, "mysql-bin.000001", c->file.b.data + cut,
                             c->after_end - cut), 0);
    wh_buf_reset(&out);
    n = 0;
    CHECK_EQ_INT(drain(m, &out, &n, err, sizeof err), WH_ERR_AGAIN);
    CHECK_EQ_INT(n, c->updates + 1);
    int badidx = 0, lasts = 0;
    const char *lp = out.data;
    for (int i = 0; i < c->updates && i < n && lp; i++) {
        tu_line(lp, 0, line, sizeof line);
        lp = strchr(lp, '\n');
        lp = lp ? lp + 1 : NULL;
        snprintf(exp, sizeof exp, "\"txn\":{\"id\":\"%s\",\"index\":%d,", c->gtid, i);
        badidx += strstr(line, exp) == NULL;
        lasts += strstr(line, "\"last\":true") != NULL;
    }
    CHECK_EQ_INT(badidx, 0);
    CHECK_EQ_INT(lasts, 1);
    CHECK_EQ_STR(tu_field(tu_line(out.data, c->updates - 1, line, sizeof line), "txn.last", f,
                          sizeof f), "true");
    CHECK_EQ_STR(tu_field(tu_line(out.data, c->updates, line, sizeof line), "after.id", f,
                          sizeof f), "30");
    wh_buf_free(&out);
    wh_mapper_destroy(m);
    if (check_failed != before)
        (*bad)++;
}

static void test_cuts(void)
{
    static const char *names[] = { "MariaDB XID", "MariaDB COMMIT", "MySQL XID",
                                   "MySQL payload", "MariaDB DDL", "MariaDB 66 KB, 16 KiB buffer" };
    for (int kind = 0; kind < CUT__COUNT; kind++) {
        char *dir = tu_tmpdir();
        cut_case c;
        cut_build(&c, kind);
        CHECK_EQ_INT(tbw_save(&c.next, dir, "mysql-bin.000002"), 0);
        /* The reference: file 1 ends just before the victim. */
        const char *both[] = { "mysql-bin.000001", "mysql-bin.000002", NULL };
        CHECK_EQ_INT(write_file(dir, "mysql-bin.000001", c.file.b.data, c.start), 0);
        CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", both), 0);
        tu_run ref;
        tu_collect(&ref, dir, c.opts, NULL, NULL, true, 100);
        CHECK_EQ_INT(ref.rc, WH_ERR_EOF);
        CHECK_EQ_INT(ref.n, 5);
        char line[2048], f[256], exp[256];
        tu_line(ref.out.data, 2, line, sizeof line);
        snprintf(exp, sizeof exp, "\"%s/0\"", c.gtid);
        CHECK_EQ_STR(tu_field(line, "pos.logical", f, sizeof f), exp);
        CHECK(strstr(tu_field(line, "pos.physical", f, sizeof f), "mysql-bin.000002:") != NULL);
        CHECK_EQ_STR(tu_field(line, "after.id", f, sizeof f), "50");
        /* Every byte of the victim (a sample of them for the large one). */
        int bad = 0, runs = 0;
        size_t len = c.end - c.start;
        for (size_t k = 0; k < len; k++) {
            size_t cut = c.start + k;
            if (kind == CUT_MARIA_BIG && k > 80 && k + 80 < len && k % 997 != 0)
                continue;
            cut_run(&c, dir, cut, &ref, &bad);
            runs++;
            if (bad > 3)
                break;   /* enough to see what is wrong */
        }
        printf("cut transactions, %s: %d cuts, %d failed\n", names[kind], runs, bad);
        tu_free(&ref);
        cut_free(&c);
        tu_rmdir(dir);
    }
}

/* Other ways a transaction never commits: a Stop or Rotate event follows it,
 * or another transaction starts first. */
static void test_drop_reasons(void)
{
    char *dir = tu_tmpdir();
    for (int reason = 0; reason < 4; reason++) {
        tbw a, b;
        tbw_init(&a, reason != 3, true);
        size_t start, stop;
        const char *want_warn;
        char exp[512];
        if (reason < 3) {
            tbw_gtid_list(&a, NULL, 0);
            maria_txn(&a, 0, 1, 1, 2);
            start = a.b.len;
            tbw_maria_gtid(&a, 0, 2, 0x0c);
            t_map(&a, 20);
            t_insert(&a, BE_WRITE_ROWS_V1, 20, 10, 2);
            stop = a.b.len;
            if (reason == 0) {
                tbw_stop(&a);
                want_warn = "a Stop event follows it at offset";
            } else if (reason == 1) {
                tbw_rotate(&a, "mysql-bin.000002");
                want_warn = "a Rotate event follows it at offset";
            } else {
                maria_txn(&a, 0, 3, 30, 1);
                want_warn = "another transaction starts at offset";
            }
            snprintf(exp, sizeof exp, "mysql-bin.000001:%zu: transaction 0-1-2 never committed: "
                     "%s %zu", start, want_warn, stop);
        } else {   /* MySQL without GTIDs: BEGIN ... BEGIN */
            tbw_prev_gtids(&a, NULL, 0, 0);
            tbw_query(&a, "db", "BEGIN");
            t_map(&a, 70);
            t_insert(&a, BE_WRITE_ROWS_V2, 70, 1, 2);
            tbw_xid(&a, 1);
            start = a.b.len;
            tbw_query(&a, "db", "BEGIN");
            t_map(&a, 70);
            t_insert(&a, BE_WRITE_ROWS_V2, 70, 10, 2);
            stop = a.b.len;
            tbw_query(&a, "db", "BEGIN");
            t_map(&a, 70);
            t_insert(&a, BE_WRITE_ROWS_V2, 70, 30, 1);
            tbw_xid(&a, 3);
            snprintf(exp, sizeof exp, "mysql-bin.000001:%zu: transaction mysql-bin.000001:%zu "
                     "never committed: another transaction begins at offset %zu before its "
                     "commit event", start, start, stop);
        }
        tbw_init(&b, true, true);
        uint64_t l[][3] = { { 0, 1, 1 } };
        tbw_gtid_list(&b, l, 1);
        maria_txn(&b, 0, 2, 50, 2);
        CHECK_EQ_INT(tbw_save(&a, dir, "mysql-bin.000001"), 0);
        CHECK_EQ_INT(tbw_save(&b, dir, "mysql-bin.000002"), 0);
        const char *both[] = { "mysql-bin.000001", "mysql-bin.000002", NULL };
        const char *one[] = { "mysql-bin.000001", NULL };
        CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", reason < 2 ? both : one), 0);
        tu_run r;
        log_begin();
        tu_collect(&r, dir, NULL, NULL, NULL, true, 100);
        char *log = log_end();
        CHECK_EQ_INT(r.rc, WH_ERR_EOF);
        CHECK_EQ_INT(r.n, reason < 2 ? 4 : 3);
        CHECK(strstr(r.out.data, "\"id\":10") == NULL && strstr(r.out.data, "\"id\":11") == NULL);
        CHECK_EQ_INT(count_str(log, exp), 1);
        if (count_str(log, exp) != 1)
            fprintf(stderr, "  reason %d: log %s\n  want %s\n", reason, log, exp);
        free(log);
        tu_free(&r);
        /* forensics: shown, never marked last */
        tu_collect(&r, dir, "{\"uncommitted\": true}", NULL, NULL, true, 100);
        CHECK_EQ_INT(r.rc, WH_ERR_EOF);
        CHECK_EQ_INT(r.n, reason < 2 ? 6 : 5);
        CHECK(strstr(r.out.data, "\"txn\":{\"id\":\"0-1-2\",\"index\":1,\"last\":false},"
                                 "\"after\":{\"id\":11") != NULL || reason == 3);
        tu_free(&r);
        tbw_free(&a);
        tbw_free(&b);
    }

    /* Tailing: the Stop event arrives after the open transaction. */
    tbw a, b;
    tbw_init(&a, true, true);
    tbw_gtid_list(&a, NULL, 0);
    maria_txn(&a, 0, 1, 1, 2);
    tbw_maria_gtid(&a, 0, 2, 0x0c);
    t_map(&a, 20);
    t_insert(&a, BE_WRITE_ROWS_V1, 20, 10, 2);
    size_t open_end = a.b.len;
    tbw_stop(&a);
    tbw_init(&b, true, true);
    uint64_t l[][3] = { { 0, 1, 1 } };
    tbw_gtid_list(&b, l, 1);
    maria_txn(&b, 0, 2, 50, 2);
    const char *one[] = { "mysql-bin.000001", NULL };
    CHECK_EQ_INT(write_file(dir, "mysql-bin.000001", a.b.data, open_end), 0);
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", one), 0);
    json_t *o = json_pack("{s:s, s:i}", "binlog_dir", dir, "poll_ms", 20);
    wh_mapper *m = NULL;
    char err[1024];
    CHECK_EQ_INT(wh_mapper_create("mysql", o, "t", true, &m, err, sizeof err), WH_OK);
    json_decref(o);
    CHECK_EQ_INT(m->ops->seek_physical(m, NULL, true, err, sizeof err), WH_OK);
    wh_buf out = WH_BUF_INIT;
    int n = 0;
    CHECK_EQ_INT(drain(m, &out, &n, err, sizeof err), WH_ERR_AGAIN);
    CHECK_EQ_INT(n, 2);
    const wh_update *u;
    CHECK_EQ_INT(m->ops->next_batch(m, &u, 10, 50, err, sizeof err), WH_ERR_AGAIN);
    CHECK_EQ_INT(append_file(dir, "mysql-bin.000001", a.b.data + open_end, a.b.len - open_end), 0);
    log_begin();
    CHECK_EQ_INT(m->ops->next_batch(m, &u, 10, 50, err, sizeof err), WH_ERR_AGAIN);
    CHECK_EQ_INT(append_file(dir, "mysql-bin.000002", b.b.data, b.b.len), 0);
    const char *both[] = { "mysql-bin.000001", "mysql-bin.000002", NULL };
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", both), 0);
    n = m->ops->next_batch(m, &u, 10, 2000, err, sizeof err);
    char *log = log_end();
    CHECK_EQ_INT(n, 2);
    if (n == 2)
        CHECK(u[0].after.values[0].n.u == 50 && u[1].txn.last);
    CHECK_EQ_INT(count_str(log, "transaction 0-1-2 never committed: a Stop event follows it"), 1);
    free(log);
    wh_buf_free(&out);
    wh_mapper_destroy(m);
    tbw_free(&a);
    tbw_free(&b);
    tu_rmdir(dir);
}

/* A GTID dropped with its uncommitted transaction and reused by the next
 * committed one: positions name the committed one, on every path. */
static void test_gtid_reuse(void)
{
    char *dir = tu_tmpdir();
    cut_case c;
    cut_build(&c, CUT_MARIA_XID);
    size_t cut = c.ev_end[2] + 7;   /* inside the second row event */
    CHECK_EQ_INT(write_file(dir, "mysql-bin.000001", c.file.b.data, cut), 0);
    CHECK_EQ_INT(tbw_save(&c.next, dir, "mysql-bin.000002"), 0);
    const char *both[] = { "mysql-bin.000001", "mysql-bin.000002", NULL };
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", both), 0);
    char line[2048], f[256];
    for (int head = 1; head >= 0; head--) {
        /* head 0: the newer file has no Gtid_list, so the scan for a
         * position starts in the older file, at the dropped transaction */
        if (!head) {
            tbw n;
            tbw_init(&n, true, true);
            maria_txn(&n, 0, 2, 50, 2);
            maria_txn(&n, 0, 3, 60, 1);
            CHECK_EQ_INT(tbw_save(&n, dir, "mysql-bin.000002"), 0);
            tbw_free(&n);
        }
        tu_run r;
        tu_collect(&r, dir, NULL, NULL, NULL, true, 100);
        CHECK_EQ_INT(r.n, 5);
        CHECK(strstr(r.out.data, "\"id\":10") == NULL);
        static const struct { const char *pos; bool incl; int n; const char *first; } s[] = {
            { "0-1-2/0", true, 3, "50" },
            { "0-1-2/0", false, 2, "51" },
            { "0-1-2/1", true, 2, "51" },
            { "0-1-1/1", false, 3, "50" },
            { "0-1-1/0", true, 5, "1" },
        };
        for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
            tu_run q;
            tu_collect(&q, dir, NULL, NULL, s[i].pos, s[i].incl, 2);
            CHECK_EQ_INT(q.rc, WH_ERR_EOF);
            CHECK_EQ_INT(q.n, s[i].n);
            CHECK_EQ_STR(tu_field(tu_line(q.out.data, 0, line, sizeof line), "after.id", f,
                                  sizeof f), s[i].first);
            /* the same lines as the full read's last ones */
            char want[2048];
            CHECK_EQ_STR(line, tu_line(r.out.data, r.n - q.n, want, sizeof want));
            if (q.rc != WH_ERR_EOF || q.n != s[i].n)
                fprintf(stderr, "  head %d, %s: %d updates, %s\n", head, s[i].pos, q.n, q.err);
            tu_free(&q);
        }
        tu_free(&r);
    }
    /* A physical position inside the dropped transaction (which an older
     * version could hand out): it never committed, so what follows it is
     * the next committed transaction, whole. */
    char pos[128];
    snprintf(pos, sizeof pos, "mysql-bin.000001:%zu/1", c.start);
    tu_run q;
    tu_collect(&q, dir, NULL, pos, NULL, false, 10);
    CHECK_EQ_INT(q.rc, WH_ERR_EOF);
    CHECK_EQ_INT(q.n, 3);
    CHECK_EQ_STR(tu_field(tu_line(q.out.data, 0, line, sizeof line), "after.id", f, sizeof f),
                 "50");
    tu_free(&q);
    cut_free(&c);
    tu_rmdir(dir);
}

/* A 400 000-row transaction that is not committed (yet) costs no memory:
 * waited for while tailing, reported at the end without follow, skipped
 * when a later file shows it never committed. */
static void test_big_uncommitted(void)
{
    char *dir = tu_tmpdir();
    tbw w;
    tbw_init(&w, true, true);
    tbw_gtid_list(&w, NULL, 0);
    maria_txn(&w, 0, 1, 1, 1);
    size_t start = w.b.len;
    tbw_maria_gtid(&w, 0, 2, 0x0c);
    const int events = 2500, per = 160;
    for (int e = 0; e < events; e++) {
        t_map(&w, 20);
        t_insert(&w, BE_WRITE_ROWS_V1, 20, (uint32_t)(e * per), per);
    }
    size_t open_end = w.b.len;
    tbw_xid(&w, 2);
    CHECK_EQ_INT(write_file(dir, "mysql-bin.000001", w.b.data, open_end), 0);
    const char *one[] = { "mysql-bin.000001", NULL };
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", one), 0);

    /* no follow: the end of the log says what is not shown */
    long before = rss_kb();
    tu_run r;
    tu_collect(&r, dir, NULL, NULL, NULL, true, 1000);
    long grew = rss_kb() - before;
    CHECK_EQ_INT(r.rc, WH_ERR_EOF);
    CHECK_EQ_INT(r.n, 1);
    char exp[256];
    snprintf(exp, sizeof exp, "the log ends inside transaction 0-1-2 at mysql-bin.000001:%zu: "
             "not committed (yet); 400000 updates not shown", start);
    CHECK_EQ_STR(r.err, exp);
    tu_free(&r);

    /* follow: nothing until the XID is written, then all of it */
    json_t *o = json_pack("{s:s}", "binlog_dir", dir);
    wh_mapper *m = NULL;
    char err[1024];
    CHECK_EQ_INT(wh_mapper_create("mysql", o, "t", true, &m, err, sizeof err), WH_OK);
    json_decref(o);
    CHECK_EQ_INT(m->ops->seek_physical(m, NULL, true, err, sizeof err), WH_OK);
    const wh_update *u;
    CHECK_EQ_INT(m->ops->next_batch(m, &u, 1000, 0, err, sizeof err), 1);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(m->ops->next_batch(m, &u, 1000, 10, err, sizeof err), WH_ERR_AGAIN);
    long peak = rss_kb();
    CHECK_EQ_INT(append_file(dir, "mysql-bin.000001", w.b.data + open_end, w.b.len - open_end),
                 0);
    uint64_t n = 0, lasts = 0, bad_index = 0;
    for (;;) {
        int k = m->ops->next_batch(m, &u, 1000, 0, err, sizeof err);
        if (k < 0) {
            CHECK_EQ_INT(k, WH_ERR_AGAIN);
            break;
        }
        for (int i = 0; i < k; i++) {
            lasts += u[i].txn.last;
            bad_index += u[i].txn.index != n + (uint64_t)i;
        }
        n += (uint64_t)k;
        long rs = rss_kb();
        peak = rs > peak ? rs : peak;
    }
    wh_mapper_destroy(m);
    CHECK_EQ_INT(n, (uint64_t)events * per);
    CHECK_EQ_INT(lasts, 1);
    CHECK_EQ_INT(bad_index, 0);
    if (peak - before > grew)
        grew = peak - before;

    /* a later file: it never committed; skipped (the file is mapped) */
    CHECK_EQ_INT(write_file(dir, "mysql-bin.000001", w.b.data, open_end), 0);
    tbw b;
    tbw_init(&b, true, true);
    uint64_t l[][3] = { { 0, 1, 1 } };
    tbw_gtid_list(&b, l, 1);
    maria_txn(&b, 0, 2, 7, 1);
    CHECK_EQ_INT(tbw_save(&b, dir, "mysql-bin.000002"), 0);
    const char *both[] = { "mysql-bin.000001", "mysql-bin.000002", NULL };
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", both), 0);
    log_begin();
    tu_collect(&r, dir, NULL, NULL, NULL, true, 1000);
    char *log = log_end();
    CHECK_EQ_INT(r.rc, WH_ERR_EOF);
    CHECK_EQ_INT(r.n, 2);
    CHECK_EQ_INT(count_str(log, "transaction 0-1-2 never committed: the file ends inside it"), 1);
    free(log);
    tu_free(&r);
    if (rss_kb() - before > grew)
        grew = rss_kb() - before;
    /* Holding the transaction would take well over 100 MB here. */
    CHECK(grew < 24 * 1024);
    printf("uncommitted 400000-row transaction (%zu bytes): RSS grew by %ld KiB\n",
           open_end - start, grew);
    tbw_free(&b);
    tbw_free(&w);
    tu_rmdir(dir);
}

/* ---- batch memory is bounded: converted text ends a batch early ----------------- */

static void test_batch_limit(void)
{
    char *dir = tu_tmpdir();
    tbw w;
    tbw_init(&w, true, true);
    tbw_gtid_list(&w, NULL, 0);
    tbw_maria_gtid(&w, 0, 1, 0x0c);
    const uint8_t types[] = { 3, BT_BLOB };
    const uint8_t meta[] = { 4 };
    const uint8_t opt[] = { 0x03, 0x01, 0x08,                  /* latin1 TEXT */
                            0x04, 0x06, 0x02, 'i', 'd', 0x02, 't', 'x' };
    tbw_table_map(&w, 6, "db", "lat", types, 2, meta, 1, opt, sizeof opt);
    size_t len = 100000;
    wh_buf rows = WH_BUF_INIT;
    for (uint32_t r = 0; r < 40; r++) {
        tb_u8(&rows, 0);
        tb_u32(&rows, r);
        tb_u32(&rows, (uint32_t)len);
        for (size_t i = 0; i < len; i++)
            tb_u8(&rows, 0xe9);   /* é: two bytes in UTF-8 */
    }
    uint8_t bm = 3;
    tbw_rows(&w, BE_WRITE_ROWS_V1, 6, 1, 2, &bm, NULL, rows.data, rows.len);
    tbw_xid(&w, 1);
    CHECK_EQ_INT(tbw_save(&w, dir, "mysql-bin.000001"), 0);
    const char *files[] = { "mysql-bin.000001", NULL };
    CHECK_EQ_INT(tbw_index(dir, "mysql-bin.index", files), 0);
    json_t *o = json_pack("{s:s, s:i}", "binlog_dir", dir, "batch_max_mb", 1);
    wh_mapper *m = NULL;
    char err[1024];
    CHECK_EQ_INT(wh_mapper_create("mysql", o, "t", false, &m, err, sizeof err), WH_OK);
    json_decref(o);
    CHECK_EQ_INT(m->ops->seek_physical(m, NULL, true, err, sizeof err), WH_OK);
    int total = 0, most = 0, batches = 0;
    for (;;) {
        const wh_update *u;
        int n = m->ops->next_batch(m, &u, 1000, 0, err, sizeof err);
        if (n < 0) {
            CHECK_EQ_INT(n, WH_ERR_EOF);
            break;
        }
        for (int i = 0; i < n; i++)
            CHECK(u[i].after.values[1].type == WH_T_STRING &&
                  u[i].after.values[1].len == 2 * len);
        total += n;
        most = n > most ? n : most;
        batches++;
    }
    CHECK_EQ_INT(total, 40);
    CHECK(most <= 13 && batches >= 4);
    if (!(most <= 13 && batches >= 4))
        fprintf(stderr, "  most %d, batches %d\n", most, batches);
    wh_mapper_destroy(m);
    wh_buf_free(&rows);
    tbw_free(&w);
    tu_rmdir(dir);
}

int main(void)
{
    wh_log_set_level(WH_LOG_ERROR);
    test_helpers();
    test_table_map();
    test_mysql_basic();
    test_mariadb_files();
    test_gtid_run();
    test_domain_copies();
    test_corrupt();
    test_images();
    test_payload();
    test_payload_header();
    test_partial_json();
    test_tail();
    test_options();
    test_mmap();
    test_empty_image();
    test_big_txn();
    test_batch_limit();
    test_cuts();
    test_drop_reasons();
    test_gtid_reuse();
    test_big_uncommitted();
    return check_done("test_binlog_unit");
}
