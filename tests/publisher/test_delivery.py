#!/usr/bin/env python3
"""Integration tests of wormhole-publisher + libwormhole (wormhole-tail) with a real ZooKeeper.

Usage: python3 tests/publisher/test_delivery.py SCENARIO [--source synthetic|mariadb]
                                                [--zk standalone|ensemble] [--rounds N] [--tls]

Scenarios (each starts its own throwaway servers through tests/harness):
  filters      two apps with different filters get exactly their matching updates, in
               order; filtered-out updates never cross the wire
  kill_pub     kill -9 of the publisher mid-stream, then a restart: every update arrives,
               no gaps (duplicates allowed only around the restart)
  kill_sub     kill -9 of the instance holding the shard while a second instance of the
               app is live: the shard moves and resumes from the acknowledged position
  stall        a stalled subscriber: publisher memory stays bounded, another app keeps
               receiving everything
  zk_restart   ZooKeeper restarted mid-stream: delivery continues, nothing lost
  garbage      an instance that answers with garbage is dropped with a log line naming the
               peer and the cause, retried with backoff, and other apps are not affected
  session_expiry  the publisher's ZooKeeper session expires while it delivers (SIGSTOP past
               its 2 s session timeout): alone it fences itself, takes the lease again
               with a new epoch and goes on; when a second publisher took the shard
               meanwhile, it is fenced on SIGCONT and stays standby
  split_brain  a second, preferred publisher starts while the first is alive and
               connected, three times over: each old one hands the lease over (failback)
               and none of its writes lands after the epoch moved
  partition    the publisher is cut off from ZooKeeper (a relay the test cuts), not from
               its subscribers: it fences itself before its session expires; a second
               publisher takes the shard after the expiry; healed, the old one learns it
               lost the lease and stays standby (docs/FAILOVER.md)
  chaos        a random schedule of faults (kill -9 and restart of the publisher or of a
               subscriber instance, SIGSTOP of the publisher short or past its session
               timeout, ZooKeeper restart, stalled subscribers, takeovers, preferred
               publishers taking over a live one) while a workload
               writes; WH_SEED replays a schedule, --rounds (or WH_CHAOS_ROUNDS, which
               wins) sets its length (25);
               with --zk ensemble (three nodes), ZooKeeper faults stop or kill one node
               (the leader or a follower) or two of them (the quorum is lost)

The fault scenarios also record the shard's znodes with zk_watch and check that no
acknowledged position and no epoch ever moved backwards in ZooKeeper.

Source "synthetic" uses the publisher's generator mapper (no database); "mariadb" writes
rows into a real MariaDB from several threads and reads its binlog through the mysql
mapper, and additionally checks that replaying the updates reproduces the tables.
Prints what it checks; exits 0 on success, 1 on a failed check, 77 (skip) if the source
is not available. With --tls, every publisher and subscriber the scenario starts uses mutual
TLS (tls mode "on"; a CA and one certificate per shard and app made by scripts/gen-certs.sh
in the scenario's temp dir), and at the end every subscriber's log must show each
publisher connection it accepted over TLS with the certificate of publisher.s1.wormhole
(none in plaintext), so a plaintext fallback cannot pass. The random workload and the
chaos schedule print their seed (WH_SEED replays it).
"""
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import wh_harness as wh  # noqa: E402

BUILD = os.environ.get("WH_BUILD_ROOT", os.path.join(ROOT, "build"))
PUBLISHER = os.path.join(BUILD, "publisher", "wormhole-publisher")
TAIL = os.path.join(BUILD, "subscriber", "wormhole-tail")
E2E_SUB = os.path.join(BUILD, "bench", "e2e", "e2e-sub")
GEN_CERTS = os.path.join(ROOT, "scripts", "gen-certs.sh")
LOGCAT = os.path.join(BUILD, "tools", "wormhole-logcat")
ZK_CHECK = os.path.join(BUILD, "tests", "harness", "zk_check")
ZK_WATCH = os.path.join(BUILD, "tests", "publisher", "zk_watch")
SKIP = 77


class Failed(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)
    print("ok: %s" % what, flush=True)


def log(msg):
    print("# %s" % msg, flush=True)


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def pos_key(u):
    """Sort key of an update's physical position: (file, offset, index)."""
    phys = u["pos"]["physical"]
    body, idx = phys.rsplit("/", 1)
    if ":" in body:
        f, off = body.rsplit(":", 1)
    else:
        f, off = "", body
    return (f, int(off), int(idx))


def workload_statements(rng, t, base, count):
    """count random statements of client thread t (keys of its own range)."""
    stmts = []
    for i in range(base, base + count):
        key = t * 1000000 + rng.randrange(0, 300)
        r = rng.random()
        if r < 0.6:
            stmts.append("INSERT INTO app.items VALUES (%d, %d, 'n%d', %d, %d.%02d) "
                         "ON DUPLICATE KEY UPDATE qty = qty + 1, name = 'u%d'"
                         % (key, rng.randrange(0, 4), i, rng.randrange(0, 10 ** 12),
                            rng.randrange(0, 10 ** 6), rng.randrange(0, 100), i))
        elif r < 0.8:
            stmts.append("UPDATE app.items SET qty = qty + 7, grp = %d WHERE id = %d"
                         % (rng.randrange(0, 4), key))
        elif r < 0.9:
            stmts.append("DELETE FROM app.items WHERE id = %d" % key)
        else:
            stmts.append("INSERT INTO app.audit (note) VALUES ('t%d-%d')" % (t, i))
    return stmts


