/* test_zk_layout.c -- unit tests of protocol/zk_layout.c: paths, names, node data of each node, rendezvous hashing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/filter.h"
#include "protocol/zk_layout.h"
#include "tests/check.h"

static void test_paths(void)
{
    char p[ZKU_PATH_MAX];
    CHECK_EQ_INT(zku_path_apps(p, sizeof p, "/wh"), WH_OK);
    CHECK_EQ_STR(p, "/wh/apps");
    CHECK_EQ_INT(zku_path_app(p, sizeof p, "/wh", "a"), WH_OK);
    CHECK_EQ_STR(p, "/wh/apps/a");
    CHECK_EQ_INT(zku_path_instances(p, sizeof p, "/wh", "a"), WH_OK);
    CHECK_EQ_STR(p, "/wh/apps/a/instances");
    CHECK_EQ_INT(zku_path_instance(p, sizeof p, "/wh", "a", "i:1"), WH_OK);
    CHECK_EQ_STR(p, "/wh/apps/a/instances/i:1");
    CHECK_EQ_INT(zku_path_positions(p, sizeof p, "/wh", "a"), WH_OK);
    CHECK_EQ_STR(p, "/wh/apps/a/positions");
    CHECK_EQ_INT(zku_path_position(p, sizeof p, "/wh", "a", "s1"), WH_OK);
    CHECK_EQ_STR(p, "/wh/apps/a/positions/s1");
    CHECK_EQ_INT(zku_path_shard(p, sizeof p, "/wh", "s1"), WH_OK);
    CHECK_EQ_STR(p, "/wh/shards/s1");
    CHECK_EQ_INT(zku_path_epoch(p, sizeof p, "/wh", "s1"), WH_OK);
    CHECK_EQ_STR(p, "/wh/shards/s1/epoch");
    CHECK_EQ_INT(zku_path_publishers(p, sizeof p, "/wh", "s1"), WH_OK);
    CHECK_EQ_STR(p, "/wh/shards/s1/publishers");
    CHECK_EQ_INT(zku_path_publisher(p, sizeof p, "/wh", "s1", "pub-a"), WH_OK);
    CHECK_EQ_STR(p, "/wh/shards/s1/publishers/pub-a");

    /* Too small: an error and an empty buffer, never a truncated path. */
    char small[16];
    CHECK_EQ_INT(zku_path_position(small, sizeof small, "/wh", "app", "shard"), WH_ERR_LIMIT);
    CHECK_EQ_STR(small, "");
    CHECK_EQ_INT(zku_path_apps(small, 9, "/wh"), WH_OK);        /* "/wh/apps" + NUL: fits */
    CHECK_EQ_INT(zku_path_apps(small, 8, "/wh"), WH_ERR_LIMIT); /* one byte short */

    /* The longest valid root and names fit ZKU_PATH_MAX. */
    char root[ZKU_ROOT_MAX + 1], name[ZKU_NAME_MAX + 1], id[ZKU_ID_MAX + 1];
    memset(root, 'r', ZKU_ROOT_MAX);
    root[0] = '/';
    root[ZKU_ROOT_MAX] = '\0';
    memset(name, 'n', ZKU_NAME_MAX);
    name[ZKU_NAME_MAX] = '\0';
    memset(id, 'i', ZKU_ID_MAX);
    id[ZKU_ID_MAX] = '\0';
    CHECK(zku_valid_root(root) && zku_valid_name(name));
    CHECK_EQ_INT(zku_path_instance(p, sizeof p, root, name, name), WH_OK);
    CHECK_EQ_INT(zku_path_position(p, sizeof p, root, name, name), WH_OK);
    CHECK_EQ_INT(zku_path_publisher(p, sizeof p, root, name, id), WH_OK);
}

static void test_names(void)
{
    CHECK(zku_valid_name("app-1.x_y:z"));
    CHECK(!zku_valid_name(NULL));
    CHECK(!zku_valid_name(""));
    CHECK(!zku_valid_name("."));
    CHECK(!zku_valid_name(".."));
    CHECK(!zku_valid_name("a/b"));
    CHECK(!zku_valid_name("a b"));
    char n[ZKU_NAME_MAX + 2];
    memset(n, 'a', sizeof n - 1);
    n[sizeof n - 1] = '\0';
    CHECK(!zku_valid_name(n));          /* 129 characters */
    n[ZKU_NAME_MAX] = '\0';
    CHECK(zku_valid_name(n));           /* 128 */

    CHECK(zku_valid_root("/wormhole"));
    CHECK(!zku_valid_root("wormhole"));
    CHECK(!zku_valid_root(NULL));

    char hosts[64], root[64];
    CHECK(zku_split_connect("h1:2181,h2:2181/a/b/", hosts, sizeof hosts, root, sizeof root));
    CHECK_EQ_STR(hosts, "h1:2181,h2:2181");
    CHECK_EQ_STR(root, "/a/b");
    CHECK(zku_split_connect("h:1", hosts, sizeof hosts, root, sizeof root));
    CHECK_EQ_STR(root, ZKU_DEFAULT_ROOT);
    CHECK(!zku_split_connect("/root", hosts, sizeof hosts, root, sizeof root));   /* no hosts */
    CHECK(!zku_split_connect("h:1/", hosts, sizeof hosts, root, sizeof root));    /* root "/" */
    CHECK(!zku_split_connect("h:1/a//b", hosts, sizeof hosts, root, sizeof root));
    CHECK(!zku_split_connect("h:1/abc", hosts, sizeof hosts, root, 4));           /* too long */
}

