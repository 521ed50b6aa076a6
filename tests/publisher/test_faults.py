#!/usr/bin/env python3
"""The fault menu: the faults users fear, seeded and replayable, under a write load.

Usage: python3 tests/publisher/test_faults.py [--rounds N] [--list]

One run starts a fresh stack (MariaDB, ZooKeeper, a wormhole-publisher on the mysql mapper),
three client threads writing small transactions, and two subscriber apps (wormhole-tail):
app_full (no filter) and app_items (filter table = "items"); app_lag joins when the purge
fault is scheduled. Each round injects one fault of the menu, picked from the seed:

  kill_pub      publisher kill -9, restarted after a pause
  kill_sub      app_full's instance kill -9, restarted (same instance name) after a pause
  zk_restart    ZooKeeper restarted
  kill_db       MariaDB SIGKILL while small transactions are written, restarted
  kill_db_huge  MariaDB SIGKILL while a transaction of 100k+ rows is written to the binlog
  purge         app_lag's subscriber is killed, the log moves on (FLUSH BINARY LOGS) and the
                files holding its position are purged: its flow must fail with a reason,
                without skipping silently, while the others stay complete
  bigrow        one 20-70 MiB LONGBLOB row: it arrives intact, or the publisher refuses it
                for that flow alone and says why
  hostile       raw sockets to a subscriber's port: partial frame, garbage, a huge length
                prefix, and one that connects and holds without a handshake; the subscriber
                stays up, keeps receiving, and its memory (VmRSS) stays under a cap
  fail_cb       a callback that fails forever: app_cb (fail_sub, tables items and audit)
                fails on one audit row written for it; after max_attempts (3) it either
                refuses the flow (mode stop: the flow FAILS, code refused, in the status file
                and the failure node, and is never redelivered silently) or dead-letters the
                update (mode dead_letter: its stream plus the dead-letter records replay to
                the tables); every other app's stream stays exact

After the rounds the writer stops and each app expected to be complete must pass the
stream check (tests/harness/stream_check.py: deduplicated by position, in log order,
replayed into the tables it selects = the database's committed tables: no phantom rows,
no gaps); then each fault's own expected outcome is checked.

A fault whose fix is not on main yet is skipped unless asked for: its entry in FAULTS says
what it needs. WH_FAULTS=kill_db_huge,purge (or all) selects the faults to draw from;
WH_SEED=N replays the schedule and the workload of a run (timings differ); --rounds N (or
WH_FAULT_ROUNDS) sets the number of rounds (default 4). Exits 0 on success, 1 on a failed
check (the seed is printed first and last), 77 when nothing can run.
"""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
sys.path.insert(0, HERE)
import stream_check as sc  # noqa: E402
import test_delivery as td  # noqa: E402
import wh_harness as wh  # noqa: E402
from test_delivery import Failed, check, log, log_text, wait_until  # noqa: E402

# fault -> None (runs by default: what it proves is on main) or what it needs first.
FAULTS = {
    "kill_pub": None,
    "kill_sub": None,
    "zk_restart": None,
    "kill_db": None,
    "kill_db_huge": None,
    "purge": None,
    "bigrow": "opt-in (WH_FAULTS=bigrow): a 20-70 MiB row costs hundreds of MiB and tens of "
              "seconds under ASan, too much for every CI run",
    "hostile": None,
    "fail_cb": None,
}
# Faults that may come more than once in a run.
REPEATABLE = ["kill_pub", "kill_sub", "zk_restart", "kill_db", "hostile"]
# Faults not in the menu yet, and why.
NOT_YET = {}
FAIL_SUB = os.path.join(td.BUILD, "tests", "publisher", "fail_sub")
CTL = os.path.join(td.BUILD, "tools", "wormhole-ctl")
CB_ATTEMPTS = 3          # fail_cb: the failing app's max_attempts

