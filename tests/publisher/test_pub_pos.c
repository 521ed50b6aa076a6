/* test_pub_pos.c -- unit tests of publisher positions (text and ZooKeeper JSON) and rendezvous hashing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "publisher/pub_pos.h"
#include "tests/check.h"

static void test_parse(void)
{
    pub_pos p;
    char err[256], buf[800];
    CHECK_EQ_INT(pub_pos_parse(&p, "mysql-bin.000012:4567/3", "0-1-99/3", err, sizeof err), 0);
    CHECK(p.set && p.has_log_name && p.has_logical);
    CHECK_EQ_STR(p.log_name, "mysql-bin.000012");
    CHECK_EQ_INT(p.offset, 4567);
    CHECK_EQ_INT(p.index, 3);
    CHECK_EQ_STR(p.logical, "0-1-99");
    pub_pos_physical(&p, buf, sizeof buf);
    CHECK_EQ_STR(buf, "mysql-bin.000012:4567/3");
    pub_pos_logical(&p, buf, sizeof buf);
    CHECK_EQ_STR(buf, "0-1-99/3");

    /* RocksDB-style and MySQL uuid:gno logical forms. */
    CHECK_EQ_INT(pub_pos_parse(&p, "18446744073709551615/0", NULL, err, sizeof err), 0);
    CHECK(!p.has_log_name && p.offset == UINT64_MAX && !p.has_logical);
    CHECK_EQ_INT(pub_pos_parse(&p, NULL, "3e11fa47-71ca-11e1-9e33-c80aa9429562:23/1", err,
                               sizeof err), 0);
    CHECK_EQ_STR(p.logical, "3e11fa47-71ca-11e1-9e33-c80aa9429562:23");
    CHECK_EQ_INT(p.index, 1);

    /* Errors name what is wrong. */
    CHECK_EQ_INT(pub_pos_parse(&p, "mysql-bin.000012:4567", NULL, err, sizeof err),
                 WH_ERR_PARSE);
    CHECK(strstr(err, "/INDEX") != NULL);
    CHECK_EQ_INT(pub_pos_parse(&p, "f:x/1", NULL, err, sizeof err), WH_ERR_PARSE);
    CHECK_EQ_INT(pub_pos_parse(&p, "18446744073709551616/0", NULL, err, sizeof err),
                 WH_ERR_PARSE);
    CHECK_EQ_INT(pub_pos_parse(&p, "f:1/1", "g/2", err, sizeof err), WH_ERR_PARSE);
    CHECK(strstr(err, "different") != NULL);
    CHECK_EQ_INT(pub_pos_parse(&p, NULL, NULL, err, sizeof err), WH_ERR_PARSE);
    CHECK_EQ_INT(pub_pos_parse(&p, ":5/1", NULL, err, sizeof err), WH_ERR_PARSE);
}

static void test_json(void)
{
    pub_pos p, q;
    uint64_t epoch;
    char err[256];
    pub_pos_parse(&p, "bin.000001:4/0", "0-1-1/0", err, sizeof err);
    char *j = pub_pos_to_json(&p, 7, "pub-a");
    CHECK(j != NULL);
    CHECK_EQ_INT(pub_pos_from_json(j, strlen(j), &q, &epoch, err, sizeof err), 0);
    CHECK(pub_pos_equal(&p, &q));
    CHECK_EQ_INT(epoch, 7);
    free(j);
    /* A position with only a physical part. */
    pub_pos_parse(&p, "99/2", NULL, err, sizeof err);
    j = pub_pos_to_json(&p, 1, "x");
    CHECK(strstr(j, "\"logical\":null") != NULL);
    CHECK_EQ_INT(pub_pos_from_json(j, strlen(j), &q, &epoch, err, sizeof err), 0);
    CHECK(pub_pos_equal(&p, &q));
    free(j);
    /* Malformed documents. */
    const char *bad[] = { "", "[]", "{\"physical\":5}", "{\"epoch\":-1}",
                          "{\"physical\":\"nope\"}", "{\"epoch\":\"1\"}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(pub_pos_from_json(bad[i], strlen(bad[i]), &q, &epoch, err, sizeof err),
                     WH_ERR_PARSE);
    /* Empty object: no position yet. */
    CHECK_EQ_INT(pub_pos_from_json("{}", 2, &q, &epoch, err, sizeof err), 0);
    CHECK(!q.set);
}

static void test_rendezvous(void)
{
    const char *names[8] = { "a:1", "b:2", "c:3", "d:4", "e:5", "f:6", "g:7", "h:8" };
    char shard[32];
    int counts[8] = { 0 };
    int moved_wrongly = 0, moved = 0;
    for (int s = 0; s < 4000; s++) {
        snprintf(shard, sizeof shard, "shard-%d", s);
        int pick = pub_rendezvous_pick(names, 8, shard);
        CHECK(pick >= 0 && pick < 8);
        counts[pick]++;
        /* Deterministic. */
        if (pub_rendezvous_pick(names, 8, shard) != pick)
            moved_wrongly++;
        /* Removing instance 3 moves only its own shards. */
        const char *less[7];
        int k = 0;
        for (int i = 0; i < 8; i++)
            if (i != 3)
                less[k++] = names[i];
        int p2 = pub_rendezvous_pick(less, 7, shard);
        if (pick != 3 && strcmp(less[p2], names[pick]) != 0)
            moved_wrongly++;
        if (pick == 3)
            moved++;
    }
    CHECK_EQ_INT(moved_wrongly, 0);
    CHECK(moved > 0);
    /* Spread: each of 8 gets 500 +- 30%. */
    int uneven = 0;
    for (int i = 0; i < 8; i++)
        if (counts[i] < 350 || counts[i] > 650)
            uneven++;
    CHECK_EQ_INT(uneven, 0);
    CHECK_EQ_INT(pub_rendezvous_pick(names, 0, "x"), -1);
    /* Order of the list does not matter. */
    const char *rev[8];
    for (int i = 0; i < 8; i++)
        rev[i] = names[7 - i];
    int same = 1;
    for (int s = 0; s < 100; s++) {
        snprintf(shard, sizeof shard, "s%d", s);
        same &= strcmp(names[pub_rendezvous_pick(names, 8, shard)],
                       rev[pub_rendezvous_pick(rev, 8, shard)]) == 0;
    }
    CHECK(same);
}

int main(void)
{
    test_parse();
    test_json();
    test_rendezvous();
    return check_done("test_pub_pos");
}
