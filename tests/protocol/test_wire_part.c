/* test_wire_part.c -- unit tests of UPDATES_PART (protocol/wire_part.c) and the frame limit of the UPDATES encoder: every split point, hostile parts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/wire.h"
#include "tests/check.h"

static const char *const cols[] = { "id", "blob" };

/* An insert of (id, a blob of n bytes drawn from seed) at binlog offset off. */
static void make_update(wh_update *u, wh_value v[2], char *blob, size_t n, uint64_t off,
                        uint64_t seed)
{
    check_rng_state = seed + 1;   /* fixed contents: not a randomised test */
    for (size_t i = 0; i < n; i++)
        blob[i] = (char)(check_rand() >> 56);
    memset(u, 0, sizeof *u);
    memset(v, 0, 2 * sizeof *v);
    u->shard = "s1";
    u->op = WH_OP_INSERT;
    u->pos.log_name = "mysql-bin.000007";
    u->pos.offset = off;
    u->pos.logical = "0-1-42";
    u->pos.index = 3;
    u->db = "app";
    u->table = "t";
    u->txn.last = true;
    u->has_after = true;
    v[0].type = WH_T_INT;
    v[0].n.i = (int64_t)off;
    v[1].type = WH_T_BYTES;
    v[1].str = blob;
    v[1].len = (uint32_t)n;
    u->after.names = cols;
    u->after.values = v;
    u->after.count = 2;
}

/* Parses every frame of b; checks each is at most frame_max long; returns
 * how many there were and their types in types (as digits). */
static int frames_of(const wh_buf *b, uint32_t frame_max, char *types, size_t cap)
{
    size_t off = 0;
    int n = 0;
    types[0] = '\0';
    while (off < b->len) {
        int type;
        const uint8_t *pl;
        size_t plen, used;
        char err[256];
        int rc = wire_frame_parse((const uint8_t *)b->data + off, b->len - off, frame_max, &type,
                                  &pl, &plen, &used, err, sizeof err);
        CHECK_EQ_INT(rc, WH_OK);
        if (rc != WH_OK) {
            fprintf(stderr, "  %s\n", err);
            return -1;
        }
        size_t k = strlen(types);
        if (k + 1 < cap) {
            types[k] = (char)('0' + type);
            types[k + 1] = '\0';
        }
        off += used;
        n++;
    }
    return n;
}

/* Feeds every frame of b to a; returns the code of the last call and the
 * completed payload, if any. */
static int feed_all(wire_asm *a, const wh_buf *b, const uint8_t **out, size_t *outlen,
                    char *err, size_t errlen)
{
    size_t off = 0;
    int rc = WH_OK;
    *out = NULL;
    while (off < b->len) {
        int type;
        const uint8_t *pl;
        size_t plen, used;
        if (wire_frame_parse((const uint8_t *)b->data + off, b->len - off, WIRE_FRAME_MAX, &type,
                             &pl, &plen, &used, err, errlen) != WH_OK)
            return WH_ERR_CORRUPT;
        off += used;
        rc = wire_asm_frame(a, type, pl, plen, out, outlen, err, errlen);
        if (rc != WH_OK && rc != WH_ERR_AGAIN)
            return rc;
    }
    return rc;
}

/* Every split point: one UPDATES frame split with every frame limit from
 * the smallest that leaves one byte of chunk next to the position to one
 * that fits it whole, so that the first chunk ends at every offset of the
 * payload; each split reassembles to the original payload byte for byte. */
