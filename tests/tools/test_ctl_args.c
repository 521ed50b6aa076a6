/* test_ctl_args.c -- wormhole-ctl's command line rules (tools/ctl/ctl_args.c). */
#include <string.h>

#include "tests/check.h"
#include "tools/ctl/ctl_args.h"

/* Parses the words of line (at most 15, split on spaces). */
static int parse(ctl_args *a, const char *line)
{
    static char copy[512];
    char *argv[16] = { "wormhole-ctl" };
    int argc = 1;
    snprintf(copy, sizeof copy, "%s", line);
    for (char *t = strtok(copy, " "); t && argc < 16; t = strtok(NULL, " "))
        argv[argc++] = t;
    char err[256];
    return ctl_args_parse(a, argc, argv, err, sizeof err);
}

int main(void)
{
    ctl_args a;
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh apps"), WH_OK);
    CHECK(a.cmd == CTL_APPS && !a.json && strcmp(a.zk, "h:1/wh") == 0);
    CHECK_EQ_INT(parse(&a, "apps --json --zk h:1/wh"), WH_OK);
    CHECK(a.cmd == CTL_APPS && a.json);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh app a1"), WH_OK);
    CHECK(a.cmd == CTL_APP && strcmp(a.app, "a1") == 0);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh reset a1 s1 --to-oldest"), WH_OK);
    CHECK(a.cmd == CTL_RESET && a.to == CTL_TO_OLDEST && strcmp(a.shard, "s1") == 0 && !a.force);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh reset a1 s1 --to-position b.000002:4/0 --force"), WH_OK);
    CHECK(a.to == CTL_TO_POSITION && strcmp(a.to_text, "b.000002:4/0") == 0 && a.force);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh reset a1 s1 --to-logical 0-1-5/0"), WH_OK);
    CHECK(a.to == CTL_TO_LOGICAL);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh remove a1"), WH_OK);
    CHECK(a.cmd == CTL_REMOVE);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh gc --older-than 3600"), WH_OK);
    CHECK(a.cmd == CTL_GC && a.older_than_s == 3600);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh policy a1 --on-purged oldest"), WH_OK);
    CHECK(a.cmd == CTL_POLICY && strcmp(a.on_purged, "oldest") == 0);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh move s1"), WH_OK);
    CHECK(a.cmd == CTL_MOVE && strcmp(a.shard, "s1") == 0 && !a.app && !a.move_to);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh move s1 --to pub-b"), WH_OK);
    CHECK(a.cmd == CTL_MOVE && strcmp(a.move_to, "pub-b") == 0);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh move"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh move s/1"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh move s1 --to"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh apps --to pub-b"), WH_ERR_CONFIG);   /* move only */
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh policy a1"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh policy a1 --on-purged newest"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh apps --on-purged stop"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh bootstrap a1 --tables shop.items,shop.stock --id b7"),
                 WH_OK);
    CHECK(a.cmd == CTL_BOOTSTRAP && strcmp(a.tables, "shop.items,shop.stock") == 0 &&
          strcmp(a.boot_id, "b7") == 0 && strcmp(a.app, "a1") == 0);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh bootstrap a1"), WH_ERR_CONFIG);          /* no --tables */
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh apps --tables a.b"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh app a1 --id b7"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--help"), WH_OK);
    CHECK(a.cmd == CTL_HELP);
    CHECK_EQ_INT(parse(&a, "apps --help"), WH_OK);
    CHECK(a.cmd == CTL_HELP);

    /* Usage errors. */
    CHECK_EQ_INT(parse(&a, ""), WH_ERR_CONFIG);                          /* no command */
    CHECK_EQ_INT(parse(&a, "apps"), WH_ERR_CONFIG);                      /* no --zk */
    CHECK_EQ_INT(parse(&a, "--zk"), WH_ERR_CONFIG);                      /* no value */
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh frob"), WH_ERR_CONFIG);          /* unknown command */
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh apps x"), WH_ERR_CONFIG);        /* extra word */
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh app"), WH_ERR_CONFIG);           /* missing APP */
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh app a/b"), WH_ERR_CONFIG);       /* bad name */
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh reset a1 s1"), WH_ERR_CONFIG);   /* no --to-* */
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh reset a1 --to-oldest"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh reset a1 s1 --to-oldest --to-position x:4/0"),
                 WH_ERR_CONFIG);                                          /* two targets */
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh apps --to-oldest"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh gc"), WH_ERR_CONFIG);            /* no --older-than */
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh gc --older-than -5"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh gc --older-than 1h"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh apps --older-than 5"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh apps --bogus"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh apps --timeout-ms 0"), WH_ERR_CONFIG);

    /* ZooKeeper identity and the access-control commands. */
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh --zk-user super --zk-secret-file /f apps"), WH_OK);
    CHECK(strcmp(a.zk_user, "super") == 0 && strcmp(a.zk_secret_file, "/f") == 0);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh --zk-user super apps"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh --zk-secret-file /f apps"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh init --publisher-id "
                           "wh-publisher:OEOxuLvTu8D+jtFmgg2Hw944UDk="), WH_OK);
    CHECK(a.cmd == CTL_INIT && strcmp(a.publisher_id,
                                      "wh-publisher:OEOxuLvTu8D+jtFmgg2Hw944UDk=") == 0);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh init x"), WH_ERR_CONFIG);        /* extra word */
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh add-app a1 --app-id "
                           "app-a:Z9qqE/HsqP+sNzYgCZhRgoDLP6U="), WH_OK);
    CHECK(a.cmd == CTL_ADD_APP && strcmp(a.app, "a1") == 0 && a.app_id != NULL);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh add-app"), WH_ERR_CONFIG);       /* missing APP */
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh add-app a1 --app-id app-a:secret"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh init --publisher-id nocolon"), WH_ERR_CONFIG);
    CHECK_EQ_INT(parse(&a, "--zk h:1/wh apps --app-id "
                           "app-a:Z9qqE/HsqP+sNzYgCZhRgoDLP6U="), WH_ERR_CONFIG);
    return check_done("test_ctl_args");
}
