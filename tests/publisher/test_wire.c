/* test_wire.c -- unit tests of the push protocol: CRC32C, frames, MessagePack, update batches. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>

#include "core/crc32c.h"
#include "core/endian.h"
#include "core/update_json.h"
#include "protocol/wire.h"
#include "tests/check.h"

static void test_crc(void)
{
    CHECK_EQ_INT(wh_crc32c(0, "123456789", 9), 0xe3069283u);
    CHECK_EQ_INT(wh_crc32c(0, "", 0), 0);
    /* Running sums equal one pass, at every split and alignment. */
    char data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 7 + 3);
    uint32_t whole = wh_crc32c(0, data, sizeof data);
    int bad = 0;
    for (size_t cut = 0; cut <= sizeof data; cut += 13)
        if (wh_crc32c(wh_crc32c(0, data, cut), data + cut, sizeof data - cut) != whole)
            bad++;
    CHECK_EQ_INT(bad, 0);
}

static void test_frames(void)
{
    wh_buf b = WH_BUF_INIT;
    char err[256];
    CHECK_EQ_INT(wire_put_ack(&b, 42), 0);
    CHECK_EQ_INT(wire_put_heartbeat(&b, 7), 0);
    size_t first_len = 0;
    int type;
    const uint8_t *pl;
    size_t plen, used;
    const uint8_t *p = (const uint8_t *)b.data;
    /* Every strict prefix of the first frame asks for more bytes. */
    CHECK_EQ_INT(wire_frame_parse(p, b.len, WIRE_FRAME_MAX, &type, &pl, &plen, &first_len, err,
                                  sizeof err), WH_OK);
    int again = 0;
    for (size_t k = 0; k < first_len; k++)
        again += wire_frame_parse(p, k, WIRE_FRAME_MAX, &type, &pl, &plen, &used, err,
                                  sizeof err) == WH_ERR_AGAIN;
    CHECK_EQ_INT(again, (int)first_len);
    CHECK_EQ_INT(wire_frame_parse(p, b.len, WIRE_FRAME_MAX, &type, &pl, &plen, &used, err,
                                  sizeof err), WH_OK);
    CHECK_EQ_INT(type, WIRE_ACK);
    wire_msg m;
    CHECK_EQ_INT(wire_msg_decode(type, pl, plen, &m, err, sizeof err), WH_OK);
    CHECK_EQ_INT(m.seq, 42);
    CHECK_EQ_INT(wire_frame_parse(p + used, b.len - used, WIRE_FRAME_MAX, &type, &pl, &plen,
                                  &used, err, sizeof err), WH_OK);
    CHECK_EQ_INT(type, WIRE_HEARTBEAT);
    CHECK_EQ_INT(wire_msg_decode(type, pl, plen, &m, err, sizeof err), WH_OK);
    CHECK_EQ_INT(m.time_ms, 7);

    /* Any single flipped bit is caught (by the CRC or the length check). */
    int caught = 0, total = 0;
    for (size_t k = 0; k < first_len; k++)
        for (int bit = 0; bit < 8; bit++) {
            b.data[k] ^= (char)(1 << bit);
            int rc = wire_frame_parse(p, first_len, 1024, &type, &pl, &plen, &used, err,
                                      sizeof err);
            caught += rc != WH_OK;
            total++;
            b.data[k] ^= (char)(1 << bit);
        }
    CHECK_EQ_INT(caught, total);
    /* Limits. */
    CHECK_EQ_INT(wire_frame_parse(p, b.len, 3, &type, &pl, &plen, &used, err, sizeof err),
                 WH_ERR_LIMIT);
    CHECK(strstr(err, "exceeds") != NULL);
    memset(b.data, 0, 4);
    CHECK_EQ_INT(wire_frame_parse(p, b.len, 1024, &type, &pl, &plen, &used, err, sizeof err),
                 WH_ERR_CORRUPT);

    /* HELLO with a position and the other control frames. */
    wh_buf_reset(&b);
    wh_position pos = { "mysql-bin.000003", 4567, "0-1-99", 2 };
    CHECK_EQ_INT(wire_put_hello(&b, "app1", "shard-a", "pub-1", 9, &pos, 1000), 0);
    CHECK_EQ_INT(wire_frame_parse((uint8_t *)b.data, b.len, WIRE_FRAME_MAX, &type, &pl, &plen,
                                  &used, err, sizeof err), WH_OK);
    CHECK_EQ_INT(wire_msg_decode(type, pl, plen, &m, err, sizeof err), WH_OK);
    CHECK_EQ_INT(m.version, WIRE_VERSION);
    CHECK(m.app_len == 4 && memcmp(m.app, "app1", 4) == 0);
    CHECK(m.shard_len == 7 && memcmp(m.shard, "shard-a", 7) == 0);
    CHECK_EQ_INT(m.epoch, 9);
    CHECK(m.pos.present && m.pos.offset == 4567 && m.pos.index == 2);
    CHECK(m.pos.log_name_len == 16 && memcmp(m.pos.log_name, "mysql-bin.000003", 16) == 0);
    CHECK(m.pos.logical_len == 6 && memcmp(m.pos.logical, "0-1-99", 6) == 0);
    wh_buf_reset(&b);
    CHECK_EQ_INT(wire_put_hello(&b, "app1", "s", "p", 1, NULL, 500), 0);
    wire_frame_parse((uint8_t *)b.data, b.len, WIRE_FRAME_MAX, &type, &pl, &plen, &used, err,
                     sizeof err);
    CHECK_EQ_INT(wire_msg_decode(type, pl, plen, &m, err, sizeof err), WH_OK);
    CHECK(!m.pos.present);
    CHECK_EQ_INT(m.heartbeat_ms, 500);
    wh_buf_reset(&b);
    CHECK_EQ_INT(wire_put_shard_notice(&b, "s9", false), 0);
    wire_frame_parse((uint8_t *)b.data, b.len, WIRE_FRAME_MAX, &type, &pl, &plen, &used, err,
                     sizeof err);
    CHECK_EQ_INT(wire_msg_decode(type, pl, plen, &m, err, sizeof err), WH_OK);
    CHECK(m.shard_len == 2 && !m.held);
    wh_buf_reset(&b);
    CHECK_EQ_INT(wire_put_error(&b, WH_ERR_PROTOCOL, "no such app"), 0);
    wire_frame_parse((uint8_t *)b.data, b.len, WIRE_FRAME_MAX, &type, &pl, &plen, &used, err,
                     sizeof err);
    CHECK_EQ_INT(wire_msg_decode(type, pl, plen, &m, err, sizeof err), WH_OK);
    CHECK_EQ_INT(m.code, WH_ERR_PROTOCOL);
    CHECK(m.message_len == 11);
    /* A HELLO without its app is refused. */
    uint8_t bad_hello[] = { 0x81, 0x01, 0x01 };
    CHECK_EQ_INT(wire_msg_decode(WIRE_HELLO, bad_hello, sizeof bad_hello, &m, err, sizeof err),
                 WH_ERR_PROTOCOL);
    wh_buf_free(&b);
}

