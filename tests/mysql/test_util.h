/* test_util.h -- helpers shared by the mysql mapper's C tests: temporary
 * binlog directories and running the mapper into JSON lines. Test-only. */
#ifndef TEST_MYSQL_UTIL_H
#define TEST_MYSQL_UTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/update_json.h"
#include "mappers/mapper.h"
#include "wormhole/position.h"

/* Makes a fresh temporary directory; returns a malloc'd path. */
static inline char *tu_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/wh-binlog-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

/* Removes a directory and the plain files in it. */
static inline void tu_rmdir(char *dir)
{
    if (!dir)
        return;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

typedef struct tu_run {
    wh_buf out;          /* JSON lines */
    int n;               /* updates */
    int rc;              /* WH_ERR_EOF on a clean end, else the failure */
    char err[2048];
} tu_run;

/* Runs the mysql mapper over dir from a position (phys or logical, NULL =
 * oldest) to the end of the log, max updates per batch, options as JSON
 * text (may be NULL). */
static inline void tu_collect(tu_run *r, const char *dir, const char *opts, const char *phys,
                              const char *logical, bool inclusive, int max)
{
    memset(r, 0, sizeof *r);
    json_t *o = opts ? json_loads(opts, 0, NULL) : json_object();
    if (!o)
        o = json_object();
    json_object_set_new(o, "binlog_dir", json_string(dir));
    wh_mapper *m = NULL;
    r->rc = wh_mapper_create("mysql", o, "t", false, &m, r->err, sizeof r->err);
    json_decref(o);
    static wh_pos pos;   /* parsed by the one parser of position texts (core/position.c) */
    if (r->rc == WH_OK && logical)
        r->rc = wh_pos_parse_logical(&pos, logical, strlen(logical), r->err, sizeof r->err);
    else if (r->rc == WH_OK && phys)
        r->rc = wh_pos_parse_physical(&pos, phys, strlen(phys), r->err, sizeof r->err);
    if (r->rc == WH_OK)
        r->rc = logical ? m->ops->seek_logical(m, &pos, inclusive, r->err, sizeof r->err)
                        : m->ops->seek_physical(m, phys ? &pos : NULL, inclusive, r->err,
                                                sizeof r->err);
    while (r->rc == WH_OK) {
        const wh_update *u;
        int n = m->ops->next_batch(m, &u, max, 0, r->err, sizeof r->err);
        if (n < 0) {
            r->rc = n;
            break;
        }
        for (int i = 0; i < n; i++)
            wh_update_to_json(&u[i], &r->out);
        r->n += n;
    }
    wh_mapper_destroy(m);
    if (!r->out.data)
        wh_buf_puts(&r->out, "");
}

static inline void tu_free(tu_run *r)
{
    wh_buf_free(&r->out);
}

/* The k-th line (0-based) of text, copied into buf; "" if absent. */
static inline const char *tu_line(const char *text, int k, char *buf, size_t n)
{
    const char *p = text;
    for (int i = 0; i < k && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    buf[0] = '\0';
    if (!p || !*p)
        return buf;
    const char *e = strchr(p, '\n');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l >= n)
        l = n - 1;
    memcpy(buf, p, l);
    buf[l] = '\0';
    return buf;
}

/* A JSON field of a line: the text of "key":... up to the next comma or brace
 * at depth 0 (for short comparisons in tests). */
static inline const char *tu_field(const char *line, const char *path, char *buf, size_t n)
{
    json_t *j = json_loads(line, 0, NULL);
    buf[0] = '\0';
    if (!j)
        return buf;
    json_t *v = j;
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *tok = strtok(tmp, "."); tok && v; tok = strtok(NULL, "."))
        v = json_object_get(v, tok);
    if (v) {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (s) {
            snprintf(buf, n, "%s", s);
            free(s);
        }
    }
    json_decref(j);
    return buf;
}

#endif
