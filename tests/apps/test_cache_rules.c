/* test_cache_rules.c -- wormhole-cache's templates, value rendering, rules and config checks, without servers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/cache/cache.h"

#include "../check.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static cache_config *config(const char *rules, char *err, size_t errlen, int *rc)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"subscriber\": {\"zookeeper\": \"127.0.0.1:1\", \"app\": \"t\"},"
             " \"caches\": [{\"name\": \"mc\", \"type\": \"memcached\", \"servers\": [\"127.0.0.1:1\"]},"
             "              {\"name\": \"r\", \"type\": \"redis\", \"servers\": [\"127.0.0.1:2\"]}],"
             " \"rules\": %s}", rules);
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (!root) {
        fprintf(stderr, "bad test JSON: %s: %s\n", jerr.text, text);
        *rc = -1;
        return NULL;
    }
    cache_config *c = NULL;
    err[0] = '\0';
    *rc = cache_config_from_json(root, "test.json", &c, err, errlen);
    json_decref(root);
    return c;
}

static const char *const user_cols[] = { "id", "email", "name", "status" };

static wh_value vint(int64_t i) { wh_value v = { .type = WH_T_INT }; v.n.i = i; return v; }
static wh_value vstr(const char *s)
{
    wh_value v = { .type = WH_T_STRING, .str = s, .len = (uint32_t)strlen(s) };
    return v;
}
static wh_value vabsent(void) { wh_value v = { .type = WH_T_ABSENT }; return v; }

static wh_update mkupdate(int op, wh_value *before, wh_value *after)
{
    wh_update u;
    memset(&u, 0, sizeof u);
    u.shard = "s1";
    u.op = (uint8_t)op;
    u.db = "shop";
    u.table = "users";
    u.schema_id = 42;
    u.pos.log_name = "mysql-bin.000001";
    u.pos.offset = 4;
    u.pos.logical = "0-1-7";
    if (before) {
        u.has_before = true;
        u.before = (wh_row){ user_cols, before, 4 };
    }
    if (after) {
        u.has_after = true;
        u.after = (wh_row){ user_cols, after, 4 };
    }
    return u;
}

/* The ops as text: "del user:1; set user:2=VALUE; flush PATTERNS" */
static const char *ops_text(const cache_oplist *l)
{
    static char out[4096];
    size_t n = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < l->n && n < sizeof out; i++) {
        const cache_op *op = &l->ops[i];
        const char *d = l->data.data;
        if (op->kind == OP_FLUSH) {
            n += (size_t)snprintf(out + n, sizeof out - n, "%sflush", i ? "; " : "");
            for (uint32_t off = 0; off < op->val_len;) {
                n += (size_t)snprintf(out + n, sizeof out - n, " %s", d + op->val_off + off);
                off += (uint32_t)strlen(d + op->val_off + off) + 1;
            }
            continue;
        }
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%s %.*s", i ? "; " : "",
                              op->kind == OP_SET ? "set" : "del", (int)op->key_len,
                              d + op->key_off);
        if (op->kind == OP_SET)
            n += (size_t)snprintf(out + n, sizeof out - n, "=%.*s", (int)op->val_len,
                                  d + op->val_off);
    }
    return out;
}

static const char *apply(cache_config *c, const wh_update *u, int *rc, char *err, size_t errlen)
{
    static cache_oplist l;
    cache_oplist_reset(&l);
    *rc = cache_rules_apply(c, u, &l, err, errlen);
    return ops_text(&l);
}

