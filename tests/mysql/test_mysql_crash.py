#!/usr/bin/env python3
"""A MariaDB killed with SIGKILL while it writes a large transaction into its binlog.

A large transaction's binlog cache is copied into the binlog file in pieces
at commit, its XID event last. The test starts a 400 000-row INSERT ... SELECT,
polls the binlog file's size and SIGKILLs mariadbd once the file has grown by
a seeded number of bytes (between 64 KiB and about half of the transaction),
then checks that the kill really landed inside the transaction: without
--follow, wormhole-logcat must stop there with status 3 ("the log ends inside
transaction ... not committed (yet); N updates not shown"), and with
--uncommitted show those N updates and the marker line naming the transaction.
A kill that missed (the transaction already committed) is retried with the
next seed. Then MariaDB is restarted (it rolls the transaction back; the test
checks the table holds none of its rows), more rows are written (the first
transaction after the restart may reuse the dropped transaction's GTID, and
the test says whether it did), and:

- wormhole-logcat over the whole binlog exits 0, warns once about the dropped
  transaction, delivers nothing of it, and its updates replayed in order give
  exactly the final tables (SELECT);
- a wormhole-logcat --follow started before the crash, and a publisher with a
  wormhole-tail subscriber (ZooKeeper), which both kept running through the
  crash and the restart, delivered the same stream by themselves;
- a logical position at the reused GTID (when it was reused) finds the
  committed transaction in the newer file.

The seed (kill threshold, workload) is printed; WH_SEED=N replays it.
WH_CRASH_ROWS sets the size of the killed transaction (default 400000)."""

import json
import os
import random
import signal
import subprocess
import sys
import time

from mysql_testlib import check, done, logcat, logcat_path, wh

ROWS = int(os.environ.get("WH_CRASH_ROWS", "400000"))
PAD = 80                      # bytes of text per row of crash.big
BUILD = os.environ.get("WH_BUILD_ROOT", "build")
PUBLISHER = os.path.join(BUILD, "publisher", "wormhole-publisher")
TAIL = os.path.join(BUILD, "subscriber", "wormhole-tail")
LAST_ID = 999999              # the last row written: every reader waits for it


def ok(cond, msg):
    """check(), and says so when it holds."""
    if check(cond, msg):
        print("ok: " + msg, flush=True)
    return cond


def lines(path):
    with open(path, "rb") as f:
        data = f.read().decode("utf-8", "replace")
    return [json.loads(l) for l in data.split("\n") if l.strip()]


def small_workload(db, rng, base, n):
    """n small transactions on crash.small: inserts, updates, deletes."""
    stmts = []
    for i in range(n):
        k = base + rng.randrange(0, 60)
        r = rng.random()
        if r < 0.5:
            stmts.append("INSERT INTO crash.small VALUES (%d, 'v%d') ON DUPLICATE KEY UPDATE "
                         "v = 'u%d'" % (k, i, i))
        elif r < 0.8:
            stmts.append("UPDATE crash.small SET v = CONCAT(v, '+') WHERE id = %d" % k)
        else:
            stmts.append("DELETE FROM crash.small WHERE id = %d" % k)
        if rng.random() < 0.2:   # a multi-statement transaction now and then
            stmts[-1] = "BEGIN; %s; INSERT INTO crash.small VALUES (%d, 'b%d') ON DUPLICATE " \
                        "KEY UPDATE v = 'c%d'; COMMIT" % (stmts[-1], base + 100 + i, i, i)
    db.sql(";\n".join(stmts) + ";")


# Every process a run starts, killed on the way out whatever happened, so that
# none outlives the test (and holds meson's output pipe open).
CHILDREN = []


def spawn(argv, **kw):
    p = subprocess.Popen(argv, **kw)
    CHILDREN.append(p)
    return p


def replay(updates):
    """The tables that applying the updates in order gives: {table: {id: row}}."""
    tables = {"small": {}, "big": {}}
    for u in updates:
        if u.get("db") != "crash" or u.get("table") not in tables:
            continue
        t = tables[u["table"]]
        if u["op"] in ("update", "delete"):
            t.pop(u["before"]["id"], None)
        if u["op"] in ("insert", "update"):
            t[u["after"]["id"]] = u["after"]
    return tables


