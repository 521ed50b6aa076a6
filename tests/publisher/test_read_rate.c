/* test_read_rate.c -- unit tests of the catch-up read-rate cap (pub_read_rate) and the status fields of caravans. */
#include <jansson.h>

#include "tests/check.h"
#include "protocol/status_file.h"
#include "publisher/pub_read_rate.h"

/* Reads as fast as the bucket lets it, batch bytes at a time, for ms of
 * simulated time; returns the bytes read. */
static uint64_t simulate(int64_t rate, uint64_t batch, int64_t ms)
{
    pub_read_rate r;
    int64_t now = 1000;
    uint64_t total = 0;
    pub_read_rate_init(&r, now);
    while (now < 1000 + ms) {
        total += batch;
        now += pub_read_rate_take(&r, batch, rate, now);
    }
    return total;
}

int main(void)
{
    pub_read_rate r;
    pub_read_rate_init(&r, 0);
    /* No cap: never a pause, whatever is read. */
    CHECK_EQ_INT(pub_read_rate_take(&r, 1u << 30, 0, 0), 0);
    CHECK_EQ_INT(pub_read_rate_take(&r, 1u << 30, -1, 5), 0);
    /* 1000 B/s: 500 bytes at once owe half a second. */
    pub_read_rate_init(&r, 0);
    int64_t ms = pub_read_rate_take(&r, 500, 1000, 0);
    CHECK(ms >= 500 && ms <= 501);
    /* After the pause nothing is owed; idle time fills at most a quarter second. */
    CHECK_EQ_INT(pub_read_rate_take(&r, 0, 1000, ms), 0);
    CHECK_EQ_INT(pub_read_rate_take(&r, 250, 1000, ms + 60000), 0);
    CHECK(pub_read_rate_take(&r, 10, 1000, ms + 60000) > 0);
    /* Over 10 s, a reader capped at 1 MB/s with 64 KiB batches reads 10 MB plus at
     * most one batch and the quarter-second burst. */
    uint64_t got = simulate(1000000, 65536, 10000);
    CHECK(got >= 10000000 - 65536 && got <= 10000000 + 250000 + 65536);
    /* A batch larger than a second of the rate: the pause covers it. */
    got = simulate(100000, 1000000, 20000);
    CHECK(got <= 2000000 + 25000 + 1000000);

    /* The status fields of caravans (docs/MONITOR.md). */
    json_t *ex = json_object();
    CHECK_EQ_INT(status_set_reading(ex, 123456789012ull, 3), WH_OK);
    CHECK_EQ_INT(json_integer_value(json_object_get(ex, "log_bytes_read")), 123456789012ll);
    CHECK_EQ_INT(json_integer_value(json_object_get(ex, "readers_started")), 3);
    CHECK_EQ_INT(status_add_waiting_flow(ex, "a1", "mysql-bin.000001:4", 77), WH_OK);
    CHECK_EQ_INT(status_add_waiting_flow(ex, "a2", "", 78), WH_OK);
    json_t *w = json_object_get(ex, "waiting_for_caravan");
    CHECK_EQ_INT(json_array_size(w), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(w, 0), "app")), "a1");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(w, 0), "position")),
                 "mysql-bin.000001:4");
    CHECK(json_is_null(json_object_get(json_array_get(w, 1), "position")));
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(w, 1), "since_ms")), 78);
    json_decref(ex);
    return check_done("test_read_rate");
}