class Env:
    """Servers, processes and files of one scenario."""

    tls = False   # subclasses that do not call Env.__init__ (BigEnv, FaultEnv) run plaintext

    def __init__(self, stack, source, zk="standalone", zk_super=None, tls=False):
        self.stack = stack
        self.source = source
        self.tls = tls
        self.zk = stack.zk_ensemble(3) if zk == "ensemble" else \
            stack.zookeeper(super_password=zk_super)
        self.db = None
        self.procs = []
        self.root = "/wh"
        self.n = 0
        if source == "mariadb":
            self.db = stack.mariadb()
            self.db.sql("CREATE DATABASE IF NOT EXISTS app")
            self.db.sql("CREATE TABLE app.items (id INT PRIMARY KEY, grp INT NOT NULL, "
                        "name VARCHAR(64), qty BIGINT, price DECIMAL(10,2))")
            self.db.sql("CREATE TABLE app.audit (id INT AUTO_INCREMENT PRIMARY KEY, "
                        "note VARCHAR(64))")

    # -- mutual TLS (--tls) -----------------------------------------------------------------

    def tls_files(self, kind, name):
        """(ca, certificate, key) of shard or app NAME (kind "shard" or "app"), issued by
        scripts/gen-certs.sh from the scenario's CA the first time they are asked for."""
        d = self.stack.path("certs")
        base = os.path.join(d, ("publisher-" if kind == "shard" else "subscriber-") + name)
        if not os.path.exists(base + ".pem"):
            out = subprocess.run([GEN_CERTS, d, "--" + kind, name], capture_output=True,
                                 text=True)
            if out.returncode != 0:
                raise Failed("gen-certs.sh failed: %s" % out.stderr.strip())
        return os.path.join(d, "ca.pem"), base + ".pem", base + ".key"

    def tls_args(self, app):
        """wormhole-tail's and e2e-sub's TLS flags for an instance of APP ([] without --tls)."""
        if not self.tls:
            return []
        ca, cert, key = self.tls_files("app", app)
        return ["--tls-ca", ca, "--tls-cert", cert, "--tls-key", key]

    def check_tls(self):
        """--tls: each subscriber accepted its publishers over TLS only, from the shard's
        certificate, and no publisher delivered in plaintext."""
        accepted = 0
        for p in self.procs:
            path = getattr(p, "logpath", "")
            base = os.path.basename(path)
            if not base.startswith(("tail", "sub", "pub")):
                continue
            with open(path, errors="replace") as f:
                text = f.read()
            if base.startswith("pub"):
                check("in plaintext" not in text, "%s delivers nothing in plaintext" % base)
                continue
            lines = [x for x in text.splitlines() if " delivers shard " in x]
            plain = [x for x in lines if "over TLS (certificate CN=publisher.s1.wormhole" not in x]
            check(not plain, "%s: every publisher connection it accepted is TLS with "
                  "publisher.s1.wormhole's certificate%s" % (base, "" if not plain else
                                                             ": " + plain[0]))
            if getattr(p, "out", None) and count_lines(p.out) > 0:
                check(lines, "%s received %d updates, over TLS" % (base, count_lines(p.out)))
            accepted += len(lines)
        check(accepted > 0, "the subscribers accepted %d publisher connections, all over TLS"
              % accepted)

    # -- processes --------------------------------------------------------------------------

    def publisher(self, options=None, delivery=None, pub_id="pub-test", session_ms=4000,
                  zk_connect=None, lease=None, zookeeper=None):
        self.n += 1
        if self.source == "synthetic":
            mapper = {"name": "synthetic", "options": options or {}}
        else:
            mapper = {"name": "mysql", "options": {"binlog_dir": self.db.env("X")["X_BINLOG_DIR"]}}
            mapper["options"].update(options or {})
        cfg = {"shard": "s1", "id": pub_id,
               "mapper": mapper,
               "zookeeper": {"connect": zk_connect or self.zk.connect, "root": self.root,
                             "session_timeout_ms": session_ms},
               "delivery": {"heartbeat_interval_ms": 300, "heartbeat_timeout_ms": 3000,
                            "datamarker_interval_ms": 50, "retry_max_ms": 1000},
               "positions": {"flush_interval_ms": 100}}
        cfg["delivery"].update(delivery or {})
        if lease:
            cfg["lease"] = lease
        cfg["zookeeper"].update(zookeeper or {})
        if self.tls:
            ca, cert, key = self.tls_files("shard", "s1")
            cfg["tls"] = {"mode": "on", "ca_file": ca, "cert_file": cert, "key_file": key}
        path = self.stack.path("pub%d.json" % self.n)
        with open(path, "w") as f:
            json.dump(cfg, f)
        logf = open(self.stack.path("pub%d.log" % self.n), "w")
        p = subprocess.Popen([PUBLISHER, "--config", path], stderr=logf)
        p.logpath = logf.name
        self.procs.append(p)
        return p

    def tail(self, app, filt=None, instance=None, session_ms=2000, extra=None, wait=True,
             zk_connect=None):
        self.n += 1
        out = self.stack.path("tail%d.jsonl" % self.n)
        args = [TAIL, "--zk", (zk_connect or self.zk.connect) + self.root, "--app", app,
                "--session-timeout", str(session_ms)]
        if filt:
            args += ["--filter", filt]
        if instance:
            args += ["--instance", instance]
        args += extra or []
        if self.tls:
            args += ["--tls", "on"] + self.tls_args(app)
        logf = open(self.stack.path("tail%d.log" % self.n), "w")
        p = subprocess.Popen(args, stdout=open(out, "w"), stderr=logf)
        p.out = out
        p.logpath = logf.name
        self.procs.append(p)
        if wait:
            self.wait_registered(p)
        return p

    def wait_registered(self, p):
        """Waits until the instance is in ZooKeeper, so the assignment is settled before
        the publisher starts."""
        def registered():
            with open(p.logpath) as f:
                return "registered " in f.read()
        wait_until(registered, 30, "instance registration (%s)" % p.logpath)

    def e2e_sub(self, app, extra):
        self.n += 1
        logf = open(self.stack.path("sub%d.log" % self.n), "w")
        p = subprocess.Popen([E2E_SUB, "--zk", self.zk.connect + self.root, "--app", app] + extra +
                             self.tls_args(app), stdout=subprocess.PIPE, stderr=logf, text=True)
        p.logpath = logf.name
        self.procs.append(p)
        self.wait_registered(p)
        return p

    def zk_watch(self, specs):
        """Starts zk_watch on the given "data:PATH"/"children:PATH" (PATH under the root):
        it records every state of those znodes it sees, for the checks of ZkWatch."""
        self.n += 1
        out = self.stack.path("zkwatch%d.jsonl" % self.n)
        logf = open(self.stack.path("watch%d.log" % self.n), "w")
        args = [ZK_WATCH, self.zk.connect, "20"]
        for sp in specs:
            kind, path = sp.split(":", 1)
            args.append("%s:%s%s" % (kind, self.root, path))
        p = subprocess.Popen(args, stdout=open(out, "w"), stderr=logf)
        self.procs.append(p)
        return ZkWatch(out, self.root)

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    # -- workload ---------------------------------------------------------------------------

    def write_workload(self, n_txn, threads=4, seed=None, rounds=1, pause=0.0):
        """MariaDB: several client threads insert/update/delete rows, in rounds with a
        pause between them (so that a fault can hit mid-stream); returns when done."""
        seed = int(os.environ.get("WH_SEED", seed if seed is not None else time.time()))
        log("workload seed %d (WH_SEED=%d replays it)" % (seed, seed))
        errors = []

        def worker(t):
            rng = random.Random(seed * 100 + t)
            per_round = max(1, n_txn // threads // rounds)
            for r in range(rounds):
                if r:
                    time.sleep(pause)
                try:
                    self.db.sql_script(";\n".join(workload_statements(rng, t, r * per_round,
                                                                          per_round)) +
                                       ";\n")
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(e)
                    return

        ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise Failed("workload failed: %s" % errors[0])

    def expected(self):
        """Every update of the source, in log order (mariadb: via wormhole-logcat)."""
        if self.source == "synthetic":
            return None
        out = subprocess.run([LOGCAT, "--mapper", "mysql", "--binlog-dir",
                              self.db.env("X")["X_BINLOG_DIR"], "--shard", "s1"],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise Failed("wormhole-logcat failed: %s" % out.stderr[-500:])
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def count_lines(path):
    with open(path, "rb") as f:
        return f.read().count(b"\n")


def distinct(paths, need):
    """Number of distinct positions received in the files (parsed only once the line
    count could reach need)."""
    if sum(count_lines(p) for p in paths) < need:
        return 0
    return len(set(pos_key(u) for p in paths for u in read_lines(p)))


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.endswith("\n") and line.strip()]


def wait_until(pred, timeout, what):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return
        time.sleep(0.2)
    raise Failed("timed out after %d s waiting for %s" % (timeout, what))


def check_stream(lines, want_keys, what):
    """No gaps: in arrival order, each update is at most one past the furthest seen so far;
    every expected position arrives; nothing unexpected arrives."""
    order = {k: i for i, k in enumerate(want_keys)}
    furthest = -1
    dups = 0
    seen = set()
    for u in lines:
        k = pos_key(u)
        if k not in order:
            raise Failed("%s: received %s, which is not an expected update" % (what, k))
        i = order[k]
        if i > furthest + 1:
            raise Failed("%s: gap: received %s after %s" % (what, k, want_keys[furthest]
                                                            if furthest >= 0 else "nothing"))
        if k in seen:
            dups += 1
        seen.add(k)
        furthest = max(furthest, i)
    check(len(seen) == len(want_keys),
          "%s: all %d expected updates arrived, in order, without gaps (%d duplicates)"
          % (what, len(want_keys), dups))
    return dups


def synth_keys(n):
    return [("", i, 0) for i in range(1, n + 1)]


# ---- scenarios ---------------------------------------------------------------------------------

def sc_filters(env):
    if env.source == "synthetic":
        n = 60000
        fa, fb = 'table = "t1"', "k in (1, 2, 3)"
        a = env.tail("app_a", fa)
        b = env.tail("app_b", fb)
        c = env.tail("app_all")
        # Byte counters of what crosses the wire, with the same filters.
        wb = env.e2e_sub("bytes_b", ["--filter", fb, "--count", "180"])
        # Manual acks: without them the flow would stop when its window (4 MB) fills.
        wall = env.e2e_sub("bytes_all", ["--count", str(n), "--manual-ack"])
        time.sleep(1)
        env.publisher({"updates": n, "tables": 4})
        want_a = [("", i, 0) for i in range(1, n + 1) if i % 4 == 1]
        want_b = [("", i, 0) for i in range(1, n + 1) if i % 1000 in (1, 2, 3)]
        want_all = synth_keys(n)
    else:
        a = env.tail("app_a", 'table = "items" and op in ("insert", "update")')
        b = env.tail("app_b", 'table = "audit" or op = "delete"')
        c = env.tail("app_all")
        time.sleep(1)
        env.publisher()
        env.write_workload(4000)
        full = env.expected()
        want_all = [pos_key(u) for u in full]
        want_a = [pos_key(u) for u in full
                  if u.get("table") == "items" and u["op"] in ("insert", "update")]
        want_b = [pos_key(u) for u in full if u.get("table") == "audit" or u["op"] == "delete"]
    for p, want in ((a, want_a), (b, want_b), (c, want_all)):
        wait_until(lambda: distinct([p.out], len(want)) >= len(want), 90,
                   "%d updates in %s" % (len(want), p.out))
    time.sleep(0.5)
    if env.source == "synthetic":
        rb = json.loads(wb.communicate(timeout=60)[0].strip().splitlines()[-1])
        rall = json.loads(wall.communicate(timeout=60)[0].strip().splitlines()[-1])
        check(rb["updates"] == len(want_b) and rall["updates"] == len(want_all),
              "byte-counting subscribers received %d and %d updates"
              % (rb["updates"], rall["updates"]))
        limit = rall["bytes"] * len(want_b) / len(want_all) * 2 + 65536
        check(rb["bytes"] <= limit,
              "filtered-out updates never cross the wire: the filtered app received %d bytes, "
              "the unfiltered one %d (limit %d)" % (rb["bytes"], rall["bytes"], limit))
    check_stream(read_lines(a.out), want_a, "app_a")
    check_stream(read_lines(b.out), want_b, "app_b")
    check_stream(read_lines(c.out), want_all, "app_all")
    check(0 < len(want_a) < len(want_all) and 0 < len(want_b) < len(want_all),
          "the filters select proper subsets (%d and %d of %d)"
          % (len(want_a), len(want_b), len(want_all)))
    # Filtered-out updates never cross the wire: the filtered apps' subscribers received
    # only their updates (each line above is one received update) and far fewer bytes.
    env.stop_all()
    logs = {}
    for p in (a, b, c):
        with open(p.logpath) as f:
            logs[p] = f.read()
    check(all("dropping" not in v for v in logs.values()), "no connection was dropped")
    if env.source == "mariadb":
        check_replay(env, read_lines(c.out))


def check_replay(env, updates):
    """Applying the updates in order reproduces app.items."""
    table = {}
    for u in updates:
        if u.get("table") != "items":
            continue
        if u["op"] in ("insert", "update"):
            if u["op"] == "update" and "before" in u and u["before"]["id"] != u["after"]["id"]:
                table.pop(u["before"]["id"], None)
            table[u["after"]["id"]] = u["after"]
        elif u["op"] == "delete":
            table.pop(u["before"]["id"], None)
    rows = env.db.sql("SELECT id, grp, name, qty, price FROM app.items ORDER BY id")
    got = {int(r[0]): r for r in rows}
    same = set(got) == set(table)
    bad = 0
    for k, r in got.items():
        t = table.get(k)
        if not t or str(t["grp"]) != str(r[1]) or str(t["qty"]) != str(r[3]) or \
                t["name"] != r[2] or str(t["price"]) != str(r[4]):
            bad += 1
    check(same and bad == 0, "replaying the updates reproduces app.items (%d rows)" % len(got))


def received_max(paths):
    return max((pos_key(u)[1] for p in paths for u in read_lines(p)), default=0)


def sc_kill_pub(env):
    t = env.tail("app_k")
    time.sleep(1)
    if env.source == "synthetic":
        # An endless stream, so that the kill always lands mid-stream however slow
        # the machine is; checked up to the last update received.
        rate = 5000
        p = env.publisher({"updates": 0, "rate": rate})
        wait_until(lambda: count_lines(t.out) > rate, 30, "the first updates")
        p.send_signal(signal.SIGKILL)
        p.wait()
        at_kill = count_lines(t.out)
        log("publisher killed with SIGKILL after %d updates" % at_kill)
        time.sleep(0.5)
        p = env.publisher({"updates": 0, "rate": rate})
        wait_until(lambda: count_lines(t.out) > at_kill + rate, 60,
                   "delivery to resume after the restart")
        p.terminate()
        check(p.wait(timeout=20) == 0, "the restarted publisher stops cleanly")
        want = synth_keys(received_max([t.out]))
    else:
        p = env.publisher()
        writer = threading.Thread(target=env.write_workload, args=(6000,),
                                  kwargs={"rounds": 10, "pause": 0.3})
        writer.start()
        wait_until(lambda: count_lines(t.out) > 500, 60, "the first updates")
        p.send_signal(signal.SIGKILL)
        p.wait()
        log("publisher killed with SIGKILL after %d updates" % count_lines(t.out))
        time.sleep(0.5)
        env.publisher()
        writer.join()
        want = [pos_key(u) for u in env.expected()]
    wait_until(lambda: distinct([t.out], len(want)) >= len(want), 120,
               "every update after the restart")
    check_stream(read_lines(t.out), want, "after kill -9 of the publisher")
    if env.source == "mariadb":
        check_replay(env, read_lines(t.out))


def sc_kill_sub(env):
    t1 = env.tail("app_m", instance="inst-1")
    t2 = env.tail("app_m", instance="inst-2")
    time.sleep(1)
    if env.source == "synthetic":
        rate = 5000
        p = env.publisher({"updates": 0, "rate": rate})
    else:
        env.publisher()
        writer = threading.Thread(target=env.write_workload, args=(4000,),
                                  kwargs={"rounds": 10, "pause": 0.3})
        writer.start()
    wait_until(lambda: count_lines(t1.out) + count_lines(t2.out) > 2000, 60,
               "the first updates")
    holder, other = (t1, t2) if count_lines(t1.out) else (t2, t1)
    check(count_lines(other.out) == 0, "exactly one instance holds the shard")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    log("killed the holding instance after %d updates" % count_lines(holder.out))
    if env.source == "synthetic":
        wait_until(lambda: count_lines(other.out) > rate, 60,
                   "the second instance to take over")
        p.terminate()
        check(p.wait(timeout=20) == 0, "the publisher stops cleanly")
        want = synth_keys(received_max([holder.out, other.out]))
    else:
        writer.join()
        want = [pos_key(u) for u in env.expected()]
    wait_until(lambda: distinct([holder.out, other.out], len(want)) >= len(want), 90,
               "the second instance to take over")
    got_other = read_lines(other.out)
    check(len(got_other) > 0, "the second instance received the shard")
    check_stream(read_lines(holder.out) + got_other, want, "across the takeover")
    order = {k: i for i, k in enumerate(want)}
    first = order[pos_key(got_other[0])]
    last_holder = max(order[pos_key(u)] for u in read_lines(holder.out))
    check(first <= last_holder + 1,
          "the takeover resumed from the acknowledged position (update %d; the killed "
          "instance had received up to %d)" % (first, last_holder))
    with open(other.logpath) as f:
        check("shard s1 assigned" in f.read(), "the second instance got a shard notice")


def sc_stall(env):
    stalled = env.e2e_sub("app_stall", ["--stall-after", "2000"])
    t = env.tail("app_live")
    time.sleep(1)
    if env.source == "synthetic":
        n = 200000
        p = env.publisher({"updates": n, "rate": 40000},
                          {"window_bytes": 1 << 20, "heartbeat_timeout_ms": 2000})
        want = synth_keys(n)
    else:
        p = env.publisher(None, {"window_bytes": 1 << 20, "heartbeat_timeout_ms": 2000})
        env.write_workload(6000)
        want = [pos_key(u) for u in env.expected()]
    peak = 0
    t0 = time.time()
    while time.time() - t0 < 120:
        peak = max(peak, rss_mb(p.pid))
        if count_lines(t.out) >= len(want):
            break
        time.sleep(0.25)
    check_stream(read_lines(t.out), want, "the live app next to a stalled one")
    check(peak < 64, "publisher RSS stayed bounded (peak %.1f MB < 64 MB)" % peak)
    check(stalled.poll() is None, "the stalled subscriber is still alive (stalled)")
    def dropped():
        with open(p.logpath) as f:
            text = f.read()
        return "app app_stall" in text and ("silent" in text or "no handshake" in text)
    wait_until(dropped, 30, "the publisher to log why it dropped the stalled subscriber")
    check(True, "the publisher logged why it dropped the stalled subscriber")


def sc_zk_restart(env):
    t = env.tail("app_z")
    time.sleep(1)
    if env.source == "synthetic":
        rate = 5000
        p = env.publisher({"updates": 0, "rate": rate})
        wait_until(lambda: count_lines(t.out) > rate, 30, "the first updates")
        env.zk.restart()
        back = count_lines(t.out)
        log("ZooKeeper restarted; %d updates had arrived when it was back" % back)
        wait_until(lambda: count_lines(t.out) > back + rate, 60,
                   "delivery to go on after ZooKeeper is back")
        p.terminate()
        check(p.wait(timeout=20) == 0, "the publisher stops cleanly after SIGTERM")
        before = read_lines(t.out)
        n1 = max(pos_key(u)[1] for u in before)
        # A new publisher resumes from the position recorded after ZooKeeper came back.
        n = n1 + rate
        p = env.publisher({"updates": n, "rate": rate})
        wait_until(lambda: distinct([t.out], n) >= n, 60,
                   "the restarted publisher to deliver the rest")
        lines = read_lines(t.out)
        check_stream(lines, synth_keys(n), "across the ZooKeeper restart and a clean restart")
        again = sum(1 for u in lines[len(before):] if pos_key(u)[1] <= n1)
        check(again <= 1000, "the final position was recorded: %d updates delivered again "
              "after the clean restart" % again)
    else:
        p = env.publisher()
        writer = threading.Thread(target=env.write_workload, args=(6000,),
                                  kwargs={"rounds": 20, "pause": 0.5})
        writer.start()
        wait_until(lambda: count_lines(t.out) > 300, 60, "the first updates")
        env.zk.restart()
        log("ZooKeeper restarted; %d updates had arrived when it was back"
            % count_lines(t.out))
        check(writer.is_alive(), "the workload was still running when ZooKeeper came back")
        writer.join()
        want = [pos_key(u) for u in env.expected()]
        wait_until(lambda: distinct([t.out], len(want)) >= len(want), 120,
                   "every update after the ZooKeeper restart")
        check_stream(read_lines(t.out), want, "across the ZooKeeper restart")
        p.terminate()
        check(p.wait(timeout=20) == 0, "the publisher stops cleanly after SIGTERM")


def sc_garbage(env):
    import socket
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    port = lsock.getsockname()[1]
    accepted = []

    def serve():
        # Answers every connection with bytes that are no frame (bad checksum).
        while True:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            accepted.append(c)
            try:
                c.recv(4096)
                c.sendall(b"\x00\x00\x00\x03\x06\x81\x01GARBAGE!")
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    node = "%s/apps/app_bad/instances/fake" % env.root
    data = json.dumps({"endpoint": "127.0.0.1:%d" % port, "filter": None, "shards": "all"})
    rc = subprocess.run([ZK_CHECK, env.zk.connect, "write", node, data],
                        capture_output=True, text=True)
    check(rc.returncode == 0, "registered a fake instance that speaks garbage (%s)"
          % rc.stdout.strip())
    t = env.tail("app_good")
    time.sleep(1)
    n = 50000
    if env.source == "synthetic":
        p = env.publisher({"updates": n, "rate": 20000})
        want = synth_keys(n)
    else:
        p = env.publisher()
        env.write_workload(3000)
        want = [pos_key(u) for u in env.expected()]
    wait_until(lambda: distinct([t.out], len(want)) >= len(want), 90, "app_good's updates")
    check_stream(read_lines(t.out), want, "the good app next to a garbage-speaking one")

    # Over TLS the garbage never reaches the frame decoder: the publisher's ClientHello is
    # answered with bytes that are no TLS record, so the handshake fails (the peer is not
    # a subscriber that could hold the app's certificate) and nothing is decoded as frames.
    cause = ("TLS handshake failed", "does not speak TLS") if env.tls else \
        ("garbage from the subscriber", "checksum")

    def logged():
        with open(p.logpath) as f:
            text = f.read()
        return [line for line in text.splitlines()
                if "app app_bad" in line and cause[0] in line and
                "127.0.0.1:%d" % port in line and cause[1] in line]
    wait_until(lambda: len(logged()) >= 2, 30, "the publisher to log the garbage twice")
    log(logged()[0][24:])
    check(True, "the publisher dropped the instance, naming the peer and the cause, and "
          "retried (%d connections)" % len(accepted))
    check(p.poll() is None, "the publisher keeps running")
    lsock.close()


# ---- fault tests: session expiry and a randomised schedule -----------------------------------

class ZkWatch:
    """What zk_watch saw: every observed state of the watched znodes, in order."""

    def __init__(self, out, root):
        self.out = out
        self.root = root

    def events(self, path=None):
        evs = []
        with open(self.out) as f:
            for line in f:
                if line.endswith("\n"):
                    e = json.loads(line)
                    if path is None or e["path"] == self.root + path:
                        evs.append(e)
        return evs

    def latest(self, path):
        evs = self.events(path)
        return evs[-1] if evs else None

    def children(self, path):
        e = self.latest(path)
        return e["children"] if e else []

    def data(self, path):
        e = self.latest(path)
        return e["data"] if e and e["version"] >= 0 else None


def phys_key(physical):
    """Sort key of a stored physical position; None (no position: the oldest) sorts first."""
    return pos_key({"pos": {"physical": physical}}) if physical else ("", -1, -1)


def check_positions(watch, apps):
    """In ZooKeeper, each flow's acknowledged position and its epoch never moved backwards,
    and no position was written with an older epoch once the shard's epoch had moved on
    (a stale publisher's write was refused). As far as zk_watch saw: it polls every 20 ms,
    the epoch node first, so a state first seen in a later poll than a new epoch was
    written after that epoch."""
    epochs = [(e["round"], int(e["data"])) for e in watch.events("/shards/s1/epoch")
              if e["version"] >= 0]
    for app in apps:
        path = "/apps/%s/positions/s1" % app
        prev = None
        writes = 0
        for e in watch.events(path):
            if e["version"] < 0:
                if prev:
                    raise Failed("position node of %s vanished after %s" % (app, prev))
                continue
            d = json.loads(e["data"])
            cur = (d["epoch"], phys_key(d["physical"]), d.get("publisher"))
            newer = [ep for r, ep in epochs if r < e["round"] and ep > cur[0]]
            if newer:
                raise Failed("%s: %s wrote %s with epoch %d after the shard's epoch was %d: "
                             "the stale publisher's write was not refused"
                             % (path, cur[2], cur[1], cur[0], newer[0]))
            if prev and cur[0] < prev[0]:
                raise Failed("%s: the position's epoch moved backwards: %s written by %s after "
                             "%s by %s" % (path, cur[0], cur[2], prev[0], prev[2]))
            if prev and cur[1] < prev[1]:
                raise Failed("%s: the acknowledged position moved backwards: %s (epoch %d, %s) "
                             "after %s (epoch %d, %s)" % (path, cur[1], cur[0], cur[2],
                                                          prev[1], prev[0], prev[2]))
            prev = cur
            writes += 1
        check(writes > 0, "%s: the acknowledged position never moved backwards in ZooKeeper, "
              "nor its epoch (%d states seen, last epoch %s)"
              % (path, writes, prev[0] if prev else "-"))


def check_multi(files, want_keys, what):
    """Several instances of one app (files: each one's updates in arrival order): every
    expected update arrived at some instance, nothing unexpected arrived, and each
    instance's stream is in log order without gaps, except where the flow was at another
    instance meanwhile (every update it skipped forward over arrived at another one)."""
    order = {k: i for i, k in enumerate(want_keys)}
    sets = []
    for lines in files:
        got = set()
        for u in lines:
            k = pos_key(u)
            if k not in order:
                raise Failed("%s: received %s, which is not an expected update" % (what, k))
            got.add(order[k])
        sets.append(got)
    union = set().union(*sets) if sets else set()
    missing = sorted(set(range(len(want_keys))) - union)
    if missing:
        raise Failed("%s: %d expected updates never arrived, the first %s"
                     % (what, len(missing), want_keys[missing[0]]))
    dups = sum(len(lines) for lines in files) - len(union)
    for n, lines in enumerate(files):
        others = set().union(*(s for j, s in enumerate(sets) if j != n))
        furthest = -1
        for u in lines:
            i = order[pos_key(u)]
            if i > furthest + 1:
                bad = [x for x in range(furthest + 1, i) if x not in others]
                if bad:
                    raise Failed("%s: gap at instance file %d: received %s after %s, and %s "
                                 "arrived at no other instance" % (what, n, want_keys[i],
                                                                   want_keys[furthest] if
                                                                   furthest >= 0 else "nothing",
                                                                   want_keys[bad[0]]))
            furthest = max(furthest, i)
    check(True, "%s: all %d expected updates arrived across %d instance runs, each in order "
          "without gaps (%d duplicates)" % (what, len(want_keys), len(files), dups))


class Writer:
    """MariaDB: client threads keep writing random statements until stop()."""

    def __init__(self, env, seed, threads=3, batch=30, pause=0.2):
        self.env = env
        self.stop_ev = threading.Event()
        self.errors = []
        self.batches = 0
        self.threads = [threading.Thread(target=self._run, args=(seed, t, batch, pause))
                        for t in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, seed, t, batch, pause):
        rng = random.Random(seed * 100 + t)
        base = 0
        while not self.stop_ev.is_set():
            try:
                self.env.db.sql_script(";\n".join(workload_statements(rng, t, base, batch)) +
                                       ";\n")
            except Exception as e:  # noqa: BLE001 - reported by stop()
                self.errors.append(e)
                return
            base += batch
            self.batches += 1
            self.stop_ev.wait(pause)

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join()
        if self.errors:
            raise Failed("workload failed: %s" % self.errors[0])
        log("workload: %d batches written" % self.batches)


def log_text(p):
    with open(p.logpath, errors="replace") as f:
        return f.read()


def wait_exit(p, timeout, what):
    try:
        return p.wait(timeout=wh.scaled(timeout))
    except subprocess.TimeoutExpired:
        raise Failed("timed out after %d s waiting for %s to exit" % (wh.scaled(timeout), what))


class Pubs:
    """The publisher processes of a fault test and what zk_watch sees of their leases."""

    def __init__(self, env, watch, options):
        self.env = env
        self.watch = watch
        self.options = options
        self.ids = 0
        self.cur = None
        self.cur_id = None
        self.priority = 0

    def start(self, pub_id=None, preferred=False):
        """Starts a publisher (a candidate for s1); preferred gives it a higher priority
        than every earlier one, so that it takes the shard over from a live active one
        (failback, docs/FAILOVER.md)."""
        if pub_id is None:
            self.ids += 1
            pub_id = "pub-%d" % self.ids
        if preferred:
            self.priority += 1
        self.cur = self.env.publisher(self.options, pub_id=pub_id, session_ms=2000,
                                      lease={"priority": self.priority})
        self.cur_id = pub_id
        return self.cur

    def registered(self, pub_id):
        return pub_id in self.watch.children("/shards/s1/publishers")

    def epoch(self):
        """The shard's epoch as zk_watch last saw it (up to one poll late)."""
        d = self.watch.data("/shards/s1/epoch")
        return int(d) if d else 0

    @staticmethod
    def logged_epoch(p, pub_id):
        """The epoch publisher p last registered with, from its log (None if none yet)."""
        found = re.findall(r"registered /wh/shards/s1/publishers/%s with epoch (\d+)"
                           % re.escape(pub_id), log_text(p))
        return int(found[-1]) if found else None

    def stop_until_expired(self, p, pub_id):
        """SIGSTOPs p and waits until ZooKeeper expired its session (its ephemeral
        registration is gone): the lease is lost while the process does not know it."""
        wait_until(lambda: self.registered(pub_id), wh.scaled(30),
                   "%s to be registered before it is stopped" % pub_id)
        p.send_signal(signal.SIGSTOP)
        t0 = time.time()
        wait_until(lambda: not self.registered(pub_id), wh.scaled(30),
                   "ZooKeeper to expire the session of the stopped publisher %s" % pub_id)
        log("the session of %s expired %.1f s after SIGSTOP" % (pub_id, time.time() - t0))

    def takeover(self, old, old_id, new_id=None):
        """old is stopped and its session expired: a new publisher takes the shard; then
        old is continued and must find itself fenced: it stops delivering at once and
        drops to standby ('fenced', 'lost the lease' in its log; or exit 1 'fenced', when
        it noticed a newer epoch first); a standby left over is stopped."""
        e0 = self.logged_epoch(old, old_id)
        new = self.start(new_id)
        wait_until(lambda: self.logged_epoch(new, self.cur_id) is not None, wh.scaled(30),
                   "%s to register" % self.cur_id)
        e1 = self.logged_epoch(new, self.cur_id)
        check(e1 > e0, "%s took over shard s1 with epoch %d (the stopped %s has %d)"
              % (self.cur_id, e1, old_id, e0))
        old.send_signal(signal.SIGCONT)
        wait_until(lambda: old.poll() is not None or "lost the lease" in log_text(old),
                   wh.scaled(30), "the stale publisher %s to notice" % old_id)
        text = log_text(old)
        check("fenced" in text and (old.poll() == 1 or "lost the lease" in text),
              "the stale publisher %s logged that it was fenced and %s" % (
                  old_id, "exited 1" if old.poll() is not None else "dropped to standby"))
        stop_standby(old, old_id)
        return new


def stop_standby(p, pub_id):
    """Stops a publisher that is (or was) a standby; it must stop cleanly."""
    if p.poll() is None:
        p.terminate()
        rc = wait_exit(p, 30, "the standby %s" % pub_id)
        check(rc == 0, "the standby %s stops cleanly" % pub_id)


def received_count(paths):
    return sum(count_lines(p) for p in paths)


def wait_progress(paths_by_app, timeout, what):
    """Waits until every app received more updates than it had at the call."""
    base = {a: received_count(ps) for a, ps in paths_by_app.items()}
    wait_until(lambda: all(received_count(ps) > base[a] for a, ps in paths_by_app.items()),
               wh.scaled(timeout), "every app to receive updates again after %s" % what)


def check_two_apps(env, writer, pub, pub_name, full, filtered, watch, apps, what):
    """The common end of the fencing scenarios: the unfiltered app (full) and the
    filtered one (filtered: table items, or every 4th synthetic update) got every update
    in order, no position moved backwards, the replay reproduces the table (mariadb),
    and the last publisher stops cleanly."""
    if env.source == "mariadb":
        writer.stop()
        updates = env.expected()
        want_full = [pos_key(u) for u in updates]
        want_filtered = [pos_key(u) for u in updates if u.get("table") == "items"]
    else:
        pub.terminate()
        check(wait_exit(pub, 30, pub_name) == 0, "%s stops cleanly" % pub_name)
        want_full = synth_keys(received_max([full.out]))
        want_filtered = [k for k in synth_keys(received_max([filtered.out])) if k[1] % 4 == 1]
    for p, want in ((full, want_full), (filtered, want_filtered)):
        wait_until(lambda: distinct([p.out], len(want)) >= len(want), wh.scaled(90),
                   "%d updates in %s" % (len(want), p.out))
    check_stream(read_lines(full.out), want_full, "%s %s" % (what[0], what[2]))
    check_stream(read_lines(filtered.out), want_filtered,
                 "%s (filtered) %s" % (what[1], what[2]))
    check_positions(watch, apps)
    if env.source == "mariadb":
        check_replay(env, read_lines(full.out))
        pub.terminate()
        check(wait_exit(pub, 30, pub_name) == 0, "%s stops cleanly" % pub_name)


def sc_session_expiry(env):
    """The publisher's ZooKeeper session expires while it delivers (SIGSTOP for longer
    than its 2 s session timeout). Alone, it notices that it lost the lease, stops
    delivering, takes the lease again with a new epoch and goes on; when a second
    publisher took the shard meanwhile, it is fenced and stays standby."""
    apps = ["app_e", "app_f"]
    ta = env.tail("app_e")
    tf = env.tail("app_f", 'table = "items"' if env.source == "mariadb" else 'table = "t1"')
    watch = env.zk_watch(["data:/shards/s1/epoch", "data:/apps/app_e/positions/s1",
                          "data:/apps/app_f/positions/s1", "children:/shards/s1/publishers"])
    outs = {"app_e": [ta.out], "app_f": [tf.out]}
    seed = int(os.environ.get("WH_SEED", random.SystemRandom().randrange(1, 10 ** 9)))
    log("seed %d (WH_SEED=%d replays the workload)" % (seed, seed))
    pubs = Pubs(env, watch, {"updates": 0, "rate": 3000, "tables": 4}
                if env.source == "synthetic" else None)
    a = pubs.start("pub-a")
    writer = Writer(env, seed) if env.source == "mariadb" else None
    wait_until(lambda: count_lines(tf.out) > 100, wh.scaled(60), "the first updates")

    # 1. Nobody else takes over: the publisher notices the expiry (its lease went with its
    #    session), stops delivering, takes the lease again (epoch 2) and goes on.
    pubs.stop_until_expired(a, "pub-a")
    stored = watch.data("/apps/app_e/positions/s1")
    a.send_signal(signal.SIGCONT)
    wait_until(lambda: log_text(a).count("registered /wh/shards/s1/publishers/pub-a") >= 2,
               wh.scaled(30), "pub-a to register again after its session expired")
    check("session expired" in log_text(a),
          "pub-a noticed that its session expired and registered again")
    wait_progress(outs, 60, "pub-a's session expiry")
    wait_until(lambda: watch.data("/apps/app_e/positions/s1") != stored, wh.scaled(30),
               "pub-a to record app_e's position after its session expiry")
    check(a.poll() is None and pubs.epoch() == 2 and "fenced" in log_text(a),
          "pub-a fenced itself, then took the shard again with epoch 2 and delivers")

    # 2. pub-b takes the shard while pub-a is stopped and its lease gone; pub-a, continued,
    #    must be fenced and write no position any more.
    pubs.stop_until_expired(a, "pub-a")
    b = pubs.takeover(a, "pub-a", "pub-b")
    wait_progress(outs, 60, "the takeover")
    wait_until(lambda: all(json.loads(watch.data("/apps/%s/positions/s1" % x) or "{}")
                           .get("epoch") == 3 for x in apps), wh.scaled(30),
               "pub-b to record positions with epoch 3")
    check(True, "pub-b delivers and records positions with epoch 3")

    check_two_apps(env, writer, b, "pub-b", ta, tf, watch, apps,
                   ("app_e", "app_f", "across the expiry and the takeover"))


def sc_split_brain(env):
    """A second, preferred publisher for the shard starts while the first one is alive,
    connected to ZooKeeper and delivering (a publisher on the preferred copy comes
    back): the first one hands the lease over (failback, docs/FAILOVER.md) without any
    session expiry. Three times over: the old one must stop delivering and stay standby,
    the new one takes the next epoch, and no position the old one writes once the epoch
    moved may land."""
    apps = ["app_s", "app_t"]
    ts = env.tail("app_s")
    tt = env.tail("app_t", 'table = "items"' if env.source == "mariadb" else 'table = "t1"')
    watch = env.zk_watch(["data:/shards/s1/epoch", "data:/apps/app_s/positions/s1",
                          "data:/apps/app_t/positions/s1", "children:/shards/s1/publishers"])
    outs = {"app_s": [ts.out], "app_t": [tt.out]}
    seed = int(os.environ.get("WH_SEED", random.SystemRandom().randrange(1, 10 ** 9)))
    log("seed %d (WH_SEED=%d replays the workload)" % (seed, seed))
    pubs = Pubs(env, watch, {"updates": 0, "rate": 3000, "tables": 4}
                if env.source == "synthetic" else None)
    old = pubs.start()
    writer = Writer(env, seed) if env.source == "mariadb" else None
    for _ in range(3):
        wait_progress(outs, 60, "%s started" % pubs.cur_id)
        # Let the old publisher have positions to write when the new one starts.
        time.sleep(0.3)
        old_id = pubs.cur_id
        e0 = pubs.logged_epoch(old, old_id)
        new = pubs.start(preferred=True)
        wait_until(lambda: "standby: handed the lease" in log_text(old) or
                   old.poll() is not None, wh.scaled(30),
                   "the old publisher %s to hand the lease over" % old_id)
        check(old.poll() is None,
              "%s (preferred) started while %s was delivering; %s handed the lease over and "
              "stays standby" % (pubs.cur_id, old_id, old_id))
        stop_standby(old, old_id)
        wait_until(lambda: pubs.logged_epoch(new, pubs.cur_id) is not None, wh.scaled(30),
                   "%s to register" % pubs.cur_id)
        check(pubs.logged_epoch(new, pubs.cur_id) == e0 + 1,
              "%s registered with epoch %d" % (pubs.cur_id, e0 + 1))
        old = new
    wait_progress(outs, 60, "the last takeover")
    check_two_apps(env, writer, old, pubs.cur_id, ts, tt, watch, apps,
                   ("app_s", "app_t", "across three takeovers"))


class ZkProxy:
    """A TCP relay in front of ZooKeeper for one client, so that the test can cut that
    client off (a network partition between it and ZooKeeper) and heal it again."""

    def __init__(self, target_port):
        import socket
        self.target = ("127.0.0.1", target_port)
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.connect = "127.0.0.1:%d" % self.lsock.getsockname()[1]
        self.cut_ev = threading.Event()
        self.pairs = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.cut_ev.is_set():
                c.close()
                continue
            try:
                u = socket.create_connection(self.target, timeout=5)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.pairs.append((c, u))
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a, b):
        while True:
            try:
                data = a.recv(65536)
            except OSError:
                data = b""
            if not data or self.cut_ev.is_set():
                break
            try:
                b.sendall(data)
            except OSError:
                break
        for s in (a, b):
            try:
                s.close()
            except OSError:
                pass

    def cut(self):
        """Drops every relayed connection and refuses new ones."""
        import socket
        self.cut_ev.set()
        with self.lock:
            for c, u in self.pairs:
                for s in (c, u):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
            self.pairs = []

    def heal(self):
        self.cut_ev.clear()

    def close(self):
        self.cut()
        self.lsock.close()