def check_tables(db, updates, what):
    got = replay(updates)
    small = {int(r[0]): r[1] for r in db.sql("SELECT id, v FROM crash.small")}
    big = {int(r[0]): r[1] for r in db.sql("SELECT id, pad FROM crash.big")}
    same_small = small == {k: v["v"] for k, v in got["small"].items()}
    same_big = big == {k: v["pad"] for k, v in got["big"].items()}
    ok(same_small and same_big,
          "%s: replaying the updates gives the final tables (small: %d rows, %s; big: %d rows, "
          "%s)" % (what, len(small), "same" if same_small else "DIFFERENT", len(big),
                   "same" if same_big else "DIFFERENT"))


def start_pub_tail(st, db):
    """A ZooKeeper, a wormhole-tail subscriber of app "crash" and a publisher."""
    zk = st.zookeeper()
    out = st.path("tail.jsonl")
    tlog = st.path("tail.log")
    tail = spawn([TAIL, "--zk", zk.connect + "/wh", "--app", "crash"],
                            stdout=open(out, "w"), stderr=open(tlog, "w"))
    deadline = time.time() + wh.scaled(30)
    while time.time() < deadline and "registered " not in open(tlog).read():
        time.sleep(0.1)
    cfg = {"shard": "s1", "id": "pub-crash",
           "mapper": {"name": "mysql", "options": {"binlog_dir": db.binlog_dir}},
           "zookeeper": {"connect": zk.connect, "root": "/wh", "session_timeout_ms": 4000},
           "delivery": {"heartbeat_interval_ms": 300, "heartbeat_timeout_ms": 3000,
                        "datamarker_interval_ms": 50, "retry_max_ms": 1000},
           "positions": {"flush_interval_ms": 100}}
    path = st.path("pub.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    plog = st.path("pub.log")
    pub = spawn([PUBLISHER, "--config", path], stderr=open(plog, "w"))
    return tail, out, pub, plog


def crash_once(db, seed, attempt):
    """Starts the big transaction, SIGKILLs the server while it writes it into
    the binlog. Returns (hit, info): hit when the binlog ends inside it."""
    rng = random.Random(seed)
    first = 1 + attempt * ROWS
    est = ROWS * (PAD + 12)
    threshold = rng.randint(64 << 10, max(128 << 10, est // 2))
    path = db.binlog_files()[-1]
    size0 = os.path.getsize(path)
    client = subprocess.Popen(db._client_argv("crash") + ["-e", "INSERT INTO crash.big SELECT seq, "
                              "REPEAT(CHAR(97 + seq %% 26), %d) FROM seq_%d_to_%d"
                              % (PAD, first, first + ROWS - 1)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.time()
    size = size0
    killed = False
    deadline = t0 + wh.scaled(300)
    while time.time() < deadline:
        size = os.path.getsize(path)
        if size >= size0 + threshold:
            db.kill()
            killed = True
            break
        if client.poll() is not None:
            break
        time.sleep(0.0002)
    client_err = client.communicate(timeout=wh.scaled(60))[1].decode("utf-8", "replace")
    after = os.path.getsize(path)
    print("attempt %d (seed %d): threshold %d bytes; the binlog had grown by %d bytes when "
          "%s, %d when the server was dead (%.1f s after the INSERT started)"
          % (attempt, seed, threshold, size - size0, "killed" if killed else "the INSERT ended",
             after - size0, time.time() - t0), flush=True)
    if not killed:
        ok("error" not in client_err.lower(), "the INSERT ran: %s" % client_err.strip())
        db.kill()
    # Without --follow the log now ends inside the transaction, or the kill missed.
    status, ups, err = logcat(db.binlog_dir, check_status=False)
    info = {"first": first, "status": status, "err": err.strip()}
    if status != 3 or "the log ends inside transaction" not in err:
        ok(status == 0, "a missed kill leaves a log that ends cleanly: status %d, %s"
              % (status, err.strip()[-300:]))
        return False, info
    msg = err.strip().split("\n")[-1]
    info["msg"] = msg
    # "wormhole-logcat: the log ends inside transaction G at F:O: not committed (yet);
    #  N updates not shown; --uncommitted shows them"
    words = msg.split()
    info["gtid"] = words[words.index("transaction") + 1]
    info["at"] = words[words.index("at") + 1].rstrip(":")
    info["hidden"] = int(words[words.index("updates") - 1])
    ok(msg.endswith("updates not shown; --uncommitted shows them"),
          "the end of the log inside the transaction is explained: %s" % msg)
    ok(not [u for u in ups if u.get("table") == "big" and u["op"] != "ddl" and u["after"]["id"] >= first],
          "without --uncommitted nothing of the unfinished transaction is printed")
    ok(info["hidden"] > 0 and info["hidden"] < ROWS,
          "the kill hit mid-write: %d of %d rows are in the binlog" % (info["hidden"], ROWS))
    r = subprocess.run([logcat_path(), "--binlog-dir", db.binlog_dir, "--uncommitted"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=wh.scaled(300))
    out = [json.loads(l) for l in r.stdout.decode().split("\n") if l.strip()]
    marker = out[-1] if out else {}
    mine = [u for u in out if u.get("table") == "big" and u["op"] != "ddl" and u["after"]["id"] >= first]
    ok(r.returncode == 3 and marker == {"uncommitted": {"txn": info["gtid"],
                                                           "pos": info["at"],
                                                           "updates": info["hidden"]}},
          "--uncommitted shows the %d updates and the marker %s (status %d)"
          % (len(mine), json.dumps(marker), r.returncode))
    ok(len(mine) == info["hidden"] and all(not u["txn"]["last"] for u in mine),
          "--uncommitted: %d updates of the transaction, none marked last" % len(mine))
    return True, info


def main():
    seed = int(os.environ.get("WH_SEED") or time.time_ns() % 1000000007)
    print("test_mysql_crash: seed %d (replay with WH_SEED=%d)" % (seed, seed), flush=True)
    rng = random.Random(seed)
    with wh.Stack() as st:
        db = st.mariadb()
        db.sql("CREATE DATABASE crash; CREATE TABLE crash.small (id INT PRIMARY KEY, "
               "v VARCHAR(200)); CREATE TABLE crash.big (id INT PRIMARY KEY, pad VARCHAR(100))")
        first_file = os.path.basename(db.binlog_files()[0])
        fout, ferr = st.path("follow.jsonl"), st.path("follow.err")
        follower = spawn([logcat_path(), "--binlog-dir", db.binlog_dir, "--follow",
                                     "--from", first_file + ":4"],
                                    stdout=open(fout, "w"), stderr=open(ferr, "w"))
        pubtail = None
        if os.path.exists(PUBLISHER) and os.path.exists(TAIL):
            pubtail = start_pub_tail(st, db)
        else:
            print("no %s or %s: the publisher part is left out" % (PUBLISHER, TAIL))
        small_workload(db, rng, 0, 40)
        db.sql("INSERT INTO crash.big VALUES (0, 'before')")

        hit, info = False, {}
        for attempt in range(6):
            hit, info = crash_once(db, seed + attempt, attempt)
            db.start()
            if hit:
                break
            print("the kill missed the binlog write (the transaction committed); retrying "
                  "with seed %d" % (seed + attempt + 1), flush=True)
        if not ok(hit, "a kill landed inside the transaction's binlog write"):
            return done("test_mysql_crash")
        first = info["first"]
        n = db.value("SELECT COUNT(*) FROM crash.big WHERE id >= %d" % first)
        ok(n == "0", "MariaDB rolled the transaction back at restart (%s of its rows)" % n)

        # After the restart: the next transaction, then more of everything.
        db.sql("INSERT INTO crash.small VALUES (500000, 'first after restart')")
        after = db.value("SELECT @@gtid_binlog_pos")
        reused = after == info["gtid"]
        print("the dropped transaction was %s at %s; the first one after the restart is %s: "
              "the GTID was %s" % (info["gtid"], info["at"], after,
                                   "reused" if reused else "not reused"), flush=True)
        small_workload(db, rng, 1000, 40)
        db.sql("INSERT INTO crash.big SELECT seq, 'after' FROM seq_%d_to_%d"
               % (first + ROWS, first + ROWS + 999), db="crash")
        db.sql("INSERT INTO crash.small VALUES (%d, 'last')" % LAST_ID)

        # The whole binlog, without --follow.
        status, ups, err = logcat(db.binlog_dir, check_status=False)
        warn = "transaction %s never committed: the file ends inside it" % info["gtid"]
        ok(status == 0 and err.count(warn) == 1 and err.count("never committed") == 1,
              "wormhole-logcat reads on by itself after the dropped transaction, with one "
              "warning: status %d, %s" % (status, err.strip()[-600:]))
        ok(not [u for u in ups if u.get("table") == "big" and u["op"] != "ddl" and
                   first <= u["after"]["id"] < first + ROWS],
              "nothing of the rolled-back transaction is delivered")
        check_tables(db, ups, "wormhole-logcat")
        # Forensics: the dropped transaction's updates, then the line naming it.
        r = subprocess.run([logcat_path(), "--binlog-dir", db.binlog_dir, "--uncommitted"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=wh.scaled(300))
        out = [json.loads(l) for l in r.stdout.decode().split("\n") if l.strip()]
        at = [i for i, u in enumerate(out) if "uncommitted" in u]
        marker = {"uncommitted": {"txn": info["gtid"], "pos": info["at"],
                                  "updates": info["hidden"]}}
        dropped = set(i for i, u in enumerate(out) if "pos" in u and
                      u["pos"]["physical"].startswith(info["at"] + "/"))
        rest = [u for i, u in enumerate(out) if i not in dropped and "uncommitted" not in u]
        ok(r.returncode == 0 and len(at) == 1 and out[at[0]] == marker and
           len(dropped) == info["hidden"] and at[0] == max(dropped) + 1 and rest == ups,
           "--uncommitted over the whole binlog: the %d dropped updates, the marker %s "
           "right after them, then the same stream as without it (status %d)"
           % (len(dropped), json.dumps(out[at[0]]) if at else "missing", r.returncode))
        if reused:
            mine = [u for u in ups if u["txn"]["id"] == info["gtid"]]
            ok(len(mine) == 1 and mine[0]["table"] == "small" and
                  mine[0]["after"]["id"] == 500000,
                  "GTID %s is delivered once, as the committed transaction" % info["gtid"])
            status, ups2, err = logcat(db.binlog_dir, "--from-logical", info["gtid"] + "/0")
            ok(ups2 and ups2[0]["after"].get("id") == 500000 and
                  not ups2[0]["pos"]["physical"].startswith(info["at"].split(":")[0] + ":"),
                  "the logical position %s/0 finds the committed transaction (%s)"
                  % (info["gtid"], ups2[0]["pos"]["physical"] if ups2 else "nothing"))

        # The follower and the subscriber went on by themselves.
        def has_last(path):
            return os.path.exists(path) and (b'"id":%d' % LAST_ID) in open(path, "rb").read()

        deadline = time.time() + wh.scaled(120)
        paths = [fout] + ([pubtail[1]] if pubtail else [])
        while time.time() < deadline and not all(has_last(p) for p in paths):
            time.sleep(0.2)
        ok(follower.poll() is None, "wormhole-logcat --follow kept running through the crash")
        follower.terminate()
        follower.wait(timeout=30)
        fups = lines(fout)
        ferrs = open(ferr).read()
        ok(ferrs.count(warn) == 1 and ferrs.count("never committed") == 1,
              "wormhole-logcat --follow warned once: %s" % ferrs.strip()[-600:])
        ok([u["pos"] for u in fups] == [u["pos"] for u in ups],
              "wormhole-logcat --follow delivered the same %d updates as the full read (%d)"
              % (len(fups), len(ups)))
        check_tables(db, fups, "wormhole-logcat --follow")
        if pubtail:
            tail, tout, pub, plog = pubtail
            ok(pub.poll() is None, "the publisher kept running through the crash")
            tups = lines(tout)
            ok(not [u for u in tups if u.get("table") == "big" and u["op"] != "ddl" and
                       first <= u["after"]["id"] < first + ROWS],
                  "the subscriber received nothing of the rolled-back transaction")
            check_tables(db, tups, "publisher and subscriber")
            plogs = open(plog).read()
            ok(plogs.count(warn) == 1, "the publisher warned once: %s"
                  % [l for l in plogs.split("\n") if "never committed" in l])
            for p in (pub, tail):
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
    return done("test_mysql_crash")


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        for child in CHILDREN:
            if child.poll() is None:
                child.kill()
                child.wait()
    sys.exit(rc)
