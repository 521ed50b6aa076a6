#!/usr/bin/env python3
"""Integration test of the bootstrap (docs/BOOTSTRAP.md) with a real MariaDB and ZooKeeper.

Usage: python3 tests/publisher/test_bootstrap.py [--rows N] [--chunk N] [--rate N] [--no-kills]

A table of N rows (default 200000; the issue's 1 million with --rows 1000000, or
WH_BOOT_ROWS) is loaded with sql_log_bin=0, so that no binlog holds its rows: only a
bootstrap can deliver them. Then, with the publisher running:

  1. another app's commit-to-callback latency is measured without a bootstrap;
  2. `wormhole-ctl bootstrap` asks for the table for app "boot" while a write load
     updates, inserts and deletes rows of that table, and the other app's latency is
     measured again: it must stay within 2x of the first (plus 2 ms of timer noise;
     when it does not, "without" is measured again after the bootstrap and the larger
     of the two counts, so a change of the machine's load is not taken for the bootstrap's);
     meanwhile the publisher's status file shows the bootstrap (table, rows, estimate,
     rate, ETA) and no longer once it is done;
  3. mid-bootstrap the publisher is killed with SIGKILL and restarted, then the
     subscriber instance is killed and restarted: each must resume (the progress in
     ZooKeeper is not reset; the rows delivered twice are at most one chunk per kill);
  4. when the progress node says done and the stream has caught up, the app's
     updates (snapshot rows as upserts, the stream deduplicated:
     tests/harness/stream_check.py) must replay to exactly the table;
  5. an app whose filter tests a column the bootstrapped table lacks fails on the first
     snapshot row, with the reason in the publisher's log.

With --takeover instead (meson test bootstrap_takeover): a primary and a replica with a
binlog of its own, a preferred publisher on the primary and a standby on the replica; the
primary's publisher is killed with SIGKILL mid-bootstrap (the writes paused around it, so
that the standby reads its first chunks before delivering anything from its copy); the
standby takes over and continues after the acknowledged key, checking those first chunks
by the GTID state at their snapshots; at most one chunk twice; the stream deduplicated by
logical position replays to both copies' table.

Prints what it checks; exits 0 on success, 1 on a failed check, 77 (skip) when MariaDB
or ZooKeeper is not available.
"""
import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import wh_harness as wh  # noqa: E402
import stream_check as sc  # noqa: E402

BUILD = os.environ.get("WH_BUILD_ROOT", os.path.join(ROOT, "build"))
PUBLISHER = os.path.join(BUILD, "publisher", "wormhole-publisher")
TAIL = os.path.join(BUILD, "subscriber", "wormhole-tail")
CTL = os.path.join(BUILD, "tools", "wormhole-ctl")
SKIP = 77
ZROOT = "/wh"
PROCS = []   # every process this test starts: killed at the end whatever happens


def spawn(argv, **kw):
    p = subprocess.Popen(argv, **kw)
    PROCS.append(p)
    return p


def kill_all():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
            p.wait()


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)
    print("ok: %s" % what, flush=True)


def log(msg):
    print("# %s" % msg, flush=True)


def wait_until(pred, timeout, what):
    deadline = time.time() + wh.scaled(timeout)
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise Failed("timed out waiting for %s" % what)