static void test_instance(void)
{
    char err[256], *j = NULL;
    zku_instance in;
    /* The bytes a subscriber registers (docs/ZOOKEEPER.md). */
    CHECK_EQ_INT(zku_instance_to_json("127.0.0.1:5000", NULL, NULL, 42, &j, err, sizeof err),
                 WH_OK);
    CHECK_EQ_STR(j, "{\"endpoint\":\"127.0.0.1:5000\",\"filter\":null,\"pid\":42,\"protocol\":1,"
                    "\"shards\":\"all\"}");
    CHECK_EQ_INT(zku_instance_from_json(j, strlen(j), &in, err, sizeof err), WH_OK);
    CHECK_EQ_STR(in.endpoint, "127.0.0.1:5000");
    CHECK(in.filter_json == NULL && in.all_shards && in.protocol == 1 && in.pid == 42);
    CHECK(zku_instance_takes_shard(&in, "anything"));
    zku_instance_free(&in);
    free(j);

    const char *shards[] = { "s1", "s2", NULL };
    const char *filter = "{\"op\":\"eq\",\"field\":\"db\",\"value\":\"shop\"}";
    CHECK_EQ_INT(zku_instance_to_json("[::1]:7", filter, shards, 1, &j, err, sizeof err), WH_OK);
    CHECK(strstr(j, "\"shards\":[\"s1\",\"s2\"]") != NULL);
    CHECK_EQ_INT(zku_instance_from_json(j, strlen(j), &in, err, sizeof err), WH_OK);
    CHECK(!in.all_shards && in.nshards == 2);
    CHECK(zku_instance_takes_shard(&in, "s2") && !zku_instance_takes_shard(&in, "s3"));
    /* The publisher gets the filter compact, keys as the subscriber sorted them. */
    CHECK_EQ_STR(in.filter_json, "{\"field\":\"db\",\"op\":\"eq\",\"value\":\"shop\"}");
    zku_instance_free(&in);
    zku_instance_free(&in);   /* zeroed: a second free is harmless */
    zku_instance_free(NULL);
    free(j);

    /* What the reader accepts of "shards". */
    static const struct { const char *doc; int takes; } cases[] = {
        { "{\"endpoint\":\"e\"}", 1 },
        { "{\"endpoint\":\"e\",\"shards\":null}", 1 },
        { "{\"endpoint\":\"e\",\"shards\":\"all\"}", 1 },
        { "{\"endpoint\":\"e\",\"shards\":\"s1\"}", 0 },
        { "{\"endpoint\":\"e\",\"shards\":[5,\"s1\"]}", 1 },
        { "{\"endpoint\":\"e\",\"shards\":[\"s9\"]}", 0 },
        { "{\"endpoint\":\"e\",\"shards\":7}", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_EQ_INT(zku_instance_from_json(cases[i].doc, strlen(cases[i].doc), &in, err,
                                            sizeof err), WH_OK);
        CHECK_EQ_INT(zku_instance_takes_shard(&in, "s1"), cases[i].takes);
        zku_instance_free(&in);
    }
    /* Not an instance. */
    const char *bad[] = { "", "[]", "{\"endpoint\":5}", "{}", "{\"endpoint\":\"e\"" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(zku_instance_from_json(bad[i], strlen(bad[i]), &in, err, sizeof err),
                     WH_ERR_PARSE);
        CHECK(strstr(err, "endpoint") != NULL);
        zku_instance_free(&in);
    }
    /* The size limit is the writer's too: no node the publisher cannot read. */
    size_t n = ZKU_INSTANCE_MAX;
    char *big = malloc(n + 16);
    snprintf(big, n + 16, "\"%0*d\"", (int)n, 0);
    CHECK_EQ_INT(zku_instance_to_json("h:1", big, NULL, 1, &j, err, sizeof err), WH_ERR_LIMIT);
    CHECK(j == NULL && strstr(err, "limit") != NULL);
    free(big);
    CHECK_EQ_INT(zku_instance_to_json("h:1", "{not json", NULL, 1, &j, err, sizeof err),
                 WH_ERR_INVALID);
}

static void test_app(void)
{
    char err[256], *j = NULL;
    zku_app a;
    /* The bytes the first instance of an app writes (docs/ZOOKEEPER.md). */
    CHECK_EQ_INT(zku_app_with_filter("", 0, NULL, "i1", &j, err, sizeof err), WH_OK);
    CHECK_EQ_STR(j, "{\"filter\":null,\"set_by\":\"i1\"}");
    CHECK_EQ_INT(zku_app_from_json(j, strlen(j), &a, err, sizeof err), WH_OK);
    CHECK(a.recorded && a.filter_json == NULL);
    CHECK_EQ_STR(a.set_by, "i1");
    zku_app_free(&a);
    free(j);
    /* The filter travels as a string: its numbers stay exact, byte for byte. */
    const char *filter = "{\"in\":[\"big\",[18446744073709551615,0.1,1e400]]}";
    CHECK_EQ_INT(zku_app_with_filter(NULL, 0, filter, "host:1", &j, err, sizeof err), WH_OK);
    CHECK_EQ_STR(j, "{\"filter\":\"{\\\"in\\\":[\\\"big\\\",[18446744073709551615,0.1,1e400]]}\","
                    "\"set_by\":\"host:1\"}");
    CHECK_EQ_INT(zku_app_from_json(j, strlen(j), &a, err, sizeof err), WH_OK);
    CHECK_EQ_STR(a.filter_json, filter);
    CHECK(zku_app_same_filter(a.filter_json, filter));
    CHECK(!zku_app_same_filter(a.filter_json, NULL) && !zku_app_same_filter(NULL, filter));
    CHECK(zku_app_same_filter(NULL, NULL));
    CHECK(!zku_app_same_filter(filter, "{\"in\":[\"big\",[1]]}"));
    zku_app_free(&a);
    zku_app_free(&a);
    zku_app_free(NULL);
    free(j);
    /* An app node made before apps kept their filter has no data: no record. */
    CHECK_EQ_INT(zku_app_from_json("", 0, &a, err, sizeof err), WH_OK);
    CHECK(!a.recorded && !a.filter_json);
    zku_app_free(&a);
    /* An object without "filter" is no record of it (the settings alone). */
    const char *settings = "{\"on_purged\":\"oldest\"}", *both = "{\"on_purged\":\"oldest\",\"x\":1}";
    CHECK_EQ_INT(zku_app_from_json(settings, strlen(settings), &a, err, sizeof err), WH_OK);
    CHECK(!a.recorded && !a.filter_json);
    zku_app_free(&a);
    /* Each writer keeps the other's fields. */
    zku_app_settings st = { .on_purged_oldest = true };
    char *j2 = NULL;
    CHECK_EQ_INT(zku_app_with_filter(both, strlen(both), "true", "i2", &j, err, sizeof err),
                 WH_OK);
    CHECK_EQ_STR(j, "{\"filter\":\"true\",\"on_purged\":\"oldest\",\"set_by\":\"i2\",\"x\":1}");
    st.on_purged_oldest = false;
    CHECK_EQ_INT(zku_app_settings_to_json(j, strlen(j), &st, &j2, err, sizeof err), WH_OK);
    CHECK_EQ_STR(j2, "{\"filter\":\"true\",\"on_purged\":\"stop\",\"set_by\":\"i2\",\"x\":1}");
    CHECK_EQ_INT(zku_app_from_json(j2, strlen(j2), &a, err, sizeof err), WH_OK);
    CHECK(a.recorded);
    CHECK_EQ_STR(a.filter_json, "true");
    zku_app_free(&a);
    free(j);
    free(j2);
    /* Data that is not an object is replaced. */
    CHECK_EQ_INT(zku_app_with_filter("junk", 4, NULL, "i3", &j, err, sizeof err), WH_OK);
    CHECK_EQ_STR(j, "{\"filter\":null,\"set_by\":\"i3\"}");
    free(j);
    /* Unknown fields are ignored; set_by is optional. */
    const char *doc = "{\"filter\":\"true\",\"later\":[1]}";
    CHECK_EQ_INT(zku_app_from_json(doc, strlen(doc), &a, err, sizeof err), WH_OK);
    CHECK(a.recorded);
    CHECK_EQ_STR(a.filter_json, "true");
    CHECK_EQ_STR(a.set_by, "");
    zku_app_free(&a);
    /* Not an app record. */
    const char *bad[] = { "x", "[]", "{\"filter\":{\"eq\":[\"a\",1]}}", "{\"filter\":5}",
                          "{\"filter\":\"a\"" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(zku_app_from_json(bad[i], strlen(bad[i]), &a, err, sizeof err),
                     WH_ERR_PARSE);
        CHECK(strstr(err, "app object") != NULL);
        CHECK(!a.recorded);
        zku_app_free(&a);
    }
    /* The size limit. */
    size_t n = ZKU_APP_MAX;
    char *big = malloc(n + 16);
    memset(big, 'a', n);
    big[n] = '\0';
    CHECK_EQ_INT(zku_app_with_filter("", 0, big, "i", &j, err, sizeof err), WH_ERR_LIMIT);
    CHECK(j == NULL && strstr(err, "app node") != NULL);
    free(big);
}

static void test_position(void)
{
    char err[256], *j;
    zku_position p;
    CHECK_EQ_INT(zku_position_to_json("bin.000001:4/0", "0-1-1/0", "mysql server_id=1", 7,
                                      "pub-a", &j, err, sizeof err), WH_OK);
    CHECK_EQ_STR(j, "{\"copy\":\"mysql server_id=1\",\"epoch\":7,\"logical\":\"0-1-1/0\","
                    "\"physical\":\"bin.000001:4/0\",\"publisher\":\"pub-a\"}");
    CHECK_EQ_INT(zku_position_from_json(j, strlen(j), &p, err, sizeof err), WH_OK);
    CHECK_EQ_STR(p.physical, "bin.000001:4/0");
    CHECK_EQ_STR(p.logical, "0-1-1/0");
    CHECK_EQ_STR(p.publisher, "pub-a");
    CHECK_EQ_STR(p.copy, "mysql server_id=1");
    CHECK_EQ_INT(p.epoch, 7);
    CHECK_EQ_INT(p.event_ms, 0);   /* no event time written: unknown */
    /* The event time of the acknowledged position (wormhole-ctl's lag):
     * added by key order, read back; unknown (<= 0) adds nothing. */
    CHECK_EQ_INT(zku_position_add_event_ms(&j, 1764770000000LL, err, sizeof err), WH_OK);
    CHECK_EQ_STR(j, "{\"copy\":\"mysql server_id=1\",\"epoch\":7,\"event_ms\":1764770000000,"
                    "\"logical\":\"0-1-1/0\",\"physical\":\"bin.000001:4/0\","
                    "\"publisher\":\"pub-a\"}");
    CHECK_EQ_INT(zku_position_from_json(j, strlen(j), &p, err, sizeof err), WH_OK);
    CHECK_EQ_INT(p.event_ms, 1764770000000LL);
    CHECK_EQ_STR(p.physical, "bin.000001:4/0");
    char *before = strdup(j);
    CHECK_EQ_INT(zku_position_add_event_ms(&j, 0, err, sizeof err), WH_OK);
    CHECK_EQ_STR(j, before);
    free(before);
    free(j);
    CHECK_EQ_INT(zku_position_from_json("{\"event_ms\":null}", 17, &p, err, sizeof err), WH_OK);
    CHECK_EQ_INT(p.event_ms, 0);
    /* Nodes written before the copy field: it reads as "" (docs/FAILOVER.md
     * says how such positions are used); null is the same. */
    const char *old = "{\"epoch\":2,\"logical\":\"0-1-9/1\",\"physical\":\"b.000002:99/1\","
                      "\"publisher\":\"p\"}";
    CHECK_EQ_INT(zku_position_from_json(old, strlen(old), &p, err, sizeof err), WH_OK);
    CHECK_EQ_STR(p.copy, "");
    CHECK_EQ_STR(p.logical, "0-1-9/1");
    CHECK_EQ_INT(zku_position_from_json("{\"copy\":null}", 13, &p, err, sizeof err), WH_OK);
    CHECK_EQ_STR(p.copy, "");
    /* A copy identity longer than its field is refused by the writer. */
    char longcopy[ZKU_COPY_MAX + 1];
    memset(longcopy, 'c', ZKU_COPY_MAX);
    longcopy[ZKU_COPY_MAX] = '\0';
    j = (char *)1;
    CHECK_EQ_INT(zku_position_to_json("b.000001:4/0", NULL, longcopy, 1, "x", &j, err, sizeof err),
                 WH_ERR_LIMIT);
    CHECK(j == NULL);
    /* Only a physical part; "" is written as null. */
    CHECK_EQ_INT(zku_position_to_json("99/2", "", "", 1, "x", &j, err, sizeof err), WH_OK);
    CHECK(strstr(j, "\"logical\":null") != NULL);
    CHECK(strstr(j, "copy") == NULL);   /* "" copy: the field is left out */
    CHECK_EQ_INT(zku_position_from_json(j, strlen(j), &p, err, sizeof err), WH_OK);
    CHECK_EQ_STR(p.physical, "99/2");
    CHECK_EQ_STR(p.logical, "");
    free(j);
    /* A claim without a position (a new publisher's placeholder). */
    CHECK_EQ_INT(zku_position_to_json(NULL, NULL, NULL, 3, "x", &j, err, sizeof err), WH_OK);
    CHECK_EQ_STR(j, "{\"epoch\":3,\"logical\":null,\"physical\":null,\"publisher\":\"x\"}");
    free(j);
    /* Empty object: no position yet, epoch 0. */
    CHECK_EQ_INT(zku_position_from_json("{}", 2, &p, err, sizeof err), WH_OK);
    CHECK(!p.physical[0] && !p.logical[0] && p.epoch == 0 && !p.publisher[0]);
    /* Malformed documents. */
    const char *bad[] = { "", "[]", "{\"physical\":5}", "{\"epoch\":-1}", "{\"epoch\":\"1\"}",
                          "{\"logical\":[]}", "{\"copy\":7}", "{\"event_ms\":-5}",
                          "{\"event_ms\":\"1\"}", "{\"event_ms\":1.5}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(zku_position_from_json(bad[i], strlen(bad[i]), &p, err, sizeof err),
                     WH_ERR_PARSE);
    /* A text form too long for its buffer is an error, not a cut. */
    char doc[ZKU_POS_TEXT_MAX + 64];
    snprintf(doc, sizeof doc, "{\"physical\":\"%0*d/0\"}", ZKU_POS_TEXT_MAX, 0);
    CHECK_EQ_INT(zku_position_from_json(doc, strlen(doc), &p, err, sizeof err), WH_ERR_PARSE);
    CHECK(strstr(err, "longer") != NULL);
    /* The longest logical text a position can have (wormhole/position.h: a
     * MariaDB list of many domains) is stored whole, never cut. */
    char logical[WH_POS_LOGICAL_TEXT_MAX];
    size_t n = 0;
    for (int d = 0; n + 32 < WH_POS_LOGICAL_MAX - 1; d++)
        n += (size_t)snprintf(logical + n, sizeof logical - n, "%s%d-1-%d", d ? "," : "", d,
                              1000000 + d);
    memset(logical + n, '9', WH_POS_LOGICAL_MAX - 1 - n);
    strcpy(logical + WH_POS_LOGICAL_MAX - 1, "/4");
    CHECK_EQ_INT(zku_position_to_json("bin.000009:123456/4", logical, NULL, 3, "pub-b", &j, err,
                                      sizeof err), WH_OK);
    CHECK_EQ_INT(zku_position_from_json(j, strlen(j), &p, err, sizeof err), WH_OK);
    CHECK_EQ_STR(p.logical, logical);
    wh_pos pos;
    CHECK_EQ_INT(wh_pos_parse(&pos, p.physical, p.logical, err, sizeof err), WH_OK);
    CHECK_EQ_INT(strlen(pos.logical), WH_POS_LOGICAL_MAX - 1);
    free(j);
    /* A NUL inside a text form is not a shorter text. */
    const char *nul = "{\"physical\":\"a\\u0000b:1/0\"}";
    CHECK(zku_position_from_json(nul, strlen(nul), &p, err, sizeof err) == WH_ERR_PARSE ||
          wh_pos_parse(&pos, p.physical, NULL, err, sizeof err) != WH_OK);
}

/* A new app's start (docs/ZOOKEEPER.md): "start":true marks a position not
 * yet delivered; a node without it (every node written before the marker
 * existed) is acknowledged up to and including its position. */
static void test_position_start(void)
{
    char err[256], *j;
    zku_position p;
    CHECK_EQ_INT(zku_position_start_to_json("bin.000001:4/0", "0-1-1/0", "c1", 7, "pub-a", &j,
                                            err, sizeof err), WH_OK);
    CHECK_EQ_STR(j, "{\"copy\":\"c1\",\"epoch\":7,\"logical\":\"0-1-1/0\",\"physical\":\"bin.000001:4/0\","
                    "\"publisher\":\"pub-a\",\"start\":true}");
    CHECK_EQ_INT(zku_position_from_json(j, strlen(j), &p, err, sizeof err), WH_OK);
    CHECK(p.start);
    CHECK_EQ_STR(p.physical, "bin.000001:4/0");
    CHECK_EQ_STR(p.logical, "0-1-1/0");
    CHECK_EQ_STR(p.publisher, "pub-a");
    CHECK_EQ_STR(p.copy, "c1");
    CHECK_EQ_INT(p.epoch, 7);
    free(j);
    /* The plain writer never marks; an old node reads as acknowledged. */
    CHECK_EQ_INT(zku_position_to_json("bin.000001:4/0", NULL, NULL, 7, "pub-a", &j, err, sizeof err),
                 WH_OK);
    CHECK(strstr(j, "start") == NULL);
    CHECK_EQ_INT(zku_position_from_json(j, strlen(j), &p, err, sizeof err), WH_OK);
    CHECK(!p.start);
    free(j);
    const char *old = "{\"epoch\":2,\"logical\":null,\"physical\":\"7/0\",\"publisher\":\"p\"}";
    CHECK_EQ_INT(zku_position_from_json(old, strlen(old), &p, err, sizeof err), WH_OK);
    CHECK(!p.start && p.epoch == 2);
    CHECK_EQ_STR(p.physical, "7/0");
    const char *no = "{\"physical\":\"7/0\",\"start\":false}";
    CHECK_EQ_INT(zku_position_from_json(no, strlen(no), &p, err, sizeof err), WH_OK);
    CHECK(!p.start);
    /* Anything but a boolean is refused, not read as either. */
    const char *bad[] = { "{\"start\":1}", "{\"start\":\"true\"}", "{\"start\":null}",
                          "{\"start\":{}}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(zku_position_from_json(bad[i], strlen(bad[i]), &p, err, sizeof err),
                     WH_ERR_PARSE);
        CHECK(strstr(err, "start") != NULL);
    }
    /* The largest node with the marker still fits the limit (the sizes
     * test covers the texts; the marker adds 13 bytes). */
    char phys[WH_POS_PHYSICAL_TEXT_MAX], logi[WH_POS_LOGICAL_TEXT_MAX];
    memset(phys, '"', WH_POS_LOG_NAME_MAX - 1);
    snprintf(phys + WH_POS_LOG_NAME_MAX - 1, sizeof phys - (WH_POS_LOG_NAME_MAX - 1), ":1/2");
    memset(logi, '\\', WH_POS_LOGICAL_MAX - 1);
    snprintf(logi + WH_POS_LOGICAL_MAX - 1, sizeof logi - (WH_POS_LOGICAL_MAX - 1), "/2");
    CHECK_EQ_INT(zku_position_start_to_json(phys, logi, NULL, 1, "x", &j, err, sizeof err), WH_OK);
    CHECK(strlen(j) < ZKU_POSITION_MAX);
    CHECK_EQ_INT(zku_position_from_json(j, strlen(j), &p, err, sizeof err), WH_OK);
    CHECK(p.start);
    CHECK_EQ_STR(p.physical, phys);
    CHECK_EQ_STR(p.logical, logi);
    free(j);
}

