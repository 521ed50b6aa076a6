#!/usr/bin/env python3
"""Integration tests of a shard's roles and takeovers (docs/FAILOVER.md), real MariaDB + ZooKeeper.

Usage: python3 tests/publisher/test_roles.py SCENARIO

Every scenario runs two or three candidate publishers for shard s1 (each its own process,
id, priority and status file) against ONE MariaDB, a write load from three client threads
and two apps (wormhole-tail: app_full takes everything, app_items a filter), and ends
with the exact-replay check of tests/harness/stream_check.py for both apps (deduplicated
by position, in log order, replayed rows equal to the final tables).

Scenarios:
  standby    the standby delivers nothing while the active lives: only the active is
             ever seen by the subscribers, the standby's status says standby
  kill       SIGKILL of the active: the standby takes over within the session timeout
             + 1 s; exact replay, in order
  partition  the active's ZooKeeper connection goes through tests/harness/tcp_proxy.py,
             which the test blackholes: the active fences itself (stops delivering,
             'fenced') before its session expires, the standby takes over after the
             expiry; no subscriber accepts the old publisher after the new one's first
             connection, and the raw stream moves back (redelivery) at most once per
             takeover; healed, the old (preferred) one learns it lost the lease and takes
             the shard back cleanly
  dbdown     each candidate reaches MariaDB through its own proxy; the active's is
             dropped: it resigns (hands the lease over, stays standby), the other takes
             over; then its proxy heals and, being preferred, it takes the shard back
             (failback) without a gap
  move       `wormhole-ctl move s1 --to ID`: a clean hand-over; redelivered updates at
             most one datamarker interval's worth (datamarker_updates)
  move_signal SIGUSR1 to the active hands the shard to the best other candidate
  replica_health  one candidate on a replica: its SQL thread stopped, it resigns (no
             candidate is healthy, nothing is delivered); started again, it takes the lease
             back; exact replay against the replica's tables
  startup    the start-up race: preferred pub-a registered, its first health check slow
             (its database relay holds that connection 3 s); pub-b, healthy at once, waits
             for it instead of taking the vacant lease (docs/FAILOVER.md "Election"):
             pub-a takes epoch 1, pub-b never held the lease (failback off for both, so a
             lease taken by pub-b would have stayed with it)
  monitor    two candidates as instances of wormhole-monitor: `status` shows role and
             epoch; the active (preferred) one SIGKILLed, the monitor restarts it and it
             serves the shard again with a newer epoch, with no gap

Prints what it checks; exits 0 on success, 1 on a failed check, 77 (skip) if MariaDB or
ZooKeeper is not available.
"""
import json
import os
import re
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
import tcp_proxy  # noqa: E402
import test_delivery as td  # noqa: E402
import wh_harness as wh  # noqa: E402

CTL = os.path.join(td.BUILD, "tools", "wormhole-ctl")
MONITOR = os.path.join(td.BUILD, "monitor", "wormhole-monitor")
SESSION_MS = 4000
MARKER_UPDATES = 500
ITEMS = sc.Table("app.items", ["id"], ["id", "grp", "name", "qty", "price"])
AUDIT = sc.Table("app.audit", ["id"], ["id", "note"])
TABLES = {"app_full": [ITEMS, AUDIT], "app_items": [ITEMS]}
check = td.check
log = td.log
Failed = td.Failed


