/* test_flow_limits.c -- unit tests of a flow's bounds without servers: frames within the subscriber's limits, updates too large, flows that fail for them, the receive buffer's cap.
 *
 * The test plays the loop thread and, for the encoder, the caravan thread
 * (with f->mu held); the subscriber is the other end of a socket pair. */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/arena.h"
#include "publisher/pub.h"
#include "publisher/pub_caravan.h"
#include "publisher/pub_flow.h"
#include "tests/check.h"
#include "tests/publisher/pub_fixture.h"

static publisher P;

static void setup(void)
{
    pub_fixture_setup(&P, 100000);
}

static void teardown(void)
{
    pub_fixture_teardown(&P);
}

static const char *const cols[] = { "id", "body" };

/* An insert at offset off with a body of n bytes. */
static void make_update(wh_update *u, wh_value v[2], char *body, size_t n, uint64_t off)
{
    memset(u, 0, sizeof *u);
    memset(v, 0, 2 * sizeof *v);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)('a' + (i * 7 + off) % 26);
    u->shard = "s1";
    u->op = WH_OP_INSERT;
    u->pos.log_name = "bin.000002";
    u->pos.offset = off;
    u->db = "d";
    u->table = "t";
    u->txn.last = true;
    u->has_after = true;
    v[0].type = WH_T_INT;
    v[0].n.i = (int64_t)off;
    v[1].type = WH_T_BYTES;
    v[1].str = body;
    v[1].len = (uint32_t)n;
    u->after.names = cols;
    u->after.values = v;
    u->after.count = 2;
}

/* A streaming flow whose subscriber announced max_frame and max_update. */
static pub_flow *flow_for(uint32_t max_frame, uint64_t max_update)
{
    pub_assign a = { .app = (char *)"app", .instance = (char *)"i1",
                     .endpoint = (char *)"127.0.0.1:1", .instance_czxid = 7 };
    pub_flow *f = pub_flow_new(&P, &a);
    if (!f)
        abort();
    f->state = FLOW_STREAMING;
    f->peer_frame_max = max_frame;
    f->peer_parts = max_update != 0;
    f->next = P.flows;
    P.flows = f;
    return f;
}

/* Frames within the subscriber's limit; an update larger than a frame goes
 * in UPDATES_PART frames that reassemble to it; the bytes are counted. */
static void test_encode_within_limits(void)
{
    setup();
    pub_flow *f = flow_for(WIRE_FRAME_MIN, 1 << 20);
    enum { N = 6 };
    static char bodies[N][100000];
    size_t sizes[N] = { 100, 9000, 100000, 50, 15000, 20 };
    wh_update ups[N];
    wh_value vals[N][2];
    for (int i = 0; i < N; i++)
        make_update(&ups[i], vals[i], bodies[i], sizes[i], 100 + (uint64_t)i);
    char err[512];
    bool ready = false;
    pub_mutex_lock(&f->mu);
    CHECK_EQ_INT(pub_flow_encode_locked(f, NULL, ups, N, &ready, err, sizeof err), WH_OK);
    CHECK(!f->stop_pending);
    CHECK(ready);
    CHECK_EQ_INT(f->enc.splits, 1);
    /* The datamarker is not queued yet (marker_updates), so out is all updates. */
    CHECK_EQ_INT(f->bytes_total, f->out.len);
    wire_asm a;
    wire_asm_init(&a, 1 << 20);
    wh_arena arena = WH_ARENA_INIT;
    size_t off = 0;
    int next = 0, parts = 0;
    while (off < f->out.len) {
        int type;
        const uint8_t *pl, *whole;
        size_t plen, used, wlen;
        int rc = wire_frame_parse((const uint8_t *)f->out.data + off, f->out.len - off,
                                  WIRE_FRAME_MIN, &type, &pl, &plen, &used, err, sizeof err);
        CHECK_EQ_INT(rc, WH_OK);
        if (rc != WH_OK)
            break;
        off += used;
        parts += type == WIRE_UPDATES_PART;
        rc = wire_asm_frame(&a, type, pl, plen, &whole, &wlen, err, sizeof err);
        if (rc == WH_ERR_AGAIN)
            continue;
        CHECK_EQ_INT(rc, WH_OK);
        wire_batch b;
        wh_arena_reset(&arena);
        CHECK_EQ_INT(wire_batch_decode(whole ? whole : pl, whole ? wlen : plen, &arena, &b, err,
                                       sizeof err), WH_OK);
        for (uint32_t k = 0; k < b.count; k++, next++) {
            CHECK_EQ_INT(b.updates[k].pos.offset, 100 + next);
            CHECK_EQ_INT(b.updates[k].after.values[1].len, sizes[next]);
        }
        wire_asm_reset(&a);
    }
    CHECK_EQ_INT(next, N);
    CHECK(parts >= 7);   /* 100000 bytes in frames of 16 KiB */
    CHECK_EQ_INT(f->processed.offset, 100 + N - 1);
    pub_mutex_unlock(&f->mu);
    wh_arena_free(&arena);
    teardown();
}

