/* rdb_snapshot.c -- the snapshot reader for RocksDB: a column family's keys, read in order in chunks from a secondary instance, each with the WAL sequence it is consistent with (see mappers/snapshot.h).
 *
 * A "table" is a column family (db is empty: RocksDB has no databases).
 * The live database is read without disturbing its writer through a
 * secondary instance (rocksdb_open_as_secondary_column_families): it opens
 * the primary's files read-only, keeps its own info log in a directory of
 * its own, and
 * follows the primary by replaying its MANIFEST and WAL. Its directory is
 * a new wh-rdb-secondary-XXXXXX in secondary_dir (default $TMPDIR or /tmp),
 * removed at close. For each chunk:
 *
 *   rocksdb_try_catch_up_with_primary        -- the WAL as it is now
 *   S = rocksdb_get_latest_sequence_number    -- every operation <= S is in
 *   iterator on the column family (it reads at S); seek past the last key;
 *   read `limit` keys in the column family's order
 *
 * A secondary has no explicit snapshots; an iterator reads at the
 * instance's last sequence when it is made, and only this reader's thread
 * moves the secondary (catch-up), so the iterator holds exactly the
 * operations with sequence <= S: whole write batches, as the secondary
 * replays whole WAL records. The chunk's position is S + 1 (no file name): the chunk belongs
 * just before the first update whose batch sequence is S + 1 or more, which
 * is how the publisher's window compares RocksDB positions
 * (publisher/pub_boot_window.h: offsets are sequence numbers).
 *
 * Rows have the WAL mapper's shape (rdb_row.h): key and value, or the key
 * and the fields of a JSON object value with value_format json; keys travel
 * in ZooKeeper as [TEXT] when every byte is printable ASCII, else
 * [{"hex":"..."}]. Keys compare bytewise (the default comparator); a
 * database made with another comparator does not open. The secondary has no
 * merge operator: a column family holding merge operands cannot be read
 * (WH_ERR_UNSUPPORTED, naming the key). */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "core/arena.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "mappers/rocksdb/rdb_mapper.h"
#include "mappers/rocksdb/rdb_row.h"
#include "mappers/snapshot.h"

typedef struct rdb_snapshot {
    wh_snapshot base;
    const char *shard;
    rdb_opts opt;
    bool json;
    char *sec_dir;            /* the secondary's directory */
    bool sec_tmp;             /* made by us: removed at close */
    rocksdb_options_t *dbopt;
    rocksdb_t *db;            /* NULL until the first use, and after a failure */
    char **cf_names;          /* the column families opened (rocksdb_list_column_families) */
    size_t ncf;
    rocksdb_column_family_handle_t **cfh;
    wh_arena arena;           /* the last chunk's keys, values and JSON rows */
    wh_update *ups;           /* their values are in the arena (ups moves as it grows) */
    uint32_t cap;
    json_t *last_key;
} rdb_snapshot;

static const uint32_t key_idx0[1] = { 0 };

/* ---- the secondary instance ----------------------------------------------------------------- */

static void db_close(rdb_snapshot *s)
{
    for (size_t i = 0; s->cfh && i < s->ncf; i++)
        if (s->cfh[i])
            rocksdb_column_family_handle_destroy(s->cfh[i]);
    free(s->cfh);
    s->cfh = NULL;
    if (s->cf_names)
        rocksdb_list_column_families_destroy(s->cf_names, s->ncf);
    s->cf_names = NULL;
    s->ncf = 0;
    if (s->db)
        rocksdb_close(s->db);
    s->db = NULL;
}