static const char *render(const wh_value *v)
{
    static wh_buf b;
    wh_buf_reset(&b);
    cache_render_value(&b, v, "NUL");
    wh_buf_putc(&b, '\0');
    return b.data;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_templates(void)
{
    char err[512];
    char **cols = NULL;
    uint32_t ncols = 0;
    cache_tpl t;
    CHECK_EQ_INT(cache_tpl_parse("a{{b}}c:{id}:{name}:{id}", false, &t, &cols, &ncols, err,
                                 sizeof err), WH_OK);
    CHECK_EQ_INT(ncols, 2);
    CHECK_EQ_INT(t.nparts, 4);
    CHECK_EQ_INT(t.parts[0].col, 0);
    CHECK(t.parts[0].lit_len == 6 && memcmp(t.lit + t.parts[0].lit_off, "a{b}c:", 6) == 0);
    CHECK_EQ_INT(t.parts[3].col, -1);
    cache_tpl_free(&t);
    static const struct { const char *text, *want; } bad[] = {
        { "user:{id", "without a closing" },
        { "user:}", "lone '}'" },
        { "user:{}", "empty column reference" },
        { "user:{*}", "only in a value" },
        { "user:{a{b}", "inside a column reference" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(cache_tpl_parse(bad[i].text, false, &t, &cols, &ncols, err, sizeof err),
                     WH_ERR_CONFIG);
        CHECK(strstr(err, bad[i].want) != NULL);
    }
    CHECK_EQ_INT(cache_tpl_parse("{*}", true, &t, &cols, &ncols, err, sizeof err), WH_OK);
    CHECK_EQ_INT(t.parts[0].col, TPL_ROW);
    cache_tpl_free(&t);
    for (uint32_t i = 0; i < ncols; i++)
        free(cols[i]);
    free(cols);
}

static void test_render(void)
{
    wh_value v;
    memset(&v, 0, sizeof v);
    v.type = WH_T_NULL;
    CHECK_EQ_STR(render(&v), "NUL");
    v = vint(-9223372036854775807LL - 1);
    CHECK_EQ_STR(render(&v), "-9223372036854775808");
    memset(&v, 0, sizeof v);
    v.type = WH_T_UINT;
    v.n.u = 18446744073709551615ull;
    CHECK_EQ_STR(render(&v), "18446744073709551615");
    v.type = WH_T_YEAR;
    v.n.u = 2024;
    CHECK_EQ_STR(render(&v), "2024");
    memset(&v, 0, sizeof v);
    v.type = WH_T_FLOAT;
    v.n.d = 0.1;
    CHECK_EQ_STR(render(&v), "0.1");
    v.n.d = 1e300;
    CHECK_EQ_STR(render(&v), "1e+300");
    v = (wh_value){ .type = WH_T_DECIMAL, .str = "-12.340", .len = 7, .scale = 3 };
    CHECK_EQ_STR(render(&v), "-12.340");
    v = vstr("h\xc3\xa9llo w");
    CHECK_EQ_STR(render(&v), "h\xc3\xa9llo w");
    v = (wh_value){ .type = WH_T_BYTES, .str = "\x00\xff\x10", .len = 3 };
    CHECK_EQ_STR(render(&v), "00ff10");
    memset(&v, 0, sizeof v);
    v.type = WH_T_DATE;
    v.n.t = (wh_temporal){ .year = 2024, .month = 2, .day = 29 };
    CHECK_EQ_STR(render(&v), "2024-02-29");
    v.type = WH_T_DATETIME;
    v.scale = 3;
    v.n.t = (wh_temporal){ .year = 2024, .month = 1, .day = 2, .hour = 3, .minute = 4,
                           .second = 5, .usec = 120000 };
    CHECK_EQ_STR(render(&v), "2024-01-02T03:04:05.120");
    v.type = WH_T_TIMESTAMP;
    v.scale = 0;
    CHECK_EQ_STR(render(&v), "2024-01-02T03:04:05");
    v.type = WH_T_TIME;
    v.scale = 2;
    v.n.t = (wh_temporal){ .hour = 838, .minute = 59, .second = 59, .usec = 500000,
                           .negative = true };
    CHECK_EQ_STR(render(&v), "-838:59:59.50");
    v = (wh_value){ .type = WH_T_JSON, .str = "{\"a\":[1,2]}", .len = 11 };
    CHECK_EQ_STR(render(&v), "{\"a\":[1,2]}");
    v = (wh_value){ .type = WH_T_ENUM, .str = "public", .len = 6 };
    CHECK_EQ_STR(render(&v), "public");
    v = (wh_value){ .type = WH_T_ENUM, .str = NULL };
    v.n.u = 2;
    CHECK_EQ_STR(render(&v), "2");
    v = (wh_value){ .type = WH_T_SET, .str = "a,b", .len = 3 };
    CHECK_EQ_STR(render(&v), "a,b");
    v = vabsent();
    CHECK_EQ_STR(render(&v), "");

    CHECK(cache_mc_key_ok("user:1", 6));
    CHECK(!cache_mc_key_ok("user 1", 6));
    CHECK(!cache_mc_key_ok("user\n1", 6));
    CHECK(!cache_mc_key_ok("", 0));
    char longkey[251];
    memset(longkey, 'k', sizeof longkey);
    CHECK(cache_mc_key_ok(longkey, 250));
    CHECK(!cache_mc_key_ok(longkey, 251));
}

static void test_delete_rules(void)
{
    char err[1024];
    int rc;
    cache_config *c = config("[{\"table\": \"shop.users\", \"keys\": [\"user:{id}\", "
                             "\"email:{email}\"]}]", err, sizeof err, &rc);
    CHECK_EQ_INT(rc, WH_OK);
    if (!c)
        return;
    CHECK_EQ_STR(c->sub_filter, "op = \"ddl\" or (db = \"shop\" and table = \"users\")");
    wh_value a[4] = { vint(1), vstr("a@x"), vstr("Ann"), vstr("public") };
    wh_value b[4] = { vint(1), vstr("a@x"), vstr("Anne"), vstr("public") };
    wh_value k[4] = { vint(2), vstr("b@x"), vstr("Anne"), vstr("public") };
    wh_update u = mkupdate(WH_OP_INSERT, NULL, a);
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err), "del user:1; del email:a@x");
    u = mkupdate(WH_OP_UPDATE, a, b);          /* key columns unchanged: each key once */
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err), "del user:1; del email:a@x");
    u = mkupdate(WH_OP_UPDATE, a, k);          /* key columns changed: old and new keys */
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err),
                 "del user:1; del user:2; del email:a@x; del email:b@x");
    u = mkupdate(WH_OP_DELETE, a, NULL);
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err), "del user:1; del email:a@x");
    u = mkupdate(WH_OP_SNAPSHOT, NULL, a);     /* a bootstrap's row: invalidated */
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err), "del user:1; del email:a@x");
    u = mkupdate(WH_OP_SNAPSHOT_BEGIN, NULL, NULL);   /* markers: nothing */
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err), "");
    u = mkupdate(WH_OP_INSERT, NULL, a);
    u.table = "orders";                        /* not ruled */
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err), "");
    /* MINIMAL after image: an unchanged key column comes from the before image. */
    wh_value m[4] = { vabsent(), vabsent(), vstr("Bob"), vabsent() };
    u = mkupdate(WH_OP_UPDATE, a, m);
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err), "del user:1; del email:a@x");
    CHECK_EQ_INT(rc, WH_OK);
    /* ... but a before image without the key column cannot be invalidated. */
    wh_value pk[4] = { vint(1), vabsent(), vabsent(), vabsent() };
    u = mkupdate(WH_OP_DELETE, pk, NULL);
    apply(c, &u, &rc, err, sizeof err);
    CHECK_EQ_INT(rc, WH_ERR_CONFIG);
    CHECK(strstr(err, "'email'") && strstr(err, "before image") && strstr(err, "0-1-7/0"));
    /* A column the table does not have: an error naming it and the table's columns. */
    cache_config_free(c);
    c = config("[{\"table\": \"shop.users\", \"keys\": [\"user:{uid}\"]}]", err, sizeof err,
               &rc);
    CHECK_EQ_INT(rc, WH_OK);
    u = mkupdate(WH_OP_INSERT, NULL, a);
    apply(c, &u, &rc, err, sizeof err);
    CHECK_EQ_INT(rc, WH_ERR_CONFIG);
    CHECK(strstr(err, "column 'uid'") && strstr(err, "id, email, name, status") &&
          strstr(err, "not acknowledged"));
    cache_config_free(c);
}