class Client:
    """A persistent `mariadb` client fed statements on stdin (one process, no per-statement
    start-up), for the write loads."""

    def __init__(self, db):
        self.p = spawn(db._client_argv(), stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def run(self, stmt):
        self.p.stdin.write((stmt + ";\n").encode())
        self.p.stdin.flush()

    def close(self):
        self.p.stdin.close()
        rc = self.p.wait(timeout=wh.scaled(120))
        err = self.p.stderr.read().decode("utf-8", "replace")
        if rc != 0:
            raise Failed("a write load client failed (%d): %s" % (rc, err[:500]))


class Tail:
    """wormhole-tail for an app, printing to out. The latency app's lines are read here
    and timed as they arrive; the others go straight to their file (so that reading
    them never competes with the timing for this process). LAT_FILTER picks the latency
    app's updates and sample() times one (test_bootstrap_rocksdb overrides both)."""

    LAT_FILTER = 'table = "lat"'

    def __init__(self, stack, zk, app, n, latency=False, filt=None, extra=()):
        self.out = stack.path("%s-%d.jsonl" % (app, n))
        self.logpath = stack.path("%s-%d.log" % (app, n))
        self.lat = []          # (commit ms, arrival ms) of app.lat rows
        self.thread = None
        args = [TAIL, "--zk", zk.connect + ZROOT, "--app", app, "--instance", "%s-%d" % (app, n),
                "--session-timeout", "2000"] + list(extra)
        if filt:
            args += ["--filter", filt]
        if latency:
            args += ["--filter", self.LAT_FILTER]
            self.p = spawn(args, stdout=subprocess.PIPE, stderr=open(self.logpath, "w"))
            self.thread = threading.Thread(target=self._read, daemon=True)
            self.thread.start()
        else:
            self.p = spawn(args, stdout=open(self.out, "wb"), stderr=open(self.logpath, "w"))
        wait_until(lambda: "registered " in open(self.logpath).read(), 30,
                   "instance registration (%s)" % self.logpath)

    def _read(self):
        with open(self.out, "wb") as f:
            for line in self.p.stdout:
                now = time.time() * 1000
                f.write(line)
                sent = self.sample(json.loads(line))
                if sent is not None:
                    self.lat.append((sent, now))

    @staticmethod
    def sample(u):
        """When the latency update u was written (ms), or None for another update."""
        return u["after"]["t_ms"] if u.get("op") == "insert" else None

    def _join(self):
        if self.thread:
            self.thread.join(timeout=30)

    def kill(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()
        self._join()

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=30)
        self._join()


def read_lines(paths):
    """The updates in the files; the last line of a killed instance may be cut short
    (it was not acknowledged) and is left out."""
    out = []
    for p in paths:
        with open(p) as f:
            lines = f.read().split("\n")
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                if i < len(lines) - 2 or lines[-1] != "" and i < len(lines) - 1:
                    raise
    return out


class Test:
    def __init__(self, stack, rows, chunk, rate):
        self.stack = stack
        self.rows = rows
        self.chunk = chunk
        self.rate = rate
        self.zk = stack.zookeeper()
        self.db = stack.mariadb(options={"innodb_buffer_pool_size": "128M"})
        self.rep = None
        self.npub = 0
        self.pub = None

    def add_replica(self):
        """A replica of the shard with a binlog of its own (other names and offsets)."""
        self.rep = self.stack.replica(self.db, name="replica1", binlog_basename="rep1-bin",
                                      options={"innodb_buffer_pool_size": "128M"})
        self.rep.flush_logs()

    def load(self):
        t0 = time.time()
        self.db.sql("CREATE DATABASE app")
        self.db.sql("CREATE TABLE app.big (id INT PRIMARY KEY, grp INT NOT NULL, "
                    "name VARCHAR(64), qty BIGINT, price DECIMAL(12,2), at DATETIME(3))")
        self.db.sql("CREATE TABLE app.lat (id INT AUTO_INCREMENT PRIMARY KEY, t_ms BIGINT)")
        # Not in the binlog: only the bootstrap can deliver these rows. A replica gets
        # the same rows the same way (the tables replicated, their rows not).
        if self.rep:
            self.rep.wait_caught_up(self.db)
        for db in [self.db] + ([self.rep] if self.rep else []):
            db.sql("SET SESSION sql_log_bin = 0; INSERT INTO app.big SELECT seq, seq %% 7, "
                   "CONCAT('n', seq), seq * 3, seq / 100, '2026-01-01 00:00:00.123' + "
                   "INTERVAL seq SECOND FROM seq_1_to_%d" % self.rows, db="app", timeout=600)
        log("loaded %d rows in %.1f s (not logged)" % (self.rows, time.time() - t0))

    def publisher(self, db=None, pub_id="pub-boot", priority=None, debug=None):
        """A publisher of shard s1 reading db's binlog (default: the primary); with a
        priority, a candidate for the shard's lease (docs/FAILOVER.md)."""
        db = db or self.db
        self.npub += 1
        cfg = {"shard": "s1", "id": pub_id,
               "mapper": {"name": "mysql",
                          "options": {"binlog_dir": db.binlog_dir, "socket": db.socket,
                                      "ssl_mode": "disabled"}},
               "zookeeper": {"connect": self.zk.connect, "root": ZROOT,
                             "session_timeout_ms": 4000},
               "delivery": {"heartbeat_interval_ms": 300, "heartbeat_timeout_ms": 3000,
                            "datamarker_interval_ms": 50, "retry_max_ms": 1000},
               "positions": {"flush_interval_ms": 100},
               "bootstrap": {"chunk_rows": self.chunk, "max_rows_per_sec": self.rate}}
        if debug:
            cfg["log"] = {"debug": debug}
        if priority is not None:
            cfg["lease"] = {"priority": priority, "failback": False, "grace_ms": 3000}
            cfg["health"] = {"interval_ms": 300, "max_replica_lag_s": 30}
        path = self.stack.path("pub%d.json" % self.npub)
        with open(path, "w") as f:
            json.dump(cfg, f)
        self.publog = self.stack.path("pub%d.log" % self.npub)
        # Heartbeats as under a monitor: the status file shows running bootstraps.
        self.status_path = self.stack.path("pub%d.status.json" % self.npub)
        env = dict(os.environ, WORMHOLE_STATUS_FILE=self.status_path,
                   WORMHOLE_STATUS_INTERVAL_MS="200")
        self.pub = spawn([PUBLISHER, "--config", path], stderr=open(self.publog, "w"), env=env)
        self.pub.logpath = self.publog
        self.pub.status_path = self.status_path
        return self.pub

    def role(self, p):
        """p's role (active, standby) from its status file while it runs, else None."""
        try:
            with open(p.status_path) as f:
                st = json.load(f)
        except (OSError, ValueError):
            return None
        return st.get("role") if st.get("pid") == p.pid and p.poll() is None else None

    def status(self):
        try:
            with open(self.status_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def sample_status(self, into):
        """Notes the status file's entry for app boot's bootstrap, if any."""
        for b in self.status().get("bootstraps") or []:
            if b.get("app") == "boot":
                into.append(b)

    def ctl(self, *args):
        r = subprocess.run([CTL, "--zk", self.zk.connect + ZROOT, "--json"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            raise Failed("wormhole-ctl %s: %s" % (" ".join(args), r.stderr.decode()))
        return r.stdout.decode()

    def progress(self):
        doc = json.loads(self.ctl("app", "boot"))
        apps = doc.get("apps", [doc]) if isinstance(doc, dict) else doc
        for a in apps:
            for s in a.get("shards", []):
                if s.get("shard") == "s1" and isinstance(s.get("bootstrap"), dict):
                    return s["bootstrap"]
        return None


def latency_ms(pairs):
    lats = [max(0.0, a - c) for c, a in pairs]
    return statistics.median(lats) if lats else None, len(lats)



def check_other_latency(other, base, during, nduring, factor, what="commit-to-callback"):
    """The other app's median latency during a bootstrap (during, over nduring samples)
    stays within factor x its latency without one (base) + 2 ms of timer resolution. When
    it does not, "without" is measured again now (the bootstrap is over, the write load
    goes on) and the larger of the two counts: a change in the machine's load (other
    tests, other processes) is not taken for the bootstrap's doing."""
    if nduring >= 10 and during > factor * base + 2:
        after0 = len(other.lat)
        time.sleep(wh.scaled(5))
        after, nafter = latency_ms(other.lat[after0:])
        log("other app: median %s %.1f ms after the bootstrap (%d samples)"
            % (what, after or 0, nafter))
        if nafter > 20:
            base = max(base, after)
    check(nduring >= 10 and during <= factor * base + 2,
          "the other app's latency during the bootstrap (%.1f ms) is within %gx of it "
          "without (%.1f ms, the larger of before and after; + 2 ms of timer resolution)"
          % (during, factor, base))


def lat_writer(db, stop, every=0.05):
    c = Client(db)
    while not stop.is_set():
        c.run("INSERT INTO app.lat (t_ms) VALUES (%d)" % int(time.time() * 1000))
        time.sleep(every)
    c.close()


def big_writer(db, stop, rows, seed, counts):
    """Updates, inserts and deletes on app.big until stop: some keys ahead of the
    bootstrap, some behind it, new keys past the end and deleted keys re-inserted."""
    rng = random.Random(seed)
    c = Client(db)
    nxt = rows + 1
    while not stop.is_set():
        for _ in range(20):
            r = rng.random()
            k = rng.randrange(1, rows + 1)
            if r < 0.5:
                c.run("UPDATE app.big SET qty = qty + 1, name = 'u%d' WHERE id = %d" % (k, k))
                counts["update"] += 1
            elif r < 0.7:
                c.run("DELETE FROM app.big WHERE id = %d" % k)
                counts["delete"] += 1
            elif r < 0.85:
                c.run("INSERT INTO app.big VALUES (%d, 1, 'i%d', 1, 1.5, NOW(3)) "
                      "ON DUPLICATE KEY UPDATE grp = grp + 1" % (k, k))
                counts["insert"] += 1
            else:
                c.run("INSERT INTO app.big VALUES (%d, 2, 'new', 2, 2.5, NOW(3))" % nxt)
                nxt += 1
                counts["insert"] += 1
        time.sleep(0.02)
    c.close()


def run(args):
    for exe in (PUBLISHER, TAIL, CTL):
        if not os.path.exists(exe):
            print("skip: %s not built (WH_BUILD_ROOT)" % exe)
            return SKIP
    try:
        stack = wh.Stack()
    except wh.HarnessError as e:
        print("skip: %s" % e)
        return SKIP
    with stack:
        try:
            t = Test(stack, args.rows, args.chunk, args.rate)
            if args.takeover:
                t.add_replica()
        except wh.HarnessError as e:
            print("skip: %s" % e)
            return SKIP
        try:
            return (takeover_scenario if args.takeover else scenario)(stack, t, args)
        finally:
            kill_all()


class ProgressBound:
    """The invariant behind "at most one chunk per kill": the snapshot rows the app
    has written out are never more than one chunk past the progress ZooKeeper holds,
    read after counting them (a chunk goes only once its predecessor's progress is
    written). Calling it takes a sample (wait_done's each); check() judges them."""

    def __init__(self, t, tail, boot_id):
        self.t, self.tail, self.boot_id = t, tail, boot_id
        self.worst, self.samples = None, 0
        self.off = self.got = 0   # the file read so far (whole lines) and its snapshot rows
        self.last = 0.0

    def __call__(self):
        if time.time() - self.last < 0.5:
            return   # a sample each half second: the file is read on, not again
        self.last = time.time()
        with open(self.tail.out, "rb") as f:
            f.seek(self.off)
            data = f.read()
        data = data[:data.rfind(b"\n") + 1]
        self.off += len(data)
        self.got += data.count(b'"op":"snapshot"')
        got = self.got
        p = self.t.progress() or {}
        if p.get("id") == self.boot_id and not p.get("done"):
            ahead = got - p.get("rows", 0)
            self.worst = ahead if self.worst is None else max(self.worst, ahead)
            self.samples += 1

    def check(self):
        check(self.samples >= 3 and self.worst <= self.t.chunk,
              "the app never held more than one chunk (%d) of snapshot rows past the "
              "progress in ZooKeeper: at most %s past it in %d samples"
              % (self.t.chunk, self.worst, self.samples))


def wait_done(t, boot_id, timeout=600, each=None):
    def finished():
        if each:
            each()
        p = t.progress() or {}
        return p.get("id") == boot_id and p.get("done")
    wait_until(finished, timeout, "bootstrap %s to finish" % boot_id)
    return t.progress()


def check_status(t, samples, rows):
    """The publisher's status file showed the running bootstrap (docs/MONITOR.md,
    "bootstraps"): its table, rows growing, the server's estimate, a rate and an ETA;
    and shows it no more once it is done."""
    check(len(samples) >= 3, "the status file shows the running bootstrap (%d samples)"
          % len(samples))
    last = samples[-1]
    check(all(b["id"] == "b1" and b["table"] in ("app.big", None) and b["tables"] == 1
              for b in samples),
          "its entries name the request and the table: %s" % json.dumps(last))
    check(all(x["rows"] <= y["rows"] for x, y in zip(samples, samples[1:])) and
          samples[-1]["rows"] > samples[0]["rows"],
          "rows sent grow from %d to %d" % (samples[0]["rows"], samples[-1]["rows"]))
    mid = [b for b in samples if b["table"] and b["rows"] > 0 and b["eta_s"] is not None]
    check(mid and all(b["estimate"] > rows // 2 and b["rows_per_sec"] > 0 for b in mid),
          "while reading, the estimate (%s of %d rows), a rate and an ETA are shown: %s"
          % (mid[-1]["estimate"] if mid else "-", rows, json.dumps(mid[-1] if mid else last)))
    wait_until(lambda: not [b for b in t.status().get("bootstraps") or [] if b["app"] == "boot"],
               10, "the finished bootstrap to leave the status file")
    check(True, "the finished bootstrap is no longer in the status file")


def kill_phase(stack, t, boots, unit="rows", settle=0.0):
    """kill -9 of the publisher, then of the subscriber, each once some chunks of the
    running bootstrap were acknowledged; checks that each resumes. The publisher dies
    settle seconds after the progress said two chunks (not right after a progress
    write: chunks acknowledged and not yet written would come again). unit names
    what is counted (rows, keys). Returns the kills."""
    wait_until(lambda: (t.progress() or {}).get("id") == "b2" and
               t.progress().get("rows", 0) >= 2 * t.chunk, 120, "two chunks acknowledged")
    time.sleep(settle)
    before = t.progress()
    t.pub.send_signal(signal.SIGKILL)
    t.pub.wait()
    log("publisher killed at %d %s acknowledged" % (before["rows"], unit))
    time.sleep(0.5)
    t.publisher()
    wait_until(lambda: "resumes at table" in open(t.publog).read(), 60,
               "the restarted publisher to resume the bootstrap")
    line = [x for x in open(t.publog) if "resumes at table" in x][0].strip()
    check("after %d rows" % before["rows"] in line or before["rows"] > 0 and " 0 rows" not in line,
          "the restarted publisher resumes the bootstrap where it stood: %s" % line[-80:])
    wait_until(lambda: (t.progress() or {}).get("rows", 0) >= before["rows"] + 2 * t.chunk or
               t.progress().get("done"), 120, "two more chunks acknowledged")
    before = t.progress()
    if before.get("done"):
        log("the bootstrap finished before the subscriber could be killed mid-way")
        return 1
    boots[-1].kill()
    log("subscriber killed at %d %s acknowledged" % (before["rows"], unit))
    boots.append(type(boots[-1])(stack, t.zk, "boot", len(boots) + 1))
    wait_until(lambda: (t.progress() or {}).get("rows", 0) > before["rows"] or
               t.progress().get("done"), 120, "the bootstrap to go on after the subscriber's kill")
    after = t.progress()
    check(after["rows"] >= before["rows"],
          "after the subscriber's kill the bootstrap goes on from %d %s (now %d), not from 0"
          % (before["rows"], unit, after["rows"]))
    return 2


def scenario(stack, t, args):
    t.load()
    other = Tail(stack, t.zk, "other", 1, latency=True)
    boots = [Tail(stack, t.zk, "boot", 1)]
    t.publisher()
    stop_lat = threading.Event()
    lw = threading.Thread(target=lat_writer, args=(t.db, stop_lat))
    lw.start()
    counts = {"update": 0, "insert": 0, "delete": 0}
    stop_big = threading.Event()
    bw = threading.Thread(target=big_writer, args=(t.db, stop_big, args.rows, 1616, counts))
    try:
        # 1. the other app's latency without a bootstrap, under the same write load.
        bw.start()
        time.sleep(wh.scaled(2))
        base0 = len(other.lat)
        time.sleep(wh.scaled(5))
        base, nbase = latency_ms(other.lat[base0:])
        check(nbase > 20, "the other app receives its updates (%d in 5 s)" % nbase)
        log("other app: median commit-to-callback %.1f ms without a bootstrap" % base)

        # 2. bootstrap b1 under the write load: the other app's latency meanwhile.
        t0 = time.time()
        during0 = len(other.lat)
        t.ctl("bootstrap", "boot", "--tables", "app.big", "--id", "b1")
        samples = []
        bound = ProgressBound(t, boots[0], "b1")
        prog = wait_done(t, "b1", each=lambda: (t.sample_status(samples), bound()))
        took = time.time() - t0
        during, nduring = latency_ms(other.lat[during0:])
        log("bootstrap b1 done in %.1f s (%.0f rows/s end to end): %s"
            % (took, args.rows / took, json.dumps(prog)))
        log("other app: median commit-to-callback %.1f ms during the bootstrap (%d samples)"
            % (during, nduring))
        check_other_latency(other, base, during, nduring, args.latency_factor)
        check_status(t, samples, args.rows)
        bound.check()

        # 3. bootstrap b2 (a new id starts over) with kill -9 of the publisher and of the
        #    subscriber mid-way.
        mark = [sum(1 for _ in open(b.out)) for b in boots]
        t.ctl("bootstrap", "boot", "--tables", "app.big", "--id", "b2")
        kills = 0 if args.no_kills else kill_phase(stack, t, boots)
        prog = wait_done(t, "b2")
        log("bootstrap b2 done: %s; writes meanwhile: %s" % (json.dumps(prog), counts))
        r = subprocess.run([CTL, "--zk", t.zk.connect + ZROOT, "app", "boot"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        text = r.stdout.decode()
        check(r.returncode == 0 and "bootstrap b2: done, %d rows" % prog["rows"] in text,
              "wormhole-ctl app shows the bootstrap's progress: %r"
              % [x for x in text.splitlines() if "bootstrap" in x])
    finally:
        stop_big.set()
        stop_lat.set()
        if bw.is_alive():
            bw.join()
        lw.join()

    # 4. the final state, once the stream caught up with the last write.
    t.db.sql("INSERT INTO app.lat (t_ms) VALUES (-1)")
    wait_until(lambda: any('"t_ms":-1' in x for x in open(boots[-1].out)), 120,
               "the boot app to catch up with the last write")
    per_file = [read_lines([b.out]) for b in boots]
    ups = [u for lines in per_file for u in lines]
    begins = [u for u in ups if u["op"] == "snapshot_begin"]
    ends = [u for u in ups if u["op"] == "snapshot_end"]
    check(len(begins) >= 2 and len(ends) == 2 and ends[-1]["table"] == "big",
          "the app is told where the table's rows begin and end (%d begin, %d end, two "
          "bootstraps)" % (len(begins), len(ends)))
    seen = {}
    for lines, m in zip(per_file, mark + [0] * len(boots)):
        for u in lines[m:]:
            if u["op"] == "snapshot":
                seen[u["after"]["id"]] = seen.get(u["after"]["id"], 0) + 1
    twice = sum(n - 1 for n in seen.values())
    log("bootstrap b2: %d snapshot rows delivered, %d keys, %d delivered twice; %d dropped "
        "for newer stream updates" % (sum(seen.values()), len(seen), twice,
                                      prog.get("dropped", 0)))
    check(twice <= kills * t.chunk,
          "rows delivered twice (%d) are at most one chunk (%d) per kill (%d)"
          % (twice, t.chunk, kills))
    table = sc.Table("app.big", ["id"], ["id", "grp", "name", "qty", "price", "at"])
    problems, stats = sc.check_app(ups, [table], sc.dump_tables(t.db, [table]))
    n = int(t.db.value("SELECT COUNT(*) FROM app.big"))
    check(problems == [], "the app's snapshot rows + stream replay to app.big (%d rows): %s"
          % (n, problems[:5]))

    # 5. A filter testing a column the bootstrapped table lacks (and that the stream never
    #    writes, so only the snapshot rows meet it): the flow fails on the first row with
    #    the reason (publisher/pub_schema.h), instead of matching nothing silently.
    t.db.sql("CREATE TABLE app.quiet (id INT PRIMARY KEY, v INT)")
    t.db.sql("SET SESSION sql_log_bin = 0; INSERT INTO app.quiet SELECT seq, seq FROM "
             "seq_1_to_100", db="app")
    misfit = Tail(stack, t.zk, "misfit", 1, filt='table = "quiet" and colour = 1')
    t.ctl("bootstrap", "misfit", "--tables", "app.quiet", "--id", "m1")
    try:
        wait_until(lambda: "column 'colour' on table app.quiet" in open(t.publog).read(), 60,
                   "the publisher to fail app misfit's flow on its filter")
    except Failed:
        print("".join(x for x in open(t.publog) if "misfit" in x or "quiet" in x)[-4000:])
        print(open(misfit.logpath).read()[-2000:])
        raise
    check("column 'colour' on table app.quiet" in open(t.publog).read(),
          "a snapshot row is checked against the app's filter: the flow fails naming the "
          "column and the table")
    misfit.stop()
    boots[-1].stop()
    other.stop()
    t.pub.terminate()
    check(t.pub.wait(timeout=30) == 0, "the publisher stops cleanly")
    print("figures: rows=%d chunk=%d b1_s=%.1f rows_per_s=%.0f base_ms=%.1f during_ms=%.1f "
          "delivered_twice=%d kills=%d" % (args.rows, t.chunk, took, args.rows / took, base,
                                           during, twice, kills))
    return 0


def takeover_scenario(stack, t, args):
    """Takeover by another copy's publisher mid-bootstrap (docs/BOOTSTRAP.md "Resuming"):
    pub-primary (preferred) serves the shard, pub-replica stands by on a replica with a
    binlog of its own; pub-primary is killed with SIGKILL while it bootstraps app.big to
    app boot under a write load; pub-replica takes over and must continue the bootstrap
    after the key the app acknowledged (not from the start), reading its chunks from its
    own copy; at most one chunk comes twice; the app's stream, deduplicated by logical
    position, replays to the table."""
    t.load()
    boots = [Tail(stack, t.zk, "boot", 1)]
    a = t.publisher(t.db, "pub-primary", priority=10)
    wait_until(lambda: t.role(a) == "active", 30, "pub-primary to be active")
    b = t.publisher(t.rep, "pub-replica", priority=0, debug="publisher")
    wait_until(lambda: t.role(b) == "standby", 30, "pub-replica to be standby")
    counts = {"update": 0, "insert": 0, "delete": 0}
    stop_big = threading.Event()
    bw = threading.Thread(target=big_writer, args=(t.db, stop_big, args.rows, 1717, counts))
    bw.start()
    try:
        t.ctl("bootstrap", "boot", "--tables", "app.big", "--id", "t1")
        wait_until(lambda: (t.progress() or {}).get("id") == "t1" and
                   t.progress().get("rows", 0) >= 3 * t.chunk, 120,
                   "three chunks acknowledged from the primary")
        # The writes pause around the takeover, so that pub-replica reads its first
        # chunks before its flow delivers anything from the replica: their windows open
        # at the logical position it resumed from (checked by GTID state, below).
        stop_big.set()
        bw.join()
        t.rep.wait_caught_up(t.db)
        t.db.sql("INSERT INTO app.lat (t_ms) VALUES (-2)")
        wait_until(lambda: any('"t_ms":-2' in x for x in open(boots[-1].out)), 60,
                   "the boot app to receive every write before the takeover")
        time.sleep(1.5)   # its acknowledgement reaches ZooKeeper (datamarkers every 50 ms)
        t.rep.wait_caught_up(t.db)
        before = t.progress()
        a.send_signal(signal.SIGKILL)
        a.wait()
        t0 = time.time()
        log("pub-primary killed at %d rows acknowledged" % before["rows"])
        wait_until(lambda: t.role(b) == "active", 30, "pub-replica to take over")
        log("pub-replica active %.1f s after the kill" % (time.time() - t0))
        wait_until(lambda: (t.progress() or {}).get("rows", 0) >= before["rows"] + t.chunk,
                   60, "a chunk acknowledged from pub-replica")
        stop_big = threading.Event()
        bw = threading.Thread(target=big_writer, args=(t.db, stop_big, args.rows, 1718, counts))
        bw.start()
        wait_until(lambda: "resumes at table" in open(b.logpath).read(), 60,
                   "pub-replica to resume the bootstrap")
        line = [x for x in open(b.logpath) if "resumes at table" in x][0].strip()
        resumed = int(line.rsplit("after ", 1)[1].split()[0])
        check(resumed >= before["rows"] > 0,
              "pub-replica resumes the bootstrap after the %d rows acknowledged before the "
              "kill (at least %d), not from 0: %s" % (resumed, before["rows"], line[-70:]))
        prog = wait_done(t, "t1")
        log("bootstrap t1 done: %s; writes meanwhile: %s" % (json.dumps(prog), counts))
    finally:
        stop_big.set()
        bw.join()
    blog = open(b.logpath).read()
    check("bootstrap t1 done" in blog and "table app.big sent" in blog,
          "pub-replica sent the rest of the table and finished the bootstrap")
    # A chunk read before pub-replica delivered anything from its copy has a window
    # opened at the logical position it resumed from: checked by the GTID state at the
    # chunk's snapshot (it depends on timing whether one is).
    gtid = [x for x in blog.splitlines() if "against the logical position" in x]
    check(gtid and all(x.endswith(": holds it") for x in gtid),
          "pub-replica checked its first chunks (%d) against the logical position it resumed "
          "from by the GTID state at their snapshots: %s"
          % (len(gtid), gtid[0].split("bootstrap chunk ", 1)[-1] if gtid else "none"))
    t.rep.wait_caught_up(t.db)
    t.db.sql("INSERT INTO app.lat (t_ms) VALUES (-1)")
    wait_until(lambda: any('"t_ms":-1' in x for x in open(boots[-1].out)), 120,
               "the boot app to catch up with the last write through pub-replica")
    ups = read_lines([x.out for x in boots])
    seen = {}
    for u in ups:
        if u["op"] == "snapshot":
            seen[u["after"]["id"]] = seen.get(u["after"]["id"], 0) + 1
    twice = sum(n - 1 for n in seen.values())
    log("bootstrap t1: %d snapshot rows delivered, %d keys, %d delivered twice; %d dropped "
        "for newer stream updates" % (sum(seen.values()), len(seen), twice,
                                      prog.get("dropped", 0)))
    check(twice <= t.chunk, "rows delivered twice (%d) are at most one chunk (%d) for the "
          "takeover" % (twice, t.chunk))
    table = sc.Table("app.big", ["id"], ["id", "grp", "name", "qty", "price", "at"])
    for db in (t.rep, t.db):
        problems, stats = sc.check_app(ups, [table], sc.dump_tables(db, [table]),
                                       key=sc.logical_key)
        check(problems == [], "the app's snapshot rows + stream (deduplicated by logical "
              "position) replay to %s's app.big (%s): %s" % (db.name, stats, problems[:5]))
    boots[-1].stop()
    b.terminate()
    check(b.wait(timeout=30) == 0, "pub-replica stops cleanly")
    print("figures: takeover rows=%d chunk=%d resumed_after=%d delivered_twice=%d"
          % (args.rows, t.chunk, resumed, twice))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=int(os.environ.get("WH_BOOT_ROWS", "200000")))
    ap.add_argument("--chunk", type=int, default=5000)
    ap.add_argument("--rate", type=int, default=10000,
                    help="bootstrap.max_rows_per_sec (0: no cap)")
    ap.add_argument("--no-kills", action="store_true")
    ap.add_argument("--takeover", action="store_true",
                    help="the takeover scenario instead: a primary and a replica, the "
                         "primary's publisher killed mid-bootstrap, the replica's continues")
    ap.add_argument("--latency-factor", type=float, default=2.0,
                    help="the other app's latency may grow this many times (2)")
    args = ap.parse_args()
    wh.install_signal_handlers()
    try:
        return run(args)
    except Failed as e:
        print("FAILED: %s" % e, flush=True)
        return 1
    finally:
        kill_all()


if __name__ == "__main__":
    sys.exit(main())
