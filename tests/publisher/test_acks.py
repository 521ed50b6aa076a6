#!/usr/bin/env python3
"""Acknowledgements that mean what they say: integration tests with a real ZooKeeper (and MariaDB).

Usage: python3 tests/publisher/test_acks.py SCENARIO

Scenarios (each starts its own throwaway servers through tests/harness):
  unknown_column   (MariaDB) an app whose filter names a column its table lacks (scoped by
                   the table, or on any table and in no table) is stopped with a reason
                   naming the app, the table and the column, in the publisher's log, its
                   status file and the instance's log, and its position does not move past
                   the update it could not judge; another app keeps receiving everything;
                   after a DDL adds the column and a SIGHUP, the app receives its updates
  filter_conflict  a second instance with another filter is refused at start ("app X is
                   registered with filter F; this instance ... has G"), one with the same
                   filter joins; --replace-filter replaces the app's filter while instances
                   run and the publisher applies the new one; with no instance left, a new
                   filter replaces the old one by itself
  escalate_stop    a callback failing forever on one update (on_update, then on_batch) is
                   called max_attempts times, then the subscriber refuses the flow
                   (WH_ERR_REFUSED, on_error, log), the publisher stops and records the flow
                   and does not retry until SIGHUP; other apps keep receiving
  escalate_dead_letter  the same with a dead-letter file: after max_attempts the update (or
                   the failing batch) is written there and delivery goes on to the end
  heartbeat_config a publisher whose heartbeat interval does not fit twice in its heartbeat
                   timeout is rejected at start (and by --check-config), naming both keys; a
                   subscriber whose heartbeat timeout does not hold two of the publisher's
                   heartbeats refuses its flows and says why

Exits 0 on success, 1 on a failed check, 77 (skip) when something needed is not built.
"""
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_delivery as td  # noqa: E402
from test_delivery import check, log, wait_until, Failed  # noqa: E402

wh = td.wh
FAIL_SUB = os.path.join(td.BUILD, "tests", "publisher", "fail_sub")
CTL = os.path.join(td.BUILD, "tools", "wormhole-ctl")
SCALE = wh.timeout_scale()


class AckEnv(td.Env):
    """td.Env plus a supervised publisher (a status file) and the failing subscriber."""

    def publisher(self, options=None, delivery=None, pub_id="pub-test", session_ms=4000,
                  zk_connect=None, status=True, wait=True):
        self.n += 1
        if self.source == "synthetic":
            mapper = {"name": "synthetic", "options": options or {}}
        else:
            mapper = {"name": "mysql",
                      "options": {"binlog_dir": self.db.env("X")["X_BINLOG_DIR"]}}
        cfg = {"shard": "s1", "id": pub_id, "mapper": mapper,
               "zookeeper": {"connect": zk_connect or self.zk.connect, "root": self.root,
                             "session_timeout_ms": session_ms},
               "delivery": {"heartbeat_interval_ms": 300, "heartbeat_timeout_ms": 3000,
                            "datamarker_interval_ms": 50, "retry_max_ms": 1000},
               "positions": {"flush_interval_ms": 100}}
        cfg["delivery"].update(delivery or {})
        path = self.stack.path("pub%d.json" % self.n)
        with open(path, "w") as f:
            json.dump(cfg, f)
        env = dict(os.environ)
        statusf = self.stack.path("pub%d.status.json" % self.n)
        if status:
            env["WORMHOLE_STATUS_FILE"] = statusf
            env["WORMHOLE_STATUS_INTERVAL_MS"] = "200"
        logf = open(self.stack.path("pub%d.log" % self.n), "w")
        p = subprocess.Popen([td.PUBLISHER, "--config", path], stderr=logf, env=env)
        p.logpath = logf.name
        p.config = path
        p.status = statusf
        self.procs.append(p)
        return p

    def fail_sub(self, app, extra, wait=True):
        self.n += 1
        out = self.stack.path("fsub%d.jsonl" % self.n)
        p = subprocess.Popen([FAIL_SUB, "--zk", self.zk.connect + self.root, "--app", app] +
                             extra, stdout=open(out, "w"),
                             stderr=open(self.stack.path("fsub%d.log" % self.n), "w"))
        p.out = out
        p.logpath = self.stack.path("fsub%d.log" % self.n)
        self.procs.append(p)
        if wait:
            self.wait_registered(p)
        return p

    def tail_nowait(self, app, extra):
        """wormhole-tail that may fail to start; returns (process, log path)."""
        self.n += 1
        logp = self.stack.path("tail%d.log" % self.n)
        out = self.stack.path("tail%d.jsonl" % self.n)
        p = subprocess.Popen([td.TAIL, "--zk", self.zk.connect + self.root, "--app", app,
                              "--session-timeout", "2000"] + extra,
                             stdout=open(out, "w"), stderr=open(logp, "w"))
        p.out = out
        p.logpath = logp
        self.procs.append(p)
        return p