static void test_epoch_and_publisher(void)
{
    char buf[ZKU_EPOCH_MAX], err[128], *j;
    CHECK_EQ_INT(zku_epoch_format(buf, sizeof buf, 18446744073709551615ull), 20);
    CHECK_EQ_STR(buf, "18446744073709551615");
    CHECK_EQ_INT(zku_epoch_parse(buf, strlen(buf)), 18446744073709551615ull);
    CHECK_EQ_INT(zku_epoch_parse("42", 2), 42);
    CHECK_EQ_INT(zku_epoch_parse("421", 2), 42);    /* only len bytes */
    CHECK_EQ_INT(zku_epoch_parse("", 0), 0);
    CHECK_EQ_INT(zku_epoch_parse("x", 1), 0);
    CHECK_EQ_INT(zku_publisher_to_json(3, "h", 9, &j, err, sizeof err), WH_OK);
    CHECK_EQ_STR(j, "{\"epoch\":3,\"host\":\"h\",\"pid\":9}");
    free(j);
    CHECK_EQ_INT(zku_publisher_to_json(3, "a\"b", 9, &j, err, sizeof err), WH_OK);
    CHECK_EQ_STR(j, "{\"epoch\":3,\"host\":\"a\\\"b\",\"pid\":9}");   /* escaped */
    free(j);
}

