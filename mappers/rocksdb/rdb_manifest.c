/* rdb_manifest.c -- VersionEdit parsing and the column family map (see rdb_manifest.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "mappers/rocksdb/rdb_manifest.h"
#include "mappers/rocksdb/rdb_wal.h"

/* VersionEdit tags (RocksDB db/version_edit.h). */
enum {
    E_COMPARATOR = 1, E_LOG_NUMBER = 2, E_NEXT_FILE = 3, E_LAST_SEQ = 4, E_COMPACT_CURSOR = 5,
    E_DELETED_FILE = 6, E_NEW_FILE = 7, E_PREV_LOG = 9, E_MIN_LOG_TO_KEEP = 10,
    E_NEW_FILE2 = 100, E_NEW_FILE3 = 102, E_NEW_FILE4 = 103,
    E_CF = 200, E_CF_ADD = 201, E_CF_DROP = 202, E_MAX_CF = 203,
    E_ATOMIC_GROUP = 300, E_BLOB_ADD = 400, E_BLOB_GARBAGE = 401,
    E_SAFE_IGNORE = 1 << 13,
    E_OLD_WAL_ADD = E_SAFE_IGNORE + 4, E_OLD_WAL_DEL = E_SAFE_IGNORE + 5,
};

typedef struct cur {
    const uint8_t *p, *end;
} cur;

static bool v64(cur *c, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift <= 63 && c->p < c->end; shift += 7) {
        uint64_t b = *c->p++;
        v |= (b & 0x7f) << shift;
        if (b < 0x80) {
            *out = v;
            return true;
        }
    }
    return false;
}

static bool v32(cur *c, uint32_t *out)
{
    uint64_t v;
    if (!v64(c, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool lp(cur *c, const uint8_t **s, uint32_t *n)
{
    uint32_t len;
    if (!v32(c, &len) || (size_t)(c->end - c->p) < len)
        return false;
    *s = c->p;
    *n = len;
    c->p += len;
    return true;
}

static bool skip_v(cur *c, int n)
{
    uint64_t x;
    while (n--)
        if (!v64(c, &x))
            return false;
    return true;
}

static bool skip_lp(cur *c, int n)
{
    const uint8_t *s;
    uint32_t len;
    while (n--)
        if (!lp(c, &s, &len))
            return false;
    return true;
}

/* Custom fields: { varint32 tag, length-prefixed value } until tag 1. */
static bool skip_custom(cur *c)
{
    for (;;) {
        uint32_t tag;
        if (!v32(c, &tag))
            return false;
        if (tag == 1)
            return true;
        if (!skip_lp(c, 1))
            return false;
    }
}

int rdb_version_edit_parse(const uint8_t *p, size_t len, rdb_edit_cf *out, const char **why)
{
    cur c = { p, p + len };
    memset(out, 0, sizeof *out);
    while (c.p < c.end) {
        uint32_t tag;
        bool ok;
        if (!v32(&c, &tag)) {
            *why = "a malformed tag";
            return WH_ERR_CORRUPT;
        }
        switch (tag) {
        case E_COMPARATOR: ok = skip_lp(&c, 1); break;
        case E_LOG_NUMBER: case E_NEXT_FILE: case E_LAST_SEQ: case E_PREV_LOG:
        case E_MIN_LOG_TO_KEEP: case E_MAX_CF: case E_ATOMIC_GROUP:
            ok = skip_v(&c, 1);
            break;
        case E_COMPACT_CURSOR: ok = skip_v(&c, 1) && skip_lp(&c, 1); break;
        case E_DELETED_FILE: ok = skip_v(&c, 2); break;
        case E_NEW_FILE: ok = skip_v(&c, 3) && skip_lp(&c, 2); break;
        case E_NEW_FILE2: ok = skip_v(&c, 3) && skip_lp(&c, 2) && skip_v(&c, 2); break;
        case E_NEW_FILE3: ok = skip_v(&c, 4) && skip_lp(&c, 2) && skip_v(&c, 2); break;
        case E_NEW_FILE4:
            ok = skip_v(&c, 3) && skip_lp(&c, 2) && skip_v(&c, 2) && skip_custom(&c);
            break;
        case E_BLOB_ADD: ok = skip_v(&c, 3) && skip_lp(&c, 2) && skip_custom(&c); break;
        case E_BLOB_GARBAGE: ok = skip_v(&c, 3) && skip_custom(&c); break;
        case E_CF: ok = v32(&c, &out->cf); break;
        case E_CF_ADD:
            ok = lp(&c, &out->name, &out->name_len);
            out->add = true;
            break;
        case E_CF_DROP: out->drop = true; ok = true; break;
        default:
            if ((tag & E_SAFE_IGNORE) && tag != E_OLD_WAL_ADD && tag != E_OLD_WAL_DEL) {
                ok = skip_lp(&c, 1);    /* forward-compatible field */
                break;
            }
            *why = "a field tag this reader does not know";
            return WH_ERR_UNSUPPORTED;
        }
        if (!ok) {
            *why = "a field that runs past the end of the edit";
            return WH_ERR_CORRUPT;
        }
    }
    if (out->add && out->drop) {
        *why = "an edit that both adds and drops a column family";
        return WH_ERR_CORRUPT;
    }
    return 0;
}

/* ---- the map ------------------------------------------------------------ */

typedef struct cf_name {
    uint32_t id;
    bool     placeholder;
    char    *name;
} cf_name;

struct rdb_cfmap {
    cf_name *v;
    size_t   n, cap;
    char    *manifest;       /* file name read so far */
    uint64_t offset;         /* next record offset in it */
    wh_buf   sink;
};

rdb_cfmap *rdb_cfmap_new(void)
{
    rdb_cfmap *m = calloc(1, sizeof *m);
    if (m && rdb_cfmap_set(m, 0, "default", 7, false) != 0) {
        rdb_cfmap_free(m);
        return NULL;
    }
    return m;
}

void rdb_cfmap_free(rdb_cfmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].name);
    free(m->v);
    free(m->manifest);
    wh_buf_free(&m->sink);
    free(m);
}

size_t rdb_cfmap_count(const rdb_cfmap *m) { return m->n; }

/* Ids are small and dense in practice: a linear scan of a short array. */
const char *rdb_cfmap_name(const rdb_cfmap *m, uint32_t id)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].id == id)
            return m->v[i].name;
    return NULL;
}

