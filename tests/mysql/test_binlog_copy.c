/* test_binlog_copy.c -- positions across copies of a shard: the seek rule (wh_mapper_localize, wh_mapper_seek), the mysql mapper's copy identity, has_pos and a logical seek on a copy that has not received the position yet (WH_ERR_NOT_YET). */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "binlog_writer.h"
#include "core/log.h"
#include "mappers/mapper.h"
#include "test_util.h"

/* ---- the seek rule ------------------------------------------------------------------------ */

static wh_pos both(void)
{
    wh_pos p;
    char err[256];
    CHECK_EQ_INT(wh_pos_parse(&p, "primary-bin.000011:4242/3", "0-1-57/3", err, sizeof err),
                 WH_OK);
    return p;
}

static void test_localize(void)
{
    char err[512];
    wh_pos in = both(), out, phys;
    CHECK_EQ_INT(wh_pos_parse_physical(&phys, "primary-bin.000011:4242/3", 25, err, sizeof err),
                 WH_OK);
    /* our own position: all of it (the physical part is then sought) */
    CHECK_EQ_INT(wh_mapper_localize(&in, "copy-a", "copy-a", &out, err, sizeof err), WH_OK);
    CHECK(wh_pos_equal(&in, &out));
    /* another copy's: its logical part alone, index kept */
    CHECK_EQ_INT(wh_mapper_localize(&in, "copy-a", "copy-b", &out, err, sizeof err), WH_OK);
    CHECK(out.set && !out.has_log_name && out.has_logical && out.index == 3 && out.offset == 0);
    CHECK_EQ_STR(out.logical, "0-1-57");
    /* a node written before copies were recorded: taken as another copy's */
    CHECK_EQ_INT(wh_mapper_localize(&in, "", "copy-b", &out, err, sizeof err), WH_OK);
    CHECK(!out.has_log_name && out.has_logical);
    CHECK_EQ_INT(wh_mapper_localize(&in, NULL, "copy-b", &out, err, sizeof err), WH_OK);
    CHECK(!out.has_log_name && out.has_logical);
    /* ... unless it has nothing but a physical part (an operator's reset) */
    CHECK_EQ_INT(wh_mapper_localize(&phys, "", "copy-b", &out, err, sizeof err), WH_OK);
    CHECK(wh_pos_equal(&phys, &out));
    /* another copy's physical-only position cannot be mapped: refused, never sought */
    CHECK_EQ_INT(wh_mapper_localize(&phys, "copy-a", "copy-b", &out, err, sizeof err),
                 WH_ERR_INVALID);
    CHECK(!out.set);
    CHECK(strstr(err, "primary-bin.000011:4242/3") && strstr(err, "copy-a") &&
          strstr(err, "copy-b"));
    /* a mapper without identity takes every position as its own */
    CHECK_EQ_INT(wh_mapper_localize(&phys, "copy-a", "", &out, err, sizeof err), WH_OK);
    CHECK(wh_pos_equal(&phys, &out));
    /* no position stays no position */
    wh_pos none;
    memset(&none, 0, sizeof none);
    CHECK_EQ_INT(wh_mapper_localize(&none, "copy-a", "copy-b", &out, err, sizeof err), WH_OK);
    CHECK(!out.set);
}

/* A mapper that records which seek it was asked for. */
static int seeks_phys, seeks_logical, seeks_oldest;
static int fake_phys(wh_mapper *m, const wh_pos *p, bool inc, char *e, size_t n)
{
    (void)m, (void)inc, (void)e, (void)n;
    if (p)
        seeks_phys++;
    else
        seeks_oldest++;
    return WH_OK;
}
static int fake_logical(wh_mapper *m, const wh_pos *p, bool inc, char *e, size_t n)
{
    (void)m, (void)p, (void)inc, (void)e, (void)n;
    seeks_logical++;
    return WH_OK;
}

