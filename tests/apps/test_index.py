#!/usr/bin/env python3
"""Integration tests of wormhole-index with real servers: MariaDB, ZooKeeper, PostgreSQL.

Usage: python3 tests/apps/test_index.py SCENARIO

A MariaDB write load from several threads (inserts, updates, primary key changes and
deletes, in transactions of one to four statements) goes to two tables with text
columns: app.docs (id INT key; title, body searchable; author stored) and app.notes
(key (a INT, b VARCHAR); txt searchable). A publisher delivers the binlog to two
index apps at once: one with the SQLite FTS5 backend, one with PostgreSQL. Both
keep the counter table, so each row change's applications per key are counted.

Scenarios:
  index         the load, a TRUNCATE of app.notes between two rounds: both indexes
                equal the source tables row for row, and for every word of the
                vocabulary the full-text query over each index (FTS5 MATCH;
                tsv @@ to_tsquery) returns exactly the keys whose title/body/txt
                has that word in MariaDB's final tables
  crash         kill -9 of the index apps and of the publisher at random moments of
                the load, several times (the schedule's seed is printed; WH_SEED
                replays it): both indexes equal the source and the counter tables
                show each row change applied exactly once
  backend_down  PostgreSQL is killed mid-load and restarted, and the SQLite app's
                files stop growing (a file size limit, as on a full disk) and grow
                again: the apps stay up, report the errors, acknowledge nothing they
                did not commit, and converge to exactly once
  failover      the publisher moves from the primary's binlog to a replica's (other
                file names, same GTIDs), restarting from an earlier GTID: the
                redelivered updates are recognised by their GTIDs and skipped

The number of row changes per key that the test expects is what its writers wrote
(each statement changes exactly one row); it is cross-checked against the binlog
(wormhole-logcat). Exits 0 on success, 1 on a failed check, 77 when a program is not
built.
"""
import json
import os
import random
import re
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import wh_harness as wh  # noqa: E402
import wh_postgres  # noqa: E402

BUILD = os.environ.get("WH_BUILD_ROOT", os.path.join(ROOT, "build"))
PUBLISHER = os.path.join(BUILD, "publisher", "wormhole-publisher")
INDEX = os.path.join(BUILD, "apps", "index", "wormhole-index")
LOGCAT = os.path.join(BUILD, "tools", "wormhole-logcat")
SKIP = 77

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
         "zulu amber birch cedar dune ember fjord grove heath isle jade knoll").split()
TOKEN = re.compile(r"[a-z]+")


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)
    print("ok: %s" % what, flush=True)


def log(msg):
    print("# %s" % msg, flush=True)


def wait_until(pred, timeout, what, interval=0.25):
    deadline = time.monotonic() + wh.scaled(timeout)
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise Failed("timed out after %.0f s waiting for %s" % (wh.scaled(timeout), what))


# ---- the write load -----------------------------------------------------------------------

