#!/usr/bin/env python3
"""A random multi-table write workload from several client connections in
parallel (a few hundred thousand row changes, with ALTER TABLE in the
middle) on a harness MariaDB; the updates wormhole-logcat decodes from its
binlog are replayed in order onto empty tables in a second database, which
must end up with exactly the tables' final content (CHECKSUM TABLE and an
ordered dump). Prints its random seed; WH_SEED=N replays a run."""

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

from mysql_testlib import b64, check, done, fail, logcat, wh

THREADS = 4
TXNS_PER_THREAD = int(os.environ.get("WH_REPLAY_TXNS", "2000"))
SCHEMA = [
    "CREATE TABLE t1 (id INT PRIMARY KEY, a INT, b VARCHAR(64), c DECIMAL(12,2), "
    "d DATETIME(6), e BLOB) DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE t2 (k BIGINT UNSIGNED PRIMARY KEY, v TEXT, s SET('r','g','b'), "
    "f DOUBLE, t TIMESTAMP(3) NULL) DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE t3 (x INT, y VARCHAR(8), z LONGTEXT, w TINYINT UNSIGNED, PRIMARY KEY (x, y)) "
    "DEFAULT CHARSET=latin1",
]
PK = {"t1": ["id"], "t2": ["k"], "t3": ["x", "y"]}
TEXTS = ["", "plain", "caf\u00e9", "\U0001F600 emoji", "quote ' and \\ backslash",
         "tab\tnew\nline", "x" * 60]


def rand_text(rng, latin1=False):
    t = rng.choice(TEXTS)
    if latin1:
        t = t.encode("latin-1", "replace").decode("latin-1")
    return t


def lit(s):
    return "_utf8mb4 X'%s'" % s.encode("utf-8").hex() if s is not None else "NULL"


def gen_statement(rng, tid, altered):
    table = rng.choice(["t1", "t1", "t2", "t3"])
    op = rng.random()
    if table == "t1":
        key = rng.randrange(0, 3000)
        if op < 0.5:
            n = rng.randrange(1, 6)
            vals = []
            for i in range(n):
                vals.append("(%d, %d, %s, %s, '2024-01-%02d 10:00:%02d.%06d', %s)" % (
                    key + i * 3001, rng.randrange(-10**9, 10**9), lit(rand_text(rng)),
                    "%d.%02d" % (rng.randrange(-10**9, 10**9), rng.randrange(100)),
                    rng.randrange(1, 29), rng.randrange(60), rng.randrange(10**6),
                    "NULL" if rng.random() < 0.3 else "X'%s'" % os.urandom(rng.randrange(0, 300)).hex()))
            return "INSERT IGNORE INTO t1 (id, a, b, c, d, e) VALUES %s" % ", ".join(vals)
        if op < 0.85:
            extra = ", g = g + 1" if altered and rng.random() < 0.5 else ""
            return "UPDATE t1 SET a = a + %d, b = %s%s WHERE id BETWEEN %d AND %d" % (
                rng.randrange(1, 100), lit(rand_text(rng)), extra, key, key + rng.randrange(0, 60))
        return "DELETE FROM t1 WHERE id BETWEEN %d AND %d" % (key, key + rng.randrange(0, 10))
    if table == "t2":
        key = rng.randrange(0, 2000) + (1 << 63 if rng.random() < 0.5 else 0)
        if op < 0.5:
            return ("INSERT INTO t2 VALUES (%d, %s, '%s', %r, '2021-06-0%d 01:02:03.%03d') "
                    "ON DUPLICATE KEY UPDATE v = VALUES(v), f = f + 1" % (
                        key, lit(rand_text(rng) * rng.randrange(1, 50)),
                        rng.choice(["", "r", "g,b", "r,g,b"]), rng.uniform(-1e10, 1e10),
                        rng.randrange(1, 9), rng.randrange(1000)))
        if op < 0.8:
            return "UPDATE t2 SET s = '%s', t = NULL WHERE k = %d" % (rng.choice(["r", "b"]), key)
        return "DELETE FROM t2 WHERE k = %d" % key
    x = rng.randrange(0, 500)
    y = rng.choice(["a", "b", "c\u00e9", ""])
    if op < 0.5:
        return "REPLACE INTO t3 VALUES (%d, %s, %s, %d)" % (
            x, lit(y), lit(rand_text(rng, True) * rng.randrange(1, 100)), rng.randrange(256))
    if op < 0.8:
        return "UPDATE t3 SET w = (w + 1) %% 256 WHERE x = %d" % x
    return "DELETE FROM t3 WHERE x = %d AND y = %s" % (x, lit(y))