def text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def lines(path):
    return [json.loads(x) for x in text(path).splitlines() if x.strip()]


def status_of(pub):
    try:
        with open(pub.status) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return {}


def failed_flows(pub):
    return {f["app"]: f for f in status_of(pub).get("failed_flows", [])}


def synth_ids(path):
    return [u["after"]["id"] for u in td.read_lines(path)]


# ---- scenarios ---------------------------------------------------------------------------

def sc_unknown_column(env):
    if env.source != "mariadb":
        raise td.Skip()
    watch = env.zk_watch(["data:/apps/typo/positions/s1", "data:/apps/anywhere/positions/s1",
                          "data:/apps/typo/failures/s1"])
    good = env.tail("good", 'table = "items"')
    typo = env.tail("typo", 'table = "items" and qtyy = 5')
    anywhere = env.tail("anywhere", "qtyy = 5 or nmae = \"x\"")
    presence = env.tail("presence", "table = \"audit\" or not exists deleted_at")
    time.sleep(1)
    pub = env.publisher()
    env.write_workload(600)
    full = env.expected()
    items = [td.pos_key(u) for u in full if u.get("table") == "items"]
    wait_until(lambda: td.distinct([good.out], len(items)) >= len(items), 90 * SCALE,
               "every items update at app good")
    td.check_stream(td.read_lines(good.out), items, "good (filter table = \"items\")")
    wait_until(lambda: len(failed_flows(pub)) >= 2, 30 * SCALE,
               "the publisher's status file to list the stopped flows")
    ff = failed_flows(pub)
    check("typo" in ff and ff["typo"]["code"] == "config" and
          "column 'qtyy' on table app.items (it names the table), but "
          "app.items has no such column (its columns: id, grp, name, qty, price)"
          in ff["typo"]["reason"],
          "the status file records app typo's stopped flow with the table and the column: %s"
          % ff.get("typo", {}).get("reason"))
    check("anywhere" in ff and "column 'qtyy' on any table" in ff["anywhere"]["reason"] and
          "no other table seen on shard s1" in ff["anywhere"]["reason"],
          "the status file records app anywhere's stopped flow: %s"
          % ff.get("anywhere", {}).get("reason"))
    check("presence" not in ff and "good" not in ff,
          "an exists test on a column no table has, and a fitting filter, are not errors")
    plog = text(pub.logpath)
    check("ERROR [publisher] app typo: flow of shard s1 to instance" in plog and
          "'qtyy'" in plog, "the publisher logs the failed flow as an error")
    wait_until(lambda: watch.data("/apps/typo/failures/s1"), 10 * SCALE,
               "the failure node of app typo")
    fnode = json.loads(watch.data("/apps/typo/failures/s1"))
    check(fnode["code"] == "config" and "'qtyy'" in fnode["reason"],
          "ZooKeeper records the failure (apps/typo/failures/s1, code config)")
    check("publisher reports WH_ERR_CONFIG: app typo: its filter tests column 'qtyy'"
          in text(typo.logpath), "app typo's instance is told why (ERROR WH_ERR_CONFIG)")
    check(not td.read_lines(typo.out) and not td.read_lines(anywhere.out),
          "the stopped apps received nothing")
    # The position never moved past the first update the filter could not judge.
    first_items = min(items)
    for app in ("typo", "anywhere"):
        d = watch.data("/apps/%s/positions/s1" % app)
        phys = json.loads(d)["physical"] if d else None
        check(phys is None or td.phys_key(phys) < first_items,
              "app %s's acknowledged position (%s) is before the first items update %s"
              % (app, phys, first_items))
    # Nothing retries by itself.
    n_stops = plog.count("app typo: flow of shard s1")
    time.sleep(2)
    check(text(pub.logpath).count("app typo: flow of shard s1") == n_stops,
          "the stopped flow is not retried by itself")
    # The table gets the column; a SIGHUP retries; the new schema fits.
    env.db.sql("ALTER TABLE app.items ADD COLUMN qtyy INT")
    env.db.sql("INSERT INTO app.items (id, grp, name, qty, price, qtyy) VALUES "
               "(900000001, 1, 'a', 1, 1.00, 5), (900000002, 1, 'b', 1, 1.00, 6)")
    # Once a reader has met the new version of the table, the publisher knows the column:
    # the old updates of the table lack it legitimately (they predate the ALTER TABLE).
    wait_until(lambda: any(u.get("after", {}).get("id") == 900000002
                           for u in td.read_lines(good.out)), 60 * SCALE,
               "app good to receive the rows written after the DDL")
    pub.send_signal(signal.SIGHUP)
    wait_until(lambda: any(u.get("after", {}).get("id") == 900000001
                           for u in td.read_lines(typo.out)), 60 * SCALE,
               "app typo to receive the row with qtyy = 5 after the DDL and SIGHUP")
    got = [u for u in td.read_lines(typo.out)]
    check(all(u["after"]["qtyy"] == 5 for u in got),
          "after the DDL app typo receives exactly its matching updates (%d)" % len(got))
    check("retrying the failed flow" in text(pub.logpath), "SIGHUP retried the failed flows")
    wait_until(lambda: "typo" not in failed_flows(pub), 10 * SCALE,
               "the status file to drop app typo from the failed flows")
    wait_until(lambda: watch.data("/apps/typo/failures/s1") is None, 10 * SCALE,
               "the failure node of the revived flow to go")


