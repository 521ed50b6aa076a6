/* snapshot_dump.c -- prints a table's rows as the MariaDB snapshot reader reads them (mappers/snapshot.h), for tests/mysql/test_mysql_snapshot.py.
 *
 * usage: snapshot_dump --socket PATH --table DB.TABLE [--chunk N] [--after KEY_JSON]
 *                      [--kill-between]
 * Reads the whole table in chunks of N rows (default 1000), each in its own
 * consistent snapshot, starting after the key KEY_JSON (a key array as
 * stored with a bootstrap's progress) or at the first row, and prints one
 * JSON line per row (the update as subscribers see it) and, after each
 * chunk, {"chunk":I,"rows":N,"last_key":K,"done":B,"retries":R}. With
 * --kill-between, the reader's connection is killed (KILL CONNECTION from a
 * connection of this tool) after every chunk, and a read that fails is
 * tried again, as the publisher's worker does: R counts those. Exit status
 * 1 with the reader's error on stderr. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <mysql.h>

#include "core/buf.h"
#include "core/update_json.h"
#include "mappers/snapshot.h"

/* Kills every other client connection of the server (the reader's, idle
 * between chunks; the test's server has no other clients) and waits, up to
 * 5 s, until they are gone: KILL is asynchronous, and the reader's next read
 * must find its connection dead every time, or the retries count would
 * depend on timing. The reader's connection is matched in any command but a
 * daemon's: just after its COMMIT it may not show as Sleep yet. */
static void kill_others(MYSQL *k)
{
    if (mysql_query(k, "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> "
                       "CONNECTION_ID() AND COMMAND NOT IN ('Daemon', 'Binlog Dump')") != 0)
        return;
    MYSQL_RES *r = mysql_store_result(k);
    MYSQL_ROW row;
    char q[160];
    while (r && (row = mysql_fetch_row(r))) {
        snprintf(q, sizeof q, "KILL CONNECTION %s", row[0]);
        mysql_query(k, q);
        snprintf(q, sizeof q, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE "
                 "ID = %s", row[0]);
        for (int i = 0; i < 500; i++) {
            bool gone = true;
            if (mysql_query(k, q) == 0) {
                MYSQL_RES *c = mysql_store_result(k);
                MYSQL_ROW cr = c ? mysql_fetch_row(c) : NULL;
                gone = cr && cr[0] && strcmp(cr[0], "0") == 0;
                if (c)
                    mysql_free_result(c);
            }
            if (gone)
                break;
            nanosleep(&(struct timespec){ 0, 10 * 1000000 }, NULL);
        }
    }
    if (r)
        mysql_free_result(r);
}

int main(int argc, char **argv)
{
    const char *socket = NULL, *table = NULL, *after_text = NULL;
    MYSQL *killer = NULL;
    long chunk = 1000;
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' }, { "table", required_argument, NULL, 't' },
        { "chunk", required_argument, NULL, 'c' },  { "after", required_argument, NULL, 'a' },
        { "kill-between", no_argument, NULL, 'k' }, { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': socket = optarg; break;
        case 't': table = optarg; break;
        case 'c': chunk = strtol(optarg, NULL, 10); break;
        case 'a': after_text = optarg; break;
        case 'k': killer = mysql_init(NULL); break;
        default: return 2;
        }
    }
    const char *dot = table ? strchr(table, '.') : NULL;
    if (!socket || !dot || chunk < 1) {
        fprintf(stderr, "usage: snapshot_dump --socket PATH --table DB.TABLE [--chunk N] "
                "[--after KEY_JSON]\n");
        return 2;
    }
    char db[256], err[1024];
    snprintf(db, sizeof db, "%.*s", (int)(dot - table), table);
    json_t *after = after_text ? json_loads(after_text, 0, NULL) : NULL;
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "binlog_dir", "/nonexistent", "socket", socket,
                          "user", "root", "ssl_mode", "disabled");
    wh_snapshot *s;
    if ((after_text && !after) || wh_snapshot_open("mysql", o, "s1", &s, err, sizeof err)) {
        fprintf(stderr, "snapshot_dump: %s\n", after_text && !after ? "bad --after" : err);
        return 1;
    }
    if (killer && !mysql_real_connect(killer, NULL, "root", NULL, NULL, 0, socket, 0)) {
        fprintf(stderr, "snapshot_dump: %s\n", mysql_error(killer));
        return 1;
    }
    int status = 0, retries = 0;
    wh_buf line = { 0 };
    for (long i = 0;; i++) {
        wh_snapshot_chunk ch;
        int rc;
        for (int tries = 0; (rc = wh_snapshot_read(s, db, dot + 1, after, (uint32_t)chunk, &ch,
                                                   err, sizeof err)) == WH_ERR_MYSQL &&
                            killer && tries < 3; tries++)
            retries++;
        if (rc != WH_OK) {
            fprintf(stderr, "snapshot_dump: %s\n", err);
            status = 1;
            break;
        }
        for (uint32_t r = 0; r < ch.n; r++) {
            wh_buf_reset(&line);
            wh_update_to_json(&ch.rows[r], &line);
            fwrite(line.data, 1, line.len, stdout);
        }
        char *key = ch.last_key ? json_dumps(ch.last_key, JSON_COMPACT) : NULL;
        printf("{\"chunk\":%ld,\"rows\":%u,\"last_key\":%s,\"done\":%s,\"retries\":%d}\n",
               i, ch.n, key ? key : "null", ch.done ? "true" : "false", retries);
        free(key);
        if (killer)
            kill_others(killer);
        json_decref(after);
        after = ch.last_key ? json_deep_copy(ch.last_key) : NULL;
        if (ch.done || status)
            break;
    }
    json_decref(after);
    json_decref(o);
    wh_buf_free(&line);
    if (killer)
        mysql_close(killer);
    wh_snapshot_close(s);
    return status;
}
