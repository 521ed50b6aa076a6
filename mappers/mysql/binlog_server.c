/* binlog_server.c -- table columns from the server's information_schema
 * (see binlog_server.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "core/errbuf.h"
#include "core/file.h"
#include "core/log.h"
#include "mappers/mysql/binlog_server.h"

struct binlog_server {
    binlog_server_opts o;
    char *host, *socket, *user, *password, *ssl_ca, *ssl_cert, *ssl_key;
    MYSQL *conn;
    /* the last answer */
    binlog_server_column *cols;
    char ***members;
    uint32_t *n_members;
    uint32_t n;
    char *strings;              /* names and data types of the last answer */
};

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

int binlog_ssl_mode_parse(const char *s, binlog_ssl_mode *out)
{
    static const char *const names[] = { "disabled", "preferred", "required", "verify_ca",
                                         "verify_identity" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (binlog_ssl_mode)i;
            return WH_OK;
        }
    return WH_ERR_CONFIG;
}

int binlog_server_new(const binlog_server_opts *opts, binlog_server **out,
                      char *errbuf, size_t errlen)
{
    binlog_server *s = calloc(1, sizeof *s);
    if (!s)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    s->o = *opts;
    s->host = dup_or_null(opts->host);
    s->socket = dup_or_null(opts->socket);
    s->user = dup_or_null(opts->user);
    s->password = dup_or_null(opts->password);
    s->ssl_ca = dup_or_null(opts->ssl_ca);
    s->ssl_cert = dup_or_null(opts->ssl_cert);
    s->ssl_key = dup_or_null(opts->ssl_key);
    s->o.host = s->host;
    s->o.socket = s->socket;
    s->o.user = s->user;
    s->o.password = s->password;
    s->o.ssl_ca = s->ssl_ca;
    s->o.ssl_cert = s->ssl_cert;
    s->o.ssl_key = s->ssl_key;
    if (!s->o.timeout_s)
        s->o.timeout_s = 10;
    *out = s;
    return WH_OK;
}

static void clear_answer(binlog_server *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        binlog_server_free_members(s->members[i], s->n_members[i]);
    free(s->members);
    free(s->n_members);
    free(s->cols);
    free(s->strings);
    s->members = NULL;
    s->n_members = NULL;
    s->cols = NULL;
    s->strings = NULL;
    s->n = 0;
}

void binlog_server_free(binlog_server *s)
{
    if (!s)
        return;
    clear_answer(s);
    if (s->conn)
        mysql_close(s->conn);
    free(s->host);
    free(s->socket);
    free(s->user);
    if (s->password)
        wh_secret_wipe(s->password, strlen(s->password));
    free(s->password);
    free(s->ssl_ca);
    free(s->ssl_cert);
    free(s->ssl_key);
    free(s);
}

static const char *where(const binlog_server *s, char *buf, size_t n)
{
    if (s->o.socket && !s->o.host)
        snprintf(buf, n, "socket %s", s->o.socket);
    else
        snprintf(buf, n, "%s:%u", s->o.host ? s->o.host : "localhost",
                 s->o.port ? s->o.port : 3306);
    return buf;
}

/* Maps ssl_mode onto MariaDB Connector/C: any TLS setting (mysql_ssl_set)
 * makes the client ask for TLS when the server offers it; ENFORCE refuses a
 * plain connection; VERIFY_SERVER_CERT checks the chain against ssl_ca and
 * the host name. */
static void set_tls(const binlog_server *s, MYSQL *c)
{
    my_bool yes = 1, no = 0;
    if (s->o.ssl_mode == BINLOG_SSL_DISABLED) {
        mysql_optionsv(c, MYSQL_OPT_SSL_ENFORCE, &no);
        mysql_optionsv(c, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &no);
        return;
    }
    mysql_ssl_set(c, s->o.ssl_key, s->o.ssl_cert, s->o.ssl_ca, NULL, NULL);
    if (s->o.ssl_mode >= BINLOG_SSL_REQUIRED)
        mysql_optionsv(c, MYSQL_OPT_SSL_ENFORCE, &yes);
    mysql_optionsv(c, MYSQL_OPT_SSL_VERIFY_SERVER_CERT,
                   s->o.ssl_mode >= BINLOG_SSL_VERIFY_CA ? &yes : &no);
}

