#!/usr/bin/env python3
"""Benchmark of wormhole-index: row changes per second applied into SQLite FTS5 and PostgreSQL.

Usage: python3 bench/apps/index/run.py --build DIR [--changes N] [--backends LIST] [--cpu N]

Starts a throwaway ZooKeeper, MariaDB and PostgreSQL (tests/harness) and writes a
binlog of N row changes (default 220000: 70% inserts, 20% updates, 10% deletes,
1000 rows per transaction) to app.docs (id INT key; title, body searchable, about
11 words; author stored). Then, for each backend, a wormhole-index instance of a
new app (so it starts from the oldest update) runs alone on CPU --cpu (taskset;
the publisher and PostgreSQL run on the other CPU), with its production settings
(SQLite synchronous=full: one fsync per batch; no counter table), and one line per
backend gives:
  row changes/s   changes applied / time between the first and the last commit
                  seen in the index's wormhole_positions (commit wall times)
  per CPU-second  changes applied / the app's user+system CPU seconds
"""
import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import wh_harness as wh  # noqa: E402
import wh_postgres  # noqa: E402

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
         "zulu amber birch cedar dune ember fjord grove heath isle jade knoll").split()


def elt(expr):
    return "ELT(1 + (%s) %% %d, %s)" % (expr, len(WORDS), ", ".join("'%s'" % w for w in WORDS))


def words(n, mult):
    return "CONCAT_WS(' ', %s)" % ", ".join(elt("seq * %d + %d" % (mult, k * 7 + 3))
                                            for k in range(n))


def cpu_seconds(pid):
    """(CPU seconds, seconds spent runnable but waiting for a CPU) of a process, all threads."""
    cpu = wait = 0.0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                on, queued = f.read().split()[:2]
        except OSError:
            continue
        cpu += int(on) / 1e9
        wait += int(queued) / 1e9
    return cpu, wait


def write_binlog(db, total):
    """Row changes in transactions of 1000 rows; returns the number written."""
    db.sql("CREATE DATABASE app")
    db.sql("CREATE TABLE app.docs (id INT PRIMARY KEY, title VARCHAR(200), body TEXT, "
           "author VARCHAR(64))")
    n_ins, n_upd = total * 7 // 10, total * 2 // 10
    n_del = total - n_ins - n_upd
    chunk, script = 1000, []
    for a in range(1, n_ins + 1, chunk):
        b = min(n_ins, a + chunk - 1)
        script.append("INSERT INTO app.docs SELECT seq, %s, %s, CONCAT('a', seq %% 97) FROM "
                      "seq_%d_to_%d;" % (words(3, 5), words(8, 11), a, b))
    for a in range(1, n_upd + 1, chunk):
        b = min(n_upd, a + chunk - 1)
        script.append("UPDATE app.docs SET title = CONCAT('new ', title) WHERE id BETWEEN %d "
                      "AND %d;" % (a, b))
    for a in range(n_ins - n_del + 1, n_ins + 1, chunk):
        b = min(n_ins, a + chunk - 1)
        script.append("DELETE FROM app.docs WHERE id BETWEEN %d AND %d;" % (a, b))
    t0 = time.time()
    db.sql_script("\n".join(script), db="app", timeout=1200)
    rows = int(db.value("SELECT COUNT(*) FROM app.docs"))
    if rows != n_ins - n_del:
        raise SystemExit("bench: app.docs has %d rows, expected %d" % (rows, n_ins - n_del))
    print("# binlog: %d row changes (%d inserts, %d updates, %d deletes) written in %.1f s"
          % (n_ins + n_upd + n_del, n_ins, n_upd, n_del, time.time() - t0), flush=True)
    return n_ins + n_upd + n_del


def pin(cpu):
    def f():
        if cpu >= 0:
            os.sched_setaffinity(0, {cpu})
    return f


