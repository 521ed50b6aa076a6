"""The monitor's Prometheus endpoint against real activity: counts, lag while a subscriber stalls, authentication.

usage: test_metrics.py MONITOR_BINARY

Real MariaDB + ZooKeeper (tests/harness), one wormhole-publisher as an instance of
wormhole-monitor --metrics-listen 127.0.0.1:PORT --metrics-token-file FILE, and one
subscriber (wormhole-tail, app "app_m", filter: table items). Checks:
  counts  after N rows inserted into app.items, the flow's
          wormhole_flow_delivered_updates_total grew by exactly N (and its bytes counter
          grew), and `wormhole-monitor status` shows the flow (table and --json);
  lag     while rows keep coming, the subscriber is SIGSTOPped: the flow's
          wormhole_flow_lag_seconds rises (past 4 s, then 2 s more) and so does
          wormhole_flow_behind_bytes (binlog bytes after its acknowledged position); after
          SIGCONT both fall back (lag to at most 2 s);
  auth    no token -> 401, a wrong token -> 401, the right one -> 200; a monitor asked to
          listen on 0.0.0.0 without a token file refuses to start.
Exits 0 on success, 1 on a failed check, 77 (skip) without the servers or binaries.
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
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "publisher"))
import test_delivery as td  # noqa: E402  (also puts tests/harness on sys.path)

SCALE = float(os.environ.get("WH_TIMEOUT_SCALE", "1") or "1")
TOKEN = "s3cret-metrics-token"
APP = "app_m"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(port, token=TOKEN):
    """(status, body) of GET /metrics."""
    req = urllib.request.Request("http://127.0.0.1:%d/metrics" % port)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:   # not listening yet
        return 0, str(e)


def parse(text):
    """{(name, frozenset(labels)): value}; checks every family has HELP and TYPE first."""
    out, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        if not m or m.group(1) not in typed:
            raise td.Failed("not a sample line after its family's TYPE line: %r" % line)
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def flow_value(port, name, default=None):
    """The value of metric name for APP's flow, or default when it has none."""
    status, body = scrape(port)
    if status != 200:
        return default
    for (n, labels), v in parse(body).items():
        if n == name and ("app", APP) in labels:
            return v
    return default