def sc_filter_conflict_run(env):
    """filter_conflict, written out: see the module doc."""
    a = env.tail("x", 'table = "t1"', instance="a")
    b = env.tail_nowait("x", ["--filter", 'table = "t2"', "--instance", "b"])
    rc = b.wait(timeout=30 * SCALE)
    err = text(b.logpath)
    last = err.strip().splitlines()[-1] if err.strip() else "(no output)"
    check(rc == 1 and "app x is registered with filter 'table = \"t1\"' (set by instance a)"
          in err and "this instance (b) has 'table = \"t2\"', and 1 other instance of the "
          "app runs (a)" in err,
          "a second instance with another filter is refused at start: %s" % last[:400])
    c = env.tail("x", 'table = "t1"', instance="c")
    check(c.poll() is None and a.poll() is None, "an instance with the same filter joins")
    # The operator's view, and a setting written next to the filter keeps it.
    def app_doc():
        r = subprocess.run([CTL, "--zk", env.zk.connect + env.root, "--json", "app", "x"],
                           capture_output=True, text=True, timeout=60)
        return json.loads(r.stdout) if r.returncode == 0 else {}
    check(app_doc().get("filter") == '{"eq":["table","t1"]}',
          "wormhole-ctl app shows the app's filter: %s" % app_doc().get("filter"))
    r = subprocess.run([CTL, "--zk", env.zk.connect + env.root, "policy", "x",
                        "--on-purged", "oldest"], capture_output=True, text=True, timeout=60)
    doc = app_doc()
    check(r.returncode == 0 and doc.get("on_purged") == "oldest" and
          doc.get("filter") == '{"eq":["table","t1"]}',
          "wormhole-ctl policy keeps the app's filter (%s)" % doc)
    pub = env.publisher({"rate": 2000, "tables": 4})
    wait_until(lambda: len(td.read_lines(a.out)) + len(td.read_lines(c.out)) >= 50,
               30 * SCALE, "updates at app x")
    got = td.read_lines(a.out) + td.read_lines(c.out)
    check(all(u["table"] == "t1" for u in got), "app x receives only t1 (%d)" % len(got))

    # Replaced on purpose while a and c run: the publisher applies the app's new filter,
    # to whichever instance has the shard.
    d = env.tail_nowait("x", ["--filter", 'table = "t2"', "--instance", "d",
                              "--replace-filter"])
    env.wait_registered(d)
    check("replacing its filter 'table = \"t1\"' with this instance's 'table = \"t2\"' "
          "(replace_filter is set)" in text(d.logpath),
          "--replace-filter replaces the app's filter and says so")
    doc = app_doc()
    check(doc.get("filter") == '{"eq":["table","t2"]}' and doc.get("on_purged") == "oldest",
          "the new filter is the app's, and its setting is kept (%s)" % doc)
    outs = [a.out, c.out, d.out]

    def t2_count():
        return sum(1 for p in outs for u in td.read_lines(p) if u["table"] == "t2")
    wait_until(lambda: t2_count() >= 50, 30 * SCALE, "t2 updates after the replacement")
    check("has a new filter" in text(pub.logpath) or
          "moves from instance" in text(pub.logpath),
          "the publisher restarted the flow with the app's new filter")
    # Once every instance is gone, a new filter needs no force.
    for p in (a, c, d):
        p.terminate()
        p.wait(timeout=15)
    time.sleep(0.5)
    e = env.tail("x", 'table = "t3"', instance="e")
    check("no other instance runs" in text(e.logpath),
          "with no instance left, a new instance's filter becomes the app's")
    wait_until(lambda: any(u["table"] == "t3" for u in td.read_lines(e.out)), 30 * SCALE,
               "t3 updates at the new instance")
    check(all(u["table"] == "t3" for u in td.read_lines(e.out)),
          "the new instance receives only its filter's updates")


