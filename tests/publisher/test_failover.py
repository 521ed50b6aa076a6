#!/usr/bin/env python3
"""Failover across the copies of a shard: another copy's publisher continues every flow from
the same logical position in its own binlog (docs/FAILOVER.md).

Usage: python3 tests/publisher/test_failover.py SCENARIO

A harness MariaDB primary (binlog mysql-bin) and two replicas with binlogs of their own
(rep1-bin, rep2-bin, each rotated once, so file names and offsets differ from the
primary's), ZooKeeper, a write load of inserts, updates and deletes from three client
threads, and two apps: app_full (no filter) and app_items (filter table = "items": the
audit inserts are filtered out, so its acknowledged position often sits after a tail of
transactions it never received). A candidate publisher runs next to each copy
(test_roles.Shard: its own id, priority, status file; health.interval_ms 300): pub-primary
(priority 10), pub-replica1 (5) and pub-replica2 (0), so the primary's is active and the
replicas' stand by.

  kill_pub     SIGKILL of the active publisher mid-load: the standby on replica 1 takes over
               within the session timeout + 1 s (replica 2's stays standby) and continues
               every flow from its own binlog; no interleaving at any subscriber
  kill_pub_same_names
               the same with replica 1's binlog named like the primary's (mysql-bin): where
               the names match, seeking the stored file and offset lands on the wrong
               transaction and skips silently; the copy identity must prevent it
  promote      SIGKILL of the primary mariadbd and of its publisher: the replicas' candidates,
               their IO threads cut off, are unhealthy and nobody delivers; replica 1 promoted
               (STOP SLAVE, read_only off), replica 2 re-pointed to it (MASTER_USE_GTID),
               replica 1's standby takes the lease and writes go on on replica 1
  partition    the active publisher's ZooKeeper connection goes through
               tests/harness/tcp_proxy.py, blackholed: it fences itself before its session
               can expire, replica 1's standby takes over (session + 2 s), no subscriber
               accepts the old one after the new one; healed, the preferred primary's
               publisher takes the shard back
  failback     SIGKILL of the active publisher, replica 1's standby takes over; the primary's
               publisher restarted (preferred, healthy after the lease was taken) gets the
               shard back by a planned move (lease.failback): no gap, at most one datamarker
               interval redelivered
  io_stopped   replica 1's IO thread stopped: its candidate is unhealthy, and at the active
               one's SIGKILL it declines the lease although preferred over replica 2's, which
               takes it; IO thread started, replica 1's takes the shard back (failback);
               stopped again, it resigns to replica 2's
  lag_bound    health.max_replica_lag_s = 3; a session on replica 1 holds FLUSH TABLES WITH
               READ LOCK, its SQL thread blocks and its Seconds_Behind_Master grows past the
               bound: the same decline, failback and resignation as io_stopped, by lag
  delay_wait   replica 1 replicates with MASTER_DELAY (within the lag bound: healthy) and
               its standby, preferred, takes the lease at the active one's SIGKILL before the
               acknowledged positions reached its binlog: its readers wait (status file
               waiting_readers, one WARN each), deliver nothing, then continue exactly from
               the position when it arrives
  domains      three replication domains written at once; replica 2 (parallel replication)
               interleaves them otherwise than the primary; the primary's publisher is
               SIGKILLed and the standby on replica 2 continues by the positions' GTID state
  lagging      replica 1's SQL thread is stopped while the primary's publisher delivers past
               it; a publisher started on replica 1 declines the lease (unhealthy) or waits,
               delivers nothing, and catches up exactly once replication resumes
  settings     the checks at start: a replica without log_slave_updates is refused,
               gtid_strict_mode OFF is a warning, no schema connection: not checked

Each app's stream must pass the stream check (tests/harness/stream_check.py) deduplicated
by logical position (the physical ones differ between copies): nothing the serving copy's
log lacks, in log order, and replaying to the final tables of the copy that serves at the
end. Exits 0, 1 on a failed check, 77 when MariaDB or ZooKeeper are not installed.
"""
import json
import os
import signal
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
import test_roles as roles  # noqa: E402
import wh_harness as wh  # noqa: E402
from test_delivery import Failed, check, log, log_text, read_lines, wait_until  # noqa: E402

ITEMS, AUDIT = roles.ITEMS, roles.AUDIT
APPS = {"app_full": (None, [ITEMS, AUDIT]), "app_items": ('table = "items"', [ITEMS])}
SESSION_S = roles.SESSION_MS / 1000
ENVS = []   # every scenario's td.Env, stopped at the end