class Writers:
    """Client threads writing app.docs and app.notes, each in a key range of its own, so
    that every statement changes exactly one row and the test knows the row changes per
    key: counts[(index table, key text)] (key text as wormhole-index writes it: the key
    columns' text forms joined by a tab)."""

    def __init__(self, db, seed, threads=3):
        self.db = db
        self.seed = seed
        self.threads = threads
        self.docs = [dict() for _ in range(threads)]     # id -> ver
        self.notes = [set() for _ in range(threads)]     # (a, b)
        self.next_key = [0] * threads
        self.counts = {}
        self.lock = threading.Lock()
        self.rngs = [random.Random(seed * 1000 + t) for t in range(threads)]
        self.stop_flag = threading.Event()
        self.errors = []
        self.bg = []
        self.statements = 0

    def count(self, table, key):
        with self.lock:
            self.counts[(table, key)] = self.counts.get((table, key), 0) + 1

    def text(self, rng, lo, hi):
        words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
        if len(words) > 3 and rng.random() < 0.3:
            words[1] += ","
        return " ".join(words)

    def fresh(self, t):
        self.next_key[t] += 1
        return t * 1000000 + self.next_key[t]

    def one(self, t):
        """One statement of thread t, and the model's update."""
        rng = self.rngs[t]
        docs, notes = self.docs[t], self.notes[t]
        r = rng.random()
        if r < 0.55:
            if rng.random() < 0.6 or not docs:
                if len(docs) < 60 or not docs:
                    k = self.fresh(t)
                    docs[k] = 0
                    self.count("docs", str(k))
                    return ("INSERT INTO app.docs VALUES (%d, '%s', '%s', 'a%d', 0)"
                            % (k, self.text(rng, 1, 4), self.text(rng, 3, 12), rng.randrange(9),))
            k = rng.choice(sorted(docs))
            x = rng.random()
            if x < 0.5:
                docs[k] += 1
                self.count("docs", str(k))
                return ("UPDATE app.docs SET title = '%s', body = '%s', ver = %d WHERE id = %d"
                        % (self.text(rng, 1, 4), self.text(rng, 3, 12), docs[k], k))
            if x < 0.6:
                docs[k] += 1
                self.count("docs", str(k))
                return ("UPDATE app.docs SET author = 'b%d', ver = %d WHERE id = %d"
                        % (rng.randrange(9), docs[k], k))
            if x < 0.8:
                nk = self.fresh(t)
                docs[nk] = docs.pop(k)
                self.count("docs", str(nk))
                return "UPDATE app.docs SET id = %d WHERE id = %d" % (nk, k)
            del docs[k]
            self.count("docs", str(k))
            return "DELETE FROM app.docs WHERE id = %d" % k
        if rng.random() < 0.5 or not notes:
            if len(notes) < 60 or not notes:
                a, b = t * 1000 + rng.randrange(20), "k%d" % self.fresh(t)
                notes.add((a, b))
                self.count("notes", "%d\t%s" % (a, b))
                return "INSERT INTO app.notes VALUES (%d, '%s', '%s')" % (a, b,
                                                                          self.text(rng, 2, 10))
        a, b = rng.choice(sorted(notes))
        x = rng.random()
        if x < 0.5:
            self.count("notes", "%d\t%s" % (a, b))
            return ("UPDATE app.notes SET txt = '%s' WHERE a = %d AND b = '%s'"
                    % (self.text(rng, 2, 10) + " v%d" % self.fresh(t), a, b))
        if x < 0.75:
            nb = "k%d" % self.fresh(t)
            notes.discard((a, b))
            notes.add((a, nb))
            self.count("notes", "%d\t%s" % (a, nb))
            return "UPDATE app.notes SET b = '%s' WHERE a = %d AND b = '%s'" % (nb, a, b)
        notes.discard((a, b))
        self.count("notes", "%d\t%s" % (a, b))
        return "DELETE FROM app.notes WHERE a = %d AND b = '%s'" % (a, b)

    def script(self, t, ntxn):
        rng = self.rngs[t]
        out = []
        for _ in range(ntxn):
            n = rng.choice((1, 1, 2, 3, 4))
            out.append("BEGIN;\n" + "".join(self.one(t) + ";\n" for _ in range(n)) + "COMMIT;\n")
            self.statements += n
        return "".join(out)

    def round(self, ntxn):
        """Each thread runs ntxn transactions; returns when all are done."""
        def work(t):
            try:
                self.db.sql_script(self.script(t, ntxn))
            except Exception as e:  # noqa: BLE001 - reported by the caller
                self.errors.append(e)
        ts = [threading.Thread(target=work, args=(t,)) for t in range(self.threads)]
        for x in ts:
            x.start()
        for x in ts:
            x.join()
        if self.errors:
            raise Failed("the write load failed: %s" % self.errors[0])

    def start(self, ntxn, pause):
        """Background load: rounds of ntxn transactions per thread until stop()."""
        def loop(t):
            while not self.stop_flag.is_set():
                try:
                    self.db.sql_script(self.script(t, ntxn))
                except Exception as e:  # noqa: BLE001
                    self.errors.append(e)
                    return
                time.sleep(pause)
        self.bg = [threading.Thread(target=loop, args=(t,)) for t in range(self.threads)]
        for x in self.bg:
            x.start()

    def stop(self):
        self.stop_flag.set()
        for x in self.bg:
            x.join()
        if self.errors:
            raise Failed("the write load failed: %s" % self.errors[0])

    def truncate_notes(self):
        self.db.sql("TRUNCATE TABLE app.notes")
        for s in self.notes:
            s.clear()


