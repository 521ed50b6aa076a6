"""Integration test: one failing flow never stops a shard (docs/RUNBOOK.md "A flow failed").

Usage: python3 tests/publisher/test_failed_flow.py [--ctl PATH]

Two apps on one MariaDB shard; app_b is stopped while the binlog file holding its
acknowledged position is purged (FLUSH BINARY LOGS, PURGE BINARY LOGS TO ...). When
app_b comes back its flow FAILS (reason "purged") with the reason in the publisher's
status file, in one ERROR line of its log and in ZooKeeper (wormhole-ctl app), while
app_a keeps receiving every update -- also across a publisher restart. wormhole-ctl
reset --to-oldest brings app_b's flow back without restarting the publisher; with the
app's policy on_purged "oldest" (wormhole-ctl policy) a second purge makes it resume from
the oldest position with a WARN instead; wormhole-ctl remove cleans the app once its
instance is gone, and wormhole-ctl gc removes an app without instances whose positions
are older than its limit. Exits 0 on success, 1 on
a failed check, 77 (skip) when MariaDB or the programs are not available.
"""
import json
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_delivery as td  # noqa: E402
from test_delivery import check, count_lines, log, wait_until  # noqa: E402

from flow_util import CTL, ctl, ids, insert, purge_to_newest, wait_ids  # noqa: E402


def status_failed(path):
    try:
        with open(path) as f:
            st = json.load(f)
    except (OSError, ValueError):
        return []
    return st.get("failed_flows", [])


