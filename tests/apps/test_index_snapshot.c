/* test_index_snapshot.c -- wormhole-index applies a bootstrap's snapshot rows (docs/BOOTSTRAP.md): as upserts, at the applied position too, and not when older than it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "apps/index/idx.h"
#include "../check.h"

static const char *const cols[] = { "id", "title" };

static wh_update row(int op, const char *log, uint64_t off, int64_t id, const char *title,
                     wh_value *v)
{
    wh_update u;
    memset(&u, 0, sizeof u);
    u.shard = "s1";
    u.op = (uint8_t)op;
    u.db = "app";
    u.table = "docs";
    u.pos.log_name = log;
    u.pos.offset = off;
    if (title) {
        v[0] = (wh_value){ .type = WH_T_INT };
        v[0].n.i = id;
        v[1] = (wh_value){ .type = WH_T_STRING };
        v[1].str = title;
        v[1].len = (uint32_t)strlen(title);
        u.has_after = true;
        u.after = (wh_row){ cols, v, 2 };
    }
    return u;
}

/* The title the index holds for id ("" if none). */
static const char *title_of(const char *db, int id, char *buf, size_t len)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    buf[0] = '\0';
    if (sqlite3_open(db, &h) == SQLITE_OK &&
        sqlite3_prepare_v2(h, "SELECT title FROM docs WHERE id = ?", -1, &st, NULL) ==
            SQLITE_OK) {
        sqlite3_bind_int(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return buf;
}

int main(void)
{
    char dir[] = "/tmp/wh_idx_snapXXXXXX", cfgpath[128], dbpath[128], err[1024], t[64];
    if (!mkdtemp(dir))
        return 1;
    snprintf(cfgpath, sizeof cfgpath, "%s/c.json", dir);
    snprintf(dbpath, sizeof dbpath, "%s/i.db", dir);
    FILE *f = fopen(cfgpath, "w");
    if (!f)
        return 1;
    fprintf(f, "{\"zookeeper\": {\"connect\": \"127.0.0.1:1\"}, \"subscriber\": {\"app\": \"idx\"},"
               " \"sqlite\": {\"path\": \"%s\"}, \"tables\": [{\"source\": \"app.docs\", "
               "\"key\": [\"id\"], \"text\": [\"title\"]}]}", dbpath);
    fclose(f);
    idx_config cfg;
    idx_app app;
    memset(&cfg, 0, sizeof cfg);
    memset(&app, 0, sizeof app);
    CHECK_EQ_INT(idx_config_load(cfgpath, &cfg, err, sizeof err), WH_OK);
    CHECK_EQ_INT(idx_app_init(&app, &cfg, err, sizeof err), WH_OK);
    CHECK_EQ_INT(idx_app_open_backend(&app, err, sizeof err), WH_OK);
    wh_value v[4][2];
    wh_update b1[] = { row(WH_OP_INSERT, "bin.000001", 100, 1, "one", v[0]) };
    CHECK_EQ_INT(idx_app_batch(&app, b1, 1, "s1"), WH_OK);
    /* The stream's update at 200, then snapshot rows placed after it (they
     * carry its position): applied although their position is not after it. */
    wh_update b2[] = { row(WH_OP_UPDATE, "bin.000001", 200, 1, "uno", v[0]),
                       row(WH_OP_SNAPSHOT_BEGIN, "bin.000001", 200, 0, NULL, NULL),
                       row(WH_OP_SNAPSHOT, "bin.000001", 200, 2, "two", v[1]) };
    CHECK_EQ_INT(idx_app_batch(&app, b2, 3, "s1"), WH_OK);
    CHECK_EQ_STR(title_of(dbpath, 2, t, sizeof t), "two");
    /* A later batch: a snapshot row at the applied position (the stream
     * update before it was in the previous batch) is an upsert too. */
    wh_update b3[] = { row(WH_OP_SNAPSHOT, "bin.000001", 200, 2, "deux", v[2]) };
    CHECK_EQ_INT(idx_app_batch(&app, b3, 1, "s1"), WH_OK);
    CHECK_EQ_STR(title_of(dbpath, 2, t, sizeof t), "deux");
    /* One from before the applied position: the index already holds a newer
     * state of the row: dropped. */
    wh_update b4[] = { row(WH_OP_SNAPSHOT, "bin.000001", 100, 1, "stale", v[3]) };
    CHECK_EQ_INT(idx_app_batch(&app, b4, 1, "s1"), WH_OK);
    CHECK_EQ_STR(title_of(dbpath, 1, t, sizeof t), "uno");
    idx_app_free(&app);
    idx_config_free(&cfg);
    unlink(dbpath);
    unlink(cfgpath);
    rmdir(dir);
    return check_done("test_index_snapshot");
}
