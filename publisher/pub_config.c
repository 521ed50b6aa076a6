/* pub_config.c -- the publisher's settings table (the source of docs/CONFIG.md). */
#include <stddef.h>
#include <stdio.h>

#include "core/errbuf.h"
#include "publisher/pub.h"

#define F(key, type, member, def, min, max, desc) \
    { key, type, offsetof(pub_config, member), def, min, max, desc }

const wh_cfg_field pub_config_fields[] = {
    F("shard", WH_CFG_STRING, shard, NULL, 1, 0,
      "Shard id of the datastore this publisher reads; stamped on every update."),
    F("id", WH_CFG_STRING, id, "\"\"", 1, 0,
      "Publisher id in ZooKeeper; empty means HOSTNAME-PID."),
    F("mapper.name", WH_CFG_STRING, mapper_name, NULL, 1, 0,
      "Positions mapper that reads the datastore's log (mysql, rocksdb)."),
    F("mapper.options", WH_CFG_JSON, mapper_options, "{}", 1, 0,
      "Options object of the mapper, as listed in docs/MYSQL.md (mysql) and "
      "docs/ROCKSDB.md (rocksdb)."),
    F("zookeeper.connect", WH_CFG_STRING, zk_connect, NULL, 1, 0,
      "ZooKeeper servers, host:port[,host:port...]."),
    F("zookeeper.root", WH_CFG_STRING, zk_root, "\"/wormhole\"", 1, 0,
      "Root path of wormhole's znodes."),
    F("zookeeper.session_timeout_ms", WH_CFG_INT, zk_session_ms, "10000", 2000, 120000,
      "ZooKeeper session timeout in milliseconds."),
    F("zookeeper.user", WH_CFG_STRING, zk_user, "\"\"", 1, 0,
      "ZooKeeper identity of the publishers (digest scheme, docs/ZOOKEEPER.md \"Access "
      "control\"); empty: no authentication, every node created open, with a warning."),
    F("zookeeper.secret_file", WH_CFG_STRING, zk_secret_file, "\"\"", 1, 0,
      "File holding the password of zookeeper.user (mode 0600 or stricter, owned by the "
      "publisher's user or root); never logged."),
    F("delivery.batch_size", WH_CFG_INT, batch_size, "1024", 1, 65536,
      "Most updates read from the mapper in one batch (live)."),
    F("delivery.window_bytes", WH_CFG_INT, window_bytes, "4194304", 65536, 1073741824,
      "Most bytes sent to one flow and not yet acknowledged; bounds memory per flow (live)."),
    F("delivery.datamarker_updates", WH_CFG_INT, marker_updates, "8192", 1, 100000000,
      "Send a datamarker after this many updates processed by a flow (live)."),
    F("delivery.datamarker_interval_ms", WH_CFG_INT, marker_ms, "200", 10, 60000,
      "Send a datamarker at least this often while a flow's position moves (live)."),
    F("delivery.heartbeat_interval_ms", WH_CFG_INT, heartbeat_ms, "1000", 50, 60000,
      "Send a heartbeat on an idle connection this often (live)."),
    F("delivery.heartbeat_timeout_ms", WH_CFG_INT, heartbeat_timeout_ms, "10000", 200, 600000,
      "Drop a subscriber connection that sent nothing for this long (live)."),
    F("delivery.connect_timeout_ms", WH_CFG_INT, connect_timeout_ms, "5000", 100, 600000,
      "Give up a TCP connect plus handshake after this long (live)."),
    F("delivery.retry_min_ms", WH_CFG_INT, backoff_min_ms, "100", 10, 600000,
      "First reconnect delay after a subscriber failure; doubles per failure (live)."),
    F("delivery.retry_max_ms", WH_CFG_INT, backoff_max_ms, "5000", 10, 600000,
      "Longest reconnect delay (live)."),
    F("delivery.caravan_wait_ms", WH_CFG_INT, caravan_wait_ms, "100", 0, 60000,
      "How long a shared reader waits for a full window before the slow flow leaves "
      "the caravan and gets a reader of its own (live)."),
    F("delivery.caravan_gather_ms", WH_CFG_INT, caravan_gather_ms, "200", 0, 10000,
      "A new caravan waits this long after its last flow joined, while a flow at its "
      "start position is still connecting, and while apps or instances that changed in "
      "ZooKeeper are being read (at most 25 times this long in all), before it reads: "
      "flows that start together share one reader (live)."),
    F("delivery.max_caravans", WH_CFG_INT, max_caravans, "0", 0, 100000,
      "Most caravans (log readers) at once, 0: no cap; at least 2 otherwise (the lead and "
      "one catch-up). A flow that finds no caravan at its position and no free one waits, "
      "first come first served, and is listed in the status file (live)."),
    F("delivery.catchup_read_bytes_per_s", WH_CFG_INT, catchup_read_bytes_per_s, "0", 0,
      1099511627776, "Most bytes of log per second that each catch-up caravan (every caravan "
      "but the lead, the one furthest ahead) reads, 0: no cap; the lead is never capped. "
      "Mappers that count the log bytes they read (mysql) only (live)."),
    F("delivery.max_frame_bytes", WH_CFG_INT, frame_bytes, "1048576", 16384, 67108864,
      "Largest frame sent (also within the limit each subscriber announces); a batch is "
      "split into frames of at most this size, and an update larger than one frame is sent "
      "in UPDATES_PART frames of this size."),
    F("positions.flush_interval_ms", WH_CFG_INT, flush_ms, "1000", 10, 600000,
      "Write changed acknowledged positions to ZooKeeper this often (live)."),
    F("lease.priority", WH_CFG_INT, lease_priority, "0", -1000000, 1000000,
      "This candidate's preference for the shard's lease: the healthy candidate with the "
      "highest priority is active, ties go to the smaller id (docs/FAILOVER.md)."),
    F("lease.failback", WH_CFG_BOOL, lease_failback, "true", 1, 0,
      "When this candidate becomes healthy and its priority is above the active one's, ask "
      "for the shard to move back to it; false: it stays standby until a move or a fault."),
    F("lease.grace_ms", WH_CFG_INT, lease_grace_ms, "3000", 0, 600000,
      "A vacant lease is taken at once by the best healthy candidate (which waits for a "
      "better one whose first health check has not ended), and by any healthy candidate "
      "once vacant this long."),
    F("health.interval_ms", WH_CFG_INT, health_interval_ms, "1000", 100, 600000,
      "Check this often, through the mapper, that this copy of the shard can serve it."),
    F("health.max_replica_lag_s", WH_CFG_INT, health_max_lag_s, "60", 0, 86400,
      "A replica lagging more seconds behind its primary is unhealthy (0: no bound); an "
      "unhealthy active publisher hands the lease over."),
    F("log.level", WH_CFG_STRING, log_level, "\"info\"", 1, 0,
      "Log level: error, warn, info or debug (live)."),
    F("log.debug", WH_CFG_STRING, log_debug, "\"\"", 1, 0,
      "Comma-separated debug areas (publisher,caravan,zk,protocol,binlog,... or all) (live)."),
    F("tls.mode", WH_CFG_STRING, tls_mode, "\"auto\"", 1, 0,
      "Mutual TLS to subscribers: auto (TLS when the three files are set, else plaintext to "
      "loopback subscribers only), on (TLS required), off (plaintext, loopback subscribers "
      "only); docs/SECURITY.md."),
    F("tls.ca_file", WH_CFG_STRING, tls_ca_file, "\"\"", 1, 0,
      "PEM file of the CA a subscriber's certificate must chain to (reloaded on SIGHUP)."),
    F("tls.cert_file", WH_CFG_STRING, tls_cert_file, "\"\"", 1, 0,
      "PEM certificate this publisher presents; subscribers accept it for a shard when it is "
      "named for it (by default publisher.SHARD.wormhole) (reloaded on SIGHUP)."),
    F("tls.key_file", WH_CFG_STRING, tls_key_file, "\"\"", 1, 0,
      "PEM private key of the certificate; refused unless mode 0600 or stricter and owned by "
      "this user or root (reloaded on SIGHUP)."),
    F("tls.subscriber_names", WH_CFG_STRING, tls_subscriber_names,
      "\"subscriber.{app}.wormhole\"", 1, 0,
      "Comma-separated name patterns an instance's certificate (SAN DNS, else CN) must match "
      "to receive an app: {app} stands for the app, * for any run of characters but '.' "
      "(live)."),
    F("bootstrap.chunk_rows", WH_CFG_INT, boot_chunk_rows, "10000", 1, 1000000,
      "Rows of a table read per bootstrap chunk, in one short snapshot (docs/BOOTSTRAP.md); "
      "at most one chunk is sent twice when a publisher or subscriber is killed (live)."),
    F("bootstrap.max_rows_per_sec", WH_CFG_INT, boot_rows_per_sec, "0", 0, 100000000,
      "Most rows per second each bootstrapping flow reads from the database; 0: no cap (live)."),
    F("bootstrap.max_window_keys", WH_CFG_INT, boot_window_keys, "1000000", 1000, 100000000,
      "Most keys of the table being read that a chunk's watermark window records while the "
      "chunk is read; beyond that the chunk is read again (live)."),
    { NULL, 0, 0, NULL, 0, 0, NULL },
};

