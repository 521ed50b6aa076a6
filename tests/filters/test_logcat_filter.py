#!/usr/bin/env python3
"""Integration test: wormhole-logcat --filter / --filter-file on a real binlog.

Run inside the harness (tests/harness/run.py --mariadb -- python3 THIS LOGCAT).
Writes a seeded random workload (WH_SEED=N replays it) to a MariaDB with
tables of many column types, reads the whole binlog with wormhole-logcat,
then for each filter checks that logcat with --filter (text form) and with
--filter-file (JSON form) prints exactly the lines that a reference evaluator
written here selects from the unfiltered output.
"""

import base64
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

LOGCAT = sys.argv[1] if len(sys.argv) > 1 else "wormhole-logcat"
PORT = os.environ["WH_MARIADB_PORT"]
BINLOG_DIR = os.environ["WH_MARIADB_BINLOG_DIR"]
TMP = os.environ.get("WH_TMPDIR") or tempfile.mkdtemp()

failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAILED: " + msg, file=sys.stderr)


def sql(text):
    subprocess.run(["mariadb", "-uroot", "-h127.0.0.1", "-P" + PORT, "--batch"],
                   input=text, text=True, check=True, timeout=120)


# ---- the workload -------------------------------------------------------------------------

SCHEMA = """
CREATE DATABASE app;
CREATE DATABASE other;
CREATE TABLE app.users (
  id BIGINT PRIMARY KEY, account_id INT UNSIGNED, email VARCHAR(64),
  status ENUM('active','trial','suspended','closed'), country CHAR(2), age TINYINT,
  balance DECIMAL(12,2), score DOUBLE, ratio FLOAT, created_at DATETIME(3), born DATE,
  deleted_at DATETIME NULL, flags SET('a','b','c'), data VARBINARY(16), yr YEAR,
  big BIGINT UNSIGNED, doc JSON);
CREATE TABLE app.orders (id INT PRIMARY KEY, user_id BIGINT, total DECIMAL(10,2), note TEXT);
CREATE TABLE other.users (id INT PRIMARY KEY, status VARCHAR(16));
"""

# DDL after the workload, with the (db, table) each ddl update must carry
# (None: absent): one table of the default database, or, without a default
# database, of the database qualifying the name (docs/UPDATES.md).
DDL = [
    ("ALTER TABLE app.orders ADD COLUMN extra INT", None, ("app", "orders")),
    ("ALTER TABLE `users` ADD COLUMN `extra` INT", "app", ("app", "users")),
    ("ALTER TABLE other.users ADD COLUMN extra INT", "app", ("app", None)),
    ("CREATE TABLE tmp (id INT PRIMARY KEY)", "app", ("app", "tmp")),
    ("RENAME TABLE tmp TO tmp2", "app", ("app", "tmp")),
    ("CREATE INDEX ix ON tmp2 (id)", "app", ("app", "tmp2")),
    ("CREATE TABLE tmp3 LIKE tmp2", "app", ("app", "tmp3")),
    ("DROP TABLE tmp2, tmp3", "app", ("app", None)),
    ("CREATE DATABASE scratch", None, ("scratch", None)),   # the server logs it in scratch
]

# Column kinds for the reference comparison, per (db, table).
KINDS = {
    ("app", "users"): {
        "id": "int", "account_id": "int", "email": "str", "status": "str", "country": "str",
        "age": "int", "balance": "dec", "score": "double", "ratio": "float32",
        "created_at": "str", "born": "str", "deleted_at": "str", "flags": "str",
        "data": "bytes", "yr": "int", "big": "int", "doc": "json"},
    ("app", "orders"): {"id": "int", "user_id": "int", "total": "dec", "note": "str"},
    ("other", "users"): {"id": "int", "status": "str"},
}


def q(v):
    if v is None:
        return "NULL"
    if isinstance(v, bytes):
        return "x'%s'" % v.hex()
    if isinstance(v, str):
        return "'" + v.replace("\\", "\\\\").replace("'", "''") + "'"
    return str(v)