static int db_open(rdb_snapshot *s, char *errbuf, size_t errlen)
{
    char *err = NULL;
    s->cf_names = rocksdb_list_column_families(s->dbopt, s->opt.db, &s->ncf, &err);
    if (err) {
        wh_seterr(errbuf, errlen, WH_ERR_ROCKSDB, "cannot list the column families of %s: %s",
                  s->opt.db, err);
        free(err);
        s->cf_names = NULL;
        s->ncf = 0;
        return WH_ERR_ROCKSDB;
    }
    const rocksdb_options_t **opts = calloc(s->ncf, sizeof *opts);
    s->cfh = calloc(s->ncf, sizeof *s->cfh);
    if (!opts || !s->cfh) {
        free(opts);
        db_close(s);
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < s->ncf; i++)
        opts[i] = s->dbopt;
    s->db = rocksdb_open_as_secondary_column_families(s->dbopt, s->opt.db, s->sec_dir,
                                                      (int)s->ncf,
                                                      (const char *const *)s->cf_names, opts,
                                                      s->cfh, &err);
    free(opts);
    if (err) {
        wh_seterr(errbuf, errlen, WH_ERR_ROCKSDB, "cannot open %s as a secondary instance "
                  "(in %s): %s", s->opt.db, s->sec_dir, err);
        free(err);
        s->db = NULL;
        db_close(s);
        return WH_ERR_ROCKSDB;
    }
    wh_debug(WH_AREA_ROCKSDB, "opened %s as a secondary instance in %s (%zu column families)",
             s->opt.db, s->sec_dir, s->ncf);
    return WH_OK;
}

/* The handle of column family cf, opening the secondary when needed (once
 * more when cf is not among the families it opened: created since). */
static int find_cf(rdb_snapshot *s, const char *db, const char *cf,
                   rocksdb_column_family_handle_t **out, char *errbuf, size_t errlen)
{
    if (db && db[0])
        return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND, "%s.%s: a RocksDB database has no "
                         "schemas; name the column family alone", db, cf);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!s->db) {
            int rc = db_open(s, errbuf, errlen);
            if (rc != WH_OK)
                return rc;
        }
        for (size_t i = 0; i < s->ncf; i++) {
            if (strcmp(s->cf_names[i], cf) == 0) {
                *out = s->cfh[i];
                return WH_OK;
            }
        }
        db_close(s);
    }
    return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND, "column family %s does not exist in %s",
                     cf, s->opt.db);
}

/* ---- keys ----------------------------------------------------------------------------------- */

static json_t *key_json(const char *k, size_t n)
{
    bool text = true;
    for (size_t i = 0; i < n && text; i++)
        text = k[i] >= 0x20 && k[i] < 0x7f;
    json_t *e;
    if (text) {
        e = json_stringn(k, n);
    } else {
        char *hex = malloc(2 * n + 1);
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; hex && i < n; i++) {
            hex[2 * i] = digits[(unsigned char)k[i] >> 4];
            hex[2 * i + 1] = digits[(unsigned char)k[i] & 15];
        }
        if (hex)
            hex[2 * n] = '\0';
        e = hex ? json_pack("{s:s}", "hex", hex) : NULL;
        free(hex);
    }
    json_t *a = e ? json_array() : NULL;
    if (a && json_array_append_new(a, e) == 0)
        return a;
    json_decref(a);
    return NULL;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The bytes of a key array (key_json's forms) into the arena. */
static int key_bytes(rdb_snapshot *s, const json_t *after, const char **k, size_t *n,
                     char *errbuf, size_t errlen)
{
    const json_t *e = json_is_array(after) && json_array_size(after) == 1
                    ? json_array_get(after, 0) : NULL;
    const json_t *hex = json_is_object(e) ? json_object_get(e, "hex") : NULL;
    if (json_is_string(e)) {
        *n = json_string_length(e);
        *k = wh_arena_strndup(&s->arena, json_string_value(e), *n);
    } else if (json_is_string(hex) && json_string_length(hex) % 2 == 0) {
        const char *h = json_string_value(hex);
        size_t len = json_string_length(hex) / 2;
        char *b = wh_arena_alloc(&s->arena, len + 1);
        for (size_t i = 0; b && i < len; i++) {
            int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);
            if (hi < 0 || lo < 0)
                goto bad;
            b[i] = (char)(hi << 4 | lo);
        }
        *k = b;
        *n = len;
    } else {
        goto bad;
    }
    if (!*k)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    return WH_OK;
bad:
    return wh_seterr(errbuf, errlen, WH_ERR_PARSE, "a stored bootstrap key of a column family "
                     "must be [TEXT] or [{\"hex\":\"...\"}]");
}

/* ---- reading -------------------------------------------------------------------------------- */

static int grow(rdb_snapshot *s, uint32_t n)
{
    if (n <= s->cap)
        return WH_OK;
    wh_update *u = realloc(s->ups, n * sizeof *u);
    if (!u)
        return WH_ERR_NOMEM;
    s->ups = u;
    s->cap = n;
    return WH_OK;
}

