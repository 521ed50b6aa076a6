/* test_sub_api.c -- libwormhole's public API, compiled against include/ only and linked to the shared library. */
#include <stdio.h>
#include <string.h>

#include <wormhole/subscriber.h>

#include "../check.h"

static int on_update(void *opaque, const wh_update *u, const wh_sub_delivery *d)
{
    (void)opaque;
    (void)u;
    (void)d;
    return 0;
}

int main(void)
{
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