def sc_partition(env):
    """The publisher is cut off from ZooKeeper (not from its subscribers): it fences itself
    (stops delivering) before its session can expire, while ZooKeeper still lists it. A
    second publisher takes the shard once the session expired; no subscriber accepts the
    old one after the new one delivers; when the partition heals, the old one learns that
    it lost the lease and stays standby. Delivery stays complete and in order; no position
    moves back."""
    apps = ["app_p", "app_q"]
    tp = env.tail("app_p")
    tq = env.tail("app_q", 'table = "items"' if env.source == "mariadb" else 'table = "t1"')
    watch = env.zk_watch(["data:/shards/s1/epoch", "data:/apps/app_p/positions/s1",
                          "data:/apps/app_q/positions/s1", "children:/shards/s1/publishers"])
    outs = {"app_p": [tp.out], "app_q": [tq.out]}
    seed = int(os.environ.get("WH_SEED", random.SystemRandom().randrange(1, 10 ** 9)))
    log("seed %d (WH_SEED=%d replays the workload)" % (seed, seed))
    opts = {"updates": 0, "rate": 3000, "tables": 4} if env.source == "synthetic" else None
    pubs = Pubs(env, watch, opts)
    proxy = ZkProxy(int(env.zk.connect.rsplit(":", 1)[1]))
    a = env.publisher(opts, pub_id="pub-a", session_ms=2000, zk_connect=proxy.connect)
    writer = Writer(env, seed) if env.source == "mariadb" else None
    try:
        wait_until(lambda: count_lines(tq.out) > 100, wh.scaled(60), "the first updates")
        wait_until(lambda: pubs.registered("pub-a"), wh.scaled(30), "pub-a to register")
        proxy.cut()
        t0 = time.time()
        wait_until(lambda: "fenced:" in log_text(a), wh.scaled(30),
                   "the cut-off pub-a to fence itself")
        t_fenced = time.time() - t0
        still = pubs.registered("pub-a")
        check(still, "pub-a fenced itself %.2f s after the cut, while ZooKeeper still listed "
              "it (before its session expired)" % t_fenced)
        wait_until(lambda: not pubs.registered("pub-a"), wh.scaled(30),
                   "ZooKeeper to expire the session of the cut-off pub-a")
        log("pub-a cut off from ZooKeeper; fenced after %.2f s, session expired after %.1f s"
            % (t_fenced, time.time() - t0))
        b = pubs.start("pub-b")
        wait_until(lambda: pubs.logged_epoch(b, "pub-b") is not None, wh.scaled(30),
                   "pub-b to register")
        check(pubs.logged_epoch(b, "pub-b") == 2, "pub-b took the shard with epoch 2")
        wait_progress(outs, 60, "pub-b's takeover while pub-a is still cut off")
        time.sleep(2)
        for t in (tp, tq):
            text = log_text(t)
            after = text[text.index("(epoch 2)"):]
            back = len(re.findall(r"\(epoch 1\) at \S+ delivers shard s1", after))
            check(back == 0, "%s: the fenced pub-a delivered %d times after pub-b did"
                  % (t.logpath.rsplit("/", 1)[1], back))
        proxy.heal()
        wait_until(lambda: "lost the lease" in log_text(a) or a.poll() is not None,
                   wh.scaled(30), "pub-a to learn that it lost the lease")
        check(a.poll() is None, "pub-a, healed, learnt that it lost the lease and stays standby")
        wait_progress(outs, 60, "the partition healed")
        stop_standby(a, "pub-a")
    finally:
        proxy.close()
    check_two_apps(env, writer, b, "pub-b", tp, tq, watch, apps,
                   ("app_p", "app_q", "across the partition"))


