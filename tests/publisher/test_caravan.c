/* test_caravan.c -- unit tests of flows and caravans without servers: placement, delivery, ACKs, leaving.
 *
 * The test plays the loop thread: it makes flows streaming by hand, places
 * them in caravans reading the synthetic mapper, sends one flow's output
 * into a socketpair and answers with ACK frames, and drops the others'
 * output as if sent. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/clock.h"
#include "publisher/pub.h"
#include "publisher/pub_caravan.h"
#include "publisher/pub_flow.h"
#include "publisher/pub_schema.h"
#include "tests/check.h"

static publisher P;

static void setup(int64_t updates, int64_t window_bytes)
{
    json_decref(P.cfg.mapper_options);
    if (P.efd > 0)
        close(P.efd);
    if (P.epfd > 0)
        close(P.epfd);
    memset(&P, 0, sizeof P);
    P.cfg.shard = (char *)"s1";
    P.cfg.id = (char *)"test";
    P.cfg.mapper_name = (char *)"synthetic";
    P.cfg.mapper_options = json_pack("{s:I, s:I}", "updates", (json_int_t)updates, "tables", 3);
    P.cfg.frame_bytes = 1 << 20;
    P.cfg.heartbeat_ms = 1000;
    P.cfg.heartbeat_timeout_ms = 10000;
    P.cfg.connect_timeout_ms = 5000;
    P.cfg.backoff_min_ms = 100;
    P.cfg.backoff_max_ms = 5000;
    P.cfg.window_bytes = window_bytes;
    P.cfg.marker_updates = 100;
    P.cfg.marker_ms = 200;
    P.cfg.batch_size = 64;
    P.cfg.caravan_wait_ms = 20;
    pub_apply_live(&P);
    P.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    P.epfd = epoll_create1(EPOLL_CLOEXEC);
}

/* A flow in the state it has after HELLO_OK, from the oldest position,
 * with filter (text form) or none. */
static pub_flow *filtered_flow(const char *app, const char *filter, pub_flow *next)
{
    wh_buf json = WH_BUF_INIT;
    if (filter) {
        wh_filter *flt = NULL;
        char err[256];
        if (wh_filter_parse_text(filter, strlen(filter), &flt, err, sizeof err) != WH_OK ||
            wh_filter_to_json(flt, &json) != WH_OK)
            abort();
        wh_filter_free(flt);
    }
    pub_assign a = { .app = (char *)app, .instance = (char *)"i1",
                     .endpoint = (char *)"127.0.0.1:1", .filter_json = filter ? json.data : NULL };
    pub_flow *f = pub_flow_new(&P, &a);
    wh_buf_free(&json);
    if (!f)
        abort();
    f->state = FLOW_STREAMING;
    f->next = next;
    return f;
}

static pub_flow *streaming_flow(const char *app, pub_flow *next)
{
    return filtered_flow(app, NULL, next);
}

static void sleep_ms(int ms)
{
    struct timespec ts = { 0, ms * 1000000L };
    nanosleep(&ts, NULL);
}

static uint64_t processed_offset(pub_flow *f)
{
    pub_mutex_lock(&f->mu);
    uint64_t off = f->processed.set ? f->processed.offset : 0;
    pub_mutex_unlock(&f->mu);
    return off;
}

/* Drops what f queued, as if the loop took and sent it (and the subscriber
 * acknowledged it when ack). */
static void drop_output(pub_flow *f, bool ack)
{
    pub_mutex_lock(&f->mu);
    wh_buf_reset(&f->out);
    atomic_store(&f->out_ready, false);
    if (ack)
        f->bytes_acked = f->bytes_total;
    pub_mutex_unlock(&f->mu);
    if (ack)
        pub_caravan_kick(f);
}

static void read_all(int fd, wh_buf *in)
{
    for (;;) {
        if (!wh_buf_reserve(in, 65536))
            abort();
        ssize_t n = read(fd, in->data + in->len, in->cap - in->len - 1);
        if (n <= 0)
            return;
        in->len += (size_t)n;
    }
}

typedef struct stream_seen {
    uint64_t updates, first_offset, next_offset, markers, last_seq, last_marker_offset;
    bool in_order;
} stream_seen;

