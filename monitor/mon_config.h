/* mon_config.h -- instance files: one JSON file per publisher in the config directory.
 *
 * The settings table (mon_spec_fields) is the single description of an
 * instance file: loading, defaults, validation and `wormhole-monitor --help`
 * come from it. A file NAME.json describes the instance NAME. */
#ifndef MON_CONFIG_H
#define MON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/config.h"
#include "monitor/mon_policy.h"

#define MON_NAME_MAX 64

/* The shortest status interval the monitor asks of a process
 * (WORMHOLE_STATUS_INTERVAL_MS: a quarter of health.stuck_timeout_ms, at
 * least this); a stuck timeout must hold two of them. */
#define MON_STATUS_INTERVAL_MIN_MS 100

/* One parsed, validated instance file. */
typedef struct mon_spec {
    bool     enabled;
    char    *command;            /* as written; "" = the default publisher */
    json_t  *args;               /* array of strings (placeholders not yet replaced) */
    json_t  *environment;        /* object: name -> string, or null to unset */
    json_t  *publisher;          /* object, written to config.json for the process */
    char    *restart;            /* "always", "on-failure" or "never" */
    int64_t  backoff_initial_ms, backoff_max_ms, backoff_reset_after_ms;
    double   backoff_multiplier;
    int64_t  crash_max_restarts, crash_window_ms, crash_retry_ms;
    int64_t  startup_timeout_ms, stuck_timeout_ms;
    int64_t  stop_timeout_ms;
    /* derived by mon_spec_load */
    mon_policy policy;
    char    *launch;             /* normalized JSON of command, args, environment, publisher */
    char    *normalized;         /* normalized JSON of the whole file */
} mon_spec;

extern const wh_cfg_field mon_spec_fields[];

/* Loads and validates the instance file at path. On success *out is a new
 * spec (free with mon_spec_free). On failure *out is NULL, errbuf holds
 * "PATH:LINE:COL: reason" for JSON syntax or "PATH: key 'K': reason", and
 * the result is WH_ERR_CONFIG (WH_ERR_IO if the file cannot be read). */
int mon_spec_load(const char *path, mon_spec **out, char *errbuf, size_t errlen);

/* Same for an already parsed object; where names the origin in messages. */
int mon_spec_from_json(const json_t *root, const char *where, mon_spec **out, char *errbuf,
                       size_t errlen);

void mon_spec_free(mon_spec *spec);

/* Is name (a directory entry) an instance file? True for "NAME.json" where
 * NAME is 1..64 of [A-Za-z0-9_.-] and does not start with '.'; false for
 * dotfiles, editor temporaries ("x.json~", "#x.json#", "x.json.tmp") and
 * anything else. On true, the instance name is copied to inst (at least
 * MON_NAME_MAX + 1 bytes) if inst is not NULL. */
bool mon_config_file_name(const char *name, char *inst);

/* Is this a name the config directory may hold that is simply not ours
 * (editor temporaries, dotfiles, non-.json)? Used to decide whether to warn. */
bool mon_config_ignored_name(const char *name);

#endif
