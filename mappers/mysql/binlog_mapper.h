/* binlog_mapper.h -- the "mysql" positions mapper: reads a MySQL/MariaDB
 * server's binlog files from its binlog directory (docs/MYSQL.md). */
#ifndef BINLOG_MAPPER_H
#define BINLOG_MAPPER_H

#include "mappers/mapper.h"

extern const wh_mapper_ops wh_mapper_mysql;

/* What a query event's statement is, for transaction boundaries and DDL.
 * Exposed for tests. */
typedef enum binlog_stmt_kind {
    BSK_DDL = 0,          /* anything else: delivered as a ddl update */
    BSK_BEGIN,            /* BEGIN, START TRANSACTION, XA START/BEGIN */
    BSK_COMMIT,           /* COMMIT, XA COMMIT, XA PREPARE */
    BSK_ROLLBACK,         /* ROLLBACK (whole transaction), XA ROLLBACK */
    BSK_IGNORE,           /* SAVEPOINT, ROLLBACK TO, RELEASE SAVEPOINT, XA END */
    BSK_DML,              /* statement-based INSERT/UPDATE/DELETE/REPLACE/LOAD */
} binlog_stmt_kind;

binlog_stmt_kind binlog_classify_statement(const char *q, size_t len);

struct binlog_server;
/* A server connection (not connected yet) made from the mysql mapper's
 * options object exactly as the mapper makes its schema connection (host or
 * socket, user, password source, TLS): for mysql_snapshot.c. Options without
 * host and socket are WH_ERR_CONFIG (a bootstrap needs the server). */
int binlog_mapper_server(const json_t *options, struct binlog_server **out, char *errbuf,
                         size_t errlen);

#endif