static void test_seek_dispatch(void)
{
    static const wh_mapper_ops ops = { .name = "fake", .seek_physical = fake_phys,
                                       .seek_logical = fake_logical };
    wh_mapper m = { .ops = &ops };
    char err[256];
    wh_pos p = both(), local;
    CHECK_EQ_INT(wh_mapper_seek(&m, &p, false, err, sizeof err), WH_OK);
    CHECK(seeks_phys == 1 && seeks_logical == 0);
    CHECK_EQ_INT(wh_mapper_localize(&p, "a", "b", &local, err, sizeof err), WH_OK);
    CHECK_EQ_INT(wh_mapper_seek(&m, &local, false, err, sizeof err), WH_OK);
    CHECK(seeks_phys == 1 && seeks_logical == 1);
    CHECK_EQ_INT(wh_mapper_seek(&m, NULL, false, err, sizeof err), WH_OK);
    CHECK(seeks_oldest == 1);
    /* no identify / has_pos: "" and "cannot tell" */
    char id[WH_COPY_ID_MAX] = "x";
    CHECK_EQ_INT(wh_mapper_identify(&m, id, sizeof id, err, sizeof err), WH_OK);
    CHECK_EQ_STR(id, "");
    CHECK_EQ_INT(wh_mapper_has_pos(&m, &p, err, sizeof err), WH_OK);
}

/* ---- the mysql mapper on a replica's binlog ------------------------------------------------ */

static const uint8_t T_TYPES[] = { 3, 15 };
static const uint8_t T_META[] = { 0xa0, 0x00 };
static const uint8_t T_OPT[] = {
    0x01, 0x01, 0x80, 0x02, 0x03, 0xfc, 0xff, 0x00,
    0x04, 0x08, 0x02, 'i', 'd', 0x04, 'n', 'a', 'm', 'e',
};

/* A MariaDB transaction of rows ids first.. inserting into db.t. */
static void txn(tbw *w, uint32_t domain, uint64_t seq, uint32_t first, int n)
{
    tbw_maria_gtid(w, domain, seq, 0x0c);
    tbw_table_map(w, 20, "db", "t", T_TYPES, 2, T_META, sizeof T_META, T_OPT, sizeof T_OPT);
    uint8_t rows[1024], bm = 0x03;
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        uint32_t id = first + (uint32_t)i;
        rows[len++] = 0;
        rows[len++] = id & 0xff;
        rows[len++] = (id >> 8) & 0xff;
        rows[len++] = 0;
        rows[len++] = 0;
        rows[len++] = 2;
        rows[len++] = 'n';
        rows[len++] = (uint8_t)('0' + id % 10);
    }
    tbw_rows(w, BE_WRITE_ROWS_V1, 20, 1, 2, &bm, NULL, rows, len);
    tbw_xid(w, seq);
}

/* Makes the file's format description event carry server id sid, as a
 * server's own does (its checksum recomputed); the replicated events that
 * follow keep their origin's server id (1). */
