"""Integration test: a new app's start is recorded before it receives anything (docs/ZOOKEEPER.md
"A new app's start").

Usage: python3 tests/publisher/test_new_app.py

A new app has no position in ZooKeeper; the publisher starts it from the oldest position
still in the log. The apps here receive updates but acknowledge none (e2e-sub
--stall-after 1: the callback of the first batch never returns, so no datamarker is ever
acknowledged), then go away, and the binlogs holding everything they received are purged.
Before the fix they came back "from the oldest position" and silently missed what lay
between their last update and the new oldest binlog. Now:

  A  app_s (on_purged stop): its subscriber is killed (SIGKILL); the flow FAILS as purged
     when it comes back, the failure node naming its recorded start; app_o (on_purged
     oldest) resumes from the oldest position with the WARN naming the gap; app_a, which
     acknowledges as usual, goes on.
  B  app_p: the publisher is killed (SIGKILL) before app_p acknowledged anything; after
     the purge the restarted publisher FAILS app_p's flow as purged; app_a goes on.
  C  app_q: the publisher is killed before app_q acknowledged anything, nothing is
     purged: after the restart app_q gets its first update again (the recorded start is
     read inclusively, and the new publisher's claim of the node keeps it a start).

wormhole-ctl shows the recorded start ("start": true, STATE "start (nothing acknowledged)"),
and for app_a the event time of its acknowledged position ("event_ms", the node's field) and its
age ("lag_ms"), which grows while nothing new is written; a new publisher's claim keeps it.
Exits 0 on success, 1 on a failed check, 77 (skip) when MariaDB or the programs are not
available.
"""
import json
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_delivery as td  # noqa: E402
from test_delivery import check, count_lines, log, read_lines, wait_until  # noqa: E402

from flow_util import CTL, ctl, ids, insert, purge_to_newest, wait_ids  # noqa: E402


def shard(env, app):
    """app's shard s1 as wormhole-ctl --json app shows it, or {}."""
    shards = json.loads(ctl(env, "--json", "app", app))["shards"]
    return shards[0] if shards else {}


