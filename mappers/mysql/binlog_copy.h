/* binlog_copy.h -- which copy of a shard a binlog directory is (its copy identity), and whether its server's settings let another copy's publisher continue from its positions (docs/FAILOVER.md "Positions across copies"). */
#ifndef BINLOG_COPY_H
#define BINLOG_COPY_H

#include <stddef.h>

#include "mappers/mysql/binlog_reader.h"
#include "mappers/mysql/binlog_server.h"

/* Writes the copy identity of the binlog in dir into buf:
 *   "mysql server_id=N host=HOST binlog=DIR/BASE"
 * with the server id of the newest binlog file's first event, this host's
 * name, the directory's real path and the files' base name. A physical
 * position (file and offset) is valid exactly in the binlog it names, and
 * these four tell binlogs apart: replicas have other server ids, other
 * hosts or directories, and here other base names. Returns WH_OK,
 * WH_ERR_LIMIT when buf is too short, WH_ERR_NOT_FOUND when the index lists
 * no file, or a read error. */
int binlog_copy_id(binlog_reader *rd, const char *dir, char *buf, size_t len, char *errbuf,
                   size_t errlen);

/* Checks the server settings that a takeover by logical position relies on
 * (docs/MYSQL.md "Failover"), through the schema connection: refuses
 * (WH_ERR_CONFIG, with the setting and why in errbuf) a replica that does
 * not log what it replicates (log_slave_updates / log_replica_updates OFF):
 * its binlog never receives the primary's positions. Warns (a log line
 * each, returning WH_OK) about binlog_format other than ROW,
 * gtid_strict_mode OFF (MariaDB), gtid_mode other than ON (MySQL) and
 * log_slave_updates OFF on a primary. A server that cannot be asked is a
 * warning, not a refusal: the binlog alone is enough to deliver. */
int binlog_copy_check_settings(binlog_server *srv, char *errbuf, size_t errlen);

#endif