def user_values(rng, uid):
    return [
        uid, rng.choice([1, 7, 42, 4294967295]), "u%d@example.com" % uid,
        rng.choice(["active", "trial", "suspended", "closed"]),
        rng.choice(["US", "CA", "GB", "DE", "FR", "BR", "JP", "IN", "ES", "IT", "NL", "SE"]),
        rng.choice([0, 1, 18, 21, 30, 45, -1, 127]),
        rng.choice(["5.00", "5", "7.50", "0.00", "-12.34", "1000000.01"]),
        rng.choice([1.5, 0.1, -2.25, 0.0, 1e10]),
        rng.choice([0.1, 1.5, 2.25]),
        rng.choice(["2024-01-02 03:04:05.120", "2023-12-31 23:59:59.999", "2024-01-02 03:04:05"]),
        rng.choice(["2024-01-02", "1999-12-31"]),
        rng.choice([None, None, "2024-06-01 00:00:00"]),
        rng.choice(["a,c", "b", "", "a,b,c"]),
        rng.choice([b"\x00\xff", b"abc", b""]),
        rng.choice([2024, 1999]),
        rng.choice([18446744073709551615, 9223372036854775808, 0]),
        rng.choice(['{"a": 1}', '[1, 2]', '"x"']),
    ]


def workload(rng):
    stmts, users, orders, others = [], [], [], []
    next_id = [1]

    def new_id():
        next_id[0] += 1
        return next_id[0]

    for _ in range(70):
        txn = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            r = rng.random()
            if r < 0.35 or not users:
                uid = new_id()
                users.append(uid)
                txn.append("INSERT INTO app.users VALUES (%s);" %
                           ", ".join(q(v) for v in user_values(rng, uid)))
            elif r < 0.6:
                uid = rng.choice(users)
                col, val = rng.choice([
                    ("status", rng.choice(["active", "trial", "suspended", "closed"])),
                    ("balance", rng.choice(["5.00", "7.50", "0"])),
                    ("age", rng.choice([18, 21, 99])),
                    ("deleted_at", rng.choice([None, "2024-06-01 00:00:00"])),
                    ("country", rng.choice(["US", "JP"]))])
                txn.append("UPDATE app.users SET %s = %s WHERE id = %d;" % (col, q(val), uid))
            elif r < 0.7:
                uid = users.pop(rng.randrange(len(users)))
                txn.append("DELETE FROM app.users WHERE id = %d;" % uid)
            elif r < 0.85:
                oid = new_id()
                orders.append(oid)
                txn.append("INSERT INTO app.orders VALUES (%d, %d, %s, %s);" % (
                    oid, rng.choice(users), q(rng.choice(["10.00", "20.50", "3.14"])),
                    q(rng.choice(["gift", "", None, "caf\u00e9"]))))
            elif r < 0.92 and orders:
                txn.append("UPDATE app.orders SET total = %s WHERE id = %d;" % (
                    q(rng.choice(["10", "99.99"])), rng.choice(orders)))
            else:
                oid = new_id()
                others.append(oid)
                txn.append("INSERT INTO other.users VALUES (%d, %s);" % (
                    oid, q(rng.choice(["active", "gone"]))))
        stmts.append("BEGIN;\n" + "\n".join(txn) + "\nCOMMIT;")
    return "\n".join(stmts) + "\n"


# ---- filters as trees, rendered in both forms --------------------------------------------------

def D(s):
    return Decimal(s)


def render_const(c, as_json):
    if c is None:
        return "null"
    if c is True or c is False:
        return "true" if c else "false"
    if isinstance(c, Decimal):
        return str(c)
    if isinstance(c, bytes):
        return '{"hex":"%s"}' % c.hex() if as_json else "x'%s'" % c.hex()
    return json.dumps(c)


def render_text(t):
    op = t[0]
    if op in ("and", "or"):
        return (" %s " % op).join("(%s)" % render_text(k) for k in t[1])
    if op == "not":
        return "not (%s)" % render_text(t[1])
    if op == "exists":
        return "exists " + t[1]
    if op == "not_exists":
        return "not exists " + t[1]
    if op in ("eq", "ne"):
        return "%s %s %s" % (t[1], "=" if op == "eq" else "!=", render_const(t[2], False))
    return "%s %s (%s)" % (t[1], "in" if op == "in" else "not in",
                           ", ".join(render_const(c, False) for c in t[2]))


def render_json(t):
    op = t[0]
    if op in ("and", "or"):
        return '{"%s":[%s]}' % (op, ",".join(render_json(k) for k in t[1]))
    if op == "not":
        return '{"not":%s}' % render_json(t[1])
    if op in ("exists", "not_exists"):
        return '{"%s":%s}' % (op, json.dumps(t[1]))
    if op in ("eq", "ne"):
        return '{"%s":[%s,%s]}' % (op, json.dumps(t[1]), render_const(t[2], True))
    return '{"%s":[%s,[%s]]}' % (op, json.dumps(t[1]),
                                 ",".join(render_const(c, True) for c in t[2]))


# ---- reference evaluation over the JSON lines ----------------------------------------------------