static int connect_server(binlog_server *s, char *errbuf, size_t errlen)
{
    char w[300];
    if (s->conn)
        return WH_OK;
    MYSQL *c = mysql_init(NULL);
    if (!c)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a MySQL connection");
    unsigned t = s->o.timeout_s;
    mysql_options(c, MYSQL_OPT_CONNECT_TIMEOUT, &t);
    mysql_options(c, MYSQL_OPT_READ_TIMEOUT, &t);
    mysql_options(c, MYSQL_OPT_WRITE_TIMEOUT, &t);
    mysql_options(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    set_tls(s, c);
    if (!mysql_real_connect(c, s->o.host, s->o.user, s->o.password, NULL, s->o.port,
                            s->o.socket, 0)) {
        int rc = wh_seterr(errbuf, errlen, WH_ERR_MYSQL,
                           "cannot connect to the MySQL server at %s for table schemas: %s",
                           where(s, w, sizeof w), mysql_error(c));
        mysql_close(c);
        return rc;
    }
    const char *cipher = mysql_get_ssl_cipher(c);
    if (s->o.ssl_mode >= BINLOG_SSL_REQUIRED && !cipher) {
        mysql_close(c);
        return wh_seterr(errbuf, errlen, WH_ERR_MYSQL,
                         "the MySQL server at %s for table schemas did not use TLS although "
                         "ssl_mode requires it", where(s, w, sizeof w));
    }
    s->conn = c;
    wh_debug(WH_AREA_BINLOG, "connected to %s for table schemas (%s%s)", where(s, w, sizeof w),
             cipher ? "TLS " : "no TLS", cipher ? cipher : "");
    return WH_OK;
}

int binlog_server_connection(binlog_server *s, MYSQL **out, char *errbuf, size_t errlen)
{
    int rc = connect_server(s, errbuf, errlen);
    *out = rc == WH_OK ? s->conn : NULL;
    return rc;
}

void binlog_server_disconnect(binlog_server *s)
{
    if (s->conn)
        mysql_close(s->conn);
    s->conn = NULL;
}

int binlog_server_parse_members(const char *ct, char ***members, uint32_t *n)
{
    *members = NULL;
    *n = 0;
    const char *p = strchr(ct, '(');
    if (!p)
        return WH_ERR_PARSE;
    p++;
    size_t cap = 0;
    char **m = NULL;
    uint32_t cnt = 0;
    size_t bufcap = strlen(ct) + 1;
    while (*p == '\'') {
        char *v = malloc(bufcap);
        if (!v)
            goto fail;
        size_t k = 0;
        p++;
        for (;;) {
            if (!*p) {
                free(v);
                goto fail;
            }
            if (*p == '\'' && p[1] == '\'') {
                v[k++] = '\'';
                p += 2;
            } else if (*p == '\'') {
                p++;
                break;
            } else {
                v[k++] = *p++;
            }
        }
        v[k] = '\0';
        if (cnt == cap) {
            cap = cap ? 2 * cap : 8;
            char **nm = realloc(m, cap * sizeof *nm);
            if (!nm) {
                free(v);
                goto fail;
            }
            m = nm;
        }
        m[cnt++] = v;
        if (*p == ',')
            p++;
    }
    if (*p != ')')
        goto fail;
    *members = m;
    *n = cnt;
    return WH_OK;
fail:
    binlog_server_free_members(m, cnt);
    return WH_ERR_PARSE;
}

void binlog_server_free_members(char **members, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        free(members[i]);
    free(members);
}

static int query_columns(binlog_server *s, const char *db, const char *table,
                         char *errbuf, size_t errlen)
{
    char w[300];
    size_t dl = strlen(db), tl = strlen(table);
    char *edb = malloc(2 * dl + 1), *etb = malloc(2 * tl + 1), *q = NULL;
    int rc = WH_OK;
    MYSQL_RES *res = NULL;
    if (!edb || !etb) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        goto out;
    }
    mysql_real_escape_string(s->conn, edb, db, (unsigned long)dl);
    mysql_real_escape_string(s->conn, etb, table, (unsigned long)tl);
    size_t ql = strlen(edb) + strlen(etb) + 512;
    if (!(q = malloc(ql))) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        goto out;
    }
    snprintf(q, ql,
             "SELECT c.COLUMN_NAME, LOWER(c.DATA_TYPE), c.COLUMN_TYPE, co.ID "
             "FROM information_schema.COLUMNS c LEFT JOIN information_schema.COLLATIONS co "
             "ON co.COLLATION_NAME = c.COLLATION_NAME "
             "WHERE c.TABLE_SCHEMA = '%s' AND c.TABLE_NAME = '%s' "
             "ORDER BY c.ORDINAL_POSITION", edb, etb);
    if (mysql_query(s->conn, q) != 0 || !(res = mysql_store_result(s->conn))) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_MYSQL,
                       "reading the columns of `%s`.`%s` from %s failed: %s", db, table,
                       where(s, w, sizeof w), mysql_error(s->conn));
        goto out;
    }
    uint32_t n = (uint32_t)mysql_num_rows(res);
    if (n == 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND,
                       "table `%s`.`%s` does not exist on %s (dropped since this event was "
                       "written?), so its column names are unknown; log with "
                       "binlog_row_metadata=FULL to decode old events", db, table,
                       where(s, w, sizeof w));
        goto out;
    }
    /* Size the string block first. */
    size_t total = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res))) {
        unsigned long *lens = mysql_fetch_lengths(res);
        total += (row[0] ? lens[0] : 0) + (row[1] ? lens[1] : 0) + 2;
    }
    mysql_data_seek(res, 0);
    s->cols = calloc(n, sizeof *s->cols);
    s->members = calloc(n, sizeof *s->members);
    s->n_members = calloc(n, sizeof *s->n_members);
    s->strings = malloc(total ? total : 1);
    if (!s->cols || !s->members || !s->n_members || !s->strings) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        goto out;
    }
    s->n = n;
    char *sp = s->strings;
    for (uint32_t i = 0; i < n && (row = mysql_fetch_row(res)); i++) {
        unsigned long *lens = mysql_fetch_lengths(res);
        binlog_server_column *c = &s->cols[i];
        c->name = sp;
        memcpy(sp, row[0] ? row[0] : "", row[0] ? lens[0] : 0);
        sp += row[0] ? lens[0] : 0;
        *sp++ = '\0';
        c->data_type = sp;
        memcpy(sp, row[1] ? row[1] : "", row[1] ? lens[1] : 0);
        sp += row[1] ? lens[1] : 0;
        *sp++ = '\0';
        const char *ct = row[2] ? row[2] : "";
        c->is_unsigned = strstr(ct, "unsigned") != NULL;
        c->collation = row[3] ? (uint32_t)strtoul(row[3], NULL, 10) : 0;
        if (strcmp(c->data_type, "enum") == 0 || strcmp(c->data_type, "set") == 0) {
            if (binlog_server_parse_members(ct, &s->members[i], &s->n_members[i]) != WH_OK) {
                rc = wh_seterr(errbuf, errlen, WH_ERR_MYSQL,
                               "cannot parse the members of `%s`.`%s`.`%s` from \"%s\"", db,
                               table, c->name, ct);
                goto out;
            }
            c->members = (const char *const *)s->members[i];
            c->n_members = s->n_members[i];
        }
    }
