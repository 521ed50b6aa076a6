/* pub_reload.c -- the publisher's settings: loading them at start, logging, the live delivery settings, and SIGHUP reload. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "core/log.h"
#include "protocol/wire_tls.h"
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
    atomic_store(&p->caravan_gather_ms, p->cfg.caravan_gather_ms);
    atomic_store(&p->max_caravans, p->cfg.max_caravans);
    atomic_store(&p->catchup_read_bytes_per_s, p->cfg.catchup_read_bytes_per_s);
    atomic_store(&p->boot_chunk_rows, p->cfg.boot_chunk_rows);
    atomic_store(&p->boot_rows_per_sec, p->cfg.boot_rows_per_sec);
    atomic_store(&p->boot_window_keys, p->cfg.boot_window_keys);
    atomic_store(&p->flush_ms, p->cfg.flush_ms);
}

/* Builds a TLS context from cfg's files into *out (NULL for plaintext). */
static int tls_context(const publisher *p, const pub_config *cfg, struct wire_tls_ctx **out,
                       char *err, size_t errlen)
{
    wire_tls_mode mode;
    *out = NULL;
    if (!wire_tls_parse_mode(cfg->tls_mode, &mode))
        return wh_seterr(err, errlen, WH_ERR_CONFIG, "%s: key 'tls.mode': '%s' is not auto, on "
                         "or off", p->config_path, cfg->tls_mode);
    bool files = cfg->tls_ca_file[0] || cfg->tls_cert_file[0] || cfg->tls_key_file[0];
    if (mode == WIRE_TLS_OFF || (mode == WIRE_TLS_AUTO && !files))
        return WH_OK;
    wire_tls_files f = { cfg->tls_ca_file, cfg->tls_cert_file, cfg->tls_key_file };
    int rc = wire_tls_ctx_new(&f, false, out, err, errlen);
    if (rc)
        return wh_preferr(err, errlen, WH_ERR_CONFIG, "%s: tls", p->config_path);
    return WH_OK;
}

int pub_tls_setup(publisher *p, char *err, size_t errlen)
{
    int rc = tls_context(p, &p->cfg, &p->tls, err, errlen);
    if (rc)
        return rc;
    if (p->tls)
        wh_info(WH_AREA_PUBLISHER, "TLS: certificate %s; subscribers must present a "
                "certificate from %s named %s", wire_tls_ctx_subject(p->tls),
                p->cfg.tls_ca_file, p->cfg.tls_subscriber_names);
    else
        wh_info(WH_AREA_PUBLISHER, "TLS is %s: delivering in plaintext to subscribers on "
                "loopback addresses only", strcmp(p->cfg.tls_mode, "off") == 0
                ? "off" : "not configured");
    return WH_OK;
}

/* SIGHUP: the certificate, key and CA files again (renewed ones), or new
 * files if their paths changed; a failure keeps the running ones. The
 * mode (TLS or plaintext) changes only with a restart. */
static void reload_tls(publisher *p, pub_config *next)
{
    char err[1024];
    struct wire_tls_ctx *c = NULL;
    if (strcmp(next->tls_mode, p->cfg.tls_mode) != 0 ||
        !(next->tls_ca_file[0] || next->tls_cert_file[0] || next->tls_key_file[0]) != !p->tls) {
        wh_warn(WH_AREA_PUBLISHER, "SIGHUP: switching TLS on or off takes a restart; "
                "keeping the running TLS settings");
        return;
    }
    if (!p->tls)
        return;
    if (tls_context(p, next, &c, err, sizeof err) != WH_OK || !c) {
        wh_warn(WH_AREA_PUBLISHER, "SIGHUP: keeping the running TLS certificate: %s", err);
        return;
    }
    wire_tls_ctx_free(p->tls);   /* connections up keep theirs */
    p->tls = c;
    char **keys[] = { &p->cfg.tls_ca_file, &p->cfg.tls_cert_file, &p->cfg.tls_key_file };
    char **news[] = { &next->tls_ca_file, &next->tls_cert_file, &next->tls_key_file };
    for (int i = 0; i < 3; i++) {
        char *t = *keys[i];
        *keys[i] = *news[i];
        *news[i] = t;
    }
    wh_info(WH_AREA_PUBLISHER, "SIGHUP: TLS certificate reloaded: %s", wire_tls_ctx_subject(c));
}

/* Whether next changes a setting that only a restart applies. */
static bool needs_restart(const publisher *p, const pub_config *next)
{
    return strcmp(next->shard, p->cfg.shard) || strcmp(next->mapper_name, p->cfg.mapper_name) ||
           !json_equal(next->mapper_options, p->cfg.mapper_options) ||
           strcmp(next->zk_connect, p->cfg.zk_connect) || strcmp(next->zk_root, p->cfg.zk_root) ||
           strcmp(next->zk_user, p->cfg.zk_user) ||
           strcmp(next->zk_secret_file, p->cfg.zk_secret_file) ||
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
    if (pub_config_check(&next, p->config_path, err, sizeof err) != WH_OK) {
        wh_warn(WH_AREA_PUBLISHER, "SIGHUP: keeping the running configuration: %s", err);
        wh_config_free(pub_config_fields, &next);
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
    p->cfg.caravan_gather_ms = next.caravan_gather_ms;
    p->cfg.max_caravans = next.max_caravans;
    p->cfg.catchup_read_bytes_per_s = next.catchup_read_bytes_per_s;
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
    t = p->cfg.tls_subscriber_names; p->cfg.tls_subscriber_names = next.tls_subscriber_names;
    next.tls_subscriber_names = t;
    reload_tls(p, &next);
    wh_config_free(pub_config_fields, &next);
    pub_apply_live(p);
    wh_info(WH_AREA_PUBLISHER, "SIGHUP: configuration reloaded from %s", p->config_path);
}

int pub_load_config(publisher *p, const char *debug, char *err, size_t errlen)
{
    if (wh_config_load_file(p->config_path, pub_config_fields, &p->cfg, err, errlen))
        return WH_ERR_CONFIG;
    if (pub_config_check(&p->cfg, p->config_path, err, errlen) != WH_OK)
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