class Shard:
    """The candidates of shard s1, the apps and the write load of one scenario. key orders
    and deduplicates the streams: physical positions here (one database), logical ones
    where copies of the shard take turns (test_failover.py)."""

    key = staticmethod(sc.pos_key)

    def __init__(self, env):
        self.env = env
        self.pubs = {}
        self.apps = {"app_full": [env.tail("app_full")],
                     "app_items": [env.tail("app_items", 'table = "items"')]}
        self.writer = None

    def publisher_config(self, pub_id, priority, zk=None, db_port=None, failback=True, db=None,
                         health=None):
        env = self.env
        db = db or env.db
        return {"shard": "s1", "id": pub_id,
               "mapper": {"name": "mysql", "options": {
                   "binlog_dir": db.binlog_dir, "host": "127.0.0.1",
                   "port": db_port or db.port, "user": db.user,
                   "connect_timeout": 2}},
               "zookeeper": {"connect": zk or env.zk.connect, "root": env.root,
                             "session_timeout_ms": SESSION_MS},
               "delivery": {"heartbeat_interval_ms": 300, "heartbeat_timeout_ms": 3000,
                            "datamarker_interval_ms": 50,
                            "datamarker_updates": MARKER_UPDATES, "retry_max_ms": 1000},
               "positions": {"flush_interval_ms": 100},
               "lease": {"priority": priority, "failback": failback, "grace_ms": 3000},
               "health": dict({"interval_ms": 300, "max_replica_lag_s": 30}, **(health or {}))}

    def publisher(self, pub_id, priority, zk=None, db_port=None, failback=True, db=None,
                  health=None):
        env = self.env
        env.n += 1
        cfg = self.publisher_config(pub_id, priority, zk, db_port, failback, db, health)
        path = env.stack.path("%s.json" % pub_id)
        with open(path, "w") as f:
            json.dump(cfg, f)
        logf = open(env.stack.path("%s-%d.log" % (pub_id, env.n)), "w")
        status = env.stack.path("%s.status" % pub_id)
        penv = dict(os.environ, WORMHOLE_STATUS_FILE=status, WORMHOLE_STATUS_INTERVAL_MS="200")
        p = subprocess.Popen([td.PUBLISHER, "--config", path], stderr=logf, env=penv)
        p.logpath = logf.name
        p.status = status
        p.pub_id = pub_id
        env.procs.append(p)
        self.pubs[pub_id] = p
        return p

    def role(self, p):
        """(role, epoch) from p's status file while p runs; (None, None) otherwise."""
        try:
            with open(p.status) as f:
                st = json.load(f)
        except (OSError, ValueError):
            return None, None
        if st.get("pid") != p.pid or p.poll() is not None:
            return None, None
        return st.get("role"), st.get("epoch")

    def wait_role(self, p, role, timeout, what=None):
        td.wait_until(lambda: self.role(p)[0] == role, wh.scaled(timeout),
                      what or "%s to be %s" % (p.pub_id, role))

    def active_since(self, p):
        """Wall times at which p logged that it took the lease."""
        return [m for m in re.findall(r"active: took the lease of shard s1; registered "
                                      r"\S+ with epoch (\d+)", td.log_text(p))]

    def start_writes(self, seed=None):
        seed = int(os.environ.get("WH_SEED", seed if seed is not None else time.time()))
        log("workload seed %d (WH_SEED=%d replays it)" % (seed, seed))
        self.writer = td.Writer(self.env, seed, threads=3, batch=20, pause=0.1)

    def files(self):
        return {a: [t.out for t in ts] for a, ts in self.apps.items()}

    def progress(self, what, timeout=60):
        td.wait_progress(self.files(), timeout, what)

    def finish(self, what, db=None):
        """Stops the writes, waits for the apps to catch up and checks the exact replay
        against db's final tables (the primary's by default)."""
        self.writer.stop()
        want = {a: sc.dump_tables(db or self.env.db, TABLES[a]) for a in TABLES}
        for app, tails in self.apps.items():
            def clean():
                lines = [u for t in tails for u in td.read_lines(t.out)]
                return not sc.check_app(lines, TABLES[app], want[app], key=self.key)[0]
            try:
                td.wait_until(clean, wh.scaled(60), "%s to catch up" % app)
            except Failed:
                pass   # reported below with the problems
            lines = [u for t in tails for u in td.read_lines(t.out)]
            problems, stats = sc.check_app(lines, TABLES[app], want[app], key=self.key)
            check(not problems, "%s: %s: the deduplicated stream (%d updates, %d redelivered) "
                  "replays to the final tables, in log order%s"
                  % (what, app, stats["received"], stats["duplicates"],
                     "" if not problems else ": " + "; ".join(problems[:5])))

    def regressions(self, app):
        """How many times the raw stream of app moved back (a redelivery after a
        takeover); two publishers interleaving would move it back again and again."""
        n, last = 0, None
        for t in self.apps[app]:
            for u in td.read_lines(t.out):
                k = self.key(u)
                if last is not None and k <= last:
                    n += 1
                last = k
        return n

    def accepted(self, app):
        """The publishers (id, epoch) each tail of app accepted, in order, from its log."""
        out = []
        for t in self.apps[app]:
            with open(t.logpath, errors="replace") as f:
                out += [(m[0], int(m[1])) for m in
                        re.findall(r"publisher (\S+) \(epoch (\d+)\) at \S+ delivers shard s1",
                                   f.read())]
        return out


