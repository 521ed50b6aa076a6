/* error.h -- the one error convention of wormhole.
 *
 * Every fallible function returns an int: WH_OK (0) on success or a negative
 * wh_err code. Functions whose failure a person must read also take an
 * errbuf/errlen pair and write one full sentence there: what failed, where
 * (file, offset, line, key) and why. wh_err_name() and wh_err_str() name a
 * code; they never return NULL. */
#ifndef WORMHOLE_ERROR_H
#define WORMHOLE_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum wh_err {
    WH_OK              =   0,
    WH_ERR_NOMEM       =  -1,  /* out of memory */
    WH_ERR_INVALID     =  -2,  /* invalid argument or state (a bug in the caller) */
    WH_ERR_IO          =  -3,  /* system call failed (errno in the message) */
    WH_ERR_CORRUPT     =  -4,  /* input is malformed or fails its checksum */
    WH_ERR_TRUNCATED   =  -5,  /* input ends in the middle of a record */
    WH_ERR_UNSUPPORTED =  -6,  /* valid input we do not handle */
    WH_ERR_NOT_FOUND   =  -7,  /* named thing does not exist */
    WH_ERR_PURGED      =  -8,  /* requested position is no longer in the log */
    WH_ERR_AGAIN       =  -9,  /* nothing yet; try again later (tailing) */
    WH_ERR_EOF         = -10,  /* end of input; no more will come */
    WH_ERR_CONFIG      = -11,  /* malformed configuration */
    WH_ERR_PARSE       = -12,  /* malformed expression or document */
    WH_ERR_LIMIT       = -13,  /* a size or depth limit was exceeded */
    WH_ERR_TYPE        = -14,  /* value of the wrong type */
    WH_ERR_ZK          = -15,  /* ZooKeeper failure */
    WH_ERR_NET         = -16,  /* network failure */
    WH_ERR_PROTOCOL    = -17,  /* peer broke the protocol */
    WH_ERR_MYSQL       = -18,  /* MariaDB/MySQL server or client failure */
    WH_ERR_ROCKSDB     = -19,  /* RocksDB failure */
    WH_ERR_TIMEOUT     = -20,  /* operation timed out */
    WH_ERR_CLOSED      = -21,  /* object or peer was closed */
    WH_ERR_FENCED      = -22,  /* lease lost: a newer epoch owns this */
    WH_ERR_GAP         = -23,  /* positions are not contiguous */
    WH_ERR_REFUSED     = -24,  /* refused for good until something changes (a subscriber gave up
                                  on an update; a publisher stopped a flow) */
    WH_ERR_NOT_YET     = -25,  /* requested position is not in this copy's log yet (it lags) */
    WH_ERR__COUNT      =  26   /* number of codes, including WH_OK */
} wh_err;

/* Short symbolic name of a code, e.g. "WH_ERR_CORRUPT". Static storage. */
const char *wh_err_name(int code);

/* Human description of a code, e.g. "corrupt input". Static storage. */
const char *wh_err_str(int code);

#ifdef __cplusplus
}
#endif
#endif