KV_OPS = {"put", "single_delete", "delete_range", "merge"}


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def lookup(u, key):
    """(present, value, kind) of key in the decoded update u."""
    kv = "cf" in u or u["op"] in KV_OPS
    if key in ("op", "shard"):
        return True, u[key], "str"
    if key in ("db", "table"):
        return (not kv and key in u), u.get(key), "str"
    if key == "cf":
        return ("cf" in u), u.get("cf"), "str"
    image = None
    if key.startswith("before."):
        image, key = "before", key[7:]
    elif key.startswith("after."):
        image, key = "after", key[6:]
    if image is None:
        image = "after" if "after" in u else "before" if "before" in u else None
    row = u.get(image) if image else None
    if row is None or key not in row:
        return False, None, None
    kinds = KINDS.get((u.get("db"), u.get("table")), {})
    return True, row[key], kinds.get(key, "str")


def ref_eq(kind, v, c):
    if c is None or v is None:
        return c is None and v is None
    num = Decimal(int(c)) if isinstance(c, bool) else c if isinstance(c, Decimal) else None
    if kind == "int":
        return num is not None and Decimal(v) == num
    if kind == "dec":
        if num is not None:
            return Decimal(v) == num
        return isinstance(c, str) and v == c
    if kind == "double":
        return num is not None and float(num) == v
    if kind == "float32":
        return num is not None and f32(float(num)) == f32(v)
    if kind == "bytes":
        raw = base64.b64decode(v)
        return isinstance(c, (str, bytes)) and raw == (c.encode() if isinstance(c, str) else c)
    if kind == "json":
        return isinstance(c, str) and json.dumps(v, separators=(",", ":")) == c
    if isinstance(c, bytes):
        return v.encode() == c
    return isinstance(c, str) and v == c


def ref_match(t, u):
    op = t[0]
    if op == "and":
        return all(ref_match(k, u) for k in t[1])
    if op == "or":
        return any(ref_match(k, u) for k in t[1])
    if op == "not":
        return not ref_match(t[1], u)
    if op in ("not_exists", "ne", "not_in"):
        pos = {"not_exists": "exists", "ne": "eq", "not_in": "in"}[op]
        return not ref_match((pos,) + tuple(t[1:]), u)
    present, v, kind = lookup(u, t[1])
    if op == "exists":
        return present
    if not present:
        return False
    consts = [t[2]] if op == "eq" else t[2]
    if t[1] == "op":
        return v in consts
    return any(ref_eq(kind, v, c) for c in consts)


FILTERS = [
    ("eq", "table", "users"),
    ("and", [("eq", "table", "users"), ("in", "op", ["insert", "update"]),
             ("or", [("in", "status", ["active", "trial"]), ("not_exists", "deleted_at")])]),
    ("eq", "balance", D("5")),
    ("in", "balance", [D("7.5"), D("-12.34"), D("1000000.01")]),
    ("eq", "balance", "5.00"),
    ("or", [("in", "age", [D("18"), D("21"), D("30")]), ("eq", "score", D("1.5"))]),
    ("and", [("eq", "before.status", "active"), ("ne", "after.status", "active")]),
    ("and", [("eq", "db", "app"), ("not", ("eq", "op", "delete"))]),
    ("eq", "created_at", "2024-01-02 03:04:05.120"),
    ("eq", "born", "2024-01-02"),
    ("eq", "big", D("18446744073709551615")),
    ("eq", "big", D("-1")),
    ("eq", "account_id", D("4294967295")),
    ("eq", "data", b"\x00\xff"),
    ("eq", "data", "abc"),
    ("and", [("eq", "deleted_at", None), ("eq", "table", "users")]),
    ("eq", "flags", "a,c"),
    ("eq", "yr", D("2024")),
    ("eq", "ratio", D("0.1")),
    ("eq", "score", D("1E+10")),
    ("not_in", "country", ["US", "CA", "GB", "DE", "FR", "BR", "ES", "IT", "NL", "SE"]),
    ("eq", "cf", "x"),
    ("and", [("eq", "table", "orders"), ("in", "total", [D("10"), D("20.5")])]),
    ("exists", "before.id"),
    ("and", [("eq", "db", "other"), ("eq", "status", "active")]),
    ("eq", "age", True),
    ("in", "note", ["caf\u00e9", "", None]),
    ("ne", "note", None),
]


