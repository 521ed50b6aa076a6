#!/usr/bin/env python3
"""The bootstrap's snapshot reader (mappers/mysql/mysql_snapshot.c) against a
harness MariaDB: (1) every column type of test_mysql_types.py, with its edge
values and multi-MB blobs, read in chunks of 2 rows equal to what
wormhole-logcat decodes from the binlog for the same rows (the stream and
the snapshot must agree value for value, or an app would see a row change
at the seam); (2) chunked reads over primary keys of every key type
(composite, signed and unsigned integers, binary strings with 0x00/0xff,
DATETIME(3), text, ENUM and SET in member order, DOUBLE, FLOAT, DECIMAL(40,30)
values that a double cannot tell apart): chunks of 1, 7 and all rows give the
same rows in the same order, each once; (3) a read resumed after a stored key
gives exactly the rest; (4) the reader's connection killed between chunks: it
connects and prepares again, and no row is lost or repeated.

usage: test_mysql_snapshot.py SNAPSHOT_DUMP"""

import json
import subprocess
import sys

from mysql_testlib import check, done, fail, logcat, wh
from test_mysql_types import COLUMNS, ROWS, UPDATES

DUMP = sys.argv[1] if len(sys.argv) > 1 else None


def dump(db, table, chunk, after=None, kill=False):
    """Rows and chunk lines of snapshot_dump over db.table."""
    argv = [DUMP, "--socket", db.socket, "--table", table, "--chunk", str(chunk)]
    if after is not None:
        argv += ["--after", json.dumps(after)]
    if kill:
        argv.append("--kill-between")
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=wh.scaled(120))
    if r.returncode != 0:
        fail("snapshot_dump %s --chunk %d failed (%d): %s" % (table, chunk, r.returncode,
                                                             r.stderr.decode().strip()))
        return [], []
    lines = [json.loads(l) for l in r.stdout.decode("utf-8").split("\n") if l.strip()]
    rows = [l for l in lines if "op" in l]
    chunks = [l for l in lines if "chunk" in l]
    for u in rows:
        check(u["op"] == "snapshot" and "before" not in u,
              "%s: a snapshot row is op snapshot with an after image only: %s" %
              (table, str(u)[:200]))
    return rows, chunks


def short(v):
    s = json.dumps(v)
    return s if len(s) < 160 else s[:160] + "...(%d chars)" % len(s)


def types(db):
    cols = ",\n  ".join("%s %s" % (n, t) for n, t, _ in COLUMNS)
    db.sql("CREATE DATABASE wt")
    db.sql("CREATE TABLE types (\n  id INT PRIMARY KEY,\n  %s\n) DEFAULT CHARSET=utf8mb4" % cols,
           db="wt")
    for rid, vals in ROWS.items():
        names = ["id"] + list(vals)
        exprs = [str(rid)] + list(vals.values())
        db.sql("SET sql_mode = ''; SET time_zone = '+00:00'; SET max_statement_time = 0;"
               "INSERT INTO types (%s) VALUES (%s)" % (", ".join(names), ", ".join(exprs)),
               db="wt")
    for u in UPDATES:
        db.sql("SET time_zone = '+00:00'; " + u, db="wt")
    db.flush_logs()
    status, ups, err = logcat(db.binlog_dir)
    state = {}
    for u in ups:
        if u.get("table") == "types" and u["op"] in ("insert", "update"):
            state[u["after"]["id"]] = u["after"]
    rows, chunks = dump(db, "wt.types", 2)
    got = {u["after"]["id"]: u["after"] for u in rows}
    check(sorted(got) == sorted(state) and len(rows) == len(state),
          "types: snapshot ids %s, binlog ids %s" % (sorted(got), sorted(state)))
    check(len(chunks) == 3 and [c["rows"] for c in chunks] == [2, 2, 1] and chunks[-1]["done"],
          "types: chunks of 2 over 5 rows: %s" % chunks)
    compared = 0
    for rid in sorted(set(got) & set(state)):
        a, b = got[rid], state[rid]
        check(sorted(a) == sorted(b), "id %d: snapshot columns %s, binlog %s" %
              (rid, sorted(a), sorted(b)))
        for name in sorted(set(a) & set(b)):
            compared += 1
            check(a[name] == b[name], "id %d column %s: snapshot %s, binlog %s" %
                  (rid, name, short(a[name]), short(b[name])))
    print("types: %d values compared over %d rows" % (compared, len(got)), flush=True)