# ---- the processes ----------------------------------------------------------------------------

def log_has(path, text):
    try:
        with open(path, errors="replace") as f:
            return text in f.read()
    except OSError:
        return False


class IndexApp:
    """One wormhole-index instance (restartable with the same config and index)."""

    def __init__(self, env, name, backend):
        self.env = env
        self.name = name
        self.backend = backend
        self.proc = None
        self.logpath = env.stack.path("%s.log" % name)
        self.status_path = env.stack.path("%s.status.json" % name)
        self.db_path = env.stack.path("%s.db" % name)
        cfg = {
            "zookeeper": {"connect": env.zk.connect, "root": env.root,
                          "session_timeout_ms": 2000},
            "subscriber": {"app": name, "heartbeat_timeout_ms": 3000},
            "backend": {"type": backend, "retry_min_ms": 50, "retry_max_ms": 500},
            "index": {"counters": True},
            "tables": [
                {"source": "app.docs", "key": ["id"], "text": ["title", "body"],
                 "stored": ["author"]},
                {"source": "app.notes", "key": ["a", "b"], "text": ["txt"]},
            ],
            "status": {"file": self.status_path, "interval_ms": 500},
        }
        if backend == "sqlite":
            cfg["sqlite"] = {"path": self.db_path}
        else:
            cfg["postgresql"] = {"conninfo": env.pg.create_database(name)}
        self.cfg_path = env.stack.path("%s.json" % name)
        with open(self.cfg_path, "w") as f:
            json.dump(cfg, f)
        self.starts = 0

    def start(self, preexec=None):
        self.starts += 1
        with open(self.logpath, "a") as f:
            f.write("---- start %d\n" % self.starts)
        logf = open(self.logpath, "a")
        self.proc = subprocess.Popen([INDEX, "--config", self.cfg_path], stdout=logf, stderr=logf,
                                     preexec_fn=preexec)
        logf.close()
        self.env.procs.append(self.proc)
        n = self.starts
        wait_until(lambda: self._registered(n) or self.proc.poll() is not None, 60,
                   "%s to register" % self.name)
        if self.proc.poll() is not None:
            raise Failed("%s exited with status %d at start" % (self.name, self.proc.returncode))

    def _registered(self, n):
        with open(self.logpath, errors="replace") as f:
            text = f.read()
        return "registered " in text.split("---- start %d\n" % n, 1)[-1]

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=wh.scaled(30))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def status(self):
        try:
            with open(self.status_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    # -- reading the index --
    def query(self, sql_sqlite, sql_pg):
        if self.backend == "sqlite":
            con = sqlite3.connect("file:%s?mode=ro" % self.db_path, uri=True, timeout=30)
            try:
                return [[None if v is None else str(v) for v in row]
                        for row in con.execute(sql_sqlite)]
            finally:
                con.close()
        return self.env.pg.sql(sql_pg, db=self.name)

    def rows(self, table, cols):
        c = ", ".join(cols)
        return sorted(tuple(r) for r in self.query("SELECT %s FROM %s" % (c, table),
                                                   "SELECT %s FROM %s" % (c, table)))

    def matches(self, table, keys, word):
        """Keys of the rows whose text has the word, by the index's own full-text search."""
        k = ", ".join("t." + x for x in keys)
        return sorted(tuple(r) for r in self.query(
            "SELECT %s FROM %s_fts f JOIN %s t ON t.wh_rowid = f.rowid WHERE %s_fts MATCH '\"%s\"'"
            % (k, table, table, table, word),
            "SELECT %s FROM %s t WHERE tsv @@ to_tsquery('simple', '%s')" % (k, table, word)))

    def counts(self):
        return {(r[0], r[1]): int(r[2]) for r in self.query(
            "SELECT tbl, key, changes FROM wormhole_counts",
            "SELECT tbl, key, changes FROM wormhole_counts")}

    def position(self):
        rows = self.query("SELECT physical, logical FROM wormhole_positions WHERE shard = 's1'",
                          "SELECT physical, logical FROM wormhole_positions WHERE shard = 's1'")
        return tuple(rows[0]) if rows else (None, None)


class Env:
    def __init__(self, stack, replica=False, pg=True):
        self.stack = stack
        self.root = "/wh"
        self.procs = []
        self.zk = stack.zookeeper()
        self.db = stack.mariadb()
        self.db.sql("CREATE DATABASE app")
        self.db.sql("CREATE TABLE app.docs (id INT PRIMARY KEY, title VARCHAR(200), body TEXT, "
                    "author VARCHAR(64), ver INT NOT NULL)")
        self.db.sql("CREATE TABLE app.notes (a INT NOT NULL, b VARCHAR(32) NOT NULL, txt TEXT, "
                    "PRIMARY KEY (a, b))")
        self.rep = stack.replica(self.db) if replica else None
        self.pg = wh_postgres.postgres(stack) if pg else None
        self.pub = None
        self.npub = 0

    def publisher(self, binlog_dir=None):
        self.npub += 1
        cfg = {"shard": "s1", "id": "pub-%d" % self.npub,
               "mapper": {"name": "mysql",
                          "options": {"binlog_dir": binlog_dir or self.db.binlog_dir}},
               "zookeeper": {"connect": self.zk.connect, "root": self.root,
                             "session_timeout_ms": 4000},
               "delivery": {"heartbeat_interval_ms": 300, "heartbeat_timeout_ms": 3000,
                            "datamarker_interval_ms": 50, "retry_max_ms": 500},
               "positions": {"flush_interval_ms": 100}}
        path = self.stack.path("pub%d.json" % self.npub)
        with open(path, "w") as f:
            json.dump(cfg, f)
        logf = open(self.stack.path("pub%d.log" % self.npub), "w")
        self.pub = subprocess.Popen([PUBLISHER, "--config", path], stderr=logf)
        self.pub.logpath = logf.name
        logf.close()
        self.procs.append(self.pub)
        return self.pub

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=wh.scaled(20))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    # -- what the source says --
    def last_gtid(self):
        return self.db.gtid_binlog_pos()

    def source(self):
        docs = sorted(tuple(r) for r in self.db.sql("SELECT id, title, body, author FROM app.docs"))
        notes = sorted(tuple(r) for r in self.db.sql("SELECT a, b, txt FROM app.notes"))
        return docs, notes

    def binlog_counts(self):
        """Row changes per (index table, key text) in the binlog, by wormhole-logcat."""
        out = subprocess.run([LOGCAT, "--mapper", "mysql", "--binlog-dir", self.db.binlog_dir,
                              "--shard", "s1"], capture_output=True, text=True,
                             timeout=wh.scaled(120))
        if out.returncode != 0:
            raise Failed("wormhole-logcat failed: %s" % out.stderr[-500:])
        counts = {}
        for line in out.stdout.splitlines():
            u = json.loads(line)
            if u.get("db") != "app" or u.get("table") not in ("docs", "notes") or \
                    u["op"] == "ddl":      # single-table DDL carries its table too
                continue
            img = u["before"] if u["op"] == "delete" else u["after"]
            key = str(img["id"]) if u["table"] == "docs" else "%d\t%s" % (img["a"], img["b"])
            counts[(u["table"], key)] = counts.get((u["table"], key), 0) + 1
        return counts