def start_monitor(env, port, extra=None):
    conf = env.stack.path("monitor.d")
    run = env.stack.path("monitor-run")
    os.makedirs(conf, exist_ok=True)
    pub = {"shard": "s1", "id": "pub-metrics",
           "mapper": {"name": "mysql",
                      "options": {"binlog_dir": env.db.env("X")["X_BINLOG_DIR"]}},
           "zookeeper": {"connect": env.zk.connect, "root": env.root,
                         "session_timeout_ms": 4000},
           # A stopped subscriber keeps its connection for the lag check (no timeout reset).
           "delivery": {"heartbeat_interval_ms": 300, "heartbeat_timeout_ms": 60000,
                        "datamarker_interval_ms": 50, "retry_max_ms": 1000},
           "positions": {"flush_interval_ms": 100}}
    inst = {"command": td.PUBLISHER, "backoff": {"initial_ms": 200, "max_ms": 2000},
            "health": {"startup_timeout_ms": int(30000 * SCALE),
                       "stuck_timeout_ms": int(4000 * SCALE)},
            "publisher": pub}
    with open(os.path.join(conf, ".s1.json.tmp"), "w") as f:
        json.dump(inst, f)
    os.rename(os.path.join(conf, ".s1.json.tmp"), os.path.join(conf, "s1.json"))
    token = env.stack.path("metrics.token")
    with open(token, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(token, 0o600)
    logf = open(env.stack.path("monitor.log"), "w")
    p = subprocess.Popen([MONITOR, "--config-dir", conf, "--run-dir", run,
                          "--metrics-listen", "127.0.0.1:%d" % port,
                          "--metrics-token-file", token] + (extra or []),
                         stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    p.run = run
    env.procs.append(p)
    return p


def check_auth(env, port):
    status, _ = scrape(port, token=None)
    td.check(status == 401, "a scrape without a token is refused (%d)" % status)
    status, _ = scrape(port, token="wrong-" + TOKEN)
    td.check(status == 401, "a scrape with a wrong token is refused (%d)" % status)
    status, body = scrape(port)
    td.check(status == 200 and "wormhole_publisher_up" in body,
             "a scrape with the right token is served (%d)" % status)
    # A hostile client cannot stall supervision: 20 connections that send half a request
    # (the endpoint takes 16 and closes idle ones after 10 s); the control socket answers.
    held = []
    for _ in range(20):
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            held.append(c)
        except OSError:
            pass
    t0 = time.monotonic()
    out = subprocess.run([MONITOR, "status", "--json", "--run-dir", env.stack.path("monitor-run")],
                         capture_output=True, text=True, timeout=30)
    took = time.monotonic() - t0
    td.check(out.returncode == 0 and json.loads(out.stdout)["monitor"] and took < 5,
             "with %d idle HTTP connections held open, wormhole-monitor status answers in "
             "%.2f s" % (len(held), took))
    for c in held:
        c.close()
    td.wait_until(lambda: scrape(port)[0] == 200, 30 * SCALE,
                  "the endpoint to serve again once the idle connections are gone")
    # Off loopback without a token: refused at start.
    conf = env.stack.path("empty.d")
    os.makedirs(conf, exist_ok=True)
    out = subprocess.run([MONITOR, "--config-dir", conf, "--run-dir", env.stack.path("run2"),
                          "--metrics-listen", "0.0.0.0:%d" % td.wh.free_port()],
                         capture_output=True, text=True, timeout=30)
    td.check(out.returncode != 0 and "not a loopback address" in out.stderr,
             "a monitor asked to listen on 0.0.0.0 without a token refuses to start (%d: %s)"
             % (out.returncode, out.stderr.strip()))


def insert_rows(env, first, n):
    values = ",".join("(%d, 1, 'r%d', %d, 1.00)" % (i, i, i) for i in range(first, first + n))
    env.db.sql("INSERT INTO app.items (id, grp, name, qty, price) VALUES " + values)


def check_counts(env, port, mon):
    # Some first rows, so the flow exists and its counter settles.
    insert_rows(env, 1, 10)
    td.wait_until(lambda: flow_value(port, "wormhole_flow_delivered_updates_total", 0) >= 10,
                  60 * SCALE, "the first rows to be delivered and counted")
    time.sleep(1.5)
    d0 = flow_value(port, "wormhole_flow_delivered_updates_total")
    b0 = flow_value(port, "wormhole_flow_delivered_bytes_total")
    n = 537
    for k in range(3):   # three transactions: 179 rows each
        insert_rows(env, 1000 + k * 179, 179)
    td.wait_until(lambda: flow_value(port, "wormhole_flow_delivered_updates_total") == d0 + n,
                  60 * SCALE, "delivered_updates to grow by exactly %d" % n)
    time.sleep(1.5)
    d1 = flow_value(port, "wormhole_flow_delivered_updates_total")
    b1 = flow_value(port, "wormhole_flow_delivered_bytes_total")
    td.check(d1 == d0 + n, "wormhole_flow_delivered_updates_total grew by exactly %d rows "
             "(%d -> %d)" % (n, d0, d1))
    td.check(b1 > b0 + n * 10, "wormhole_flow_delivered_bytes_total grew (%d -> %d)" % (b0, b1))
    out = subprocess.run([MONITOR, "status", "--json", "--run-dir", mon.run],
                         capture_output=True, text=True, timeout=30)
    flows = json.loads(out.stdout)["instances"][0]["flows"]
    td.check(len(flows) == 1 and flows[0]["app"] == APP and flows[0]["shard"] == "s1" and
             flows[0]["state"] == "streaming" and flows[0]["delivered_updates"] == d1,
             "wormhole-monitor status --json lists the flow: %s" % flows)
    text = subprocess.run([MONITOR, "status", "--run-dir", mon.run], capture_output=True,
                          text=True, timeout=30).stdout
    td.check(re.search(r"^s1 +%s +s1 +streaming +\d+s +%d " % (APP, d1), text, re.M),
             "wormhole-monitor status shows the flow's row (shard, app, state, lag):\n%s" % text)


def check_lag(env, port, tail):
    stop = threading.Event()

    def writer():
        i = 100000
        while not stop.is_set():
            insert_rows(env, i, 1)
            i += 1
            time.sleep(0.2)

    t = threading.Thread(target=writer)
    t.start()
    try:
        td.wait_until(lambda: flow_value(port, "wormhole_flow_lag_seconds", 99) <= 2,
                      30 * SCALE, "a small lag while the subscriber keeps up")
        b0 = flow_value(port, "wormhole_flow_behind_bytes")
        r0 = flow_value(port, "wormhole_flow_retained_bytes")
        td.check(b0 is not None and r0 is not None and r0 > 0,
                 "the flow reports the log bytes behind its position (%s) and retained before "
                 "it (%s)" % (b0, r0))
        os.kill(tail.pid, signal.SIGSTOP)
        td.wait_until(lambda: flow_value(port, "wormhole_flow_lag_seconds", 0) >= 4,
                      30 * SCALE, "the lag to rise while the subscriber is stopped")
        l1 = flow_value(port, "wormhole_flow_lag_seconds")
        # The publisher reports every status interval (a quarter of the stuck timeout).
        td.wait_until(lambda: flow_value(port, "wormhole_flow_lag_seconds", 0) >= l1 + 2,
                      30 * SCALE, "the lag to keep rising while the subscriber is stopped")
        l2 = flow_value(port, "wormhole_flow_lag_seconds")
        td.check(l2 >= l1 + 2, "the flow's lag keeps rising while the subscriber is stopped "
                 "(%s s, then %s s)" % (l1, l2))
        b1 = flow_value(port, "wormhole_flow_behind_bytes")
        td.check(b1 > b0 + 2000, "the log bytes behind the flow's position grew while the "
                 "subscriber was stopped (%d -> %d)" % (b0, b1))
        os.kill(tail.pid, signal.SIGCONT)
        td.wait_until(lambda: flow_value(port, "wormhole_flow_lag_seconds", 99) <= 2,
                      60 * SCALE, "the lag to fall back once the subscriber resumes")
        td.wait_until(lambda: flow_value(port, "wormhole_flow_behind_bytes", b1) < b1 - 2000,
                      30 * SCALE, "the bytes behind to fall once the subscriber resumes")
        td.check(True, "the flow's lag fell back to %s s after the subscriber resumed (peak %s s)"
                 % (flow_value(port, "wormhole_flow_lag_seconds"), l2))
    finally:
        os.kill(tail.pid, signal.SIGCONT)
        stop.set()
        t.join()


def main(argv):
    global MONITOR
    if len(argv) < 2:
        print(__doc__)
        return 2
    MONITOR = os.path.abspath(argv[1])
    for exe in (td.PUBLISHER, td.TAIL):
        if not os.path.exists(exe):
            print("skip: %s is not built" % exe)
            return td.SKIP
    out = subprocess.run([td.LOGCAT, "--help"], capture_output=True, text=True)
    if "options of mapper 'mysql'" not in out.stdout:
        print("skip: the mysql mapper is not built")
        return td.SKIP
    with td.wh.Stack() as stack:
        env = td.Env(stack, "mariadb")
        try:
            # A long session: the stopped subscriber must stay registered (its flow stays).
            tail = env.tail(APP, 'table = "items"', session_ms=60000)
            port = td.wh.free_port()
            mon = start_monitor(env, port)
            td.wait_until(lambda: scrape(port)[0] == 200, 30 * SCALE, "the metrics endpoint")
            check_auth(env, port)
            check_counts(env, port, mon)
            check_lag(env, port, tail)
            status, body = scrape(port)
            m = parse(body)
            up = [v for (n, lb), v in m.items() if n == "wormhole_publisher_up"]
            td.check(up == [1.0], "wormhole_publisher_up is 1 (%s)" % up)
            for name in ("wormhole_caravan_members", "wormhole_publisher_restarts_total",
                         "wormhole_flow_window_fill_ratio", "wormhole_flow_reconnects_total"):
                td.check(any(n == name for n, _ in m), "the scrape has %s" % name)

            def one(name):
                return sum(v for (n, _), v in m.items() if n == name)
            delivered = one("wormhole_flow_delivered_updates_total")
            td.check(one("wormhole_mapper_updates_decoded_total") >= delivered > 0,
                     "the mapper decoded at least what was delivered (%d >= %d)"
                     % (one("wormhole_mapper_updates_decoded_total"), delivered))
            td.check(one("wormhole_zk_writes_total") > 0, "ZooKeeper writes are counted (%d)"
                     % one("wormhole_zk_writes_total"))
            td.check(one("wormhole_publisher_active") == 1 and one("wormhole_flow_failed") == 0,
                     "the publisher is active and no flow failed")
            env.stop_all()
            bad = stack.sanitizer_report(skip=())
            td.check(bad is None, "no sanitizer reports in the logs (%s)" % (bad or "none"))
        except td.Failed as e:
            print("FAILED: %s" % e, flush=True)
            stack.print_log_tails()
            return 1
        finally:
            env.stop_all()
            try:
                with open(os.path.join(stack.path("monitor-run"), "instances", "s1",
                                       "publisher.pid")) as f:
                    os.killpg(int(f.read()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
    print("metrics scrape: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