CHAOS_FAULTS = [  # (fault, weight)
    ("kill_pub", 3), ("kill_sub", 3), ("stop_pub", 3), ("stall_sub", 3), ("zk_restart", 1),
    ("takeover", 1), ("overlap", 1)]
# With a three-node ensemble, ZooKeeper faults hit one node or the quorum instead.
CHAOS_FAULTS_ENSEMBLE = [f for f in CHAOS_FAULTS if f[0] != "zk_restart"] + [
    ("zk_node", 2), ("zk_quorum", 1)]


def chaos_schedule(seed, rounds, ensemble=False):
    """The fault schedule: a pure function of the seed (and of the ZooKeeper kind)."""
    rng = random.Random(seed)
    faults = CHAOS_FAULTS_ENSEMBLE if ensemble else CHAOS_FAULTS
    kinds = [k for k, _ in faults]
    weights = [w for _, w in faults]
    sched = []
    for _ in range(rounds):
        kind = rng.choices(kinds, weights)[0]
        f = {"fault": kind}
        if kind == "kill_pub":
            f["down_s"] = round(rng.uniform(0, 1.5), 2)
        elif kind == "kill_sub":
            f["instance"] = "holder" if rng.random() < 0.75 else "other"
            f["down_s"] = round(rng.uniform(0, 3), 2)
            # Sometimes stalled first, so that it dies with updates received by its host
            # but never processed nor acknowledged.
            f["stalled_s"] = round(rng.uniform(0.3, 1.5), 2) if rng.random() < 0.5 else 0
        elif kind == "stop_pub":
            f["past_session"] = rng.random() < 0.4
            f["stop_s"] = round(rng.uniform(0, 1) if f["past_session"] else
                                rng.uniform(0.2, 1.5), 2)
        elif kind == "stall_sub":
            f["app"] = rng.choice(["app_a", "app_b", "app_c"])
            f["pick"] = rng.randrange(2)
            f["stall_s"] = round(rng.uniform(0.5, 5), 2)
        elif kind == "zk_node":
            f["node"] = rng.choice(["leader", "follower"])
            f["kill"] = rng.random() < 0.5
            f["down_s"] = round(rng.uniform(0, 3), 2)
        elif kind == "zk_quorum":
            f["down_s"] = round(rng.uniform(0.5, 4), 2)
        f["then_s"] = round(rng.uniform(0.2, 1.5), 2)
        sched.append(f)
    return sched