# ---- the checks -------------------------------------------------------------------------------

def words_of(*texts):
    out = set()
    for t in texts:
        out.update(TOKEN.findall(t or ""))
    return out


def caught_up(app, gtid):
    """The app's stored position is the source's last transaction (domain 0)."""
    try:
        _, logical = app.position()
    except Exception:  # noqa: BLE001 - not yet readable (PostgreSQL restarting)
        return False
    return bool(logical) and logical.split(",")[0].split("/")[0] == gtid


def check_index(env, app, writers, binlog):
    """The index equals the source, its word queries agree, each change was applied once."""
    gtid = env.last_gtid()
    wait_until(lambda: caught_up(app, gtid), 120, "%s to apply everything up to %s"
               % (app.name, gtid))
    docs, notes = env.source()
    want_counts = writers.counts
    # The last transaction may have been committed in two batches: wait for the rows.
    deadline = time.monotonic() + wh.scaled(30)
    while True:
        got_docs = app.rows("docs", ["id", "title", "body", "author"])
        got_notes = app.rows("notes", ["a", "b", "txt"])
        got_counts = app.counts()
        if (got_docs == docs and got_notes == notes and got_counts == want_counts) or \
                time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if got_docs != docs:
        miss = sorted(set(docs) - set(got_docs))[:5]
        extra = sorted(set(got_docs) - set(docs))[:5]
        raise Failed("%s: docs differ from app.docs (%d vs %d rows); missing %s; extra %s"
                     % (app.name, len(got_docs), len(docs), miss, extra))
    check(True, "%s: the index of docs equals app.docs (%d rows)" % (app.name, len(docs)))
    check(got_notes == notes, "%s: the index of notes equals app.notes (%d rows)"
          % (app.name, len(notes)))
    # Full-text: every word, over both tables.
    nq = 0
    for w in WORDS:
        want_d = sorted((str(r[0]),) for r in docs if w in words_of(r[1], r[2]))
        want_n = sorted((str(r[0]), r[1]) for r in notes if w in words_of(r[2]))
        got_d = app.matches("docs", ["id"], w)
        got_n = app.matches("notes", ["a", "b"], w)
        if got_d != want_d or got_n != want_n:
            raise Failed("%s: the full-text query for '%s' returns %d docs and %d notes; the "
                         "source has the word in %d docs and %d notes" % (
                             app.name, w, len(got_d), len(got_n), len(want_d), len(want_n)))
        nq += len(want_d) + len(want_n)
    check(nq > 0, "%s: the full-text query for each of %d words returns exactly the source "
          "rows holding it (%d hits in all)" % (app.name, len(WORDS), nq))
    # Exactly once.
    bad = [(k, got_counts.get(k), v) for k, v in want_counts.items() if got_counts.get(k) != v]
    bad += [(k, v, None) for k, v in got_counts.items() if k not in want_counts]
    if bad:
        raise Failed("%s: %d keys were not applied exactly once, e.g. (key, applied, "
                     "written) %s" % (app.name, len(bad), bad[:5]))
    check(True, "%s: the counter table shows each of %d row changes applied exactly once "
          "(%d keys)" % (app.name, sum(want_counts.values()), len(want_counts)))