class Shard(roles.Shard):
    """The copies of the shard, ZooKeeper, the apps' subscribers (test_roles.Shard: the
    candidates, the write load, roles and the no-interleaving checks, with streams keyed
    by logical position) and the checks against one copy's binlog and tables."""

    key = staticmethod(sc.logical_key)

    def __init__(self, stack, replicas=2, same_names=False):
        env = td.Env(stack, "mariadb")
        ENVS.append(env)
        self.stack = stack
        self.primary = env.db
        self.reps = [stack.replica(self.primary, name="replica%d" % (i + 1),
                                   binlog_basename="mysql-bin" if same_names and i == 0
                                   else "rep%d-bin" % (i + 1))
                     for i in range(replicas)]
        if same_names:
            # The load lands in mysql-bin.000002 on both, at offsets that differ a little.
            self.primary.flush_logs()
        else:
            for r in self.reps:
                r.flush_logs()   # a second rotation: offsets differ as well as names
        roles.Shard.__init__(self, env)
        self.tails = {app: ts[0] for app, ts in self.apps.items()}

    def candidate(self, db, pub_id, priority, **kw):
        """A candidate publisher next to db (its schema connection checks the settings
        and the health); returns once it computed its copy identity."""
        p = self.publisher(pub_id, priority, db=db, **kw)
        wait_until(lambda: "copy of shard s1" in log_text(p) or p.poll() is not None,
                   wh.scaled(30), "publisher %s to start" % pub_id)
        check(p.poll() is None, "publisher %s runs on %s (%s)" % (
            pub_id, db.name, [l for l in log_text(p).splitlines() if "copy of shard" in l]))
        return p

    def candidates(self, **kw):
        """pub-primary (10, active), pub-replica1 (5) and pub-replica2 (0) standing by."""
        a = self.candidate(self.primary, "pub-primary", 10, **kw.get("primary", {}))
        self.wait_role(a, "active", 30)
        out = [a]
        for i, r in enumerate(self.reps):
            out.append(self.candidate(r, "pub-replica%d" % (i + 1), 5 - 5 * i,
                                      **kw.get("replicas", {})))
        for p in out[1:]:
            self.wait_role(p, "standby", 30)
        return out

    def received(self, app):
        return read_lines(self.tails[app].out)

    def counts(self):
        return {app: td.count_lines(t.out) for app, t in self.tails.items()}

    def expected(self, db):
        """Logical keys of every update each app must get, from db's binlog."""
        out = td.subprocess.run([td.LOGCAT, "--mapper", "mysql", "--binlog-dir",
                                 db.binlog_dir, "--shard", "s1"],
                                capture_output=True, text=True, timeout=wh.scaled(120))
        if out.returncode != 0:
            raise Failed("wormhole-logcat failed: %s" % out.stderr[-500:])
        ups = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
        want = {"app_full": [sc.logical_key(u) for u in ups],
                "app_items": [sc.logical_key(u) for u in ups if u.get("table") == "items"]}
        return want, ups

    def wait_complete(self, want, what, timeout=180):
        for app, keys in want.items():
            need = set(keys)

            def complete():
                got = set(sc.logical_key(u) for u in self.received(app))
                return need <= got
            wait_until(complete, wh.scaled(timeout), "%s: %d updates %s" % (app, len(need), what))

    def stream_check(self, db, want):
        """Each app's stream, deduplicated by logical position, is exactly the log's
        (nothing skipped, nothing extra), in order, and replays to db's tables."""
        for app, (_, tables) in APPS.items():
            got = self.received(app)
            keys = set(sc.logical_key(u) for u in got)
            extra = keys - set(want[app])
            check(not extra, "%s received no update that %s's log lacks (%d extra: %s)"
                  % (app, db.name, len(extra), sorted(extra)[:3]))
            problems, stats = sc.check_app(got, tables, sc.dump_tables(db, tables),
                                           key=sc.logical_key)
            check(not problems, "%s: the stream, deduplicated by logical position, replays "
                  "to %s's tables in order (%s)%s" % (app, db.name, stats,
                                                       "" if not problems else
                                                       ": " + "; ".join(problems[:5])))

    def settle(self, db, what):
        """The end of a scenario under load: the writes stop, the replicas of db catch up,
        every update of db's binlog arrives and each app's stream checks out against db."""
        if self.writer:
            self.writer.stop()
            self.writer = None
        if getattr(db, "primary", None) is not None and db.primary.proc is not None:
            db.wait_caught_up()   # a replica (not promoted) reaches its primary's end
        want, ups = self.expected(db)
        self.wait_complete(want, what)
        self.stream_check(db, want)
        return want, ups

    def from_copy(self, app, db, other=None):
        """How many updates app received at the physical position db's binlog has for
        them (and, with other, at a position other's binlog does not have for them:
        delivered from db's own files and offsets, however alike the names)."""
        mine = {sc.logical_key(u): u["pos"]["physical"] for u in self.expected(db)[1]}
        theirs = {sc.logical_key(u): u["pos"]["physical"]
                  for u in self.expected(other)[1]} if other else {}
        return sum(1 for u in self.received(app)
                   if mine.get(sc.logical_key(u)) == u["pos"]["physical"] and
                   theirs.get(sc.logical_key(u)) != u["pos"]["physical"])

    def takeover(self, new, fault, bound_s, others=()):
        """Waits for new to become active after the fault (at the time fault); checks it
        did within bound_s (scaled) and that the others stayed standby."""
        self.wait_role(new, "active", bound_s + 20,
                       "%s to take the shard over after %s" % (new.pub_id, fault[0]))
        took = time.time() - fault[1]
        check(took < bound_s * wh.scaled(1), "%s took the shard over %.2f s after %s (bound "
              "%.1f s)" % (new.pub_id, took, fault[0], bound_s * wh.scaled(1)))
        for p in others:
            check(self.role(p)[0] == "standby", "%s stays standby" % p.pub_id)
        return took

    def planned(self, before, what):
        """A planned hand-over (move, failback, resignation) redelivered at most one
        datamarker interval per app since the redelivered counts before."""
        after = roles.redelivered(self)
        for app in self.apps:
            n = after[app] - before[app]
            check(n <= roles.MARKER_UPDATES, "%s: %d updates redelivered by %s (at most one "
                  "datamarker interval: %d)" % (app, n, what, roles.MARKER_UPDATES))

    def servers(self, app):
        """The publishers app accepted, in order, a reconnection to the same one not
        repeated."""
        seq = []
        for pid, _ in self.accepted(app):
            if not seq or seq[-1] != pid:
                seq.append(pid)
        return seq

    def stays_out(self, p, since_epochs):
        """p took the lease no more times than the epochs it had taken before."""
        n = len(self.active_since(p))
        check(n == since_epochs, "%s did not take the lease (took it %d times, %d before)"
              % (p.pub_id, n, since_epochs))


