/* binlog_copy.c -- the copy identity of a binlog directory and the settings checks for takeover (see binlog_copy.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "core/log.h"
#include "mappers/mysql/binlog_copy.h"

/* The walk's callback: the first event's server id, then stop. */
static int first_server_id(void *ctx, const binlog_event *ev, const binlog_fde *fde)
{
    (void)fde;
    *(uint32_t *)ctx = ev->server_id;
    return BINLOG_WALK_STOP;
}

int binlog_copy_id(binlog_reader *rd, const char *dir, char *buf, size_t len, char *errbuf,
                   size_t errlen)
{
    int rc = binlog_reader_refresh_index(rd, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    size_t n = binlog_reader_nfiles(rd);
    if (n == 0)
        return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND,
                         "the binlog index of %s lists no files", dir);
    const char *newest = binlog_reader_file(rd, n - 1);
    uint32_t server_id = 0;
    uint64_t end;
    rc = binlog_reader_walk(rd, newest, 0, first_server_id, &server_id, &end, errbuf, errlen);
    if (rc == WH_ERR_AGAIN && n > 1)   /* just created: its predecessor has the same id */
        rc = binlog_reader_walk(rd, binlog_reader_file(rd, n - 2), 0, first_server_id,
                                &server_id, &end, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    char host[256] = "?", real[PATH_MAX];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    if (!realpath(dir, real))
        snprintf(real, sizeof real, "%s", dir);
    /* The base name: the file name without its ".NNNNNN" sequence. */
    const char *dot = strrchr(newest, '.');
    int base = dot ? (int)(dot - newest) : (int)strlen(newest);
    int k = snprintf(buf, len, "mysql server_id=%u host=%s binlog=%s/%.*s", server_id, host, real,
                     base, newest);
    if (k < 0 || (size_t)k >= len)
        return wh_seterr(errbuf, errlen, WH_ERR_LIMIT,
                         "the copy identity of %s is longer than %zu bytes", dir, len - 1);
    return WH_OK;
}

/* The value of a global variable, "" when the server has no such variable. */
static int variable(binlog_server *srv, const char *name, char *buf, size_t len, char *errbuf,
                    size_t errlen)
{
    char q[128];
    snprintf(q, sizeof q, "SHOW GLOBAL VARIABLES LIKE '%s'", name);
    buf[0] = '\0';
    int rc = binlog_server_value(srv, q, 1, buf, len, errbuf, errlen);
    return rc == WH_ERR_NOT_FOUND ? WH_OK : rc;
}

int binlog_copy_check_settings(binlog_server *srv, char *errbuf, size_t errlen)
{
    char fmt[32], lsu[32], lru[32], strict[32], gmode[32], master[256] = "", err[512];
    int rc = variable(srv, "binlog_format", fmt, sizeof fmt, err, sizeof err);
    if (rc == WH_OK)
        rc = variable(srv, "log_slave_updates", lsu, sizeof lsu, err, sizeof err);
    if (rc == WH_OK)
        rc = variable(srv, "log_replica_updates", lru, sizeof lru, err, sizeof err);
    if (rc == WH_OK)
        rc = variable(srv, "gtid_strict_mode", strict, sizeof strict, err, sizeof err);
    if (rc == WH_OK)
        rc = variable(srv, "gtid_mode", gmode, sizeof gmode, err, sizeof err);
    if (rc == WH_OK) {
        /* Column 1 of SHOW SLAVE STATUS is Master_Host on MariaDB and MySQL. */
        rc = binlog_server_value(srv, "SHOW SLAVE STATUS", 1, master, sizeof master, err,
                                 sizeof err);
        if (rc == WH_ERR_NOT_FOUND)
            rc = WH_OK;   /* not a replica */
    }
    if (rc != WH_OK) {
        wh_warn(WH_AREA_BINLOG, "cannot check the server's settings for takeover "
                "(docs/MYSQL.md \"Failover\"): %s", err);
        return WH_OK;
    }
    bool logs_replicated = strcmp(lsu, "ON") == 0 || strcmp(lru, "ON") == 0;
    if (!logs_replicated && master[0])
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                         "the server is a replica of %s but does not log what it replicates "
                         "(log_slave_updates / log_replica_updates is OFF): its binlog never "
                         "receives the primary's transactions, so a publisher here has nothing "
                         "to deliver and cannot take over; turn log_slave_updates on "
                         "(docs/MYSQL.md \"Failover\")", master);
    if (!logs_replicated)
        wh_warn(WH_AREA_BINLOG, "log_slave_updates / log_replica_updates is OFF: fine while "
                "this server is the primary, but once it replicates again its binlog misses "
                "the new primary's transactions (docs/MYSQL.md \"Failover\")");
    if (strcmp(fmt, "ROW") != 0)
        wh_warn(WH_AREA_BINLOG, "binlog_format is %s, not ROW: statement events carry no row "
                "images (the mapper's statement_dml option decides what happens to them)", fmt);
    if (strict[0] && strcmp(strict, "ON") != 0)
        wh_warn(WH_AREA_BINLOG, "gtid_strict_mode is %s: a replica may then log a domain's "
                "transactions out of sequence order or diverge, and a takeover by GTID can "
                "only be exact with it ON (docs/MYSQL.md \"Failover\")", strict);
    if (gmode[0] && strcmp(gmode, "ON") != 0)
        wh_warn(WH_AREA_BINLOG, "gtid_mode is %s: positions carry no GTID, so another copy's "
                "publisher cannot continue from them (docs/FAILOVER.md)", gmode);
    return WH_OK;
}
