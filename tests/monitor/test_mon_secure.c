/* test_mon_secure.c -- who may use the control socket, control group names, inline secrets in publisher configs. */
#include <grp.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "monitor/mon_config.h"
#include "monitor/mon_rundir.h"

static const char *secret(const char *text)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    const char *k = mon_find_inline_secret(doc);
    json_decref(doc);
    return k;
}

int main(void)
{
    char err[256];
    gid_t g = 12345;

    /* Root and the monitor's own uid; nobody else without a group. */
    CHECK(mon_peer_allowed(0, 0, 1000, false, 0));
    CHECK(mon_peer_allowed(1000, 1000, 1000, false, 0));
    CHECK(!mon_peer_allowed(1001, 1001, 1000, false, 0));
    CHECK(!mon_peer_allowed(65534, 65534, 0, false, 0));
    /* The group: a peer whose primary gid it is. */
    CHECK(mon_peer_allowed(1001, 777, 1000, true, 777));
    CHECK(!mon_peer_allowed(1001, 778, 1000, true, 777));
    /* nobody (uid 65534) is in nogroup (65534) by its passwd entry, not in 12345. */
    CHECK(mon_peer_allowed(65534, 1, 0, true, 65534) || getgrgid(65534) == NULL);
    CHECK(!mon_peer_allowed(65534, 1, 0, true, g));

    gid_t got = 0;
    CHECK_EQ_INT(mon_group_resolve("root", &got, err, sizeof err), WH_OK);
    CHECK_EQ_INT(got, 0);
    CHECK_EQ_INT(mon_group_resolve("4242", &got, err, sizeof err), WH_OK);
    CHECK_EQ_INT(got, 4242);
    CHECK_EQ_INT(mon_group_resolve("no-such-group-wh", &got, err, sizeof err), WH_ERR_NOT_FOUND);
    CHECK(strstr(err, "control group 'no-such-group-wh': no such group") != NULL);

    CHECK(secret("{\"mapper\": {\"options\": {\"password\": \"x\"}}}") != NULL);
    CHECK(secret("{\"a\": [1, {\"b\": {\"password\": \"x\"}}]}") != NULL);
    CHECK(secret("{\"mapper\": {\"options\": {\"password\": \"\"}}}") == NULL);
    CHECK(secret("{\"mapper\": {\"options\": {\"password_file\": \"/etc/wh/pw\"}}}") == NULL);
    CHECK(secret("{\"mapper\": {\"options\": {\"password_env\": \"PW\"}}}") == NULL);
    CHECK(secret("{\"passwords\": \"x\", \"password\": 3}") == NULL);
    return check_done("test_mon_secure");
}
