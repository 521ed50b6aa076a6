#!/usr/bin/env python3
"""demo_peek.py -- what scripts/demo.sh uses to look into its caches, its index and an app's status.

Python 3 standard library only, plus the harness's cache clients
(tests/harness/wh_caches.py). Every command prints a short human-readable
answer on stdout; wait commands exit 1 with a message on stderr on timeout.

  demo_peek.py mc-get PORT KEY...            memcached: each key's value, or (absent)
  demo_peek.py mc-set PORT KEY VALUE         memcached: store a value (a read-through fill)
  demo_peek.py redis-get PORT KEY...         Redis: each key's value, or (absent)
  demo_peek.py wait-mc-gone PORT KEY SECS [SENT_NS]
                                             until the key is absent; with SENT_NS (when the
                                             write was sent, date +%s%N), prints how long after
  demo_peek.py wait-cache-idle STATUS GTID SECS
                                             until wormhole-cache's status file shows every
                                             shard applied through MariaDB GTID (domain-server-seq),
                                             nothing queued and no second delete pending, twice
                                             in a row with the same op counts
  demo_peek.py fts DB TABLE QUERY            SQLite FTS5 index of wormhole-index: the rows of
                                             TABLE (key, text and stored columns) whose text
                                             matches QUERY
  demo_peek.py wait-fts DB TABLE QUERY N SECS [SENT_NS]
                                             until QUERY matches exactly N rows; prints them
                                             (and how long after SENT_NS)
  demo_peek.py wait-takeover TABLE ID SECS KILLED_NS JSONL LOG [JSONL LOG...]
                                             until each wormhole-tail output JSONL has the insert
                                             of row ID into TABLE; prints for each app how long
                                             after the publisher's kill (KILLED_NS, date +%s%N)
                                             it arrived, which publisher (and epoch) the app's
                                             LOG last accepted and the update's binlog position
"""
import json
import os
import re
import signal
import sqlite3
import sys
import time

# Ctrl-C: die from SIGINT (no traceback), so that the demo's shell stops too.
signal.signal(signal.SIGINT, signal.SIG_DFL)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import wh_caches as whc  # noqa: E402
import wh_harness as wh  # noqa: E402


def show(key, value):
    print("   %-14s %s" % (key, "(absent)" if value is None else value.decode("utf-8", "replace")))


def mc_get(port, keys):
    c = whc.MemcacheClient(int(port))
    for k in keys:
        show(k, c.get(k))


def redis_get(port, keys):
    r = whc.RedisClient(int(port))
    for k in keys:
        show(k, r.command("GET", k))


def since(sent_ns):
    """' N ms after the write was sent' (the mariadb client's start and this program's
    included: an upper bound), or '' without SENT_NS."""
    if not sent_ns:
        return ""
    return ", %.0f ms after the write was sent" % ((time.time_ns() - int(sent_ns)) / 1e6)


def wait_mc_gone(port, key, secs, sent_ns=None):
    c = whc.MemcacheClient(int(port))
    t0 = time.monotonic()
    while c.get(key) is not None:
        if time.monotonic() - t0 > float(secs):
            sys.exit("demo_peek: %s is still in memcached after %s s" % (key, secs))
        time.sleep(0.002)
    print("   %s: deleted from memcached by wormhole-cache%s" % (key, since(sent_ns)))


def _gtid_seq(text, domain):
    """The sequence number of domain in a GTID list ("0-1-17" or "0-1-17/2,1-3-5/0"), or -1."""
    for part in (text or "").split(","):
        g = part.split("/")[0].split("-")
        if len(g) == 3 and g[0] == domain:
            return int(g[2])
    return -1


def _cache_idle(st, domain, seq):
    return bool(st and st.get("shards")) and st.get("updates_queued") == 0 \
        and st.get("second_delete_batches") == 0 \
        and all(_gtid_seq(s.get("logical"), domain) >= seq for s in st["shards"].values())


def wait_cache_idle(status_path, gtid, secs):
    """Idle in two successive status files with the same op counts: a second-delete round
    taken off the list just before the first one was written has landed by then."""
    domain, _, seq = gtid.split(",")[0].split("-")
    deadline = time.monotonic() + float(secs)
    st = prev = None
    while time.monotonic() < deadline:
        try:
            with open(status_path) as f:
                st = json.load(f)
        except (OSError, ValueError):
            st = None
        if not _cache_idle(st, domain, int(seq)):
            prev = None
        elif prev is None or prev.get("time_ms") == st.get("time_ms"):
            prev = prev or st
        elif prev.get("ops") == st.get("ops"):
            return
        else:
            prev = st
        time.sleep(0.05)
    sys.exit("demo_peek: wormhole-cache did not apply through %s in %s s (status: %s)"
             % (gtid, secs, json.dumps(st)))