/* Walks the frames a flow sent: updates in log order, datamarkers numbered. */
static void parse_stream(const wh_buf *in, stream_seen *s)
{
    wh_arena arena = WH_ARENA_INIT;
    char err[256];
    size_t off = 0;
    memset(s, 0, sizeof *s);
    s->in_order = true;
    while (off < in->len) {
        int type;
        const uint8_t *pl;
        size_t plen, used;
        if (wire_frame_parse((const uint8_t *)in->data + off, in->len - off, WIRE_FRAME_MAX,
                             &type, &pl, &plen, &used, err, sizeof err) != WH_OK)
            break;
        off += used;
        if (type == WIRE_UPDATES) {
            wire_batch b;
            wh_arena_reset(&arena);
            CHECK_EQ_INT(wire_batch_decode(pl, plen, &arena, &b, err, sizeof err), 0);
            for (uint32_t i = 0; i < b.count; i++) {
                if (!s->first_offset)
                    s->first_offset = s->next_offset = b.updates[i].pos.offset;
                s->in_order &= b.updates[i].pos.offset == s->next_offset;
                s->next_offset = b.updates[i].pos.offset + 1;
            }
            s->updates += b.count;
        } else if (type == WIRE_DATAMARKER) {
            wire_msg m;
            CHECK_EQ_INT(wire_msg_decode(type, pl, plen, &m, err, sizeof err), 0);
            CHECK_EQ_INT(m.seq, s->last_seq + 1);
            s->last_seq = m.seq;
            s->last_marker_offset = m.pos.offset;
            s->markers++;
        }
    }
    CHECK_EQ_INT(off, in->len);
    wh_arena_free(&arena);
}

static int send_ack(pub_flow *f, int peer, uint64_t seq)
{
    wh_buf b = WH_BUF_INIT;
    pub_hello hello = { "test", 1 };
    wire_put_ack(&b, seq);
    CHECK_EQ_INT(write(peer, b.data, b.len), (long long)b.len);
    wh_buf_free(&b);
    return pub_flow_event(f, EPOLLIN, &hello);
}

static void close_all(pub_caravans *s, pub_flow *flows)
{
    while (flows) {
        pub_flow *f = flows;
        flows = f->next;
        pub_caravan_leave(s, f);
        CHECK(f->caravan == NULL);
        pub_flow_reset(f, NULL, true);
        pub_flow_free(f);
    }
    pub_caravans_check(s, NULL);
    pub_caravans_reap(s);
    pub_caravan_view v;
    CHECK(!pub_caravans_view(s, 0, &v));
    pub_caravans_free(s);
}

/* Flows placed in one call at one position share one reader, and each gets
 * every update; one flow's bytes on its socket are the whole stream, and
 * ACKs pop its datamarkers. */