def escalate(env, extra, batch):
    n = 2000
    watch = env.zk_watch(["data:/apps/flaky/positions/s1"])
    other = env.tail("other")
    calls = env.stack.path("calls%d.jsonl" % (env.n + 1))
    errors = env.stack.path("errors%d.jsonl" % (env.n + 1))
    args = ["--fail-on", "id = 700", "--max-attempts", "3", "--calls", calls, "--errors", errors]
    if batch:
        args.append("--batch")
    flaky = env.fail_sub("flaky", args + extra)
    pub = env.publisher({"updates": n, "tables": 4})
    wait_until(lambda: len(td.read_lines(other.out)) >= n, 60 * SCALE, "app other to get all")
    check(synth_ids(other.out)[:n] == list(range(1, n + 1)) or
          sorted(set(synth_ids(other.out))) == list(range(1, n + 1)),
          "app other receives every update while app flaky fails")
    return n, watch, other, calls, errors, flaky, pub


def sc_escalate_stop(env):
    for batch in (False, True):
        mode = "on_batch" if batch else "on_update"
        n, watch, other, calls, errors, flaky, pub = escalate(env, [], batch)
        wait_until(lambda: any(e["name"] == "WH_ERR_REFUSED" for e in lines(errors)),
                   60 * SCALE, "%s: the subscriber to give up" % mode)
        e = [x for x in lines(errors) if x["name"] == "WH_ERR_REFUSED"][0]
        where = ("on the batch starting with the update at 1/0 (1024 updates, to 1024/0)"
                 if batch else "on the update at 700/0 (insert bench.t0)")
        check(e["attempts"] == 3 and e["callback_rc"] == -1 and
              "it returned -1: injected failure" in e["message"] and
              "failed 3 times " + where in e["message"] and
              "refusing the flow" in e["message"],
              "%s: on_error names the position, the attempts and the callback's error: %s"
              % (mode, e["message"][:300]))
        check(e["pos"] == ("1/0" if batch else "700/0"),
              "%s: on_error gets the update given up on (%s)" % (mode, e["pos"]))
        check(len(lines(calls)) == 3, "%s: the callback failed exactly max_attempts (3) times "
              "(%d)" % (mode, len(lines(calls))))
        check("ERROR [subscriber] app flaky, shard s1: the callback failed 3 times"
              in text(flaky.logpath), "%s: the subscriber logs it as an error" % mode)
        wait_until(lambda: "flaky" in failed_flows(pub), 10 * SCALE,
                   "%s: the status file to list flaky's stopped flow" % mode)
        check("subscriber refused the flow: app flaky, shard s1: the callback failed 3 times"
              in failed_flows(pub)["flaky"]["reason"] and
              failed_flows(pub)["flaky"]["code"] == "refused" and
              "app flaky: flow of shard s1 to instance" in text(pub.logpath),
              "%s: the publisher records the refused flow (status file and log)" % mode)
        ids = synth_ids(flaky.out)
        if batch:
            check(max(ids, default=0) < 700, "%s: app flaky got none of the updates from the "
                  "failing batch on (it got %d before it)" % (mode, len(set(ids))))
        else:
            check(max(ids, default=0) < 700 and set(range(1, 700)) <= set(ids),
                  "%s: app flaky got the updates before 700 and none after" % mode)
        d = watch.data("/apps/flaky/positions/s1")
        phys = json.loads(d)["physical"] if d else None
        check(phys is None or td.phys_key(phys) < td.phys_key("700/0"),
              "%s: app flaky's acknowledged position (%s) is before the update given up on"
              % (mode, phys))
        time.sleep(2)
        check(len(lines(calls)) == 3, "%s: no silent redelivery loop (still 3 calls)" % mode)
        # SIGHUP: the publisher retries; the subscriber gives max_attempts again, and reports.
        pub.send_signal(signal.SIGHUP)
        wait_until(lambda: sum(1 for x in lines(errors) if x["name"] == "WH_ERR_REFUSED") >= 2,
                   60 * SCALE, "%s: the second refusal after SIGHUP" % mode)
        check(len(lines(calls)) == 6, "%s: after SIGHUP, 3 more attempts, then refused again "
              "(%d calls)" % (mode, len(lines(calls))))
        env.stop_all()
        env.procs = []
        if not batch:
            # A fresh ZooKeeper state for the second round.
            env.root = "/wh2"


