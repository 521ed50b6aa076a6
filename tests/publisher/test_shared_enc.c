/* test_shared_enc.c -- unit tests of encode-once: flows fed through a caravan's shared encodings queue exactly the bytes they would encode alone.
 *
 * Each flow has a twin (same filter and subscriber limits) fed without
 * sharing; after every batch both must hold the same output, counters and
 * positions. The test plays the caravan thread (f->mu held). */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "publisher/pub.h"
#include "publisher/pub_caravan.h"
#include "publisher/pub_flow.h"
#include "publisher/pub_shared_enc.h"
#include "tests/check.h"
#include "tests/publisher/pub_fixture.h"

static publisher P;

static void setup(void)
{
    pub_fixture_setup(&P, 50);   /* datamarkers between batches, per flow */
}

static void teardown(void)
{
    pub_fixture_teardown(&P);
}

static pub_flow *flow_for(const char *filter, uint32_t max_frame, bool parts)
{
    pub_assign a = { .app = (char *)"app", .instance = (char *)"i1",
                     .endpoint = (char *)"127.0.0.1:1", .instance_czxid = 7,
                     .filter_json = (char *)filter };
    pub_flow *f = pub_flow_new(&P, &a);
    if (!f)
        abort();
    f->state = FLOW_STREAMING;
    f->peer_frame_max = max_frame;
    f->peer_parts = parts;
    f->next = P.flows;
    P.flows = f;
    return f;
}

static const char *const cols[] = { "id", "body" };
static const char *const cols2[] = { "k", "v", "w" };

/* Update i of a batch: tables t and u, inserts and deletes, bodies of varied
 * size (some larger than a small frame). */
static void make_update(wh_update *u, wh_value *v, char *body, uint64_t off)
{
    size_t n = off % 17 == 5 ? 20000 : 10 + off * 37 % 300;
    memset(u, 0, sizeof *u);
    memset(v, 0, 3 * sizeof *v);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)('a' + (i * 7 + off) % 26);
    u->shard = "s1";
    u->op = off % 3 == 0 ? WH_OP_DELETE : WH_OP_INSERT;
    u->pos.log_name = "bin.000002";
    u->pos.offset = off;
    u->db = "d";
    u->table = off % 4 == 1 ? "u" : "t";
    u->txn.last = off % 2 == 0;
    v[0].type = WH_T_INT;
    v[0].n.i = (int64_t)off;
    v[1].type = WH_T_BYTES;
    v[1].str = body;
    v[1].len = (uint32_t)n;
    v[2].type = WH_T_UINT;
    v[2].n.u = off;
    wh_row *r = u->op == WH_OP_DELETE ? &u->before : &u->after;
    if (u->op == WH_OP_DELETE)
        u->has_before = true;
    else
        u->has_after = true;
    r->names = off % 4 == 1 ? cols2 : cols;
    r->values = v;
    r->count = off % 4 == 1 ? 3 : 2;
}

enum { NFLOWS = 8, BATCHES = 12, MAXN = 64 };

/* The flows' configurations: filter, frame limit, parts. Equal keys share. */
static const struct { const char *filter; uint32_t frame; bool parts; } kinds[NFLOWS] = {
    { NULL, 0, true },
    { NULL, 0, true },                                  /* shares with 0 */
    { "{\"eq\":[\"table\",\"t\"]}", 0, true },
    { "{\"eq\":[\"table\",\"t\"]}", 0, true },          /* shares with 2 */
    { "{\"or\":[]}", 0, true },                         /* passes nothing */
    { "{\"and\":[]}", 0, true },                        /* passes all: shares with 0 */
    { NULL, WIRE_FRAME_MIN, true },                     /* smaller frames, parts */
    { "{\"eq\":[\"op\",\"insert\"]}", WIRE_FRAME_MIN, false },   /* stops at a big insert */
};

static void same_state(pub_flow *a, pub_flow *b, int k)
{
    CHECK_EQ_INT(a->out.len, b->out.len);
    CHECK(a->out.len == b->out.len &&
          (a->out.len == 0 || memcmp(a->out.data, b->out.data, a->out.len) == 0));
    CHECK_EQ_INT(a->bytes_total, b->bytes_total);
    CHECK_EQ_INT(a->n_sent, b->n_sent);
    CHECK_EQ_INT(a->n_filtered, b->n_filtered);
    CHECK_EQ_INT(a->n_frames, b->n_frames);
    CHECK_EQ_INT(a->enc.splits, b->enc.splits);
    CHECK_EQ_INT(a->nmarkers, b->nmarkers);
    CHECK_EQ_INT(a->processed.offset, b->processed.offset);
    CHECK_EQ_INT(a->stop_pending, b->stop_pending);
    if (a->out.len != b->out.len)
        fprintf(stderr, "flow kind %d differs\n", k);
}