static void test_place_deliver_ack(void)
{
    const uint64_t n = 1000;
    setup((int64_t)n, 4 << 20);
    pub_caravans *s = pub_caravans_new(&P);
    pub_flow *c = streaming_flow("c", NULL), *b = streaming_flow("b", c),
             *a = streaming_flow("a", b);
    int sv[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    a->fd = sv[0];

    pub_caravans_place(s, a);
    CHECK(a->caravan != NULL && a->caravan == b->caravan && b->caravan == c->caravan);
    pub_caravan_view v;
    CHECK(pub_caravans_view(s, 0, &v) && !pub_caravans_view(s, 1, &v));
    pub_caravans_check(s, a);

    wh_buf in = WH_BUF_INIT;
    int64_t deadline = wh_mono_ms() + 20000;
    while (wh_mono_ms() < deadline &&
           (processed_offset(a) < n || processed_offset(b) < n || processed_offset(c) < n)) {
        CHECK_EQ_INT(pub_flow_send(a), 0);
        read_all(sv[1], &in);
        drop_output(b, true);
        drop_output(c, true);
        sleep_ms(1);
    }
    CHECK_EQ_INT(processed_offset(a), n);
    CHECK_EQ_INT(processed_offset(b), n);
    CHECK_EQ_INT(processed_offset(c), n);
    /* The datamarker of the end, as the clean stop queues it. */
    pub_mutex_lock(&a->mu);
    pub_flow_mark_locked(a);
    pub_mutex_unlock(&a->mu);
    CHECK_EQ_INT(pub_flow_send(a), 0);
    read_all(sv[1], &in);

    stream_seen seen;
    parse_stream(&in, &seen);
    CHECK_EQ_INT(seen.updates, n);
    CHECK_EQ_INT(seen.first_offset, 1);
    CHECK(seen.in_order);
    /* One at the first batch boundary after every 100 updates (datamarker_updates). */
    CHECK(seen.markers >= n / (100 + 64));
    CHECK_EQ_INT(seen.last_marker_offset, n);
    CHECK_EQ_INT(pub_flow_unacked_markers(a), seen.markers);

    /* An ACK of the newest marker pops them all; the same one again is an error. */
    CHECK_EQ_INT(send_ack(a, sv[1], seen.last_seq), PUB_FLOW_ACKED);
    CHECK_EQ_INT(pub_flow_unacked_markers(a), 0);
    CHECK(a->acked.set && a->acked.offset == n);
    CHECK_EQ_INT(send_ack(a, sv[1], seen.last_seq), PUB_FLOW_FAILED);
    CHECK(strstr(a->why, "already acknowledged") != NULL);

    wh_buf_free(&in);
    close(sv[1]);
    close_all(s, a);   /* a's reset closes sv[0] */
}

/* A flow with a position of the given kind, after HELLO_OK. */
static pub_flow *flow_at(const char *app, uint64_t offset, bool start, pub_flow *next)
{
    pub_assign a = { .app = (char *)app, .instance = (char *)"i1",
                     .endpoint = (char *)"127.0.0.1:1", .pos_start = start };
    a.pos.set = true;
    a.pos.offset = offset;
    pub_flow *f = pub_flow_new(&P, &a);
    if (!f)
        abort();
    f->state = FLOW_STREAMING;
    f->next = next;
    return f;
}

/* What f sent through its socket until it processed offset last. */
static void stream_until(pub_flow *f, int peer, uint64_t last, stream_seen *seen)
{
    wh_buf in = WH_BUF_INIT;
    int64_t deadline = wh_mono_ms() + 20000;
    while (wh_mono_ms() < deadline && processed_offset(f) < last) {
        CHECK_EQ_INT(pub_flow_send(f), 0);
        read_all(peer, &in);
        sleep_ms(1);
    }
    CHECK_EQ_INT(pub_flow_send(f), 0);
    read_all(peer, &in);
    parse_stream(&in, seen);
    wh_buf_free(&in);
}

/* A new app's start (docs/ZOOKEEPER.md): a flow without a position gets the
 * first update it will read as its recorded start before that update is
 * encoded (without a ZooKeeper agent here, recorded at once), until an ACK
 * replaces it. A flow at a recorded start gets the update at it (an
 * inclusive seek); one acknowledged at the same position gets the next; the
 * two never share a reader. */
static void test_recorded_start(void)
{
    const uint64_t n = 200;
    setup((int64_t)n, 4 << 20);
    pub_caravans *s = pub_caravans_new(&P);
    pub_flow *fresh = streaming_flow("fresh", NULL);
    int sv[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    fresh->fd = sv[0];
    pub_caravans_place(s, fresh);
    stream_seen seen;
    stream_until(fresh, sv[1], n, &seen);
    CHECK_EQ_INT(seen.first_offset, 1);
    CHECK_EQ_INT(seen.updates, n);
    pub_mutex_lock(&fresh->mu);
    CHECK(!fresh->needs_start);
    CHECK(fresh->acked_start && fresh->acked.set && fresh->acked.offset == 1);
    pub_mutex_unlock(&fresh->mu);
    if (seen.markers > 0) {
        CHECK_EQ_INT(send_ack(fresh, sv[1], seen.last_seq), PUB_FLOW_ACKED);
        CHECK(!fresh->acked_start && fresh->acked.offset == seen.last_marker_offset);
    }
    close(sv[1]);
    close_all(s, fresh);

    s = pub_caravans_new(&P);
    pub_flow *acked = flow_at("acked", 5, false, NULL), *start = flow_at("start", 5, true, acked);
    int sa[2], sb[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sa), 0);
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sb), 0);
    start->fd = sa[0];
    acked->fd = sb[0];
    pub_caravans_place(s, start);
    CHECK(start->caravan != NULL && acked->caravan != NULL && start->caravan != acked->caravan);
    pub_caravans_check(s, start);
    stream_until(start, sa[1], n, &seen);
    CHECK_EQ_INT(seen.first_offset, 5);
    CHECK_EQ_INT(seen.updates, n - 4);
    CHECK(seen.in_order);
    stream_until(acked, sb[1], n, &seen);
    CHECK_EQ_INT(seen.first_offset, 6);
    CHECK_EQ_INT(seen.updates, n - 5);
    pub_mutex_lock(&start->mu);
    CHECK(start->acked_start && start->acked.offset == 5);   /* nothing acknowledged yet */
    pub_mutex_unlock(&start->mu);
    /* A reset goes back to the recorded start, still inclusive. */
    pub_caravan_leave(s, start);
    pub_flow_reset(start, NULL, true);
    CHECK(start->resume_start && start->resume.offset == 5);
    close(sa[1]);
    close(sb[1]);
    close_all(s, start);
}