def worker(db, tid, seed, state, errors):
    rng = random.Random(seed * 100 + tid)
    p = subprocess.Popen(db._client_argv("work") + ["--force"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for n in range(TXNS_PER_THREAD):
            if tid == 0 and n == TXNS_PER_THREAD // 2:
                p.stdin.write(b"ALTER TABLE t1 ADD COLUMN g INT NOT NULL DEFAULT 7 AFTER b;\n")
                p.stdin.flush()
                state["altered"] = True
            stmts = [gen_statement(rng, tid, state.get("altered"))
                     for _ in range(rng.randrange(1, 20))]
            end = "ROLLBACK" if rng.random() < 0.05 else "COMMIT"
            sql = "BEGIN;\n" + ";\n".join(stmts) + ";\n" + end + ";\n"
            p.stdin.write(sql.encode("utf-8"))
        p.stdin.close()
        err = p.stderr.read().decode("utf-8", "replace")
        p.wait(timeout=wh.scaled(600))
        # Expected: deadlocks and lock waits between the clients, and a
        # statement using column g sent just before the ALTER ran.
        real = [l for l in err.split("\n") if l.startswith("ERROR") and
                not any(c in l for c in ("ERROR 1213", "ERROR 1205", "ERROR 1054"))]
        if real:
            errors.append("client %d: %s" % (tid, "\n".join(real[:5])))
    except Exception as e:   # noqa: BLE001
        errors.append("client %d: %s" % (tid, e))
        p.kill()


def sql_value(v, kind):
    if v is None:
        return "NULL"
    if kind == "bytes":
        return "X'%s'" % b64(v).hex()
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, float)):
        return repr(v)
    return "_utf8mb4 X'%s'" % v.encode("utf-8").hex()


class Batcher:
    """Joins consecutive row changes of one kind and table into one statement:
    REPLACE for inserts and key-preserving updates (the after image is the
    whole row), DELETE ... WHERE (key) IN (...) for deletes."""

    def __init__(self, out):
        self.out, self.kind, self.table, self.items, self.size = out, None, None, [], 0

    def add(self, kind, table, cols, item):
        if (kind, table, cols) != (self.kind, self.table, self.cols if self.items else None) \
                or self.size > 500000:
            self.flush()
        self.kind, self.table, self.cols = kind, table, cols
        self.items.append(item)
        self.size += len(item)

    def flush(self):
        if not self.items:
            return
        if self.kind == "replace":
            self.out.write("REPLACE INTO %s (%s) VALUES %s;\n" % (
                self.table, self.cols, ", ".join(self.items)))
        else:   # (a = 1 AND b = 'x') OR ...: a row-value IN would skip charset conversion
            self.out.write("DELETE FROM %s WHERE %s;\n" % (self.table, " OR ".join(self.items)))
        self.items, self.size = [], 0


def replay_sql(ups, out):
    """Writes SQL that applies the decoded updates to database `replay`."""
    kinds = {"e": "bytes"}
    n = 0
    out.write("SET sql_log_bin = 0; SET time_zone = '+00:00'; SET sql_mode = '';"
              "SET foreign_key_checks = 0; USE replay;\nBEGIN;\n")
    b = Batcher(out)

    def key(t, img):
        return "(%s)" % " AND ".join("`%s` = %s" % (c, sql_value(img[c], kinds.get(c)))
                                     for c in PK[t])

    for u in ups:
        if u["op"] == "ddl":
            if u.get("db") == "work" and not u["statement"].upper().startswith("CREATE DATABASE"):
                b.flush()
                out.write("COMMIT;\n%s;\nBEGIN;\n" % u["statement"])
            continue
        if u["db"] != "work":
            continue
        t = u["table"]
        pkcols = None
        if u["op"] == "delete" or (u["op"] == "update" and
                                   key(t, u["before"]) != key(t, u["after"])):
            b.add("delete", t, pkcols, key(t, u["before"]))
        if u["op"] in ("insert", "update"):
            a = u["after"]
            b.add("replace", t, ", ".join("`%s`" % c for c in a),
                  "(%s)" % ", ".join(sql_value(v, kinds.get(c)) for c, v in a.items()))
        n += 1
        if u["txn"]["last"] and b.size > 200000:
            b.flush()
            out.write("COMMIT;\nBEGIN;\n")
    b.flush()
    out.write("COMMIT;\n")
    return n