def _fts_rows(db, table, query):
    """The index rows (every column but wh_rowid) whose text matches query; [] before the
    app created the table."""
    try:
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    except sqlite3.OperationalError:
        return []
    try:
        return [r[1:] for r in con.execute(
            "SELECT t.* FROM %s_fts f JOIN %s t ON t.wh_rowid = f.rowid WHERE %s_fts MATCH ? "
            "ORDER BY t.wh_rowid" % (table, table, table), (query,))]
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return []
        raise
    finally:
        con.close()


def _print_fts(table, query, rows, when=""):
    print("   %s MATCH '%s': %d row%s%s"
          % (table, query, len(rows), "" if len(rows) == 1 else "s", when))
    for r in rows:
        print("      " + " | ".join(str(v) for v in r))


def fts(db, table, query):
    rows = _fts_rows(db, table, query)
    _print_fts(table, query, rows)


def wait_fts(db, table, query, n, secs, sent_ns=None):
    t0 = time.monotonic()
    while True:
        try:
            rows = _fts_rows(db, table, query)
        except sqlite3.OperationalError:   # the app holds the write lock: ask again
            rows = None
        if rows is not None and len(rows) == int(n):
            break
        if time.monotonic() - t0 > float(secs):
            sys.exit("demo_peek: %s MATCH '%s' still gives %s rows, not %s, after %s s"
                     % (table, query, "?" if rows is None else len(rows), n, secs))
        time.sleep(0.002)
    _print_fts(table, query, rows, since(sent_ns))


def _inserted(jsonl, table, row_id):
    """The update inserting row_id into table from wormhole-tail's output, or None."""
    try:
        with open(jsonl) as f:
            lines = [l for l in f if l.endswith("\n")]
    except OSError:
        return None
    for line in lines:
        u = json.loads(line)
        if u.get("table") == table and u.get("op") == "insert" and \
                str((u.get("after") or {}).get("id")) == row_id:
            return u
    return None


def wait_takeover(table, row_id, secs, killed_ns, *files):
    """files: pairs of an app's wormhole-tail output (JSONL) and log."""
    pending = dict(zip(files[0::2], files[1::2]))
    order = list(pending)
    arrived = {}
    t0 = time.monotonic()
    while pending:
        for jsonl in list(pending):
            u = _inserted(jsonl, table, row_id)
            if u is not None:
                arrived[jsonl] = (u, (time.time_ns() - int(killed_ns)) / 1e9, pending.pop(jsonl))
        if pending and time.monotonic() - t0 > float(secs):
            sys.exit("demo_peek: %s has no insert of %s id %s after %s s"
                     % (", ".join(pending), table, row_id, secs))
        time.sleep(0.01)
    for jsonl in order:
        u, took, log = arrived[jsonl]
        with open(log, errors="replace") as f:
            pubs = re.findall(r"publisher (\S+) \(epoch (\d+)\) at \S+ delivers shard (\S+)",
                              f.read())
        pub, epoch, shard = pubs[-1] if pubs else ("?", "?", u.get("shard"))
        app = os.path.basename(jsonl).rsplit(".", 1)[0]
        print("-- %s: publisher %s (epoch %s) took over shard %s in %.1f s; %s id %s delivered "
              "by it from binlog position %s" % (app, pub, epoch, shard, took, table, row_id,
                                                 u["pos"]["physical"]))


def mc_set(port, key, value):
    whc.MemcacheClient(int(port)).set(key, value)


# name: (function, fewest arguments, most arguments (None: any number))
COMMANDS = {"mc-get": (lambda port, *keys: mc_get(port, keys), 2, None),
            "mc-set": (mc_set, 3, 3),
            "redis-get": (lambda port, *keys: redis_get(port, keys), 2, None),
            "wait-mc-gone": (wait_mc_gone, 3, 4),
            "wait-cache-idle": (wait_cache_idle, 3, 3),
            "fts": (fts, 3, 3),
            "wait-fts": (wait_fts, 5, 6),
            "wait-takeover": (wait_takeover, 6, None)}


def main(argv):
    cmd = COMMANDS.get(argv[1]) if len(argv) > 1 else None
    if cmd is None or len(argv) - 2 < cmd[1] or (cmd[2] is not None and len(argv) - 2 > cmd[2]):
        sys.exit(__doc__)
    # Die with the demo's shell (SIGTERM), which dies at once when run.py forwards a SIGTERM:
    # the servers are torn down next, and a waiter left behind would only report their absence.
    # WH_DEMO_SHELL is the shell's pid: it may have died while this program started.
    wh.child_dies_with_parent()
    if os.getppid() != int(os.environ.get("WH_DEMO_SHELL") or os.getppid()):
        sys.exit(1)
    try:
        cmd[0](*argv[2:])
    except whc.CacheError as e:
        sys.exit("demo_peek: %s" % e)


if __name__ == "__main__":
    main(sys.argv)
