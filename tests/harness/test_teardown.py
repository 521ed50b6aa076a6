"""Integration test: run.py exports its env, passes exit codes through, and leaves no server or temp dir behind on any way out.

Every case runs run.py with WH_TMP_PARENT pointing at a private directory, so
afterwards that directory must be empty and no process may mention it on its
command line.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import wh_harness as wh  # noqa: E402
from checks import check, done, eq  # noqa: E402,F401

RUN = os.path.join(HERE, "run.py")


def procs_mentioning(text):
    """Return pids of live (non-zombie) processes whose command line contains `text`."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmd and wh.pid_alive(int(d)):
            found.append(int(d))
    return found


def any_alive(pids):
    """True if one of pids, or any process in the process group of one, is alive."""
    return any(wh.pid_alive(p) or wh.pgroup_alive(p) for p in pids)


def wait_gone(pids, seconds):
    deadline = time.monotonic() + wh.scaled(seconds)
    while time.monotonic() < deadline:
        if not any_alive(pids):
            return True
        time.sleep(0.1)
    return not any_alive(pids)


def read_info(path, seconds=120):
    """Wait for the child's info file: line 1 = WH_HARNESS_PIDS, line 2 = WH_TMPDIR, line 3 = child pid."""
    deadline = time.monotonic() + wh.scaled(seconds)
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                lines = f.read().split("\n")
            if len(lines) >= 4:
                return [int(p) for p in lines[0].split()], lines[1], int(lines[2])
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise RuntimeError("the command under run.py never wrote %s" % path)


# The command run under run.py: record pids, temp dir and own pid, then act.
CHILD = r'''
set -e
printf '%s\n%s\n%s\n' "$WH_HARNESS_PIDS" "$WH_TMPDIR" "$$" > "$INFO.tmp"
mv "$INFO.tmp" "$INFO"
case "$ACTION" in
  exit3) exit 3 ;;
  segv)  kill -SEGV $$ ;;
  sleep) while :; do sleep 0.2; done ;;
  env)
    for v in WH_TMPDIR WH_ROCKSDB_DIR WH_MARIADB_SOCKET WH_MARIADB_PORT WH_MARIADB_HOST \
             WH_MARIADB_USER WH_MARIADB_DATADIR WH_MARIADB_BINLOG_DIR WH_MARIADB_BINLOG_INDEX \
             WH_ZK_CONNECT; do
      eval "val=\${$v:-}"; [ -n "$val" ] || { echo "missing $v" >&2; exit 10; }
    done
    [ -d "$WH_ROCKSDB_DIR" ] && [ -z "$(ls -A "$WH_ROCKSDB_DIR")" ] || { echo "rocksdb dir" >&2; exit 11; }
    case "$WH_ROCKSDB_DIR" in "$WH_TMPDIR"/*) ;; *) echo "rocksdb dir outside tmp" >&2; exit 12 ;; esac
    [ -S "$WH_MARIADB_SOCKET" ] || { echo "no socket" >&2; exit 13; }
    [ "$WH_MARIADB_HOST" = 127.0.0.1 ] && [ "$WH_MARIADB_USER" = root ] || exit 14
    mariadb --no-defaults -h "$WH_MARIADB_HOST" -P "$WH_MARIADB_PORT" -u root -N -B \
        -e 'CREATE DATABASE e; CREATE TABLE e.t (i INT); INSERT INTO e.t VALUES (42)' || exit 15
    [ "$(mariadb --no-defaults -S "$WH_MARIADB_SOCKET" -u root -N -B -e 'SELECT i FROM e.t')" = 42 ] || exit 16
    grep -q "mysql-bin.000001" "$WH_MARIADB_BINLOG_INDEX" || exit 17
    [ -f "$WH_MARIADB_BINLOG_DIR/mysql-bin.000001" ] || exit 18
    case "$WH_ZK_CONNECT" in 127.0.0.1:[0-9]*) ;; *) exit 19 ;; esac
    exit 0 ;;
esac
'''


def run_case(parent, name, flags, action, signal_to_send=None, expect_rc=None,
             expect_stderr=None):
    info = os.path.join(parent, "..", "info-" + name)
    info = os.path.abspath(info)
    env = dict(os.environ, WH_TMP_PARENT=parent, INFO=info, ACTION=action)
    env.pop("WH_KEEP_TMP", None)
    argv = [sys.executable, RUN] + flags + ["--", "sh", "-c", CHILD]
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True)
    pids, tmp, child = [], None, None
    if action != "none":
        try:
            pids, tmp, child = read_info(info)
        except RuntimeError as e:
            check(False, "%s: %s" % (name, e))
    if signal_to_send is not None:
        os.kill(p.pid, signal_to_send)
    try:
        _, err = p.communicate(timeout=wh.scaled(120))
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
        check(False, "%s: run.py did not finish" % name)
    err = err.decode("utf-8", "replace")
    rc = p.returncode
    if signal_to_send == signal.SIGKILL:
        # run.py could not clean up; its servers must die with it (PDEATHSIG).
        check(rc == -signal.SIGKILL, "%s: run.py was SIGKILLed (rc %s)" % (name, rc))
        check(wait_gone(pids + ([child] if child else []), 30),
              "%s: servers and command die with a SIGKILLed run.py" % name)
        shutil.rmtree(tmp, ignore_errors=True) if tmp else None
    else:
        check(rc == expect_rc, "%s: exit status %s, expected %s; stderr:\n%s" % (
            name, rc, expect_rc, err[-3000:]))
        check(wait_gone(pids + ([child] if child else []), 5),
              "%s: no server or command left (pids %s)" % (name, pids))
        if tmp:
            check(not os.path.exists(tmp), "%s: temp dir %s removed" % (name, tmp))
    if expect_stderr:
        check(expect_stderr in err, "%s: stderr mentions %r:\n%s" % (name, expect_stderr, err[-3000:]))
    if action != "none":
        check(len(pids) >= 1, "%s: WH_HARNESS_PIDS lists the servers: %r" % (name, pids))
    check(os.listdir(parent) == [], "%s: nothing left in the temp parent: %r" % (
        name, os.listdir(parent)))
    check(procs_mentioning(parent) == [], "%s: no process mentions %s: %r" % (
        name, parent, procs_mentioning(parent)))
    for leftover in os.listdir(parent):
        shutil.rmtree(os.path.join(parent, leftover), ignore_errors=True)
    try:
        os.unlink(info)
    except OSError:
        pass


def main():
    top = tempfile.mkdtemp(prefix="whtd-")
    parent = os.path.join(top, "p")
    os.mkdir(parent)
    try:
        run_case(parent, "env", ["--mariadb", "--zk"], "env", expect_rc=0)
        run_case(parent, "exit-code", ["--zk"], "exit3", expect_rc=3)
        run_case(parent, "crash", ["--mariadb"], "segv", expect_rc=128 + signal.SIGSEGV,
                 expect_stderr="died from signal")
        run_case(parent, "sigterm", ["--mariadb", "--zk"], "sleep", signal.SIGTERM,
                 expect_rc=128 + signal.SIGTERM)
        run_case(parent, "sigint", ["--zk"], "sleep", signal.SIGINT,
                 expect_rc=128 + signal.SIGINT)
        run_case(parent, "sigkill", ["--mariadb", "--zk"], "sleep", signal.SIGKILL)
        run_case(parent, "bad-server-option", ["--mariadb", "--mariadb-opt", "no_such_option=1"],
                 "none", expect_rc=99, expect_stderr="unknown variable")
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return done("harness_teardown")


if __name__ == "__main__":
    sys.exit(main())