/* Shared and unshared encodings are byte for byte the same, batch after
 * batch; members with equal selections are served from one encoding. */
static void test_same_bytes(void)
{
    setup();
    pub_flow *sh[NFLOWS], *alone[NFLOWS];
    for (int k = 0; k < NFLOWS; k++) {
        sh[k] = flow_for(kinds[k].filter, kinds[k].frame, kinds[k].parts);
        alone[k] = flow_for(kinds[k].filter, kinds[k].frame, kinds[k].parts);
    }
    pub_shared_enc s;
    pub_shared_enc_init(&s);
    static char bodies[MAXN][20000];
    wh_update ups[MAXN];
    wh_value vals[MAXN][3];
    char err[512];
    uint64_t off = 1, hits = 0;

    for (int b = 0; b < BATCHES; b++) {
        int n = 1 + (b * 23) % MAXN;
        for (int i = 0; i < n; i++)
            make_update(&ups[i], vals[i], bodies[i], off + (uint64_t)i);
        off += (uint64_t)n;
        pub_shared_enc_begin(&s, ups, n);
        for (int k = 0; k < NFLOWS; k++) {
            bool r1 = false, r2 = false;
            pub_mutex_lock(&sh[k]->mu);
            CHECK_EQ_INT(pub_flow_encode_shared_locked(sh[k], NULL, ups, n, &s, &r1, err,
                                                       sizeof err), WH_OK);
            pub_mutex_unlock(&sh[k]->mu);
            pub_mutex_lock(&alone[k]->mu);
            CHECK_EQ_INT(pub_flow_encode_locked(alone[k], NULL, ups, n, &r2, err, sizeof err),
                         WH_OK);
            pub_mutex_unlock(&alone[k]->mu);
            CHECK_EQ_INT(r1, r2);
            same_state(sh[k], alone[k], k);
        }
        /* 1 and 5 are served from 0's encoding and 3 from 2's; 4 also from 2's
         * when no update of the batch is in table t. */
        CHECK(s.hits - hits >= 3);
        hits = s.hits;
        CHECK(s.count <= PUB_SHARED_ENC_MAX);
    }
    CHECK(sh[7]->stop_pending == WH_ERR_LIMIT);   /* the big insert at offset 22 */
    pub_shared_enc_free(&s);
    teardown();
}

/* More distinct selections than entries: the rest encode for themselves. */
static void test_bound(void)
{
    setup();
    enum { M = PUB_SHARED_ENC_MAX + 3 };
    pub_flow *f[M];
    for (int k = 0; k < M; k++)
        f[k] = flow_for(NULL, WIRE_FRAME_MIN + 4096 * (uint32_t)k, true);
    pub_shared_enc s;
    pub_shared_enc_init(&s);
    static char bodies[4][20000];
    wh_update ups[4];
    wh_value vals[4][3];
    for (int i = 0; i < 4; i++)
        make_update(&ups[i], vals[i], bodies[i], 2 + (uint64_t)i);
    char err[512];
    pub_shared_enc_begin(&s, ups, 4);
    for (int k = 0; k < M; k++) {
        bool ready = false;
        pub_mutex_lock(&f[k]->mu);
        CHECK_EQ_INT(pub_flow_encode_shared_locked(f[k], NULL, ups, 4, &s, &ready, err,
                                                   sizeof err), WH_OK);
        CHECK(f[k]->out.len > 0);
        pub_mutex_unlock(&f[k]->mu);
    }
    CHECK_EQ_INT(s.count, PUB_SHARED_ENC_MAX);
    CHECK_EQ_INT(s.misses, M);
    CHECK_EQ_INT(s.hits, 0);
    pub_shared_enc_begin(&s, ups, 4);
    CHECK_EQ_INT(s.count, 0);
    pub_shared_enc_free(&s);
    teardown();
}

int main(void)
{
    test_same_bytes();
    test_bound();
    return check_done("test_shared_enc");
}