def watch_takeover(shard, old, new, timeout):
    """Polls, from the fault on, when old logged that it fenced itself (stopped
    delivering) and when new became active; returns those times in seconds after the
    call."""
    t0, out = time.time(), {}
    while time.time() - t0 < wh.scaled(timeout) and len(out) < 2:
        now = time.time() - t0
        if "fenced" not in out and "fenced:" in td.log_text(old):
            out["fenced"] = now
        if "active" not in out and shard.role(new)[0] == "active":
            out["active"] = now
        time.sleep(0.02)
    if len(out) < 2:
        raise Failed("within %d s of the fault: %s" % (wh.scaled(timeout), out))
    log("after the fault: %s" % ", ".join("%s at %.2f s" % kv for kv in sorted(out.items(),
                                                                          key=lambda x: x[1])))
    return out


def redelivered(shard):
    return {a: len(ls) - len(sc.dedup(ls, shard.key)) for a, ls in
            ((a, [u for t in ts for u in td.read_lines(t.out)]) for a, ts in shard.apps.items())}


def no_interleaving(shard, old_id, new_id):
    """No tail accepted old_id once it had accepted new_id, and each raw stream moved back
    at most once (the takeover's redelivery)."""
    for app in shard.apps:
        seq = [pid for pid, _ in shard.accepted(app)]
        check(new_id in seq and old_id not in seq[seq.index(new_id):],
              "%s: accepted %s, never %s after it (publishers seen in order: %s)"
              % (app, new_id, old_id, ", ".join(seq)))
        r = shard.regressions(app)
        check(r <= 1, "%s: the raw stream moved back %d time(s) (at most once: one "
              "redelivery, no interleaving)" % (app, r))


# ---- scenarios -------------------------------------------------------------------------------

def scenario_standby(env):
    s = Shard(env)
    a = s.publisher("pub-a", 10)
    s.wait_role(a, "active", 30)
    b = s.publisher("pub-b", 0)
    s.wait_role(b, "standby", 30)
    s.start_writes()
    s.progress("the start")
    time.sleep(3)
    s.progress("three seconds of standby")
    check(not s.active_since(b) and s.role(b)[0] == "standby",
          "pub-b stays standby (its status says %s, epoch %s) while pub-a lives"
          % s.role(b))
    for app in s.apps:
        seen = {pid for pid, _ in s.accepted(app)}
        check(seen == {"pub-a"}, "%s: only pub-a ever delivered (saw %s)" % (app, sorted(seen)))
    check(s.role(a) == ("active", 1), "pub-a's status: active with epoch 1 (%s, %s)" % s.role(a))
    s.finish("standby")


def scenario_kill(env):
    s = Shard(env)
    a = s.publisher("pub-a", 10)
    s.wait_role(a, "active", 30)
    b = s.publisher("pub-b", 0)
    s.wait_role(b, "standby", 30)
    s.start_writes()
    s.progress("the start")
    a.send_signal(signal.SIGKILL)
    t0 = time.time()
    s.wait_role(b, "active", SESSION_MS / 1000 + 10)
    took = time.time() - t0
    log("pub-b active %.2f s after the SIGKILL" % took)
    check(took < (SESSION_MS / 1000 + 1) * wh.scaled(1),
          "pub-b took over %.2f s after pub-a's SIGKILL (bound: session %d ms + 1 s)"
          % (took, SESSION_MS))
    check(s.role(b)[1] == 2, "pub-b holds epoch 2 (%s)" % s.role(b)[1])
    s.progress("the takeover")
    no_interleaving(s, "pub-a", "pub-b")
    s.finish("kill")


def scenario_partition(env):
    s = Shard(env)
    proxy = tcp_proxy.TcpProxy(env.zk.port)
    a = s.publisher("pub-a", 10, zk=proxy.address)
    s.wait_role(a, "active", 30)
    b = s.publisher("pub-b", 0)
    s.wait_role(b, "standby", 30)
    s.start_writes()
    s.progress("the start")
    proxy.blackhole()
    t = watch_takeover(s, a, b, SESSION_MS / 1000 + 20)
    check(t["fenced"] < t["active"], "pub-a, cut off from ZooKeeper, fenced itself (stopped "
          "delivering, %.2f s after the cut) before pub-b became active (%.2f s)"
          % (t["fenced"], t["active"]))
    check(t["fenced"] < SESSION_MS / 1000, "pub-a fenced itself before its session could "
          "expire (%.2f s < %.1f s)" % (t["fenced"], SESSION_MS / 1000))
    check(t["active"] < (SESSION_MS / 1000 + 2) * wh.scaled(1),
          "pub-b took over %.2f s after the partition (bound: session + 2 s)" % t["active"])
    check(a.poll() is None and s.role(a)[0] == "standby",
          "pub-a stays up, delivering nothing (status %s)" % s.role(a)[0])
    s.progress("the takeover")
    no_interleaving(s, "pub-a", "pub-b")
    # The partition heals: pub-a learns that its session expired, registers again and,
    # being preferred (priority 10 > 0), takes the shard back by a clean hand-over.
    proxy.heal()
    s.wait_role(a, "active", 30, "pub-a to take the shard back after the partition healed")
    check("lost the lease" in td.log_text(a), "pub-a logged that it had lost the lease")
    s.wait_role(b, "standby", 10)
    s.progress("the failback after the partition")
    proxy.close()
    s.finish("partition")