static void test_filter_per_image(void)
{
    char err[1024];
    int rc;
    cache_config *c = config("[{\"table\": \"shop.users\", \"keys\": [\"feed:{name}\"], "
                             "\"filter\": \"status = 'public'\"}]", err, sizeof err, &rc);
    CHECK_EQ_INT(rc, WH_OK);
    if (!c)
        return;
    wh_value pub[4] = { vint(1), vstr("a@x"), vstr("ann"), vstr("public") };
    wh_value draft[4] = { vint(1), vstr("a@x"), vstr("ann"), vstr("draft") };
    wh_value draft2[4] = { vint(1), vstr("a@x"), vstr("bob"), vstr("draft") };
    wh_update u = mkupdate(WH_OP_UPDATE, pub, draft);   /* leaves the filter: old key */
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err), "del feed:ann");
    u = mkupdate(WH_OP_UPDATE, draft2, pub);            /* enters it: new key */
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err), "del feed:ann");
    u = mkupdate(WH_OP_UPDATE, draft, draft2);          /* never in it */
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err), "");
    cache_config_free(c);
}

static void test_set_rules(void)
{
    char err[1024];
    int rc;
    cache_config *c = config("[{\"table\": \"shop.users\", \"keys\": [\"u:{id}\"], \"action\": "
                             "\"set\", \"ttl\": 60, \"caches\": [\"r\"]},"
                             " {\"table\": \"shop.users\", \"keys\": [\"n:{id}\"], \"action\": "
                             "\"set\", \"value\": \"{name}/{{x}}\", \"null\": \"-\"}]",
                             err, sizeof err, &rc);
    CHECK_EQ_INT(rc, WH_OK);
    if (!c)
        return;
    CHECK_EQ_INT(c->rules[0].caches, 2);
    CHECK_EQ_INT(c->rules[1].caches, 3);
    wh_value a[4] = { vint(1), vstr("a@x"), vstr("Ann"), vstr("public") };
    wh_value b[4] = { vint(1), vstr("a@x"), { .type = WH_T_NULL }, vstr("public") };
    wh_value k[4] = { vint(2), vstr("a@x"), vstr("Ann"), vstr("public") };
    wh_update u = mkupdate(WH_OP_INSERT, NULL, a);
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err),
                 "set u:1={\"id\":1,\"email\":\"a@x\",\"name\":\"Ann\",\"status\":\"public\"}; "
                 "set n:1=Ann/{x}");
    u = mkupdate(WH_OP_UPDATE, a, b);
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err),
                 "set u:1={\"id\":1,\"email\":\"a@x\",\"name\":null,\"status\":\"public\"}; "
                 "set n:1=-/{x}");
    u = mkupdate(WH_OP_UPDATE, a, k);          /* the key moved: the old one goes */
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err),
                 "del u:1; set u:2={\"id\":2,\"email\":\"a@x\",\"name\":\"Ann\",\"status\":"
                 "\"public\"}; del n:1; set n:2=Ann/{x}");
    u = mkupdate(WH_OP_DELETE, a, NULL);
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err), "del u:1; del n:1");
    u = mkupdate(WH_OP_SNAPSHOT, NULL, a);     /* a bootstrap's row: set like an insert */
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err),
                 "set u:1={\"id\":1,\"email\":\"a@x\",\"name\":\"Ann\",\"status\":"
                 "\"public\"}; set n:1=Ann/{x}");
    CHECK_EQ_INT(c->rules[0].ttl, 60);
    /* Incomplete images: a column missing from both images turns the set into a delete. */
    wh_value pk[4] = { vint(1), vabsent(), vabsent(), vabsent() };
    wh_value m[4] = { vabsent(), vabsent(), vstr("Bo"), vabsent() };
    u = mkupdate(WH_OP_UPDATE, pk, m);
    static cache_oplist l;
    cache_oplist_reset(&l);
    CHECK_EQ_INT(cache_rules_apply(c, &u, &l, err, sizeof err), WH_OK);
    CHECK_EQ_STR(ops_text(&l), "del u:1; set n:1=Bo/{x}");
    CHECK_EQ_INT(l.fallbacks, 1);
    /* Unchanged columns missing from the after image come from the before image. */
    u = mkupdate(WH_OP_UPDATE, a, m);
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err),
                 "set u:1={\"id\":1,\"email\":\"a@x\",\"name\":\"Bo\",\"status\":\"public\"}; "
                 "set n:1=Bo/{x}");
    cache_oplist_free(&l);
    cache_config_free(c);
}

