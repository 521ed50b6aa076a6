/* binlog_ddl.h -- the one table a DDL statement changes, read by a small SQL lexer.
 *
 * A ddl update carries `table` when its statement changes exactly one table
 * (docs/UPDATES.md), so that a filter `table = "t"` sees `ALTER TABLE t`.
 * Recognised: CREATE [OR REPLACE] [TEMPORARY] TABLE [IF NOT EXISTS] t,
 * ALTER [ONLINE|OFFLINE] [IGNORE] TABLE [IF EXISTS] t (unless it exchanges a
 * partition with another table), DROP [TEMPORARY] TABLE [IF EXISTS] t,
 * TRUNCATE [TABLE] t, RENAME TABLE t TO u (the table is t, the name it had),
 * CREATE [OR REPLACE] [UNIQUE|FULLTEXT|SPATIAL] INDEX [IF NOT EXISTS] i ... ON t
 * and DROP INDEX [IF EXISTS] i ON t. Names may be plain, `backquoted` (with
 * `` for a backquote), "double-quoted" (ANSI_QUOTES) and qualified (db.t);
 * blanks and comments (slash-star, "-- ", "#") may stand anywhere, and the
 * contents of executable comments (slash-star-bang, slash-star-M-bang) are
 * read as statement text, as the server does. */
#ifndef BINLOG_DDL_H
#define BINLOG_DDL_H

#include <stddef.h>

#include "core/arena.h"

/* Longest table name the server accepts, in characters; a longer one is
 * not a table name and the statement gets no table. */
#define BINLOG_DDL_NAME_CHARS 64

/* Finds the table the statement q[0..len) changes. def_db[0..def_dblen) is
 * the statement's default database (the query event's; def_dblen 0 when it
 * has none). Returns 1 and sets *db and *table (NUL-terminated copies in a,
 * valid until it is reset) when the statement changes one table that lies
 * in the default database, or, without a default database, in the database
 * qualifying its name (then *db is that database). Returns 0 and sets both
 * to NULL for everything else: statements of other kinds, several tables
 * (DROP TABLE a, b; RENAME TABLE a TO b, c TO d), a table of a database
 * other than the default one (the update's db stays the default database a
 * replayer must USE), and text the lexer cannot read with certainty
 * (unterminated quotes or comments, NUL bytes, invalid UTF-8 or overlong
 * names). Returns WH_ERR_NOMEM when a is out of memory. Never reads outside
 * q[0..len); q need not be NUL-terminated. */
int binlog_ddl_table(const char *q, size_t len, const char *def_db, size_t def_dblen,
                     wh_arena *a, const char **db, const char **table);

#endif
