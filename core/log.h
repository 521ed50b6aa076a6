/* log.h -- level-gated logging with a debug switch per area.
 *
 * All components log through these macros; library code never prints to
 * stdout. A disabled level costs one comparison and evaluates no arguments.
 * Lines go to stderr (or the sink set with wh_log_set_sink) as
 *     2026-11-22T10:00:00.123Z WARN  [binlog] message
 * Thread-safe: one line is written with a single write(2). */
#ifndef WH_LOG_H
#define WH_LOG_H

#include <stdint.h>

typedef enum wh_log_level {
    WH_LOG_ERROR = 0,
    WH_LOG_WARN  = 1,
    WH_LOG_INFO  = 2,
    WH_LOG_DEBUG = 3,
} wh_log_level;

/* Debug areas, enabled one by one with wh_log_set_debug("binlog,filter"). */
typedef enum wh_log_area {
    WH_AREA_CORE      = 1u << 0,
    WH_AREA_BINLOG    = 1u << 1,
    WH_AREA_ROCKSDB   = 1u << 2,
    WH_AREA_FILTER    = 1u << 3,
    WH_AREA_PUBLISHER = 1u << 4,
    WH_AREA_CARAVAN   = 1u << 5,
    WH_AREA_ZK        = 1u << 6,
    WH_AREA_PROTOCOL  = 1u << 7,
    WH_AREA_SUBSCRIBER= 1u << 8,
    WH_AREA_MONITOR   = 1u << 9,
    WH_AREA_ALL       = 0xffffffffu,
} wh_log_area;

extern int wh_log_level_current;       /* read by the macros; set via wh_log_set_level */
extern uint32_t wh_log_debug_areas;    /* read by the macros; set via wh_log_set_debug */

void wh_log_set_level(wh_log_level level);

/* Parses a comma-separated list of area names ("binlog,zk" or "all").
 * Enables DEBUG level for those areas. Returns 0, or WH_ERR_CONFIG for an
 * unknown name (and leaves the setting unchanged). */
int wh_log_set_debug(const char *areas);

/* Redirects output to fd (default 2). */
void wh_log_set_fd(int fd);

/* Program name shown after the timestamp (default none). Not copied. */
void wh_log_set_ident(const char *ident);

void wh_log_write(wh_log_level level, uint32_t area, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define WH_LOG_ENABLED(level, area)                                          \
    ((int)(level) <= wh_log_level_current &&                                 \
     ((level) != WH_LOG_DEBUG || (wh_log_debug_areas & (uint32_t)(area))))

#define WH_LOG(level, area, ...)                                             \
    do {                                                                     \
        if (WH_LOG_ENABLED(level, area))                                     \
            wh_log_write(level, area, __VA_ARGS__);                          \
    } while (0)

#define wh_error(area, ...) WH_LOG(WH_LOG_ERROR, area, __VA_ARGS__)
#define wh_warn(area, ...)  WH_LOG(WH_LOG_WARN, area, __VA_ARGS__)
#define wh_info(area, ...)  WH_LOG(WH_LOG_INFO, area, __VA_ARGS__)
#define wh_debug(area, ...) WH_LOG(WH_LOG_DEBUG, area, __VA_ARGS__)

#endif