/* Integers at every width boundary survive our writer and reader, and
 * msgpack-c reads what we write as the same numbers. */
static void test_msgpack_ints(void)
{
    static const int64_t ints[] = { 0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295LL,
                                    4294967296LL, INT64_MAX, -1, -32, -33, -128, -129,
                                    -32768, -32769, INT32_MIN, (int64_t)INT32_MIN - 1,
                                    INT64_MIN };
    wh_buf b = WH_BUF_INIT;
    int wrong = 0, ref_wrong = 0;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        wh_buf_reset(&b);
        mp_put_int(&b, ints[i]);
        mp_reader r = { (uint8_t *)b.data, (uint8_t *)b.data + b.len };
        int64_t got;
        if (!mp_get_int(&r, &got) || got != ints[i] || r.p != r.end)
            wrong++;
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        if (msgpack_unpack_next(&u, b.data, b.len, &off) != MSGPACK_UNPACK_SUCCESS ||
            off != b.len)
            ref_wrong++;
        else if (u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            ref_wrong += (int64_t)u.data.via.u64 != ints[i];
        else
            ref_wrong += u.data.via.i64 != ints[i];
        msgpack_unpacked_destroy(&u);
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(ref_wrong, 0);
    wh_buf_reset(&b);
    mp_put_uint(&b, UINT64_MAX);
    mp_reader r = { (uint8_t *)b.data, (uint8_t *)b.data + b.len };
    int64_t i64;
    uint64_t u64;
    CHECK(!mp_get_int(&r, &i64));     /* does not fit */
    CHECK(mp_get_uint(&r, &u64) && u64 == UINT64_MAX);
    wh_buf_free(&b);
}

static const char *const cols[] = { "id", "name", "price", "raw", "born", "at", "t", "f",
                                    "d", "u", "doc", "e", "y", "gone", "nul", "big" };
#define NCOLS (sizeof cols / sizeof cols[0])

static void fill_values(wh_value *v, int seed)
{
    memset(v, 0, NCOLS * sizeof *v);
    v[0].type = WH_T_INT; v[0].n.i = -1000 * seed - 7;
    v[1].type = WH_T_STRING; v[1].str = "h\xc3\xa9llo \"q\"\n"; v[1].len = 11;
    v[2].type = WH_T_DECIMAL; v[2].str = "-12.340"; v[2].len = 7; v[2].scale = 3;
    v[3].type = WH_T_BYTES; v[3].str = "\x00\x01\xff"; v[3].len = 3;
    v[4].type = WH_T_DATE; v[4].n.t.year = 2024; v[4].n.t.month = 2; v[4].n.t.day = 29;
    v[5].type = WH_T_TIMESTAMP; v[5].scale = 3;
    v[5].n.t = (wh_temporal){ 2024, 1, 2, 3, 4, 5, 120000, false, 1704164645 };
    v[6].type = WH_T_TIME; v[6].n.t.hour = 838; v[6].n.t.minute = 59; v[6].n.t.second = 59;
    v[6].n.t.negative = true;
    v[7].type = WH_T_FLOAT; v[7].flags = WH_VF_FLOAT32; v[7].n.d = (double)0.1f;
    v[8].type = WH_T_FLOAT; v[8].n.d = 1e-300 * seed;
    v[9].type = WH_T_UINT; v[9].flags = WH_VF_BIT; v[9].n.u = 5;
    v[10].type = WH_T_JSON; v[10].str = "{\"a\":[1,2]}"; v[10].len = 11;
    v[11].type = WH_T_ENUM; v[11].n.u = 3;          /* unknown member name */
    v[12].type = WH_T_YEAR; v[12].n.u = 2155;
    v[13].type = WH_T_ABSENT;
    v[14].type = WH_T_NULL;
    v[15].type = WH_T_UINT; v[15].n.u = UINT64_MAX;
}

/* Encodes updates, decodes them, and compares their JSON forms. */
static void test_batches(void)
{
    wh_value before[NCOLS], after[NCOLS];
    fill_values(before, 1);
    fill_values(after, 2);
    after[5].type = WH_T_DATETIME;
    after[5].n.t.epoch_sec = 0;
    wh_update ups[3];
    memset(ups, 0, sizeof ups);
    ups[0] = (wh_update){ .shard = "db1", .op = WH_OP_UPDATE,
                          .pos = { "mysql-bin.000001", 1234, "0-1-5", 0 }, .ts = 1700000000,
                          .txn = { "0-1-5", 0, false }, .db = "shop", .table = "items",
                          .schema_id = 77, .has_before = true, .has_after = true,
                          .before = { cols, before, NCOLS }, .after = { cols, after, NCOLS } };
    ups[1] = (wh_update){ .shard = "db1", .op = WH_OP_DDL,
                          .pos = { "mysql-bin.000001", 1234, "0-1-5", 1 }, .ts = 1700000001,
                          .txn = { "0-1-5", 1, true }, .db = "shop",
                          .statement = "ALTER TABLE items ADD c INT" };
    ups[2] = (wh_update){ .shard = "db1", .op = WH_OP_PUT, .flags = WH_UF_RAW_VALUE,
                          .pos = { NULL, 99, NULL, 3 }, .table = "default",
                          .txn = { NULL, 3, true }, .has_after = true,
                          .after = { cols, after, 2 } };
    ups[2].txn.index = 3;

    wire_enc e;
    wire_enc_init(&e);
    wh_buf b = WH_BUF_INIT;
    for (int rep = 0; rep < 2; rep++) {   /* second round reuses the encoder */
        wh_buf_reset(&b);
        wire_enc_begin(&e, &b, "db1");
        for (int i = 0; i < 3; i++)
            CHECK_EQ_INT(wire_enc_add(&e, &ups[i]), 0);
        CHECK_EQ_INT(wire_enc_end(&e), 0);
        CHECK_EQ_INT(e.ntables, 2);       /* full and 2-column tables */
    }
    int type;
    const uint8_t *pl;
    size_t plen, used;
    char err[256];
    CHECK_EQ_INT(wire_frame_parse((uint8_t *)b.data, b.len, WIRE_FRAME_MAX, &type, &pl, &plen,
                                  &used, err, sizeof err), WH_OK);
    CHECK_EQ_INT(type, WIRE_UPDATES);
    CHECK_EQ_INT(used, b.len);

    /* The payload is standard MessagePack. */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    CHECK(msgpack_unpack_next(&u, (const char *)pl, plen, &off) == MSGPACK_UNPACK_SUCCESS);
    CHECK_EQ_INT(off, plen);
    CHECK(u.data.type == MSGPACK_OBJECT_MAP && u.data.via.map.size == 3);
    msgpack_unpacked_destroy(&u);

    wh_arena arena = WH_ARENA_INIT;
    wire_batch batch;
    int rc = wire_batch_decode(pl, plen, &arena, &batch, err, sizeof err);
    if (rc)
        fprintf(stderr, "decode: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(batch.count, 3);
    wh_buf want = WH_BUF_INIT, got = WH_BUF_INIT;
    for (uint32_t i = 0; i < batch.count && i < 3; i++) {
        wh_buf_reset(&want);
        wh_buf_reset(&got);
        wh_update_to_json(&ups[i], &want);
        wh_update_to_json(&batch.updates[i], &got);
        CHECK_EQ_STR(got.data, want.data);
        CHECK_EQ_INT(batch.updates[i].schema_id, ups[i].schema_id);
        CHECK_EQ_INT(batch.updates[i].txn.index, ups[i].pos.index);
    }
    if (batch.count == 3) {
        const wh_value *v = batch.updates[0].after.values;
        CHECK_EQ_INT(v[9].flags & WH_VF_BIT, WH_VF_BIT);
        CHECK_EQ_INT(v[5].type, WH_T_DATETIME);
        CHECK_EQ_INT(batch.updates[0].before.values[5].n.t.epoch_sec, 1704164645);
        CHECK_EQ_INT(batch.updates[0].before.values[5].n.t.hour, 3);
        CHECK_EQ_INT(v[13].type, WH_T_ABSENT);
        CHECK_EQ_STR(batch.updates[0].after.names[15], "big");
    }

    /* Every truncation of the payload is an error, never a crash or a success. */
    int bad = 0;
    for (size_t k = 0; k < plen; k++) {
        wh_arena_reset(&arena);
        bad += wire_batch_decode(pl, k, &arena, &batch, err, sizeof err) != WH_OK;
    }
    CHECK_EQ_INT(bad, (int)plen);
    wh_buf_free(&want);
    wh_buf_free(&got);
    wh_arena_free(&arena);
    wh_buf_free(&b);
    wire_enc_free(&e);
}

/* Name arrays equal by content share one name table, also once an alias
 * was remembered, and an array that differs (same count) gets its own;
 * decoded strings that repeat share one copy, and those that differ do not. */
static void test_shared_names_and_strings(void)
{
    static const char *const a[] = { "id", "k" }, *const b[] = { "id", "k" },
                             *const c[] = { "id", "v" };
    const char *const *arrays[] = { a, b, b, c, b, a };
    const char *dbs[] = { "shop", "shop", "shop", "crm", "crm", "shop" };
    const char *gtids[] = { "0-1-5", "0-1-5", "0-1-6", "0-1-6", "0-1-7", "0-1-7" };
    wh_value vals[2] = { { .type = WH_T_INT, .n.i = 1 }, { .type = WH_T_STRING, .str = "x",
                                                           .len = 1 } };
    wh_update ups[6];
    wire_enc e;
    wire_enc_init(&e);
    wh_buf buf = WH_BUF_INIT;
    wire_enc_begin(&e, &buf, "db1");
    for (int i = 0; i < 6; i++) {
        ups[i] = (wh_update){ .shard = "db1", .op = WH_OP_INSERT,
                              .pos = { "mysql-bin.000001", 100 + i, gtids[i], 0 },
                              .txn = { gtids[i], 0, true }, .db = dbs[i], .table = "t",
                              .has_after = true, .after = { arrays[i], vals, 2 } };
        CHECK_EQ_INT(wire_enc_add(&e, &ups[i]), 0);
    }
    CHECK_EQ_INT(e.ntables, 2);   /* {id, k} (a and b) and {id, v} (c) */
    CHECK_EQ_INT(wire_enc_end(&e), 0);
    int type;
    const uint8_t *pl;
    size_t plen, used;
    char err[256];
    CHECK_EQ_INT(wire_frame_parse((uint8_t *)buf.data, buf.len, WIRE_FRAME_MAX, &type, &pl,
                                  &plen, &used, err, sizeof err), WH_OK);
    wh_arena arena = WH_ARENA_INIT;
    wire_batch batch;
    CHECK_EQ_INT(wire_batch_decode(pl, plen, &arena, &batch, err, sizeof err), WH_OK);
    CHECK_EQ_INT(batch.count, 6);
    for (uint32_t i = 0; i < batch.count && i < 6; i++) {
        const wh_update *u = &batch.updates[i];
        CHECK_EQ_STR(u->after.names[1], arrays[i][1]);
        CHECK_EQ_STR(u->db, dbs[i]);
        CHECK_EQ_STR(u->pos.logical, gtids[i]);
        CHECK_EQ_STR(u->txn.id, gtids[i]);
        CHECK_EQ_STR(u->pos.log_name, "mysql-bin.000001");
        if (i > 0) {
            const wh_update *p = &batch.updates[i - 1];
            CHECK((u->db == p->db) == (strcmp(dbs[i], dbs[i - 1]) == 0));
            CHECK((u->txn.id == p->txn.id) == (strcmp(gtids[i], gtids[i - 1]) == 0));
            CHECK(u->pos.log_name == p->pos.log_name);
        }
    }
    wh_arena_free(&arena);
    wh_buf_free(&buf);
    wire_enc_free(&e);
}

/* Timestamps far from the epoch take the 96-bit form and decode back. */
static void test_timestamps(void)
{
    static const int64_t secs[] = { 0, 1, 4294967295LL, 4294967296LL, 17179869183LL,
                                    17179869184LL, -1, -62167219200LL, 253402300799LL };
    int wrong = 0;
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        wh_value col = { .type = WH_T_TIMESTAMP, .scale = 6 };
        col.n.t.epoch_sec = secs[i];
        col.n.t.usec = i % 2 ? 999999 : 0;
        wh_update up = { .shard = "s", .op = WH_OP_INSERT, .pos = { "f", 1, NULL, 0 },
                         .has_after = true, .after = { cols, &col, 1 } };
        wire_enc e;
        wire_enc_init(&e);
        wh_buf b = WH_BUF_INIT;
        wire_enc_begin(&e, &b, "s");
        wire_enc_add(&e, &up);
        wire_enc_end(&e);
        wh_arena a = WH_ARENA_INIT;
        wire_batch batch;
        char err[256];
        if (wire_batch_decode((uint8_t *)b.data + WIRE_HEADER_LEN,
                              b.len - WIRE_HEADER_LEN - WIRE_TRAILER_LEN, &a, &batch, err,
                              sizeof err) != WH_OK) {
            wrong++;
        } else {
            const wh_temporal *t = &batch.updates[0].after.values[0].n.t;
            time_t tt = (time_t)secs[i];
            struct tm tm;
            gmtime_r(&tt, &tm);
            if (t->epoch_sec != secs[i] || t->usec != col.n.t.usec ||
                t->year != tm.tm_year + 1900 || t->month != tm.tm_mon + 1 ||
                t->day != tm.tm_mday || t->hour != tm.tm_hour || t->minute != tm.tm_min ||
                t->second != tm.tm_sec) {
                fprintf(stderr, "timestamp %lld decoded as %u-%u-%u %u:%u:%u\n",
                        (long long)secs[i], t->year, t->month, t->day, t->hour, t->minute,
                        t->second);
                wrong++;
            }
        }
        wh_arena_free(&a);
        wh_buf_free(&b);
        wire_enc_free(&e);
    }
    CHECK_EQ_INT(wrong, 0);
}

/* Writes the fuzz target's seed corpus (tests/publisher/fuzz_corpus). */
static int write_corpus(const char *dir)
{
    wh_value vals[NCOLS];
    fill_values(vals, 3);
    wh_update up = { .shard = "db1", .op = WH_OP_INSERT,
                     .pos = { "mysql-bin.000001", 4, "0-1-1", 0 }, .ts = 1,
                     .txn = { "0-1-1", 0, true }, .db = "d", .table = "t",
                     .has_after = true, .after = { cols, vals, NCOLS } };
    wh_position pos = { "mysql-bin.000001", 4, "0-1-1", 0 };
    wh_buf b = WH_BUF_INIT;
    wire_enc e;
    wire_enc_init(&e);
    for (int k = 0; k < 9; k++) {
        wh_buf_reset(&b);
        switch (k) {
        case 8:   /* one update in UPDATES_PART frames, then a datamarker */
            wire_enc_limit(&e, 96, true);
            wire_enc_begin(&e, &b, "db1");
            wire_enc_add(&e, &up);
            wire_enc_end(&e);
            wire_put_datamarker(&b, 7, &pos);
            break;
        case 0: wire_put_hello(&b, "app", "db1", "pub", 3, &pos, 1000); break;
        case 1: wire_put_datamarker(&b, 5, &pos); break;
        case 2: wire_put_ack(&b, 5); break;
        case 3: wire_put_heartbeat(&b, 123); break;
        case 4: wire_put_error(&b, -17, "bad"); break;
        case 5: wire_put_shard_notice(&b, "db1", false); break;
        default:
            wire_enc_begin(&e, &b, "db1");
            wire_enc_add(&e, &up);
            if (k == 7) {
                up.has_before = true;
                up.before = up.after;
                up.op = WH_OP_UPDATE;
                wire_enc_add(&e, &up);
            }
            wire_enc_end(&e);
            if (k == 7)
                wire_put_datamarker(&b, 6, &pos);
            break;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/seed-%d", dir, k);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0)
            return 1;
        /* The same payload in the fuzz target's direct form: 0x80|type, payload. */
        snprintf(path, sizeof path, "%s/payload-%d", dir, k);
        f = fopen(path, "wb");
        uint8_t tag = (uint8_t)(0x80 | (uint8_t)b.data[4]);
        size_t plen = b.len - WIRE_HEADER_LEN - WIRE_TRAILER_LEN;
        if (k >= 7)   /* seeds 7 and 8 hold several frames; use the first */
            plen = (size_t)wh_be32((const uint8_t *)b.data) - 1;
        if (!f || fwrite(&tag, 1, 1, f) != 1 ||
            fwrite(b.data + WIRE_HEADER_LEN, 1, plen, f) != plen || fclose(f) != 0)
            return 1;
    }
    wire_enc_free(&e);
    wh_buf_free(&b);
    return 0;
}

/* A position's logical text with a MariaDB GTID state ("own,other domains' last")
 * goes on the wire as the update's own GTID only; a plain GTID as it is. */
static void test_pos_state(void)
{
    wh_buf b = WH_BUF_INIT;
    wh_position p = { "mysql-bin.000002", 4567, "1-1-57,0-1-100,2-3-9", 2 };
    wh_position q = { "mysql-bin.000002", 4600, "0-1-101", 0 };
    wire_put_pos(&b, &p);
    wire_put_pos(&b, &q);
    wire_put_pos(&b, NULL);
    mp_reader r = { (const uint8_t *)b.data, (const uint8_t *)b.data + b.len };
    wire_pos w;
    CHECK(wire_get_pos(&r, &w) && w.present && w.index == 2 && w.offset == 4567);
    CHECK(w.logical_len == 6 && memcmp(w.logical, "1-1-57", 6) == 0);
    CHECK(wire_get_pos(&r, &w) && w.logical_len == 7 && memcmp(w.logical, "0-1-101", 7) == 0);
    CHECK(wire_get_pos(&r, &w) && !w.present);
    wh_buf_free(&b);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    test_crc();
    test_frames();
    test_msgpack_ints();
    test_batches();
    test_shared_names_and_strings();
    test_timestamps();
    test_pos_state();
    return check_done("test_wire");
}
