#!/usr/bin/env python3
"""Failover across the copies of a shard: another copy's publisher continues every flow from
the same logical position in its own binlog (docs/FAILOVER.md "Positions across copies").

Usage: python3 tests/publisher/test_failover.py SCENARIO

A harness MariaDB primary (binlog mysql-bin) and replicas with binlogs of their own
(rep1-bin, rep2-bin, each rotated once, so file names and offsets differ from the
primary's), ZooKeeper, a write load of inserts, updates and deletes from several client
threads, and two apps: app_full (no filter) and app_items (filter table = "items": the
audit inserts are filtered out, so its acknowledged position often sits after a tail of
transactions it never received). Today a second publisher for a shard takes it over at
start ("the newest publisher wins"); the scenarios use that.

  kill_pub     SIGKILL of the primary's publisher mid-load; a publisher started on replica 1
               continues every flow
  kill_pub_same_names
               the same with replica 1's binlog named like the primary's (mysql-bin): where
               the names match, seeking the stored file and offset lands on the wrong
               transaction and skips silently; the copy identity must prevent it
  promote      SIGKILL of the primary mariadbd and of its publisher; replica 1 promoted (STOP
               SLAVE, read_only off), replica 2 re-pointed to it (MASTER_USE_GTID), writes go
               on on replica 1 and a publisher there continues
  lagging      replica 1's SQL thread is stopped while the primary's publisher delivers past
               it; a publisher started on replica 1 must wait (status file, one log line per
               reader), deliver nothing, and catch up exactly once replication resumes
  settings     the checks at start: a replica without log_slave_updates is refused,
               gtid_strict_mode OFF is a warning, no schema connection: not checked

Each app's stream must pass the stream check (tests/harness/stream_check.py) deduplicated
by logical position (the physical ones differ between copies): in log order, and replaying
to the final tables of the copy that serves at the end. Exits 0, 1 on a failed check, 77
when MariaDB or ZooKeeper are not installed.
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
import test_delivery as td  # noqa: E402
import wh_harness as wh  # noqa: E402
from test_delivery import Failed, check, log, log_text, read_lines, wait_until  # noqa: E402

ITEMS = sc.Table("app.items", ["id"], ["id", "grp", "name", "qty", "price"])
AUDIT = sc.Table("app.audit", ["id"], ["id", "note"])
APPS = {"app_full": (None, [ITEMS, AUDIT]), "app_items": ('table = "items"', [ITEMS])}
ENVS = []   # every scenario's td.Env, stopped at the end


class Shard:
    """The copies of the shard, ZooKeeper, the apps' subscribers and the publishers."""

    def __init__(self, stack, replicas=1, same_names=False):
        self.stack = stack
        self.env = td.Env(stack, "mariadb")
        ENVS.append(self.env)
        self.primary = self.env.db
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
        self.tails = {app: self.env.tail(app, filt) for app, (filt, _) in APPS.items()}
        self.pubs = []

    def publisher(self, db, pub_id):
        """A publisher reading db's binlog (its schema connection checks the settings)."""
        p = self.env.publisher({"binlog_dir": db.binlog_dir, "socket": db.socket},
                               pub_id=pub_id)
        self.pubs.append(p)
        wait_until(lambda: "copy of shard s1" in log_text(p) or p.poll() is not None, 30,
                   "publisher %s to start" % pub_id)
        check(p.poll() is None, "publisher %s runs on %s (%s)" % (
            pub_id, db.name, [l for l in log_text(p).splitlines() if "copy of shard" in l]))
        return p

    def received(self, app):
        return read_lines(self.tails[app].out)

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


def kill(p, what):
    p.send_signal(signal.SIGKILL)
    p.wait()
    log("%s killed with SIGKILL" % what)


def sc_kill_pub(st, same_names=False):
    sh = Shard(st, same_names=same_names)
    rep = sh.reps[0]
    a = sh.publisher(sh.primary, "pub-primary")
    writer = threading.Thread(target=sh.env.write_workload, args=(6000,),
                              kwargs={"rounds": 12, "pause": 0.3})
    writer.start()
    wait_until(lambda: td.count_lines(sh.tails["app_full"].out) > 800, wh.scaled(90),
               "the first updates from the primary's publisher")
    time.sleep(0.3)
    kill(a, "the primary's publisher (after %d updates to app_full)"
         % td.count_lines(sh.tails["app_full"].out))
    sh.publisher(rep, "pub-replica1")
    writer.join()
    rep.wait_caught_up(sh.primary)
    want, ups = sh.expected(rep)
    check(len(ups) > 3000, "replica 1's binlog holds the whole load (%d updates)" % len(ups))
    sh.wait_complete(want, "after the takeover on replica 1")
    sh.stream_check(rep, want)
    pwant, _ = sh.expected(sh.primary)
    check(pwant == want, "the primary's log and replica 1's hold the same logical stream")
    n = sh.from_copy("app_full", rep, sh.primary)
    check(n > 0, "replica 1's publisher delivered %d updates at its own binlog's positions, "
          "which the primary's binlog has elsewhere (%s...)" % (n, rep.binlog_files()[0]))


def sc_kill_pub_same_names(st):
    sc_kill_pub(st, same_names=True)


