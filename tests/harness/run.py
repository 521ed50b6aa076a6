#!/usr/bin/env python3
"""Run one command against throwaway MariaDB / replica / ZooKeeper servers, then tear them down.

Usage:
  python3 tests/harness/run.py [--mariadb] [--replica] [--zk] [--zk-ensemble]
                               [--memcached] [--redis]
                               [--mariadb-opt KEY=VALUE ...] [--replica-opt KEY=VALUE ...]
                               -- CMD ARGS...

Starts the requested servers on 127.0.0.1 in a fresh temporary directory
(memcached and redis-server through wh_caches.py), exports their
coordinates as WH_* environment variables (see docs/TESTING.md),
runs CMD, and returns its exit status (128+N if it died from signal N).
The servers are killed and the directory removed on every path out: normal
exit, CMD failure or crash, an exception here, and SIGINT/SIGTERM/SIGHUP
(forwarded to CMD first).  WH_KEEP_TMP=1 keeps the directory.  A server that
fails to start makes run.py print why plus the server log's tail and exit 99
(meson's "hard error").
"""

import argparse
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wh_harness as wh  # noqa: E402
import wh_caches as whc  # noqa: E402

EXIT_SETUP_FAILED = 99


class _Interrupted(Exception):
    def __init__(self, signum):
        super().__init__("signal %d" % signum)
        self.signum = signum


def _parse_opts(items, flag):
    opts = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not key:
            raise SystemExit("run.py: %s needs KEY=VALUE or KEY, got %r" % (flag, item))
        opts[key.strip().lstrip("-")] = value if sep else None
    return opts


def main(argv):
    ap = argparse.ArgumentParser(
        prog="run.py", description="Run CMD with throwaway servers; always tears them down.")
    ap.add_argument("--mariadb", action="store_true", help="start a MariaDB primary")
    ap.add_argument("--replica", action="store_true",
                    help="also start a MariaDB replica of the primary (implies --mariadb)")
    ap.add_argument("--zk", action="store_true", help="start a standalone ZooKeeper")
    ap.add_argument("--zk-ensemble", action="store_true",
                    help="start a three-node ZooKeeper ensemble")
    ap.add_argument("--memcached", action="store_true", help="start a memcached")
    ap.add_argument("--redis", action="store_true", help="start a redis-server")
    ap.add_argument("--mariadb-opt", action="append", metavar="KEY=VALUE",
                    help="extra mariadbd option for the primary (repeatable), "
                         "e.g. binlog_row_image=MINIMAL")
    ap.add_argument("--replica-opt", action="append", metavar="KEY=VALUE",
                    help="extra mariadbd option for the replica (repeatable)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    args = ap.parse_args(argv)
    cmd = args.cmd
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        ap.error("no command given (put it after --)")
    if args.replica:
        args.mariadb = True
    mopts = _parse_opts(args.mariadb_opt, "--mariadb-opt")
    ropts = _parse_opts(args.replica_opt, "--replica-opt")

    child = None

    def on_signal(signum, frame):
        if child is not None and child.poll() is None:
            try:
                child.send_signal(signum)
            except ProcessLookupError:
                pass
        raise _Interrupted(signum)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    stack = None
    try:
        stack = wh.Stack()
        env = dict(os.environ)
        env["WH_TMPDIR"] = stack.tmpdir
        env["WH_ROCKSDB_DIR"] = stack.scratch_dir("rocksdb")
        try:
            if args.mariadb:
                db = stack.mariadb(options=mopts)
                env.update(db.env("WH_MARIADB"))
                if args.replica:
                    rep = stack.replica(db, options=ropts)
                    env.update(rep.env("WH_REPLICA"))
            if args.zk:
                zk = stack.zookeeper()
                env["WH_ZK_CONNECT"] = zk.connect
                env["WH_ZK_PORT"] = str(zk.port)
            if args.zk_ensemble:
                ens = stack.zk_ensemble(3)
                env["WH_ZK_ENSEMBLE_CONNECT"] = ens.connect
            if args.memcached:
                mc = whc.memcached(stack)
                env["WH_MEMCACHED_SERVER"] = mc.server
                env["WH_MEMCACHED_PORT"] = str(mc.port)
            if args.redis:
                rd = whc.redis(stack)
                env["WH_REDIS_SERVER"] = rd.server
                env["WH_REDIS_PORT"] = str(rd.port)
        except wh.HarnessError as e:
            print("run.py: could not start the test servers: %s" % e, file=sys.stderr, flush=True)
            return EXIT_SETUP_FAILED

        env["WH_HARNESS_PIDS"] = " ".join(str(p) for p in sorted(wh.live_pids()))
        try:
            # CMD stays in our process group (so a terminal's Ctrl-C or meson's
            # group kill reaches it) and gets SIGTERM if run.py itself dies.
            child = subprocess.Popen(cmd, env=env, preexec_fn=wh.child_dies_with_parent)
        except OSError as e:
            print("run.py: cannot run %s: %s" % (cmd[0], e), file=sys.stderr, flush=True)
            return 127
        try:
            rc = child.wait()
        except _Interrupted as e:
            # CMD got the signal too; give it a grace period to exit, then kill it.
            print("run.py: got signal %d; waiting for %s to exit" % (e.signum, cmd[0]),
                  file=sys.stderr, flush=True)
            for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(s, signal.SIG_IGN)
            try:
                rc = child.wait(timeout=wh.scaled(10))
            except subprocess.TimeoutExpired:
                child.kill()
                rc = child.wait()
            if rc >= 0:
                return 128 + e.signum
        if rc < 0:
            print("run.py: %s died from signal %d" % (cmd[0], -rc), file=sys.stderr, flush=True)
            return 128 - rc
        return rc
    except _Interrupted as e:
        print("run.py: interrupted by signal %d; tearing down" % e.signum, file=sys.stderr,
              flush=True)
        return 128 + e.signum
    finally:
        # No more signal-driven exceptions while tearing down.
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        if child is not None and child.poll() is None:
            try:
                child.wait(timeout=wh.scaled(10))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if stack is not None:
            stack.teardown()
        wh.teardown_all()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