/* A subscriber that takes no parts (an older libwormhole) cannot get an
 * update larger than a frame: the flow asks to stop, naming the position,
 * keeps what came before it, and takes nothing more. */
static void test_encode_old_peer(void)
{
    setup();
    pub_flow *f = flow_for(0, 0);
    P.cfg.frame_bytes = WIRE_FRAME_MIN;
    static char bodies[3][40000];
    wh_update ups[3];
    wh_value vals[3][2];
    size_t sizes[3] = { 10, 40000, 10 };
    for (int i = 0; i < 3; i++)
        make_update(&ups[i], vals[i], bodies[i], sizes[i], 500 + (uint64_t)i);
    char err[512];
    bool ready = false;
    pub_mutex_lock(&f->mu);
    CHECK_EQ_INT(pub_flow_encode_locked(f, NULL, ups, 3, &ready, err, sizeof err), WH_OK);
    CHECK_EQ_INT(f->stop_pending, WH_ERR_LIMIT);
    CHECK(strstr(f->stop_why, "bin.000002:501/0") != NULL);
    CHECK(strstr(f->stop_why, "takes no UPDATES_PART") != NULL);
    CHECK_EQ_INT(f->processed.offset, 500);   /* the one before it */
    size_t len = f->out.len;
    CHECK(len > 0 && len < 1000);   /* the first update, in one frame */
    CHECK_EQ_INT(pub_flow_encode_locked(f, NULL, &ups[2], 1, &ready, err, sizeof err), WH_OK);
    CHECK_EQ_INT(f->out.len, len);   /* nothing more */
    pub_mutex_unlock(&f->mu);
    CHECK_EQ_INT(pub_flow_stop_pending(f), WH_ERR_LIMIT);
    CHECK(strstr(f->why, "bin.000002:501/0") != NULL);
    pub_flow_fail_for_good(f, WH_ERR_LIMIT, &f->acked, f->why);
    CHECK_EQ_INT(f->state, FLOW_FAILED);
    CHECK_EQ_INT(f->failed_rc, WH_ERR_LIMIT);
    CHECK(pub_flow_failed_retryable(f));
    CHECK(strstr(f->failed_why, "bin.000002:501/0") != NULL);
    CHECK_EQ_INT(pub_flow_tick(f, 1 << 30), 0);   /* no reconnect, ever */
    CHECK_EQ_INT(f->state, FLOW_FAILED);
    CHECK_EQ_INT(f->fd, -1);
    teardown();
}

/* What the subscriber sends: ERROR WH_ERR_LIMIT and ERROR WH_ERR_REFUSED
 * stop the flow (it fails for good), another ERROR fails it (a retry); a frame over WIRE_CONTROL_MAX fails it at its
 * header, and the receive buffer never holds more than the cap. */