/* Reads up to limit keys from it into the chunk's rows. */
static int fill(rdb_snapshot *s, rocksdb_iterator_t *it, const char *cf, uint32_t limit,
                uint32_t *n_out, char *errbuf, size_t errlen)
{
    uint32_t n = 0;
    size_t klen = 0, vlen = 0;
    const char *k = NULL;
    for (; n < limit && rocksdb_iter_valid(it); rocksdb_iter_next(it), n++) {
        if (n == s->cap && grow(s, s->cap ? s->cap * 2 : 1024) != WH_OK)
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a chunk");
        k = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        if (klen > UINT32_MAX || vlen > UINT32_MAX)
            return wh_seterr(errbuf, errlen, WH_ERR_LIMIT, "column family %s: a key or value "
                             "over 4 GiB", cf);
        const uint8_t *kc = (const uint8_t *)wh_arena_strndup(&s->arena, k, klen);
        const uint8_t *vc = (const uint8_t *)wh_arena_strndup(&s->arena, v, vlen);
        wh_value *vals = wh_arena_alloc(&s->arena, 2 * sizeof *vals);
        if (!kc || !vc || !vals)
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a chunk");
        wh_update *u = &s->ups[n];
        *u = (wh_update){ .shard = s->shard, .op = WH_OP_SNAPSHOT, .table = cf,
                          .has_after = true, .txn.last = true };
        if (rdb_row_put(&s->arena, u, vals, kc, (uint32_t)klen, vc, (uint32_t)vlen,
                        s->json, false) != 0)
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory for a chunk");
        k = (const char *)kc;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err) {
        bool merge = strstr(err, "erge") != NULL;
        int rc = wh_seterr(errbuf, errlen, merge ? WH_ERR_UNSUPPORTED : WH_ERR_ROCKSDB,
                           "reading column family %s of %s after %u keys: %s%s", cf, s->opt.db,
                           n, err, merge ? " (the column family holds merge operands, which "
                           "the snapshot reader cannot resolve without the writer's merge "
                           "operator)" : "");
        free(err);
        return rc;
    }
    json_decref(s->last_key);
    s->last_key = NULL;
    if (n && !(s->last_key = key_json(k, klen)))
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    *n_out = n;
    return WH_OK;
}

static int rdb_snap_read(wh_snapshot *base, const char *db, const char *table,
                         const json_t *after, uint32_t limit, wh_snapshot_chunk *out,
                         char *errbuf, size_t errlen)
{
    rdb_snapshot *s = (rdb_snapshot *)base;
    rocksdb_column_family_handle_t *cf;
    memset(out, 0, sizeof *out);
    wh_arena_reset(&s->arena);
    limit = limit ? limit : 1;
    const char *key = NULL;
    size_t key_len = 0;
    int rc = after ? key_bytes(s, after, &key, &key_len, errbuf, errlen) : WH_OK;
    if (rc == WH_OK)
        rc = find_cf(s, db, table, &cf, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    char *err = NULL;
    rocksdb_try_catch_up_with_primary(s->db, &err);
    if (err) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_ROCKSDB, "the secondary instance of %s cannot "
                       "catch up with the primary: %s", s->opt.db, err);
        free(err);
        db_close(s);   /* the next read opens it afresh */
        return rc;
    }
    /* A secondary instance has no explicit snapshots ("not supported in
     * secondary mode"): an iterator reads at the instance's last sequence
     * when it is created. Only this thread moves the secondary (catch-up),
     * so that is the S read here. */
    uint64_t seq = rocksdb_get_latest_sequence_number(s->db);
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_fill_cache(ro, 0);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, ro, cf);
    if (key) {
        rocksdb_iter_seek(it, key, key_len);
        size_t n;
        const char *k = rocksdb_iter_valid(it) ? rocksdb_iter_key(it, &n) : NULL;
        if (k && n == key_len && memcmp(k, key, n) == 0)
            rocksdb_iter_next(it);
    } else {
        rocksdb_iter_seek_to_first(it);
    }
    uint32_t n = 0;
    const char *name = wh_arena_strndup(&s->arena, table, strlen(table));
    rc = name ? fill(s, it, name, limit, &n, errbuf, errlen)
              : wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    if (rc != WH_OK)
        return rc;
    out->rows = s->ups;
    out->n = n;
    out->key_idx = key_idx0;
    out->nkey = 1;
    out->last_key = s->last_key;
    out->at = (wh_pos){ .set = true, .offset = seq + 1 };
    out->done = n < limit;
    return WH_OK;
}

