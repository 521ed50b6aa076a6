/* mon_config.c -- loading and validating instance files (see mon_config.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "monitor/mon_config.h"
#include "monitor/mon_rundir.h"

#define DAY_MS 86400000

#define F(key, type, member, def, min, max, desc) \
    { key, type, offsetof(mon_spec, member), def, min, max, desc }

const wh_cfg_field mon_spec_fields[] = {
    F("enabled", WH_CFG_BOOL, enabled, "true", 0, -1,
      "Run this instance; false stops it and keeps the file."),
    F("command", WH_CFG_STRING, command, "\"\"", 0, -1,
      "Program to run; \"\" means wormhole-publisher next to wormhole-monitor, else on PATH."),
    F("args", WH_CFG_JSON, args, "[\"--config\", \"{config}\"]", 0, -1,
      "Arguments (array of strings); {config}, {instance}, {run_dir}, {status_file} are replaced."),
    F("environment", WH_CFG_JSON, environment, "{}", 0, -1,
      "Extra environment variables (object of strings; null unsets a variable)."),
    F("publisher", WH_CFG_JSON, publisher, "{}", 0, -1,
      "The publisher's own config (object), written to {config} for the process."),
    F("restart", WH_CFG_STRING, restart, "\"always\"", 0, -1,
      "Restart policy: always, on-failure (non-zero exit, signal or stuck) or never."),
    F("backoff.initial_ms", WH_CFG_INT, backoff_initial_ms, "1000", 0, DAY_MS,
      "Delay before the first restart after a failure."),
    F("backoff.max_ms", WH_CFG_INT, backoff_max_ms, "60000", 0, DAY_MS,
      "Cap of the restart delay."),
    F("backoff.multiplier", WH_CFG_DOUBLE, backoff_multiplier, "2.0", 1, 100,
      "Factor applied to the delay after each further failure."),
    F("backoff.reset_after_ms", WH_CFG_INT, backoff_reset_after_ms, "60000", 0, DAY_MS,
      "A run at least this long (and not stuck) is healthy: backoff and crash-loop state reset."),
    F("crash_loop.max_restarts", WH_CFG_INT, crash_max_restarts, "5", 1, 1000,
      "This many restarts within crash_loop.window_ms mark the instance failed."),
    F("crash_loop.window_ms", WH_CFG_INT, crash_window_ms, "300000", 1, DAY_MS,
      "The window over which restarts are counted."),
    F("crash_loop.retry_ms", WH_CFG_INT, crash_retry_ms, "300000", 1, DAY_MS,
      "How often a failed instance is retried, until one run is healthy."),
    F("health.startup_timeout_ms", WH_CFG_INT, startup_timeout_ms, "60000", 0, DAY_MS,
      "Time from start to the first heartbeat (0 = no limit); only with stuck detection on."),
    F("health.stuck_timeout_ms", WH_CFG_INT, stuck_timeout_ms, "30000", 0, DAY_MS,
      "No heartbeat for this long means stuck: the process is killed and restarted (0 = off)."),
    F("stop_timeout_ms", WH_CFG_INT, stop_timeout_ms, "10000", 1, DAY_MS,
      "Time between SIGTERM and SIGKILL when stopping."),
    { NULL, 0, 0, NULL, 0, 0, NULL },
};

#undef F

void mon_spec_free(mon_spec *spec)
{
    if (!spec)
        return;
    wh_config_free(mon_spec_fields, spec);
    free(spec->launch);
    free(spec->normalized);
    free(spec);
}

static bool env_name_ok(const char *k)
{
    if (!*k || isdigit((unsigned char)*k))
        return false;
    for (const char *p = k; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return false;
    return true;
}

static int validate(mon_spec *s, const char *where, char *errbuf, size_t errlen)
{
    size_t i;
    json_t *v;
    const char *k;

    if (mon_restart_parse(s->restart, &s->policy.restart))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "%s: key 'restart': '%s' is not one of always, on-failure, never",
                         where, s->restart);
    if (!json_is_array(s->args))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "%s: key 'args': expected an array of strings", where);
    if (json_array_size(s->args) > 256)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "%s: key 'args': more than 256 arguments", where);
    json_array_foreach(s->args, i, v) {
        if (!json_is_string(v))
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                             "%s: key 'args': element %zu is not a string", where, i);
        if (strlen(json_string_value(v)) != json_string_length(v))
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                             "%s: key 'args': element %zu contains a NUL character", where, i);
    }
    if (!json_is_object(s->environment))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "%s: key 'environment': expected an object of strings", where);
    json_object_foreach(s->environment, k, v) {
        if (!env_name_ok(k))
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                             "%s: key 'environment.%s': not a valid variable name", where, k);
        if (!json_is_string(v) && !json_is_null(v))
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                             "%s: key 'environment.%s': expected a string or null", where, k);
        if (json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v))
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                             "%s: key 'environment.%s': contains a NUL character", where, k);
        if (strncmp(k, "WORMHOLE_", 9) == 0)
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                             "%s: key 'environment.%s': WORMHOLE_* variables are set by the "
                             "monitor", where, k);
    }
    if (!json_is_object(s->publisher))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "%s: key 'publisher': expected an object (the publisher's config)",
                         where);
    /* The publisher config is copied into the run directory for each run:
     * a password in it would spread to another file (and to backups of
     * /run). Supervised publishers take it from a file or the environment. */
    if (mon_find_inline_secret(s->publisher))
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "%s: key 'publisher': holds an inline 'password'; the monitor copies "
                         "the publisher config into its run directory, so give the password as "
                         "password_file (mode 0600) or password_env instead", where);
    if (s->backoff_max_ms < s->backoff_initial_ms)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "%s: key 'backoff.max_ms': %lld is below backoff.initial_ms %lld",
                         where, (long long)s->backoff_max_ms, (long long)s->backoff_initial_ms);

    /* The process writes a heartbeat every stuck_timeout_ms / 4, at least
     * every 100 ms (mon_supervise.c); fewer than two of them per timeout and
     * healthy publishers are killed as stuck between two heartbeats. */
    if (s->stuck_timeout_ms > 0 && s->stuck_timeout_ms < 2 * MON_STATUS_INTERVAL_MIN_MS)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "%s: key 'health.stuck_timeout_ms': %lld leaves no room for two "
                         "heartbeats (the status interval WORMHOLE_STATUS_INTERVAL_MS is a "
                         "quarter of it, at least %d ms): use 0 (off) or at least %d",
                         where, (long long)s->stuck_timeout_ms, MON_STATUS_INTERVAL_MIN_MS,
                         2 * MON_STATUS_INTERVAL_MIN_MS);

    s->policy.initial_ms = s->backoff_initial_ms;
    s->policy.max_ms = s->backoff_max_ms;
    s->policy.multiplier = s->backoff_multiplier;
    s->policy.reset_after_ms = s->backoff_reset_after_ms;
    s->policy.max_restarts = (unsigned)s->crash_max_restarts;
    s->policy.window_ms = s->crash_window_ms;
    s->policy.retry_ms = s->crash_retry_ms;
    return WH_OK;
}

