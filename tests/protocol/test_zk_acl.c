/* test_zk_acl.c -- unit tests of protocol/zk_acl.c: digest ids, path kinds, the ACL table and matching ACLs against it. */
#include <stdio.h>
#include <string.h>

#include "protocol/zk_acl.h"
#include "protocol/zk_layout.h"
#include "tests/check.h"

#define PUB "wh-publisher:SjDT9T735ev16ZHms5RVitSQPss="
#define APP "app-a:922fAyEl3HIejdXSLAJQklWPyQs="

static void test_digest(void)
{
    char id[ZKU_DIGEST_ID_MAX];
    /* ZooKeeper's documented example (DigestAuthenticationProvider.generateDigest("super:test")). */
    CHECK_EQ_INT(zku_digest_id("super", "test", id, sizeof id), WH_OK);
    CHECK_EQ_STR(id, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    /* Computed with Python's hashlib; a password may hold blanks and ':'. */
    CHECK_EQ_INT(zku_digest_id("wh-publisher", "s3cret pass", id, sizeof id), WH_OK);
    CHECK_EQ_STR(id, PUB);
    CHECK_EQ_INT(zku_digest_id("app-a", "x", id, sizeof id), WH_OK);
    CHECK_EQ_STR(id, APP);
    /* Users ZooKeeper would split differently, or not at all. */
    CHECK_EQ_INT(zku_digest_id("app:a", "x", id, sizeof id), WH_ERR_INVALID);
    CHECK_EQ_INT(zku_digest_id("", "x", id, sizeof id), WH_ERR_INVALID);
    CHECK_EQ_INT(zku_digest_id("a b", "x", id, sizeof id), WH_ERR_INVALID);
    CHECK(!zku_valid_user(NULL));
    CHECK(zku_valid_user("wh-app.cache_1"));
    char small[10];
    CHECK_EQ_INT(zku_digest_id("super", "test", small, sizeof small), WH_ERR_LIMIT);
    CHECK_EQ_INT(zku_digest_id("super", "test", id, strlen("super:") + 28 + 1), WH_OK);
}

static void test_kinds(void)
{
    static const struct { const char *path; zku_node_kind kind; } cases[] = {
        { "/wh", ZKU_NODE_ROOT },
        { "/wh/apps", ZKU_NODE_APPS },
        { "/wh/apps/a", ZKU_NODE_APP },
        { "/wh/apps/a/instances", ZKU_NODE_INSTANCES },
        { "/wh/apps/a/instances/127.0.0.1:99", ZKU_NODE_INSTANCE },
        { "/wh/apps/a/positions", ZKU_NODE_POSITIONS },
        { "/wh/apps/a/positions/s1", ZKU_NODE_POSITION },
        { "/wh/apps/a/failures", ZKU_NODE_FAILURES },
        { "/wh/apps/a/failures/s1", ZKU_NODE_FAILURE },
        { "/wh/apps/a/bootstrap", ZKU_NODE_BOOTSTRAP },
        { "/wh/apps/a/bootstrap/s1", ZKU_NODE_BOOT_PROGRESS },
        { "/wh/shards", ZKU_NODE_SHARDS },
        { "/wh/shards/s1", ZKU_NODE_SHARD },
        { "/wh/shards/s1/epoch", ZKU_NODE_EPOCH },
        { "/wh/shards/s1/publishers", ZKU_NODE_PUBLISHERS },
        { "/wh/shards/s1/publishers/p1", ZKU_NODE_PUBLISHER },
        /* What publishers keep under a shard besides: theirs. */
        { "/wh/shards/s1/lease", ZKU_NODE_SHARD },
        { "/wh/shards/s1/candidates/p1", ZKU_NODE_SHARD },
        { "/wh/shards/s1/publishers/p1/x", ZKU_NODE_SHARD },
        /* Not the layout's. */
        { "/wh/other", ZKU_NODE_NONE },
        { "/whx/apps", ZKU_NODE_NONE },
        { "/wh/apps/a/other", ZKU_NODE_NONE },
        { "/wh/apps/a/instances/i/x", ZKU_NODE_NONE },
        { "/wh/apps/a/bootstrap/s1/x", ZKU_NODE_NONE },
        { "/wh//apps", ZKU_NODE_NONE },
        { "/elsewhere", ZKU_NODE_NONE },
        { "wh/apps", ZKU_NODE_NONE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zku_node_kind k = zku_node_kind_of("/wh", cases[i].path);
        if (k != cases[i].kind)
            fprintf(stderr, "path %s: kind %s, expected %s\n", cases[i].path,
                    zku_node_kind_name(k), zku_node_kind_name(cases[i].kind));
        CHECK_EQ_INT(k, cases[i].kind);
    }
    /* A root's ancestors are created (and protected) like the root. */
    CHECK_EQ_INT(zku_node_kind_of("/a/b", "/a"), ZKU_NODE_ROOT);
    CHECK_EQ_INT(zku_node_kind_of("/a/b", "/a/b/apps"), ZKU_NODE_APPS);
    CHECK_EQ_INT(zku_node_kind_of("/a/b", "/a/bc"), ZKU_NODE_NONE);
    /* Every path zk_layout builds has a kind. */
    char p[ZKU_PATH_MAX];
    zku_path_failure(p, sizeof p, "/r", "app", "s");
    CHECK_EQ_INT(zku_node_kind_of("/r", p), ZKU_NODE_FAILURE);
    zku_path_publisher(p, sizeof p, "/r", "s", "id");
    CHECK_EQ_INT(zku_node_kind_of("/r", p), ZKU_NODE_PUBLISHER);
}

/* The perms kind's ACL gives scheme:id, 0 if it names it not. */
static int perms_of(zku_acl *acl, const char *scheme, const char *id)
{
    const struct ACL_vector *v = zku_acl_vector(acl);
    for (int i = 0; i < v->count; i++)
        if (strcmp(v->data[i].id.scheme, scheme) == 0 && strcmp(v->data[i].id.id, id) == 0)
            return v->data[i].perms;
    return 0;
}

static void test_table(void)
{
    zku_acl_ids ids = { true, PUB, APP };
    zku_acl acl;
    char err[256];
    /* Off: everything open, as before authentication. */
    zku_acl_ids off = { false, "", "" };
    CHECK_EQ_INT(zku_acl_for(ZKU_NODE_POSITION, &off, &acl, err, sizeof err), WH_OK);
    CHECK_EQ_INT(zku_acl_vector(&acl)->count, 1);
    CHECK_EQ_INT(perms_of(&acl, "world", "anyone"), ZOO_PERM_ALL);
    CHECK_EQ_INT(zku_acl_for(ZKU_NODE_NONE, &ids, &acl, err, sizeof err), WH_ERR_CONFIG);

    /* The table's properties the issue asks for, kind by kind. */
    for (int k = ZKU_NODE_ROOT; k < ZKU_NODE_KINDS; k++) {
        CHECK_EQ_INT(zku_acl_for((zku_node_kind)k, &ids, &acl, err, sizeof err), WH_OK);
        int world = perms_of(&acl, "world", "anyone");
        int pub = perms_of(&acl, "digest", PUB), app = perms_of(&acl, "digest", APP);
        /* Nobody without credentials reads anything but the root marker. */
        CHECK_EQ_INT(world, k == ZKU_NODE_ROOT ? ZOO_PERM_READ : 0);
        /* Publishers read every node but the root (they need none there). */
        if (k != ZKU_NODE_ROOT)
            CHECK(pub & ZOO_PERM_READ);
        switch (k) {
        case ZKU_NODE_APPS:   /* apps are created by the admin only */
            CHECK_EQ_INT(pub, ZOO_PERM_READ);
            CHECK_EQ_INT(app, 0);
            break;
        case ZKU_NODE_APP:
            CHECK_EQ_INT(app, ZOO_PERM_READ | ZOO_PERM_WRITE);
            CHECK_EQ_INT(pub, ZOO_PERM_READ | ZOO_PERM_CREATE);
            break;
        case ZKU_NODE_INSTANCES:   /* only the app registers instances */
            CHECK_EQ_INT(app, ZOO_PERM_READ | ZOO_PERM_CREATE | ZOO_PERM_DELETE |
                              ZOO_PERM_ADMIN);
            CHECK_EQ_INT(pub, ZOO_PERM_READ | ZOO_PERM_ADMIN);
            break;
        case ZKU_NODE_INSTANCE:
            CHECK_EQ_INT(app, ZOO_PERM_ALL);
            CHECK_EQ_INT(pub, ZOO_PERM_READ | ZOO_PERM_ADMIN);
            break;
        case ZKU_NODE_ROOT:
            CHECK_EQ_INT(pub | app, 0);
            break;
        case ZKU_NODE_BOOTSTRAP:   /* the admin's request: the app reads it, publishers
                                    * read it and keep their progress under it */
            CHECK_EQ_INT(app, ZOO_PERM_READ);
            CHECK_EQ_INT(pub, ZOO_PERM_READ | ZOO_PERM_CREATE);
            break;
        default:   /* positions, failures, shards, epochs, publishers, bootstrap progress:
                    * publishers' only */
            CHECK_EQ_INT(pub, ZOO_PERM_ALL);
            CHECK_EQ_INT(app, 0);
            CHECK_EQ_INT(zku_acl_vector(&acl)->count, 1);
        }
    }
    /* A needed id that is not known is an error naming the role. */
    zku_acl_ids nopub = { true, "", APP };
    CHECK_EQ_INT(zku_acl_for(ZKU_NODE_INSTANCE, &nopub, &acl, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "publisher") != NULL);
    CHECK_EQ_INT(zku_acl_for_path("/wh", "/wh/x", &ids, &acl, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "/wh/x") != NULL);
    CHECK_EQ_INT(zku_acl_for_path("/wh", "/wh/shards/s1/epoch", &ids, &acl, err, sizeof err),
                 WH_OK);
    CHECK_EQ_INT(perms_of(&acl, "digest", PUB), ZOO_PERM_ALL);
}

static void test_match(void)
{
    zku_acl_ids ids = { true, PUB, APP }, got;
    zku_acl acl;
    char err[256];
    for (int k = ZKU_NODE_ROOT; k < ZKU_NODE_KINDS; k++) {
        CHECK_EQ_INT(zku_acl_for((zku_node_kind)k, &ids, &acl, err, sizeof err), WH_OK);
        CHECK(zku_acl_match((zku_node_kind)k, zku_acl_vector(&acl), &got));
        CHECK(got.enabled);
        if (k == ZKU_NODE_APP || k == ZKU_NODE_INSTANCES || k == ZKU_NODE_INSTANCE)
            CHECK_EQ_STR(got.app, APP);
        if (k != ZKU_NODE_ROOT)
            CHECK_EQ_STR(got.publisher, PUB);
    }
    /* An open ACL is no kind's (a folder from before authentication). */
    zku_acl_ids off = { false, "", "" };
    zku_acl_for(ZKU_NODE_INSTANCES, &off, &acl, err, sizeof err);
    CHECK(!zku_acl_match(ZKU_NODE_INSTANCES, zku_acl_vector(&acl), &got));
    CHECK(!zku_acl_match(ZKU_NODE_INSTANCE, zku_acl_vector(&acl), &got));
    /* An instance node with one more entry (world read), one less, or the
     * roles' permissions swapped is not an instance's ACL. */
    zku_acl_for(ZKU_NODE_INSTANCE, &ids, &acl, err, sizeof err);
    struct ACL extra[3] = { acl.entry[0], acl.entry[1],
                            { ZOO_PERM_READ, { (char *)"world", (char *)"anyone" } } };
    struct ACL_vector v = { 3, extra };
    CHECK(!zku_acl_match(ZKU_NODE_INSTANCE, &v, &got));
    v.count = 1;
    CHECK(!zku_acl_match(ZKU_NODE_INSTANCE, &v, &got));
    struct ACL swapped[2] = { { ZOO_PERM_READ | ZOO_PERM_ADMIN, { (char *)"digest", (char *)APP } },
                              { ZOO_PERM_ALL, { (char *)"digest", (char *)PUB } } };
    struct ACL_vector sv = { 2, swapped };
    CHECK(zku_acl_match(ZKU_NODE_INSTANCE, &sv, &got));   /* well formed ... */
    CHECK_EQ_STR(got.app, PUB);                            /* ... but names another app id */
    struct ACL ipacl[2] = { { ZOO_PERM_ALL, { (char *)"ip", (char *)"127.0.0.1" } },
                            { ZOO_PERM_READ | ZOO_PERM_ADMIN, { (char *)"digest", (char *)PUB } } };
    struct ACL_vector iv = { 2, ipacl };
    CHECK(!zku_acl_match(ZKU_NODE_INSTANCE, &iv, &got));
    /* Ids as ZooKeeper shows them to a client without ADMIN: not usable. */
    struct ACL redacted[2] = { { ZOO_PERM_ALL, { (char *)"digest", (char *)"app-a:x" } },
                               { ZOO_PERM_READ | ZOO_PERM_ADMIN,
                                 { (char *)"digest", (char *)"wh-publisher:x" } } };
    struct ACL_vector dv = { 2, redacted };
    CHECK(!zku_acl_match(ZKU_NODE_INSTANCE, &dv, &got));
    /* Order does not matter. */
    struct ACL rev[2] = { acl.entry[1], acl.entry[0] };
    struct ACL_vector rv = { 2, rev };
    CHECK(zku_acl_match(ZKU_NODE_INSTANCE, &rv, &got));
    CHECK_EQ_STR(got.app, APP);
    CHECK(!zku_acl_match(ZKU_NODE_NONE, &rv, &got));
    CHECK(!zku_acl_match(ZKU_NODE_INSTANCE, NULL, &got));
}

int main(void)
{
    test_digest();
    test_kinds();
    test_table();
    test_match();
    return check_done("test_zk_acl");
}