def main():
    seed = int(os.environ.get("WH_SEED", str(int(time.time()) % 100000)))
    print("seed %d (WH_SEED=%d replays this run)" % (seed, seed), flush=True)
    with wh.Stack() as st:
        db = st.mariadb(options={"max_binlog_size": "8M"})
        db.sql("CREATE DATABASE work; CREATE DATABASE replay")
        for s in SCHEMA:
            db.sql(s, db="work")
        t0 = time.time()
        state, errors = {}, []
        threads = [threading.Thread(target=worker, args=(db, i, seed, state, errors))
                   for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for e in errors:
            fail(e)
        db.flush_logs()
        print("workload: %.1f s, %d binlog files" % (time.time() - t0, len(db.binlog_files())),
              flush=True)

        t0 = time.time()
        status, ups, err = logcat(db.binlog_dir)
        rows = [u for u in ups if u["op"] != "ddl" and u.get("db") == "work"]
        print("decoded %d updates (%d row changes) in %.1f s" % (len(ups), len(rows),
                                                                time.time() - t0), flush=True)
        check(len(rows) >= 150000 or TXNS_PER_THREAD < 2000,
              "only %d row changes; the test wants a few hundred thousand" % len(rows))
        check(any(u["op"] == "ddl" and "ADD COLUMN g" in u["statement"] for u in ups),
              "the ALTER TABLE is not among the decoded statements")
        for u in rows:   # the table's shape follows the ALTER exactly
            if u["table"] == "t1":
                img = u.get("after") or u.get("before")
                keys = list(img)
                if keys not in (["id", "a", "b", "c", "d", "e"],
                                ["id", "a", "b", "g", "c", "d", "e"]):
                    fail("t1 update with columns %s" % keys)
                    break

        t0 = time.time()
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False,
                                         dir=os.environ.get("WH_TMPDIR")) as f:
            n = replay_sql(ups, f)
            path = f.name
        with open(path, "rb") as f:
            r = subprocess.run(db._client_argv("replay"), stdin=f, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=wh.scaled(600))
        os.unlink(path)
        check(r.returncode == 0, "replay failed: %s" % r.stderr.decode()[:2000])
        print("replayed %d row changes in %.1f s" % (n, time.time() - t0), flush=True)

        for t in ("t1", "t2", "t3"):
            a = db.sql("CHECKSUM TABLE work.%s, replay.%s" % (t, t))
            check(a[0][1] == a[1][1] and a[0][1] is not None,
                  "%s: CHECKSUM TABLE %s (work) vs %s (replay)" % (t, a[0][1], a[1][1]))
            cnt = db.sql("SELECT (SELECT COUNT(*) FROM work.%s), (SELECT COUNT(*) FROM replay.%s)"
                         % (t, t))[0]
            check(cnt[0] == cnt[1], "%s: %s rows vs %s replayed" % (t, cnt[0], cnt[1]))
            order = ", ".join(PK[t])
            d1 = db.sql("SELECT HEX(CONCAT_WS(0x1f, %s)) FROM work.%s ORDER BY %s" % (
                "*" if False else ", ".join("IFNULL(HEX(%s), 'N')" % c for c in cols(db, t)),
                t, order))
            d2 = db.sql("SELECT HEX(CONCAT_WS(0x1f, %s)) FROM replay.%s ORDER BY %s" % (
                ", ".join("IFNULL(HEX(%s), 'N')" % c for c in cols(db, t)), t, order))
            if not check(d1 == d2, "%s: ordered dumps differ" % t):
                keys = ", ".join("HEX(%s)" % c for c in PK[t])
                k1 = set(tuple(r) for r in db.sql("SELECT %s FROM work.%s" % (keys, t)))
                k2 = set(tuple(r) for r in db.sql("SELECT %s FROM replay.%s" % (keys, t)))
                print("  keys only in work: %s" % sorted(k1 - k2)[:10], file=sys.stderr)
                print("  keys only in replay: %s" % sorted(k2 - k1)[:10], file=sys.stderr)
            print("%s: %s rows, checksum %s" % (t, cnt[0], a[0][1]), flush=True)
    return done("test_mysql_replay")


def cols(db, t):
    return [r[0] for r in db.sql("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
                                 "TABLE_SCHEMA = 'work' AND TABLE_NAME = '%s' ORDER BY "
                                 "ORDINAL_POSITION" % t)]


if __name__ == "__main__":
    sys.exit(main())
