#!/usr/bin/env python3
"""Unit test of stream_check.py: the checker passes a faithful stream (with redeliveries)
and fails, naming the row, on a stream with one update removed, one phantom added, an
update out of order, a changed value and a corrupted blob."""
import base64
import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checks  # noqa: E402
import stream_check as sc  # noqa: E402

ITEMS = sc.Table("app.items", ["id"], ["id", "grp", "name", "price"])
BLOBS = sc.Table("app.blobs", ["id"], ["id", "data"], bytes_columns=["data"])
TABLES = [ITEMS, BLOBS]


def upd(n, op, table, before=None, after=None, shard="s1"):
    u = {"shard": shard, "op": op, "db": "app", "table": table,
         "pos": {"logical": "0-1-%d/0" % n, "physical": "mysql-bin.000001:%d/0" % (100 * n)},
         "txn": {"id": "0-1-%d" % n, "index": 0, "last": True}}
    if before is not None:
        u["before"] = before
    if after is not None:
        u["after"] = after
    return u


def b64(data):
    return base64.b64encode(data).decode()


def stream():
    s = []
    n = 0
    for i in range(1, 21):
        n += 1
        s.append(upd(n, "insert", "items", after={"id": i, "grp": i % 3, "name": "n%d" % i,
                                                  "price": "%d.50" % i}))
    for i in range(1, 21, 4):
        n += 1
        s.append(upd(n, "update", "items",
                     before={"id": i, "grp": i % 3, "name": "n%d" % i, "price": "%d.50" % i},
                     after={"id": i, "grp": 7, "name": None, "price": "%d.50" % i}))
    for i in range(2, 21, 5):
        n += 1
        s.append(upd(n, "delete", "items",
                     before={"id": i, "grp": i % 3, "name": "n%d" % i, "price": "%d.50" % i}))
    n += 1
    s.append(upd(n, "insert", "blobs", after={"id": 1, "data": b64(b"\x00\xff" * 5000)}))
    n += 1
    s.append(upd(n, "ddl", None))
    return s


def database():
    """The final tables as dump_tables() would return them."""
    import hashlib
    items = {}
    for i in range(1, 21):
        if i % 5 == 2:
            continue
        if i % 4 == 1:
            items[(str(i),)] = (str(i), "7", None, "%d.50" % i)
        else:
            items[(str(i),)] = (str(i), str(i % 3), "n%d" % i, "%d.50" % i)
    blobs = {("1",): ("1", hashlib.md5(b"\x00\xff" * 5000).hexdigest())}
    return {"app.items": items, "app.blobs": blobs}


def problems(s):
    return sc.check_app(s, TABLES, database())[0]


