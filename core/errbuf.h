/* errbuf.h -- writing a failure sentence into a caller's error buffer. */
#ifndef WH_ERRBUF_H
#define WH_ERRBUF_H

#include <stddef.h>
#include "wormhole/error.h"

/* Formats a message into errbuf (if errbuf is not NULL and errlen > 0) and
 * returns code, so that a failure path reads
 *     return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "%s: bad crc at %llu", ...);
 * The message is truncated to fit; it is always NUL-terminated. */
int wh_seterr(char *errbuf, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prefixes the message already in errbuf with "prefix: " (formatted), keeping
 * the code. Used when passing an error up a layer that adds context. */
int wh_preferr(char *errbuf, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
