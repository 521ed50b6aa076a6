/* mon_prom.h -- the Prometheus text exposition format (version 0.0.4): metric families, samples and label escaping.
 *
 * Pure functions over a wh_buf (core/buf.h): no I/O, no global state; any
 * thread on buffers it owns. An append that cannot allocate sets the
 * buffer's oom flag (check wh_buf_ok once at the end).
 *
 * The format (https://prometheus.io/docs/instrumenting/exposition_formats/):
 *     # HELP NAME text          (text escapes '\' and newline)
 *     # TYPE NAME counter|gauge
 *     NAME{label="value",...} VALUE
 * Label values escape '\', '"' and newline; every sample of a family
 * follows its HELP and TYPE lines. Names are the caller's constants and
 * are asserted to match [a-zA-Z_:][a-zA-Z0-9_:]*. */
#ifndef MON_PROM_H
#define MON_PROM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* One label: name (a constant matching [a-zA-Z_][a-zA-Z0-9_]*) and its
 * value (any UTF-8 text; NULL is written as ""). */
typedef struct mon_prom_label {
    const char *name;
    const char *value;
} mon_prom_label;

/* Whether name is a valid metric name (label names: colons excluded). */
bool mon_prom_name_ok(const char *name, bool label);

/* Appends the HELP and TYPE lines of a family; type is "counter" or "gauge". */
void mon_prom_family(wh_buf *b, const char *name, const char *type, const char *help);

/* Appends value escaped as a label value (without the quotes). */
void mon_prom_escape_label(wh_buf *b, const char *value);

/* Appends one sample line: name{labels} value. Integral values are written
 * without a fraction, others with up to 17 significant digits; NaN and
 * infinities as NaN, +Inf, -Inf. */
void mon_prom_sample(wh_buf *b, const char *name, const mon_prom_label *labels, size_t nlabels,
                     double value);

#endif