ITEMS = sc.Table("app.items", ["id"], ["id", "grp", "name", "qty", "price"])
AUDIT = sc.Table("app.audit", ["id"], ["id", "note"])
BIG = sc.Table("app.big", ["id"], ["id", "pad"])
BLOBS = sc.Table("app.blobs", ["id"], ["id", "data"], bytes_columns=["data"])
ALL_TABLES = [ITEMS, AUDIT, BIG, BLOBS]
RSS_CAP_MB = 64          # growth of a subscriber's VmRSS allowed under a hostile peer


def selected_faults():
    """The faults to draw from, and a line saying why the others are left out."""
    want = os.environ.get("WH_FAULTS", "").strip()
    if want in ("", "default"):
        on = [f for f, need in FAULTS.items() if need is None]
    elif want == "all":
        on = list(FAULTS)
    else:
        on = [f.strip() for f in want.split(",") if f.strip()]
        for f in on:
            if f in NOT_YET:
                raise Failed("fault %s cannot run: %s" % (f, NOT_YET[f]))
            if f not in FAULTS:
                raise Failed("unknown fault %r (the menu: %s)" % (f, ", ".join(FAULTS)))
    for f, need in sorted(FAULTS.items()):
        if f not in on and need:
            print("skip %s: %s (WH_FAULTS=%s runs it)" % (f, need, f), flush=True)
    for f, need in sorted(NOT_YET.items()):
        print("skip %s: %s" % (f, need), flush=True)
    return on


def schedule(seed, rounds, faults):
    """The rounds of a run: a pure function of the seed, the faults and the length. Each
    fault of the selection comes once (in seeded order), repeatable ones fill the rest."""
    rng = random.Random(seed)
    kinds = list(faults)
    rng.shuffle(kinds)
    rep = [f for f in faults if f in REPEATABLE]
    while rep and len(kinds) < rounds:
        kinds.append(rng.choice(rep))
    kinds = kinds[:max(rounds, 1)]
    sched = []
    for kind in kinds:
        f = {"fault": kind, "then_s": round(rng.uniform(0.2, 1.0), 2)}
        if kind in ("kill_pub", "kill_sub", "kill_db", "kill_db_huge"):
            f["down_s"] = round(rng.uniform(0, 1.5), 2)
        if kind == "kill_db":
            f["after_s"] = round(rng.uniform(0.05, 0.6), 2)
        if kind == "kill_db_huge":
            f["rows"] = rng.randrange(100000, 160000)
            f["kill_at_mb"] = round(rng.uniform(0.5, 4), 2)
        if kind == "purge":
            f["flushes"] = rng.randrange(2, 4)
        if kind == "bigrow":
            f["mib"] = rng.randrange(20, 71)
        if kind == "fail_cb":
            f["mode"] = rng.choice(["stop", "dead_letter"])
            f["batch"] = rng.random() < 0.5
            f["token"] = rng.randrange(1, 1 << 30)
        if kind == "hostile":
            f["target"] = rng.choice(["app_full", "app_items"])
            f["hold_s"] = round(rng.uniform(1, 3), 2)
            f["garbage"] = rng.randrange(1, 1 << 30)
        sched.append(f)
    return sched


class Writer:
    """Client threads writing small transactions until stop(); a write that fails (the
    server is down) is counted and the thread goes on after a pause: the checks compare
    with what the database committed, not with what was sent."""

    def __init__(self, env, seed, threads=3, batch=20, pause=0.15):
        self.env = env
        self.stop_ev = threading.Event()
        self.failed = 0
        self.batches = 0
        # Daemons: a run that fails mid-way must not wait for them at exit.
        self.threads = [threading.Thread(target=self._run, args=(seed, t, batch, pause),
                                         daemon=True) for t in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, seed, t, batch, pause):
        rng = random.Random(seed * 100 + t)
        base = 0
        while not self.stop_ev.is_set():
            try:
                self.env.db.sql_script(";\n".join(td.workload_statements(rng, t, base, batch)) +
                                       ";\n", timeout=60)
                self.batches += 1
            except (wh.SqlError, wh.HarnessError):
                self.failed += 1
                self.stop_ev.wait(0.3)
            base += batch
            self.stop_ev.wait(pause)

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join()
        log("workload: %d batches written, %d failed (server down)" % (self.batches,
                                                                        self.failed))