def kill(p, what):
    p.send_signal(signal.SIGKILL)
    p.wait()
    log("%s killed with SIGKILL" % what)
    return (what, time.time())


def sc_kill_pub(st, same_names=False):
    sh = Shard(st, same_names=same_names)
    rep1 = sh.reps[0]
    a, b, c = sh.candidates()
    sh.start_writes()
    wait_until(lambda: td.count_lines(sh.tails["app_full"].out) > 800, wh.scaled(90),
               "the first updates from the primary's publisher")
    fault = kill(a, "the active publisher pub-primary (after %d updates to app_full)"
                 % td.count_lines(sh.tails["app_full"].out))
    sh.takeover(b, fault, SESSION_S + 1, [c])
    sh.progress("the takeover on replica 1")
    roles.no_interleaving(sh, "pub-primary", "pub-replica1")
    want, ups = sh.settle(rep1, "after the takeover on replica 1")
    check(len(ups) > 800, "replica 1's binlog holds the whole load (%d updates, more than the "
          "800 delivered before the kill)" % len(ups))
    pwant, _ = sh.expected(sh.primary)
    check(pwant == want, "the primary's log and replica 1's hold the same logical stream")
    n = sh.from_copy("app_full", rep1, sh.primary)
    check(n > 0, "replica 1's publisher delivered %d updates at its own binlog's positions, "
          "which the primary's binlog has elsewhere (%s...)" % (n, rep1.binlog_files()[0]))


def sc_kill_pub_same_names(st):
    sc_kill_pub(st, same_names=True)


def sc_promote(st):
    sh = Shard(st)
    rep1, rep2 = sh.reps
    a, b, c = sh.candidates()
    sh.start_writes()
    wait_until(lambda: td.count_lines(sh.tails["app_full"].out) > 500, wh.scaled(90),
               "the first updates from the primary's publisher")
    # The load stops and the replicas catch up, then the publisher and its database die
    # together: the replicas hold everything the primary committed (what a primary logged
    # and no replica received is not on the surviving timeline: docs/FAILOVER.md).
    sh.writer.stop()
    sh.writer = None
    rep1.wait_caught_up(sh.primary)
    rep2.wait_caught_up(sh.primary)
    fault = kill(a, "the active publisher pub-primary (after %d updates to app_full)"
                 % td.count_lines(sh.tails["app_full"].out))
    sh.primary.kill()
    log("the primary mariadbd killed with SIGKILL")
    # Without a primary the replicas' IO threads reconnect in vain: their candidates are
    # unhealthy and none takes the vacant lease (docs/FAILOVER.md "Health").
    before = sh.counts()
    time.sleep(SESSION_S + 2)
    check(sh.role(b)[0] == "standby" and sh.role(c)[0] == "standby" and
          sh.counts() == before, "while the replicas have no primary, no candidate takes the "
          "lease (%s) and nothing is delivered" % [sh.role(p)[0] for p in (b, c)])
    check("Slave_IO_Running is Connecting" in log_text(b),
          "pub-replica1 says why it cannot serve (Slave_IO_Running is Connecting)")
    rep1.sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF")
    rep2.sql("STOP SLAVE; CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, "
             "MASTER_USER='root', MASTER_PASSWORD='', MASTER_CONNECT_RETRY=1, "
             "MASTER_USE_GTID=slave_pos; START SLAVE" % rep1.port)
    rep1.primary, rep2.primary = None, rep1
    log("replica 1 promoted; replica 2 replicates from it")
    # The best healthy candidate takes the lease: replica 1's (priority 5), or replica 2's
    # if it was healthy first, and then replica 1's by failback.
    sh.wait_role(b, "active", 40, "pub-replica1 to serve the shard from the promoted copy")
    sh.env.db = rep1
    sh.start_writes()
    sh.progress("the promotion of replica 1")
    time.sleep(2)
    want, ups = sh.settle(rep1, "after the promotion of replica 1")
    rep2.wait_caught_up(rep1)
    promoted = [u for u in ups if u["pos"]["logical"].split("-")[1] == str(rep1.server_id)]
    check(len(promoted) > 100, "writes went on on the promoted replica 1 (%d of its %d updates "
          "are its own)" % (len(promoted), len(ups)))
    check(sc.dump_tables(rep2, [ITEMS, AUDIT]) == sc.dump_tables(rep1, [ITEMS, AUDIT]),
          "replica 2 follows the promoted replica 1")
    check(sh.role(b)[0] == "active", "pub-replica1 serves the shard at the end")