static void test_every_split_point(void)
{
    wh_update u;
    wh_value v[2];
    char blob[1500];
    make_update(&u, v, blob, sizeof blob, 4, 1);
    wire_enc e;
    wire_enc_init(&e);
    wh_buf whole = WH_BUF_INIT, pos = WH_BUF_INIT, b = WH_BUF_INIT;
    wire_enc_begin(&e, &whole, "s1");
    CHECK_EQ_INT(wire_enc_add(&e, &u), WH_OK);
    CHECK_EQ_INT(wire_enc_end(&e), WH_OK);
    wire_put_pos(&pos, &u.pos);
    size_t plen = whole.len - WIRE_HEADER_LEN - WIRE_TRAILER_LEN;
    const uint8_t *payload = (const uint8_t *)whole.data + WIRE_HEADER_LEN;
    /* A part's length is 28 bytes + its chunk, the first one's 1 + the
     * position's length more. */
    const size_t other = WIRE_PART_OVERHEAD - WIRE_OVERHEAD, first = other + 1 + pos.len;
    uint32_t first_min = (uint32_t)first + 1;
    int splits = 0, bad = 0;
    size_t max_parts = 0;
    for (uint32_t fm = first_min; fm <= first + plen; fm++) {
        wh_buf_reset(&b);
        size_t start = wire_frame_begin(&b, WIRE_UPDATES);
        wh_buf_append(&b, payload, plen);
        if (fm == first_min)   /* one byte less leaves no room for a chunk */
            CHECK_EQ_INT(wire_part_split(&b, start, fm - 1, (const uint8_t *)pos.data, pos.len),
                         WH_ERR_INVALID);
        int rc = wire_part_split(&b, start, fm, (const uint8_t *)pos.data, pos.len);
        CHECK_EQ_INT(rc, WH_OK);
        char types[4096];
        int n = frames_of(&b, fm, types, sizeof types);
        size_t room0 = fm - first, room = fm - other;
        size_t want = 1 + (plen > room0 ? (plen - room0 + room - 1) / room : 0);
        if (n < 0 || (size_t)n != want) {
            bad++;
            fprintf(stderr, "frame_max %u: %d parts, expected %zu\n", fm, n, want);
        }
        if ((size_t)n > max_parts)
            max_parts = (size_t)n;
        wire_asm a;
        wire_asm_init(&a, plen);
        const uint8_t *out;
        size_t outlen;
        char err[512];
        rc = feed_all(&a, &b, &out, &outlen, err, sizeof err);
        if (rc != WH_OK || !out || outlen != plen || memcmp(out, payload, plen) != 0) {
            bad++;
            fprintf(stderr, "frame_max %u: reassembly failed (%d): %s\n", fm, rc, err);
        }
        CHECK(!wire_asm_busy(&a));
        wire_asm_reset(&a);
        CHECK(a.data == NULL);
        splits++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(splits > 1500);
    CHECK(max_parts > 10);   /* the smallest limits made many parts */

    /* The reassembled payload is the update. */
    wh_buf_reset(&b);
    wire_enc_limit(&e, 200, true);
    wire_enc_begin(&e, &b, "s1");
    CHECK_EQ_INT(wire_enc_add(&e, &u), WH_OK);
    CHECK_EQ_INT(wire_enc_end(&e), WH_OK);
    CHECK_EQ_INT(e.splits, 1);
    wire_asm a;
    wire_asm_init(&a, 1 << 20);
    const uint8_t *out;
    size_t outlen;
    char err[512];
    CHECK_EQ_INT(feed_all(&a, &b, &out, &outlen, err, sizeof err), WH_OK);
    wh_arena arena = WH_ARENA_INIT;
    wire_batch batch;
    CHECK_EQ_INT(wire_batch_decode(out, outlen, &arena, &batch, err, sizeof err), WH_OK);
    CHECK_EQ_INT(batch.count, 1);
    CHECK_EQ_STR(batch.shard, "s1");
    CHECK_EQ_INT(batch.updates[0].after.count, 2);
    CHECK_EQ_INT(batch.updates[0].after.values[1].len, sizeof blob);
    CHECK_EQ_INT(memcmp(batch.updates[0].after.values[1].str, blob, sizeof blob), 0);
    CHECK_EQ_INT(batch.updates[0].pos.offset, 4);
    wire_asm_reset(&a);
    wh_arena_free(&arena);
    wire_enc_free(&e);
    wh_buf_free(&whole);
    wh_buf_free(&pos);
    wh_buf_free(&b);
}

/* The encoder under a frame limit: no frame exceeds it; an update that
 * does not fit next to others starts a frame of its own; one too large
 * alone goes in parts, or is refused when the peer takes no parts. */
static void test_encoder_limit(void)
{
    enum { N = 40 };
    static char blobs[N][3000];
    wh_update ups[N];
    wh_value vals[N][2];
    size_t sizes[N];
    for (int i = 0; i < N; i++) {
        /* Mostly small updates, some near the limit, three far over it. */
        sizes[i] = i % 13 == 5 ? 2900 : i % 7 == 3 ? 700 : 10 + (size_t)i * 3;
        make_update(&ups[i], vals[i], blobs[i], sizes[i], 100 + (uint64_t)i, (uint64_t)i);
    }
    const uint32_t limit = 1024;
    wire_enc e;
    wire_enc_init(&e);
    wire_enc_limit(&e, limit, true);
    wh_buf b = WH_BUF_INIT;
    wire_enc_begin(&e, &b, "s1");
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(wire_enc_add(&e, &ups[i]), WH_OK);
    CHECK_EQ_INT(wire_enc_end(&e), WH_OK);
    char types[512];
    int nframes = frames_of(&b, limit, types, sizeof types);
    CHECK(nframes > 3);
    CHECK_EQ_INT(e.splits, 3);   /* i = 5, 18, 31 */
    CHECK(strchr(types, '0' + WIRE_UPDATES_PART) != NULL);

    /* Decode everything back: every update, in order, each once. */
    wire_asm a;
    wire_asm_init(&a, 1 << 20);
    wh_arena arena = WH_ARENA_INIT;
    size_t off = 0;
    int next = 0, split_alone = 0;
    char err[512];
    while (off < b.len) {
        int type;
        const uint8_t *pl, *out;
        size_t plen, used, outlen;
        CHECK_EQ_INT(wire_frame_parse((const uint8_t *)b.data + off, b.len - off, limit, &type,
                                      &pl, &plen, &used, err, sizeof err), WH_OK);
        off += used;
        int rc = wire_asm_frame(&a, type, pl, plen, &out, &outlen, err, sizeof err);
        if (rc == WH_ERR_AGAIN)
            continue;
        CHECK_EQ_INT(rc, WH_OK);
        if (!out) {
            CHECK_EQ_INT(type, WIRE_UPDATES);
            out = pl;
            outlen = plen;
        }
        wire_batch batch;
        wh_arena_reset(&arena);
        CHECK_EQ_INT(wire_batch_decode(out, outlen, &arena, &batch, err, sizeof err), WH_OK);
        if (type == WIRE_UPDATES_PART) {
            CHECK_EQ_INT(batch.count, 1);
            split_alone += batch.count == 1 && sizes[next] == 2900;
        }
        for (uint32_t k = 0; k < batch.count && next < N; k++, next++) {
            CHECK_EQ_INT(batch.updates[k].pos.offset, 100 + next);
            CHECK_EQ_INT(batch.updates[k].after.values[1].len, sizes[next]);
            CHECK_EQ_INT(memcmp(batch.updates[k].after.values[1].str, blobs[next], sizes[next]),
                         0);
        }
        wire_asm_reset(&a);
    }
    CHECK_EQ_INT(next, N);
    CHECK_EQ_INT(split_alone, 3);
    {
        /* frames == UPDATES frames + split updates */
        uint64_t updates_frames = 0;
        for (const char *t = types; *t; t++)
            updates_frames += *t == '0' + WIRE_UPDATES;
        CHECK_EQ_INT(e.frames, updates_frames + e.splits);
    }

    /* Parts off: the large update is refused, the ones before it stay. */
    wh_buf_reset(&b);
    wire_enc_limit(&e, limit, false);
    wire_enc_begin(&e, &b, "s1");
    CHECK_EQ_INT(wire_enc_add(&e, &ups[0]), WH_OK);
    CHECK_EQ_INT(wire_enc_add(&e, &ups[1]), WH_OK);
    CHECK_EQ_INT(wire_enc_add(&e, &ups[5]), WH_ERR_LIMIT);
    CHECK_EQ_INT(wire_enc_end(&e), WH_OK);
    nframes = frames_of(&b, limit, types, sizeof types);
    CHECK_EQ_INT(nframes, 1);
    wire_batch batch;
    wh_arena_reset(&arena);
    CHECK_EQ_INT(wire_batch_decode((const uint8_t *)b.data + WIRE_HEADER_LEN,
                                   b.len - WIRE_HEADER_LEN - WIRE_TRAILER_LEN, &arena, &batch,
                                   err, sizeof err), WH_OK);
    CHECK_EQ_INT(batch.count, 2);
    /* Alone, it leaves nothing behind. */
    wh_buf_reset(&b);
    wire_enc_begin(&e, &b, "s1");
    CHECK_EQ_INT(wire_enc_add(&e, &ups[5]), WH_ERR_LIMIT);
    CHECK_EQ_INT(wire_enc_end(&e), WH_OK);
    CHECK_EQ_INT(b.len, 0);
    wh_arena_free(&arena);
    wire_asm_reset(&a);
    wire_enc_free(&e);
    wh_buf_free(&b);
}

/* An UPDATES_PART frame with arbitrary fields, for hostile sequences;
 * with_pos adds a position; chunk may be NULL (no key 3). */
static void put_part(wh_buf *b, uint64_t total, uint64_t offset, const void *chunk, size_t n,
                     bool with_pos)
{
    size_t f = wire_frame_begin(b, WIRE_UPDATES_PART);
    mp_put_map(b, 2 + (chunk != NULL) + with_pos);
    mp_put_uint(b, 1); mp_put_uint(b, total);
    mp_put_uint(b, 2); mp_put_uint(b, offset);
    if (chunk) {
        mp_put_uint(b, 3);
        mp_put_bin(b, chunk, n);
    }
    if (with_pos) {
        wh_position p = { "mysql-bin.000009", 777, "0-1-5", 2 };
        mp_put_uint(b, 4);
        wire_put_pos(b, &p);
    }
    CHECK_EQ_INT(wire_frame_end(b, f), WH_OK);
}

/* Runs a hostile sequence of frames; returns the first error (or the last
 * code) and leaves its message in err. */
static int run_seq(wire_asm *a, const wh_buf *b, char *err, size_t errlen)
{
    const uint8_t *out;
    size_t outlen;
    err[0] = '\0';
    return feed_all(a, b, &out, &outlen, err, errlen);
}

static void test_hostile(void)
{
    wire_asm a;
    wh_buf b = WH_BUF_INIT;
    char err[1024], x[64];
    memset(x, 'x', sizeof x);
    wire_asm_init(&a, 100);

    /* Over the bound: refused on the first part, naming the position, before
     * anything is allocated. */
    put_part(&b, 101, 0, x, 10, true);
    CHECK_EQ_INT(run_seq(&a, &b, err, sizeof err), WH_ERR_LIMIT);
    CHECK(strstr(err, "mysql-bin.000009:777/2") != NULL);
    CHECK(strstr(err, "0-1-5/2") != NULL);
    CHECK(strstr(err, "101 bytes") != NULL && strstr(err, "limit of 100") != NULL);
    CHECK(a.data == NULL && !wire_asm_busy(&a));

    /* Missing: the second part never came, the third did. */
    wh_buf_reset(&b);
    put_part(&b, 30, 0, x, 10, true);
    put_part(&b, 30, 20, x, 10, false);
    CHECK_EQ_INT(run_seq(&a, &b, err, sizeof err), WH_ERR_PROTOCOL);
    CHECK(strstr(err, "is missing") != NULL);
    CHECK(a.data == NULL);

    /* Out of order / twice: a part again at an offset already covered. */
    wh_buf_reset(&b);
    put_part(&b, 30, 0, x, 10, true);
    put_part(&b, 30, 10, x, 10, false);
    put_part(&b, 30, 10, x, 10, false);
    CHECK_EQ_INT(run_seq(&a, &b, err, sizeof err), WH_ERR_PROTOCOL);
    CHECK(strstr(err, "twice or out of order") != NULL);

    /* Without its first part. */
    wh_buf_reset(&b);
    put_part(&b, 30, 10, x, 10, false);
    CHECK_EQ_INT(run_seq(&a, &b, err, sizeof err), WH_ERR_PROTOCOL);
    CHECK(strstr(err, "without the parts before it") != NULL);

    /* A new first part while one is incomplete. */
    wh_buf_reset(&b);
    put_part(&b, 30, 0, x, 10, true);
    put_part(&b, 30, 0, x, 10, true);
    CHECK_EQ_INT(run_seq(&a, &b, err, sizeof err), WH_ERR_PROTOCOL);

    /* Too long: the last chunk runs past the total; a first chunk longer
     * than its total. */
    wh_buf_reset(&b);
    put_part(&b, 30, 0, x, 10, true);
    put_part(&b, 30, 10, x, 21, false);
    CHECK_EQ_INT(run_seq(&a, &b, err, sizeof err), WH_ERR_PROTOCOL);
    CHECK(strstr(err, "runs past its total") != NULL);
    wh_buf_reset(&b);
    put_part(&b, 5, 0, x, 10, true);
    CHECK_EQ_INT(run_seq(&a, &b, err, sizeof err), WH_ERR_PROTOCOL);
    CHECK(strstr(err, "longer than its total") != NULL);

    /* Wrong total: a later part says another total. */
    wh_buf_reset(&b);
    put_part(&b, 30, 0, x, 10, true);
    put_part(&b, 31, 10, x, 10, false);
    CHECK_EQ_INT(run_seq(&a, &b, err, sizeof err), WH_ERR_PROTOCOL);
    CHECK(strstr(err, "the first part said 30") != NULL);

    /* Interleaved with another type: a heartbeat (or anything) between
     * parts; the same frame is fine once the update is complete. */
    wh_buf_reset(&b);
    put_part(&b, 30, 0, x, 10, true);
    wire_put_heartbeat(&b, 1);
    CHECK_EQ_INT(run_seq(&a, &b, err, sizeof err), WH_ERR_PROTOCOL);
    CHECK(strstr(err, "HEARTBEAT frame came in the middle") != NULL);
    wh_buf_reset(&b);
    put_part(&b, 30, 0, x, 10, true);
    put_part(&b, 30, 10, x, 20, false);
    wire_put_heartbeat(&b, 1);
    CHECK_EQ_INT(run_seq(&a, &b, err, sizeof err), WH_OK);   /* the heartbeat passes */
    CHECK(!wire_asm_busy(&a));

    /* Malformed parts: no position on the first, an empty chunk, no chunk,
     * a chunk that is not bin. */
    wh_buf_reset(&b);
    put_part(&b, 30, 0, x, 10, false);
    CHECK_EQ_INT(run_seq(&a, &b, err, sizeof err), WH_ERR_PROTOCOL);
    CHECK(strstr(err, "no position") != NULL);
    wh_buf_reset(&b);
    put_part(&b, 30, 0, x, 0, true);
    CHECK_EQ_INT(run_seq(&a, &b, err, sizeof err), WH_ERR_PROTOCOL);
    wh_buf_reset(&b);
    put_part(&b, 30, 0, NULL, 0, true);
    CHECK_EQ_INT(run_seq(&a, &b, err, sizeof err), WH_ERR_PROTOCOL);
    wh_buf_reset(&b);
    {
        size_t f = wire_frame_begin(&b, WIRE_UPDATES_PART);
        mp_put_map(&b, 3);
        mp_put_uint(&b, 1); mp_put_uint(&b, 30);
        mp_put_uint(&b, 2); mp_put_uint(&b, 0);
        mp_put_uint(&b, 3); mp_put_str(&b, "text", 4);
        wire_frame_end(&b, f);
    }
    CHECK_EQ_INT(run_seq(&a, &b, err, sizeof err), WH_ERR_PROTOCOL);
    CHECK(a.data == NULL);

    /* Unknown keys are skipped; a part exactly at the bound is taken, and
     * the memory goes back at reset. */
    wire_asm_init(&a, 20);
    wh_buf_reset(&b);
    {
        size_t f = wire_frame_begin(&b, WIRE_UPDATES_PART);
        wh_position p = { NULL, 5, NULL, 0 };
        mp_put_map(&b, 5);
        mp_put_uint(&b, 9); mp_put_cstr(&b, "future");
        mp_put_uint(&b, 1); mp_put_uint(&b, 20);
        mp_put_uint(&b, 2); mp_put_uint(&b, 0);
        mp_put_uint(&b, 3); mp_put_bin(&b, x, 20);
        mp_put_uint(&b, 4); wire_put_pos(&b, &p);
        wire_frame_end(&b, f);
    }
    const uint8_t *out;
    size_t outlen;
    CHECK_EQ_INT(feed_all(&a, &b, &out, &outlen, err, sizeof err), WH_OK);
    CHECK(out != NULL && outlen == 20);
    CHECK_EQ_STR(a.pos, "5/0");
    wire_asm_reset(&a);
    CHECK(a.data == NULL);
    wh_buf_free(&b);
}

/* HELLO_OK's limits: announced, read back, and refused outside the range. */
static void test_hello_ok_limits(void)
{
    wh_buf b = WH_BUF_INIT;
    char err[256];
    wire_msg m;
    int type;
    const uint8_t *pl;
    size_t plen, used;
    wire_put_hello_ok(&b, "i1", 1u << 20, 5000000);
    CHECK_EQ_INT(wire_frame_parse((const uint8_t *)b.data, b.len, 1024, &type, &pl, &plen, &used,
                                  err, sizeof err), WH_OK);
    CHECK_EQ_INT(wire_msg_decode(type, pl, plen, &m, err, sizeof err), WH_OK);
    CHECK_EQ_INT(m.max_frame, 1u << 20);
    CHECK_EQ_INT(m.max_update, 5000000);
    wh_buf_reset(&b);
    wire_put_hello_ok(&b, "i1", 100, 0);
    CHECK_EQ_INT(wire_frame_parse((const uint8_t *)b.data, b.len, 1024, &type, &pl, &plen, &used,
                                  err, sizeof err), WH_OK);
    CHECK_EQ_INT(wire_msg_decode(type, pl, plen, &m, err, sizeof err), WH_ERR_PROTOCOL);
    CHECK(strstr(err, "frame limit of 100") != NULL);
    /* An UPDATES_PART is not a control message. */
    CHECK_EQ_INT(wire_msg_decode(WIRE_UPDATES_PART, pl, plen, &m, err, sizeof err),
                 WH_ERR_PROTOCOL);
    CHECK_EQ_STR(wire_type_name(WIRE_UPDATES_PART), "UPDATES_PART");
    wh_buf_free(&b);
}

int main(void)
{
    test_every_split_point();
    test_encoder_limit();
    test_hostile();
    test_hello_ok_limits();
    return check_done("test_wire_part");
}