def check_counts_model(env, writers):
    binlog = env.binlog_counts()
    check(binlog == writers.counts, "the binlog has exactly the row changes the writers made "
          "(%d changes, %d keys)" % (sum(binlog.values()), len(binlog)))
    return binlog


def progress(app):
    """Row changes applied by the running process (its status file)."""
    s = app.status()
    return s["applied"] if s else 0


def stored(app):
    """The position stored in the index (changes as the app commits), or None."""
    try:
        return app.position()
    except Exception:  # noqa: BLE001 - not readable at this moment
        return None


# ---- scenarios --------------------------------------------------------------------------------

def sc_index(env, seed):
    apps = [IndexApp(env, "idx_sqlite", "sqlite"), IndexApp(env, "idx_pg", "postgresql")]
    for a in apps:
        a.start()
    env.publisher()
    w = Writers(env.db, seed)
    w.round(60)
    wait_until(lambda: all(caught_up(a, env.last_gtid()) for a in apps), 120,
               "the apps to apply round 1")
    w.truncate_notes()
    log("TRUNCATE TABLE app.notes")
    w.round(60)
    binlog = check_counts_model(env, w)
    for a in apps:
        check_index(env, a, w, binlog)
    total = sum(w.counts.values())
    for a in apps:
        wait_until(lambda: (a.status() or {}).get("applied") == total, 10,
                   "%s's status file to report %d changes applied" % (a.name, total))
        st = a.status()
        check(st["errors"] == 0 and st["shards"]["s1"]["physical"] == a.position()[0],
              "%s: the status file reports %d changes applied, no errors, the position %s"
              % (a.name, st["applied"], st["shards"]["s1"]["physical"]))
        check(log_has(a.logpath, "row changes/s"), "%s logs a status line" % a.name)
        check(a.stop() == 0, "%s stops with status 0 on SIGTERM" % a.name)