def sc_partition(st):
    sh = Shard(st)
    proxy = tcp_proxy.TcpProxy(sh.env.zk.port)
    a, b, c = sh.candidates(primary={"zk": proxy.address})
    sh.start_writes()
    sh.progress("the start")
    proxy.blackhole()
    t = roles.watch_takeover(sh, a, b, SESSION_S + 20)
    check(t["fenced"] < t["active"], "pub-primary, cut off from ZooKeeper, fenced itself "
          "(%.2f s after the cut) before pub-replica1 became active (%.2f s)"
          % (t["fenced"], t["active"]))
    check(t["fenced"] < SESSION_S, "pub-primary fenced itself before its session could "
          "expire (%.2f s < %.1f s)" % (t["fenced"], SESSION_S))
    check(t["active"] < (SESSION_S + 2) * wh.scaled(1), "pub-replica1 took over %.2f s "
          "after the partition (bound: session + 2 s)" % t["active"])
    check(a.poll() is None and sh.role(a)[0] == "standby" and sh.role(c)[0] == "standby",
          "pub-primary stays up delivering nothing, pub-replica2 stays standby")
    sh.progress("the takeover on replica 1")
    roles.no_interleaving(sh, "pub-primary", "pub-replica1")
    time.sleep(1)
    before = roles.redelivered(sh)
    proxy.heal()
    sh.wait_role(a, "active", 30, "pub-primary to take the shard back after the partition")
    check("lost the lease" in log_text(a), "pub-primary logged that it had lost the lease")
    sh.wait_role(b, "standby", 10)
    sh.progress("the failback after the partition")
    time.sleep(1)
    sh.planned(before, "the failback to the primary once the partition healed")
    sh.settle(sh.primary, "after the partition healed")
    proxy.close()


def sc_failback(st):
    sh = Shard(st)
    rep1 = sh.reps[0]
    a, b, c = sh.candidates()
    sh.start_writes()
    sh.progress("the start")
    fault = kill(a, "the active publisher pub-primary")
    sh.takeover(b, fault, SESSION_S + 1, [c])
    sh.progress("the takeover on replica 1")
    time.sleep(1)
    before = roles.redelivered(sh)
    a2 = sh.candidate(sh.primary, "pub-primary", 10)
    t0 = time.time()
    sh.wait_role(a2, "active", 30, "the restarted pub-primary to take the shard back")
    log("failback %.2f s after pub-primary started again" % (time.time() - t0))
    check("asked shard s1 to move from pub-replica1 to pub-primary" in log_text(a2),
          "pub-primary asked for the shard back (failback)")
    sh.wait_role(b, "standby", 10)
    sh.progress("the failback")
    time.sleep(1)
    sh.planned(before, "the failback from replica 1 to the primary")
    for app in sh.apps:
        seq = sh.servers(app)
        check(seq == ["pub-primary", "pub-replica1", "pub-primary"],
              "%s: delivered by pub-primary, pub-replica1, then pub-primary again (%s)"
              % (app, ", ".join(seq)))
    sh.settle(sh.primary, "after the failback")
    check(sh.from_copy("app_full", rep1, sh.primary) > 0,
          "pub-replica1 delivered from its own binlog in between")


def replica_fault(st, name, health, fault_on, fault_off, why):
    """io_stopped and lag_bound: replica 1's copy cannot serve (fault_on(rep1) ... and
    why in its log): its candidate, preferred over replica 2's, declines the vacant lease
    at the active one's SIGKILL; healthy again, it takes the shard back (failback);
    then the fault again: it resigns to replica 2's."""
    sh = Shard(st)
    rep1, rep2 = sh.reps
    a, b, c = sh.candidates(replicas={"health": health})
    sh.start_writes()
    sh.progress("the start")
    fault_on(rep1)
    wait_until(lambda: why in log_text(b), wh.scaled(30),
               "pub-replica1 to find that its copy cannot serve (%s)" % name)
    check(sh.role(b)[0] == "standby", "pub-replica1, unhealthy (%s), stands by" % name)
    fault = kill(a, "the active publisher pub-primary")
    # The lease is vacant after the session timeout; replica 1's candidate is preferred
    # (5 > 0) but unhealthy, so replica 2's is the best healthy one and takes it at once.
    sh.takeover(c, fault, SESSION_S + 1, [b])
    sh.progress("the takeover on replica 2")
    time.sleep(1)
    sh.stays_out(b, 0)
    log("pub-replica1 declined the lease while its copy could not serve (%s)" % name)
    before = roles.redelivered(sh)
    fault_off(rep1)
    sh.wait_role(b, "active", 40, "pub-replica1 to take the shard back once healthy")
    check("asked shard s1 to move from pub-replica2 to pub-replica1" in log_text(b),
          "pub-replica1, healthy again and preferred, asked for the shard (failback)")
    sh.wait_role(c, "standby", 10)
    sh.progress("the failback to replica 1")
    time.sleep(1)
    sh.planned(before, "the failback to replica 1")
    before = roles.redelivered(sh)
    fault_on(rep1)
    sh.wait_role(c, "active", 40, "pub-replica2 to take over when pub-replica1 resigns")
    sh.wait_role(b, "standby", 10)
    check(b.poll() is None and "handing shard s1 over" in log_text(b),
          "pub-replica1 resigned the lease (%s) and stays up as a standby" % name)
    sh.progress("the resignation of pub-replica1")
    time.sleep(1)
    sh.planned(before, "pub-replica1's resignation")
    sh.stays_out(b, 1)
    for app in sh.apps:
        seq = sh.servers(app)
        check(seq == ["pub-primary", "pub-replica2", "pub-replica1", "pub-replica2"],
              "%s: delivered by pub-primary, pub-replica2, pub-replica1, pub-replica2 (%s)"
              % (app, ", ".join(seq)))
    sh.settle(rep2, "after the resignation of pub-replica1")
    fault_off(rep1)