static void fde_server_id(tbw *w, uint32_t sid)
{
    uint8_t *ev = (uint8_t *)w->b.data + BINLOG_MAGIC_LEN;
    uint32_t len = (uint32_t)ev[9] | (uint32_t)ev[10] << 8 | (uint32_t)ev[11] << 16 |
                   (uint32_t)ev[12] << 24;
    for (int i = 0; i < 4; i++)
        ev[5 + i] = (uint8_t)(sid >> (8 * i));
    uint32_t crc = binlog_crc32(0, ev, len - 4);
    for (int i = 0; i < 4; i++)
        ev[len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

static wh_mapper *open_mapper(const char *dir)
{
    json_t *o = json_object();
    json_object_set_new(o, "binlog_dir", json_string(dir));
    wh_mapper *m = NULL;
    char err[512];
    CHECK_EQ_INT(wh_mapper_create("mysql", o, "s", false, &m, err, sizeof err), WH_OK);
    json_decref(o);
    return m;
}

static wh_pos logical(const char *text)
{
    wh_pos p;
    char err[256];
    CHECK_EQ_INT(wh_pos_parse_logical(&p, text, strlen(text), err, sizeof err), WH_OK);
    return p;
}

/* The id of the first update after a seek, or -1 (none, or a failure). */
static int first_id(wh_mapper *m)
{
    const wh_update *u;
    char err[512];
    int n = m->ops->next_batch(m, &u, 1, 0, err, sizeof err);
    if (n < 1 || !u[0].has_after || u[0].after.count < 1)
        return -1;
    return (int)u[0].after.values[0].n.u;
}

static void test_replica(void)
{
    char *dir = tu_tmpdir(), err[1024];
    /* replica file 1: 0-1-1 (ids 1,2), 0-1-2 (3..5); file 2 starts after 0-1-2 */
    tbw a, b;
    tbw_init(&a, true, true);
    fde_server_id(&a, 7);
    tbw_gtid_list(&a, NULL, 0);
    txn(&a, 0, 1, 1, 2);
    txn(&a, 0, 2, 3, 3);
    tbw_rotate(&a, "rep-bin.000002");
    uint64_t l2[][3] = { { 0, 1, 2 } };
    tbw_init(&b, true, true);
    fde_server_id(&b, 7);
    tbw_gtid_list(&b, l2, 1);
    txn(&b, 0, 3, 6, 2);
    CHECK_EQ_INT(tbw_save(&a, dir, "rep-bin.000001"), 0);
    CHECK_EQ_INT(tbw_save(&b, dir, "rep-bin.000002"), 0);
    const char *files[] = { "rep-bin.000001", "rep-bin.000002", NULL };
    CHECK_EQ_INT(tbw_index(dir, "rep-bin.index", files), 0);

    wh_mapper *m = open_mapper(dir);
    /* identity: server id of the newest file, this host, the real directory, the base name */
    char id[WH_COPY_ID_MAX], real[PATH_MAX], host[256], want[PATH_MAX + 400];
    CHECK_EQ_INT(wh_mapper_identify(m, id, sizeof id, err, sizeof err), WH_OK);
    CHECK(realpath(dir, real) != NULL);
    gethostname(host, sizeof host);
    snprintf(want, sizeof want, "mysql server_id=7 host=%s binlog=%s/rep-bin", host, real);
    CHECK_EQ_STR(id, want);
    char id2[WH_COPY_ID_MAX];
    wh_mapper *m2 = open_mapper(dir);
    CHECK_EQ_INT(wh_mapper_identify(m2, id2, sizeof id2, err, sizeof err), WH_OK);
    CHECK_EQ_STR(id2, id);   /* stable across restarts */
    wh_mapper_destroy(m2);

    /* has_pos: there, there (mid-file, mid-transaction), not yet */
    wh_pos p = logical("0-1-2/1");
    CHECK_EQ_INT(wh_mapper_has_pos(m, &p, err, sizeof err), WH_OK);
    p = logical("0-1-3/0");
    CHECK_EQ_INT(wh_mapper_has_pos(m, &p, err, sizeof err), WH_OK);
    p = logical("0-1-5/1");
    CHECK_EQ_INT(wh_mapper_has_pos(m, &p, err, sizeof err), WH_ERR_NOT_YET);
    CHECK(strstr(err, "GTID 0-1-5 has not arrived") && strstr(err, "0-1-3"));
    p = logical("1-1-1/0");   /* a domain the log has never seen */
    CHECK_EQ_INT(wh_mapper_has_pos(m, &p, err, sizeof err), WH_ERR_NOT_YET);
    p = logical("0-1-3,1-1-1/0");   /* multi-domain: every domain must be there */
    CHECK_EQ_INT(wh_mapper_has_pos(m, &p, err, sizeof err), WH_ERR_NOT_YET);
    CHECK(strstr(err, "1-1-1") != NULL);
    /* a logical seek there: never a later start */
    p = logical("0-1-5/1");
    CHECK_EQ_INT(m->ops->seek_logical(m, &p, false, err, sizeof err), WH_ERR_NOT_YET);

    /* the replica catches up: 0-1-4 (ids 8,9), 0-1-5 (10,11,12) arrive in file 2 */
    txn(&b, 0, 4, 8, 2);
    txn(&b, 0, 5, 10, 3);
    CHECK_EQ_INT(tbw_save(&b, dir, "rep-bin.000002"), 0);
    CHECK_EQ_INT(wh_mapper_has_pos(m, &p, err, sizeof err), WH_OK);
    /* mid-transaction: after update 1 of 0-1-5 comes its update 2 (id 12) */
    CHECK_EQ_INT(m->ops->seek_logical(m, &p, false, err, sizeof err), WH_OK);
    CHECK_EQ_INT(first_id(m), 12);
    /* after the last update of 0-1-2 (a filtered-out tail ends there) comes 0-1-3's first */
    p = logical("0-1-2/2");
    CHECK_EQ_INT(m->ops->seek_logical(m, &p, false, err, sizeof err), WH_OK);
    CHECK_EQ_INT(first_id(m), 6);
    /* inclusive */
    p = logical("0-1-2/1");
    CHECK_EQ_INT(m->ops->seek_logical(m, &p, true, err, sizeof err), WH_OK);
    CHECK_EQ_INT(first_id(m), 4);

    /* the same domain and sequence under another server id is another transaction
     * (diverged histories): refused, never taken for the position */
    p = logical("0-9-4/0");
    CHECK_EQ_INT(m->ops->seek_logical(m, &p, false, err, sizeof err), WH_OK);
    {
        const wh_update *u;
        int n = m->ops->next_batch(m, &u, 10, 0, err, sizeof err);
        CHECK_EQ_INT(n, WH_ERR_NOT_FOUND);
        CHECK(strstr(err, "GTID 0-9-4 is not in the binlog") && strstr(err, "0-1-4") &&
              strstr(err, "diverged"));
    }

    /* purged: file 1 gone, a position inside it is "no longer", not "not yet" */
    const char *files2[] = { "rep-bin.000002", NULL };
    CHECK_EQ_INT(tbw_index(dir, "rep-bin.index", files2), 0);
    p = logical("0-1-1/0");
    CHECK_EQ_INT(wh_mapper_has_pos(m, &p, err, sizeof err), WH_ERR_PURGED);
    CHECK_EQ_INT(m->ops->seek_logical(m, &p, false, err, sizeof err), WH_ERR_PURGED);
    /* a position without a logical part cannot be asked about */
    wh_pos ph;
    CHECK_EQ_INT(wh_pos_parse_physical(&ph, "rep-bin.000002:4/0", 18, err, sizeof err), WH_OK);
    CHECK_EQ_INT(wh_mapper_has_pos(m, &ph, err, sizeof err), WH_ERR_INVALID);

    /* another directory holding the same files is another copy */
    char *dir2 = tu_tmpdir();
    CHECK_EQ_INT(tbw_save(&b, dir2, "rep-bin.000002"), 0);
    CHECK_EQ_INT(tbw_index(dir2, "rep-bin.index", files2), 0);
    wh_mapper *m3 = open_mapper(dir2);
    CHECK_EQ_INT(wh_mapper_identify(m3, id2, sizeof id2, err, sizeof err), WH_OK);
    CHECK(strcmp(id2, id) != 0);
    wh_mapper_destroy(m3);

    wh_mapper_destroy(m);
    tbw_free(&a);
    tbw_free(&b);
    tu_rmdir(dir);
    tu_rmdir(dir2);
}

int main(void)
{
    wh_log_set_level(WH_LOG_ERROR);
    test_localize();
    test_seek_dispatch();
    test_replica();
    return check_done("test_binlog_copy");
}
