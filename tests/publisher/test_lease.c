/* test_lease.c -- unit tests of the election rule (publisher/pub_lease.c, pub_lease_decide; docs/FAILOVER.md "Election"). */
#include <string.h>

#include "publisher/pub_lease.h"
#include "tests/check.h"

static pub_lease_cand C[] = {
    { "pub-a", 10, true, false }, { "pub-b", 0, true, false }, { "pub-c", 5, true, false },
};
#define NC ((int)(sizeof C / sizeof C[0]))

/* A view of candidate self with the lease vacant and no move pending. */
static pub_lease_view view(const char *self)
{
    pub_lease_view v = { .self = self, .self_healthy = true, .cands = C, .ncands = NC,
                         .move_from = "", .move_to = "", .holder = "", .failback = true,
                         .grace_ms = 3000 };
    for (int i = 0; i < NC; i++)
        if (strcmp(C[i].id, self) == 0)
            v.self_priority = C[i].priority;
    return v;
}

static void test_best(void)
{
    CHECK_EQ_INT(pub_lease_best(C, NC, NULL), 0);
    CHECK_EQ_INT(pub_lease_best(C, NC, "pub-a"), 2);
    pub_lease_cand tie[] = { { "z", 1, true, false }, { "m", 1, true, false },
                             { "x", 9, false, false } };
    CHECK_EQ_INT(pub_lease_best(tie, 3, NULL), 1);    /* ties: the smaller id */
    pub_lease_cand sick[] = { { "a", 1, false, false } };
    CHECK_EQ_INT(pub_lease_best(sick, 1, NULL), -1);
    CHECK_EQ_INT(pub_lease_best(NULL, 0, NULL), -1);
}

static void test_vacant(void)
{
    pub_lease_view v = view("pub-a");
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_TAKE);      /* the best takes it at once */
    v = view("pub-b");
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);      /* not the best: waits */
    v.vacant_ms = 3000;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_TAKE);      /* ...for the grace only */
    v.self_healthy = false;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);      /* never when unhealthy */

    /* The best is unhealthy: the next best takes it. */
    pub_lease_cand c2[] = { { "pub-a", 10, false, false }, { "pub-b", 0, true, false },
                            { "pub-c", 5, true, false } };
    v = view("pub-c");
    v.cands = c2;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_TAKE);
    v = view("pub-b");
    v.cands = c2;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);

    /* Hold-off after our own hand-over, unless the grace passed. */
    v = view("pub-a");
    v.holdoff = true;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);
    v.vacant_ms = 5000;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_TAKE);
}

static void test_move_vacant(void)
{
    /* pub-a handed over to pub-b: pub-b takes it, pub-a and pub-c do not. */
    pub_lease_view v = view("pub-b");
    v.move = true;
    v.move_from = "pub-a";
    v.move_to = "pub-b";
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_TAKE);
    v = view("pub-c");
    v.move = true;
    v.move_from = "pub-a";
    v.move_to = "pub-b";
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);
    /* Without a target: the best other than the mover. */
    v.move_to = "";
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_TAKE);
    v = view("pub-a");
    v.move = true;
    v.move_from = "pub-a";
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);
}

static void test_active(void)
{
    pub_lease_view v = view("pub-a");
    v.active = v.held = true;
    v.holder = "pub-a";
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);
    v.self_healthy = false;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_HAND_OVER);  /* resign */
    v.self_healthy = true;
    v.move = true;
    v.move_from = "pub-a";
    v.move_to = "pub-b";
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_HAND_OVER);
    v.move_to = "";
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_HAND_OVER);
    v.move_to = "pub-x";                                       /* not a candidate */
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_DROP_MOVE);
    v.move_to = "pub-a";                                       /* ourselves */
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_DROP_MOVE);
    v.move_to = "pub-b";
    v.move_from = "pub-c";                                     /* addressed to another */
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);
    pub_lease_cand alone[] = { { "pub-a", 10, true, false }, { "pub-b", 0, false, false } };
    v.cands = alone;
    v.ncands = 2;
    v.move_from = "";
    v.move_to = "";
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_DROP_MOVE);   /* nobody healthy to take it */
    v.move_to = "pub-b";
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_DROP_MOVE);
}

/* pub-b took the vacant lease on a view without pub-a, which registered
 * (healthy, better) before the lease node was created: pub-b's first round
 * as active hands the shard over; not when the election saw pub-a, after a
 * move, or in a later round. */
static void test_missed(void)
{
    pub_lease_cand c[] = { { "pub-a", 10, true, false }, { "pub-b", 0, true, false } };
    char *saw_b[] = { "pub-b" }, *saw_both[] = { "pub-a", "pub-b" };
    pub_lease_view v = { .self = "pub-b", .self_healthy = true, .cands = c, .ncands = 2,
                         .move_from = "", .move_to = "", .holder = "pub-b", .held = true,
                         .active = true, .failback = true, .grace_ms = 3000,
                         .fresh_take = true, .elected_on = saw_b, .nelected = 1 };
    CHECK_EQ_INT(pub_lease_missed(&v), 0);
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_HAND_OVER);
    v.elected_on = saw_both;
    v.nelected = 2;
    CHECK_EQ_INT(pub_lease_missed(&v), -1);   /* seen (say, holding off): its call */
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);
    v.elected_on = saw_b;
    v.nelected = 1;
    v.fresh_take = false;                     /* a later round: failback's business */
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);
    v.fresh_take = true;
    c[0].healthy = false;                     /* the newcomer is not healthy */
    CHECK_EQ_INT(pub_lease_missed(&v), -1);
    c[0].healthy = true;
    v.move = true;                            /* a move is pending: it decides */
    CHECK_EQ_INT(pub_lease_missed(&v), -1);
    v.move = false;
    v.active = false;
    CHECK_EQ_INT(pub_lease_missed(&v), -1);
}