/* Fills s->launch and s->normalized (sorted, compact JSON). */
static int normalize(mon_spec *s, const json_t *root, const char *where, char *errbuf,
                     size_t errlen)
{
    json_t *launch = json_pack("{s:s, s:O, s:O, s:O}", "command", s->command, "args", s->args,
                               "environment", s->environment, "publisher", s->publisher);
    if (launch) {
        s->launch = json_dumps(launch, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(launch);
    }
    s->normalized = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s->launch || !s->normalized)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "%s: out of memory", where);
    return WH_OK;
}

int mon_spec_from_json(const json_t *root, const char *where, mon_spec **out, char *errbuf,
                       size_t errlen)
{
    *out = NULL;
    mon_spec *s = calloc(1, sizeof *s);
    if (!s)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "%s: out of memory", where);
    int rc = wh_config_apply(root, where, mon_spec_fields, s, errbuf, errlen);
    if (rc == WH_OK)
        rc = validate(s, where, errbuf, errlen);
    if (rc == WH_OK)
        rc = normalize(s, root, where, errbuf, errlen);
    if (rc) {
        mon_spec_free(s);
        return rc;
    }
    *out = s;
    return WH_OK;
}

int mon_spec_load(const char *path, mon_spec **out, char *errbuf, size_t errlen)
{
    enum { MAX_FILE = 4 << 20 };
    json_error_t jerr;
    *out = NULL;
    FILE *f = fopen(path, "rbe");
    if (!f)
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "%s: cannot open: %s", path,
                         strerror(errno));
    char *text = malloc(MAX_FILE + 1);
    size_t n = text ? fread(text, 1, MAX_FILE + 1, f) : 0;
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    if (!text)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "%s: out of memory", path);
    if (rerr) {
        free(text);
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "%s: cannot read: %s", path,
                         strerror(rerr));
    }
    if (n > MAX_FILE) {
        free(text);
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s: larger than %d bytes", path,
                         MAX_FILE);
    }
    json_t *root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "%s:%d:%d: %s", path, jerr.line,
                         jerr.column, jerr.text);
    int rc = mon_spec_from_json(root, path, out, errbuf, errlen);
    json_decref(root);
    return rc;
}

bool mon_config_file_name(const char *name, char *inst)
{
    size_t n = strlen(name);
    if (n <= 5 || strcmp(name + n - 5, ".json") != 0)
        return false;
    n -= 5;
    if (n > MON_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(isalnum(c) || c == '_' || c == '-' || c == '.'))
            return false;
    }
    if (inst) {
        memcpy(inst, name, n);
        inst[n] = '\0';
    }
    return true;
}

bool mon_config_ignored_name(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.' || name[0] == '#' || (n && name[n - 1] == '~'))
        return true;
    if (n >= 4 && strcmp(name + n - 4, ".tmp") == 0)
        return true;
    return n < 5 || strcmp(name + n - 5, ".json") != 0;
}