/* Node sizes (docs/ZOOKEEPER.md): every node the project writes at its
 * largest fits its limit and reads back whole. The instance node holds a
 * filter of 64 KiB of text in the shapes whose JSON grows most, next to a
 * thousand shards of the longest names; the position node the longest
 * text forms and publisher id with every byte escaped. */
static void test_node_sizes(void)
{
    static const char *const units[] = { "a=x''", "a='\x01'", "a=1", "col_name = \"v\"" };
    char err[512], *j;
    const size_t nshards = 1000;
    char **shards = calloc(nshards + 1, sizeof *shards);
    for (size_t i = 0; i < nshards; i++) {
        shards[i] = malloc(ZKU_NAME_MAX + 1);
        snprintf(shards[i], ZKU_NAME_MAX + 1, "%0*zu", ZKU_NAME_MAX, i);
    }
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t cap = 65536, n = 0, ul = strlen(units[u]);
        char *text = malloc(cap + 1);
        while (n + ul + 4 <= cap) {
            if (n) {
                memcpy(text + n, " or ", 4);
                n += 4;
            }
            memcpy(text + n, units[u], ul);
            n += ul;
        }
        text[n] = '\0';
        CHECK(n > 65536 - 16);
        wh_filter *f = NULL;
        wh_buf fj = WH_BUF_INIT;
        CHECK_EQ_INT(wh_filter_parse_text(text, n, &f, err, sizeof err), WH_OK);
        CHECK_EQ_INT(wh_filter_to_json(f, &fj), WH_OK);
        int rc = zku_instance_to_json("host.example:12345", fj.data, (const char *const *)shards,
                                      4194304, &j, err, sizeof err);
        CHECK_EQ_INT(rc, WH_OK);
        if (rc != WH_OK) {
            fprintf(stderr, "  filter of %zu bytes (JSON %zu): %s\n", n, fj.len, err);
        } else {
            zku_instance in;
            CHECK(strlen(j) < ZKU_INSTANCE_MAX);
            CHECK_EQ_INT(zku_instance_from_json(j, strlen(j), &in, err, sizeof err), WH_OK);
            CHECK_EQ_INT(in.nshards, nshards);
            wh_filter *g = NULL;
            CHECK(in.filter_json && wh_filter_parse_json(in.filter_json, strlen(in.filter_json),
                                                         &g, err, sizeof err) == WH_OK &&
                  wh_filter_equal(f, g));
            wh_filter_free(g);
            zku_instance_free(&in);
            free(j);
        }
        wh_filter_free(f);
        wh_buf_free(&fj);
        free(text);
    }
    /* One over the limit is refused by the writer, saying the limit. */
    size_t big = ZKU_INSTANCE_MAX;
    char *doc = malloc(big + 16);
    snprintf(doc, big + 16, "\"%0*d\"", (int)big - 40, 0);
    CHECK_EQ_INT(zku_instance_to_json("h:1", doc, NULL, 1, &j, err, sizeof err), WH_ERR_LIMIT);
    CHECK(strstr(err, "more than the limit of 524287") != NULL);
    free(doc);
    for (size_t i = 0; i < nshards; i++)
        free(shards[i]);
    free(shards);

    /* The largest position node: quotes in the texts, control bytes in the
     * publisher id, each escaped by JSON. */
    char phys[WH_POS_PHYSICAL_TEXT_MAX], logi[WH_POS_LOGICAL_TEXT_MAX], id[ZKU_ID_MAX + 1];
    memset(phys, '"', WH_POS_LOG_NAME_MAX - 1);
    snprintf(phys + WH_POS_LOG_NAME_MAX - 1, sizeof phys - (WH_POS_LOG_NAME_MAX - 1),
             ":18446744073709551615/4294967295");
    memset(logi, '\\', WH_POS_LOGICAL_MAX - 1);
    snprintf(logi + WH_POS_LOGICAL_MAX - 1, sizeof logi - (WH_POS_LOGICAL_MAX - 1),
             "/4294967295");
    memset(id, 1, ZKU_ID_MAX);
    id[ZKU_ID_MAX] = '\0';
    char copy[ZKU_COPY_MAX];
    memset(copy, 2, ZKU_COPY_MAX - 1);
    copy[ZKU_COPY_MAX - 1] = '\0';
    CHECK_EQ_INT(zku_position_to_json(phys, logi, copy, UINT64_MAX >> 1, id, &j, err, sizeof err),
                 WH_OK);
    CHECK_EQ_INT(zku_position_add_event_ms(&j, INT64_MAX, err, sizeof err), WH_OK);
    zku_position p;
    CHECK(strlen(j) < 14 * 1024);
    CHECK_EQ_INT(zku_position_from_json(j, strlen(j), &p, err, sizeof err), WH_OK);
    CHECK(p.event_ms == INT64_MAX);
    CHECK_EQ_STR(p.physical, phys);
    CHECK_EQ_STR(p.logical, logi);
    CHECK_EQ_STR(p.publisher, id);
    CHECK_EQ_STR(p.copy, copy);
    free(j);

    /* The largest failure node: the same position, and a reason of control
     * bytes (6 bytes each in JSON). It used to have 4 KiB: a failure at a
     * long logical position could not be recorded. */
    zku_failure fl;
    memset(&fl, 0, sizeof fl);
    snprintf(fl.code, sizeof fl.code, "purged");
    memset(fl.reason, 2, ZKU_REASON_MAX - 1);
    memcpy(fl.physical, phys, sizeof phys);
    memcpy(fl.logical, logi, sizeof logi);
    memcpy(fl.publisher, id, sizeof id);
    fl.epoch = UINT64_MAX >> 1;
    fl.since_ms = INT64_MAX;
    CHECK_EQ_INT(zku_failure_to_json(&fl, &j, err, sizeof err), WH_OK);
    CHECK(strlen(j) < 17 * 1024);
    zku_failure back;
    CHECK_EQ_INT(zku_failure_from_json(j, strlen(j), &back, err, sizeof err), WH_OK);
    CHECK_EQ_STR(back.logical, logi);
    CHECK_EQ_STR(back.reason, fl.reason);
    free(j);
}

