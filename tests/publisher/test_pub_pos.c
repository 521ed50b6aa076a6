/* test_pub_pos.c -- unit tests of publisher positions and their text forms. */
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

int main(void)
{
    test_parse();
    return check_done("test_pub_pos");
}
