"""Rolling restarts of the real wormhole-publisher under load, through wormhole-monitor: no update is lost.

usage: test_rolling_publisher.py MONITOR_BINARY [--source synthetic|mariadb]

The publisher runs as an instance of wormhole-monitor; a subscriber
(wormhole-tail) receives its stream; while updates flow (the synthetic
mapper's generator, or rows written into a real MariaDB from several
threads), `wormhole-monitor rolling-restart --wait` restarts the publisher
twice. Every update must arrive, in order, without gaps (duplicates are
allowed around the restarts: delivery is at least once). Servers, subscriber
and the stream checks come from tests/publisher/test_delivery.py. Exits 77
(skip) when the publisher or subscriber is not built.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "publisher"))
import test_delivery as td  # noqa: E402  (also puts tests/harness on sys.path)

SCALE = float(os.environ.get("WH_TIMEOUT_SCALE", "1") or "1")


def publisher_config(env, options=None):
    """The publisher object of the instance file (as test_delivery's Env.publisher builds it)."""
    if env.source == "synthetic":
        mapper = {"name": "synthetic", "options": options or {}}
    else:
        mapper = {"name": "mysql", "options": {"binlog_dir": env.db.env("X")["X_BINLOG_DIR"]}}
    return {"shard": "s1", "id": "pub-roll", "mapper": mapper,
            "zookeeper": {"connect": env.zk.connect, "root": env.root,
                          "session_timeout_ms": 4000},
            "delivery": {"heartbeat_interval_ms": 300, "heartbeat_timeout_ms": 3000,
                         "datamarker_interval_ms": 50, "retry_max_ms": 1000},
            "positions": {"flush_interval_ms": 100}}


def start_monitor(env, monitor, pub_cfg):
    conf = env.stack.path("monitor.d")
    run = env.stack.path("monitor-run")
    os.makedirs(conf, exist_ok=True)
    inst = {"command": td.PUBLISHER,
            "backoff": {"initial_ms": 200, "max_ms": 2000},
            "health": {"startup_timeout_ms": int(30000 * SCALE),
                       "stuck_timeout_ms": int(4000 * SCALE)},
            "stop_timeout_ms": int(10000 * SCALE),
            "publisher": pub_cfg}
    with open(os.path.join(conf, ".s1.json.tmp"), "w") as f:
        json.dump(inst, f)
    os.rename(os.path.join(conf, ".s1.json.tmp"), os.path.join(conf, "s1.json"))
    logf = open(env.stack.path("monitor.log"), "w")
    p = subprocess.Popen([monitor, "--config-dir", conf, "--run-dir", run],
                         stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    p.run = run
    env.procs.append(p)          # stop_all sends SIGTERM: the monitor stops the publisher
    return p


def status(monitor, run):
    out = subprocess.run([monitor, "status", "--json", "--run-dir", run], capture_output=True,
                         text=True, timeout=30)
    if out.returncode != 0:
        raise td.Failed("wormhole-monitor status failed (%d): %s" % (out.returncode, out.stderr))
    return json.loads(out.stdout)["instances"][0]


def roll(monitor, mon, what):
    before = status(monitor, mon.run)
    out = subprocess.run([monitor, "rolling-restart", "--wait", "--run-dir", mon.run],
                         capture_output=True, text=True, timeout=120 * SCALE)
    td.check(out.returncode == 0 and "completed" in out.stdout,
             "%s: rolling restart completed (%s)" % (what, out.stdout.strip() or out.stderr))
    after = status(monitor, mon.run)
    td.check(after["pid"] != before["pid"] and after["state"] == "running",
             "%s: the publisher runs again as a new process" % what)
    ex = after["last_exit"]
    td.check(ex["cause"] == "stopped" and ex["code"] == 0,
             "%s: the old publisher stopped gracefully (%s)" % (what, ex["reason"]))


def count(path):
    """Complete lines in path (cheaper than parsing them while waiting)."""
    with open(path, "rb") as f:
        return f.read().count(b"\n")


def scenario(env, monitor):
    t = env.tail("app_roll")
    time.sleep(1)
    if env.source == "synthetic":
        n = 400000
        mon = start_monitor(env, monitor, publisher_config(env, {"updates": n, "rate": 20000}))
        td.wait_until(lambda: count(t.out) > 10000, 60 * SCALE, "the first updates")
        roll(monitor, mon, "first roll")
        seen = count(t.out)
        td.log("%d updates received after the first roll" % seen)
        td.wait_until(lambda: count(t.out) > seen + 10000, 60 * SCALE,
                      "updates after the first roll")
        roll(monitor, mon, "second roll")
        td.check(count(t.out) < n, "both rolls happened mid-stream")
        want = td.synth_keys(n)
    else:
        mon = start_monitor(env, monitor, publisher_config(env))
        stop = threading.Event()
        failures = []

        def load():
            """Transactions from 4 threads, continuously until stopped."""
            k = 0
            while not stop.is_set():
                k += 1
                try:
                    env.write_workload(400, rounds=2, pause=0.05, seed=k)
                except td.Failed as e:
                    failures.append(e)
                    return

        writer = threading.Thread(target=load)
        writer.start()
        try:
            td.wait_until(lambda: count(t.out) > 500, 60 * SCALE, "the first updates")
            td.wait_until(lambda: isinstance(status(monitor, mon.run).get("lag_ms"), int),
                          30 * SCALE, "a known lag_ms in the status while rows are written")
            td.check(True, "the status reports a lag while rows are written (%d ms)"
                     % status(monitor, mon.run)["lag_ms"])
            roll(monitor, mon, "first roll")
            seen = count(t.out)
            td.wait_until(lambda: count(t.out) > seen + 500, 60 * SCALE,
                          "updates after the first roll")
            roll(monitor, mon, "second roll")
            td.check(writer.is_alive() and not failures,
                     "rows were being written during both rolling restarts")
        finally:
            stop.set()
            writer.join()
        if failures:
            raise failures[0]
        want = [td.pos_key(u) for u in env.expected()]
    td.wait_until(lambda: count(t.out) >= len(want), 180 * SCALE, "as many updates as sent")
    td.wait_until(lambda: len(set(td.pos_key(u) for u in td.read_lines(t.out))) >= len(want),
                  30 * SCALE, "every update after the rolling restarts")
    td.check_stream(td.read_lines(t.out), want, "across two rolling restarts")
    # Caught up with the log: the status reports no lag (not unknown).
    td.wait_until(lambda: status(monitor, mon.run).get("lag_ms") == 0, 30 * SCALE,
                  "the status to report lag_ms 0 once the publisher has caught up")
    td.check(True, "the status reports lag_ms 0 once the publisher has caught up")
    if env.source == "mariadb":
        td.check_replay(env, td.read_lines(t.out))


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    monitor = os.path.abspath(argv[1])
    source = argv[argv.index("--source") + 1] if "--source" in argv else "synthetic"
    for exe in (td.PUBLISHER, td.TAIL):
        if not os.path.exists(exe):
            print("skip: %s is not built" % exe)
            return td.SKIP
    if source == "mariadb":
        out = subprocess.run([td.LOGCAT, "--help"], capture_output=True, text=True)
        if "options of mapper 'mysql'" not in out.stdout:
            print("skip: the mysql mapper is not built")
            return td.SKIP
    with td.wh.Stack() as stack:
        env = td.Env(stack, source)
        try:
            scenario(env, monitor)
        except td.Failed as e:
            print("FAILED: %s" % e, flush=True)
            stack.print_log_tails(size=4000)
            return 1
        finally:
            env.stop_all()
            # Safety net: a publisher left behind by a monitor that did not stop it.
            run = stack.path("monitor-run")
            try:
                with open(os.path.join(run, "instances", "s1", "publisher.pid")) as f:
                    os.killpg(int(f.read()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
    print("rolling restart under load (%s): passed" % source)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
