/* test_pub_config.c -- the publisher's settings that must fit together (pub_config_check): the
 * messages name the file, both keys and why; the table's defaults pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "publisher/pub.h"
#include "tests/check.h"

static char path[256];

/* Loads a config whose delivery object is delivery; returns the check's code. */
static int check_with(const char *delivery, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fprintf(f, "{\"shard\":\"s1\",\"mapper\":{\"name\":\"synthetic\"},"
               "\"zookeeper\":{\"connect\":\"127.0.0.1:1\"},\"delivery\":%s}", delivery);
    fclose(f);
    pub_config cfg;
    memset(&cfg, 0, sizeof cfg);
    err[0] = '\0';
    if (wh_config_load_file(path, pub_config_fields, &cfg, err, errlen) != WH_OK) {
        fprintf(stderr, "cannot load %s: %s\n", delivery, err);
        return -1000;
    }
    int rc = pub_config_check(&cfg, path, err, errlen);
    wh_config_free(pub_config_fields, &cfg);
    return rc;
}

int main(void)
{
    char err[1024];
    snprintf(path, sizeof path, "%s/wh_test_pub_config_%d.json",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());

    /* Defaults and sane settings pass. */
    CHECK_EQ_INT(check_with("{}", err, sizeof err), WH_OK);
    CHECK_EQ_INT(check_with("{\"heartbeat_interval_ms\":300,\"heartbeat_timeout_ms\":600}", err,
                            sizeof err), WH_OK);
    CHECK_EQ_INT(check_with("{\"retry_min_ms\":500,\"retry_max_ms\":500}", err, sizeof err),
                 WH_OK);

    /* A heartbeat interval longer than the timeout: every flow would flap. */
    CHECK_EQ_INT(check_with("{\"heartbeat_interval_ms\":20000,\"heartbeat_timeout_ms\":10000}",
                            err, sizeof err), WH_ERR_CONFIG);
    CHECK(strncmp(err, path, strlen(path)) == 0);
    CHECK(strstr(err, "'delivery.heartbeat_interval_ms' (20000)") != NULL);
    CHECK(strstr(err, "'delivery.heartbeat_timeout_ms' (10000)") != NULL);
    CHECK(strstr(err, "at least twice") != NULL);
    /* Equal, or less than twice, is not enough either. */
    CHECK_EQ_INT(check_with("{\"heartbeat_interval_ms\":1000,\"heartbeat_timeout_ms\":1000}", err,
                            sizeof err), WH_ERR_CONFIG);
    CHECK_EQ_INT(check_with("{\"heartbeat_interval_ms\":1000,\"heartbeat_timeout_ms\":1999}", err,
                            sizeof err), WH_ERR_CONFIG);
    CHECK_EQ_INT(check_with("{\"heartbeat_interval_ms\":1000,\"heartbeat_timeout_ms\":2000}", err,
                            sizeof err), WH_OK);
    /* The default interval (1000) against a short timeout. */
    CHECK_EQ_INT(check_with("{\"heartbeat_timeout_ms\":1500}", err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "(1000)") != NULL && strstr(err, "(1500)") != NULL);

    /* Reconnect delays the wrong way round. */
    CHECK_EQ_INT(check_with("{\"retry_min_ms\":6000,\"retry_max_ms\":5000}", err, sizeof err),
                 WH_ERR_CONFIG);
    CHECK(strncmp(err, path, strlen(path)) == 0);
    CHECK(strstr(err, "'delivery.retry_min_ms' (6000)") != NULL);
    CHECK(strstr(err, "'delivery.retry_max_ms' (5000)") != NULL);
    CHECK_EQ_INT(check_with("{\"retry_min_ms\":6000}", err, sizeof err), WH_ERR_CONFIG);

    unlink(path);
    return check_done("test_pub_config");
}
