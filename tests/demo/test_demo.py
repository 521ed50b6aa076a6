#!/usr/bin/env python3
"""Integration test: scripts/demo.sh (the README's first command) runs and shows what it promises.

Usage: python3 tests/demo/test_demo.py      (WH_BUILD_ROOT: the build under test)

Runs `scripts/demo.sh --no-build` against the build under test (WH_DEMO_BUILD),
in a session of its own and with a private WH_TMP_PARENT, and checks its
output: the two wormhole-tail apps received the updates before and after the
publisher's kill -9 and restart; wormhole-cache deleted the read-through key
order:1 from memcached when its row changed, left order:3 alone, and set the
Redis key order-json:1 to the new row; wormhole-index's FTS5 query followed
an insert, an update and a delete; the failover: after the active
publisher's kill -9, both apps received the next order from pub-replica, the
standby next to the replica, with a newer epoch, at a position in the
replica's binlog (replica-bin), within the session timeout and a few
seconds, and that publisher's log says it took the lease; at the end every
program it started
stopped with status 0 (the demo names any that did not, e.g. a sanitizer
report at exit). Then nothing the demo started may be left:
no process of its session, no process naming its temp dir, no temp dir.
Prints what it checks; exits 0 on success, 1 on a failed check.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("WH_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import wh_harness as wh  # noqa: E402

BUILD = os.environ.get("WH_BUILD_ROOT", os.path.join(ROOT, "build"))


class Failed(Exception):
    pass


def check(cond, what, out=None):
    if not cond:
        if out is not None:
            print(out[-6000:], file=sys.stderr)
        raise Failed(what)
    print("ok: %s" % what, flush=True)


def session_procs(sid):
    """Live (non-zombie) processes of session sid."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if st[0] != "Z" and int(st[4]) == sid:
            found.append(int(d))
    return found


def procs_mentioning(text):
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


def after(out, marker):
    """The output from the first line containing marker on ('' if none)."""
    i = out.find(marker)
    return out[i:] if i >= 0 else ""


def check_failover(out):
    """The last section: the replica's publisher took the shard over and delivered."""
    fo = after(out, "== failover:")
    check(fo != "", "the demo has a failover section", out)
    fo = fo[:fo.find("\n== done")]
    for app in ("audit", "shipping"):
        m = re.search(r"^-- %s: publisher (\S+) \(epoch (\d+)\) took over shard shop-1 in "
                      r"([\d.]+) s; orders id 7 delivered by it from binlog position "
                      r"(\S+)$" % app, fo, re.M)
        check(m is not None, "%s received order 7 after the active publisher's kill -9" % app,
              out)
        pub, epoch, took, pos = m.group(1), int(m.group(2)), float(m.group(3)), m.group(4)
        check(pub == "pub-replica" and epoch >= 2 and pos.startswith("replica-bin."),
              "%s: order 7 came from pub-replica (epoch %d), the standby next to the replica, "
              "from the replica's binlog (%s)" % (app, epoch, pos), out)
        check(took < wh.scaled(15), "%s: the takeover and the delivery took %.1f s after the "
              "kill (session timeout 4 s)" % (app, took), out)
    check(re.search(r"^ +\S+ wormhole-publisher INFO +\[zk\] active: took the lease of shard "
                    r"shop-1; registered \S+/publishers/pub-replica with epoch \d+", fo,
                    re.M) is not None,
          "the replica's publisher logged that it took the lease", out)


