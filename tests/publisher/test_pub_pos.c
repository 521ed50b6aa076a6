/* test_pub_pos.c -- unit tests of positions in ZooKeeper JSON and of rendezvous hashing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "publisher/pub_pos.h"
#include "tests/check.h"

static void test_json(void)
{
    wh_pos p, q;
    uint64_t epoch;
    char err[256];
    wh_pos_parse(&p, "bin.000001:4/0", "0-1-1/0", err, sizeof err);
    char *j = pub_pos_to_json(&p, 7, "pub-a");
    CHECK(j != NULL);
    CHECK_EQ_INT(pub_pos_from_json(j, strlen(j), &q, &epoch, err, sizeof err), 0);
    CHECK(wh_pos_equal(&p, &q));
    CHECK_EQ_INT(epoch, 7);
    free(j);
    /* A position with only a physical part. */
    wh_pos_parse(&p, "99/2", NULL, err, sizeof err);
    j = pub_pos_to_json(&p, 1, "x");
    CHECK(strstr(j, "\"logical\":null") != NULL);
    CHECK_EQ_INT(pub_pos_from_json(j, strlen(j), &q, &epoch, err, sizeof err), 0);
    CHECK(wh_pos_equal(&p, &q));
    free(j);
    /* A MariaDB position with many domains: the longest logical text fits. */
    char logical[WH_POS_LOGICAL_MAX + 16];
    size_t n = 0;
    for (int d = 0; n + 32 < WH_POS_LOGICAL_MAX - 1; d++)
        n += (size_t)snprintf(logical + n, sizeof logical - n, "%s%d-1-%d", d ? "," : "", d,
                              1000000 + d);
    memset(logical + n, '9', WH_POS_LOGICAL_MAX - 1 - n);
    strcpy(logical + WH_POS_LOGICAL_MAX - 1, "/4");
    CHECK_EQ_INT(wh_pos_parse(&p, "bin.000009:123456/4", logical, err, sizeof err), 0);
    CHECK_EQ_INT(strlen(p.logical), WH_POS_LOGICAL_MAX - 1);
    j = pub_pos_to_json(&p, 3, "pub-b");
    CHECK(j != NULL && strstr(j, p.logical) != NULL);
    CHECK_EQ_INT(pub_pos_from_json(j, strlen(j), &q, &epoch, err, sizeof err), 0);
    CHECK(wh_pos_equal(&p, &q));
    free(j);
    /* Malformed documents. */
    const char *bad[] = { "", "[]", "{\"physical\":5}", "{\"epoch\":-1}",
                          "{\"physical\":\"nope\"}", "{\"epoch\":\"1\"}",
                          "{\"physical\":\"f:1/1\",\"logical\":\"g/2\"}",
                          "{\"logical\":\"0-1-1/\"}", "{\"physical\":\"a\\u0000b:1/0\"}" };
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
    test_json();
    test_rendezvous();
    return check_done("test_pub_pos");
}
