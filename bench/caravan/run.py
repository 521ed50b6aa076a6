#!/usr/bin/env python3
"""Caravan benchmark: how many times the publisher reads its log for N apps.

Usage: python3 bench/caravan/run.py --build BUILD_DIR [--runs R] [--statements S]
                                    [--apps 1,10,50] [--gather MS]

Starts a throwaway MariaDB and ZooKeeper (tests/harness), writes S random statements
(default 5000) into a binlog, and one publisher (mysql mapper) with a status file. Then,
R times (default 5) for each app count N, N new apps (one multi_sub process) start
together at the oldest position and read the whole binlog; the publisher's status
counters give the log bytes read and the readers started for that run. Prints one line
per run and a summary "apps N: log bytes read / log size min..max over R runs".
Finally a recovering app: a lead app stays in sync, a second app stops, the log grows by
S statements, the app comes back and catches up while S/2 more are written; prints the
bytes read while it catches up / the log it covers (target <= 2x), whether the caravans
merged, and the ratio for writes after the merge (target 1.00x). --gather MS sets
delivery.caravan_gather_ms (0: the placement before issue 17's fix).
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--statements", type=int, default=5000)
    ap.add_argument("--apps", default="1,10,50")
    ap.add_argument("--gather", type=int, default=None)
    a = ap.parse_args()
    os.environ["WH_BUILD_ROOT"] = os.path.abspath(a.build)
    sys.path.insert(0, os.path.join(ROOT, "tests", "publisher"))
    import test_delivery as td  # noqa: E402
    import test_caravan_start as tc  # noqa: E402
    td.log = lambda msg: None   # the harness's progress lines: only the figures below
    with td.wh.Stack() as stack:
        env = td.Env(stack, "mariadb")
        try:
            env.write_workload(a.statements, threads=4, seed=17)
            size = tc.binlog_size(env)
            total = len(env.expected())
            print("binlog: %d bytes, %d row changes" % (size, total), flush=True)
            delivery = {"window_bytes": 4 << 20}
            if a.gather is not None:
                delivery["caravan_gather_ms"] = a.gather
            pub = tc.Pub(env, delivery)
            b0, r0 = pub.counters()
            for n in [int(x) for x in a.apps.split(",")]:
                ratios = []
                for run in range(a.runs):
                    p = tc.multi_sub(env, "n%d_r%d_" % (n, run), n, total, wait=False)
                    out, _ = p.communicate(timeout=600)
                    if p.returncode != 0:
                        raise td.Failed("multi_sub failed: %s" % out)
                    b1, r1 = pub.counters()
                    ratios.append((b1 - b0) / size)
                    print("apps %d run %d: %d readers started, log bytes read %d / log size %d "
                          "= %.2fx" % (n, run, r1 - r0, b1 - b0, size, ratios[-1]), flush=True)
                    b0, r0 = b1, r1
                print("apps %d: log bytes read / log size %.2fx..%.2fx over %d runs" %
                      (n, min(ratios), max(ratios), a.runs), flush=True)
            recovering(env, td, tc, pub, a.statements)
        finally:
            env.stop_all()


def recovering(env, td, tc, pub, statements):
    lead = tc.multi_sub(env, "lead", 1, None)
    rec = tc.multi_sub(env, "rec", 1, None)
    tc.wait_read(pub, pub.counters()[0] + 1, "the apps to start reading")
    time.sleep(2)
    rec.terminate()
    rec.communicate(timeout=60)
    s0 = tc.binlog_size(env)
    env.write_workload(statements, seed=2)
    s1 = tc.binlog_size(env)
    time.sleep(2)
    b0, r0 = pub.counters()
    merges = pub.merges()
    rec = tc.multi_sub(env, "rec", 1, None)
    t0 = time.time()
    env.write_workload(statements // 2, seed=3)
    s2 = tc.binlog_size(env)
    td.wait_until(lambda: pub.merges() > merges, 600,
                  "the caravans to merge")
    t1 = time.time()
    time.sleep(0.5)
    b1, r1 = pub.counters()
    covered = s2 - s0
    print("recovering app: %d bytes behind; caught up and merged in %.1f s; log bytes read "
          "while catching up %d / log covered %d = %.2fx (target <= 2x); readers started %d"
          % (s1 - s0, t1 - t0, b1 - b0, covered, (b1 - b0) / covered, r1 - r0), flush=True)
    env.write_workload(statements // 5, seed=4)
    s3 = tc.binlog_size(env)
    tc.wait_read(pub, b1 + (s3 - s2), "the writes after the merge")
    time.sleep(0.5)
    b2, _ = pub.counters()
    print("after the merge: log bytes read %d / log growth %d = %.2fx (target 1.00x)" %
          (b2 - b1, s3 - s2, (b2 - b1) / (s3 - s2)), flush=True)
    for p in (lead, rec):
        p.terminate()
        p.communicate(timeout=60)


if __name__ == "__main__":
    main()