/* A member whose window stays full leaves its caravan: the loop collects it,
 * it resumes from what it has, and placing it again gives it its own reader. */
static void test_slow_member_leaves(void)
{
    setup(0, 65536);
    pub_caravans *s = pub_caravans_new(&P);
    pub_flow *slow = streaming_flow("slow", NULL), *fast = streaming_flow("fast", slow);
    pub_caravans_place(s, fast);
    CHECK(fast->caravan != NULL && fast->caravan == slow->caravan);

    bool collected = false;
    int64_t deadline = wh_mono_ms() + 20000;
    while (!collected && wh_mono_ms() < deadline) {
        drop_output(fast, true);
        drop_output(slow, false);   /* sent, never acknowledged: its window fills */
        collected = pub_caravans_collect(s);
        sleep_ms(1);
    }
    CHECK(collected);
    CHECK(slow->caravan == NULL);
    CHECK(fast->caravan != NULL);
    pub_mutex_lock(&slow->mu);
    CHECK(wh_pos_equal(&slow->resume, &slow->processed));
    CHECK(pub_flow_window_full_locked(slow));
    pub_mutex_unlock(&slow->mu);
    pub_caravans_check(s, fast);

    pub_caravans_place(s, fast);
    CHECK(slow->caravan != NULL && slow->caravan != fast->caravan);
    pub_caravan_view v;
    CHECK(pub_caravans_view(s, 1, &v) && !pub_caravans_view(s, 2, &v));
    pub_caravans_check(s, fast);
    CHECK(pub_caravans_failed(s) == NULL);
    close_all(s, fast);
}

/* What the caravan asked of f (stop_pending), read as the loop does. */
static int stop_of(pub_flow *f)
{
    pub_mutex_lock(&f->mu);
    int rc = f->stop_pending;
    pub_mutex_unlock(&f->mu);
    return rc;
}

/* A filter that tests a column its table lacks stops its flow just before
 * the first update of that table (the caravan drops it, marked rejected
 * with the reason); the flows whose filters fit go on to the end. */
static void test_filter_misfit(void)
{
    const uint64_t n = 300;
    setup((int64_t)n, 4 << 20);   /* tables t0..t2: id, k, name, price, gen_ns; seq s in t(s % 3) */
    P.schemas = pub_schemas_new();
    pub_caravans *s = pub_caravans_new(&P);
    pub_flow *exists = filtered_flow("exists", "not exists nope3 or k = 1", NULL),
             *any = filtered_flow("any", "nope2 = 1", exists),
             *bad = filtered_flow("bad", "table = \"t2\" and nope = 1", any),
             *ok = filtered_flow("ok", "(table = \"t1\" and k = 5) or table = \"t9\" and x = 1",
                                 bad);
    pub_caravans_place(s, ok);
    int rejected = 0;
    int64_t deadline = wh_mono_ms() + 20000;
    while (wh_mono_ms() < deadline && (rejected < 2 || processed_offset(ok) < n ||
                                       processed_offset(exists) < n)) {
        for (pub_flow *f = ok; f; f = f->next)
            drop_output(f, true);
        if (pub_caravans_collect(s))
            rejected = (stop_of(bad) == WH_ERR_CONFIG) + (stop_of(any) == WH_ERR_CONFIG);
        sleep_ms(1);
    }
    CHECK_EQ_INT(rejected, 2);
    CHECK(bad->caravan == NULL && any->caravan == NULL);
    CHECK(ok->caravan != NULL && exists->caravan == ok->caravan);
    CHECK_EQ_INT(processed_offset(ok), n);
    CHECK_EQ_INT(processed_offset(exists), n);
    /* bad stops before update 2, the first of t2; any before update 1. */
    CHECK_EQ_INT(processed_offset(bad), 1);
    CHECK(!any->processed.set);
    CHECK(strstr(bad->stop_why, "app bad: its filter tests column 'nope' on table bench.t2 (it "
                 "names the table), but bench.t2 has no such column (its columns: id, k, name, "
                 "price, gen_ns)") != NULL);
    CHECK(strstr(any->stop_why, "column 'nope2' on any table") != NULL);
    CHECK(!stop_of(ok) && !stop_of(exists));
    /* The loop stops them for good; a retry (SIGHUP) makes them connect again. */
    pub_flow_fail_for_good(bad, WH_ERR_CONFIG, &bad->acked, bad->stop_why);
    CHECK(pub_flow_failed_retryable(bad));
    CHECK(bad->state == FLOW_FAILED && !stop_of(bad));
    CHECK(strstr(bad->failed_why, "'nope'") != NULL);
    CHECK_EQ_INT(pub_flow_tick(bad, wh_mono_ms() + 100000), 0);
    CHECK(bad->state == FLOW_FAILED);
    pub_flow_retry(bad);
    CHECK(bad->state == FLOW_BACKOFF && bad->failed_why[0] == '\0');
    close_all(s, ok);
    pub_schemas_free(P.schemas);
    P.schemas = NULL;
}