def sc_crash(env, seed):
    rng = random.Random(seed)
    apps = [IndexApp(env, "idx_sqlite", "sqlite"), IndexApp(env, "idx_pg", "postgresql")]
    for a in apps:
        a.start()
    env.publisher()
    w = Writers(env.db, seed)
    w.start(8, 0.05)
    kills = {"idx_sqlite": 0, "idx_pg": 0, "publisher": 0}
    for r in range(int(os.environ.get("WH_CRASH_ROUNDS", "6"))):
        victims = rng.choice((["idx_sqlite"], ["idx_pg"], ["publisher"],
                              ["idx_sqlite", "idx_pg"], ["idx_sqlite", "idx_pg", "publisher"]))
        before = {a.name: stored(a) for a in apps}
        # Let the apps apply something first, so that the kill lands mid-stream.
        wait_until(lambda: all(stored(a) != before[a.name] for a in apps), 60,
                   "progress before kill %d" % (r + 1))
        time.sleep(rng.uniform(0.0, 1.0))
        log("round %d: kill -9 of %s" % (r + 1, ", ".join(victims)))
        for v in victims:
            kills[v] += 1
            if v == "publisher":
                env.pub.send_signal(signal.SIGKILL)
                env.pub.wait()
            else:
                next(a for a in apps if a.name == v).kill()
        time.sleep(rng.uniform(0.2, 1.5))
        for v in victims:
            if v == "publisher":
                env.publisher()
            else:
                next(a for a in apps if a.name == v).start()
    w.stop()
    log("%d statements written; kills: %s" % (w.statements, kills))
    binlog = check_counts_model(env, w)
    for a in apps:
        check_index(env, a, w, binlog)
        st = a.status()
        log("%s: %s updates redelivered and skipped since its last start" % (a.name,
                                                                             st and st["skipped"]))