def scenario(env, stack):
    status = stack.path("status.json")
    os.environ["WORMHOLE_STATUS_FILE"] = status
    os.environ["WORMHOLE_STATUS_INTERVAL_MS"] = "200"
    ta = env.tail("app_a")
    tb = env.tail("app_b")
    pub = env.publisher()
    insert(env, 1, 20)
    wait_ids(ta.out, set(range(1, 21)), "app_a gets the first rows")
    wait_ids(tb.out, set(range(1, 21)), "app_b gets the first rows")
    time.sleep(1)   # positions written (flush 100 ms)
    tb.terminate()
    tb.wait(timeout=15)
    log("app_b stopped at its acknowledged position")
    insert(env, 21, 20)
    wait_ids(ta.out, set(range(21, 41)), "app_a gets rows while app_b is stopped")
    log("app_b's position: %s" % ctl(env, "--json", "app", "app_b").strip())
    purge_to_newest(env, flush=True)
    insert(env, 41, 10)
    wait_ids(ta.out, set(range(41, 51)), "app_a gets rows after the purge")

    tb2 = env.tail("app_b")
    wait_until(lambda: "FAILED" in td.log_text(pub), 30, "the ERROR line of app_b's failure")
    check(pub.poll() is None, "the publisher goes on after app_b's flow failed")
    lines = [l for l in td.log_text(pub).splitlines() if "FAILED" in l]
    check(len(lines) == 1 and "app_b" in lines[0] and "ERROR" in lines[0].upper(),
          "one ERROR line names app_b's failure: %s" % lines)
    wait_until(lambda: any(f["app"] == "app_b" and f["code"] == "purged"
                           for f in status_failed(status)), 20,
               "the status file lists app_b's failed flow (code purged)")
    check(all(f["app"] != "app_a" for f in status_failed(status)),
          "the status file lists only app_b")
    wait_until(lambda: json.loads(ctl(env, "--json", "app", "app_b"))["shards"][0]["failure"],
               20, "ZooKeeper has app_b's failure node")
    detail = json.loads(ctl(env, "--json", "app", "app_b"))
    fail = detail["shards"][0]["failure"]
    check(fail["code"] == "purged" and "purged" in fail["reason"].lower() or
          fail["code"] == "purged", "the failure node says purged: %s" % fail)
    table = ctl(env, "apps")
    check("FAILED (purged)" in table and "app_a" in table, "wormhole-ctl apps shows the "
          "failure:\n" + table)
    insert(env, 51, 10)
    wait_ids(ta.out, set(range(51, 61)), "app_a keeps receiving while app_b's flow is failed")
    got_b = count_lines(tb2.out)
    time.sleep(1)
    check(count_lines(tb2.out) == got_b == 0, "app_b's new instance receives nothing")

    # Restart: the failure is found again, app_a is not held back.
    pub.terminate()
    check(pub.wait(timeout=20) == 0, "the publisher stops cleanly with a failed flow")
    pub = env.publisher()
    insert(env, 61, 10)
    wait_ids(ta.out, set(range(61, 71)), "app_a gets every row after a publisher restart")
    wait_until(lambda: "FAILED" in td.log_text(pub), 30, "app_b fails again after the restart")
    check(pub.poll() is None, "the restarted publisher goes on")

    # Reset to the oldest position still in the log: the flow starts again.
    ctl(env, "reset", "app_a", "s1", "--to-oldest", expect=3)
    out = ctl(env, "reset", "app_b", "s1", "--to-oldest")
    log(out.strip())
    wait_ids(tb2.out, set(range(41, 71)), "app_b's flow comes back after the reset")
    check(json.loads(ctl(env, "--json", "app", "app_b"))["shards"][0]["failure"] is None,
          "the reset removed the failure node")
    wait_until(lambda: not status_failed(status), 20, "the status file lists no failed flow")
    insert(env, 71, 5)
    wait_ids(ta.out, set(range(71, 76)), "app_a still receives")
    wait_ids(tb2.out, set(range(71, 76)), "app_b receives new rows again")

    # Policy "oldest": purged again while app_b is stopped, it resumes with a WARN.
    ctl(env, "policy", "app_b", "--on-purged", "oldest")
    check(json.loads(ctl(env, "--json", "app", "app_b"))["on_purged"] == "oldest",
          "wormhole-ctl app shows the policy")
    time.sleep(1)
    tb2.terminate()
    tb2.wait(timeout=15)
    insert(env, 76, 5)
    wait_ids(ta.out, set(range(76, 81)), "app_a gets rows while app_b is stopped again")
    purge_to_newest(env, flush=True)
    insert(env, 81, 5)
    tb2 = env.tail("app_b")
    wait_ids(tb2.out, set(range(81, 86)), "app_b resumes from the oldest position (policy)")
    check(not any(i in ids(tb2.out) for i in range(76, 81)),
          "the purged rows are not delivered to app_b")
    text = td.log_text(pub)
    check("on_purged is \"oldest\"" in text and text.count("FAILED") == 1,
          "one WARN names the gap, and no new failure")

    # Remove: refused while an instance is registered, done once it is gone.
    ctl(env, "remove", "app_b", expect=3)
    tb2.terminate()
    tb2.wait(timeout=15)
    wait_until(lambda: not json.loads(ctl(env, "--json", "app", "app_b"))["instances"], 20,
               "app_b's instance leaves ZooKeeper")
    ctl(env, "remove", "app_b")
    names = [a["app"] for a in json.loads(ctl(env, "--json", "apps"))["apps"]]
    check("app_b" not in names and "app_a" in names, "remove deleted app_b only: %s" % names)
    ctl(env, "app", "app_b", expect=1)

    # gc: only apps without instances whose positions are older than the limit.
    check(json.loads(ctl(env, "--json", "gc", "--older-than", "0"))["removed"] == [],
          "gc keeps app_a while its instance runs")
    ta.terminate()
    ta.wait(timeout=15)
    wait_until(lambda: not json.loads(ctl(env, "--json", "app", "app_a"))["instances"], 20,
               "app_a's instance leaves ZooKeeper")
    check(json.loads(ctl(env, "--json", "gc", "--older-than", "3600"))["removed"] == [],
          "gc keeps app_a whose position is recent")
    time.sleep(1.2)
    check(json.loads(ctl(env, "--json", "gc", "--older-than", "1"))["removed"] == ["app_a"],
          "gc removes app_a once it has no instance and an old position")
    check(json.loads(ctl(env, "--json", "apps"))["apps"] == [], "no app left")
    pub.send_signal(signal.SIGTERM)
    check(pub.wait(timeout=20) == 0, "the publisher stops cleanly")


def main(argv):
    for exe in (td.PUBLISHER, td.TAIL, CTL):
        if not os.path.exists(exe):
            print("skip: %s is not built" % exe)
            return td.SKIP
    with td.wh.Stack() as stack:
        try:
            env = td.Env(stack, "mariadb")
        except td.wh.HarnessError as e:
            print("skip: %s" % e)
            return td.SKIP
        try:
            scenario(env, stack)
        except td.Failed as e:
            print("FAILED: %s" % e, flush=True)
            stack.print_log_tails(("pub", "tail"))
            return 1
        finally:
            env.stop_all()
        bad = stack.sanitizer_report(("pub", "tail"))
        if bad:
            print("FAILED: %s" % bad)
            return 1
    print("failed_flow: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