def sc_io_stopped(st):
    replica_fault(st, "IO thread stopped", {},
                  lambda r: r.sql("STOP SLAVE IO_THREAD"),
                  lambda r: r.sql("START SLAVE IO_THREAD"),
                  "Slave_IO_Running is No")


class ReadLock:
    """A session on a replica holding FLUSH TABLES WITH READ LOCK: its SQL thread waits and
    its Seconds_Behind_Master grows while the primary writes."""

    def __init__(self):
        self.session = None

    def on(self, db):
        self.session = db.session()
        self.session.stdin.write("FLUSH TABLES WITH READ LOCK;\n")
        self.session.stdin.flush()
        log("%s: a session holds FLUSH TABLES WITH READ LOCK" % db.name)

    def off(self, db):
        if self.session is None:
            return
        out, _ = self.session.communicate("UNLOCK TABLES;\n", timeout=wh.scaled(30))
        check(self.session.returncode == 0, "the read lock session on %s ended cleanly (%s)"
              % (db.name, out.strip()))
        self.session = None
        log("%s: read lock released" % db.name)


def sc_lag_bound(st):
    lock = ReadLock()
    try:
        replica_fault(st, "lag beyond health.max_replica_lag_s", {"max_replica_lag_s": 3},
                      lock.on, lock.off, "more than the bound of 3 s")
    finally:
        if lock.session and lock.session.poll() is None:
            lock.session.kill()
            lock.session.wait()


def status_waiting(path):
    try:
        with open(path) as f:
            return json.load(f).get("waiting_readers") or []
    except (OSError, ValueError):
        return []


def sc_lagging(st):
    sh = Shard(st, replicas=1)
    rep = sh.reps[0]
    a = sh.candidate(sh.primary, "pub-primary", 10)
    sh.wait_role(a, "active", 30)
    sh.env.write_workload(1000, rounds=2, pause=0.1, seed=int(time.time()))
    rep.wait_caught_up(sh.primary)
    rep.sql("STOP SLAVE SQL_THREAD")
    log("replica 1 stops applying: its binlog lags from now on")
    sh.env.write_workload(1000, rounds=2, pause=0.1, seed=int(time.time()) + 1)
    want, _ = sh.expected(sh.primary)
    sh.wait_complete(want, "from the primary's publisher")
    time.sleep(1)   # acknowledged positions written to ZooKeeper (flush 100 ms)
    kill(a, "the primary's publisher, every update delivered")
    before = sh.counts()
    b = sh.candidate(rep, "pub-replica1", 0)
    # With its SQL thread stopped the replica is unhealthy, so its publisher declines
    # the lease (docs/FAILOVER.md "Health"); a healthy candidate whose log has not
    # received the position yet takes it and its readers wait (delay_wait). Either way
    # it must deliver nothing until replication resumes.
    declined = "this copy cannot serve it"
    wait_until(lambda: len(status_waiting(b.status)) > 0 or declined in log_text(b),
               wh.scaled(30), "the lagging replica's publisher to wait or decline the lease")
    w = status_waiting(b.status)
    waited = bool(w)
    if waited:
        check(all("not in this copy's binlog yet" in x["reason"] for x in w),
              "the status file says why the readers wait: %s" % w[0]["reason"])
    else:
        log("the lagging replica's publisher declined the lease (unhealthy: SQL thread stopped)")
    time.sleep(3)
    after = sh.counts()
    check(after == before, "the lagging replica's publisher delivers nothing (%s)" % after)
    if waited:
        waits = [l for l in log_text(b).splitlines() if " waits: " in l]
        check(0 < len(waits) <= len(APPS), "one log line per waiting reader, not one per "
              "retry (%d): %s" % (len(waits), waits[0] if waits else ""))
    check(b.poll() is None, "the lagging replica's publisher keeps running")
    sh.env.write_workload(400, rounds=1, seed=int(time.time()) + 2)
    rep.sql("START SLAVE SQL_THREAD")
    log("replica 1 applies again")
    rep.wait_caught_up(sh.primary)
    want, _ = sh.expected(rep)
    sh.wait_complete(want, "once replica 1 caught up")
    wait_until(lambda: not status_waiting(b.status), wh.scaled(20),
               "the status file to list no waiting reader")
    if waited:
        check("arrived in this copy's log" in log_text(b), "the publisher logs the arrival")
    sh.stream_check(rep, want)
    check(sh.from_copy("app_full", rep) > 0, "replica 1's publisher delivered from its binlog")