def sc_backend_down(env, seed):
    sq = IndexApp(env, "idx_sqlite", "sqlite")
    pg = IndexApp(env, "idx_pg", "postgresql")
    sq.start()
    pg.start()
    env.publisher()
    w = Writers(env.db, seed)
    w.start(6, 0.1)
    wait_until(lambda: progress(sq) > 200 and progress(pg) > 200, 60, "the first changes")

    # PostgreSQL dies.
    env.pg.kill()
    log("PostgreSQL killed")
    wait_until(lambda: (pg.status() or {}).get("backend_up") is False, 30,
               "idx_pg to report its backend down")
    time.sleep(2)
    st = pg.status()
    check(pg.alive() and st["errors"] > 0 and st["refused"] > 0,
          "idx_pg keeps running with PostgreSQL down: %d errors, %d batches refused, last: %s"
          % (st["errors"], st["refused"], (st["last_error"] or "")[:120]))
    env.pg.start()
    log("PostgreSQL restarted")
    wait_until(lambda: (pg.status() or {}).get("backend_up") is True, 60,
               "idx_pg to find its backend again")
    check(True, "idx_pg resumes once PostgreSQL is back")

    # The SQLite files may not grow (as on a full disk: no write past 64 KiB) ...
    resource.prlimit(sq.proc.pid, resource.RLIMIT_FSIZE, (65536, resource.RLIM_INFINITY))
    log("idx_sqlite may not write past 64 KiB into any file")
    wait_until(lambda: (sq.status() or {}).get("backend_up") is False, 60,
               "idx_sqlite to report its backend failing")
    time.sleep(2)
    st = sq.status()
    check(sq.alive() and st["errors"] > 0 and st["refused"] > 0,
          "idx_sqlite keeps running while it cannot write: %d errors, %d batches refused, "
          "last: %s" % (st["errors"], st["refused"], (st["last_error"] or "")[:160]))
    # ... and then they may again.
    resource.prlimit(sq.proc.pid, resource.RLIMIT_FSIZE,
                     (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    wait_until(lambda: (sq.status() or {}).get("backend_up") is True, 60,
               "idx_sqlite to write again")
    check(True, "idx_sqlite resumes once it can write")
    w.stop()
    binlog = check_counts_model(env, w)
    for a in (sq, pg):
        check_index(env, a, w, binlog)
        check(a.alive(), "%s never stopped" % a.name)


def sc_failover(env, seed):
    app = IndexApp(env, "idx_sqlite", "sqlite")
    app.start()
    env.publisher()
    w = Writers(env.db, seed)
    w.round(50)
    gtid = env.last_gtid()
    wait_until(lambda: caught_up(app, gtid), 120, "the app to apply round 1 (up to %s)" % gtid)
    phys_before, _ = app.position()
    env.pub.terminate()
    check(env.pub.wait(timeout=wh.scaled(30)) == 0, "the primary's publisher stops cleanly")
    # Fail over to the replica, from a GTID long before what the app applied: the app
    # gets most of round 1 again, from a binlog with other file names and offsets.
    seq = int(gtid.split("-")[2])
    back = "0-1-%d/0" % max(1, seq // 3)
    node = "%s/apps/%s/positions/s1" % (env.root, app.name)
    zk_check = os.path.join(BUILD, "tests", "harness", "zk_check")
    r = subprocess.run([zk_check, env.zk.connect, "write", node,
                        json.dumps({"physical": None, "logical": back, "epoch": 0})],
                       capture_output=True, text=True)
    check(r.returncode == 0, "the app's acknowledged position is set back to %s (logical only)"
          % back)
    env.rep.wait_caught_up()
    skipped0 = (app.status() or {}).get("skipped", 0)
    env.publisher(binlog_dir=env.rep.binlog_dir)
    w.round(50)
    env.rep.wait_caught_up()
    binlog = check_counts_model(env, w)
    check_index(env, app, w, binlog)
    phys, logical = app.position()
    check(phys.startswith("replica-bin.") and phys_before.startswith("mysql-bin."),
          "the app's stored position moved from the primary's binlog (%s) to the replica's (%s)"
          % (phys_before, phys))
    # The status file is rewritten every 500 ms: wait for the one after the redelivery.
    try:
        wait_until(lambda: (app.status() or {}).get("skipped", 0) - skipped0 > 100, 10,
                   "the status file to count the skipped redeliveries")
    except Failed:
        pass                                # the check below says how many
    skipped = (app.status() or {}).get("skipped", 0) - skipped0
    check(skipped > 100, "%d redelivered updates from the replica were recognised by their "
          "GTIDs and skipped" % skipped)


SCENARIOS = {"index": (sc_index, {}), "crash": (sc_crash, {}),
             "backend_down": (sc_backend_down, {}),
             "failover": (sc_failover, {"replica": True, "pg": False})}


def main(argv):
    if len(argv) < 2 or argv[1] not in SCENARIOS:
        print(__doc__)
        return 2
    for exe in (PUBLISHER, INDEX, LOGCAT):
        if not os.path.exists(exe):
            print("skip: %s is not built" % exe)
            return SKIP
    out = subprocess.run([LOGCAT, "--help"], capture_output=True, text=True)
    if "options of mapper 'mysql'" not in out.stdout:
        print("skip: the mysql mapper is not built")
        return SKIP
    seed = int(os.environ.get("WH_SEED", random.SystemRandom().randrange(1, 10 ** 9)))
    log("seed %d (WH_SEED=%d replays the load and the fault schedule)" % (seed, seed))
    fn, opts = SCENARIOS[argv[1]]
    with wh.Stack() as stack:
        env = None
        try:
            env = Env(stack, **opts)
            fn(env, seed)
            env.stop_all()
            bad = stack.sanitizer_report(("idx", "pub"))
            if bad:
                raise Failed(bad)
            check(True, "no sanitizer reports in the processes' logs")
        except Failed as e:
            print("FAILED: %s (seed %d)" % (e, seed), flush=True)
            stack.print_log_tails(("idx", "pub"), size=4000)
            return 1
        finally:
            if env:
                env.stop_all()
    print("%s: passed" % argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