def run_backend(args, stack, zk, db, pg, backend, total, synchronous=None):
    name = "bench_%s%s" % (backend, "_" + synchronous if synchronous else "")
    cfg = {"zookeeper": {"connect": zk.connect, "root": "/bench"},
           "subscriber": {"app": name},
           "backend": {"type": backend},
           "tables": [{"source": "app.docs", "key": ["id"], "text": ["title", "body"],
                       "stored": ["author"]}],
           "status": {"interval_ms": 60000}}
    if backend == "sqlite":
        dbfile = stack.path(name + ".db")
        cfg["sqlite"] = {"path": dbfile, "synchronous": synchronous or "full"}
    else:
        cfg["postgresql"] = {"conninfo": pg.create_database(name)}
    path = stack.path(name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    logpath = stack.path(name + ".log")
    logf = open(logpath, "w")
    argv = [os.path.join(args.build, "apps", "index", "wormhole-index"), "--config", path]
    if args.perf:
        argv = ["perf", "record", "-q", "-g", "-o", "%s.%s" % (args.perf, name), "--"] + argv
    app = subprocess.Popen(argv, stderr=logf, preexec_fn=pin(args.cpu))
    logf.close()

    def position():
        q = "SELECT logical, applied, updated_ms FROM wormhole_positions"
        try:
            if backend == "sqlite":
                con = sqlite3.connect("file:%s?mode=ro" % dbfile, uri=True, timeout=10)
                try:
                    rows = [list(r) for r in con.execute(q)]
                finally:
                    con.close()
            else:
                rows = pg.sql(q, db=name)
        except (sqlite3.Error, wh.HarnessError):
            return None
        return rows[0] if rows and rows[0][0] else None

    final = db.gtid_binlog_pos()
    first = last = None
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            if app.poll() is not None:
                raise SystemExit("bench: wormhole-index exited with %d; see %s"
                                 % (app.returncode, logpath))
            p = position()
            if p and first is None:
                first = p
            if p and p[0].split("/")[0] == final:
                last = p
                break
            time.sleep(0.02)
        if last is None:
            raise SystemExit("bench: %s did not apply everything within 600 s" % name)
        cpu, queued = cpu_seconds(app.pid)
    finally:
        app.terminate()
        app.wait()
    applied = int(last[1]) - int(first[1])
    secs = (int(last[2]) - int(first[2])) / 1000.0
    label = backend + (" (synchronous=%s)" % (synchronous or "full") if backend == "sqlite" else "")
    print("index %-30s %8.0f row changes/s  (%d changes between the first and the last "
          "commit, %.2f s); %8.0f per CPU-second (app: %.2f CPU s for all %d; %.2f s "
          "runnable but waiting for its CPU)"
          % (label, applied / secs if secs > 0 else 0, applied, secs, total / cpu if cpu else 0,
             cpu, total, queued), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    ap.add_argument("--changes", type=int, default=220000)
    ap.add_argument("--backends", default="sqlite,sqlite-normal,postgresql")
    ap.add_argument("--cpu", type=int, default=1 if os.cpu_count() and os.cpu_count() > 1 else -1,
                    help="CPU the index app runs on (-1: anywhere)")
    ap.add_argument("--perf", metavar="PREFIX",
                    help="profile each app with perf record into PREFIX.APP")
    args = ap.parse_args()
    other = 0 if args.cpu != 0 else 1
    with wh.Stack() as stack:
        zk = stack.zookeeper()
        db = stack.mariadb()
        pg = wh_postgres.postgres(stack) if "postgresql" in args.backends else None
        total = write_binlog(db, args.changes)
        pubcfg = {"shard": "s1", "mapper": {"name": "mysql",
                                            "options": {"binlog_dir": db.binlog_dir}},
                  "zookeeper": {"connect": zk.connect, "root": "/bench"}}
        with open(stack.path("pub.json"), "w") as f:
            json.dump(pubcfg, f)
        if args.cpu >= 0 and os.cpu_count() > 1:
            if pg:
                os.sched_setaffinity(pg.pid, {other})   # its backends inherit it
        logf = open(stack.path("pub.log"), "w")
        pub = subprocess.Popen([os.path.join(args.build, "publisher", "wormhole-publisher"),
                                "--config", stack.path("pub.json")], stderr=logf,
                               preexec_fn=pin(other if args.cpu >= 0 else -1))
        logf.close()
        print("# wormhole-index on CPU %s; publisher%s on CPU %d" % (
            args.cpu, " and PostgreSQL" if pg else "", other), flush=True)
        try:
            for b in args.backends.split(","):
                if b == "sqlite":
                    run_backend(args, stack, zk, db, pg, "sqlite", total)
                elif b == "sqlite-normal":
                    run_backend(args, stack, zk, db, pg, "sqlite", total, "normal")
                elif b == "postgresql":
                    run_backend(args, stack, zk, db, pg, "postgresql", total)
                else:
                    raise SystemExit("bench: unknown backend %s" % b)
        finally:
            pub.terminate()
            pub.wait()


if __name__ == "__main__":
    main()
