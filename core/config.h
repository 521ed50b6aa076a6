/* config.h -- table-driven reading of JSON configuration files.
 *
 * Each component describes its settings once, in a table of wh_cfg_field:
 * key, type, where to store it, default, range and a description. Loading,
 * validation, defaults, --help text and docs/CONFIG.md all come from that
 * table. Every error names the file, the key and the reason. Unknown keys
 * are errors (a typo must not silently fall back to a default). */
#ifndef WH_CONFIG_H
#define WH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "wormhole/error.h"

typedef enum wh_cfg_type {
    WH_CFG_STRING,   /* char *, malloc'd; freed by wh_config_free */
    WH_CFG_INT,      /* int64_t, within [min, max] */
    WH_CFG_BOOL,     /* bool */
    WH_CFG_DOUBLE,   /* double, within [min, max] */
    WH_CFG_JSON,     /* json_t *, a new reference (any JSON value); decref'd by wh_config_free.
                        Its contents are not checked here: the owner of the
                        sub-document validates it with its own table. */
} wh_cfg_type;

typedef struct wh_cfg_field {
    const char *key;       /* dotted path into nested objects: "zookeeper.connect" */
    wh_cfg_type type;
    size_t      offset;    /* offsetof(struct, member) */
    const char *def;       /* default in JSON text ("10", "\"x\"", "true"); NULL = required */
    int64_t     min, max;  /* INT and DOUBLE range, inclusive; min > max = unchecked */
    const char *desc;      /* one sentence for --help and docs */
} wh_cfg_field;

/* Reads a JSON file and applies fields to out (a struct the table describes).
 * On error writes "FILE: key 'K': reason" (or "FILE:LINE:COL: reason" for
 * syntax errors) to errbuf and returns WH_ERR_CONFIG; out is then freed with
 * wh_config_free by this function, so the caller never sees half a config. */
int wh_config_load_file(const char *path, const wh_cfg_field *fields, void *out,
                        char *errbuf, size_t errlen);

/* Same as wh_config_load_file for an already parsed object; where names the
 * origin in messages (a file name, "ZooKeeper node /x", "mapper options"). */
int wh_config_apply(const json_t *root, const char *where, const wh_cfg_field *fields,
                    void *out, char *errbuf, size_t errlen);

/* Frees the strings and JSON references the table stored in out. */
void wh_config_free(const wh_cfg_field *fields, void *out);

/* Writes one line per field: key, type, default, range, description. */
void wh_config_print_help(FILE *f, const wh_cfg_field *fields);

#endif