def check_lag(env, app, since_ms):
    """app's node carries the event time of rows inserted after since_ms (the binlog records
    seconds), wormhole-ctl shows its age as lag_ms, in the table too. Returns the shard."""
    s = shard(env, app)
    now = int(time.time() * 1000)
    ev, lag = s.get("event_ms"), s.get("lag_ms")
    check(isinstance(ev, int) and since_ms - 1000 <= ev <= now + 1000,
          "%s's position node carries the event time of its acknowledged rows "
          "(inserted from %d, now %d): %s" % (app, since_ms, now, s))
    check(isinstance(lag, int) and 0 <= lag <= now - since_ms + 2000,
          "wormhole-ctl shows %s's lag as the age of that event: %s" % (app, s))
    row = [l for l in ctl(env, "app", app).splitlines() if l.startswith(app + " ")]
    check(len(row) == 1 and any(" %ds " % (lag // 1000 + d) in row[0] for d in (0, 1, 2)),
          "the table's LAG column shows it: %s" % row)
    return s


def stalled(p):
    with open(p.logpath, errors="replace") as f:
        return "stalling after" in f.read()


def kill(p):
    p.send_signal(signal.SIGKILL)
    p.wait()


def failed_lines(pub, app):
    return [l for l in td.log_text(pub).splitlines() if "FAILED" in l and "app %s:" % app in l]


def check_failed(env, pub, app, start, newest, later):
    """app's flow FAILED as purged at its recorded start, its new instance (later) gets
    nothing."""
    wait_until(lambda: failed_lines(pub, app), td.wh.scaled(60),
               "%s's flow FAILS as purged" % app)
    line = failed_lines(pub, app)[0]
    check("purged" in line and start in line, "the ERROR line names %s's start %s: %s" %
          (app, start, line))
    wait_until(lambda: (shard(env, app).get("failure") or {}).get("code") == "purged",
               td.wh.scaled(20), "ZooKeeper has %s's failure node (purged)" % app)
    fail = shard(env, app)["failure"]
    check(fail["physical"] == start, "the failure node names %s's start %s: %s" %
          (app, start, fail))
    check(start.split(":")[0] < newest, "the start %s is in a purged binlog" % start)
    check(pub.poll() is None, "the publisher goes on")
    time.sleep(1)
    check(count_lines(later.out) == 0, "%s's new instance receives nothing" % app)


def recorded_start(env, app):
    """The start the publisher recorded for app (it has acknowledged nothing)."""
    s = shard(env, app)
    check(s.get("start") is True and s.get("physical"),
          "wormhole-ctl shows %s's recorded start: %s" % (app, s))
    table = ctl(env, "app", app)
    check("start (nothing acknowledged)" in table, "the table says so:\n" + table)
    return s["physical"]


def phase_a(env, ta, pub):
    ss = env.e2e_sub("app_s", ["--stall-after", "1"])
    so = env.e2e_sub("app_o", ["--stall-after", "1"])
    ctl(env, "policy", "app_o", "--on-purged", "oldest")
    insert(env, 1, 20)
    wait_ids(ta.out, set(range(1, 21)), "app_a gets the first rows")
    wait_until(lambda: stalled(ss) and stalled(so), td.wh.scaled(30),
               "app_s and app_o receive their first update (and acknowledge nothing)")
    kill(ss)
    kill(so)
    log("app_s and app_o killed before acknowledging anything")
    env.db.flush_logs()
    since = int(time.time() * 1000)
    insert(env, 21, 10)
    wait_ids(ta.out, set(range(21, 31)), "app_a gets rows in the next binlog")
    time.sleep(1)   # app_a's position written (flush 100 ms)
    first = check_lag(env, "app_a", since)
    s = shard(env, "app_s")
    check(s.get("event_ms") is None and s.get("lag_ms") is None,
          "app_s acknowledged nothing: no event time, no lag: %s" % s)
    time.sleep(2)
    later = check_lag(env, "app_a", since)
    check(later["event_ms"] == first["event_ms"] and later["lag_ms"] >= first["lag_ms"] + 1500,
          "with nothing new written app_a's lag (the event's age) grows: %s then %s" %
          (first["lag_ms"], later["lag_ms"]))
    newest = purge_to_newest(env)
    insert(env, 31, 10)
    wait_ids(ta.out, set(range(31, 41)), "app_a gets rows after the purge")
    ts = env.tail("app_s")
    to = env.tail("app_o")
    # app_s: FAILS, naming its start.
    start = shard(env, "app_s").get("physical") or "?"
    check_failed(env, pub, "app_s", start, newest, ts)
    check(shard(env, "app_s").get("start") is True,
          "app_s's node still holds its start, never acknowledged")
    # app_o: resumes from the oldest position, the WARN names the gap.
    wait_ids(to.out, set(range(21, 41)), "app_o resumes from the oldest position (policy)",
             timeout=90)
    check(not ids(to.out) & set(range(1, 21)), "app_o gets none of the purged rows")
    warn = [l for l in td.log_text(pub).splitlines()
            if "app app_o:" in l and "on_purged is \"oldest\"" in l]
    check(len(warn) == 1, "one WARN names app_o's purged start: %s" % warn)
    insert(env, 41, 10)
    wait_ids(ta.out, set(range(41, 51)), "app_a keeps receiving")
    wait_ids(to.out, set(range(41, 51)), "app_o keeps receiving")
    check(not failed_lines(pub, "app_o") and not failed_lines(pub, "app_a"),
          "only app_s failed")
    kill(to)


def phase_b(env, ta, pub):
    sp = env.e2e_sub("app_p", ["--stall-after", "1"])
    insert(env, 51, 5)
    wait_until(lambda: stalled(sp), td.wh.scaled(30), "app_p receives its first update")
    start = recorded_start(env, "app_p")
    env.db.flush_logs()
    insert(env, 56, 5)
    wait_ids(ta.out, set(range(56, 61)), "app_a gets rows in the next binlog")
    time.sleep(1)   # app_a's position written
    kill(pub)
    kill(sp)
    log("publisher killed before app_p acknowledged anything (start %s)" % start)
    before = shard(env, "app_a")
    newest = purge_to_newest(env)
    tp = env.tail("app_p")
    pub = env.publisher()
    # Nothing new for app_a until the insert below: its node is rewritten only by the new
    # publisher's claim (a newer epoch), which keeps the event time.
    wait_until(lambda: shard(env, "app_a").get("epoch", 0) > before["epoch"], td.wh.scaled(30),
               "the new publisher claims app_a's position")
    after = shard(env, "app_a")
    check(after["physical"] == before["physical"] and isinstance(before["event_ms"], int) and
          after["event_ms"] == before["event_ms"],
          "the claim keeps app_a's position and its event time: %s -> %s" % (before, after))
    insert(env, 61, 5)
    wait_ids(ta.out, set(range(61, 66)), "app_a gets every row after the publisher restart")
    check_failed(env, pub, "app_p", start, newest, tp)
    kill(tp)
    return pub


def phase_c(env, ta, pub):
    sq = env.e2e_sub("app_q", ["--stall-after", "1"])
    insert(env, 71, 5)
    wait_until(lambda: stalled(sq), td.wh.scaled(30), "app_q receives its first update")
    start = recorded_start(env, "app_q")
    kill(pub)
    kill(sq)
    log("publisher killed before app_q acknowledged anything (start %s)" % start)
    tq = env.tail("app_q")
    pub = env.publisher()
    wait_until(lambda: count_lines(tq.out) > 0, td.wh.scaled(60),
               "app_q's new instance receives updates")
    first = read_lines(tq.out)[0]["pos"]["physical"]
    check(first == start, "app_q gets its recorded start %s again first (got %s)" %
          (start, first))
    insert(env, 76, 5)
    wait_ids(tq.out, set(range(76, 81)), "app_q goes on")
    wait_ids(ta.out, set(range(71, 81)), "app_a goes on")
    wait_until(lambda: shard(env, "app_q").get("start") is False, td.wh.scaled(20),
               "app_q's acknowledged position replaces its start")
    return pub


def scenario(env):
    ta = env.tail("app_a")
    pub = env.publisher()
    phase_a(env, ta, pub)
    pub = phase_b(env, ta, pub)
    pub = phase_c(env, ta, pub)
    pub.send_signal(signal.SIGTERM)
    check(pub.wait(timeout=20) == 0, "the publisher stops cleanly")


def main(argv):
    for exe in (td.PUBLISHER, td.TAIL, td.E2E_SUB, CTL):
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
            scenario(env)
        except td.Failed as e:
            print("FAILED: %s" % e, flush=True)
            stack.print_log_tails(("pub", "tail", "sub"))
            return 1
        finally:
            env.stop_all()
        bad = stack.sanitizer_report(("pub", "tail", "sub"))
        if bad:
            print("FAILED: %s" % bad)
            return 1
    print("new_app: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