out:
    if (res)
        mysql_free_result(res);
    free(edb);
    free(etb);
    free(q);
    return rc;
}

int binlog_server_columns(binlog_server *s, const char *db, const char *table,
                          const binlog_server_column **cols, uint32_t *n,
                          char *errbuf, size_t errlen)
{
    clear_answer(s);
    int rc = connect_server(s, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    rc = query_columns(s, db, table, errbuf, errlen);
    if (rc == WH_ERR_MYSQL) {
        /* The connection may have gone stale; try once on a fresh one. */
        clear_answer(s);
        mysql_close(s->conn);
        s->conn = NULL;
        if ((rc = connect_server(s, errbuf, errlen)) != WH_OK)
            return rc;
        rc = query_columns(s, db, table, errbuf, errlen);
    }
    if (rc != WH_OK) {
        clear_answer(s);
        return rc;
    }
    *cols = s->cols;
    *n = s->n;
    return WH_OK;
}

int binlog_server_value(binlog_server *s, const char *query, unsigned col, char *buf,
                        size_t len, char *errbuf, size_t errlen)
{
    char w[300];
    int rc = connect_server(s, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    MYSQL_RES *res = NULL;
    if (mysql_query(s->conn, query) != 0 || !(res = mysql_store_result(s->conn))) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "%s on %s failed: %s", query,
                       where(s, w, sizeof w), mysql_error(s->conn));
        mysql_close(s->conn);   /* a fresh connection next time */
        s->conn = NULL;
        return rc;
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    if (!row || col >= mysql_num_fields(res))
        rc = WH_ERR_NOT_FOUND;
    else
        snprintf(buf, len, "%s", row[col] ? row[col] : "");
    mysql_free_result(res);
    return rc;
}

/* ---- health (the publisher's election, docs/FAILOVER.md) --------------------------------- */

/* One health query on the open connection: WH_OK, or WH_ERR_MYSQL naming
 * what is wrong. */
static int query_health(binlog_server *s, int max_lag_s, char *errbuf, size_t errlen)
{
    char w[300];
    MYSQL_RES *res = NULL;
    if (mysql_query(s->conn, "SHOW SLAVE STATUS") != 0 || !(res = mysql_store_result(s->conn)))
        return wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "the MySQL server at %s does not "
                         "answer: %s", where(s, w, sizeof w), mysql_error(s->conn));
    MYSQL_ROW row = mysql_fetch_row(res);
    unsigned nf = mysql_num_fields(res);
    MYSQL_FIELD *fs = mysql_fetch_fields(res);
    const char *io = NULL, *sql = NULL, *behind = NULL;
    for (unsigned i = 0; row && i < nf; i++) {
        if (strcmp(fs[i].name, "Slave_IO_Running") == 0)
            io = row[i];
        else if (strcmp(fs[i].name, "Slave_SQL_Running") == 0)
            sql = row[i];
        else if (strcmp(fs[i].name, "Seconds_Behind_Master") == 0)
            behind = row[i];
    }
    int rc = WH_OK;
    if (row && (!io || strcmp(io, "Yes") != 0))
        rc = wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "the replica at %s does not receive from "
                       "its primary (Slave_IO_Running is %s)", where(s, w, sizeof w),
                       io ? io : "NULL");
    else if (row && (!sql || strcmp(sql, "Yes") != 0))
        rc = wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "the replica at %s does not apply what it "
                       "receives (Slave_SQL_Running is %s)", where(s, w, sizeof w),
                       sql ? sql : "NULL");
    else if (row && max_lag_s > 0 && (!behind || atol(behind) > max_lag_s))
        rc = wh_seterr(errbuf, errlen, WH_ERR_MYSQL, "the replica at %s lags %s s behind its "
                       "primary, more than the bound of %d s", where(s, w, sizeof w),
                       behind ? behind : "an unknown number of", max_lag_s);
    mysql_free_result(res);
    return rc;
}

int binlog_server_health(binlog_server *s, int max_lag_s, char *errbuf, size_t errlen)
{
    int rc = connect_server(s, errbuf, errlen);
    if (rc == WH_OK && (rc = query_health(s, max_lag_s, errbuf, errlen)) == WH_ERR_MYSQL &&
        mysql_errno(s->conn) != 0) {
        /* The connection may have gone stale; try once on a fresh one. */
        mysql_close(s->conn);
        s->conn = NULL;
        if ((rc = connect_server(s, errbuf, errlen)) == WH_OK)
            rc = query_health(s, max_lag_s, errbuf, errlen);
    }
    if (rc != WH_OK && s->conn && mysql_errno(s->conn) != 0) {
        mysql_close(s->conn);   /* reconnect at the next check */
        s->conn = NULL;
    }
    return rc;
}