def check_output(out):
    received = [int(n) for n in re.findall(r"^-- audit received (\d+) updates:", out, re.M)]
    check(len(received) == 2 and received[0] >= 5 and received[1] >= 7,
          "wormhole-tail 'audit' received the updates before (>= 5) and after (>= 7) the "
          "publisher's restart: %s" % received, out)
    shipping = [int(n) for n in re.findall(r"^-- shipping received (\d+) updates:", out, re.M)]
    check(len(shipping) == 2 and shipping[0] >= 1 and shipping[1] >= 2,
          "wormhole-tail 'shipping' (filtered) received >= 1, then >= 2 updates: %s"
          % shipping, out)

    publog = after(out, "== the publisher's log:")
    publog = publog[:publog.find("\n==")]
    check(publog != "" and "more than the limit" not in publog,
          "the publisher's log in the demo does not call the apps' empty app nodes too large",
          out)

    cache = after(out, "== wormhole-cache:")
    check(cache != "", "the demo has a wormhole-cache section", out)
    before = after(cache, "-- the caches' view before")
    check(re.search(r"^ +order:1 +1\|ada\|19\.99\|shipped$", before, re.M) is not None,
          "before the UPDATE, memcached holds the read-through value of order:1", out)
    check(re.search(r'^ +order-json:1 +\{.*"amount":"19\.99"', before, re.M) is not None,
          "before the UPDATE, Redis holds order-json:1 as set from the binlog (amount 19.99)", out)
    check(re.search(r"^ +order:1: deleted from memcached by wormhole-cache, \d+ ms after", cache,
                    re.M) is not None, "wormhole-cache deleted order:1 after the UPDATE", out)
    view = after(cache, "-- the caches' view after")
    check(re.search(r"^ +order:1 +\(absent\)$", view, re.M) is not None,
          "after the UPDATE, order:1 is absent from memcached", out)
    check(re.search(r"^ +order:3 +3\|linus\|42\.00\|paid$", view, re.M) is not None,
          "after the UPDATE, order:3 (another row) is still cached", out)
    check(re.search(r'^ +order-json:1 +\{.*"amount":"24\.99"', view, re.M) is not None,
          "after the UPDATE, Redis's order-json:1 holds the new row (amount 24.99)", out)

    index = after(out, "== wormhole-index:")
    check(index != "", "the demo has a wormhole-index section", out)
    steps = [("'desk' finds row 1, written before the app started",
              r"products MATCH 'desk': 1 row\n +1 \| Walnut desk \|"),
             ("'lamp' finds nothing before the INSERT", r"products MATCH 'lamp': 0 rows\n"),
             ("'lamp' finds row 2 after the INSERT",
              r"products MATCH 'lamp': 1 row, \d+ ms after the write was sent\n"
              r" +2 \| Brass lamp \|"),
             ("'brass' finds nothing after the UPDATE",
              r"products MATCH 'brass': 0 rows, \d+ ms after"),
             ("'copper' finds the updated row 2",
              r"products MATCH 'copper': 1 row\n +2 \| Copper lamp \|"),
             ("'lamp' finds nothing after the DELETE",
              r"products MATCH 'lamp': 0 rows, \d+ ms after")]
    rest = index
    for what, pattern in steps:
        m = re.search(pattern, rest)
        check(m is not None, "the index, in order: %s" % what, out)
        rest = rest[m.end():]
    check_failover(out)
    check("== done; tearing everything down" in out, "the demo ends with its teardown line", out)
    bad = re.findall(r"^demo: .* exited with status \d+$", out, re.M)
    check(bad == [], "every program the demo started stopped with status 0 at its SIGTERM: %s"
          % bad, out)


def main():
    parent = tempfile.mkdtemp(prefix="whd-", dir="/tmp")
    env = dict(os.environ, WH_DEMO_BUILD=BUILD, WH_TMP_PARENT=parent)
    env.pop("WH_KEEP_TMP", None)
    t0 = time.monotonic()
    p = subprocess.Popen(["bash", os.path.join(ROOT, "scripts", "demo.sh"), "--no-build"],
                         cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        try:
            out, _ = p.communicate(timeout=wh.scaled(120))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 2)
            out, _ = p.communicate()
            check(False, "the demo finished within %.0f s" % wh.scaled(120),
                  out.decode("utf-8", "replace"))
        out = out.decode("utf-8", "replace")
        check(p.returncode == 0, "the demo exits with status 0 (it did: %s) in %.1f s"
              % (p.returncode, time.monotonic() - t0), out)
        check_output(out)
        deadline = time.monotonic() + wh.scaled(10)
        while time.monotonic() < deadline and (session_procs(p.pid) or procs_mentioning(parent)):
            time.sleep(0.1)
        check(session_procs(p.pid) == [], "no process of the demo's session is left: %s"
              % session_procs(p.pid))
        check(procs_mentioning(parent) == [], "no process names the demo's temp dirs")
        check(os.listdir(parent) == [], "the demo's temp dir is removed: %s" % os.listdir(parent))
    except Failed as e:
        print("FAILED: %s" % e, flush=True)
        return 1
    finally:
        if p.poll() is None:
            os.killpg(p.pid, 9)
        for pid in session_procs(p.pid):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        shutil.rmtree(parent, ignore_errors=True)
    print("demo: all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
