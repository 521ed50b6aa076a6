#!/usr/bin/env python3
"""Caravans split and merge: a subscriber that falls behind leaves the shared reader,
catches up on a reader of its own, and merges back once both stand at the same position.

Usage: python3 tests/publisher/test_caravan_merge.py [--source synthetic|mariadb]

Two apps read one shard. The instance of app_slow is stopped (SIGSTOP) for a while
mid-stream, so its window fills: the publisher must log that app_slow leaves the caravan
(the other app keeps receiving), then, once app_slow runs again and has caught up, that
the two caravans merge. Both apps must receive every update in log order without gaps.
Uses the servers and helpers of test_delivery.py; exits 0 on success, 1 on a failed
check, 77 (skip) if something needed is not built.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_delivery as td  # noqa: E402


def log_has(p, text):
    with open(p.logpath, errors="replace") as f:
        return text in f.read()


def scenario(env):
    fast = env.tail("app_fast")
    # A ZooKeeper session that outlasts the stop below: stopped, app_slow's
    # instance is slow, not dead.
    slow = env.tail("app_slow", session_ms=15000)
    # A small window and a short wait make the stopped instance leave quickly; the
    # heartbeat timeout is long enough that the stop is slowness, not death.
    delivery = {"window_bytes": 65536, "caravan_wait_ms": 50, "heartbeat_timeout_ms": 20000}
    if env.source == "synthetic":
        n = 120000
        p = env.publisher({"updates": n, "rate": 20000}, delivery)
        want = td.synth_keys(n)
        td.wait_until(lambda: td.count_lines(fast.out) > 10000, 60, "the first updates")
        slow.send_signal(signal.SIGSTOP)
    else:
        p = env.publisher(None, delivery)
        env.write_workload(100, rounds=1)
        td.wait_until(lambda: td.count_lines(slow.out) > 20, 60, "the first updates")
        slow.send_signal(signal.SIGSTOP)
        env.write_workload(2000, rounds=1)
    td.log("app_slow's instance stopped")
    td.wait_until(lambda: log_has(p, "app app_slow leaves caravan"), 30,
                  "app_slow to leave the shared caravan")
    td.check(True, "the stopped app left the shared caravan (window full)")
    time.sleep(1)
    slow.send_signal(signal.SIGCONT)
    td.log("app_slow's instance continues")
    td.wait_until(lambda: log_has(p, "merges into caravan"), 90,
                  "the caravans to merge once app_slow has caught up")
    td.check(True, "the caravans merged once the slow app had caught up")
    if env.source == "mariadb":
        env.write_workload(600, rounds=1)   # delivered through the merged caravan
        want = [td.pos_key(u) for u in env.expected()]
    td.wait_until(lambda: td.count_lines(fast.out) >= len(want) and
                  td.count_lines(slow.out) >= len(want), 120, "both apps to receive everything")
    td.check_stream(td.read_lines(fast.out), want, "app_fast")
    td.check_stream(td.read_lines(slow.out), want, "app_slow (split off, then merged)")
    td.check(p.poll() is None, "the publisher is still running")


def main(argv):
    source = argv[argv.index("--source") + 1] if "--source" in argv else "synthetic"
    td.SCENARIOS["caravan_merge"] = scenario
    return td.main([argv[0], "caravan_merge", "--source", source])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
