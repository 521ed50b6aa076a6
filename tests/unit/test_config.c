/* test_config.c -- the table-driven config reader: defaults, ranges, errors that name file and key. */
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include "../check.h"
#include "core/config.h"
#include "core/errbuf.h"

typedef struct sample_conf {
    char   *shard;
    int64_t batch;
    bool    follow;
    double  ratio;
    char   *zk_connect;
    json_t *options;
} sample_conf;

static const wh_cfg_field sample_fields[] = {
    { "shard", WH_CFG_STRING, offsetof(sample_conf, shard), NULL, 0, -1, "shard id" },
    { "batch", WH_CFG_INT, offsetof(sample_conf, batch), "100", 1, 1000, "batch size" },
    { "follow", WH_CFG_BOOL, offsetof(sample_conf, follow), "true", 0, -1, "tail the log" },
    { "ratio", WH_CFG_DOUBLE, offsetof(sample_conf, ratio), "0.5", 0, 1, "a ratio" },
    { "zookeeper.connect", WH_CFG_STRING, offsetof(sample_conf, zk_connect), "\"127.0.0.1:2181\"",
      0, -1, "ZooKeeper hosts" },
    { "mapper.options", WH_CFG_JSON, offsetof(sample_conf, options), "{}", 0, -1, "mapper options" },
    { NULL, 0, 0, NULL, 0, 0, NULL },
};

static char path[] = "/tmp/wh-test-config-XXXXXX";

static int load(const char *text, sample_conf *c, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    memset(c, 0, sizeof *c);
    return wh_config_load_file(path, sample_fields, c, err, errlen);
}

int main(void)
{
    char err[512];
    sample_conf c;
    int fd = mkstemp(path);
    close(fd);

    CHECK_EQ_INT(load("{\"shard\":\"s1\",\"zookeeper\":{\"connect\":\"h:1\"},"
                      "\"mapper\":{\"options\":{\"x\":1}}}", &c, err, sizeof err), WH_OK);
    CHECK_EQ_STR(c.shard, "s1");
    CHECK_EQ_INT(c.batch, 100);
    CHECK(c.follow);
    CHECK(c.ratio == 0.5);
    CHECK_EQ_STR(c.zk_connect, "h:1");
    CHECK_EQ_INT(json_integer_value(json_object_get(c.options, "x")), 1);
    wh_config_free(sample_fields, &c);
    CHECK(c.shard == NULL && c.options == NULL);

    /* Each error names the file, the key and the reason. */
    CHECK_EQ_INT(load("{}", &c, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, path) && strstr(err, "'shard'") && strstr(err, "required"));
    CHECK(c.shard == NULL);
    CHECK_EQ_INT(load("{\"shard\":\"s\",\"batch\":0}", &c, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "'batch'") && strstr(err, "out of range [1, 1000]"));
    CHECK(c.shard == NULL);                                /* freed on error */
    CHECK_EQ_INT(load("{\"shard\":\"s\",\"batch\":\"5\"}", &c, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "'batch'") && strstr(err, "expected an integer"));
    CHECK_EQ_INT(load("{\"shard\":\"s\",\"bacth\":5}", &c, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "'bacth'") && strstr(err, "unknown setting"));
    CHECK_EQ_INT(load("{\"shard\":\"s\",\"zookeeper\":{\"conect\":\"x\"}}", &c, err, sizeof err),
                 WH_ERR_CONFIG);
    CHECK(strstr(err, "'zookeeper.conect'") && strstr(err, "unknown setting"));
    CHECK_EQ_INT(load("{\"shard\":\"s\",\"zookeeper\":5}", &c, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "'zookeeper'") && strstr(err, "expected an object"));
    CHECK_EQ_INT(load("{\"shard\":\"s\",\n \"follow\": yes}", &c, err, sizeof err), WH_ERR_CONFIG);
    char where[600];
    snprintf(where, sizeof where, "%s:2:", path);            /* syntax errors give the line */
    CHECK(strstr(err, where) != NULL);
    CHECK_EQ_INT(load("{\"shard\":\"a\",\"shard\":\"b\"}", &c, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "duplicate") != NULL);
    CHECK_EQ_INT(load("[1]", &c, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "expected a JSON object") != NULL);
    CHECK_EQ_INT(wh_config_load_file("/nonexistent/x.json", sample_fields, &c, err, sizeof err),
                 WH_ERR_CONFIG);
    CHECK(strstr(err, "/nonexistent/x.json") != NULL);
    unlink(path);
    return check_done("test_config");
}
