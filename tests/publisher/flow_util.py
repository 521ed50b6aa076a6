"""Helpers shared by the per-flow integration tests (test_failed_flow, test_new_app):
wormhole-ctl, rows of app.items written and seen, and purging binlogs under an app.

They run on the scenario environment of test_delivery (env.db, env.zk, env.root)."""
import os
import subprocess
import time

import test_delivery as td
from test_delivery import check, read_lines, wait_until

CTL = os.path.join(td.BUILD, "tools", "wormhole-ctl")


def ctl(env, *args, expect=0):
    """Runs wormhole-ctl against env's ZooKeeper root; checks its exit code, returns stdout."""
    r = subprocess.run([CTL, "--zk", env.zk.connect + env.root] + list(args),
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == expect, "wormhole-ctl %s exits %d (got %d: %s%s)" %
          (" ".join(args), expect, r.returncode, r.stdout[-500:], r.stderr[-500:]))
    return r.stdout


def insert(env, start, n):
    """Inserts app.items rows start .. start + n - 1 in one script."""
    env.db.sql_script("".join("INSERT INTO app.items VALUES (%d, 1, 'n%d', %d, 1.50);\n" %
                              (i, i, i) for i in range(start, start + n)))


def ids(path):
    """The ids of the app.items inserts a tail output file holds."""
    return set(u["after"]["id"] for u in read_lines(path)
               if u.get("table") == "items" and u.get("op") in ("insert", "INSERT") and
               u.get("after"))


def wait_ids(path, want, what, timeout=60):
    wait_until(lambda: want <= ids(path), td.wh.scaled(timeout), what)


def purge_to_newest(env, flush=False):
    """Purges every binlog but the newest (after a FLUSH when flush is set) and returns the
    newest's name. Without flush, apps that acknowledge keep their positions in it."""
    if flush:
        env.db.flush_logs()
    newest = os.path.basename(env.db.binlog_files()[-1])
    t0 = time.time()   # the server keeps a file until its binlog checkpoint is written: retry
    while len(env.db.binlog_files()) > 1 and time.time() - t0 < td.wh.scaled(30):
        env.db.sql("PURGE BINARY LOGS TO '%s'" % newest)
        time.sleep(0.3)
    check(len(env.db.binlog_files()) == 1, "binlogs before %s purged: %s" %
          (newest, env.db.binlog_files()))
    return newest
