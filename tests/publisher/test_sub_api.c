/* test_sub_api.c -- libwormhole's public API, compiled against include/ only and linked to the shared library. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wormhole/json.h>
#include <wormhole/subscriber.h>

#include "../check.h"

static int on_update(void *opaque, const wh_update *u, const wh_sub_delivery *d)
{
    (void)opaque;
    (void)u;
    (void)d;
    return 0;
}

/* An update as a subscriber callback receives one, rendered with the public
 * JSON functions (include/wormhole/json.h): snprintf-style into buffers of
 * every size around the text's length, and allocated. */
static void check_json(void)
{
    static const char *const names[] = { "id", "name", "note", "big" };
    wh_value before[4] = {
        { .type = WH_T_INT, .n.i = 7 },
        { .type = WH_T_STRING, .str = "old", .len = 3 },
        { .type = WH_T_ABSENT },
        { .type = WH_T_NULL },
    };
    wh_value after[4] = {
        { .type = WH_T_INT, .n.i = 7 },
        { .type = WH_T_STRING, .str = "n\"e\xc3\xa9" "w\n", .len = 7 },
        { .type = WH_T_ABSENT },
        { .type = WH_T_UINT, .n.u = 18446744073709551615u },
    };
    wh_update u = {
        .shard = "db1", .op = WH_OP_UPDATE,
        .pos = { "mysql-bin.000003", 4567, "0-1-42", 3 },
        .ts = 1700000000, .txn = { "0-1-42", 3, false },
        .db = "shop", .table = "users",
        .has_before = true, .has_after = true,
        .before = { names, before, 4 }, .after = { names, after, 4 },
    };
    const char *want =
        "{\"shard\":\"db1\",\"op\":\"update\",\"db\":\"shop\",\"table\":\"users\","
        "\"pos\":{\"logical\":\"0-1-42/3\",\"physical\":\"mysql-bin.000003:4567/3\"},"
        "\"ts\":1700000000,\"txn\":{\"id\":\"0-1-42\",\"index\":3,\"last\":false},"
        "\"before\":{\"id\":7,\"name\":\"old\",\"big\":null},"
        "\"after\":{\"id\":7,\"name\":\"n\\\"e\xc3\xa9" "w\\n\",\"big\":18446744073709551615}}";
    size_t n = strlen(want);

    /* Room to spare, exactly enough, one byte short, tiny, none. */
    char buf[1024];
    memset(buf, 'x', sizeof buf);
    CHECK_EQ_INT(wh_update_json(&u, buf, sizeof buf), n);
    CHECK_EQ_STR(buf, want);
    for (size_t cap = 0; cap <= n + 2; cap++) {
        char *b = malloc(cap ? cap : 1);   /* exactly cap bytes: ASan sees any overrun */
        if (!b)
            continue;
        size_t got = wh_update_json(&u, cap ? b : NULL, cap);
        CHECK_EQ_INT(got, n);
        if (cap) {
            size_t k = n < cap ? n : cap - 1;
            CHECK(strlen(b) == k && memcmp(b, want, k) == 0);
        }
        free(b);
    }

    size_t len = 0;
    char *text = wh_update_json_alloc(&u, &len);
    CHECK(text != NULL);
    if (text) {
        CHECK_EQ_INT(len, n);
        CHECK_EQ_STR(text, want);
        free(text);
    }
    text = wh_update_json_alloc(&u, NULL);
    CHECK(text != NULL && strcmp(text, want) == 0);
    free(text);

    /* Bad arguments: 0 or NULL with errno EINVAL, and an empty buffer. */
    errno = 0;
    CHECK_EQ_INT(wh_update_json(NULL, buf, sizeof buf), 0);
    CHECK_EQ_INT(errno, EINVAL);
    CHECK_EQ_STR(buf, "");
    errno = 0;
    CHECK_EQ_INT(wh_update_json(&u, NULL, 16), 0);
    CHECK_EQ_INT(errno, EINVAL);
    errno = 0;
    CHECK(wh_update_json_alloc(NULL, &len) == NULL);
    CHECK_EQ_INT(errno, EINVAL);
}