int pub_config_check(const pub_config *cfg, const char *where, char *errbuf, size_t errlen)
{
    /* The subscriber answers each heartbeat interval; the publisher drops a
     * connection silent for the timeout. Less than two intervals in the
     * timeout and every connection times out between heartbeats: flows flap. */
    if (cfg->heartbeat_timeout_ms < 2 * cfg->heartbeat_ms)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "%s: keys 'delivery.heartbeat_interval_ms' (%lld) and "
                         "'delivery.heartbeat_timeout_ms' (%lld): the timeout must be at least "
                         "twice the interval, or connections time out between heartbeats and "
                         "every flow flaps", where, (long long)cfg->heartbeat_ms,
                         (long long)cfg->heartbeat_timeout_ms);
    if (cfg->backoff_min_ms > cfg->backoff_max_ms)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "%s: keys 'delivery.retry_min_ms' (%lld) and 'delivery.retry_max_ms' "
                         "(%lld): the first reconnect delay is longer than the longest one",
                         where, (long long)cfg->backoff_min_ms, (long long)cfg->backoff_max_ms);
    /* One caravan could only be the lead: an app behind it would never
     * get a reader and never catch up. */
    if (cfg->max_caravans == 1)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "%s: key 'delivery.max_caravans' (1): the cap must be 0 (none) or at "
                         "least 2, the lead caravan and one for apps that catch up, or an app "
                         "behind the lead would never get a reader", where);
    return WH_OK;
}

void pub_config_print_markdown(FILE *out)
{
    static const char *const types[] = { "string", "integer", "boolean", "number", "json" };
    fprintf(out, "| key | type | default | range | meaning |\n|---|---|---|---|---|\n");
    for (const wh_cfg_field *f = pub_config_fields; f->key; f++) {
        fprintf(out, "| `%s` | %s | %s%s%s | ", f->key, types[f->type], f->def ? "`" : "",
                f->def ? f->def : "required", f->def ? "`" : "");
        if (f->min <= f->max && f->type == WH_CFG_INT)
            fprintf(out, "%lld..%lld", (long long)f->min, (long long)f->max);
        fprintf(out, " | %s |\n", f->desc);
    }
}