def sc_promote(st):
    sh = Shard(st, replicas=2)
    rep1, rep2 = sh.reps
    a = sh.publisher(sh.primary, "pub-primary")
    writer = threading.Thread(target=sh.env.write_workload, args=(3000,),
                              kwargs={"rounds": 8, "pause": 0.3, "seed": int(time.time())})
    writer.start()
    wait_until(lambda: td.count_lines(sh.tails["app_full"].out) > 500, wh.scaled(90),
               "the first updates from the primary's publisher")
    # The publisher dies mid-load, then its database: the replicas hold everything the
    # primary committed, the apps far less (what a primary logged and no replica
    # received is not on the surviving timeline: docs/FAILOVER.md).
    kill(a, "the primary's publisher (after %d updates to app_full)"
         % td.count_lines(sh.tails["app_full"].out))
    writer.join()
    rep1.wait_caught_up(sh.primary)
    rep2.wait_caught_up(sh.primary)
    sh.primary.kill()
    log("the primary mariadbd killed with SIGKILL")
    rep1.sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF")
    rep2.sql("STOP SLAVE; CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, "
             "MASTER_USER='root', MASTER_PASSWORD='', MASTER_CONNECT_RETRY=1, "
             "MASTER_USE_GTID=slave_pos; START SLAVE" % rep1.port)
    rep2.primary = rep1
    log("replica 1 promoted; replica 2 replicates from it")
    sh.publisher(rep1, "pub-replica1")
    sh.env.db = rep1
    sh.env.write_workload(3000, rounds=4, pause=0.2, seed=int(time.time()) + 1)
    rep2.wait_caught_up(rep1)
    want, ups = sh.expected(rep1)
    promoted = [u for u in ups if u["pos"]["logical"].split("-")[1] == str(rep1.server_id)]
    check(len(promoted) > 1000, "writes went on on the promoted replica 1 (%d of its %d updates "
          "are its own)" % (len(promoted), len(ups)))
    sh.wait_complete(want, "after the promotion of replica 1")
    sh.stream_check(rep1, want)
    check(sc.dump_tables(rep2, [ITEMS, AUDIT]) == sc.dump_tables(rep1, [ITEMS, AUDIT]),
          "replica 2 follows the promoted replica 1")


def status_waiting(path):
    try:
        with open(path) as f:
            return json.load(f).get("waiting_readers") or []
    except (OSError, ValueError):
        return []


def sc_lagging(st):
    sh = Shard(st)
    rep = sh.reps[0]
    status = st.path("status-replica1.json")
    a = sh.publisher(sh.primary, "pub-primary")
    sh.env.write_workload(1000, rounds=2, pause=0.1, seed=int(time.time()))
    rep.wait_caught_up(sh.primary)
    rep.sql("STOP SLAVE SQL_THREAD")
    log("replica 1 stops applying: its binlog lags from now on")
    sh.env.write_workload(1000, rounds=2, pause=0.1, seed=int(time.time()) + 1)
    want, _ = sh.expected(sh.primary)
    sh.wait_complete(want, "from the primary's publisher")
    time.sleep(1)   # acknowledged positions written to ZooKeeper (flush 100 ms)
    kill(a, "the primary's publisher, every update delivered")
    before = {app: td.count_lines(t.out) for app, t in sh.tails.items()}
    os.environ["WORMHOLE_STATUS_FILE"] = status
    os.environ["WORMHOLE_STATUS_INTERVAL_MS"] = "200"
    try:
        b = sh.publisher(rep, "pub-replica1")
    finally:
        del os.environ["WORMHOLE_STATUS_FILE"]
        del os.environ["WORMHOLE_STATUS_INTERVAL_MS"]
    # With its SQL thread stopped the replica is unhealthy, so its publisher declines
    # the lease (docs/FAILOVER.md "Health"); a healthy candidate whose log has not
    # received the position yet takes it and its readers wait. Either way it must
    # deliver nothing until replication resumes.
    declined = "this copy cannot serve it"
    wait_until(lambda: len(status_waiting(status)) > 0 or declined in log_text(b),
               wh.scaled(30), "the lagging replica's publisher to wait or decline the lease")
    w = status_waiting(status)
    waited = bool(w)
    if waited:
        check(all("not in this copy's binlog yet" in x["reason"] for x in w),
              "the status file says why the readers wait: %s" % w[0]["reason"])
    else:
        log("the lagging replica's publisher declined the lease (unhealthy: SQL thread stopped)")
    time.sleep(3)
    after = {app: td.count_lines(t.out) for app, t in sh.tails.items()}
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
    wait_until(lambda: not status_waiting(status), wh.scaled(20),
               "the status file to list no waiting reader")
    if waited:
        check("arrived in this copy's log" in log_text(b), "the publisher logs the arrival")
    sh.stream_check(rep, want)
    check(sh.from_copy("app_full", rep) > 0, "replica 1's publisher delivered from its binlog")


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


SCENARIOS = {"settings": sc_settings, "kill_pub": sc_kill_pub, "kill_pub_same_names": sc_kill_pub_same_names,
             "promote": sc_promote, "lagging": sc_lagging}


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
            for name in sorted(os.listdir(stack.tmpdir)):
                if name.endswith(".log") and name.startswith(("pub", "tail")):
                    with open(stack.path(name), errors="replace") as f:
                        print("--- %s (tail)\n%s" % (name, f.read()[-3000:]))
            return 1
        finally:
            for env in ENVS:
                env.stop_all()
        for name in sorted(os.listdir(stack.tmpdir)):
            if name.startswith("pub") and name.endswith(".log"):
                text = open(stack.path(name), errors="replace").read()
                for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
                    if bad in text:
                        print("FAILED: %s reports %s" % (name, bad))
                        return 1
    print("%s: passed" % argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