def sc_delay_wait(st):
    """A healthy replica that is simply behind (MASTER_DELAY within the lag bound): its
    standby takes the lease and its readers wait for the acknowledged positions to arrive
    (WH_ERR_NOT_YET, docs/FAILOVER.md "Positions across copies"): nothing delivered
    meanwhile, nothing redelivered, then exactly the rest."""
    sh = Shard(st)
    rep1, rep2 = sh.reps
    delay = int(min(10 + wh.scaled(5), 45))
    rep1.wait_caught_up(sh.primary)
    rep1.sql("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=%d; START SLAVE" % delay)
    log("replica 1 applies every transaction %d s after the primary (MASTER_DELAY)" % delay)
    a, b, c = sh.candidates(replicas={"health": {"max_replica_lag_s": 60}})
    sh.start_writes()
    sh.progress("the start")
    time.sleep(2)
    sh.writer.stop()
    sh.writer = None
    want, _ = sh.expected(sh.primary)
    sh.wait_complete(want, "from pub-primary")
    time.sleep(1)   # the acknowledged positions written to ZooKeeper (flush 100 ms)
    last = {app: max(sc.logical_key(u) for u in sh.received(app)) for app in sh.apps}
    ppos, rpos = sh.primary.gtid_binlog_pos(), rep1.gtid_binlog_pos()
    check(ppos != rpos, "replica 1's binlog lags the primary's (%s < %s)" % (rpos, ppos))
    fault = kill(a, "the active publisher pub-primary, every update delivered and "
                 "acknowledged (last %s)" % last)
    before = sh.counts()
    sh.start_writes()   # the load goes on on the primary
    sh.takeover(b, fault, SESSION_S + 1, [c])
    wait_until(lambda: status_waiting(b.status) or "arrived in this copy's log" in log_text(b),
               wh.scaled(10), "pub-replica1's readers to wait for the positions")
    w = status_waiting(b.status)
    check(w and all("not in this copy's binlog yet" in x["reason"] for x in w),
          "pub-replica1, active on a replica %d s behind, lists its readers as waiting, "
          "saying why: %s" % (delay, w[0]["reason"] if w else w))
    check(sh.role(b)[0] == "active" and "this copy cannot serve it" not in log_text(b),
          "pub-replica1 is healthy (its lag is within the bound) and holds the lease")
    t_wait, polls = time.time(), 0
    while "arrived in this copy's log" not in log_text(b):
        # Counted first: with no arrival logged after, none of it came from pub-replica1.
        now = sh.counts()
        if "arrived in this copy's log" in log_text(b):
            break
        if now != before:
            raise Failed("pub-replica1 delivered while its readers waited for the positions "
                         "(%s, %s at the takeover)" % (now, before))
        polls += 1
        if time.time() - t_wait > delay + wh.scaled(30):
            raise Failed("the positions did not arrive in replica 1's binlog within its delay")
        time.sleep(0.2)
    check(polls > 5, "pub-replica1's readers waited %.1f s for the positions; nothing was "
          "delivered meanwhile (%d checks)" % (time.time() - t_wait, polls))
    waits = [l for l in log_text(b).splitlines() if " waits: " in l]
    check(0 < len(waits) <= len(APPS), "one WARN per waiting reader, not one per retry (%d): "
          "%s" % (len(waits), waits[0][:300] if waits else ""))
    sh.progress("the positions arrived on replica 1")
    time.sleep(2)
    sh.writer.stop()
    sh.writer = None
    for app in sh.apps:
        again = [u for u in sh.received(app)[before[app]:] if sc.logical_key(u) <= last[app]]
        check(not again, "%s: pub-replica1 redelivered nothing at or before the acknowledged "
              "position %s (%d: %s)" % (app, last[app], len(again),
                                        [u["pos"]["logical"] for u in again[:3]]))
    wait_until(lambda: not status_waiting(b.status), wh.scaled(10),
               "the status file to list no waiting reader")
    sh.settle(rep1, "after the positions arrived on replica 1")
    check(sh.from_copy("app_full", rep1, sh.primary) > 0,
          "pub-replica1 delivered from its own binlog")


def sc_settings(st):
    """What the publisher checks at start (docs/MYSQL.md "Failover"): a replica that does
    not log what it replicates is refused with the reason; gtid_strict_mode OFF is a
    warning; without a schema connection nothing is checked."""
    env = td.Env(st, "mariadb")
    ENVS.append(env)
    rep = st.replica(env.db, name="replica1", binlog_basename="rep1-bin",
                     options={"log_slave_updates": "OFF", "gtid_strict_mode": "OFF"})
    p = env.publisher({"binlog_dir": rep.binlog_dir, "socket": rep.socket}, pub_id="pub-r1")
    rc = td.wait_exit(p, 30, "the publisher on a replica without log_slave_updates")
    text = log_text(p)
    check(rc != 0 and "does not log what it replicates" in text and "log_slave_updates" in text,
          "a publisher on a replica without log_slave_updates refuses to start: %s"
          % [l for l in text.splitlines() if "ERROR" in l][:1])
    rep.restart({"log_slave_updates": "ON"})
    p = env.publisher({"binlog_dir": rep.binlog_dir, "socket": rep.socket}, pub_id="pub-r1b")
    wait_until(lambda: "copy of shard s1" in log_text(p), wh.scaled(30), "the publisher to start")
    text = log_text(p)
    check(p.poll() is None and "gtid_strict_mode is OFF" in text,
          "with log_slave_updates on it starts, warning about gtid_strict_mode OFF")
    p.terminate()
    td.wait_exit(p, 30, "the publisher")
    p = env.publisher({"binlog_dir": rep.binlog_dir}, pub_id="pub-r1c")
    wait_until(lambda: "copy of shard s1" in log_text(p), wh.scaled(30), "the publisher to start")
    check("are not checked" in log_text(p), "without a schema connection the settings are not "
          "checked, and it says so")