class FaultEnv(td.Env):
    """td.Env with the fault suite's MariaDB (large packets for the big row) and tables."""

    def __init__(self, stack):
        self.stack = stack
        self.source = "mariadb"
        self.zk = stack.zookeeper()
        self.procs = []
        self.root = "/wh"
        self.n = 0
        self.db = stack.mariadb(options={"max_allowed_packet": "256M"})
        self.db.sql("CREATE DATABASE app")
        self.db.sql("CREATE TABLE app.items (id INT PRIMARY KEY, grp INT NOT NULL, "
                    "name VARCHAR(64), qty BIGINT, price DECIMAL(10,2))")
        self.db.sql("CREATE TABLE app.audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(64))")
        self.db.sql("CREATE TABLE app.big (id INT PRIMARY KEY, pad VARCHAR(200))")
        self.db.sql("CREATE TABLE app.blobs (id INT PRIMARY KEY, data LONGBLOB)")

    def publisher(self, *args, **kw):
        """td.Env's publisher, supervised-style: it writes a status file (p.status)."""
        status = self.stack.path("pub%d.status.json" % (self.n + 1))
        keys = ("WORMHOLE_STATUS_FILE", "WORMHOLE_STATUS_INTERVAL_MS")
        saved = {k: os.environ.get(k) for k in keys}
        os.environ.update({keys[0]: status, keys[1]: "200"})
        try:
            p = td.Env.publisher(self, *args, **kw)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        p.status = status
        return p

    def fail_sub(self, app, extra):
        """A fail_sub instance of app (its callback fails on chosen updates)."""
        self.n += 1
        out = self.stack.path("fsub%d.jsonl" % self.n)
        logf = open(self.stack.path("fsub%d.log" % self.n), "w")
        p = subprocess.Popen([FAIL_SUB, "--zk", self.zk.connect + self.root, "--app", app] +
                             extra, stdout=open(out, "w"), stderr=logf)
        p.out = out
        p.logpath = logf.name
        self.procs.append(p)
        self.wait_registered(p)
        return p