def logcat(*args):
    p = subprocess.run([LOGCAT, "--mapper", "mysql", "--binlog-dir", BINLOG_DIR] + list(args),
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def main():
    seed = int(os.environ.get("WH_SEED") or time.time_ns() % 1000000007)
    print("test_logcat_filter: seed %d (replay with WH_SEED=%d)" % (seed, seed), flush=True)
    rng = random.Random(seed)
    sql(SCHEMA)
    sql(workload(rng))
    for stmt, use, _ in DDL:
        sql(("USE %s;\n" % use if use else "") + stmt + ";\n")
    sql("FLUSH BINARY LOGS;")

    rc, out, err = logcat()
    if rc != 0:
        fail("logcat without a filter exited %d: %s" % (rc, err))
        return 1
    lines = out.splitlines(keepends=True)
    updates = [json.loads(x) for x in lines]
    rows = [u for u in updates if u["op"] in ("insert", "update", "delete")]
    print("test_logcat_filter: %d updates, %d row changes" % (len(updates), len(rows)))
    if len(rows) < 70:
        fail("the workload produced only %d row changes" % len(rows))

    # Single-table DDL carries its table, and a table filter sees it.
    # (The server may rewrite a statement: DROP TABLE names come back quoted.)
    ddl = [u for u in updates if u["op"] == "ddl"][-len(DDL):]
    if [u["statement"].split()[:2] for u in ddl] != [stmt.split()[:2] for stmt, _, _ in DDL]:
        fail("ddl updates: %r" % [u["statement"] for u in ddl])
    for u, (stmt, _, (db, table)) in zip(ddl, DDL):
        if (u.get("db"), u.get("table")) != (db, table):
            fail("%s (logged as %r): db %r, table %r; expected %r, %r" % (
                stmt, u["statement"], u.get("db"), u.get("table"), db, table))
    schema = [u for u in updates if u["op"] == "ddl" and u["statement"].startswith("CREATE TABLE")]
    if [(u.get("db"), u.get("table")) for u in schema[:3]] != [
            ("app", "users"), ("app", "orders"), ("other", "users")]:
        fail("CREATE TABLE of the schema: %r" % [(u.get("db"), u.get("table")) for u in schema])
    rc, got, err = logcat("--filter", 'table = "orders" and op = "ddl"')
    got = [json.loads(x) for x in got.splitlines()]
    if rc != 0 or [u["statement"] for u in got] != [
            schema[1]["statement"], "ALTER TABLE app.orders ADD COLUMN extra INT"]:
        fail("--filter 'table = \"orders\" and op = \"ddl\"': exit %d, %r %s" % (
            rc, [u["statement"] for u in got], err))

    nontrivial = 0
    for k, t in enumerate(FILTERS):
        want = "".join(x for x, u in zip(lines, updates) if ref_match(t, u))
        text = render_text(t)
        rc, got, err = logcat("--filter", text)
        if rc != 0 or got != want:
            fail("--filter %s: exit %d, %d lines, expected %d lines\n%s" % (
                text, rc, got.count("\n"), want.count("\n"), err))
        path = os.path.join(TMP, "filter%d.json" % k)
        with open(path, "w") as fp:
            fp.write("\n  " + render_json(t) + "\n")
        rc, got, err = logcat("--filter-file", path)
        if rc != 0 or got != want:
            fail("--filter-file %s: exit %d, %d lines, expected %d lines\n%s" % (
                render_json(t), rc, got.count("\n"), want.count("\n"), err))
        n = want.count("\n")
        nontrivial += 0 < n < len(lines)
        print("  %4d of %d match: %s" % (n, len(lines), text))
    if nontrivial < len(FILTERS) // 2:
        fail("only %d filters matched some but not all updates" % nontrivial)

    # --max counts printed (matching) updates.
    want = [x for x, u in zip(lines, updates) if ref_match(FILTERS[0], u)][:3]
    rc, got, err = logcat("--filter", render_text(FILTERS[0]), "--max", "3")
    if rc != 0 or got != "".join(want):
        fail("--max 3 with a filter: exit %d, printed %r, stderr %r" % (rc, got, err[-2000:]))

    # A bad filter is reported with its place before the log is opened.
    rc, got, err = logcat("--filter", 'table = "users" and op = 5')
    if rc != 2 or got or "at offset 25 (line 1, column 26)" not in err:
        fail("a bad --filter gave exit %d, stderr %r" % (rc, err))
    path = os.path.join(TMP, "bad.json")
    with open(path, "w") as fp:
        fp.write('{"and":[{"eq":["table","users"]},{"in":["op",["insert","bogus"]]}]}')
    rc, got, err = logcat("--filter-file", path)
    if rc != 2 or got or "at $.and[1].in[1][1]" not in err:
        fail("a bad --filter-file gave exit %d, stderr %r" % (rc, err))

    print("test_logcat_filter: %s" % ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