def domain_writer(db, domain, rounds, per_round, seed, group, go, busy, errors):
    """One client session per round writing with gtid_domain_id = domain: per_round
    statements of td.workload_statements (keys of its own range, so that the domains'
    rows never meet) in transactions of group = (min, max) statements; before each round
    it waits for the event go (busy[domain] says whether a round runs)."""
    rng = td.random.Random(seed * 100 + domain)
    try:
        for r in range(rounds):
            busy[domain] = False
            go.wait()
            busy[domain] = True
            stmts = td.workload_statements(rng, domain, r * per_round, per_round)
            script = ["SET SESSION gtid_domain_id = %d" % domain]
            while stmts:
                k = rng.randrange(group[0], group[1] + 1)
                txn, stmts = stmts[:k], stmts[k:]
                script.append("BEGIN; " + "; ".join(txn) + "; COMMIT" if len(txn) > 1
                              else txn[0])
            db.sql_script(";\n".join(script) + ";\n")
    except Exception as e:  # noqa: BLE001 - reported by the caller
        errors.append(e)
    busy[domain] = False


def txn_order(ups):
    """The transactions of a log's updates, (domain, seq) in the log's order."""
    out = []
    for u in ups:
        k = sc.logical_key(u)[:2]
        if not out or out[-1] != k:
            out.append(k)
    return out


def crossing(a, b, g):
    """The transactions of other domains than g's that order a has after g and order b
    before it: what a takeover from g on b's copy must not skip."""
    ia, ib = a.index(g), b.index(g)
    before_b = set(b[:ib])
    return [k for k in a[ia + 1:] if k[0] != g[0] and k in before_b]


