#!/usr/bin/env python3
"""Caravans: one log read for apps in sync, the cap on caravans and the catch-up read-rate cap.

Usage: python3 tests/publisher/test_caravan_start.py SCENARIO [options]

Scenarios (each starts a throwaway MariaDB and ZooKeeper; the publisher reads the binlog
through the mysql mapper and writes its status file, whose cumulative "log_bytes_read" and
"readers_started" the checks use):
  start_together  --apps N --runs R: R times, N new apps (one multi_sub process, one
                  libwormhole instance per app) start together at the oldest position of
                  a modest binlog that does not change; each time exactly one reader must
                  start and it must read the log exactly once (log_bytes_read grows by the
                  binlog's size), and every app must receive every update. With --gather 0
                  (delivery.caravan_gather_ms 0, the placement before the fix) the test
                  counts the runs that formed more than one reader instead and fails if
                  any did (--expect-race turns that into the expected outcome).
  catch_up        a lead app in sync and an app that recovers from far behind (the cap set
                  by SIGHUP, live): while it
                  catches up the publisher reads at most 2x the log it covers, the
                  catch-up reader stays under delivery.catchup_read_bytes_per_s over every
                  2 s window while the lead, uncapped, takes a burst faster than the cap
                  allows; afterwards the two caravans merge and new writes are read once.
  cap             delivery.max_caravans 2 with a lead and two apps behind it at different
                  positions: the second one waits (status "waiting_for_caravan", a WARN),
                  gets a reader once the first has caught up and merged (two readers
                  start, one after the other), and then one reader serves all three.
  catch_up_busy   a recovering app catches up while writers never pause: the caravans
                  still merge, and one reader reads the new writes after that.

Exits 0 on success, 1 on a failed check, 77 (skip) if something needed is not built.
"""
import glob
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_delivery as td  # noqa: E402

MULTI_SUB = os.path.join(td.BUILD, "tests", "publisher", "multi_sub")
SCALE = float(os.environ.get("WH_TIMEOUT_SCALE", "1"))


class Pub:
    """The publisher with a status file, and its counters."""

    def __init__(self, env, delivery):
        self.env = env
        self.status = env.stack.path("pub-status.json")
        os.environ["WORMHOLE_STATUS_FILE"] = self.status
        os.environ["WORMHOLE_STATUS_INTERVAL_MS"] = "100"
        try:
            self.p = env.publisher(None, delivery)
        finally:
            del os.environ["WORMHOLE_STATUS_FILE"]
            del os.environ["WORMHOLE_STATUS_INTERVAL_MS"]
        self.cfg = env.stack.path("pub%d.json" % env.n)

    def read(self):
        try:
            with open(self.status) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def fresh(self):
        """A status written after this call."""
        t = time.time() * 1000
        st = {}

        def newer():
            st["s"] = self.read()
            return st["s"] is not None and st["s"].get("ts", 0) > t + 50 and \
                "log_bytes_read" in st["s"]
        td.wait_until(newer, 30 * SCALE, "a fresh status file")
        return st["s"]

    def counters(self):
        s = self.fresh()
        return s["log_bytes_read"], s["readers_started"]

    def log(self):
        with open(self.p.logpath, errors="replace") as f:
            return f.read()

    def reload(self, delivery):
        """Changes delivery settings in the config file and sends SIGHUP."""
        with open(self.cfg) as f:
            cfg = json.load(f)
        cfg["delivery"].update(delivery)
        with open(self.cfg, "w") as f:
            json.dump(cfg, f)
        n = self.log().count("SIGHUP: configuration reloaded")
        self.p.send_signal(signal.SIGHUP)
        td.wait_until(lambda: self.log().count("SIGHUP: configuration reloaded") > n,
                      30 * SCALE, "the publisher to reload its configuration")

    def merges(self):
        return self.log().count("merges into caravan")


def binlog_size(env):
    d = env.db.env("X")["X_BINLOG_DIR"]
    return sum(os.path.getsize(f) for f in glob.glob(os.path.join(d, "*.[0-9]*")))