int rdb_cfmap_set(rdb_cfmap *m, uint32_t id, const char *name, size_t len, bool placeholder)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->v[i].id != id)
            continue;
        if (!m->v[i].placeholder || placeholder)
            return 0;
        /* A real name for a placeholder: the new entry shadows the old one,
         * whose string stays alive for updates that still point to it. */
        break;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        cf_name *v = realloc(m->v, cap * sizeof *v);
        if (!v)
            return WH_ERR_NOMEM;
        m->v = v;
        m->cap = cap;
    }
    char *s = malloc(len + 1);
    if (!s)
        return WH_ERR_NOMEM;
    memcpy(s, name, len);
    s[len] = '\0';
    /* Newer entries go first so that a real name shadows a placeholder. */
    memmove(m->v + 1, m->v, m->n * sizeof *m->v);
    m->v[0] = (cf_name){ id, placeholder, s };
    m->n++;
    return 0;
}

/* Reads dbdir/CURRENT: "MANIFEST-000123\n". */
static int read_current(const char *dbdir, char *name, size_t namelen, char *errbuf, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/CURRENT", dbdir);
    FILE *f = fopen(path, "re");
    if (!f)
        return wh_seterr(errbuf, errlen, errno == ENOENT ? WH_ERR_NOT_FOUND : WH_ERR_IO,
                         "cannot open %s: %s", path, strerror(errno));
    char line[256] = "";
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    size_t n = strcspn(line, "\r\n");
    line[n] = '\0';
    if (!ok || strncmp(line, "MANIFEST-", 9) != 0 || strchr(line, '/') || n + 1 > namelen)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "%s does not name a MANIFEST file (it holds '%.64s')", path, line);
    memcpy(name, line, n + 1);
    return 0;
}

int rdb_cfmap_load(rdb_cfmap *m, const char *dbdir, char *errbuf, size_t errlen)
{
    char name[256], path[4096];
    int rc = read_current(dbdir, name, sizeof name, errbuf, errlen);
    if (rc != 0)
        return rc;
    if (!m->manifest || strcmp(m->manifest, name) != 0) {
        free(m->manifest);
        m->manifest = strdup(name);
        m->offset = 0;
        if (!m->manifest)
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    }
    snprintf(path, sizeof path, "%s/%s", dbdir, name);
    rdb_wal *w = NULL;
    rc = rdb_wal_open(path, strtoull(name + 9, NULL, 10), 4 * RDB_BLOCK_SIZE, &w, errbuf, errlen);
    if (rc != 0)
        return rc;
    /* Resume: the reader has no seek, so skip records up to the offset in
     * header-only mode (cheap) and then read. */
    rdb_record rec;
    while (rdb_wal_offset(w) < m->offset) {
        rc = rdb_wal_next(w, NULL, 0, &rec, errbuf, errlen);
        if (rc != RDB_READ_RECORD)
            break;
    }
    for (;;) {
        if (rc < 0)
            break;
        rc = rdb_wal_next(w, &m->sink, (size_t)1 << 30, &rec, errbuf, errlen);
        if (rc != RDB_READ_RECORD)
            break;
        rdb_edit_cf e;
        const char *why = "";
        int prc = rdb_version_edit_parse(rec.data, rec.len, &e, &why);
        if (prc != 0) {
            wh_warn(WH_AREA_ROCKSDB, "%s: cannot parse the edit at offset %llu (%s); column "
                    "families it names will print as numbers", path,
                    (unsigned long long)rec.offset, why);
        } else if (e.add) {
            if (rdb_cfmap_set(m, e.cf, (const char *)e.name, e.name_len, false) != 0) {
                rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
                break;
            }
        }
        m->offset = rec.end;
    }
    bool bad_tail = rc == WH_ERR_CORRUPT && rdb_wal_bad_tail(w);
    rdb_wal_free(w);
    /* A MANIFEST being appended ends in a partial record: that is fine, the
     * next load continues there. A corrupt one is an error. */
    if (rc == RDB_READ_END || rc == RDB_READ_RECORD || rc == RDB_READ_BLOCKED)
        return 0;
    if (bad_tail)
        return 0;
    return rc;
}
