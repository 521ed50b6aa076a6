/* test_boot_window.c -- the bootstrap's watermark window (publisher/pub_boot_window.h): where a chunk goes in the stream, which rows it drops, when it is read again. */
#include <string.h>

#include "tests/check.h"
#include "publisher/pub_boot_window.h"

static const char *const names[] = { "id", "name", "qty" };
static const char *const key1[] = { "id" };
static const char *const key2[] = { "name", "id" };

static wh_pos pos(const char *file, uint64_t off)
{
    wh_pos p;
    wh_position v = { .log_name = file, .offset = off };
    CHECK(wh_pos_from_view(&p, &v));
    return p;
}

/* A row (id, name, qty) in static storage of slot k. */
static wh_row row(int k, int64_t id, const char *name, int64_t qty)
{
    static wh_value vals[8][3];
    vals[k][0] = (wh_value){ .type = WH_T_INT, .n.i = id };
    vals[k][1] = (wh_value){ .type = WH_T_STRING, .str = name, .len = (uint32_t)strlen(name) };
    vals[k][2] = (wh_value){ .type = WH_T_INT, .n.i = qty };
    return (wh_row){ names, vals[k], 3 };
}

static wh_update upd(int op, const char *table, wh_row *before, wh_row *after)
{
    wh_update u = { .op = (uint8_t)op, .db = "app", .table = table };
    if (before) {
        u.has_before = true;
        u.before = *before;
    }
    if (after) {
        u.has_after = true;
        u.after = *after;
    }
    return u;
}

static void test_positions(void)
{
    CHECK(boot_pos_cmp("bin.000009", 500, "bin.000010", 4) < 0);
    CHECK(boot_pos_cmp("bin.000010", 4, "bin.000009", 500) > 0);
    CHECK(boot_pos_cmp("bin.999999", 4, "bin.1000000", 4) < 0);   /* by number, not text */
    CHECK(boot_pos_cmp("bin.000010", 100, "bin.000010", 100) == 0);
    CHECK(boot_pos_cmp(NULL, 7, NULL, 9) < 0);                       /* RocksDB sequences */
    wh_pos at = pos("bin.000010", 1000);
    wh_position u = { .log_name = "bin.000010", .offset = 999 };
    CHECK(!boot_pos_reached(&u, &at));   /* a transaction before the snapshot's position */
    u.offset = 1000;
    CHECK(boot_pos_reached(&u, &at));    /* the first one after it: the chunk goes first */
    u = (wh_position){ .log_name = "bin.000011", .offset = 4 };
    CHECK(boot_pos_reached(&u, &at));
    /* The window opened after the flow processed the transaction at 900:
     * a snapshot at 1000 holds it, one at 900 (it was logged but not yet
     * committed in the engine) does not: that chunk is read again. */
    wh_pos low = pos("bin.000010", 900);
    CHECK(boot_snapshot_covers(&low, &at));
    wh_pos early = pos("bin.000010", 900);
    CHECK(!boot_snapshot_covers(&low, &early));
    wh_pos older_file = pos("bin.000009", 5000);
    CHECK(!boot_snapshot_covers(&low, &older_file));
    wh_pos unset = { 0 };
    CHECK(boot_snapshot_covers(&unset, &at));
}

/* A low known only by its GTID (a flow resumed on another copy) against the
 * GTID state at the snapshot (BINLOG_GTID_POS of the chunk's position). */
static void test_covers_gtid(void)
{
    wh_pos low = { .set = true, .has_logical = true, .logical = "0-1-500" };
    CHECK_EQ_INT(boot_snapshot_covers_gtid(&low, "0-1-500"), 1);
    CHECK_EQ_INT(boot_snapshot_covers_gtid(&low, "0-2-501"), 1);   /* promoted copy, same domain */
    CHECK_EQ_INT(boot_snapshot_covers_gtid(&low, "0-1-499"), 0);   /* logged, not yet committed */
    CHECK_EQ_INT(boot_snapshot_covers_gtid(&low, "1-1-900"), 0);   /* its domain is absent */
    CHECK_EQ_INT(boot_snapshot_covers_gtid(&low, ""), 0);
    CHECK_EQ_INT(boot_snapshot_covers_gtid(&low, "1-1-900,0-1-700"), 1);
    CHECK_EQ_INT(boot_snapshot_covers_gtid(&low, "x"), -1);
    wh_pos multi = { .set = true, .has_logical = true, .logical = "0-1-500,3-1-7" };
    CHECK_EQ_INT(boot_snapshot_covers_gtid(&multi, "3-1-7,0-1-600"), 1);
    CHECK_EQ_INT(boot_snapshot_covers_gtid(&multi, "3-1-6,0-1-600"), 0);
    wh_pos uuid = { .set = true, .has_logical = true, .logical = "3E11FA47-71CA:23" };
    CHECK_EQ_INT(boot_snapshot_covers_gtid(&uuid, "0-1-5"), -1);
    wh_pos none = { .set = true };
    CHECK_EQ_INT(boot_snapshot_covers_gtid(&none, "0-1-5"), -1);
}