def main():
    good = stream()
    checks.eq(problems(good), [], "a faithful stream passes")
    # At-least-once: a restart redelivers a run of updates already received.
    redelivered = good[:30] + copy.deepcopy(good[25:30]) + good[30:]
    p, stats = sc.check_app(redelivered, TABLES, database())
    checks.eq(p, [], "redeliveries (same positions) are deduplicated")
    checks.eq(stats["duplicates"], 5, "the redeliveries are counted")
    # One update removed: the row keeps its old values in the replay.
    missing = good[:22] + good[23:]
    p = problems(missing)
    checks.check(len(p) == 1 and "row ('9',) differs" in p[0],
                 "a stream with one update removed fails, naming the row: %r" % p)
    # One insert removed: a gap.
    p = problems(good[:2] + good[3:])
    checks.check(len(p) == 1 and "gap: row ('3',)" in p[0],
                 "a stream with one insert removed fails as a gap: %r" % p)
    # A phantom: an insert the database never committed.
    phantom = good + [upd(999, "insert", "items", after={"id": 77, "grp": 1, "name": "x",
                                                        "price": "1.00"})]
    p = problems(phantom)
    checks.check(len(p) == 1 and "phantom row ('77',)" in p[0],
                 "a stream with a phantom insert fails, naming it: %r" % p)
    # Both at once, as the brief's acceptance case.
    p = problems(missing + phantom[-1:])
    checks.check(len(p) == 2, "one update removed and one phantom added: two problems: %r" % p)
    # Out of log order within a shard (also when the content would still match).
    swapped = good[:5] + [good[6], good[5]] + good[7:]
    p = problems(swapped)
    checks.check(any("out of log order" in x for x in p),
                 "two updates swapped fail as out of order: %r" % p)
    # Two shards interleave freely; each must be in order.
    other = copy.deepcopy(good[:3])
    for u in other:
        u["shard"] = "s2"
    mixed = [good[0], other[0], good[1], other[1], other[2]] + good[2:]
    checks.eq(sc.order_problems(sc.dedup(mixed)), [], "shards interleave freely")
    # A blob that arrived altered (one byte).
    bad_blob = copy.deepcopy(good)
    bad_blob[-2]["after"]["data"] = b64(b"\x00\xff" * 4999 + b"\x00\xfe")
    p = problems(bad_blob)
    checks.check(len(p) == 1 and "app.blobs: row ('1',) differs" in p[0],
                 "a corrupted blob fails (compared by MD5): %r" % p)
    # A whole table missing from the stream (e.g. a flow stopped): every row is a gap.
    p = problems([u for u in good if u.get("table") != "blobs"])
    checks.check(len(p) == 1 and "app.blobs: gap" in p[0], "a missing table fails: %r" % p)
    # A failover to another copy: the copy's publisher redelivers a run with other
    # physical positions (its own binlog) and the same logical ones, and a promoted
    # copy goes on with the domain's sequence under its own server id.
    def on_copy(u, server):
        u = copy.deepcopy(u)
        g, idx = u["pos"]["logical"].split("/")
        d, _, n = g.split("-")
        u["pos"]["logical"] = "%s-%d-%s/%s" % (d, server, n, idx)
        u["pos"]["physical"] = "rep1-bin.000002:%d/%s" % (7 + 10 * int(n), idx)
        return u
    failover = good[:30] + [on_copy(u, 1) for u in good[24:]]
    p, stats = sc.check_app(failover, TABLES, database(), key=sc.logical_key)
    checks.eq(p, [], "a failover's redeliveries are deduplicated by logical position")
    checks.eq(stats["duplicates"], 6, "... and counted")
    promoted = good[:30] + [on_copy(u, 101) for u in good[30:]]
    checks.eq(sc.check_app(promoted, TABLES, database(), key=sc.logical_key)[0], [],
              "a promoted copy's server id does not break the logical order")
    skipped = good[:25] + [on_copy(u, 1) for u in good[26:]]   # a delete lost
    p = sc.check_app(skipped, TABLES, database(), key=sc.logical_key)[0]
    checks.check(len(p) == 1, "a failover that skips one update fails: %r" % p)
    p = sc.order_problems(sc.dedup(good[:28] + [good[29], on_copy(good[28], 1)],
                                   sc.logical_key), sc.logical_key)
    checks.check(len(p) == 1 and "out of log order" in p[0],
                 "logical order is checked too: %r" % p)
    # A bootstrap: rows 1..20 that the stream never carried arrive as snapshot rows
    # (upserts at the stream position before them); a chunk sent twice after a kill is
    # replayed again where it arrived, and a stale row sent before a newer update is
    # overwritten by it.
    snap = []
    for i in range(1, 21):
        row = {"id": i, "grp": i % 3, "name": "n%d" % i, "price": "%d.50" % i}
        u = upd(0, "snapshot", "items", after=row)
        u["pos"] = {"physical": "mysql-bin.000001:4/0"}
        snap.append(u)
    boot = snap[:10] + copy.deepcopy(snap[5:10]) + snap[10:] + good[20:]
    p, stats = sc.check_app(boot, TABLES, database())
    checks.eq(p, [], "snapshot rows replay as upserts, a chunk sent twice included")
    checks.eq(stats["duplicates"], 0, "snapshot rows are not deduplicated by position")
    p, stats = sc.check_app(boot, TABLES, database(), key=sc.logical_key)
    checks.eq(p, [], "snapshot rows (no logical position) replay with dedup by logical position")
    # A snapshot row that overwrites a newer state fails: the row differs.
    late = copy.deepcopy(snap[0])
    p = problems(good + [late])
    checks.check(len(p) == 1 and "row ('1',) differs" in p[0],
                 "a stale snapshot row after the stream's update fails: %r" % p)
    return checks.done("test_stream_check")


if __name__ == "__main__":
    sys.exit(main())
