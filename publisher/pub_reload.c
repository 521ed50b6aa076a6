/* pub_reload.c -- the publisher's settings: loading them at start, logging, the live delivery settings, and SIGHUP reload. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "core/log.h"
#include "protocol/zk_layout.h"
#include "publisher/pub.h"

int pub_apply_logging(const pub_config *cfg, char *errbuf, size_t errlen)
{
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    int level = -1;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(cfg->log_level, levels[i]) == 0)
            level = i;
    if (level < 0)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "key 'log.level': '%s' is not error, warn, info or debug",
                         cfg->log_level);
    wh_log_set_level((wh_log_level)level);
    if (wh_log_set_debug(cfg->log_debug) != WH_OK)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "key 'log.debug': unknown area in '%s'",
                         cfg->log_debug);
    return WH_OK;
}

void pub_apply_live(publisher *p)
{
    atomic_store(&p->window_bytes, p->cfg.window_bytes);
    atomic_store(&p->marker_updates, p->cfg.marker_updates);
    atomic_store(&p->marker_ms, p->cfg.marker_ms);
    atomic_store(&p->batch_size, p->cfg.batch_size);
    atomic_store(&p->caravan_wait_ms, p->cfg.caravan_wait_ms);
    atomic_store(&p->boot_chunk_rows, p->cfg.boot_chunk_rows);
    atomic_store(&p->boot_rows_per_sec, p->cfg.boot_rows_per_sec);
    atomic_store(&p->boot_window_keys, p->cfg.boot_window_keys);
}

/* Whether next changes a setting that only a restart applies. */
static bool needs_restart(const publisher *p, const pub_config *next)
{
    return strcmp(next->shard, p->cfg.shard) || strcmp(next->mapper_name, p->cfg.mapper_name) ||
           !json_equal(next->mapper_options, p->cfg.mapper_options) ||
           strcmp(next->zk_connect, p->cfg.zk_connect) || strcmp(next->zk_root, p->cfg.zk_root) ||
           strcmp(next->id, p->id_configured ? p->id_configured : "");
}

void pub_reload(publisher *p)
{
    char err[1024];
    pub_config next;
    memset(&next, 0, sizeof next);
    if (wh_config_load_file(p->config_path, pub_config_fields, &next, err, sizeof err) != WH_OK) {
        wh_warn(WH_AREA_PUBLISHER, "SIGHUP: keeping the running configuration: %s", err);
        return;
    }
    if (needs_restart(p, &next))
        wh_warn(WH_AREA_PUBLISHER, "SIGHUP: shard, id, mapper and zookeeper settings change "
                "only with a restart; applying the delivery and log settings");
    if (pub_apply_logging(&next, err, sizeof err) != WH_OK) {
        wh_warn(WH_AREA_PUBLISHER, "SIGHUP: %s", err);
        wh_config_free(pub_config_fields, &next);
        pub_apply_logging(&p->cfg, err, sizeof err);
        return;
    }
    p->cfg.batch_size = next.batch_size;
    p->cfg.window_bytes = next.window_bytes;
    p->cfg.marker_updates = next.marker_updates;
    p->cfg.marker_ms = next.marker_ms;
    p->cfg.caravan_wait_ms = next.caravan_wait_ms;
    p->cfg.heartbeat_ms = next.heartbeat_ms;
    p->cfg.heartbeat_timeout_ms = next.heartbeat_timeout_ms;
    p->cfg.connect_timeout_ms = next.connect_timeout_ms;
    p->cfg.backoff_min_ms = next.backoff_min_ms;
    p->cfg.backoff_max_ms = next.backoff_max_ms;
    p->cfg.flush_ms = next.flush_ms;
    p->cfg.boot_chunk_rows = next.boot_chunk_rows;
    p->cfg.boot_rows_per_sec = next.boot_rows_per_sec;
    p->cfg.boot_window_keys = next.boot_window_keys;
    char *t;
    t = p->cfg.log_level; p->cfg.log_level = next.log_level; next.log_level = t;
    t = p->cfg.log_debug; p->cfg.log_debug = next.log_debug; next.log_debug = t;
    wh_config_free(pub_config_fields, &next);
    pub_apply_live(p);
    wh_info(WH_AREA_PUBLISHER, "SIGHUP: configuration reloaded from %s", p->config_path);
}

int pub_load_config(publisher *p, const char *debug, char *err, size_t errlen)
{
    if (wh_config_load_file(p->config_path, pub_config_fields, &p->cfg, err, errlen))
        return WH_ERR_CONFIG;
    if (pub_apply_logging(&p->cfg, err, errlen) != WH_OK)
        return wh_preferr(err, errlen, WH_ERR_CONFIG, "%s", p->config_path);
    if (debug && wh_log_set_debug(debug) != WH_OK)
        return wh_seterr(err, errlen, WH_ERR_CONFIG, "--debug: unknown area in '%s'", debug);
    if (!zku_valid_name(p->cfg.shard))
        return wh_seterr(err, errlen, WH_ERR_CONFIG, "%s: key 'shard': '%s' is not a valid name "
                         "(1..128 of A-Z a-z 0-9 . _ - :)", p->config_path, p->cfg.shard);
    if (p->cfg.zk_root[0] != '/' || strlen(p->cfg.zk_root) > 512)
        return wh_seterr(err, errlen, WH_ERR_CONFIG, "%s: key 'zookeeper.root': '%s' is not an "
                         "absolute path", p->config_path, p->cfg.zk_root);
    p->id_configured = strdup(p->cfg.id);
    if (!p->cfg.id[0]) {
        char host[128] = "host", id[200];
        gethostname(host, sizeof host - 1);
        snprintf(id, sizeof id, "%s-%d", host, (int)getpid());
        free(p->cfg.id);
        p->cfg.id = strdup(id);
    }
    pub_apply_live(p);
    return WH_OK;
}