def sc_escalate_dead_letter(env):
    for batch in (False, True):
        mode = "on_batch" if batch else "on_update"
        dl = env.stack.path("dead%d.jsonl" % (env.n + 1))
        n, watch, other, calls, errors, flaky, pub = escalate(env, ["--dead-letter", dl], batch)
        wait_until(lambda: lines(dl), 60 * SCALE, "%s: the dead-letter record" % mode)
        dead = lines(dl)
        check(dead and all(x["app"] == "flaky" and x["shard"] == "s1" and x["attempts"] == 3 and
                           "injected failure" in x["error"] for x in dead),
              "%s: the dead-letter file holds the app, shard, attempts and error" % mode)
        dead_ids = [x["update"]["after"]["id"] for x in dead]
        if not batch:
            check(dead_ids == [700], "%s: the update given up on is dead-lettered (%s)"
                  % (mode, dead_ids))
        else:
            check(700 in dead_ids and dead_ids == sorted(dead_ids) and
                  dead_ids == list(range(dead_ids[0], dead_ids[-1] + 1)),
                  "%s: the failing batch (%d..%d) is dead-lettered" % (mode, dead_ids[0],
                                                                       dead_ids[-1]))
        wait_until(lambda: set(synth_ids(flaky.out)) | set(dead_ids) >= set(range(1, n + 1)),
                   60 * SCALE, "%s: every other update at app flaky" % mode)
        got = set(synth_ids(flaky.out))
        check(not (got & set(dead_ids)) and got | set(dead_ids) == set(range(1, n + 1)),
              "%s: every update is delivered or dead-lettered, none both" % mode)
        check(len(lines(calls)) == 3, "%s: max_attempts (3) failed calls" % mode)
        e = lines(errors)
        check(len(e) == 1 and e[0]["code"] == 0 and "dead-letter file" in e[0]["message"],
              "%s: on_error reports the dead-lettered update" % mode)
        wait_until(lambda: (watch.data("/apps/flaky/positions/s1") or "").find('"%d/0"' % n) >= 0,
                   30 * SCALE, "%s: app flaky's position to reach the end" % mode)
        check(not failed_flows(pub), "%s: no flow is stopped" % mode)
        env.stop_all()
        env.procs = []
        env.root = "/wh2"