static void test_rendezvous(void)
{
    const char *names[8] = { "a:1", "b:2", "c:3", "d:4", "e:5", "f:6", "g:7", "h:8" };
    char shard[32];
    int counts[8] = { 0 };
    int moved_wrongly = 0, moved = 0;
    for (int s = 0; s < 4000; s++) {
        snprintf(shard, sizeof shard, "shard-%d", s);
        int pick = zku_rendezvous_pick(names, 8, shard);
        CHECK(pick >= 0 && pick < 8);
        counts[pick]++;
        /* Deterministic. */
        if (zku_rendezvous_pick(names, 8, shard) != pick)
            moved_wrongly++;
        /* Removing instance 3 moves only its own shards. */
        const char *less[7];
        int k = 0;
        for (int i = 0; i < 8; i++)
            if (i != 3)
                less[k++] = names[i];
        int p2 = zku_rendezvous_pick(less, 7, shard);
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
    CHECK_EQ_INT(zku_rendezvous_pick(names, 0, "x"), -1);
    /* Order of the list does not matter. */
    const char *rev[8];
    for (int i = 0; i < 8; i++)
        rev[i] = names[7 - i];
    int same = 1;
    for (int s = 0; s < 100; s++) {
        snprintf(shard, sizeof shard, "s%d", s);
        same &= strcmp(names[zku_rendezvous_pick(names, 8, shard)],
                       rev[zku_rendezvous_pick(rev, 8, shard)]) == 0;
    }
    CHECK(same);
    /* The weight is part of the contract between publishers of different
     * builds: pin one value (FNV-1a of "a:1", 0xff, "shard-0", then the
     * 64-bit finalizer). */
    CHECK(zku_rendezvous_weight("a:1", "shard-0") == 0x6b486216be1f2b7bull);
}

static void test_failure(void)
{
    char buf[ZKU_PATH_MAX], err[256], *data = NULL;
    CHECK_EQ_INT(zku_path_failures(buf, sizeof buf, "/wh", "app1"), WH_OK);
    CHECK_EQ_STR(buf, "/wh/apps/app1/failures");
    CHECK_EQ_INT(zku_path_failure(buf, sizeof buf, "/wh", "app1", "s1"), WH_OK);
    CHECK_EQ_STR(buf, "/wh/apps/app1/failures/s1");
    CHECK_EQ_INT(zku_path_failure(buf, 10, "/wh", "app1", "s1"), WH_ERR_LIMIT);
    CHECK_EQ_STR(buf, "");

    zku_failure f = { .epoch = 3, .since_ms = 1700000000123 };
    snprintf(f.code, sizeof f.code, "%s", zku_failure_code(WH_ERR_PURGED));
    snprintf(f.reason, sizeof f.reason, "binlog \"b.000001\" has been purged");
    snprintf(f.physical, sizeof f.physical, "b.000001:4/0");
    snprintf(f.publisher, sizeof f.publisher, "pub-1");
    CHECK_EQ_INT(zku_failure_to_json(&f, &data, err, sizeof err), WH_OK);
    CHECK_EQ_STR(data, "{\"code\":\"purged\",\"epoch\":3,\"logical\":null,"
                       "\"physical\":\"b.000001:4/0\",\"publisher\":\"pub-1\","
                       "\"reason\":\"binlog \\\"b.000001\\\" has been purged\","
                       "\"since_ms\":1700000000123}");
    zku_failure g;
    CHECK_EQ_INT(zku_failure_from_json(data, strlen(data), &g, err, sizeof err), WH_OK);
    CHECK_EQ_STR(g.code, "purged");
    CHECK_EQ_STR(g.reason, f.reason);
    CHECK_EQ_STR(g.physical, "b.000001:4/0");
    CHECK_EQ_STR(g.logical, "");
    CHECK_EQ_STR(g.publisher, "pub-1");
    CHECK(g.epoch == 3 && g.since_ms == 1700000000123);
    free(data);

    CHECK_EQ_INT(zku_failure_from_json("[1]", 3, &g, err, sizeof err), WH_ERR_PARSE);
    CHECK_EQ_INT(zku_failure_from_json("{\"code\":1,\"reason\":\"x\"}", 24, &g, err,
                                       sizeof err), WH_ERR_PARSE);
    const char *minimal = "{\"code\":\"invalid\",\"reason\":\"r\"}";
    CHECK_EQ_INT(zku_failure_from_json(minimal, strlen(minimal), &g, err, sizeof err), WH_OK);
    CHECK(g.epoch == 0 && g.since_ms == 0 && g.physical[0] == '\0');
    CHECK_EQ_STR(zku_failure_code(WH_ERR_INVALID), "invalid");
    CHECK_EQ_STR(zku_failure_code(WH_ERR_PARSE), "parse");
    CHECK_EQ_STR(zku_failure_code(WH_ERR_REFUSED), "refused");
    CHECK_EQ_STR(zku_failure_code(WH_ERR_LIMIT), "too_large");
    CHECK_EQ_STR(zku_failure_code(WH_ERR_CONFIG), "config");
    CHECK_EQ_STR(zku_failure_code(WH_ERR_IO), "error");

    /* Every field at its longest fits (test_node_sizes has the worst case
     * of valid positions); a node over the limit, which only control bytes
     * escaped six-fold everywhere can make, is refused, never truncated
     * silently. */
    static zku_failure h = { .epoch = 1 };
    snprintf(h.code, sizeof h.code, "purged");
    memset(h.reason, 'x', sizeof h.reason - 1);
    memset(h.physical, 'y', sizeof h.physical - 1);
    memset(h.logical, 'z', sizeof h.logical - 1);
    CHECK_EQ_INT(zku_failure_to_json(&h, &data, err, sizeof err), WH_OK);
    free(data);
    memset(h.reason, 1, sizeof h.reason - 1);
    memset(h.physical, 1, sizeof h.physical - 1);
    memset(h.logical, 1, sizeof h.logical - 1);
    memset(h.publisher, 1, sizeof h.publisher - 1);
    data = NULL;
    CHECK_EQ_INT(zku_failure_to_json(&h, &data, err, sizeof err), WH_ERR_LIMIT);
    CHECK(data == NULL && strstr(err, "more than the limit of 32767") != NULL);
}

static void test_app_settings(void)
{
    char err[256], *data = NULL;
    zku_app_settings st = { .on_purged_oldest = true };
    CHECK_EQ_INT(zku_app_settings_to_json("", 0, &st, &data, err, sizeof err), WH_OK);
    CHECK_EQ_STR(data, "{\"on_purged\":\"oldest\"}");
    zku_app_settings got;
    CHECK_EQ_INT(zku_app_settings_from_json(data, strlen(data), &got, err, sizeof err), WH_OK);
    CHECK(got.on_purged_oldest);
    free(data);
    CHECK_EQ_INT(zku_app_settings_from_json("", 0, &got, err, sizeof err), WH_OK);
    CHECK(!got.on_purged_oldest);
    CHECK_EQ_INT(zku_app_settings_from_json(" \n", 2, &got, err, sizeof err), WH_OK);
    const char *stop = "{\"on_purged\":\"stop\",\"other\":1}";
    CHECK_EQ_INT(zku_app_settings_from_json(stop, strlen(stop), &got, err, sizeof err), WH_OK);
    CHECK(!got.on_purged_oldest);
    const char *bad = "{\"on_purged\":\"newest\"}";
    CHECK_EQ_INT(zku_app_settings_from_json(bad, strlen(bad), &got, err, sizeof err),
                 WH_ERR_PARSE);
    CHECK(!got.on_purged_oldest);
    CHECK_EQ_INT(zku_app_settings_from_json("[]", 2, &got, err, sizeof err), WH_ERR_PARSE);
}

int main(void)
{
    test_paths();
    test_names();
    test_instance();
    test_app();
    test_position();
    test_position_start();
    test_epoch_and_publisher();
    test_rendezvous();
    test_failure();
    test_app_settings();
    test_node_sizes();
    return check_done("test_zk_layout");
}
