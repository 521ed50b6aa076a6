/* binlog_charset.h -- MySQL/MariaDB collation ids, their character sets, and
 * conversion of column text to UTF-8.
 *
 * A column's collation id (from the table map's charset metadata or the
 * server's schema) names its character set. Text in utf8mb3/utf8mb4/ascii is
 * validated and used in place; latin1 (which MySQL defines as Windows-1252
 * with the five undefined bytes mapped to C1 controls), ucs2, utf16, utf16le
 * and utf32 are converted by built-in code; every other character set goes
 * through iconv(3). Invalid bytes are an error, never replaced silently.
 *
 * Thread safety: all functions may be called from any thread. iconv
 * descriptors are cached per thread (one per character set in use) and
 * released when the thread exits. */
#ifndef BINLOG_CHARSET_H
#define BINLOG_CHARSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

/* Character sets of MySQL 8.0 and MariaDB 10.11/11.x. */
typedef enum binlog_charset {
    CS_UNKNOWN = 0,
    CS_BINARY, CS_UTF8MB3, CS_UTF8MB4, CS_ASCII, CS_LATIN1,
    CS_UCS2, CS_UTF16, CS_UTF16LE, CS_UTF32,
    CS_BIG5, CS_DEC8, CS_CP850, CS_HP8, CS_KOI8R, CS_LATIN2, CS_SWE7, CS_UJIS,
    CS_SJIS, CS_CP1251, CS_HEBREW, CS_TIS620, CS_EUCKR, CS_LATIN7, CS_KOI8U,
    CS_GB2312, CS_GREEK, CS_CP1250, CS_GBK, CS_CP1257, CS_LATIN5, CS_ARMSCII8,
    CS_CP866, CS_KEYBCS2, CS_MACCE, CS_MACROMAN, CS_CP852, CS_CP1256,
    CS_GEOSTD8, CS_CP932, CS_EUCJPMS, CS_GB18030, CS_FILENAME,
    CS__COUNT
} binlog_charset;

/* The character set of a collation id, or CS_UNKNOWN for an id neither
 * MySQL 8.0 nor MariaDB (up to 11.x: the NO PAD ids 1024+n and the UCA 14.0
 * ids 2048..3327) assigns. O(1). */
binlog_charset binlog_collation_charset(uint32_t collation_id);

/* The server's name of a character set ("utf8mb4", "latin1", ...), or
 * "unknown". Static storage. */
const char *binlog_charset_name(binlog_charset cs);

/* Makes UTF-8 text of len bytes at p in character set cs. For utf8mb3,
 * utf8mb4 and ascii the input is validated and *out points to p itself
 * (zero-copy); otherwise the converted text is allocated in arena.
 * Returns 0; WH_ERR_CORRUPT for bytes invalid in cs (errbuf names the
 * charset and offset); WH_ERR_UNSUPPORTED for CS_UNKNOWN, CS_BINARY,
 * CS_FILENAME or a charset this system's iconv lacks; WH_ERR_NOMEM. */
int binlog_charset_to_utf8(binlog_charset cs, const uint8_t *p, size_t len,
                           wh_arena *arena, const char **out, size_t *out_len,
                           char *errbuf, size_t errlen);

#endif