def endpoint_port(p):
    """The port a wormhole-tail listens on, from its 'registered ... (endpoint H:P)' line."""
    for line in log_text(p).splitlines():
        if "(endpoint " in line:
            return int(line.rsplit(":", 1)[1].rstrip(")"))
    raise Failed("no endpoint in %s" % p.logpath)


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class Run:
    """One run of the menu: the processes, the schedule and what each fault expects."""

    def __init__(self, env, seed, sched):
        self.env = env
        self.seed = seed
        self.sched = sched
        self.apps = {"app_full": [env.tail("app_full", instance="full")],
                     "app_items": [env.tail("app_items", 'table = "items"', instance="items")]}
        self.tables = {"app_full": ALL_TABLES, "app_items": [ITEMS]}
        if any(f["fault"] == "purge" for f in sched):
            self.apps["app_lag"] = [env.tail("app_lag", instance="lag")]
            self.tables["app_lag"] = ALL_TABLES
        self.cb = next((f for f in sched if f["fault"] == "fail_cb"), None)
        if self.cb:
            self.start_app_cb(env, self.cb)
        self.incomplete = {}       # app -> why it is not expected to be complete
        self.excluded = {}         # app -> tables left out of its check, with why
        self.pub = env.publisher(None, None, pub_id="pub-f", session_ms=4000)
        self.pubs = [self.pub]
        self.writer = Writer(env, seed)
        self.live_files = lambda: {a: [t.out for t in ts] for a, ts in self.apps.items()
                                   if a not in self.incomplete}

    def start_app_cb(self, env, f):
        """app_cb: items and audit, through fail_sub, whose callback fails on the audit row
        the fail_cb fault writes (and on nothing else)."""
        path = env.stack.path
        self.cb_calls, self.cb_errors = path("cb_calls.jsonl"), path("cb_errors.jsonl")
        self.cb_dead = path("cb_dead.jsonl") if f["mode"] == "dead_letter" else None
        self.cb_note = "poison-%d" % f["token"]
        args = ["--instance", "cb", "--filter", 'table = "items" or table = "audit"',
                "--fail-on", 'table = "audit" and note = "%s"' % self.cb_note,
                "--max-attempts", str(CB_ATTEMPTS), "--calls", self.cb_calls,
                "--errors", self.cb_errors]
        if f["batch"]:
            args.append("--batch")
        if self.cb_dead:
            args += ["--dead-letter", self.cb_dead]
        self.apps["app_cb"] = [env.fail_sub("app_cb", args)]
        self.tables["app_cb"] = [ITEMS, AUDIT]

    # -- faults --------------------------------------------------------------------------

    def kill_pub(self, f):
        self.pub.send_signal(signal.SIGKILL)
        self.pub.wait()
        time.sleep(f["down_s"])
        self.pub = self.env.publisher(None, None, pub_id="pub-f", session_ms=4000)
        self.pubs.append(self.pub)

    def kill_sub(self, f):
        t = self.apps["app_full"][-1]
        t.send_signal(signal.SIGKILL)
        t.wait()
        time.sleep(f["down_s"])
        self.apps["app_full"].append(self.env.tail("app_full", instance="full"))

    def zk_restart(self, f):
        self.env.zk.restart()

    def kill_db(self, f):
        time.sleep(f["after_s"])
        self.env.db.kill()
        log("MariaDB killed with SIGKILL")
        time.sleep(f["down_s"])
        self.env.db.start()

    def kill_db_huge(self, f):
        db = self.env.db
        binlog = db.binlog_files()[-1]
        size0 = file_size(binlog)
        err = []

        def huge():
            try:
                db.sql("INSERT INTO app.big SELECT seq, REPEAT(CHAR(65 + seq %% 26), 150) "
                       "FROM seq_1_to_%d" % f["rows"], db="app", timeout=300)
            except (wh.SqlError, wh.HarnessError) as e:
                err.append(e)

        th = threading.Thread(target=huge)
        th.start()
        limit = size0 + int(f["kill_at_mb"] * (1 << 20))
        t0 = time.time()
        while th.is_alive() and file_size(binlog) < limit and time.time() - t0 < wh.scaled(120):
            time.sleep(0.0005)
        grown = file_size(binlog) - size0
        if err:
            raise Failed("the %d-row transaction failed before the kill: %s" % (f["rows"], err[0]))
        db.kill()
        th.join()
        log("MariaDB killed with SIGKILL while the %d-row transaction was %s (binlog grew "
            "%.1f MiB)" % (f["rows"], "running" if err else "already committed",
                           grown / (1 << 20)))
        time.sleep(f["down_s"])
        db.start()
        n = int(db.value("SELECT COUNT(*) FROM app.big"))
        log("app.big has %d rows after recovery" % n)
        check(n in (0, f["rows"]), "the huge transaction is all or nothing after the crash "
              "(%d rows)" % n)

    def purge(self, f):
        db = self.env.db
        t = self.apps["app_lag"][-1]
        # app_lag has received updates, so it has a position (its start, recorded before its
        # first update, or an acknowledged one: docs/ZOOKEEPER.md "A new app's start") and
        # what it lacks is a known range of purged files, not "everything".
        node = "%s/apps/app_lag/positions/s1" % self.env.root
        wait_until(lambda: td.count_lines(t.out) > 0 and
                   subprocess.run([td.ZK_CHECK, self.env.zk.connect, "absent", node],
                                  capture_output=True).returncode != 0,
                   wh.scaled(30), "app_lag to receive updates")
        t.send_signal(signal.SIGKILL)
        t.wait()
        self.lag_before = {td.pos_key(u) for u in td.read_lines(t.out)}
        time.sleep(0.5)
        for _ in range(f["flushes"]):
            db.flush_logs()
            time.sleep(0.3)
        current = os.path.basename(db.binlog_files()[-1])
        # The server keeps a file until its binlog checkpoint is written: retry.
        t0 = time.time()
        while os.path.basename(db.binlog_files()[0]) != current and \
                time.time() - t0 < wh.scaled(30):
            db.sql("PURGE BINARY LOGS TO '%s'" % current)
            time.sleep(0.3)
        check(os.path.basename(db.binlog_files()[0]) == current,
              "the binlogs before %s are purged" % current)
        self.purged_before = current
        log("app_lag stopped at %d updates; binlogs purged up to %s"
            % (len(self.lag_before), current))
        self.apps["app_lag"].append(self.env.tail("app_lag", instance="lag"))
        self.incomplete["app_lag"] = "its position was purged"

    def bigrow(self, f):
        n = f["mib"] << 20
        self.big_id = 1 + len(getattr(self, "big_ids", []))
        self.big_ids = getattr(self, "big_ids", []) + [self.big_id]
        self.env.db.sql("INSERT INTO app.blobs VALUES (%d, REPEAT(MD5(%d), %d))"
                        % (self.big_id, self.seed, n // 32), timeout=300)
        log("wrote a %d MiB row (app.blobs id %d)" % (f["mib"], self.big_id))

    def fail_cb(self, f):
        self.env.db.sql("INSERT INTO app.audit (note) VALUES ('%s')" % self.cb_note)
        log("wrote the audit row app_cb's callback fails on (%s, mode %s, %s)"
            % (self.cb_note, f["mode"], "on_batch" if f["batch"] else "on_update"))
        if f["mode"] == "stop":
            # Out of the progress checks at once: it takes nothing more after the refusal.
            self.incomplete["app_cb"] = "its callback fails forever and it refuses the flow"
            wait_until(lambda: self.cb_reports(), wh.scaled(60),
                       "app_cb to give up on the update and refuse the flow")
        else:
            wait_until(lambda: os.path.exists(self.cb_dead) and td.read_lines(self.cb_dead),
                       wh.scaled(60), "app_cb to dead-letter the update")
        log("app_cb gave up after %d failed calls" % len(td.read_lines(self.cb_calls)))

    def cb_reports(self):
        """app_cb's on_error reports of giving up: refusals of the flow (mode stop) or
        dead-lettered updates (mode dead_letter)."""
        if not os.path.exists(self.cb_errors):
            return []
        if self.cb["mode"] == "stop":
            return [e for e in td.read_lines(self.cb_errors) if e["name"] == "WH_ERR_REFUSED"]
        return [e for e in td.read_lines(self.cb_errors)
                if e["code"] == 0 and "dead-letter file" in e["message"]]

    def hostile(self, f):
        t = self.apps[f["target"]][-1]
        port = endpoint_port(t)
        base = td.rss_mb(t.pid)
        rng = random.Random(f["garbage"])
        socks = []
        peak = base

        def peer(payload):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            try:
                if payload:
                    s.sendall(payload)
            except OSError:
                pass
            socks.append(s)

        peer(b"")                                            # connects, never speaks
        peer(b"\x00\x00\x01")                                # a partial length prefix
        peer(b"\xff\xff\xff\xf0\x01" + bytes(4096))          # a 4 GiB frame announced
        peer(b"\x00\x00\x00\x40\x02" + bytes(rng.randrange(256) for _ in range(20)))  # partial
        peer(bytes(rng.randrange(256) for _ in range(4096)))  # garbage
        t0 = time.time()
        while time.time() - t0 < f["hold_s"]:
            peak = max(peak, td.rss_mb(t.pid))
            time.sleep(0.05)
        for s in socks:
            s.close()
        check(t.poll() is None, "%s's subscriber survived five hostile peers" % f["target"])
        check(peak - base <= RSS_CAP_MB,
              "%s's subscriber memory stayed under its cap under hostile peers (VmRSS %.0f -> "
              "peak %.0f MiB, cap +%d)" % (f["target"], base, peak, RSS_CAP_MB))

    # -- the run ---------------------------------------------------------------------------

    def go(self):
        wait_until(lambda: all(td.received_count(ps) > 0 for ps in self.live_files().values()),
                   wh.scaled(60), "the first updates at every app")
        t_start = time.time()
        for r, f in enumerate(self.sched):
            log("round %d/%d (%.0f s): inject %s" % (r + 1, len(self.sched),
                                                     time.time() - t_start,
                                                     json.dumps(f, sort_keys=True)))
            getattr(self, f["fault"])(f)
            td.wait_progress(self.live_files(), 45, "round %d (%s)" % (r + 1, f["fault"]))
            time.sleep(f["then_s"])
        log("faults done after %.0f s" % (time.time() - t_start))
        self.writer.stop()
        self.final_checks()

    def app_problems(self, app):
        lines = [u for p in self.apps[app] for u in td.read_lines(p.out)]
        tables = [t for t in self.tables[app] if t.name not in self.excluded.get(app, {})]
        if app == "app_cb" and self.cb_dead:
            # The stream in log order, and with the dead-letter records it replays to the
            # tables: every update delivered or dead-lettered.
            dead = [x["update"] for x in td.read_lines(self.cb_dead)]
            uniq = sc.dedup(lines)
            problems = sc.order_problems(uniq)
            both = sorted(sc.dedup(lines + dead), key=sc.pos_key)
            problems += sc.compare(sc.replay(both, tables), sc.dump_tables(self.env.db, tables))
            return problems, {"received": len(lines), "duplicates": len(lines) - len(uniq)}
        return sc.check_app(lines, tables, sc.dump_tables(self.env.db, tables))

    def final_checks(self):
        complete = [a for a in sorted(self.apps) if a not in self.incomplete]
        if getattr(self, "big_ids", None):
            self.check_bigrow()
        deadline = time.time() + wh.scaled(120)
        while True:
            res = {a: self.app_problems(a) for a in complete}
            if all(not p for p, _ in res.values()) or time.time() > deadline:
                break
            time.sleep(2)
        for a in complete:
            problems, st = res[a]
            for p in problems:
                log("%s: %s" % (a, p))
            extra = ""
            if a == "app_cb" and self.cb_dead:
                extra = " with its %d dead-letter records" % len(td.read_lines(self.cb_dead))
            check(not problems, "%s: the stream (%d updates, %d redelivered)%s rebuilds the "
                  "database's committed tables %s: no phantom rows, no gaps, in log order"
                  % (a, st["received"], st["duplicates"], extra,
                     ", ".join(t.name for t in self.tables[a]
                               if t.name not in self.excluded.get(a, {}))))
        if "app_lag" in self.incomplete:
            self.check_purge()
        if self.cb:
            self.check_fail_cb()
        check(self.pub.poll() is None, "the publisher is running at the end")
        self.pub.terminate()
        check(td.wait_exit(self.pub, 30, "the publisher") == 0, "the publisher stops cleanly")

    def check_bigrow(self):
        """Each big row arrives intact at app_full (the stream check compares its MD5), or
        the publisher refused it for app_full alone, with a reason in its log."""
        def arrived():
            return [u for p in self.apps["app_full"] for u in td.read_lines(p.out)
                    if u.get("table") == "blobs" and "after" in u]
        try:
            wait_until(lambda: len({u["after"]["id"] for u in arrived()}) >= len(self.big_ids),
                       wh.scaled(60), "the big rows at app_full")
            log("the big rows arrived at app_full")
        except Failed:
            text = "".join(log_text(p) for p in self.pubs)
            reasons = [line for line in text.splitlines()
                       if "app_full" in line and any(w in line for w in (
                           "too large", "too big", "exceeds", "limit", "refus"))]
            check(reasons != [], "a big row that did not arrive was refused for app_full "
                  "with a reason in the publisher's log")
            log("refused: %s" % reasons[0])
            self.excluded.setdefault("app_full", {})["app.blobs"] = "refused"

    def check_fail_cb(self):
        """app_cb gave up on the update after exactly max_attempts failed calls each time it
        got it, said so each time (never a silent loop), never delivered it, and was
        escalated as configured: its flow FAILED with code refused (status file, failure
        node), or the update is in the dead-letter file."""
        stop = self.cb["mode"] == "stop"
        calls = lambda: len(td.read_lines(self.cb_calls))  # noqa: E731
        reports = lambda: len(self.cb_reports())  # noqa: E731
        # A publisher restarted after the refusal retries the flow: max_attempts more calls.
        wait_until(lambda: calls() == CB_ATTEMPTS * reports(), wh.scaled(60),
                   "app_cb's failed calls to end in a report")
        n = calls()
        time.sleep(2)
        check(calls() == n and n == CB_ATTEMPTS * reports() and n > 0,
              "app_cb: %d failed calls, each %d ended in a report (%d), and no more came: "
              "no silent redelivery loop" % (n, CB_ATTEMPTS, reports()))
        got = [u for p in self.apps["app_cb"] for u in td.read_lines(p.out)]
        poison = [u for u in got if u.get("table") == "audit" and
                  (u.get("after") or {}).get("note") == self.cb_note]
        check(not poison, "app_cb's callback never accepted the update it fails on")
        if stop:
            # A purge after the refusal takes the position the flow stopped at too: then a
            # publisher that retries it (restarted) fails it as purged instead.
            later = self.sched[next(i for i, f in enumerate(self.sched) if f is self.cb) + 1:]
            codes = {"refused"} | ({"purged"} if any(f["fault"] == "purge" for f in later)
                                   else set())

            def failed():
                try:
                    with open(self.pub.status) as fh:
                        ff = {x["app"]: x for x in json.load(fh).get("failed_flows", [])}
                except (OSError, ValueError):
                    return None
                return ff.get("app_cb")
            wait_until(failed, wh.scaled(30), "the status file to list app_cb's failed flow")
            ff = failed()
            check(ff["code"] in codes and
                  ("the callback failed %d times" % CB_ATTEMPTS if ff["code"] == "refused"
                   else "purged") in ff["reason"],
                  "the status file reports app_cb's flow FAILED, code %s (of %s): %s"
                  % (ff["code"], "/".join(sorted(codes)), ff["reason"][:200]))
            def fnode():
                r = subprocess.run([CTL, "--zk", self.env.zk.connect + self.env.root, "--json",
                                    "app", "app_cb"], capture_output=True, text=True, timeout=60)
                if r.returncode != 0:
                    return {"ctl": r.stderr.strip()[:200]}
                return json.loads(r.stdout)["shards"][0].get("failure") or {}
            wait_until(lambda: fnode().get("code") in codes, wh.scaled(30),
                       "the failure node apps/app_cb/failures/s1 to say %s" % "/".join(codes))
            fn = fnode()
            check(True, "the failure node apps/app_cb/failures/s1 says %s: %s"
                  % (fn.get("code"), fn.get("reason", "")[:160]))
            # The flow stopped at the update: nothing at or after it was delivered.
            at = min(sc.pos_key({"pos": {"physical": c["pos"]}})
                     for c in td.read_lines(self.cb_calls))
            after = [u for u in got if sc.pos_key(u) >= at]
            check(not after, "app_cb received nothing from the update it fails on onwards (%d)"
                  % len(after))
            lines = [line for p in self.pubs for line in log_text(p).splitlines()
                     if "app app_cb: flow of shard s1" in line and "FAILED" in line and
                     "subscriber refused the flow" in line]
            check(lines != [], "the publisher logged app_cb's refused flow at ERROR")
            log("app_cb: %s" % lines[0][:300])
        else:
            dead = td.read_lines(self.cb_dead)
            check(all(x["app"] == "app_cb" and x["attempts"] == CB_ATTEMPTS and
                      "injected failure" in x["error"] for x in dead),
                  "app_cb's %d dead-letter records name the app, the attempts and the error"
                  % len(dead))
            check(any(x["update"].get("table") == "audit" and
                      x["update"].get("after", {}).get("note") == self.cb_note for x in dead),
                  "the update app_cb's callback fails on is dead-lettered")
            with open(self.pub.status) as fh:
                ff = [x for x in json.load(fh).get("failed_flows", []) if x["app"] == "app_cb"]
            check(not ff, "app_cb's flow goes on after the dead-letter (%s)" % ff)

    def check_purge(self):
        """app_lag's flow failed with a reason and skipped nothing silently: after it came
        back it received no update of a binlog file newer than the purged ones."""
        later = [u for u in td.read_lines(self.apps["app_lag"][-1].out)
                 if td.pos_key(u) not in self.lag_before and
                 td.pos_key(u)[0] >= self.purged_before]
        check(not later, "app_lag skipped nothing silently (%d updates of the files after "
              "the purged ones arrived, the first at %s)"
              % (len(later), later[0]["pos"]["physical"] if later else "-"))
        text = "".join(log_text(p) for p in self.pubs)
        reasons = [line for line in text.splitlines()
                   if "app_lag" in line and any(w in line for w in (
                       "FAILED", "purged", "no longer", "not found", "missing", "does not exist"))]
        check(reasons != [], "the publisher logged why app_lag's flow failed")
        log("app_lag: %s" % reasons[0])
        check(self.pub.poll() is None, "the publisher survived one flow's purged position")


def main(argv):
    if "--list" in argv:
        for f, need in FAULTS.items():
            print("%-13s %s" % (f, need or "runs by default"))
        for f, need in NOT_YET.items():
            print("%-13s %s" % (f, need))
        return 0
    for exe in (td.PUBLISHER, td.TAIL, td.LOGCAT, FAIL_SUB, CTL):
        if not os.path.exists(exe):
            print("skip: %s is not built" % exe)
            return td.SKIP
    rounds = int(os.environ.get("WH_FAULT_ROUNDS",
                                argv[argv.index("--rounds") + 1] if "--rounds" in argv else 4))
    seed = int(os.environ.get("WH_SEED", random.SystemRandom().randrange(1, 10 ** 9)))
    try:
        faults = selected_faults()
    except Failed as e:
        print("FAILED: %s" % e)
        return 1
    if not faults:
        print("skip: no fault selected")
        return td.SKIP
    sched = schedule(seed, rounds, faults)
    replay = "WH_SEED=%d WH_FAULTS=%s --rounds %d" % (seed, ",".join(sorted(faults)), rounds)
    log("fault seed %d (%s replays it)" % (seed, replay))
    for r, f in enumerate(sched):
        log("schedule %d: %s" % (r + 1, json.dumps(f, sort_keys=True)))
    t0 = time.time()
    with wh.Stack() as stack:
        env = FaultEnv(stack)
        try:
            Run(env, seed, sched).go()
            env.stop_all()
            bad = stack.sanitizer_report()
            if bad:
                raise Failed(bad)
            check(True, "no sanitizer reports in the processes' logs")
        except Exception as e:  # noqa: BLE001 - a failed check or a broken run: same report
            print("FAILED: %s%s" % ("" if isinstance(e, Failed) else type(e).__name__ + ": ",
                                    e), flush=True)
            stack.print_log_tails()
            print("FAILED seed %d (%s)" % (seed, replay), flush=True)
            return 1
        finally:
            env.stop_all()
    print("faults: passed, seed %d, %d rounds in %.0f s" % (seed, rounds, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