int main(void)
{
    check_json();

    wh_sub_options o;
    wh_subscriber *s = NULL;
    char err[512];

    wh_sub_options_init(&o);
    CHECK_EQ_STR(o.zk_root, "/wormhole");
    CHECK_EQ_STR(o.listen_host, "127.0.0.1");

    /* Missing and invalid options are refused with a sentence. */
    CHECK_EQ_INT(wh_subscriber_new(&o, &s, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "zk_connect") != NULL);
    o.zk_connect = "127.0.0.1:1";
    o.app = "bad/app";
    o.on_update = on_update;
    CHECK_EQ_INT(wh_subscriber_new(&o, &s, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "bad/app") != NULL);
    o.app = "app1";
    o.filter = "table = ";
    CHECK(wh_subscriber_new(&o, &s, err, sizeof err) != WH_OK);
    CHECK(strstr(err, "filter") != NULL && strstr(err, "offset") != NULL);
    CHECK(s == NULL);

    /* Options that only mean something together name both. */
    CHECK_EQ_INT(o.max_attempts, 10);
    CHECK_EQ_INT(o.give_up, WH_SUB_GIVE_UP_STOP);
    o.filter = "table = \"users\"";
    o.give_up = WH_SUB_GIVE_UP_DEAD_LETTER;
    CHECK_EQ_INT(wh_subscriber_new(&o, &s, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "WH_SUB_GIVE_UP_DEAD_LETTER") && strstr(err, "dead_letter_path"));
    o.give_up = WH_SUB_GIVE_UP_STOP;
    o.dead_letter_path = "/tmp/x";
    CHECK_EQ_INT(wh_subscriber_new(&o, &s, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "dead_letter_path is set (/tmp/x)") && strstr(err, "WH_SUB_GIVE_UP_STOP"));
    o.give_up = (wh_sub_give_up)7;
    CHECK_EQ_INT(wh_subscriber_new(&o, &s, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "give_up 7") != NULL);
    /* A dead-letter file that cannot be opened fails at once, naming it. */
    o.give_up = WH_SUB_GIVE_UP_DEAD_LETTER;
    o.dead_letter_path = "/nonexistent-dir-of-wormhole-tests/dead.jsonl";
    CHECK_EQ_INT(wh_subscriber_new(&o, &s, err, sizeof err), WH_ERR_IO);
    CHECK(strstr(err, "/nonexistent-dir-of-wormhole-tests/dead.jsonl") != NULL);
    o.give_up = WH_SUB_GIVE_UP_STOP;
    o.dead_letter_path = NULL;
    o.max_attempts = 2000000;
    CHECK_EQ_INT(wh_subscriber_new(&o, &s, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "max_attempts") != NULL);
    o.max_attempts = 10;
    o.heartbeat_timeout_ms = -5;
    CHECK_EQ_INT(wh_subscriber_new(&o, &s, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "heartbeat_timeout_ms -5") != NULL);
    o.heartbeat_timeout_ms = 10000;
    CHECK(s == NULL);
    /* Outside a callback, wh_subscriber_callback_error does nothing. */
    wh_subscriber_callback_error(NULL, "x");
    /* The bounds (docs/PROTOCOL.md, "Limits"): defaults, and ranges refused. */
    CHECK(o.max_frame_bytes == 64u << 20 && o.max_update_bytes == 256ull << 20);
    CHECK(o.hello_timeout_ms == 5000 && o.max_pending_connections == 64);
    o.filter = NULL;
    o.max_update_bytes = 1000;
    CHECK_EQ_INT(wh_subscriber_new(&o, &s, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "max_update_bytes 1000") != NULL);
    o.max_update_bytes = 256ull << 20;
    o.max_frame_bytes = 100;
    CHECK_EQ_INT(wh_subscriber_new(&o, &s, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "max_frame_bytes 100 is outside 16384..67108864") != NULL);
    o.max_frame_bytes = 64u << 20;
    CHECK(s == NULL);

    /* A valid subscriber listens at once; without ZooKeeper, run fails after zk_wait_ms. */
    o.filter = "table = \"users\"";
    o.zk_wait_ms = 300;
    o.zk_session_timeout_ms = 2000;
    CHECK_EQ_INT(wh_subscriber_new(&o, &s, err, sizeof err), WH_OK);
    if (s) {
        CHECK(strncmp(wh_subscriber_endpoint(s), "127.0.0.1:", 10) == 0);
        CHECK_EQ_STR(wh_subscriber_instance(s), wh_subscriber_endpoint(s));
        CHECK_EQ_INT(wh_subscriber_run(s, err, sizeof err), WH_ERR_ZK);
        CHECK(strstr(err, "127.0.0.1:1") != NULL);
        wh_sub_delivery d = { "s", 1, 1 };
        CHECK_EQ_INT(wh_subscriber_ack(s, &d), WH_ERR_INVALID);   /* auto-ack mode */
        wh_sub_stats st;
        wh_subscriber_stats(s, &st);
        CHECK_EQ_INT(st.updates, 0);
        wh_subscriber_free(s);
    }
    wh_subscriber_free(NULL);

    /* An app keeps positions (wormhole/position.h, exported by the library). */
    wh_position v = { "mysql-bin.000003", 1234, "0-1-42", 5 };
    wh_pos kept, parsed;
    char text[WH_POS_PHYSICAL_TEXT_MAX];
    CHECK(wh_pos_from_view(&kept, &v));
    CHECK_EQ_INT(wh_pos_format_physical(&kept, text, sizeof text), 23);
    CHECK_EQ_STR(text, "mysql-bin.000003:1234/5");
    CHECK_EQ_INT(wh_pos_parse(&parsed, text, "0-1-42/5", err, sizeof err), WH_OK);
    CHECK(wh_pos_equal(&kept, &parsed));
    CHECK_EQ_INT(wh_pos_parse_logical(&parsed, "0-1-42/x", 8, err, sizeof err), WH_ERR_PARSE);
    CHECK(strstr(err, "at offset 7") != NULL);
    return check_done("test_sub_api");
}