def multi_sub(env, prefix, apps, count, wait=True):
    env.n += 1
    logf = open(env.stack.path("multi%d.log" % env.n), "w")
    args = [MULTI_SUB, "--zk", env.zk.connect + env.root, "--prefix", prefix,
            "--apps", str(apps), "--timeout", str(int(300 * SCALE))]
    if count is not None:
        args += ["--count", str(count)]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=logf, text=True)
    p.logpath = logf.name
    env.procs.append(p)
    if wait:
        td.wait_until(lambda: "registered" in open(p.logpath).read(), 60 * SCALE,
                      "%d instances to register" % apps)
    return p


def finish(p, what):
    out, _ = p.communicate(timeout=400 * SCALE)
    td.check(p.returncode == 0, "%s: every app received everything (%s)" % (what, out.strip()))
    return json.loads(out)


def log_updates(env):
    return len(env.expected())


def sc_start_together(env, argv):
    napps = int(argv[argv.index("--apps") + 1])
    runs = int(argv[argv.index("--runs") + 1])
    gather = int(argv[argv.index("--gather") + 1]) if "--gather" in argv else None
    expect_race = "--expect-race" in argv
    env.write_workload(400, threads=4, seed=17)
    total = log_updates(env)
    size = binlog_size(env)
    td.log("binlog: %d bytes, %d updates" % (size, total))
    delivery = {"window_bytes": 1 << 20}
    if gather is not None:
        delivery["caravan_gather_ms"] = gather
    pub = Pub(env, delivery)
    env.wait_registered_pub = None
    b0, r0 = pub.counters()
    raced = []
    for run in range(runs):
        p = multi_sub(env, "r%d_" % run, napps, total, wait=False)
        finish(p, "run %d (%d apps)" % (run, napps))
        b1, r1 = pub.counters()
        readers, ratio = r1 - r0, (b1 - b0) / size
        td.log("run %d: %d apps, %d reader(s) started, log bytes read %d = %.2fx the log" %
               (run, napps, readers, b1 - b0, ratio))
        if readers != 1 or b1 - b0 != size:
            raced.append((run, readers, ratio))
        b0, r0 = b1, r1
        if size != binlog_size(env):
            raise td.Failed("the binlog changed during the test")
    td.log("%d of %d runs formed more than one reader or read the log more than once: %s" %
           (len(raced), runs, raced))
    if expect_race:
        td.check(raced, "the placement without gathering races (%d of %d runs read the log "
                 "more than once)" % (len(raced), runs))
    else:
        td.check(not raced, "every run of %d apps started together started exactly one reader "
                 "and read the log exactly once (%d runs)" % (napps, runs))
    td.check(pub.p.poll() is None, "the publisher is still running")


def rate_windows(samples, window_ms):
    """The largest read rate (bytes/s) over any window of at least window_ms in the
    (ts_ms, bytes) samples."""
    best = 0.0
    for i, (t0, b0) in enumerate(samples):
        for t1, b1 in samples[i + 1:]:
            if t1 - t0 >= window_ms:
                best = max(best, (b1 - b0) * 1000.0 / (t1 - t0))
                break
    return best


def sample_until(pub, done, timeout, what):
    samples = []
    t_end = time.time() + timeout * SCALE
    while not done():
        s = pub.read()
        if s and "log_bytes_read" in s and (not samples or s["ts"] > samples[-1][0]):
            samples.append((s["ts"], s["log_bytes_read"]))
        if time.time() > t_end:
            raise td.Failed("timed out waiting for " + what)
        time.sleep(0.05)
    return samples


def stop_sub(p, what):
    p.terminate()
    out, _ = p.communicate(timeout=60 * SCALE)
    td.check(p.returncode == 0, "%s stopped (%s)" % (what, out.strip()))


def wait_read(pub, upto, what):
    td.wait_until(lambda: pub.fresh()["log_bytes_read"] >= upto, 120 * SCALE, what)