def sc_domains(st):
    """Three replication domains written at once (a client session each, SET SESSION
    gtid_domain_id); replica 2 applies them with parallel replication, one domain at a
    time held back by a local lock, so its binlog interleaves them otherwise than the
    primary's. The primary's publisher is SIGKILLed mid-load and the standby on replica 2
    takes over from its positions: mapped to replica 2's order by their GTID state
    (docs/FAILOVER.md "Positions across copies"), every app gets every transaction, none
    of another domain that the primary had after the position and replica 2 before it is
    skipped (a position naming one GTID skips them)."""
    sh = Shard(st, replicas=1)
    rep2 = st.replica(sh.primary, name="replica2", binlog_basename="rep2-bin",
                      options={"slave_parallel_threads": "8",
                               "slave_domain_parallel_threads": "2",
                               "slave_parallel_mode": "optimistic"})
    rep2.flush_logs()
    watch = sh.env.zk_watch(["data:/apps/%s/positions/s1" % app for app in APPS])
    a = sh.candidate(sh.primary, "pub-primary", 10)
    sh.wait_role(a, "active", 30)
    b = sh.candidate(rep2, "pub-replica2", 5)
    sh.wait_role(b, "standby", 30)
    seed = int(os.environ.get("WH_SEED", time.time()))
    log("domain workload seed %d (WH_SEED=%d replays it)" % (seed, seed))
    errors = []
    go_all, go_light = threading.Event(), threading.Event()
    go_all.set()
    go_light.set()
    # Domain 0 writes transactions of 4 to 8 statements without a break; domains 1 and 2
    # single statements, in short rounds that pause while go_light is clear.
    busy = {}
    ts = [threading.Thread(target=domain_writer,
                           args=(sh.primary, 0, 30, 100, seed, (4, 8), go_all, busy, errors))]
    ts += [threading.Thread(target=domain_writer,
                            args=(sh.primary, d, 60, 20, seed, (1, 1), go_light, busy, errors))
           for d in (1, 2)]
    for t in ts:
        t.start()
    wait_until(lambda: td.count_lines(sh.tails["app_full"].out) > 800, wh.scaled(90),
               "the first updates from the primary's publisher")
    # Replica 2 holds domain 0 back (a local session locks its rows); the light domains
    # pause, so the primary's publisher acknowledges positions in domain 0 only, and is
    # killed; the light domains go on, and replica 2 logs what they write before domain
    # 0's backlog, which the primary logged first.
    def lock():
        try:
            rep2.sql("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; BEGIN; "
                     "SELECT COUNT(*) FROM app.items WHERE id < 1000000 FOR UPDATE; "
                     "SELECT SLEEP(%d); COMMIT" % wh.scaled(100), timeout=wh.scaled(100) + 60)
        except wh.SqlError:
            pass   # KILL QUERY ended it: the session closes, the lock goes with it

    def sleeper():
        rows = rep2.sql("SELECT ID FROM information_schema.PROCESSLIST "
                        "WHERE INFO LIKE 'SELECT SLEEP(%'")
        return rows[0][0] if rows else None

    locker = threading.Thread(target=lock)
    locker.start()
    wait_until(lambda: sleeper() is not None, wh.scaled(30),
               "replica 2's local session to lock domain 0's rows")
    go_light.clear()
    wait_until(lambda: not busy.get(1) and not busy.get(2), wh.scaled(60),
               "domains 1 and 2 to pause")
    pos = dict((int(g.split("-")[0]), int(g.split("-")[2]))
               for g in sh.primary.value("SELECT @@gtid_binlog_pos").split(","))
    wait_until(lambda: any(k[0] == 0 and k[1] >= pos[0] for k in
                           (sc.logical_key(u) for u in sh.received("app_full"))),
               wh.scaled(60), "the primary's publisher to deliver domain 0 up to %d" % pos[0])
    time.sleep(0.5)   # acknowledged and written to ZooKeeper (flush 100 ms)
    kill(a, "the primary's publisher (after %d updates to app_full)"
         % td.count_lines(sh.tails["app_full"].out))
    go_light.set()
    time.sleep(2)     # domains 1 and 2 go on; replica 2 logs them before domain 0's backlog
    rep2.sql("KILL QUERY %s" % sleeper())
    for t in ts:
        t.join()
    locker.join()
    if errors:
        raise Failed("workload failed: %s" % errors[0])
    rep2.wait_caught_up(sh.primary)
    want, ups = sh.expected(rep2)
    _, pups = sh.expected(sh.primary)
    ra, rb = txn_order(pups), txn_order(ups)
    check(len(set(k[0] for k in ra)) == 3, "the load wrote three domains")
    check(sorted(ra) == sorted(rb), "both logs hold the same transactions (%d)" % len(ra))
    check(ra != rb, "replica 2's binlog interleaves the domains otherwise than the primary's")
    # Where the standby took over: each app's last position from the primary's publisher.
    for app in APPS:
        mine = [json.loads(e["data"]) for e in watch.events("/apps/%s/positions/s1" % app)
                if e["data"]]
        mine = [d for d in mine if d.get("publisher") == "pub-primary" and d.get("logical")]
        check(mine, "%s: the primary's publisher stored positions" % app)
        text = mine[-1]["logical"]
        g = sc.logical_key({"pos": {"logical": text}})[:2]
        cross = crossing(ra, rb, g)
        check(cross, "%s: replica 2 logs %d transactions of other domains before the takeover "
              "position %s that the primary logs after it (e.g. %s): what a takeover by one "
              "GTID skips" % (app, len(cross), text, cross[:3]))
    # Wait for the last transaction of each domain, then tell what is missing.
    last = {}
    for k in want["app_full"]:
        last[k[0]] = max(last.get(k[0], k), k)
    wait_until(lambda: set(last.values()) <= set(sc.logical_key(u)
                                                 for u in sh.received("app_full")),
               wh.scaled(120), "the last update of each domain at app_full")
    time.sleep(1)
    for app in APPS:
        got = set(sc.logical_key(u) for u in sh.received(app))
        missing = sorted(set(want[app]) - got)
        check(not missing, "%s received every update of replica 2's log (%d missing: %s)"
              % (app, len(missing), missing[:5]))
    sh.stream_check(rep2, want)
    check(sh.from_copy("app_full", rep2, sh.primary) > 0,
          "replica 2's publisher delivered at its own binlog's positions")
    stored = [e["data"] for app in APPS
              for e in watch.events("/apps/%s/positions/s1" % app) if e["data"]]
    states = [json.loads(d)["logical"] for d in stored]
    multi = [l for l in states if l and "," in l.rsplit("/", 1)[0]]
    inside = [l for l in states if l and not l.endswith("/0")]
    check(multi, "stored positions list the GTID state of several domains (%d of %d, e.g. %s)"
          % (len(multi), len(states), multi[:1]))
    log("%d stored positions inside a transaction (index > 0), e.g. %s"
        % (len(inside), inside[:2]))
    check(b.poll() is None, "replica 2's publisher still runs")


SCENARIOS = {"settings": sc_settings, "kill_pub": sc_kill_pub,
             "kill_pub_same_names": sc_kill_pub_same_names, "promote": sc_promote,
             "partition": sc_partition, "failback": sc_failback, "io_stopped": sc_io_stopped,
             "lag_bound": sc_lag_bound, "delay_wait": sc_delay_wait, "lagging": sc_lagging,
             "domains": sc_domains}


def main(argv):
    if len(argv) != 2 or argv[1] not in SCENARIOS:
        print(__doc__)
        return 2
    for exe in (td.PUBLISHER, td.TAIL, td.LOGCAT):
        if not os.path.exists(exe):
            print("SKIP: %s is not built" % exe)
            return td.SKIP
    try:
        stack = wh.Stack()
    except wh.HarnessError as e:
        print("SKIP: %s" % e)
        return td.SKIP
    with stack:
        try:
            SCENARIOS[argv[1]](stack)
        except wh.HarnessError as e:
            if "cannot find the program" in str(e):
                print("SKIP: %s" % e)
                return td.SKIP
            raise
        except Failed as e:
            print("FAILED: %s" % e, flush=True)
            stack.print_log_tails(("pub", "tail"))
            return 1
        finally:
            for env in ENVS:
                env.stop_all()
        bad = stack.sanitizer_report(("pub",))
        if bad:
            print("FAILED: %s" % bad)
            return 1
    print("%s: passed" % argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
