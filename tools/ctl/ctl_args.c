/* ctl_args.c -- wormhole-ctl's command line (see ctl_args.h). */
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "protocol/zk_layout.h"
#include "tools/ctl/ctl_args.h"

/* Parses a non-negative decimal number; false if text is not one. */
static bool parse_count(const char *text, int64_t *out)
{
    char *end;
    if (!text || !*text || *text == '-')
        return false;
    long long v = strtoll(text, &end, 10);
    if (*end || v < 0)
        return false;
    *out = v;
    return true;
}

int ctl_args_parse(ctl_args *a, int argc, char **argv, char *errbuf, size_t errlen)
{
    const char *words[4];
    int nwords = 0;
    memset(a, 0, sizeof *a);
    a->older_than_s = -1;
    a->timeout_ms = 10000;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            a->cmd = CTL_HELP;
            return WH_OK;
        } else if (strcmp(s, "--json") == 0) {
            a->json = true;
        } else if (strcmp(s, "--force") == 0) {
            a->force = true;
        } else if (strcmp(s, "--zk") == 0 || strcmp(s, "--older-than") == 0 ||
                   strcmp(s, "--timeout-ms") == 0 || strcmp(s, "--to-position") == 0 ||
                   strcmp(s, "--to-logical") == 0 || strcmp(s, "--on-purged") == 0 ||
                   strcmp(s, "--to") == 0 ||
                   strcmp(s, "--zk-user") == 0 || strcmp(s, "--zk-secret-file") == 0 ||
                   strcmp(s, "--publisher-id") == 0 || strcmp(s, "--app-id") == 0 ||
                   strcmp(s, "--tables") == 0 || strcmp(s, "--id") == 0) {
            if (!val)
                return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s needs a value", s);
            i++;
            if (strcmp(s, "--zk") == 0) {
                a->zk = val;
            } else if (strcmp(s, "--to") == 0) {
                if (strlen(val) > ZKU_ID_MAX)
                    return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "--to: a publisher id has "
                                     "at most %d characters", ZKU_ID_MAX);
                a->move_to = val;
            } else if (strcmp(s, "--zk-user") == 0) {
                a->zk_user = val;
            } else if (strcmp(s, "--zk-secret-file") == 0) {
                a->zk_secret_file = val;
            } else if (strcmp(s, "--publisher-id") == 0 || strcmp(s, "--app-id") == 0) {
                const char *colon = strchr(val, ':');
                if (!colon || colon == val || strlen(colon + 1) != 28)
                    return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: '%s' is not a digest "
                                     "id USER:BASE64SHA1 (28 characters after the ':')", s, val);
                *(strcmp(s, "--app-id") == 0 ? &a->app_id : &a->publisher_id) = val;
            } else if (strcmp(s, "--tables") == 0) {
                a->tables = val;
            } else if (strcmp(s, "--id") == 0) {
                a->boot_id = val;
            } else if (strcmp(s, "--on-purged") == 0) {
                bool oldest;
                if (!zku_on_purged_parse(val, &oldest))
                    return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "--on-purged: '%s' is not "
                                     "stop or oldest", val);
                a->on_purged = val;
            } else if (strcmp(s, "--older-than") == 0) {
                if (!parse_count(val, &a->older_than_s))
                    return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "--older-than: '%s' is not "
                                     "a number of seconds", val);
            } else if (strcmp(s, "--timeout-ms") == 0) {
                if (!parse_count(val, &a->timeout_ms) || a->timeout_ms == 0)
                    return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "--timeout-ms: '%s' is not "
                                     "a positive number", val);
            } else {
                if (a->to != CTL_TO_NONE)
                    return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "give one of --to-position, "
                                     "--to-logical, --to-oldest");
                a->to = strcmp(s, "--to-position") == 0 ? CTL_TO_POSITION : CTL_TO_LOGICAL;
                a->to_text = val;
            }
        } else if (strcmp(s, "--to-oldest") == 0) {
            if (a->to != CTL_TO_NONE)
                return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "give one of --to-position, "
                                 "--to-logical, --to-oldest");
            a->to = CTL_TO_OLDEST;
        } else if (s[0] == '-' && s[1]) {
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "unknown option '%s'", s);
        } else {
            if (nwords == 4)
                return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "too many arguments ('%s')", s);
            words[nwords++] = s;
        }
    }
    if (nwords == 0)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "no command (apps, app, reset, remove, "
                         "gc, policy, move, init, add-app, bootstrap)");
    static const struct { const char *name; ctl_cmd cmd; int nargs; } cmds[] = {
        { "apps", CTL_APPS, 0 }, { "app", CTL_APP, 1 }, { "reset", CTL_RESET, 2 },
        { "remove", CTL_REMOVE, 1 }, { "gc", CTL_GC, 0 }, { "policy", CTL_POLICY, 1 },
        { "move", CTL_MOVE, 1 }, { "init", CTL_INIT, 0 }, { "add-app", CTL_ADD_APP, 1 },
        { "bootstrap", CTL_BOOTSTRAP, 1 },
    };
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
        if (strcmp(words[0], cmds[k].name) == 0) {
            a->cmd = cmds[k].cmd;
            if (nwords - 1 != cmds[k].nargs)
                return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "'%s' takes %d argument%s, "
                                 "not %d", cmds[k].name, cmds[k].nargs,
                                 cmds[k].nargs == 1 ? "" : "s", nwords - 1);
        }
    if (a->cmd == CTL_NONE)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "unknown command '%s'", words[0]);
    if (!a->zk)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "--zk HOST:PORT/ROOT is required");
    if (nwords > 1 && a->cmd == CTL_MOVE)
        a->shard = words[1];
    else if (nwords > 1)
        a->app = words[1];
    if (nwords > 2)
        a->shard = words[2];
    if (a->app && !zku_valid_name(a->app))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "'%s' is not a valid app name", a->app);
    if (a->shard && !zku_valid_name(a->shard))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "'%s' is not a valid shard name",
                         a->shard);
    if (a->cmd != CTL_MOVE && a->move_to)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "--to belongs to move");
    if (a->cmd == CTL_RESET && a->to == CTL_TO_NONE)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "reset needs --to-position, "
                         "--to-logical or --to-oldest");
    if (a->cmd != CTL_RESET && a->to != CTL_TO_NONE)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "--to-* belongs to reset");
    if ((a->cmd == CTL_POLICY) != (a->on_purged != NULL))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, a->on_purged ? "--on-purged belongs to "
                         "policy" : "policy needs --on-purged stop|oldest");
    if (!a->zk_user != !a->zk_secret_file)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "--zk-user and --zk-secret-file go "
                         "together");
    if (a->app_id && a->cmd != CTL_ADD_APP)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "--app-id belongs to add-app");
    if ((a->cmd == CTL_BOOTSTRAP) != (a->tables != NULL))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, a->tables ? "--tables belongs to "
                         "bootstrap" : "bootstrap needs --tables db.table[,db.table...]");
    if (a->boot_id && a->cmd != CTL_BOOTSTRAP)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "--id belongs to bootstrap");
    if (a->cmd == CTL_GC && a->older_than_s < 0)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "gc needs --older-than SECONDS");
    if (a->cmd != CTL_GC && a->older_than_s >= 0)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "--older-than belongs to gc");
    return WH_OK;
}