static void test_keys(void)
{
    wh_buf a = { 0 }, b = { 0 };
    wh_row r1 = row(0, 42, "x", 1), r2 = row(1, 42, "y", 2);
    CHECK(boot_key_encode(&a, &r1, key1, 1));
    CHECK(boot_key_encode(&b, &r2, key1, 1));
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);   /* same id, other columns */
    /* A signed and an unsigned 42 (the binlog and the SELECT may differ) are one key. */
    wh_value uv[3] = { { .type = WH_T_UINT, .n.u = 42 }, { .type = WH_T_NULL }, { .type = WH_T_NULL } };
    wh_row r3 = { names, uv, 3 };
    wh_buf_reset(&b);
    CHECK(boot_key_encode(&b, &r3, key1, 1));
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    /* Composite keys: ("ab", 1) differs from ("a", ...) however the bytes run on. */
    wh_buf_reset(&a);
    wh_buf_reset(&b);
    wh_row c1 = row(2, 1, "ab", 0), c2 = row(3, 1, "a", 0);
    CHECK(boot_key_encode(&a, &c1, key2, 2));
    CHECK(boot_key_encode(&b, &c2, key2, 2));
    CHECK(a.len != b.len || memcmp(a.data, b.data, a.len) != 0);
    /* A row without the key column has no key. */
    static const char *const other[] = { "nope" };
    CHECK(!boot_key_encode(&a, &c1, other, 1));
    wh_buf_free(&a);
    wh_buf_free(&b);
}

static void test_keyset(void)
{
    boot_keyset s = { 0 };
    char k[16];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(k, sizeof k, "k%d", i);
        CHECK(boot_keyset_add(&s, k, (uint32_t)n));
    }
    CHECK(boot_keyset_add(&s, "k7", 2));   /* again: no new entry */
    CHECK_EQ_INT(s.count, 5000);
    int found = 0;
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(k, sizeof k, "k%d", i);
        found += boot_keyset_has(&s, k, (uint32_t)n);
    }
    CHECK_EQ_INT(found, 5000);
    boot_keyset_clear(&s);
    CHECK(!boot_keyset_has(&s, "k1", 2));
    boot_keyset_free(&s);
}

/* The window: rows of a chunk whose key the stream carried while the chunk
 * was read are dropped; others (and other tables' keys) are not. */
static void test_window(void)
{
    boot_window w = { 0 };
    wh_pos low = pos("bin.000001", 100);
    boot_window_open(&w, &low, "app", "items", key1, 1, 1000);
    wh_row a = row(0, 1, "a", 1), b_old = row(1, 2, "b", 1), b_new = row(2, 20, "b", 2);
    wh_row c = row(3, 3, "c", 1), other = row(4, 4, "d", 1);
    wh_update ins = upd(WH_OP_INSERT, "items", NULL, &a);
    wh_update mv = upd(WH_OP_UPDATE, "items", &b_old, &b_new);    /* key 2 becomes 20 */
    wh_update del = upd(WH_OP_DELETE, "items", &c, NULL);
    wh_update elsewhere = upd(WH_OP_INSERT, "audit", NULL, &other);
    boot_window_note(&w, &ins);
    boot_window_note(&w, &mv);
    boot_window_note(&w, &del);
    boot_window_note(&w, &elsewhere);
    wh_row chunk[5] = { row(5, 1, "a0", 0), row(6, 2, "b0", 0), row(7, 3, "c0", 0),
                        row(0, 4, "d0", 0), row(1, 5, "e0", 0) };
    CHECK(boot_window_drops(&w, &chunk[0]));    /* inserted in the window */
    CHECK(boot_window_drops(&w, &chunk[1]));    /* its key was updated away */
    CHECK(boot_window_drops(&w, &chunk[2]));    /* deleted in the window */
    CHECK(!boot_window_drops(&w, &chunk[3]));   /* key 4 changed in another table only */
    CHECK(!boot_window_drops(&w, &chunk[4]));   /* untouched */
    CHECK(!w.overflow);
    /* Nothing is recorded once the window is closed. */
    boot_window_close(&w);
    boot_window_open(&w, &low, "app", "items", key1, 1, 2);
    CHECK(!boot_window_drops(&w, &chunk[0]));
    boot_window_note(&w, &ins);
    boot_window_note(&w, &mv);     /* two keys: 2 and 20: the third overflows */
    CHECK(w.overflow);
    boot_window_free(&w);
}

