"""Helpers for the mysql mapper's integration tests: running wormhole-logcat
over a harness MariaDB's binlog directory, and turning decoded values and
SELECT results into comparable Python values."""

import base64
import json
import os
import struct
import subprocess
import sys

ROOT = os.environ.get("WH_SOURCE_ROOT") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import wh_harness as wh  # noqa: E402,F401

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr, flush=True)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def done(name):
    print("%s: %d failures" % (name, len(failures)), flush=True)
    return 1 if failures else 0


def logcat_path():
    p = os.environ.get("WH_LOGCAT")
    if p:
        return p
    return os.path.join(os.environ.get("WH_BUILD_ROOT", "build"), "tools", "wormhole-logcat")


def logcat(binlog_dir, *args, timeout=300, check_status=True):
    """Runs wormhole-logcat to the end of the log; returns (status, updates, stderr)."""
    argv = [logcat_path(), "--mapper", "mysql", "--binlog-dir", binlog_dir] + list(args)
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=wh.scaled(timeout))
    ups = [json.loads(l) for l in r.stdout.decode("utf-8").split("\n") if l.strip()]
    err = r.stderr.decode("utf-8", "replace")
    if check_status and r.returncode != 0:
        fail("wormhole-logcat %s failed with status %d: %s" % (" ".join(args), r.returncode,
                                                                err.strip()))
    return r.returncode, ups, err


def float32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def sql_hex(db, query, database=None):
    """Rows of a query whose columns are all HEX()ed: lists of bytes (None for NULL)."""
    out = []
    for row in db.sql(query, db=database):
        out.append([None if v is None else bytes.fromhex(v) for v in row])
    return out


def b64(v):
    return None if v is None else base64.b64decode(v)