def holder(tails):
    """The name of the instance (of {name: tail}) that holds shard s1: the one whose last
    shard notice is the newest 'assigned' (the first name if none holds it)."""
    best, when = None, ""
    for name, t in sorted(tails.items()):
        last = None
        for line in log_text(t).splitlines():
            if "shard s1 assigned" in line or "shard s1 released" in line:
                last = line
        if last and "assigned" in last and last[:24] > when:
            best, when = name, last[:24]
    return best or sorted(tails)[0]


def sc_chaos(env):
    """Randomised faults while a workload writes: kill -9 and restart of the publisher or of
    a subscriber instance (a second one of the app is live), SIGSTOP/SIGCONT of the
    publisher (sometimes past its session timeout), ZooKeeper restart, a stalled subscriber,
    a takeover by a second publisher while the first is stopped past its session timeout
    (takeover) or alive (overlap). Every flow must get every update, in order, no gaps."""
    if env.source != "mariadb":
        print("skip: chaos runs on the mariadb source")
        raise Skip()
    seed = int(os.environ.get("WH_SEED", random.SystemRandom().randrange(1, 10 ** 9)))
    rounds = int(os.environ.get("WH_CHAOS_ROUNDS", env.rounds))
    ensemble = isinstance(env.zk, wh.ZkEnsemble)
    sched = chaos_schedule(seed, rounds, ensemble)
    log("chaos seed %d, %d rounds (WH_SEED=%d replays the schedule and the workload)"
        % (seed, rounds, seed))
    for r, f in enumerate(sched):
        log("schedule %d: %s" % (r + 1, json.dumps(f, sort_keys=True)))
    apps = ["app_a", "app_b", "app_c"]
    tails = {"app_a": {"inst-1": env.tail("app_a", instance="inst-1"),
                       "inst-2": env.tail("app_a", instance="inst-2")},
             "app_b": {"b": env.tail("app_b")},
             "app_c": {"c": env.tail("app_c", 'table = "items" and op != "delete"')}}
    files = {a: [t.out for t in ts.values()] for a, ts in tails.items()}
    watch = env.zk_watch(["data:/shards/s1/epoch"] +
                         ["data:/apps/%s/positions/s1" % a for a in apps] +
                         ["children:/shards/s1/publishers"])
    pubs = Pubs(env, watch, None)
    pubs.start()
    writer = Writer(env, seed)
    wait_until(lambda: all(received_count(ps) > 0 for ps in files.values()), wh.scaled(60),
               "the first updates at every app")
    t_start = time.time()
    for r, f in enumerate(sched):
        kind = f["fault"]
        log("round %d/%d (%.0f s): inject %s" % (r + 1, rounds, time.time() - t_start,
                                                 json.dumps(f, sort_keys=True)))
        p, pid = pubs.cur, pubs.cur_id
        if kind == "kill_pub":
            p.send_signal(signal.SIGKILL)
            p.wait()
            time.sleep(f["down_s"])
            pubs.start(pid)
        elif kind == "kill_sub":
            name = holder(tails["app_a"])
            if f["instance"] == "other":
                name = "inst-2" if name == "inst-1" else "inst-1"
            log("killing %s of app_a (%s)" % (name, f["instance"]))
            t = tails["app_a"][name]
            if f["stalled_s"]:
                t.send_signal(signal.SIGSTOP)
                time.sleep(f["stalled_s"])
            t.send_signal(signal.SIGKILL)
            t.wait()
            time.sleep(f["down_s"])
            t = env.tail("app_a", instance=name)
            tails["app_a"][name] = t
            files["app_a"].append(t.out)
        elif kind == "stop_pub":
            if f["past_session"]:
                before = log_text(p).count("registered /wh/shards/s1/publishers/")
                pubs.stop_until_expired(p, pid)
                time.sleep(f["stop_s"])
                p.send_signal(signal.SIGCONT)
                wait_until(lambda: log_text(p).count("registered /wh/shards/s1/publishers/") >
                           before, wh.scaled(30), "%s to register again" % pid)
                check(p.poll() is None, "%s registered again after its session expired" % pid)
            else:
                p.send_signal(signal.SIGSTOP)
                time.sleep(f["stop_s"])
                p.send_signal(signal.SIGCONT)
        elif kind == "stall_sub":
            ts = list(tails[f["app"]].values())
            t = ts[f["pick"] % len(ts)]
            t.send_signal(signal.SIGSTOP)
            time.sleep(f["stall_s"])
            t.send_signal(signal.SIGCONT)
        elif kind == "zk_restart":
            env.zk.restart()
        elif kind == "zk_node":
            lead = env.zk.leader()
            lead = 0 if lead is None else lead
            i = lead if f["node"] == "leader" else (lead + 1) % 3
            log("%s ZooKeeper node %d (%s)" % ("killing" if f["kill"] else "stopping", i,
                                               f["node"]))
            (env.zk.kill_node if f["kill"] else env.zk.stop_node)(i)
            time.sleep(f["down_s"])
            env.zk.start_node(i)
        elif kind == "zk_quorum":
            # Two of three nodes down: no quorum, nobody can write; then both back.
            lead = env.zk.leader()
            down = [0 if lead is None else lead, 1 if lead in (0, None) else 0]
            log("stopping ZooKeeper nodes %s: the quorum is lost" % down)
            for i in down:
                env.zk.stop_node(i)
            time.sleep(f["down_s"])
            for i in down:
                env.zk.start_node(i, wait=False)
            for i in down:
                env.zk.nodes[i].wait_serving()
        elif kind == "takeover":
            pubs.stop_until_expired(p, pid)
            pubs.takeover(p, pid)
        elif kind == "overlap":
            # A preferred publisher while this one is alive and connected: it hands the
            # lease over (failback) without any session expiry and stays standby.
            pubs.start(preferred=True)
            wait_until(lambda: "standby: handed the lease" in log_text(p) or
                       p.poll() is not None, wh.scaled(30), "%s to hand the lease over" % pid)
            check(p.poll() is None, "%s handed the lease over to the preferred %s"
                  % (pid, pubs.cur_id))
            stop_standby(p, pid)
        wait_progress(files, 90, "round %d (%s)" % (r + 1, kind))
        time.sleep(f["then_s"])
    log("faults done after %.0f s" % (time.time() - t_start))
    writer.stop()
    full = env.expected()
    want = {"app_a": [pos_key(u) for u in full],
            "app_b": [pos_key(u) for u in full],
            "app_c": [pos_key(u) for u in full
                      if u.get("table") == "items" and u["op"] != "delete"]}
    try:
        for a in apps:
            wait_until(lambda: distinct(files[a], len(want[a])) >= len(want[a]),
                       wh.scaled(120), "%s to receive all %d updates" % (a, len(want[a])))
    except Failed as e:
        log("%s; checking what arrived" % e)   # the checks below say what is missing
    # app_b and app_c have one instance whose process is never replaced: one stream each.
    check_stream(read_lines(files["app_b"][0]), want["app_b"], "app_b")
    check_stream(read_lines(files["app_c"][0]), want["app_c"], "app_c (filtered)")
    check_multi([read_lines(x) for x in files["app_a"]], want["app_a"], "app_a (two instances)")
    check_replay(env, read_lines(files["app_b"][0]))
    check_positions(watch, apps)
    live = [x for x in env.procs if getattr(x, "logpath", "").find("/pub") >= 0 and
            x.poll() is None]
    check(live == [pubs.cur], "exactly one publisher is running at the end (%s)" % pubs.cur_id)
    pubs.cur.terminate()
    check(wait_exit(pubs.cur, 30, pubs.cur_id) == 0, "%s stops cleanly" % pubs.cur_id)


