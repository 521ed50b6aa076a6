/* binlog_server.h -- the schema fallback: column names (and signedness,
 * collations, ENUM/SET members) of a table, read from the server through
 * libmysqlclient when the binlog's table maps do not carry them
 * (binlog_row_metadata=MINIMAL or NO_LOG).
 *
 * Connects lazily on the first request and reconnects once if the
 * connection was lost. Not thread-safe: one mapper thread. */
#ifndef BINLOG_SERVER_H
#define BINLOG_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mappers/mysql/binlog_tablemap.h"

typedef struct binlog_server binlog_server;

/* TLS to the server (the ssl_mode mapper option). */
typedef enum binlog_ssl_mode {
    BINLOG_SSL_DISABLED = 0,    /* never TLS */
    BINLOG_SSL_PREFERRED,       /* TLS if the server offers it, unverified; else plain */
    BINLOG_SSL_REQUIRED,        /* TLS or no connection; certificate not verified */
    BINLOG_SSL_VERIFY_CA,       /* TLS, server certificate signed by ssl_ca */
    BINLOG_SSL_VERIFY_IDENTITY, /* and issued for the host name connected to */
} binlog_ssl_mode;

/* Parses "disabled", "preferred", "required", "verify_ca", "verify_identity";
 * WH_ERR_CONFIG for anything else. */
int binlog_ssl_mode_parse(const char *s, binlog_ssl_mode *out);

typedef struct binlog_server_opts {
    const char *host;       /* NULL or "" with socket: Unix socket */
    unsigned port;          /* 0: default */
    const char *socket;
    const char *user;
    const char *password;   /* copied; the copy is wiped at free */
    unsigned timeout_s;     /* connect/read timeout */
    binlog_ssl_mode ssl_mode;
    const char *ssl_ca;     /* PEM files; NULL: none */
    const char *ssl_cert;
    const char *ssl_key;
} binlog_server_opts;

/* Copies the options; connects nothing yet. */
int binlog_server_new(const binlog_server_opts *opts, binlog_server **out,
                      char *errbuf, size_t errlen);
void binlog_server_free(binlog_server *s);

/* The connection to the server (connected now if it is not yet), owned by
 * s: for mysql_snapshot.c, which reads table rows over the same settings.
 * Server trouble is WH_ERR_MYSQL. */
struct st_mysql;
int binlog_server_connection(binlog_server *s, struct st_mysql **out, char *errbuf,
                             size_t errlen);
/* Closes the connection (the next call connects again): after a query failed. */
void binlog_server_disconnect(binlog_server *s);

/* Reads the columns of db.table from information_schema.COLUMNS in ordinal
 * order. *cols (n entries) is owned by s and valid until the next call. A
 * missing table is WH_ERR_NOT_FOUND; server trouble WH_ERR_MYSQL. */
int binlog_server_columns(binlog_server *s, const char *db, const char *table,
                          const binlog_server_column **cols, uint32_t *n,
                          char *errbuf, size_t errlen);

/* Runs query (no user input in it) and copies column col of its first row
 * into buf (NULL as ""). WH_ERR_NOT_FOUND when it returns no row; server
 * trouble WH_ERR_MYSQL with errbuf. For the settings checks at start
 * (binlog_copy.c). */
int binlog_server_value(binlog_server *s, const char *query, unsigned col, char *buf,
                        size_t len, char *errbuf, size_t errlen);

/* Checks that the server answers and, when it replicates (SHOW SLAVE
 * STATUS has a row), that its IO and SQL threads run and it lags at most
 * max_lag_s seconds (<= 0: no bound). WH_OK, or WH_ERR_MYSQL with the reason
 * (a lost connection is retried once on a fresh one). */
int binlog_server_health(binlog_server *s, int max_lag_s, char *errbuf, size_t errlen);

/* Parses the members of an information_schema COLUMN_TYPE such as
 * "enum('a','it''s')" into a malloc'd array of malloc'd strings (freed by
 * binlog_server_free_members). Exposed for tests. */
int binlog_server_parse_members(const char *column_type, char ***members, uint32_t *n);
void binlog_server_free_members(char **members, uint32_t n);

#endif