static void test_receive(void)
{
    for (int k = 0; k < 4; k++) {
        setup();
        pub_flow *f = flow_for(WIRE_FRAME_MAX, 1 << 20);
        int sv[2];
        CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        f->fd = sv[0];
        wh_buf b = WH_BUF_INIT;
        if (k == 0) {
            wire_put_heartbeat(&b, 1);
            wire_put_error(&b, WH_ERR_LIMIT, "the update at bin.000002:9/0 takes 300 bytes");
        } else if (k == 1) {
            wire_put_error(&b, WH_ERR_INVALID, "no");
        } else if (k == 3) {
            wire_put_error(&b, WH_ERR_REFUSED, "gave up on the update at bin.000002:9/0");
        } else {
            uint8_t hdr[5] = { 0, 0x10, 0, 0, WIRE_HEARTBEAT };   /* 1 MiB announced */
            wh_buf_append(&b, hdr, sizeof hdr);
            for (int i = 0; i < 70000; i++)
                wh_buf_putc(&b, 'x');
        }
        CHECK_EQ_INT(write(sv[1], b.data, b.len), (ssize_t)b.len);
        int r = pub_flow_event(f, EPOLLIN, NULL);
        if (k == 0 || k == 3) {
            CHECK_EQ_INT(r, PUB_FLOW_FAILED | PUB_FLOW_STOPPED);
            CHECK_EQ_INT(f->stop_rc, k == 0 ? WH_ERR_LIMIT : WH_ERR_REFUSED);
            CHECK(strstr(f->why, "bin.000002:9/0") != NULL);
        } else {
            CHECK_EQ_INT(r, PUB_FLOW_FAILED);
            CHECK(strstr(f->why, k == 1 ? "subscriber refused: no" : "exceeds the limit of 65528")
                  != NULL);
        }
        CHECK(f->in.buf.len <= WIRE_CONTROL_MAX);
        f->fd = -1;
        close(sv[0]);
        close(sv[1]);
        wh_buf_free(&b);
        teardown();
    }
}

/* A flow failed for a reason its app can fix (here an update too large)
 * stays with its instance's registration: the same assignment keeps it
 * failed; the instance registering again (a new node, a new czxid) gives the
 * app a new flow, from the acknowledged position. A failed position (purged)
 * is not revived that way: it needs a reset. */
static void test_stopped_until_registered_again(void)
{
    setup();
    pub_assign a = { .app = (char *)"app", .instance = (char *)"i1",
                     .endpoint = (char *)"127.0.0.1:1", .instance_czxid = 7 };
    pub_assign_apply(&P, &a, 1);
    pub_flow *f = P.flows;
    CHECK(f != NULL && f->next == NULL);
    f->acked.set = true;
    f->acked.offset = 42;
    pub_flow_fail_for_good(f, WH_ERR_LIMIT, &f->acked, "the update at x takes too much");
    pub_assign_apply(&P, &a, 1);
    CHECK(P.flows == f && f->state == FLOW_FAILED);
    a.instance_czxid = 8;
    pub_assign_apply(&P, &a, 1);
    CHECK(P.flows != NULL && P.flows != f && P.flows->next == NULL);
    CHECK_EQ_INT(P.flows->state, FLOW_BACKOFF);
    CHECK(P.flows->acked.set && P.flows->acked.offset == 42);
    f = P.flows;
    pub_flow_fail_for_good(f, WH_ERR_PURGED, &f->acked, "purged");
    a.instance_czxid = 9;
    pub_assign_apply(&P, &a, 1);
    CHECK(P.flows == f && f->state == FLOW_FAILED);
    teardown();
}

int main(void)
{
    test_encode_within_limits();
    test_encode_old_peer();
    test_receive();
    test_stopped_until_registered_again();
    return check_done("test_flow_limits");
}
