#!/usr/bin/env python3
"""Decode the real MySQL 5.7 and 8.2 binlogs of tests/fixtures/mysql-binlogs
with wormhole-logcat and compare with what mysqlbinlog printed for them.

Usage: test_fixtures.py LOGCAT FIXTURES_DIR

For every fixture: the row changes must equal dump.txt's '###' lines (op,
table, every column value of every image, in order), the ddl updates must be
the dump's statements, each transaction must start at the offset of its GTID
event with that GTID as its logical position, txn.index must count from 0 and
txn.last mark exactly the last update. Statement-based fixtures must fail
with the documented error, and pass with statement_dml=ddl. A missing
fixture directory is a failure, not a skip."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


HEXLINE = re.compile(r"^#\s+([0-9a-f]+) ([0-9a-f]{2} ){4}\s*([0-9a-f]{2})\s")


def parse_dump(path):
    """Events (offset, type), GTIDs by event offset, row blocks and statements."""
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    events, gtid_at, rows, stmts = [], {}, [], []
    last_gtid_off = None
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("# Position"):
            m = HEXLINE.match(lines[i + 1]) if i + 1 < len(lines) else None
            if m:
                off, typ = int(m.group(1), 16), int(m.group(3), 16)
                events.append((off, typ))
                if typ in (33, 34):
                    last_gtid_off = off
                    gtid_at[off] = "ANONYMOUS" if typ == 34 else None
        elif ln.startswith("SET @@SESSION.GTID_NEXT= '") and last_gtid_off is not None:
            val = ln.split("'")[1]
            if gtid_at.get(last_gtid_off) is None:
                gtid_at[last_gtid_off] = val
        elif ln.startswith("# \tQuery") or ln.startswith("# \tExecute_load_query"):
            j = i + 1
            while j < len(lines) and (lines[j].startswith("use ") or lines[j].startswith("SET ")
                                      or lines[j].startswith("/*!")):
                j += 1
            body = []
            while j < len(lines) and lines[j] != "/*!*/;" and not lines[j].startswith("# at "):
                body.append(lines[j])
                j += 1
            text = "\n".join(body)
            if text.endswith("/*!*/;"):
                text = text[:-len("/*!*/;")]
            if text.strip() not in ("BEGIN", "COMMIT", "ROLLBACK"):
                stmts.append(text)
            i = j
            continue
        elif ln.startswith("### ") and not ln.startswith("###   "):
            m = re.match(r"^### (INSERT INTO|UPDATE|DELETE FROM) `([^`]*)`\.`([^`]*)`", ln)
            if m:
                op = {"INSERT INTO": "insert", "UPDATE": "update", "DELETE FROM": "delete"}[m.group(1)]
                rows.append({"op": op, "db": m.group(2), "table": m.group(3), "images": []})
            elif ln in ("### SET", "### WHERE") and rows:
                rows[-1]["images"].append((ln[4:], {}))
        elif ln.startswith("###   @") and rows and rows[-1]["images"]:
            m = re.match(r"^###   @(\d+)=(.*?)( /\* .* \*/)?$", ln)
            if m:
                rows[-1]["images"][-1][1]["@" + m.group(1)] = m.group(2)
        i += 1
    return events, gtid_at, rows, stmts


def dump_value(text):
    """mysqlbinlog's value text in our JSON's terms (string or None)."""
    if text == "NULL":
        return None
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        s = text[1:-1]
        return s.replace("\\'", "'").replace("\\\\", "\\")
    return text.split(" (")[0]   # "-1 (4294967295)": the signed reading first


def our_value(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return v


def run_logcat(logcat, binlog, options):
    d = tempfile.mkdtemp(prefix="wh-fixture-")
    try:
        name = os.path.basename(binlog)
        os.symlink(os.path.abspath(binlog), os.path.join(d, name))
        with open(os.path.join(d, "fixture.index"), "w") as f:
            f.write("./%s\n" % name)
        argv = [logcat, "--mapper", "mysql", "--binlog-dir", d,
                "--option", "positional_names=true"]
        for o in options:
            argv += ["--option", o]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        ups = [json.loads(l) for l in r.stdout.decode().split("\n") if l.strip()]
        return r.returncode, ups, r.stderr.decode()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def check_txns(name, fname, ups, gtid_at):
    prev_txn, idx = None, 0
    for k, u in enumerate(ups):
        phys = u["pos"]["physical"]
        f, rest = phys.rsplit(":", 1)
        off, index = rest.split("/")
        off, index = int(off), int(index)
        if f != fname:
            fail("%s: update %d is in file %s" % (name, k, f))
        txn = (off, u["txn"]["id"])
        if txn != prev_txn:
            if prev_txn is not None and not ups[k - 1]["txn"]["last"]:
                fail("%s: update %d ends transaction %s without txn.last" % (name, k - 1, prev_txn))
            idx = 0
            prev_txn = txn
        elif ups[k - 1]["txn"]["last"]:
            fail("%s: update %d follows a txn.last update of the same transaction" % (name, k))
        if index != idx or u["txn"]["index"] != idx:
            fail("%s: update %d has index %d/%d, expected %d" % (name, k, index, u["txn"]["index"], idx))
        idx += 1
        if gtid_at:
            if off not in gtid_at:
                fail("%s: update %d starts at %d, which is no GTID event (%s)" % (name, k, off, sorted(gtid_at)))
                continue
            g = gtid_at[off]
            if g == "ANONYMOUS":
                if u["pos"]["logical"] is not None or u["txn"]["id"] != "%s:%d" % (fname, off):
                    fail("%s: update %d of an anonymous transaction has logical %s, id %s"
                         % (name, k, u["pos"]["logical"], u["txn"]["id"]))
            elif u["pos"]["logical"] != "%s/%d" % (g, index) or u["txn"]["id"] != g:
                fail("%s: update %d: logical %s, id %s; expected GTID %s" % (name, k, u["pos"]["logical"], u["txn"]["id"], g))
    if ups and not ups[-1]["txn"]["last"]:
        fail("%s: the last update lacks txn.last" % name)


def check_rows(name, ups, rows):
    ours = [u for u in ups if u["op"] != "ddl"]
    if len(ours) != len(rows):
        fail("%s: %d row changes decoded, mysqlbinlog printed %d" % (name, len(ours), len(rows)))
        return
    for k, (u, r) in enumerate(zip(ours, rows)):
        if (u["op"], u["db"], u["table"]) != (r["op"], r["db"], r["table"]):
            fail("%s: row change %d is %s %s.%s, expected %s %s.%s" % (name, k, u["op"], u["db"], u["table"], r["op"], r["db"], r["table"]))
            continue
        want_images = [("before" if kind == "WHERE" else "after", vals) for kind, vals in r["images"]]
        for side, vals in want_images:
            got = u.get(side)
            if got is None:
                fail("%s: row change %d has no %s image" % (name, k, side))
                continue
            if sorted(got) != sorted(vals):
                fail("%s: row change %d %s columns %s, expected %s" % (name, k, side, sorted(got), sorted(vals)))
            for col, text in vals.items():
                if our_value(got.get(col)) != dump_value(text):
                    fail("%s: row change %d %s %s = %r, mysqlbinlog printed %s" % (name, k, side, col, got.get(col), text))
        for side in ("before", "after"):
            if side in u and side not in [s for s, _ in want_images]:
                fail("%s: row change %d has an unexpected %s image" % (name, k, side))


def check_stmts(name, ups, stmts):
    ours = [u["statement"] for u in ups if u["op"] == "ddl"]
    if len(ours) != len(stmts):
        fail("%s: %d statements decoded, the dump has %d: %r" % (name, len(ours), len(stmts), ours))
        return
    for k, (a, b) in enumerate(zip(ours, stmts)):
        if a.startswith("LOAD DATA") and b.startswith("LOAD DATA"):
            continue   # mysqlbinlog rewrites the file name of LOAD DATA
        if a != b:
            fail("%s: statement %d is %r, the dump has %r" % (name, k, a, b))


STATEMENT_BASED = {"05_intvar", "13_rand", "14_user_var", "17_18_load"}

# Fixtures whose dump.txt was made without -v (no '###' lines): the rows
# their sql.sql wrote, as mysqlbinlog would print them.
EXPECTED_ROWS = {
    "5.7/16_xid": [{"op": "insert", "db": "default", "table": "boxercrab",
                    "images": [("SET", {"@1": "1", "@2": "'hahhhhhhhhh'"})]}],
    "5.7/31_update_rows_v2": [{"op": "update", "db": "default", "table": "boxercrab", "images": [
        ("WHERE", {"@1": "1", "@2": "'abc'", "@3": "'abc'", "@4": "'abc'", "@5": "'abc'",
                   "@6": "'abc'", "@7": "1", "@8": "2", "@9": "3.0000"}),
        ("SET", {"@1": "1", "@2": "'xd'", "@3": "'xd'", "@4": "'xd'", "@5": "'xd'",
                 "@6": "'xd'", "@7": "4", "@8": "4", "@9": "4.0000"})]}],
}


def main():
    logcat, root = sys.argv[1], sys.argv[2]
    if not os.path.isdir(root):
        print("FAIL: fixture directory %s is missing" % root, file=sys.stderr)
        return 1
    count = 0
    for ver in ("5.7", "8.0"):
        vdir = os.path.join(root, ver)
        if not os.path.isdir(vdir):
            fail("fixture directory %s is missing" % vdir)
            continue
        for sub in sorted(os.listdir(vdir)):
            d = os.path.join(vdir, sub)
            bins = [f for f in os.listdir(d) if f == "log.bin" or re.match(r"binlog\.\d+$", f)]
            if len(bins) != 1:
                fail("%s: expected one binlog file, found %s" % (d, bins))
                continue
            binlog = os.path.join(d, bins[0])
            name = "%s/%s" % (ver, sub)
            dump = os.path.join(d, "dump.txt")
            events, gtid_at, rows, stmts = parse_dump(dump)
            rows = EXPECTED_ROWS.get(name, rows)
            count += 1
            if sub in STATEMENT_BASED:
                rc, ups, err = run_logcat(logcat, binlog, [])
                if rc != 1 or "statement-based DML cannot be decoded into rows" not in err:
                    fail("%s: expected the statement-based DML error, got status %d: %s" % (name, rc, err.strip()))
                rc, ups, err = run_logcat(logcat, binlog, ["statement_dml=ddl"])
            else:
                rc, ups, err = run_logcat(logcat, binlog, [])
            if rc != 0:
                fail("%s: wormhole-logcat failed with status %d: %s" % (name, rc, err.strip()))
                continue
            check_txns(name, bins[0], ups, gtid_at)
            if sub != "02_query_bigger":
                check_rows(name, ups, rows)
            if events:   # 8.0/02_query_bigger has no hex dump; see below
                check_stmts(name, ups, stmts)
            print("%s: %d updates (%d row changes, %d statements) match" % (
                name, len(ups), len(rows), len(stmts)))
            if sub == "02_query_bigger":
                check_query_bigger(name, d, ups)
    if count < 20:
        fail("only %d fixtures found under %s" % (count, root))
    print("test_fixtures: %d fixtures, %d failures" % (count, len(failures)))
    return 1 if failures else 0


def check_query_bigger(name, d, ups):
    """This fixture has SHOW BINLOG EVENTS output instead of a dump."""
    show = open(os.path.join(d, "show.txt"), encoding="utf-8").read()
    evs = re.findall(r"\| binlog\.000733 \|\s*(\d+) \| (\w+)\s*\|", show)
    starts = {int(p) for p, t in evs if t == "Anonymous_Gtid"}
    for u in ups:
        off = int(u["pos"]["physical"].split(":")[1].split("/")[0])
        if off not in starts:
            fail("%s: transaction at %d is not at an Anonymous_Gtid event" % (name, off))
    n_rows = len([u for u in ups if u["op"] != "ddl"])
    if n_rows != 14:   # 1 + 5 inserts, 1 update, 2 deletes, 5 inserts (show.txt)
        fail("%s: %d row changes, expected 14" % (name, n_rows))
    first = [u for u in ups if u["op"] == "insert"][0]["after"]
    want = {"@1": 1234567890111, "@2": 1235111, "@3": 13711, "@4": 888878711, "@5": "99.911",
            "@6": "76.11", "@7": "888.1", "@8": "109.1", "@9": "code", "@10": "Y",
            "@11": "1990-08-01", "@12": "1990-06-01", "@13": "1990-01-01",
            "@14": "test@test.com", "@15": "test", "@16": "com"}
    if first != want:
        fail("%s: first insert decoded as %s, expected %s" % (name, first, want))
    ddl = [u for u in ups if u["op"] == "ddl"]
    if len(ddl) != 5 or not ddl[0]["statement"].startswith("CREATE TABLE if not exists `LINEITEM`"):
        fail("%s: statements %r" % (name, [u["statement"][:40] for u in ddl]))


if __name__ == "__main__":
    sys.exit(main())