def scenario_dbdown(env):
    s = Shard(env)
    pa, pb = tcp_proxy.TcpProxy(env.db.port), tcp_proxy.TcpProxy(env.db.port)
    a = s.publisher("pub-a", 10, db_port=pa.port)
    s.wait_role(a, "active", 30)
    b = s.publisher("pub-b", 0, db_port=pb.port)
    s.wait_role(b, "standby", 30)
    s.start_writes()
    s.progress("the start")
    pa.drop()
    t0 = time.time()
    s.wait_role(b, "active", 20, "pub-b to take over from pub-a, whose database is down")
    log("pub-b active %.2f s after pub-a's database went away" % (time.time() - t0))
    s.wait_role(a, "standby", 10)
    check(a.poll() is None and "handing shard s1 over" in td.log_text(a),
          "pub-a resigned the lease (handed it over) and stays up as a standby")
    s.progress("the resignation")
    # Failback: pub-a's database is back; pub-a is preferred (priority 10 > 0).
    pa.heal()
    t1 = time.time()
    s.wait_role(a, "active", 30, "pub-a to take the shard back (failback)")
    log("failback %.2f s after pub-a's database came back" % (time.time() - t1))
    s.wait_role(b, "standby", 10)
    s.progress("the failback")
    for app in s.apps:
        seq = [pid for pid, _ in s.accepted(app)]
        check(seq[-1:] == ["pub-a"] and "pub-b" in seq,
              "%s: delivered by pub-a, then pub-b, then pub-a again (%s)" % (app, ", ".join(seq)))
    s.finish("dbdown and failback")
    print("# redelivered: %s" % redelivered(s))


def move_common(env, how):
    s = Shard(env)
    a = s.publisher("pub-a", 10, failback=False)
    s.wait_role(a, "active", 30)
    b = s.publisher("pub-b", 0)
    c = s.publisher("pub-c", 5)
    s.wait_role(b, "standby", 30)
    s.wait_role(c, "standby", 30)
    s.start_writes()
    s.progress("the start")
    before = redelivered(s)
    if how == "ctl":
        out = subprocess.run([CTL, "--zk", env.zk.connect + env.root, "move", "s1", "--to",
                              "pub-b"], capture_output=True, text=True, timeout=30)
        check(out.returncode == 0, "wormhole-ctl move s1 --to pub-b: %s%s"
              % (out.stdout.strip(), out.stderr.strip()))
        target = b
    else:
        a.send_signal(signal.SIGUSR1)
        target = c   # the best other candidate: priority 5 over 0
    s.wait_role(target, "active", 20)
    s.wait_role(a, "standby", 10)
    check(s.role(b if target is c else c)[0] == "standby", "the third candidate stays standby")
    s.progress("the move")
    time.sleep(1)
    check(a.poll() is None, "pub-a is still up, as a standby")
    after = redelivered(s)
    for app in s.apps:
        n = after[app] - before[app]
        check(n <= MARKER_UPDATES, "%s: %d updates redelivered by the move (at most one "
              "datamarker interval: %d)" % (app, n, MARKER_UPDATES))
    no_interleaving(s, "pub-a", target.pub_id)
    s.finish("move")


def scenario_move(env):
    move_common(env, "ctl")


def scenario_move_signal(env):
    move_common(env, "signal")