/* A caravan does not run ahead of a loop that does not take the output:
 * it stops at about FLOW_BACKLOG_BYTES (256 KiB) plus a batch, drops nobody,
 * and goes on once the output is taken. */
static void test_waits_for_loop(void)
{
    setup(0, 64 << 20);
    pub_caravans *s = pub_caravans_new(&P);
    pub_flow *f = streaming_flow("f", NULL);
    pub_caravans_place(s, f);
    CHECK(f->caravan != NULL);
    size_t queued = 0;
    int64_t deadline = wh_mono_ms() + 20000;
    while (queued < (256u << 10) && wh_mono_ms() < deadline) {
        sleep_ms(5);
        pub_mutex_lock(&f->mu);
        queued = f->out.len;
        pub_mutex_unlock(&f->mu);
    }
    sleep_ms(200);   /* unchecked, it would queue megabytes meanwhile */
    pub_mutex_lock(&f->mu);
    queued = f->out.len;
    bool ready = atomic_load(&f->out_ready);
    pub_mutex_unlock(&f->mu);
    CHECK(ready);
    CHECK(queued >= (256u << 10) && queued < (256u << 10) + (64u << 10));
    uint64_t at = processed_offset(f);
    sleep_ms(50);
    CHECK_EQ_INT(processed_offset(f), at);
    CHECK(!pub_caravans_collect(s) && f->caravan != NULL);
    drop_output(f, true);
    pub_caravan_nudge(f);
    deadline = wh_mono_ms() + 20000;
    while (processed_offset(f) == at && wh_mono_ms() < deadline)
        sleep_ms(1);
    CHECK(processed_offset(f) > at);
    close_all(s, f);
}

static uint64_t readers_started(pub_caravans *s)
{
    uint64_t bytes, started;
    pub_caravans_counters(s, &bytes, &started);
    return started;
}

/* Drains every flow of the list that has a caravan (as if sent and
 * acknowledged) until each processed offset last. */
static void drain_all(pub_flow *flows, uint64_t last)
{
    int64_t deadline = wh_mono_ms() + 20000;
    for (bool done = false; !done && wh_mono_ms() < deadline;) {
        done = true;
        for (pub_flow *f = flows; f; f = f->next) {
            if (!f->caravan)
                continue;
            drop_output(f, true);
            done &= processed_offset(f) >= last;
        }
        sleep_ms(1);
    }
}

/* Issue 17, the start-up race: without gathering (caravan_gather_ms 0), a
 * caravan starts reading at once, and a flow at the same position whose
 * HELLO_OK comes once it has delivered a batch starts a second reader. With
 * gathering the caravan waits for it: a flow still connecting at its start
 * position holds the start, one that streams then joins, and the caravan
 * reads only once nobody joined for caravan_gather_ms. */
