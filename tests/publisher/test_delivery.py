#!/usr/bin/env python3
"""Integration tests of wormhole-publisher + libwormhole (wormhole-tail) with a real ZooKeeper.

Usage: python3 tests/publisher/test_delivery.py SCENARIO [--source synthetic|mariadb]

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

Source "synthetic" uses the publisher's generator mapper (no database); "mariadb" writes
rows into a real MariaDB from several threads and reads its binlog through the mysql
mapper, and additionally checks that replaying the updates reproduces the tables.
Prints what it checks; exits 0 on success, 1 on a failed check, 77 (skip) if the source
is not available. The random workload prints its seed (WH_SEED replays it).
"""
import json
import os
import random
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
LOGCAT = os.path.join(BUILD, "tools", "wormhole-logcat")
ZK_CHECK = os.path.join(BUILD, "tests", "harness", "zk_check")
SKIP = 77


class Failed(Exception):
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


class Env:
    """Servers, processes and files of one scenario."""

    def __init__(self, stack, source):
        self.stack = stack
        self.source = source
        self.zk = stack.zookeeper()
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

    # -- processes --------------------------------------------------------------------------

    def publisher(self, options=None, delivery=None):
        self.n += 1
        if self.source == "synthetic":
            mapper = {"name": "synthetic", "options": options or {}}
        else:
            mapper = {"name": "mysql", "options": {"binlog_dir": self.db.env("X")["X_BINLOG_DIR"]}}
            mapper["options"].update(options or {})
        cfg = {"shard": "s1", "id": "pub-test",
               "mapper": mapper,
               "zookeeper": {"connect": self.zk.connect, "root": self.root,
                             "session_timeout_ms": 4000},
               "delivery": {"heartbeat_interval_ms": 300, "heartbeat_timeout_ms": 3000,
                            "datamarker_interval_ms": 50, "retry_max_ms": 1000},
               "positions": {"flush_interval_ms": 100}}
        cfg["delivery"].update(delivery or {})
        path = self.stack.path("pub.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        logf = open(self.stack.path("pub%d.log" % self.n), "w")
        p = subprocess.Popen([PUBLISHER, "--config", path], stderr=logf)
        p.logpath = logf.name
        self.procs.append(p)
        return p

    def tail(self, app, filt=None, instance=None):
        self.n += 1
        out = self.stack.path("tail%d.jsonl" % self.n)
        args = [TAIL, "--zk", self.zk.connect + self.root, "--app", app,
                "--session-timeout", "2000"]
        if filt:
            args += ["--filter", filt]
        if instance:
            args += ["--instance", instance]
        logf = open(self.stack.path("tail%d.log" % self.n), "w")
        p = subprocess.Popen(args, stdout=open(out, "w"), stderr=logf)
        p.out = out
        p.logpath = logf.name
        self.procs.append(p)
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
        p = subprocess.Popen([E2E_SUB, "--zk", self.zk.connect + self.root, "--app", app] + extra,
                             stdout=subprocess.PIPE, stderr=logf, text=True)
        p.logpath = logf.name
        self.procs.append(p)
        self.wait_registered(p)
        return p

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
                    self.db.sql_script(";\n".join(statements(rng, t, r * per_round, per_round)) +
                                       ";\n")
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(e)
                    return

        def statements(rng, t, base, count):
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

    def logged():
        with open(p.logpath) as f:
            text = f.read()
        return [line for line in text.splitlines()
                if "app app_bad" in line and "garbage from the subscriber" in line and
                "127.0.0.1:%d" % port in line and "checksum" in line]
    wait_until(lambda: len(logged()) >= 2, 30, "the publisher to log the garbage twice")
    log(logged()[0][24:])
    check(True, "the publisher dropped the instance, naming the peer and the cause, and "
          "retried (%d connections)" % len(accepted))
    check(p.poll() is None, "the publisher keeps running")
    lsock.close()


SCENARIOS = {"filters": sc_filters, "kill_pub": sc_kill_pub, "kill_sub": sc_kill_sub,
             "stall": sc_stall, "zk_restart": sc_zk_restart, "garbage": sc_garbage}


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
    with wh.Stack() as stack:
        env = Env(stack, source)
        try:
            SCENARIOS[argv[1]](env)
            env.stop_all()
            for name in sorted(os.listdir(stack.tmpdir)):
                if name.endswith(".log") and not name.startswith(("zk", "m")):
                    with open(stack.path(name), errors="replace") as f:
                        text = f.read()
                    for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
                        if bad in text:
                            raise Failed("%s reports %s" % (name, bad))
            check(True, "no sanitizer reports in the processes' logs")
        except Failed as e:
            print("FAILED: %s" % e, flush=True)
            for name in sorted(os.listdir(stack.tmpdir)):
                if name.endswith(".log"):
                    with open(stack.path(name)) as f:
                        tail = f.read()[-3000:]
                    print("--- %s (tail)\n%s" % (name, tail))
            return 1
        finally:
            env.stop_all()
    print("%s (%s): passed" % (argv[1], source))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