def sc_catch_up(env, argv):
    cap = 64 * 1024
    env.write_workload(200, seed=1)
    pub = Pub(env, {"window_bytes": 1 << 20})
    lead = env.tail("lead")
    rec = multi_sub(env, "rec", 1, None)
    wait_read(pub, binlog_size(env), "both apps to read the first writes")
    time.sleep(1)   # the acknowledged positions reach ZooKeeper (flush_interval_ms 100)
    stop_sub(rec, "the recovering app")
    # Far behind: binlog that only the lead reads, as it comes.
    size0 = binlog_size(env)
    env.write_workload(3000, seed=2)
    size1 = binlog_size(env)
    wait_read(pub, size1, "the lead to read the new writes")
    pub.reload({"catchup_read_bytes_per_s": cap})   # live: SIGHUP
    b0, r0 = pub.counters()
    behind = size1 - size0
    td.log("the recovering app is %d bytes of binlog behind the lead" % behind)
    merges = pub.merges()
    rec = multi_sub(env, "rec", 1, None)
    t0 = time.time()
    time.sleep(1.0)
    # A burst while it catches up: the lead, at the head and uncapped, takes it faster
    # than the cap would let a catch-up caravan.
    env.write_workload(1500, seed=3)
    t_burst = time.time()
    size2 = binlog_size(env)
    burst = size2 - size1
    n = len(env.expected())
    td.wait_until(lambda: td.count_lines(lead.out) >= n, 60 * SCALE, "the lead to take the burst")
    lead_s = time.time() - t_burst
    td.log("the lead took a burst of %d bytes in %.1f s (%.0f B/s; the cap, %d B/s, would "
           "need %.1f s)" % (burst, lead_s, burst / lead_s, cap, burst / cap))
    td.check(lead_s < burst / cap / 2, "the lead is not capped: it read the burst in %.1f s, "
             "under half the %.1f s the cap needs" % (lead_s, burst / cap))
    t_quiet = time.time() * 1000
    merged = lambda: pub.merges() > merges  # noqa: E731
    samples = sample_until(pub, merged, 300, "the recovering app's caravan to merge")
    t_merge = time.time() - t0
    b1, r1 = pub.counters()
    covered = behind + burst
    td.log("catch-up: %d bytes read for %d bytes of log covered (%.2fx), %d reader(s) "
           "started, merged after %.1f s" % (b1 - b0, covered, (b1 - b0) / covered, r1 - r0,
                                            t_merge))
    td.check(b1 - b0 <= 2 * covered, "while the app caught up the publisher read at most 2x "
             "the log it covered (%.2fx)" % ((b1 - b0) / covered))
    td.check(r1 - r0 == 1, "one reader started for the recovering app")
    for line in pub.log().splitlines()[-400:]:
        if "merges into caravan" in line:
            td.log(line.split("] ", 1)[-1])
    # Once the lead has the burst, only the catch-up reader reads.
    quiet = [x for x in samples if x[0] >= t_quiet]
    peak = rate_windows(quiet, 2000)
    td.log("catch-up reader: peak %.0f B/s over 2 s windows (%d samples); cap %d B/s" %
           (peak, len(quiet), cap))
    td.check(len(quiet) > 20, "the status file was sampled while the app caught up")
    td.check(peak <= cap * 1.25 + 32 * 1024, "the catch-up reader stays under the cap over "
             "every 2 s window (peak %.0f B/s, cap %d B/s)" % (peak, cap))
    td.check(t_merge >= (covered - cap) / cap * 0.8, "the catch-up took the time the cap "
             "allows (%.1f s for %d bytes at %d B/s)" % (t_merge, covered, cap))
    # One reader again: new writes are read once.
    time.sleep(0.5)
    b2, _ = pub.counters()
    s_before = binlog_size(env)
    env.write_workload(300, seed=4)
    grow = binlog_size(env) - s_before
    wait_read(pub, b2 + grow, "the new writes to be read")
    time.sleep(0.5)
    b3, r3 = pub.counters()
    td.check(b3 - b2 == grow and r3 == r1, "after the merge the new writes are read once "
             "(%d bytes read for %d written) by the one reader left" % (b3 - b2, grow))
    stop_sub(rec, "the recovering app")


