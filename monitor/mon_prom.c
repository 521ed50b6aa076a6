/* mon_prom.c -- the Prometheus text exposition format: families, samples, escaping (see mon_prom.h). */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "monitor/mon_prom.h"

bool mon_prom_name_ok(const char *name, bool label)
{
    if (!name || !*name)
        return false;
    for (const char *c = name; *c; c++) {
        bool alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
                     (!label && *c == ':');
        if (!alpha && !(c > name && *c >= '0' && *c <= '9'))
            return false;
    }
    return true;
}

/* HELP text escapes backslash and newline only. */
static void escape_help(wh_buf *b, const char *text)
{
    for (const char *c = text; *c; c++) {
        if (*c == '\\')
            wh_buf_puts(b, "\\\\");
        else if (*c == '\n')
            wh_buf_puts(b, "\\n");
        else
            wh_buf_putc(b, *c);
    }
}

void mon_prom_family(wh_buf *b, const char *name, const char *type, const char *help)
{
    assert(mon_prom_name_ok(name, false));
    assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0);
    wh_buf_printf(b, "# HELP %s ", name);
    escape_help(b, help);
    wh_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

void mon_prom_escape_label(wh_buf *b, const char *value)
{
    for (const char *c = value ? value : ""; *c; c++) {
        switch (*c) {
        case '\\': wh_buf_puts(b, "\\\\"); break;
        case '"':  wh_buf_puts(b, "\\\""); break;
        case '\n': wh_buf_puts(b, "\\n"); break;
        default:   wh_buf_putc(b, *c); break;
        }
    }
}

void mon_prom_sample(wh_buf *b, const char *name, const mon_prom_label *labels, size_t nlabels,
                     double value)
{
    assert(mon_prom_name_ok(name, false));
    wh_buf_puts(b, name);
    if (nlabels > 0) {
        wh_buf_putc(b, '{');
        for (size_t i = 0; i < nlabels; i++) {
            assert(mon_prom_name_ok(labels[i].name, true));
            wh_buf_printf(b, "%s%s=\"", i ? "," : "", labels[i].name);
            mon_prom_escape_label(b, labels[i].value);
            wh_buf_putc(b, '"');
        }
        wh_buf_putc(b, '}');
    }
    if (isnan(value))
        wh_buf_puts(b, " NaN\n");
    else if (isinf(value))
        wh_buf_puts(b, value > 0 ? " +Inf\n" : " -Inf\n");
    else if (value == floor(value) && fabs(value) < 9.007199254740992e15)
        wh_buf_printf(b, " %.0f\n", value);
    else
        wh_buf_printf(b, " %.17g\n", value);
}