static int rdb_snap_keys(wh_snapshot *base, const char *db, const char *table,
                         const char *const **names, uint32_t *n, char *errbuf, size_t errlen)
{
    rdb_snapshot *s = (rdb_snapshot *)base;
    rocksdb_column_family_handle_t *cf;
    *names = NULL;
    *n = 0;
    int rc = find_cf(s, db, table, &cf, errbuf, errlen);
    if (rc == WH_OK) {
        *names = rdb_names_k;
        *n = 1;
    }
    return rc;
}

static int rdb_snap_estimate(wh_snapshot *base, const char *db, const char *table,
                             uint64_t *rows, char *errbuf, size_t errlen)
{
    rdb_snapshot *s = (rdb_snapshot *)base;
    rocksdb_column_family_handle_t *cf;
    *rows = 0;
    int rc = find_cf(s, db, table, &cf, errbuf, errlen);
    if (rc != WH_OK)
        return rc;
    char *err = NULL;
    rocksdb_try_catch_up_with_primary(s->db, &err);
    free(err);   /* an estimate from the last catch-up is good enough */
    char *v = rocksdb_property_value_cf(s->db, cf, "rocksdb.estimate-num-keys");
    if (v)
        *rows = strtoull(v, NULL, 10);
    free(v);
    return WH_OK;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    if (remove(path) != 0)
        wh_warn(WH_AREA_ROCKSDB, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

static void rdb_snap_close(wh_snapshot *base)
{
    rdb_snapshot *s = (rdb_snapshot *)base;
    db_close(s);
    if (s->dbopt)
        rocksdb_options_destroy(s->dbopt);
    if (s->sec_tmp && s->sec_dir)
        nftw(s->sec_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(s->sec_dir);
    rdb_opts_free(&s->opt);
    wh_arena_free(&s->arena);
    json_decref(s->last_key);
    free(s->ups);
    free(s);
}

static const wh_snapshot_ops rdb_snapshot_ops = {
    .read = rdb_snap_read,
    .keys = rdb_snap_keys,
    .estimate = rdb_snap_estimate,
    .close = rdb_snap_close,
};

int rdb_snapshot_open(const json_t *options, const char *shard, wh_snapshot **out,
                      char *errbuf, size_t errlen)
{
    *out = NULL;
    rdb_snapshot *s = calloc(1, sizeof *s);
    if (!s)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    s->base.ops = &rdb_snapshot_ops;
    s->shard = shard;
    json_t *tmp = options ? NULL : json_object();
    int rc = rdb_opts_read(options ? options : tmp, &s->opt, &s->json, errbuf, errlen);
    json_decref(tmp);
    if (rc != WH_OK)
        goto fail;
    /* A directory of its own per reader (two flows may bootstrap at once). */
    const char *t = s->opt.secondary_dir[0] ? s->opt.secondary_dir : getenv("TMPDIR");
    if (asprintf(&s->sec_dir, "%s/wh-rdb-secondary-XXXXXX", t && t[0] ? t : "/tmp") < 0) {
        s->sec_dir = NULL;
    } else if (!mkdtemp(s->sec_dir)) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot make a directory for the "
                       "secondary instance (%s): %s", s->sec_dir, strerror(errno));
        goto fail;
    } else {
        s->sec_tmp = true;
    }
    if (!s->sec_dir || !(s->dbopt = rocksdb_options_create())) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
        goto fail;
    }
    /* max_open_files -1: table files are opened at catch-up and stay open, so
     * the primary's compactions cannot delete one from under an iterator. */
    rocksdb_options_set_max_open_files(s->dbopt, -1);
    rocksdb_options_set_info_log_level(s->dbopt, 2 /* WARN */);
    if (s->opt.wal_dir[0])
        rocksdb_options_set_wal_dir(s->dbopt, s->opt.wal_dir);
    *out = &s->base;
    return WH_OK;
fail:
    rdb_snap_close(&s->base);
    return rc;
}