def sc_catch_up_busy(env, argv):
    """A recovering app catches up while writes never stop: the caravans must still meet
    and merge (neither is ever idle at the head with the other at the same position)."""
    env.write_workload(200, seed=1)
    pub = Pub(env, {"window_bytes": 1 << 20})
    lead = multi_sub(env, "lead", 1, None)
    rec = multi_sub(env, "rec", 1, None)
    wait_read(pub, binlog_size(env), "both apps to read the first writes")
    time.sleep(1)
    stop_sub(rec, "the recovering app")
    env.write_workload(3000, seed=2)
    wait_read(pub, binlog_size(env), "the lead to read the new writes")
    writer = td.Writer(env, 5, threads=4, batch=50, pause=0)
    try:
        time.sleep(1)
        _, r0 = pub.counters()
        merges = pub.merges()
        rec = multi_sub(env, "rec", 1, None)
        td.wait_until(lambda: pub.merges() > merges, 60 * SCALE,
                      "the caravans to merge while writes go on")
        td.check(True, "the recovering app's caravan merged into the lead's while writes went on")
        for line in pub.log().splitlines():
            if "merges into caravan" in line:
                td.log(line.split("] ", 1)[-1])
        time.sleep(0.5)
        b1, r1 = pub.counters()
        s1 = binlog_size(env)
        time.sleep(3)
        b2, r2 = pub.counters()
        s2 = binlog_size(env)
    finally:
        writer.stop()
    td.log("after the merge: %d bytes read while the log grew by %d" % (b2 - b1, s2 - s1))
    td.check(r1 - r0 == 1 and r2 == r1, "one reader started for the recovering app, none since")
    td.check(b2 - b1 <= (s2 - s1) * 1.2 + 65536, "after the merge one reader reads the new "
             "writes (%d bytes read, the log grew by %d)" % (b2 - b1, s2 - s1))
    stop_sub(rec, "the recovering app")
    stop_sub(lead, "the lead")


def sc_cap(env, argv):
    env.write_workload(200, seed=1)
    pub = Pub(env, {"window_bytes": 1 << 20, "max_caravans": 2})
    lead = env.tail("lead")
    a = multi_sub(env, "a", 1, None)
    b = multi_sub(env, "b", 1, None)
    wait_read(pub, binlog_size(env), "the three apps to read the first writes")
    time.sleep(1)
    stop_sub(b, "app b0")
    env.write_workload(1000, seed=2)
    wait_read(pub, binlog_size(env), "the lead and a0 to read")
    time.sleep(1)
    stop_sub(a, "app a0")
    env.write_workload(1000, seed=3)
    wait_read(pub, binlog_size(env), "the lead to read")
    _, r0 = pub.counters()
    merges = pub.merges()
    # Both come back at once, at two positions behind the lead: one caravan free.
    a = multi_sub(env, "a", 1, None, wait=False)
    b = multi_sub(env, "b", 1, None, wait=False)
    seen = {}

    def waited():
        s = pub.read() or {}
        if s.get("waiting_for_caravan"):
            seen["w"] = s["waiting_for_caravan"]
        return "has a reader after waiting" in pub.log()
    td.wait_until(waited, 120 * SCALE, "the waiting app to get a reader")
    td.check(seen.get("w") and len(seen["w"]) == 1, "one app waited for a caravan, listed in the "
             "status file: %s" % seen.get("w"))
    td.check("waits for a reader" in pub.log(), "the waiting app was logged (WARN)")
    td.wait_until(lambda: pub.merges() >= merges + 2, 120 * SCALE,
                  "both apps to catch up and merge")
    _, r1 = pub.counters()
    td.check(r1 - r0 == 2, "two readers started one after the other for the two apps (%d)" %
             (r1 - r0))
    td.check(not (pub.read() or {}).get("waiting_for_caravan"), "no app waits any more")
    b_before, _ = pub.counters()
    s_before = binlog_size(env)
    env.write_workload(200, seed=4)
    grow = binlog_size(env) - s_before
    wait_read(pub, b_before + grow, "the new writes to be read")
    time.sleep(0.5)
    b_after, _ = pub.counters()
    td.check(b_after - b_before == grow, "then one reader serves the three apps (%d bytes read "
             "for %d written)" % (b_after - b_before, grow))
    n = len(env.expected())
    td.wait_until(lambda: td.count_lines(lead.out) >= n, 60 * SCALE, "the lead to get everything")
    stop_sub(a, "app a0")
    stop_sub(b, "app b0")


SCENARIOS = {"start_together": sc_start_together, "catch_up": sc_catch_up,
             "catch_up_busy": sc_catch_up_busy, "cap": sc_cap}


def main(argv):
    if len(argv) < 2 or argv[1] not in SCENARIOS:
        print(__doc__)
        return 2
    if not os.path.exists(MULTI_SUB):
        print("skip: %s is not built" % MULTI_SUB)
        return td.SKIP
    name = argv[1]
    td.SCENARIOS[name] = lambda env: SCENARIOS[name](env, argv)
    return td.main([argv[0], name, "--source", "mariadb"])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