SCENARIOS = {"filters": sc_filters, "kill_pub": sc_kill_pub, "kill_sub": sc_kill_sub,
             "stall": sc_stall, "zk_restart": sc_zk_restart, "garbage": sc_garbage,
             "session_expiry": sc_session_expiry, "split_brain": sc_split_brain,
             "partition": sc_partition, "chaos": sc_chaos}


def main(argv):
    if len(argv) < 2 or argv[1] not in SCENARIOS:
        print(__doc__)
        return 2
    source = "synthetic"
    if "--source" in argv:
        source = argv[argv.index("--source") + 1]
    if source == "mariadb":
        out = subprocess.run([LOGCAT, "--help"], capture_output=True, text=True)
        if "options of mapper 'mysql'" not in out.stdout:
            print("skip: the mysql mapper is not built")
            return SKIP
    for exe in (PUBLISHER, TAIL, E2E_SUB):
        if not os.path.exists(exe):
            print("skip: %s is not built" % exe)
            return SKIP
    zk = "standalone"
    if "--zk" in argv:
        zk = argv[argv.index("--zk") + 1]
    tls = "--tls" in argv
    with wh.Stack() as stack:
        env = Env(stack, source, zk, tls=tls)
        env.rounds = argv[argv.index("--rounds") + 1] if "--rounds" in argv else "25"
        try:
            SCENARIOS[argv[1]](env)
            env.stop_all()
            if tls:
                env.check_tls()
            bad = stack.sanitizer_report()
            if bad:
                raise Failed(bad)
            check(True, "no sanitizer reports in the processes' logs")
        except Skip:
            return SKIP
        except Failed as e:
            print("FAILED: %s" % e, flush=True)
            stack.print_log_tails()
            return 1
        finally:
            env.stop_all()
    print("%s (%s%s): passed" % (argv[1], source, ", TLS" if tls else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
