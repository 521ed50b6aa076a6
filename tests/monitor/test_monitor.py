"""Integration tests of wormhole-monitor against fake_publisher, a stand-in publisher.

usage: test_monitor.py CASE MONITOR_BINARY FAKE_PUBLISHER_BINARY

Each case runs one monitor (sometimes two, one after the other) in a private
temporary directory with short timeouts. No servers are needed. Everything
a case starts is killed at the end, even when it fails or is interrupted:
the monitor is our child, every publisher appends its pid to a journal file
and is killed by process group from there, and each fake publisher also
exits by itself when this test process is gone (watch_pid).

Timeouts are multiplied by WH_TIMEOUT_SCALE (default 1; use 3 or more under
sanitizers or valgrind). WH_KEEP_TMP=1 keeps the temporary directory.
"""

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SCALE = float(os.environ.get("WH_TIMEOUT_SCALE", "1") or "1")


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


class Env:
    """One test's world: config dir, run dir, journal, monitor processes."""

    def __init__(self, case, monitor, fake):
        self.monitor_bin = os.path.abspath(monitor)
        self.fake = os.path.abspath(fake)
        self.tmp = tempfile.mkdtemp(prefix="wh-mon-%s-" % case)
        self.conf = os.path.join(self.tmp, "conf")
        self.run = os.path.join(self.tmp, "run")
        self.journal = os.path.join(self.tmp, "journal")
        os.mkdir(self.conf)
        self.mon = None
        self.mon_log = None
        self.logs = []
        self.nmon = 0
        self.cleaned = False
        atexit.register(self.cleanup)

    # ---- instance files ----

    def instance(self, name, publisher=None, **sup):
        """Writes conf/NAME.json atomically (temp file + rename)."""
        doc = {
            "command": self.fake,
            "backoff": {"initial_ms": 200, "max_ms": 1000, "reset_after_ms": 3000},
            "crash_loop": {"max_restarts": 10, "window_ms": 60000, "retry_ms": 60000},
            "health": {"startup_timeout_ms": int(5000 * SCALE),
                       "stuck_timeout_ms": int(2000 * SCALE)},
            "stop_timeout_ms": int(2000 * SCALE),
        }
        for k, v in sup.items():
            if isinstance(v, dict) and isinstance(doc.get(k), dict):
                doc[k] = dict(doc[k], **v)
            else:
                doc[k] = v
        pub = {"heartbeat_ms": 50, "journal": self.journal, "watch_pid": os.getpid()}
        pub.update(publisher or {})
        doc["publisher"] = pub
        self.write(name + ".json", json.dumps(doc, indent=1))
        return doc

    def write(self, fname, text):
        tmp = os.path.join(self.conf, "." + fname + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, os.path.join(self.conf, fname))

    def remove(self, name):
        os.unlink(os.path.join(self.conf, name + ".json"))

    # ---- the monitor ----

    def start_monitor(self, *extra):
        self.nmon += 1
        path = os.path.join(self.tmp, "monitor-%d.log" % self.nmon)
        self.mon_log = path
        self.logs.append(path)
        out = open(path, "w")
        self.mon = subprocess.Popen(
            [self.monitor_bin, "--config-dir", self.conf, "--run-dir", self.run,
             "--rescan-interval-ms", "1000"] + list(extra),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        self.mon_started = time.monotonic()
        # A killed monitor leaves its socket file behind: wait until this one listens.
        self.wait_for(lambda: self.listening() or self.mon.poll() is not None, 10,
                      "the monitor's control socket")
        check(self.mon.poll() is None, "the monitor exited at startup:\n" + self.log())
        return self.mon

    def listening(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(os.path.join(self.run, "monitor.sock"))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def stop_monitor(self, sig=signal.SIGTERM, timeout=15):
        """Signals the monitor and reaps it; self.cpu and self.lifetime tell
        how much CPU it used over how much wall time."""
        self.mon.send_signal(sig)
        deadline = time.monotonic() + timeout * SCALE
        while True:
            pid, status, ru = os.wait4(self.mon.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                raise Fail("the monitor did not exit within %ss of %s" % (timeout, sig))
            time.sleep(0.02)
        self.mon.returncode = (-os.WTERMSIG(status) if os.WIFSIGNALED(status)
                               else os.WEXITSTATUS(status))
        self.cpu = ru.ru_utime + ru.ru_stime
        self.lifetime = time.monotonic() - self.mon_started
        return self.mon.returncode

    def log(self, which=None):
        paths = self.logs if which is None else [self.logs[which]]
        text = ""
        for p in paths:
            with open(p, errors="replace") as f:
                text += f.read()
        return text

    def cli(self, *args, timeout=15):
        p = subprocess.run([self.monitor_bin] + list(args), capture_output=True, text=True,
                           timeout=timeout * SCALE)
        return p.returncode, p.stdout, p.stderr

    def status(self):
        """The running monitor's status document."""
        rc, out, err = self.cli("status", "--json", "--run-dir", self.run)
        check(rc == 0, "status failed (%d): %s" % (rc, err))
        return json.loads(out)

    def inst(self, name, st=None):
        st = st or self.status()
        for i in st["instances"]:
            if i["name"] == name:
                return i
        return None

    def wait_for(self, pred, timeout, what):
        deadline = time.monotonic() + timeout * SCALE
        while True:
            v = pred()
            if v:
                return v
            if time.monotonic() > deadline:
                raise Fail("timed out after %ss waiting for %s" % (timeout, what))
            time.sleep(0.05)

    def wait_state(self, name, state, timeout=10, pid_not=None):
        def ok():
            i = self.inst(name)
            if i and i["state"] == state and (pid_not is None or i["pid"] != pid_not):
                return i
            return None
        try:
            return self.wait_for(ok, timeout, "%s to be %s" % (name, state))
        except Fail as e:
            raise Fail("%s; status: %s" % (e, json.dumps(self.inst(name))))

    # ---- what the publishers did ----

    def journal_lines(self):
        try:
            with open(self.journal) as f:
                return [l.split() for l in f.read().splitlines()]
        except FileNotFoundError:
            return []

    def starts(self, name=None):
        return [int(l[1]) for l in self.journal_lines()
                if l[0] == "start" and (name is None or l[2] == name)]

    def env_of(self, pid):
        out = {}
        with open(self.journal) as f:
            lines = f.read().splitlines()
        cur = None
        for l in lines:
            parts = l.split(" ", 2)
            if parts[0] == "start":
                cur = int(parts[1])
            elif parts[0] == "env" and cur == pid:
                k, _, v = l[4:].partition("=")
                out[k] = v
        return out

    def processes(self):
        """Pids of live processes whose command line mentions our temp dir."""
        found = []
        me = os.getpid()
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == me:
                continue
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    cmd = f.read().decode(errors="replace")
            except OSError:
                continue
            if self.tmp in cmd and self.fake in cmd and pid_alive(int(d)):
                found.append(int(d))
        return sorted(found)

    def pidfile(self, name):
        try:
            with open(os.path.join(self.run, "instances", name, "publisher.pid")) as f:
                return int(f.read())
        except FileNotFoundError:
            return None

    # ---- teardown ----

    def cleanup(self):
        if self.cleaned:
            return
        self.cleaned = True
        if self.mon and self.mon.poll() is None:
            self.mon.kill()
            self.mon.wait()
        pids = set(self.starts()) | set(self.processes())
        for pid in pids:
            for target in (-pid, pid):
                try:
                    os.kill(target, signal.SIGKILL)
                except OSError:
                    pass
        if os.environ.get("WH_KEEP_TMP"):
            print("kept", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def settle(seconds):
    time.sleep(seconds * SCALE)


# ---------------------------------------------------------------------------
# cases


def case_lifecycle(e):
    """Adding, changing and removing instance files starts, restarts and stops the right processes."""
    e.instance("a", environment={"FAKE_COLOR": "blue"})
    e.instance("b", enabled=False)
    e.start_monitor()
    a = e.wait_state("a", "running")
    check(e.inst("b")["state"] == "disabled", "b should be disabled")
    check(e.starts("b") == [], "disabled b was started")
    check(e.pidfile("a") == a["pid"], "publisher.pid of a should hold its pid")
    env = e.env_of(a["pid"])
    check(env.get("FAKE_COLOR") == "blue", "environment not passed: %r" % env)
    check(env.get("WORMHOLE_INSTANCE") == "a", "WORMHOLE_INSTANCE: %r" % env)
    check(env.get("WORMHOLE_STATUS_FILE") == os.path.join(e.run, "instances/a/status.json"),
          "WORMHOLE_STATUS_FILE: %r" % env)
    check(env.get("WORMHOLE_STATUS_INTERVAL_MS") == str(int(2000 * SCALE) // 4),
          "WORMHOLE_STATUS_INTERVAL_MS: %r" % env)
    with open(os.path.join(e.run, "instances/a/config.json")) as f:
        check(json.load(f)["heartbeat_ms"] == 50, "config.json should hold the publisher object")

    # Enabling b starts it.
    e.instance("b", enabled=True)
    b = e.wait_state("b", "running")

    # A publisher config change restarts a (and only a).
    e.instance("a", publisher={"lag_ms": 9}, environment={"FAKE_COLOR": "blue"})
    a2 = e.wait_state("a", "running", pid_not=a["pid"])
    e.wait_for(lambda: not pid_alive(a["pid"]), 5, "the old a to be gone")
    e.wait_for(lambda: e.inst("a")["lag_ms"] == 9, 5, "a's new lag")
    with open(os.path.join(e.run, "instances/a/config.json")) as f:
        check(json.load(f)["lag_ms"] == 9, "config.json should hold the new config")
    check(e.inst("a")["last_exit"]["cause"] == "stopped", "a's exit should be 'stopped'")
    check(e.inst("b")["pid"] == b["pid"], "b must not restart when a changes")

    # A supervision-only change, and rewriting the same content, restart nothing.
    e.instance("a", publisher={"lag_ms": 9}, environment={"FAKE_COLOR": "blue"},
               stop_timeout_ms=int(2500 * SCALE))
    e.instance("b", enabled=True)
    settle(1.5)
    check(e.inst("a")["pid"] == a2["pid"], "a restarted for a supervision-only change")
    check(e.inst("b")["pid"] == b["pid"], "b restarted for an identical file")
    check(len(e.starts("a")) == 2 and len(e.starts("b")) == 1,
          "unexpected starts: %r" % e.journal_lines())

    # Editor temporaries are ignored; the rename that follows creates c.
    for junk in ("c.json~", ".c.json.swp", "c.json.tmp", "#c.json#", "notes.txt"):
        with open(os.path.join(e.conf, junk), "w") as f:
            f.write("{ not json")
    settle(1.5)
    check(e.inst("c") is None, "an editor temporary file created an instance")
    doc = e.instance("c")
    e.wait_state("c", "running")
    check("bad instance file" not in e.log(), "junk files were parsed:\n" + e.log())

    # Removing b stops it and forgets it; disabling a stops it and keeps it.
    e.remove("b")
    e.wait_for(lambda: e.inst("b") is None, 5, "b to disappear from the status")
    check(not pid_alive(b["pid"]), "removed b still runs")
    check(e.pidfile("b") is None, "removed b left its pid file")
    e.instance("a", enabled=False)
    e.wait_state("a", "disabled")
    check(not pid_alive(a2["pid"]), "disabled a still runs")
    check(e.processes() == [e.inst("c")["pid"]],
          "only c should run: %r" % e.processes())
    check(e.stop_monitor() == 0, "the monitor's exit status")


def case_restart(e):
    """A killed publisher is restarted after the backoff; exits are recorded with their cause."""
    e.instance("a", backoff={"initial_ms": 500, "max_ms": 4000})
    e.instance("code", publisher={"exit_after_ms": 300, "exit_code": 3,
                                  "error_line": "binlog: mysql-bin.000007 offset 4: bad magic",
                                  "report_error": True},
               backoff={"initial_ms": 60000, "max_ms": 60000})
    e.instance("clean", publisher={"exit_after_ms": 200, "exit_code": 0}, restart="on-failure")
    e.instance("never", publisher={"exit_after_ms": 200, "exit_code": 5}, restart="never")
    e.start_monitor()
    a = e.wait_state("a", "running")

    # SIGKILL: restarted after the backoff (500 ms), not before, and not much later.
    t0 = time.monotonic()
    os.kill(a["pid"], signal.SIGKILL)
    e.wait_for(lambda: len(e.starts("a")) == 2, 10, "a to be restarted")
    took = time.monotonic() - t0
    check(took >= 0.45, "restarted after %.3fs, before the 500 ms backoff" % took)
    check(took <= 0.5 + 1.5 * SCALE, "restarted only after %.3fs" % took)
    i = e.wait_state("a", "running")
    ex = i["last_exit"]
    check(ex["cause"] == "signal" and ex["signal"] == 9 and ex["signal_name"] == "SIGKILL",
          "a's exit record: %r" % ex)
    check(i["restarts"] == 1, "a's restart count: %r" % i["restarts"])
    # A second kill soon after waits twice as long.
    t0 = time.monotonic()
    os.kill(i["pid"], signal.SIGKILL)
    e.wait_for(lambda: len(e.starts("a")) == 3, 10, "a's second restart")
    took = time.monotonic() - t0
    check(took >= 0.95, "second restart after %.3fs, before the 1000 ms backoff" % took)

    # Exit code, last ERROR line and the reported reason are recorded.
    c = e.wait_state("code", "backoff")
    ex = c["last_exit"]
    check(ex["cause"] == "exit" and ex["code"] == 3, "code's exit: %r" % ex)
    check(ex["error_line"] == "ERROR binlog: mysql-bin.000007 offset 4: bad magic",
          "code's error line: %r" % ex)
    check(ex["reported_error"] == "binlog: mysql-bin.000007 offset 4: bad magic",
          "code's reported error: %r" % ex)
    check(c["next_start_in_ms"] > 50000, "code's next start: %r" % c)
    log = e.log()
    check(re.search(r"code: pid \d+ exited with code 3 after .*ERROR binlog: mysql-bin.000007",
                    log), "the exit is not logged with its reason:\n" + log)
    check("[code] ERROR binlog: mysql-bin.000007 offset 4: bad magic" in log,
          "the publisher's output is not passed through:\n" + log)

    # Policies: on-failure does not restart a clean exit; never does not restart at all.
    cl = e.wait_state("clean", "stopped")
    check(cl["last_exit"]["code"] == 0, "clean's exit: %r" % cl["last_exit"])
    nv = e.wait_state("never", "stopped")
    check(nv["last_exit"]["code"] == 5, "never's exit: %r" % nv["last_exit"])
    settle(1)
    check(len(e.starts("clean")) == 1 and len(e.starts("never")) == 1,
          "stopped instances were restarted: %r" % e.journal_lines())
    check(e.stop_monitor() == 0, "the monitor's exit status")


def case_crashloop(e):
    """A crash loop is capped: failed after max_restarts, then retried slowly, never in a tight loop."""
    flag = os.path.join(e.tmp, "fail")
    open(flag, "w").close()
    e.instance("a", publisher={"fail_if_file": flag, "exit_code": 2,
                               "error_line": "cannot connect"},
               backoff={"initial_ms": 100, "max_ms": 400, "reset_after_ms": 1000},
               crash_loop={"max_restarts": 3, "window_ms": 30000,
                           "retry_ms": int(3000 * SCALE)})
    e.start_monitor()
    t0 = time.monotonic()
    i = e.wait_state("a", "failed", timeout=10)
    check(len(e.starts("a")) == 4, "1 start + 3 restarts before failing, got %d" %
          len(e.starts("a")))
    check(i["restarts"] == 3, "restarts: %r" % i["restarts"])
    check("crash loop" in e.log(), "the crash loop is not logged")
    # Backoff doubled between the restarts: 100, 200, 400 ms.
    times = [float(m.group(1)) * 60 + float(m.group(2)) for m in re.finditer(
        r"T\d\d:(\d\d):(\d\d\.\d+)Z INFO  \[monitor\] a: started pid", e.log())]
    check(len(times) == 4, "start lines: %r" % times)
    gaps = [b - a for a, b in zip(times, times[1:])]
    check(gaps[0] >= 0.09 and gaps[1] >= 0.19 and gaps[2] >= 0.39,
          "restart gaps should grow 100/200/400 ms: %r" % gaps)
    # Failed: no restarts for retry_ms.
    settle(2)
    check(len(e.starts("a")) == 4, "a failed instance was restarted early")
    # The slow retry happens, fails again, and goes straight back to failed.
    e.wait_for(lambda: len(e.starts("a")) == 5, 10, "the slow retry")
    e.wait_state("a", "failed")
    check(time.monotonic() - t0 >= 3 * SCALE, "retried too early")
    settle(0.5)
    check(len(e.starts("a")) == 5, "a failed retry went back to fast restarts")
    # Once it works again (next retry), it runs and the crash-loop state is gone.
    os.unlink(flag)
    i = e.wait_state("a", "running", timeout=10)
    settle(1.5)
    i = e.inst("a")
    check(i["state"] == "running" and len(e.starts("a")) == 6, "a should run now: %r" % i)
    # After a healthy run (1 s), a crash backs off from the initial delay again.
    os.kill(i["pid"], signal.SIGKILL)
    i = e.wait_state("a", "running", pid_not=i["pid"], timeout=5)
    check(i["failures"] == 1, "failures after a healthy run: %r" % i["failures"])
    check(e.stop_monitor() == 0, "the monitor's exit status")


def case_stuck(e):
    """A publisher that stops sending heartbeats is killed (cause stuck) and restarted."""
    e.instance("hang", publisher={"stop_heartbeat_after_ms": 400},
               health={"stuck_timeout_ms": 600}, backoff={"initial_ms": 100},
               crash_loop={"max_restarts": 100})
    e.instance("silent", publisher={"heartbeat_ms": 0},
               health={"startup_timeout_ms": 700, "stuck_timeout_ms": 600},
               backoff={"initial_ms": 5000, "max_ms": 5000})
    e.instance("deaf", publisher={"stop_heartbeat_after_ms": 300, "ignore_sigterm": True},
               health={"stuck_timeout_ms": 500}, stop_timeout_ms=400,
               backoff={"initial_ms": 5000, "max_ms": 5000})
    e.instance("nohb", publisher={"heartbeat_ms": 0}, health={"stuck_timeout_ms": 0})
    e.start_monitor()
    first = e.wait_state("hang", "running")
    e.wait_for(lambda: len(e.starts("hang")) >= 2, 10, "the stuck publisher to be restarted")
    check(not pid_alive(first["pid"]), "the stuck process still runs")
    i = e.wait_state("hang", "running", pid_not=first["pid"])
    ex = i["last_exit"]
    check(ex["cause"] == "stuck" and "no heartbeat for" in ex["reason"],
          "hang's exit record: %r" % ex)
    check(ex["code"] == 0 and ex["signal"] is None,
          "a stuck process that still handles SIGTERM exits 0: %r" % ex)
    # No heartbeat at all within the startup timeout.
    s = e.wait_state("silent", "backoff", timeout=10)
    check(s["last_exit"]["cause"] == "stuck" and
          "within 700 ms of the start" in s["last_exit"]["reason"], "silent: %r" % s["last_exit"])
    # A stuck process that ignores SIGTERM gets SIGKILL after the stop timeout.
    d = e.wait_state("deaf", "backoff", timeout=10)
    check(d["last_exit"]["cause"] == "stuck" and d["last_exit"]["signal"] == 9,
          "deaf: %r" % d["last_exit"])
    check("did not stop within 400 ms of SIGTERM; sending SIGKILL" in e.log(),
          "the escalation is not logged")
    # With stuck detection off, a silent process is fine.
    n = e.inst("nohb")
    check(n["state"] == "running" and len(e.starts("nohb")) == 1, "nohb: %r" % n)
    check(e.stop_monitor() == 0, "the monitor's exit status")


def case_badconfig(e):
    """A broken instance file is reported (file, line or key, reason) and the publisher keeps running."""
    e.instance("a")
    e.write("zz.json", '{"enabled": true, "restart": "always",\n "x": [1, 2}\n')
    e.write("bad name.json", "{}")
    e.start_monitor()
    a = e.wait_state("a", "running")
    z = e.inst("zz")
    check(z["state"] == "invalid" and z["pid"] is None, "zz: %r" % z)
    check(z["config_error"].startswith(os.path.join(e.conf, "zz.json") + ":2:"),
          "zz's error should name file and line: %r" % z["config_error"])
    check("bad name.json: ignored" in e.log(), "a bad file name is not reported")

    # Syntax error in a's file: reported with the line, a keeps running.
    e.write("a.json", '{\n  "command": "%s",\n  "publisher": {,\n}\n' % e.fake)
    i = e.wait_for(lambda: (e.inst("a") or {}).get("config_error"), 5, "a's config error")
    check(re.match(re.escape(os.path.join(e.conf, "a.json")) + r":3:\d+: ", i),
          "a's error: %r" % i)
    check(re.search(r"a: bad instance file: .*a\.json:3:\d+: .*keeping the last good", e.log()),
          "the error is not logged:\n" + e.log())
    # Unknown key and a bad value: the key is named.
    e.write("a.json", json.dumps({"command": e.fake, "restrat": "never"}))
    e.wait_for(lambda: "'restrat': unknown setting" in (e.inst("a")["config_error"] or ""), 5,
               "the unknown key error")
    e.write("a.json", json.dumps({"command": e.fake, "backoff": {"initial_ms": "soon"}}))
    e.wait_for(lambda: "'backoff.initial_ms': expected an integer" in
               (e.inst("a")["config_error"] or ""), 5, "the bad value error")
    e.write("a.json", "")                              # an editor truncated it
    e.wait_for(lambda: "expected near end of file" in (e.inst("a")["config_error"] or ""), 5,
               "the empty file error")
    settle(1.5)
    i = e.inst("a")
    check(i["pid"] == a["pid"] and i["state"] == "running" and pid_alive(a["pid"]),
          "a must keep running on its last good config: %r" % i)
    check(len(e.starts("a")) == 1, "a was restarted by a broken file")

    # Fixing the file with the same content as before: the error clears, no restart.
    e.instance("a")
    e.wait_for(lambda: e.inst("a")["config_error"] is None, 5, "the error to clear")
    settle(0.5)
    check(e.inst("a")["pid"] == a["pid"], "a restarted after the fix of its file")
    # check-config reports the same errors and fails.
    rc, out, _ = e.cli("check-config", "--config-dir", e.conf)
    check(rc == 1 and "OK   " + os.path.join(e.conf, "a.json") in out and
          "BAD  " + os.path.join(e.conf, "zz.json") + ":2:" in out and "bad name.json" in out,
          "check-config: %d\n%s" % (rc, out))
    check(e.stop_monitor() == 0, "the monitor's exit status")


def case_adopt(e):
    """A killed monitor leaves publishers running; the next one adopts them without duplicates."""
    e.instance("a", publisher={"log_every_ms": 100})
    e.instance("b")
    e.instance("c")
    e.instance("d")
    e.start_monitor()
    pids = {n: e.wait_state(n, "running")["pid"] for n in "abcd"}
    check(e.processes() == sorted(pids.values()), "processes: %r" % e.processes())

    # A second monitor on the same run directory refuses to start.
    rc, out, err = e.cli("--config-dir", e.conf, "--run-dir", e.run)
    check(rc == 1 and "another monitor (pid %d)" % e.mon.pid in err,
          "second monitor: %d %s" % (rc, err))

    check(e.stop_monitor(signal.SIGKILL) == -signal.SIGKILL, "kill -9 of the monitor")
    settle(0.3)
    check(all(pid_alive(p) for p in pids.values()), "publishers died with the monitor")
    # While no monitor runs: b's config changes, c's file is removed, d dies.
    e.instance("b", publisher={"lag_ms": 11})
    e.remove("c")
    os.kill(pids["d"], signal.SIGKILL)
    settle(0.3)

    e.start_monitor()
    a = e.wait_state("a", "running")
    check(a["pid"] == pids["a"] and a["adopted"], "a should be adopted: %r" % a)
    b = e.wait_state("b", "running", pid_not=pids["b"])
    check(not b["adopted"], "b should have been restarted for its new config: %r" % b)
    e.wait_for(lambda: e.inst("b")["lag_ms"] == 11, 5, "b's new config")
    e.wait_for(lambda: e.inst("c") is None, 5, "c to be forgotten")
    check(not pid_alive(pids["c"]), "c's process should be stopped")
    d = e.wait_state("d", "running", pid_not=pids["d"])
    check(d["exits"][0]["reason"] == "exited while no monitor was running (exit status unknown)",
          "d's exit: %r" % d["exits"][0])
    settle(0.5)
    starts = e.starts()
    check(starts.count(pids["a"]) == 1 and len(e.starts("a")) == 1,
          "a was started again: %r" % starts)
    want = sorted([pids["a"], b["pid"], d["pid"]])
    check(e.processes() == want, "processes: %r, want %r" % (e.processes(), want))
    for n, i in (("a", a), ("b", b), ("d", d)):
        check(e.pidfile(n) == i["pid"], "pid file of %s" % n)

    # The adopted a is not our child: its death is seen through its pidfd.
    os.kill(pids["a"], signal.SIGKILL)
    a2 = e.wait_state("a", "running", pid_not=pids["a"], timeout=5)
    check(a2["exits"][0]["cause"] == "unknown" and "adopted" in a2["exits"][0]["reason"],
          "a's exit: %r" % a2["exits"][0])
    check(not a2["adopted"], "the restarted a is our child")

    # SIGQUIT: the monitor leaves on purpose; the next one adopts everything.
    before = {n: e.inst(n)["pid"] for n in "abd"}
    check(e.stop_monitor(signal.SIGQUIT) == 0, "exit status after SIGQUIT")
    check(all(pid_alive(p) for p in before.values()), "SIGQUIT stopped publishers")
    nstarts = len(e.starts())
    e.start_monitor()
    for n in "abd":
        i = e.wait_state(n, "running")
        check(i["pid"] == before[n] and i["adopted"], "%s after SIGQUIT: %r" % (n, i))
    settle(0.5)
    check(len(e.starts()) == nstarts, "publishers were started twice")

    # A monitor that dies between fork and writing its record leaves a process
    # without a record: the next monitor finds it by its environment, adopts it
    # and restarts it (its config is unknown). A second, unrecorded process of
    # an instance that has a recorded one is killed.
    check(e.stop_monitor(signal.SIGKILL) == -signal.SIGKILL, "kill -9 of the monitor")
    os.unlink(os.path.join(e.run, "instances", "a", "supervise.json"))
    bdir = os.path.join(e.run, "instances", "b")
    env = dict(os.environ, WORMHOLE_INSTANCE="b", WORMHOLE_RUN_DIR=bdir)
    extra = subprocess.Popen([e.fake, "--config", os.path.join(bdir, "config.json")], env=env,
                             start_new_session=True, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    e.wait_for(lambda: extra.pid in e.starts("b"), 5, "the extra b to start")
    e.start_monitor()
    a3 = e.wait_state("a", "running", pid_not=before["a"])
    check(not pid_alive(before["a"]), "the unrecorded a was not stopped")
    e.wait_for(lambda: extra.poll() is not None, 5, "the extra b to be killed")
    check(extra.returncode == -signal.SIGKILL, "extra b: %r" % extra.returncode)
    check(e.inst("b")["pid"] == before["b"], "the recorded b must stay")
    check("without a record" in e.log(), "the unrecorded processes are not logged")
    want = sorted([a3["pid"], before["b"], before["d"]])
    check(e.processes() == want, "processes: %r, want %r" % (e.processes(), want))
    check(e.stop_monitor() == 0, "the monitor's exit status")
    check(e.processes() == [], "publishers left after shutdown: %r" % e.processes())


def case_shutdown(e):
    """SIGTERM stops every publisher gracefully, and with SIGKILL the ones ignoring SIGTERM."""
    e.instance("a")
    e.instance("slow", publisher={"term_delay_ms": 300})
    e.instance("deaf", publisher={"ignore_sigterm": True}, stop_timeout_ms=3000)
    e.start_monitor()
    pids = {n: e.wait_state(n, "running")["pid"] for n in ("a", "slow", "deaf")}
    settle(1)
    t0 = time.monotonic()
    rc = e.stop_monitor(signal.SIGTERM)
    took = time.monotonic() - t0
    check(rc == 0, "the monitor's exit status: %r\n%s" % (rc, e.log()))
    check(took >= 2.95, "the monitor did not wait for the stop timeout (%.3fs)" % took)
    check(took <= 3 + 3 * SCALE, "shutdown took %.3fs" % took)
    # No busy loop: three publishers with 50 ms heartbeats, then 3 s of waiting.
    check(e.cpu < 0.2 * e.lifetime, "the monitor used %.2fs of CPU in %.2fs" %
          (e.cpu, e.lifetime))
    for n, p in pids.items():
        check(not pid_alive(p), "%s survived the shutdown" % n)
    check(e.processes() == [], "processes left: %r" % e.processes())
    recs = {}
    for n in pids:
        with open(os.path.join(e.run, "instances", n, "supervise.json")) as f:
            recs[n] = json.load(f)
        check(recs[n]["pid"] == 0, "%s's record still has a pid" % n)
        check(e.pidfile(n) is None, "%s's pid file is left" % n)
    check(recs["a"]["exits"][0]["code"] == 0 and recs["slow"]["exits"][0]["code"] == 0,
          "graceful exits: %r %r" % (recs["a"]["exits"][0], recs["slow"]["exits"][0]))
    dx = recs["deaf"]["exits"][0]
    check(dx["signal"] == 9 and "SIGKILL after the stop timeout" in dx["reason"],
          "deaf's exit: %r" % dx)
    check("every publisher has stopped; exiting" in e.log(), "no clean exit line")
    check(not os.path.exists(os.path.join(e.run, "monitor.sock")), "socket left behind")


def case_status(e):
    """`status --json` and the table report state, pid, uptime, restarts, position, lag and exits."""
    e.instance("a", publisher={"lag_ms": 42})
    e.instance("b", publisher={"exit_after_ms": 100, "exit_code": 4, "error_line": "zk: gone"},
               backoff={"initial_ms": 60000, "max_ms": 60000})
    e.instance("c", enabled=False)
    e.start_monitor()
    e.wait_state("a", "running")
    e.wait_state("b", "backoff")
    settle(1.1)
    st = e.status()
    check(st["monitor"]["pid"] == e.mon.pid and st["monitor"]["run_dir"] == os.path.realpath(e.run)
          and st["monitor"]["config_dir"] == os.path.realpath(e.conf), "monitor: %r" % st["monitor"])
    check([i["name"] for i in st["instances"]] == ["a", "b", "c"], "order: %r" % st["instances"])
    a, b, c = st["instances"]
    check(a["state"] == "running" and a["healthy"] and pid_alive(a["pid"]), "a: %r" % a)
    check(a["uptime_ms"] >= 1000 and a["restarts"] == 0 and a["lag_ms"] == 42, "a: %r" % a)
    check(re.match(r"fake-bin\.000001:\d+00$", a["position"]), "a's position: %r" % a["position"])
    check(a["heartbeat_age_ms"] is not None and a["heartbeat_age_ms"] < 1000, "a: %r" % a)
    check(a["report"]["seq"] >= 1 and a["report"]["pid"] == a["pid"], "a's report: %r" % a["report"])
    check(a["last_exit"] is None and a["config_error"] is None, "a: %r" % a)
    check(b["state"] == "backoff" and b["pid"] is None and b["lag_ms"] is None, "b: %r" % b)
    check(b["last_exit"]["code"] == 4 and b["last_exit"]["error_line"] == "ERROR zk: gone",
          "b: %r" % b["last_exit"])
    check(c["state"] == "disabled" and c["enabled"] is False, "c: %r" % c)
    rc, out, err = e.cli("status", "--run-dir", e.run)
    check(rc == 0, "status: %d %s" % (rc, err))
    lines = out.splitlines()
    check(lines[0].startswith("monitor pid %d" % e.mon.pid) and lines[1].startswith("NAME"),
          "table header:\n" + out)
    # Columns: NAME STATE PID UPTIME RESTARTS ROLE EPOCH POSITION LAG LAST EXIT (the fake
    # publisher reports no role: "-").
    check(re.search(r"^a +running +%d +\d+s +0 +- +- +fake-bin\.000001:\d+ +42ms +-$" % a["pid"], out,
                    re.M), "a's row:\n" + out)
    check(re.search(r"^b +backoff +- +- +0 +- +- +- +- +exited with code 4: ERROR zk: gone$", out, re.M),
          "b's row:\n" + out)
    # reload command, unknown command.
    rc, out, _ = e.cli("reload", "--run-dir", e.run)
    check(rc == 0 and "reload scheduled" in out, "reload: %d %s" % (rc, out))
    check(e.cli("frobnicate", "--run-dir", e.run)[0] == 2, "unknown command should fail")
    # Without a monitor: exit status 3, records of the run directory.
    check(e.stop_monitor(signal.SIGQUIT) == 0, "SIGQUIT")
    rc, out, err = e.cli("status", "--json", "--run-dir", e.run)
    check(rc == 3, "status without a monitor should exit 3, got %d" % rc)
    check("no monitor is running; showing the records of the run directory" in err,
          "offline status --json says nothing on stderr: %r" % err)
    off = json.loads(out)
    check(off["monitor"] is None, "offline monitor: %r" % off["monitor"])
    oa = [i for i in off["instances"] if i["name"] == "a"][0]
    check(oa["state"] == "unsupervised" and oa["pid"] == a["pid"] and oa["lag_ms"] == 42,
          "offline a: %r" % oa)
    rc, out, _ = e.cli("status", "--run-dir", e.run)
    check(rc == 3 and "no monitor is running" in out, "offline table: %s" % out)
    # A run directory that never had a monitor: no instances; one that
    # cannot be read: a JSON error object. Either way one document on stdout.
    nowhere = os.path.join(e.tmp, "no-run-dir")
    rc, out, err = e.cli("status", "--json", "--run-dir", nowhere)
    check(rc == 3 and json.loads(out) == {"monitor": None, "instances": []} and
          "no monitor is running" in err, "status of an empty run dir: %d %r %r" % (rc, out, err))
    rc, out, _ = e.cli("status", "--run-dir", nowhere)
    check(rc == 3 and out.startswith("no monitor is running"), "empty run dir table: %r" % out)
    bad = os.path.join(e.tmp, "bad-run-dir")
    os.makedirs(bad)
    open(os.path.join(bad, "instances"), "w").close()
    rc, out, err = e.cli("status", "--json", "--run-dir", bad)
    doc = json.loads(out)
    check(rc == 3 and doc["ok"] is False and "cannot read" in doc["error"] and
          doc["error"] in err, "status of an unreadable run dir: %d %r %r" % (rc, out, err))
    e.start_monitor()
    e.wait_state("a", "running")
    check(e.stop_monitor() == 0, "the monitor's exit status")


def case_rolling(e):
    """A rolling restart restarts instances one by one, each after the previous is healthy again."""
    for n in ("a", "b", "c"):
        e.instance(n, publisher={"ready_after_ms": 300})
    e.start_monitor()
    old = {n: e.wait_state(n, "running")["pid"] for n in ("a", "b", "c")}
    t0 = time.monotonic()
    rc, out, err = e.cli("rolling-restart", "--wait", "--run-dir", e.run, timeout=60)
    check(rc == 0 and "completed" in out, "rolling-restart: %d %s %s" % (rc, out, err))
    check(time.monotonic() - t0 >= 0.9, "three 300 ms startups cannot finish this fast")
    new = {n: e.inst(n)["pid"] for n in ("a", "b", "c")}
    for n in old:
        check(new[n] != old[n] and not pid_alive(old[n]), "%s was not restarted" % n)
        check(len(e.starts(n)) == 2, "%s started %d times" % (n, len(e.starts(n))))
    # One at a time: each new process started after the previous one became healthy.
    log = e.log()
    order = []
    for m in re.finditer(r"T\d\d:(\d\d):(\d\d\.\d+)Z INFO  \[monitor\] (\w): (stopping pid|pid \d+ "
                         r"is running)", log):
        order.append((float(m.group(1)) * 60 + float(m.group(2)), m.group(3), m.group(4)))
    rolled = [o for o in order if o[0] >= order[0][0]][-6:]
    check([(x[1], x[2][:4]) for x in rolled] ==
          [("a", "stop"), ("a", "pid "), ("b", "stop"), ("b", "pid "), ("c", "stop"),
           ("c", "pid ")], "restart order: %r" % rolled)
    # SIGUSR2 does the same; a second request during a roll is refused.
    e.mon.send_signal(signal.SIGUSR2)
    e.wait_for(lambda: e.status()["monitor"]["rolling_restart"]["active"], 5, "the roll to start")
    rc, out, err = e.cli("rolling-restart", "--run-dir", e.run)
    check(rc == 1 and "already in progress" in err, "second roll: %d %s" % (rc, err))
    e.wait_for(lambda: not e.status()["monitor"]["rolling_restart"]["active"], 20,
               "the SIGUSR2 roll to finish")
    check(all(len(e.starts(n)) == 3 for n in "abc"), "SIGUSR2 roll: %r" % e.journal_lines())
    # A new binary that does not come up aborts the roll and leaves the rest alone.
    flag = os.path.join(e.tmp, "broken")
    e.instance("b", publisher={"ready_after_ms": 300, "fail_if_file": flag})
    e.wait_for(lambda: len(e.starts("b")) == 4, 10, "b's config change")
    e.wait_state("b", "running")
    open(flag, "w").close()
    cpid = e.inst("c")["pid"]
    rc, out, err = e.cli("rolling-restart", "--wait", "--run-dir", e.run, timeout=60)
    check(rc == 1 and "b did not come back" in out,
          "broken roll: %d %s %s" % (rc, out, err))
    check(e.inst("c")["pid"] == cpid, "the roll went on after a failed instance")
    check(e.stop_monitor() == 0, "the monitor's exit status")


def case_output(e):
    """Publisher output reaches the monitor's log with the instance prefix, also across a monitor restart."""
    e.instance("a", publisher={"log_every_ms": 50})
    e.start_monitor()
    e.wait_state("a", "running")
    e.wait_for(lambda: "[a] tick 5" in e.log(0), 5, "ticks in the monitor log")
    check(e.stop_monitor(signal.SIGKILL) == -signal.SIGKILL, "kill -9")
    settle(0.7)                             # ~14 ticks with no monitor
    e.start_monitor()
    e.wait_for(lambda: e.inst("a") and e.inst("a")["adopted"], 5, "a to be adopted")
    first = [int(x) for x in re.findall(r"\[a\] tick (\d+)", e.log(0))]
    e.wait_for(lambda: len(re.findall(r"\[a\] tick (\d+)", e.log(1))) > 20, 10, "more ticks")
    second = [int(x) for x in re.findall(r"\[a\] tick (\d+)", e.log(1))]
    seen = set(first) | set(second)
    check(seen == set(range(1, max(seen) + 1)),
          "ticks lost across the monitor restart: missing %r" %
          sorted(set(range(1, max(seen) + 1)) - seen))
    check(max(first) < 5 + 20 and min(second) <= max(first) + 1,
          "the new monitor did not continue where the old one stopped: %d..., %d..." %
          (max(first), min(second)))
    # A long line is split, not dropped; the output file does not grow without bound
    # (it starts empty for each run).
    check(e.stop_monitor() == 0, "the monitor's exit status")


def connect_as(path, uid, gid):
    """Forks a child that drops to uid/gid (no supplementary groups), connects to
    the control socket at path and asks for the status. Returns ("denied", errno
    name) when connect() itself fails, else ("reply", first line)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            try:
                s.connect(path)
            except OSError as err:
                os.write(w, json.dumps(["denied", err.errno]).encode())
                os._exit(0)
            try:
                s.sendall(b"status\n")        # the refusal may already have closed it
            except OSError:
                pass
            data = b""
            while not data.endswith(b"\n"):
                try:
                    chunk = s.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
            os.write(w, json.dumps(["reply", data.decode("utf-8", "replace")]).encode())
        except BaseException as err:
            os.write(w, json.dumps(["child failed", repr(err)]).encode())
        finally:
            os._exit(0)
    os.close(w)
    out = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        out += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(out.decode()) if out else ["child failed", None]


def case_socket(e):
    """The control socket and run directory are owner-only whatever the umask;
    a peer of another uid is refused (and logged) even when the file modes
    are loosened; with --control-group its members are served."""
    if os.geteuid() != 0:
        print("monitor_socket: skipped (needs root to connect as another uid)")
        return
    nobody, nogroup = 65534, 65534
    e.instance("a")
    old = os.umask(0)
    try:
        e.start_monitor()
    finally:
        os.umask(old)
    e.wait_state("a", "running")
    sock = os.path.join(e.run, "monitor.sock")
    inst = os.path.join(e.run, "instances", "a")

    def mode(p):
        return os.stat(p).st_mode & 0o7777

    check(mode(sock) == 0o600, "socket mode under umask 000: %o" % mode(sock))
    check(mode(e.run) == 0o700, "run dir mode: %o" % mode(e.run))
    check(mode(os.path.join(e.run, "instances")) == 0o700 and mode(inst) == 0o700,
          "instance dir modes: %o %o" % (mode(os.path.join(e.run, "instances")), mode(inst)))
    for f in ("config.json", "supervise.json", "output.log", "publisher.pid"):
        p = os.path.join(inst, f)
        e.wait_for(lambda: os.path.exists(p), 5, f)
        check(mode(p) == 0o600, "%s mode: %o" % (f, mode(p)))
    check(mode(os.path.join(e.run, "monitor.lock")) == 0o600, "monitor.lock mode")

    # nobody cannot even reach the socket...
    os.chmod(e.tmp, 0o711)
    res = connect_as(sock, nobody, nogroup)
    check(res[0] == "denied", "nobody reached the 0600 socket: %r" % (res,))
    # ...and when the modes are loosened by hand, SO_PEERCRED still refuses it.
    os.chmod(e.run, 0o755)
    os.chmod(sock, 0o666)
    res = connect_as(sock, nobody, nogroup)
    check(res[0] == "reply" and '"ok":false' in res[1] and "permission denied" in res[1],
          "nobody must be refused: %r" % (res,))
    e.wait_for(lambda: re.search(r"refused a connection from uid 65534 pid \d+", e.log()), 5,
               "the refusal's warning")
    # A local user connecting in a loop gets one line per 10 s, not one per connection.
    for _ in range(20):
        check(connect_as(sock, nobody, nogroup)[0] == "reply", "refused again with a reply")
    lines = re.findall(r"refused a connection from uid 65534", e.log())
    check(len(lines) == 1, "21 refusals in a burst log one line, not %d" % len(lines))
    check(e.status().get("instances") is not None, "root is still served")
    check(e.stop_monitor() == 0, "the monitor's exit status")

    # --control-group: socket 0660 with that group, run dir 0710; members are served.
    old = os.umask(0)
    try:
        e.start_monitor("--control-group", "nogroup")
    finally:
        os.umask(old)
    st = os.stat(sock)
    check(st.st_mode & 0o7777 == 0o660 and st.st_gid == nogroup,
          "group socket: mode %o gid %d" % (st.st_mode & 0o7777, st.st_gid))
    st = os.stat(e.run)
    check(st.st_mode & 0o7777 == 0o710 and st.st_gid == nogroup,
          "group run dir: mode %o gid %d" % (st.st_mode & 0o7777, st.st_gid))
    res = connect_as(sock, nobody, nogroup)
    check(res[0] == "reply" and res[1].startswith('{"monitor"'), "a group member is served: %r" % (res,))
    check(e.stop_monitor() == 0, "the monitor's exit status")

    # An inline password in a publisher config is refused (it would be copied
    # into the run directory); check-config says why.
    e.instance("b", publisher={"mapper": {"options": {"password": "hunter2"}}})
    rc, out, _ = e.cli("check-config", "--config-dir", e.conf)
    check(rc == 1 and "inline 'password'" in out and "password_file" in out and
          "hunter2" not in out, "check-config on an inline password: %d\n%s" % (rc, out))


CASES = {
    "lifecycle": case_lifecycle,
    "restart": case_restart,
    "crashloop": case_crashloop,
    "stuck": case_stuck,
    "badconfig": case_badconfig,
    "adopt": case_adopt,
    "shutdown": case_shutdown,
    "status": case_status,
    "rolling": case_rolling,
    "output": case_output,
    "socket": case_socket,
}


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in CASES:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        print("cases:", " ".join(CASES), file=sys.stderr)
        return 2
    case = sys.argv[1]
    e = Env(case, sys.argv[2], sys.argv[3])
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))
    t0 = time.monotonic()
    try:
        CASES[case](e)
    except Fail as err:
        print("FAILED: %s: %s" % (case, err))
        print("---- monitor log ----")
        print(e.log()[-8000:])
        print("---- journal ----")
        print("\n".join(" ".join(l) for l in e.journal_lines()[-40:]))
        return 1
    finally:
        e.cleanup()
    print("monitor_%s: passed in %.1fs" % (case, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
