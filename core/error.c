/* error.c -- names and messages of wh_err codes, and error buffer helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/errbuf.h"

static const struct { const char *name, *str; } err_table[WH_ERR__COUNT] = {
    { "WH_OK",              "success" },
    { "WH_ERR_NOMEM",       "out of memory" },
    { "WH_ERR_INVALID",     "invalid argument" },
    { "WH_ERR_IO",          "input/output error" },
    { "WH_ERR_CORRUPT",     "corrupt input" },
    { "WH_ERR_TRUNCATED",   "truncated input" },
    { "WH_ERR_UNSUPPORTED", "unsupported" },
    { "WH_ERR_NOT_FOUND",   "not found" },
    { "WH_ERR_PURGED",      "position purged from the log" },
    { "WH_ERR_AGAIN",       "no data yet" },
    { "WH_ERR_EOF",         "end of input" },
    { "WH_ERR_CONFIG",      "configuration error" },
    { "WH_ERR_PARSE",       "parse error" },
    { "WH_ERR_LIMIT",       "limit exceeded" },
    { "WH_ERR_TYPE",        "type error" },
    { "WH_ERR_ZK",          "ZooKeeper error" },
    { "WH_ERR_NET",         "network error" },
    { "WH_ERR_PROTOCOL",    "protocol error" },
    { "WH_ERR_MYSQL",       "MySQL/MariaDB error" },
    { "WH_ERR_ROCKSDB",     "RocksDB error" },
    { "WH_ERR_TIMEOUT",     "timed out" },
    { "WH_ERR_CLOSED",      "closed" },
    { "WH_ERR_FENCED",      "fenced by a newer epoch" },
    { "WH_ERR_GAP",         "gap in positions" },
    { "WH_ERR_REFUSED",     "refused until something changes" },
    { "WH_ERR_NOT_YET",     "position not in this copy's log yet" },
};

const char *wh_err_name(int code)
{
    int i = -code;
    return (i >= 0 && i < WH_ERR__COUNT) ? err_table[i].name : "WH_ERR_UNKNOWN";
}

const char *wh_err_str(int code)
{
    int i = -code;
    return (i >= 0 && i < WH_ERR__COUNT) ? err_table[i].str : "unknown error";
}

int wh_seterr(char *errbuf, size_t errlen, int code, const char *fmt, ...)
{
    if (errbuf && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

int wh_preferr(char *errbuf, size_t errlen, int code, const char *fmt, ...)
{
    if (!errbuf || errlen == 0)
        return code;
    char prefix[512], old[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(old, sizeof old, "%s", errbuf);
    snprintf(errbuf, errlen, "%s: %s", prefix, old);
    return code;
}