def sc_heartbeat_config(env):
    pub = env.publisher(delivery={"heartbeat_interval_ms": 5000, "heartbeat_timeout_ms": 3000})
    rc = pub.wait(timeout=30 * SCALE)
    plog = text(pub.logpath)
    check(rc == 1 and "'delivery.heartbeat_interval_ms' (5000)" in plog and
          "'delivery.heartbeat_timeout_ms' (3000)" in plog and pub.config in plog,
          "a heartbeat interval longer than the timeout is rejected at start, naming the file "
          "and both keys")
    out = subprocess.run([td.PUBLISHER, "--check-config", pub.config], capture_output=True,
                         text=True, timeout=30)
    check(out.returncode == 1 and "at least twice the interval" in out.stderr,
          "--check-config rejects it too")
    # The subscriber's side: its heartbeat timeout must hold two publisher heartbeats.
    errors = env.stack.path("hb_errors.jsonl")
    sub = env.fail_sub("hb", ["--heartbeat-timeout", "500", "--errors", errors])
    pub = env.publisher({"updates": 100})
    wait_until(lambda: lines(errors), 30 * SCALE, "the subscriber to refuse the publisher")
    e = lines(errors)[0]
    check(e["name"] == "WH_ERR_CONFIG" and "sends heartbeats every 300 ms" in e["message"] and
          "heartbeat_timeout_ms 500" in e["message"],
          "a subscriber whose heartbeat timeout is too short refuses and says why: %s"
          % e["message"][:200])
    wait_until(lambda: "hb" in failed_flows(pub), 20 * SCALE,
               "the publisher to record the refused flow")
    check(sub.poll() is None and not td.read_lines(sub.out), "nothing was delivered")


SCENARIOS = {
    "unknown_column": ("mariadb", sc_unknown_column),
    "filter_conflict": ("synthetic", sc_filter_conflict_run),
    "escalate_stop": ("synthetic", sc_escalate_stop),
    "escalate_dead_letter": ("synthetic", sc_escalate_dead_letter),
    "heartbeat_config": ("synthetic", sc_heartbeat_config),
}


def main(argv):
    if len(argv) < 2 or argv[1] not in SCENARIOS:
        print(__doc__)
        return 2
    source, fn = SCENARIOS[argv[1]]
    for exe in (td.PUBLISHER, td.TAIL, FAIL_SUB, td.ZK_WATCH, CTL):
        if not os.path.exists(exe):
            print("skip: %s is not built" % exe)
            return td.SKIP
    if source == "mariadb":
        out = subprocess.run([td.LOGCAT, "--help"], capture_output=True, text=True)
        if "options of mapper 'mysql'" not in out.stdout:
            print("skip: the mysql mapper is not built")
            return td.SKIP
    with wh.Stack() as stack:
        env = AckEnv(stack, source)
        try:
            fn(env)
            env.stop_all()
            bad = stack.sanitizer_report()
            if bad:
                raise Failed(bad)
            check(True, "no sanitizer reports in the processes' logs")
        except td.Skip:
            return td.SKIP
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