KEYS = {
    # table: (columns and key, values inserted)
    "ck": ("a BIGINT, b VARBINARY(8), c DATETIME(3), d VARCHAR(10), e INT UNSIGNED, v INT, "
           "PRIMARY KEY (a, b, c, d, e)",
           ["(%s, %s, %s, %s, %s, 1)" % (a, b, c, d, e)
            for a in ("-9223372036854775808", "-5", "0", "7")
            for b in ("X''", "X'00'", "X'ff00'", "X'27'")
            for c in ("'1999-12-31 23:59:59.999'", "'2026-01-01 00:00:00.001'")
            for d in ("''", "'\u00e9'", "'z'", "'a''b'")
            for e in ("0", "4294967295")]),
    "ek": ("e ENUM('z','a','m') PRIMARY KEY, v INT", ["('z', 1)", "('a', 2)", "('m', 3)"]),
    "sk": ("s SET('z','a','m') PRIMARY KEY, v INT",
           ["('z', 1)", "('a', 2)", "('z,a', 3)", "('m', 4)", "('a,m', 5)", "('', 6)"]),
    "dk": ("d DOUBLE PRIMARY KEY", ["(0.1)", "(-2.5)", "(1e300)", "(0.30000000000000004)",
                                    "(0.3)"]),
    "fk": ("f FLOAT PRIMARY KEY", ["(0.1)", "(0.2)", "(0.3)", "(-1e30)"]),
    "nk": ("n DECIMAL(40,30) PRIMARY KEY",
           ["(1.000000000000000000000000000001)", "(1.000000000000000000000000000002)",
            "(1)", "(-0.000000000000000000000000000001)"]),
    "ik": ("i BIGINT UNSIGNED PRIMARY KEY, t TEXT",
           ["(%d, REPEAT('x', %d))" % (i, i % 1000) for i in (0, 1, 18446744073709551615)] +
           ["(%d, 'y')" % i for i in range(100, 400)]),
}


def keys(db):
    for table, (cols, values) in KEYS.items():
        db.sql("CREATE TABLE %s (%s)" % (table, cols), db="wt")
        db.sql("INSERT INTO %s VALUES %s" % (table, ", ".join(values)), db="wt")
        n = int(db.sql("SELECT COUNT(*) FROM %s" % table, db="wt")[0][0])
        whole, _ = dump(db, "wt." + table, 100000)
        ref = [json.dumps(u["after"], sort_keys=True) for u in whole]
        check(len(ref) == n and len(set(ref)) == n, "%s: one chunk has %d rows (%d distinct), "
              "the table %d" % (table, len(ref), len(set(ref)), n))
        for chunk in (1, 7):
            rows, chunks = dump(db, "wt." + table, chunk)
            got = [json.dumps(u["after"], sort_keys=True) for u in rows]
            if not check(got == ref, "%s, chunks of %d: %d rows, %d expected; first "
                         "difference at %s" % (table, chunk, len(got), len(ref),
                                               next((i for i, (x, y) in enumerate(zip(got, ref))
                                                     if x != y), min(len(got), len(ref))))):
                continue
            # resumed after a stored key: exactly the rest
            mid = chunks[len(chunks) // 2]
            if mid["last_key"] is not None and not mid["done"]:
                done_before = sum(c["rows"] for c in chunks[:len(chunks) // 2 + 1])
                rest, _ = dump(db, "wt." + table, 5, after=mid["last_key"])
                check([json.dumps(u["after"], sort_keys=True) for u in rest] == ref[done_before:],
                      "%s: resumed after %s: %d rows, %d expected" %
                      (table, mid["last_key"], len(rest), n - done_before))
        print("keys: %s, %d rows checked in chunks of 1, 7 and all" % (table, n), flush=True)
    # The reader's connection killed between chunks: the next read fails, the one after
    # connects and prepares its statements again, and goes on after the same key.
    whole, _ = dump(db, "wt.ck", 100000)
    rows, chunks = dump(db, "wt.ck", 40, kill=True)
    check([u["after"] for u in rows] == [u["after"] for u in whole] and
          chunks and chunks[-1]["retries"] >= len(chunks) - 1,
          "ck read again after each kill of the reader's connection: %d rows of %d, %d "
          "retries over %d chunks" % (len(rows), len(whole), chunks[-1]["retries"] if chunks
                                      else -1, len(chunks)))
    # A key stored by an earlier version (text forms) resumes the same way.
    rest, _ = dump(db, "wt.ik", 50, after=["150"])
    check(len(rest) == 249 + 1 and rest[0]["after"]["i"] == 151,
          "ik after [\"150\"]: %d rows from %s" % (len(rest), rest[0]["after"] if rest else None))


def main():
    if not DUMP:
        print("usage: test_mysql_snapshot.py SNAPSHOT_DUMP", file=sys.stderr)
        return 2
    with wh.Stack() as st:
        db = st.mariadb()
        types(db)
        keys(db)
    return done("test_mysql_snapshot")


if __name__ == "__main__":
    sys.exit(main())