/* A RocksDB column family's window: no db, the key column "key" (BYTES),
 * positions are sequence numbers. */
static wh_row kv(int k, const char *key, const char *second, const char *second_name)
{
    static wh_value vals[8][2];
    static const char *nm[8][2];
    vals[k][0] = (wh_value){ .type = WH_T_BYTES, .str = key, .len = (uint32_t)strlen(key) };
    nm[k][0] = "key";
    if (!second)
        return (wh_row){ nm[k], vals[k], 1 };
    vals[k][1] = (wh_value){ .type = WH_T_BYTES, .str = second, .len = (uint32_t)strlen(second) };
    nm[k][1] = second_name;
    return (wh_row){ nm[k], vals[k], 2 };
}

static void test_window_kv(void)
{
    static const char *const kkey[] = { "key" };
    boot_window w = { 0 };
    wh_pos low = { .set = true, .offset = 100 };
    boot_window_open(&w, &low, "", "big", kkey, 1, 1000);
    wh_row put = kv(0, "k05", "v", "value"), del = kv(1, "k07", NULL, NULL);
    wh_row rng = kv(2, "k10", "k13", "end_key"), other = kv(3, "k20", "v", "value");
    wh_update u_put = { .op = WH_OP_PUT, .table = "big", .has_after = true, .after = put };
    wh_update u_del = { .op = WH_OP_KV_DELETE, .table = "big", .has_after = true, .after = del };
    wh_update u_rng = { .op = WH_OP_DELETE_RANGE, .table = "big", .has_after = true,
                        .after = rng };
    wh_update u_other = { .op = WH_OP_PUT, .table = "lat", .has_after = true, .after = other };
    boot_window_note(&w, &u_put);
    boot_window_note(&w, &u_del);
    boot_window_note(&w, &u_rng);
    boot_window_note(&w, &u_other);
    wh_row c[7] = { kv(4, "k05", "old", "value"), kv(5, "k07", "old", "value"),
                    kv(6, "k10", "old", "value"), kv(7, "k12zz", "old", "value"),
                    kv(0, "k13", "old", "value"), kv(1, "k20", "old", "value"),
                    kv(3, "k09", "old", "value") };
    CHECK(boot_window_drops(&w, &c[0]));    /* put in the window */
    CHECK(boot_window_drops(&w, &c[1]));    /* deleted in the window */
    CHECK(boot_window_drops(&w, &c[2]));    /* a range delete's begin (inclusive) */
    CHECK(boot_window_drops(&w, &c[3]));    /* inside [k10, k13) bytewise */
    CHECK(!boot_window_drops(&w, &c[4]));   /* the range's end is exclusive */
    CHECK(!boot_window_drops(&w, &c[5]));   /* changed in another column family only */
    CHECK(!boot_window_drops(&w, &c[6]));   /* untouched */
    CHECK(!w.overflow);
    /* A merge operand is not the key's state: the chunk is read again. */
    wh_update u_merge = { .op = WH_OP_MERGE, .table = "big", .has_after = true, .after = put };
    boot_window_note(&w, &u_merge);
    CHECK(w.overflow);
    boot_window_close(&w);
    /* A SQL table of the same name is another table. */
    boot_window_open(&w, &low, "", "big", kkey, 1, 1000);
    wh_update sql = u_put;
    sql.db = "app";
    boot_window_note(&w, &sql);
    CHECK(!boot_window_drops(&w, &c[0]));
    /* RocksDB positions: the chunk of a snapshot at S goes before batch S + 1. */
    wh_pos at = { .set = true, .offset = 151 };
    wh_position u150 = { .offset = 150 }, u151 = { .offset = 151 };
    CHECK(!boot_pos_reached(&u150, &at));
    CHECK(boot_pos_reached(&u151, &at));
    CHECK(boot_snapshot_covers(&low, &at));
    wh_pos late = { .set = true, .offset = 151 };
    CHECK(!boot_snapshot_covers(&late, &at));
    boot_window_free(&w);
}

int main(void)
{
    test_positions();
    test_covers_gtid();
    test_keys();
    test_keyset();
    test_window();
    test_window_kv();
    return check_done("test_boot_window");
}
