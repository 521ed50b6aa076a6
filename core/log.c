/* log.c -- formatting and writing log lines (see log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "wormhole/error.h"

int wh_log_level_current = WH_LOG_INFO;
uint32_t wh_log_debug_areas = 0;
static int log_fd = 2;
static const char *log_ident = NULL;

static const struct { const char *name; uint32_t bit; } areas[] = {
    { "core", WH_AREA_CORE },         { "binlog", WH_AREA_BINLOG },
    { "rocksdb", WH_AREA_ROCKSDB },   { "filter", WH_AREA_FILTER },
    { "publisher", WH_AREA_PUBLISHER }, { "caravan", WH_AREA_CARAVAN },
    { "zk", WH_AREA_ZK },             { "protocol", WH_AREA_PROTOCOL },
    { "subscriber", WH_AREA_SUBSCRIBER }, { "monitor", WH_AREA_MONITOR },
    { "all", WH_AREA_ALL },
};

void wh_log_set_level(wh_log_level level) { wh_log_level_current = (int)level; }
void wh_log_set_fd(int fd) { log_fd = fd; }
void wh_log_set_ident(const char *ident) { log_ident = ident; }

int wh_log_set_debug(const char *list)
{
    uint32_t mask = 0;
    const char *p = list;
    while (p && *p) {
        size_t n = strcspn(p, ",");
        size_t i;
        for (i = 0; i < sizeof areas / sizeof areas[0]; i++)
            if (strlen(areas[i].name) == n && strncasecmp(p, areas[i].name, n) == 0)
                break;
        if (n > 0 && i == sizeof areas / sizeof areas[0])
            return WH_ERR_CONFIG;
        if (n > 0)
            mask |= areas[i].bit;
        p += n;
        if (*p == ',')
            p++;
    }
    wh_log_debug_areas = mask;
    if (mask)
        wh_log_level_current = WH_LOG_DEBUG;
    return WH_OK;
}

static const char *area_name(uint32_t area)
{
    for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++)
        if (areas[i].bit == area)
            return areas[i].name;
    return "?";
}

void wh_log_write(wh_log_level level, uint32_t area, const char *fmt, ...)
{
    static const char *level_names[] = { "ERROR", "WARN ", "INFO ", "DEBUG" };
    char line[4096];
    struct tm tm;
    int64_t now = wh_wall_ms();
    time_t sec = (time_t)(now / 1000);
    gmtime_r(&sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s%s%s [%s] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (long)(now % 1000), log_ident ? log_ident : "",
                     log_ident ? " " : "", level_names[level & 3], area_name(area));
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(log_fd, line, len);
    (void)w;
}