def scenario_monitor(env):
    """Two candidates run as instances of one wormhole-monitor: `status` shows each one's
    role and epoch; the active (preferred) one SIGKILLed, the monitor restarts it and it
    serves the shard again with a newer epoch (directly, or after cand-b by failback)."""
    s = Shard(env)
    conf, run = env.stack.path("monitor.d"), env.stack.path("monitor-run")
    os.makedirs(conf)
    for name, prio in (("cand-a", 10), ("cand-b", 0)):
        pub = s.publisher_config(name, prio)
        inst = {"command": td.PUBLISHER, "backoff": {"initial_ms": 200, "max_ms": 1000},
                "publisher": pub}
        with open(os.path.join(conf, name + ".json"), "w") as f:
            json.dump(inst, f)
    logf = open(env.stack.path("monitor.log"), "w")
    mon = subprocess.Popen([MONITOR, "--config-dir", conf, "--run-dir", run], stdout=logf,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    env.procs.append(mon)

    def roles():
        out = subprocess.run([MONITOR, "status", "--json", "--run-dir", run],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            return {}
        return {i["name"]: (i["role"], i["epoch"], i["pid"])
                for i in json.loads(out.stdout)["instances"]}

    # Started together, cand-b may be healthy first and take the lease; cand-a, preferred,
    # then takes it back by failback: either way the shard settles on cand-a.
    td.wait_until(lambda: [r[0] for _, r in sorted(roles().items())] == ["active", "standby"],
                  wh.scaled(60), "cand-a active and cand-b standby in wormhole-monitor status")
    r = roles()
    e = r["cand-a"][1]
    check(r["cand-a"][0] == "active" and e >= 1 and r["cand-b"][0] == "standby",
          "wormhole-monitor status: cand-a active with epoch %d, cand-b standby (%s)" % (e, r))
    text = subprocess.run([MONITOR, "status", "--run-dir", run], capture_output=True,
                          text=True, timeout=30).stdout
    check(re.search(r"cand-a +running .* active +%d " % e, text) and
          re.search(r"cand-b +running .* standby +\d+ ", text),
          "the status table has the ROLE and EPOCH columns:\n%s" % text)
    s.start_writes()
    s.progress("the start")
    old_pid = r["cand-a"][2]
    os.kill(old_pid, signal.SIGKILL)
    # The monitor restarts cand-a at once; once the killed one's session expired, the
    # best healthy candidate takes the lease: the restarted cand-a if it registered by
    # then, else cand-b and then cand-a by failback.
    # One snapshot of the status decides (two reads could see two moments, and a
    # report written before the epoch is known has none).
    seen = {}

    def restarted_serves():
        r = roles()
        a = r.get("cand-a", (None, None, 0))
        if a[0] == "active" and a[2] != old_pid and a[1] is not None:
            seen.update(r)
            return True
        return False
    td.wait_until(restarted_serves, wh.scaled(60), "the restarted cand-a to serve the shard again")
    r = seen
    check(r["cand-a"][1] > e and r["cand-b"][0] == "standby",
          "the monitor restarted cand-a (pid %d, was %d), which serves the shard with epoch %d "
          "> %d; cand-b standby (%s)" % (r["cand-a"][2], old_pid, r["cand-a"][1], e, r))
    s.progress("the failback")
    s.finish("monitor")


def scenario_replica_health(env):
    """A candidate reading a replica: its replication SQL thread stopped, it is unhealthy
    and resigns (no candidate is healthy: the shard waits, nothing is lost); replication
    started again, it takes the lease back and delivery resumes, exactly."""
    s = Shard(env)
    rep_db = env.stack.replica(env.db)
    r = s.publisher("pub-r", 0, db=rep_db)
    s.wait_role(r, "active", 30)
    s.start_writes()
    s.progress("the start")
    rep_db.sql("STOP SLAVE SQL_THREAD")
    s.wait_role(r, "standby", 20, "pub-r to resign when its replica stops applying")
    check("Slave_SQL_Running is No" in td.log_text(r),
          "pub-r logged why its copy cannot serve (Slave_SQL_Running is No) and resigned")
    before = {a: td.received_count(ps) for a, ps in s.files().items()}
    time.sleep(2)
    after = {a: td.received_count(ps) for a, ps in s.files().items()}
    check(before == after and s.role(r)[0] == "standby",
          "no candidate is healthy: nothing is delivered (%s)" % after)
    rep_db.sql("START SLAVE SQL_THREAD")
    s.wait_role(r, "active", 30, "pub-r to take the lease again once its replica applies")
    check(s.role(r)[1] == 2, "pub-r active again with epoch 2")
    s.progress("replication restarted")
    s.writer.stop()
    s.writer.stop = lambda: None
    rep_db.wait_caught_up(env.db)
    s.finish("replica health", db=rep_db)


class HoldOne(tcp_proxy.TcpProxy):
    """A relay that holds its connection number `which` (0-based) for hold_s seconds
    before relaying it; the others relay at once."""

    def __init__(self, target_port, which, hold_s):
        self.which, self.hold_s, self.n = which, hold_s, 0
        super().__init__(target_port)

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            hold = self.hold_s if self.n == self.which else 0
            self.n += 1
            threading.Thread(target=self._relay, args=(c, hold), daemon=True).start()

    def _relay(self, c, hold):
        time.sleep(hold)
        try:
            u = socket.create_connection(self.target, timeout=5)
            u.settimeout(None)
        except OSError:
            c.close()
            return
        with self.lock:
            self.conns.append((c, u))
        for a, b in ((c, u), (u, c)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()


def scenario_startup(env):
    """Preferred pub-a is registered but its first health check has not ended (its
    database relay holds the check's connection: the first is the settings check at
    start, the second the health thread's); pub-b, healthy at once, must wait for it
    (within lease.grace_ms) instead of taking the vacant lease."""
    s = Shard(env)
    relay = HoldOne(env.db.port, 1, 3.0)
    procs = {}
    for pub_id, prio, port in (("pub-a", 10, relay.port), ("pub-b", 0, None)):
        cfg = s.publisher_config(pub_id, prio, db_port=port, failback=False)
        cfg["lease"]["grace_ms"] = 15000
        cfg["mapper"]["options"]["connect_timeout"] = 20
        path = env.stack.path("%s.json" % pub_id)
        with open(path, "w") as f:
            json.dump(cfg, f)
        env.n += 1
        logf = open(env.stack.path("%s-%d.log" % (pub_id, env.n)), "w")
        status = env.stack.path("%s.status" % pub_id)
        p = subprocess.Popen([td.PUBLISHER, "--config", path], stderr=logf,
                             env=dict(os.environ, WORMHOLE_STATUS_FILE=status,
                                      WORMHOLE_STATUS_INTERVAL_MS="200"))
        p.logpath, p.status, p.pub_id = logf.name, status, pub_id
        env.procs.append(p)
        s.pubs[pub_id] = procs[pub_id] = p
        if pub_id == "pub-a":
            td.wait_until(lambda: "registered /" in td.log_text(p) and
                          "candidates/pub-a" in td.log_text(p), wh.scaled(30),
                          "pub-a to register as a candidate")
            check("first health check has not ended" in td.log_text(p),
                  "pub-a registered before its first health check ended")
    a, b = procs["pub-a"], procs["pub-b"]
    s.wait_role(a, "active", 40, "pub-a, preferred, to take the lease once healthy")
    s.wait_role(b, "standby", 10)
    check(s.role(a)[1] == 1, "pub-a holds the shard's first epoch (%s)" % s.role(a)[1])
    check(not s.active_since(b), "pub-b never took the lease")
    check("waiting for candidate pub-a" in td.log_text(b),
          "pub-b logged that it waits for pub-a's first health check")
    s.start_writes()
    s.progress("the start")
    for app in s.apps:
        seen = {pid for pid, _ in s.accepted(app)}
        check(seen == {"pub-a"}, "%s: only pub-a ever delivered (saw %s)" % (app, sorted(seen)))
    s.finish("startup")
    relay.close()


SCENARIOS = {"standby": scenario_standby, "kill": scenario_kill,
             "partition": scenario_partition, "dbdown": scenario_dbdown,
             "move": scenario_move, "move_signal": scenario_move_signal,
             "monitor": scenario_monitor, "replica_health": scenario_replica_health,
             "startup": scenario_startup}


def main(argv):
    if len(argv) < 2 or argv[1] not in SCENARIOS:
        print(__doc__)
        return 2
    for exe in (td.PUBLISHER, td.TAIL):
        if not os.path.exists(exe):
            print("skip: %s is not built" % exe)
            return td.SKIP
    with wh.Stack() as stack:
        env = td.Env(stack, "mariadb")
        try:
            SCENARIOS[argv[1]](env)
            env.stop_all()
            bad = stack.sanitizer_report()
            if bad:
                raise Failed(bad)
            check(True, "no sanitizer reports in the processes' logs")
        except Failed as e:
            print("FAILED: %s" % e, flush=True)
            stack.print_log_tails()
            return 1
        finally:
            env.stop_all()
    print("%s: passed" % argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