static void test_failback(void)
{
    /* pub-b holds the lease since t=1000; preferred pub-a became healthy at t=2000. */
    pub_lease_view v = view("pub-a");
    v.held = true;
    v.holder = "pub-b";
    v.holder_priority = 0;
    v.lease_ctime = 1000;
    v.self_since = 2000;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_ASK_FAILBACK);
    v.failback = false;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);
    v.failback = true;
    v.self_since = 500;      /* healthy before the lease: a planned move away sticks */
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);
    v.self_since = 2000;
    v.move = true;           /* one request at a time */
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);
    v.move = false;
    /* Not above the holder, or not the best: no failback. */
    v = view("pub-b");
    v.held = true;
    v.holder = "pub-c";
    v.holder_priority = 5;
    v.lease_ctime = 1000;
    v.self_since = 2000;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);
    v = view("pub-c");
    v.held = true;
    v.holder = "pub-b";
    v.lease_ctime = 1000;
    v.self_since = 2000;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);    /* pub-a is healthy and better */
    v.self_healthy = false;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);
}

static void test_startup(void)
{
    /* Started together: pub-a (10) registered but its first check has not
     * ended; pub-c (5) and pub-b (0) are healthy. */
    pub_lease_cand st[] = { { "pub-a", 10, false, true }, { "pub-b", 0, true, false },
                            { "pub-c", 5, true, false } };
    pub_lease_view v = view("pub-c");
    v.cands = st;
    CHECK_EQ_INT(pub_lease_better_starting(&v, NULL), 0);
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);     /* waits for pub-a's check */
    v.vacant_ms = 3000;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_TAKE);     /* ...for the grace only */
    v = view("pub-b");
    v.cands = st;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);     /* not the best anyway */
    /* pub-a's check ended unhealthy: not starting any more, pub-c takes it. */
    st[0].starting = false;
    v = view("pub-c");
    v.cands = st;
    CHECK_EQ_INT(pub_lease_better_starting(&v, NULL), -1);
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_TAKE);
    /* A starting candidate below us, or the mover, is not waited for. */
    pub_lease_cand low[] = { { "pub-a", 10, true, false }, { "pub-b", 0, false, true } };
    v = view("pub-a");
    v.cands = low;
    v.ncands = 2;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_TAKE);
    pub_lease_cand mv[] = { { "pub-a", 10, false, true }, { "pub-c", 5, true, false } };
    v = view("pub-c");
    v.cands = mv;
    v.ncands = 2;
    v.move = true;
    v.move_from = "pub-a";
    CHECK_EQ_INT(pub_lease_better_starting(&v, "pub-a"), -1);
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_TAKE);
    /* Equal priority: the smaller id is better, so it is waited for. */
    pub_lease_cand eq[] = { { "pub-a", 5, false, true }, { "pub-c", 5, true, false } };
    v = view("pub-c");
    v.cands = eq;
    v.ncands = 2;
    CHECK_EQ_INT(pub_lease_decide(&v), PUB_LEASE_NONE);
}

static void test_next(void)
{
    /* pub-a (10) holds the lease: pub-c (5) is next in line, pub-b (0) is not. */
    pub_lease_view v = view("pub-c");
    v.held = true;
    v.holder = "pub-a";
    CHECK(pub_lease_next(&v));
    v = view("pub-b");
    v.held = true;
    v.holder = "pub-a";
    CHECK(!pub_lease_next(&v));
    v = view("pub-c");
    v.held = true;
    v.holder = "pub-a";
    v.self_healthy = false;
    CHECK(!pub_lease_next(&v));                               /* unhealthy: never */
    v = view("pub-a");
    v.held = true;
    v.holder = "pub-a";
    v.active = true;
    CHECK(!pub_lease_next(&v));                               /* the holder itself */
    v = view("pub-a");
    CHECK(pub_lease_next(&v));                                /* vacant: the best */
    /* pub-a holds the lease from its old session and registered again after a
     * restart: when the old lease goes, pub-a (10) is still the best, not pub-c. */
    v = view("pub-c");
    v.held = true;
    v.holder = "pub-a";
    v.holder_restarted = true;
    CHECK(!pub_lease_next(&v));
}

int main(void)
{
    test_best();
    test_vacant();
    test_move_vacant();
    test_active();
    test_failback();
    test_missed();
    test_startup();
    test_next();
    CHECK_EQ_STR(pub_lease_action_name(PUB_LEASE_TAKE), "take");
    return check_done("test_lease");
}