static void test_ddl(void)
{
    char err[1024];
    int rc;
    cache_config *c = config("[{\"table\": \"shop.users\", \"keys\": [\"u:{id}\", \"a*b:{id}\"], "
                             "\"on_ddl\": \"flush\"},"
                             " {\"table\": \"shop.posts\", \"keys\": [\"p:{id}\"], \"on_ddl\": "
                             "\"stop\"}]", err, sizeof err, &rc);
    CHECK_EQ_INT(rc, WH_OK);
    if (!c)
        return;
    wh_update u;
    memset(&u, 0, sizeof u);
    u.op = WH_OP_DDL;
    u.pos.logical = "0-1-9";
    u.statement = "ALTER TABLE `shop`.`users` ADD COLUMN x INT";
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err), "flush u:* a\\*b:*");
    u.db = "shop";
    u.statement = "alter table users drop column x";
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err), "flush u:* a\\*b:*");
    u.statement = "ALTER TABLE users2 ADD y INT";        /* another table */
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err), "");
    u.db = "other";
    u.statement = "ALTER TABLE users ADD y INT";         /* other.users */
    CHECK_EQ_STR(apply(c, &u, &rc, err, sizeof err), "");
    u.statement = "DROP TABLE shop.posts";
    apply(c, &u, &rc, err, sizeof err);
    CHECK_EQ_INT(rc, WH_ERR_CONFIG);
    CHECK(strstr(err, "on_ddl is stop") && strstr(err, "0-1-9/0") &&
          strstr(err, "DROP TABLE shop.posts"));
    cache_config_free(c);
}