static void test_gather(void)
{
    const uint64_t n = 2000;
    setup((int64_t)n, 4 << 20);
    pub_caravans *s = pub_caravans_new(&P);
    pub_flow *late = streaming_flow("late", NULL), *first = streaming_flow("first", late);
    late->state = FLOW_HELLO;
    pub_caravans_place(s, first);
    CHECK(first->caravan != NULL && late->caravan == NULL);
    CHECK_EQ_INT(readers_started(s), 1);
    drain_all(first, 1);
    late->state = FLOW_STREAMING;
    pub_caravans_place(s, first);
    CHECK(late->caravan != NULL && late->caravan != first->caravan);   /* the race */
    CHECK_EQ_INT(readers_started(s), 2);
    drain_all(first, n);
    pub_caravans_merge(s);   /* both at the end of the log: they merge */
    CHECK(late->caravan == first->caravan);
    close_all(s, first);

    setup((int64_t)n, 4 << 20);
    P.cfg.caravan_gather_ms = 100;
    pub_apply_live(&P);
    s = pub_caravans_new(&P);
    late = streaming_flow("late", NULL);
    first = streaming_flow("first", late);
    late->state = FLOW_HELLO;
    late->backoff_until = 0;
    pub_caravans_place(s, first);
    CHECK(first->caravan != NULL && late->caravan == NULL);
    sleep_ms(150);
    pub_caravans_place(s, first);   /* late is still connecting: no start */
    CHECK_EQ_INT(readers_started(s), 0);
    late->state = FLOW_STREAMING;
    pub_caravans_place(s, first);
    CHECK(late->caravan == first->caravan);
    CHECK_EQ_INT(readers_started(s), 0);   /* it just joined */
    sleep_ms(150);
    pub_caravans_place(s, first);
    CHECK_EQ_INT(readers_started(s), 1);
    drain_all(first, n);
    CHECK_EQ_INT(processed_offset(first), n);
    CHECK_EQ_INT(processed_offset(late), n);
    close_all(s, first);

    /* A flow that never comes holds the start 25 times caravan_gather_ms at most. */
    setup((int64_t)n, 4 << 20);
    P.cfg.caravan_gather_ms = 20;
    pub_apply_live(&P);
    s = pub_caravans_new(&P);
    late = streaming_flow("late", NULL);
    first = streaming_flow("first", late);
    late->state = FLOW_CONNECTING;
    pub_caravans_place(s, first);
    sleep_ms(300);
    pub_caravans_place(s, first);
    CHECK_EQ_INT(readers_started(s), 0);
    sleep_ms(300);
    pub_caravans_place(s, first);
    CHECK_EQ_INT(readers_started(s), 1);
    late->state = FLOW_STREAMING;   /* close_all expects no other state */
    close_all(s, first);
}

/* delivery.max_caravans: flows at three positions with a cap of two: the
 * third waits (caravan_waiting_ms), flows at a caravan's position still
 * join it, and a freed place goes to the flow that has waited longest. */
static void test_cap(void)
{
    const uint64_t n = 100000;
    setup((int64_t)n, 4 << 20);
    P.cfg.max_caravans = 2;
    P.cfg.caravan_gather_ms = 10000;   /* the caravans stay at their start positions */
    pub_apply_live(&P);
    pub_caravans *s = pub_caravans_new(&P);
    pub_flow *c = flow_at("c", 300, false, NULL), *b = flow_at("b", 200, false, c),
             *a = flow_at("a", 100, false, b);
    pub_caravans_place(s, a);
    CHECK(a->caravan != NULL && b->caravan != NULL && a->caravan != b->caravan);
    CHECK(c->caravan == NULL && c->caravan_waiting_ms > 0);
    CHECK(a->caravan_waiting_ms == 0 && b->caravan_waiting_ms == 0);
    /* A flow at a's position is never kept waiting; d, at a new one, waits after c. */
    pub_flow *d = flow_at("d", 400, false, NULL), *a2 = flow_at("a2", 100, false, d);
    c->next = a2;
    sleep_ms(5);
    pub_caravans_place(s, a);
    CHECK(a2->caravan == a->caravan);
    CHECK(d->caravan == NULL && d->caravan_waiting_ms > c->caravan_waiting_ms);
    /* b's caravan ends: c (waiting longer) gets the place, d waits on. */
    pub_caravan_leave(s, b);
    pub_caravans_reap(s);
    pub_caravans_place(s, a);
    CHECK(c->caravan != NULL && c->caravan_waiting_ms == 0);
    CHECK(d->caravan == NULL && d->caravan_waiting_ms > 0);
    pub_caravans_check(s, a);
    close_all(s, a);
}

int main(void)
{
    test_place_deliver_ack();
    test_recorded_start();
    test_slow_member_leaves();
    test_filter_misfit();
    test_waits_for_loop();
    test_gather();
    test_cap();
    json_decref(P.cfg.mapper_options);
    close(P.efd);
    close(P.epfd);
    return check_done("test_caravan");
}