static void test_config_errors(void)
{
    static const struct { const char *rules, *want; } bad[] = {
        { "[]", "expected a non-empty array of rules" },
        { "[{\"table\": \"users\", \"keys\": [\"u:{id}\"]}]", "is not db.table" },
        { "[{\"table\": \"s.u\", \"keys\": [\"u:{id}\"], \"bogus\": 1}]",
          "rules[0]: key 'bogus': unknown setting" },
        { "[{\"table\": \"s.u\", \"keys\": []}]", "non-empty array of key templates" },
        { "[{\"table\": \"s.u\", \"keys\": [\"u:{id}\"], \"action\": \"upsert\"}]",
          "neither delete nor set" },
        { "[{\"table\": \"s.u\", \"keys\": [\"u:{id}\"], \"caches\": [\"nope\"]}]",
          "no cache is named 'nope'" },
        { "[{\"table\": \"s.u\", \"keys\": [\"u:{id}\"], \"ttl\": 5}]", "only a set rule" },
        { "[{\"table\": \"s.u\", \"keys\": [\"u:{uid}\"], \"columns\": [\"id\", \"name\"]}]",
          "column 'uid', which is not among the table's columns" },
        { "[{\"table\": \"s.u\", \"keys\": [\"u:{id}\"], \"filter\": \"status = \"}]",
          "key 'filter': filter" },
        { "[{\"table\": \"s.u\", \"keys\": [\"u:{id}\"], \"on_ddl\": \"drop\"}]",
          "not ignore, stop or flush" },
        { "[{\"table\": \"s.u\", \"keys\": [\"u:{id}\"], \"action\": \"set\", \"value\": "
          "\"{a\"}]", "key 'value'" },
    };
    char err[1024];
    int rc;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cache_config *c = config(bad[i].rules, err, sizeof err, &rc);
        CHECK_EQ_INT(rc, WH_ERR_CONFIG);
        CHECK(c == NULL);
        const char *want = bad[i].want;
        if (!strstr(err, want))
            fprintf(stderr, "case %zu: the expected words are not in: %s\n", i, err);
        CHECK(strstr(err, want) != NULL);
        CHECK(strncmp(err, "test.json", 9) == 0);
    }
    /* Declared columns that cover the templates pass. */
    cache_config *c = config("[{\"table\": \"s.u\", \"keys\": [\"u:{id}\"], \"columns\": "
                             "[\"id\"]}]", err, sizeof err, &rc);
    CHECK_EQ_INT(rc, WH_OK);
    cache_config_free(c);
    /* Cache settings. */
    json_t *root = json_loads("{\"subscriber\": {\"zookeeper\": \"h:1\", \"app\": \"t\"},"
                              " \"caches\": [{\"name\": \"r\", \"type\": \"redis\", \"servers\":"
                              " [\"a:1\", \"b:2\"]}], \"rules\": [{\"table\": \"s.u\", \"keys\":"
                              " [\"k\"]}]}", 0, NULL);
    CHECK_EQ_INT(cache_config_from_json(root, "x.json", &c, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "x.json: caches[0]: key 'servers': a redis cache has exactly one") != NULL);
    json_decref(root);
    root = json_loads("{\"subscriber\": {\"zookeeper\": \"h:1\", \"app\": \"t\"},"
                      " \"caches\": [{\"name\": \"m\", \"type\": \"memcache\", \"servers\":"
                      " [\"a:1\"]}], \"rules\": [{\"table\": \"s.u\", \"keys\": [\"k\"]}]}",
                      0, NULL);
    CHECK_EQ_INT(cache_config_from_json(root, "x.json", &c, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "'memcache' is neither memcached nor redis") != NULL);
    json_decref(root);
}

int main(void)
{
    test_templates();
    test_render();
    test_delete_rules();
    test_filter_per_image();
    test_set_rules();
    test_ddl();
    test_config_errors();
    return check_done("test_cache_rules");
}
