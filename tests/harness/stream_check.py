"""stream_check.py -- the check users care about: does what an app received rebuild the database?

Given the updates one app received (JSON lines as wormhole-tail prints them, in arrival
order, possibly across several instance files), the checker

  1. deduplicates them by position (at-least-once: a redelivered update carries the same
     shard and physical position as the first delivery; the first arrival is kept; after
     a failover to another copy of the shard, by logical position: logical_key);
     bootstrap rows (op "snapshot", docs/BOOTSTRAP.md) carry the position of the stream
     where they were inserted and are never dropped: each is the row's state at that
     point, so a chunk sent again after a kill is replayed again where it arrived,
  2. checks that what remains is in log order per shard (strictly increasing physical
     positions: FILE, OFFSET, INDEX),
  3. replays it (insert/update/delete by primary key from the row images, snapshot as an
     upsert of its after image) into an
     in-memory copy of the chosen tables, and
  4. compares that copy with the database's final committed tables (an ordered dump:
     dump_tables() against a live MariaDB, or dumps given by a unit test): a row the
     replay has and the table lacks is a phantom (an update that was never committed, or
     was delivered twice without dedup), a row the table has and the replay lacks or a
     row with other values is a gap (an update that never arrived).

check_app() returns a list of problems, each one sentence naming the table, the key and
what differs (empty: the app can trust its stream). Values are compared as text: numbers
and decimals by their printed form, bytes columns (base64 in the JSON) by MD5, so that a
50 MiB blob is compared without dumping it; SQL NULL is None on both sides.
"""
import base64
import hashlib


def pos_key(u):
    """Sort key of an update's physical position: (file, offset, index)."""
    phys = u["pos"]["physical"]
    body, idx = phys.rsplit("/", 1)
    if ":" in body:
        f, off = body.rsplit(":", 1)
    else:
        f, off = "", body
    return (f, int(off), int(idx))


def logical_key(u):
    """Sort key of an update's logical position, the same on every copy of the shard:
    MariaDB "D-S-N/I" as (D, N, I). The server id S is left out: it changes when another
    copy is promoted and goes on with the domain's sequence. A MariaDB position listing
    several domains ("D-S-N,D2-S2-N2/I") is keyed by its first GTID, the update's own."""
    text = u["pos"]["logical"]
    if not text:
        raise ValueError("update at %s has no logical position" % u["pos"]["physical"])
    gtids, idx = text.rsplit("/", 1)
    d, _, n = gtids.split(",")[0].split("-")
    return (int(d), int(n), int(idx))


SNAPSHOT_OPS = ("snapshot", "snapshot_begin", "snapshot_end")


def dedup(updates, key=pos_key):
    """The updates without redeliveries: the first arrival of each (shard, position), the
    position by key (pos_key: physical, within one log; logical_key: across copies).
    Snapshot rows and markers are all kept (they share the position of the stream update
    before them)."""
    seen = set()
    out = []
    for u in updates:
        if u.get("op") in SNAPSHOT_OPS:
            out.append(u)
            continue
        k = (u.get("shard"), key(u))
        if k in seen:
            continue
        seen.add(k)
        out.append(u)
    return out


def order_problems(updates, key=pos_key):
    """Problems with log order: per shard, each (deduplicated) update must come after the
    previous one (by key; with logical_key per MariaDB domain, the domains of a shard
    having no order among them)."""
    last = {}
    problems = []
    for u in updates:
        if u.get("op") in SNAPSHOT_OPS:
            continue
        k = key(u)
        s = (u.get("shard"), k[0]) if key is logical_key else u.get("shard")
        if s in last and k <= last[s]:
            problems.append("shard %s: update at %s arrived after %s (out of log order)"
                            % (u.get("shard"), u["pos"]["physical"],
                               ("%s:%d/%d" if key is pos_key else "%d-?-%d/%d") % last[s]))
        last[s] = max(k, last.get(s, k))
    return problems


class Table:
    """What the checker knows of one table: its name "db.table", its primary key columns,
    the columns to compare and which of them hold bytes (base64 in updates)."""

    def __init__(self, name, key, columns, bytes_columns=()):
        self.name = name
        self.db, self.table = name.split(".", 1)
        self.key = list(key)
        self.columns = list(columns)
        self.bytes_columns = set(bytes_columns)

    def norm(self, col, v):
        if v is None:
            return None
        if col in self.bytes_columns:
            return hashlib.md5(base64.b64decode(v)).hexdigest()
        if isinstance(v, bool):
            return "1" if v else "0"
        return str(v)

    def row(self, image):
        return tuple(self.norm(c, image.get(c)) for c in self.columns)

    def pk(self, image):
        return tuple(str(image[c]) for c in self.key)


def replay(updates, tables):
    """{table name: {pk: row}} after applying the updates of the given tables in order."""
    by_name = {t.name: t for t in tables}
    state = {t.name: {} for t in tables}
    for u in updates:
        t = by_name.get("%s.%s" % (u.get("db"), u.get("table")))
        if t is None or u["op"] not in ("insert", "update", "delete", "snapshot"):
            continue
        rows = state[t.name]
        if u["op"] == "snapshot":
            rows[t.pk(u["after"])] = t.row(u["after"])
            continue
        if u["op"] in ("update", "delete") and "before" in u:
            rows.pop(t.pk(u["before"]), None)
        if u["op"] in ("insert", "update"):
            rows[t.pk(u["after"])] = t.row(u["after"])
    return state


def dump_tables(db, tables):
    """The committed content of the tables in a live MariaDB (wh_harness.MariaDB), in the
    form replay() returns: bytes columns as MD5 of their value, others as the client
    prints them."""
    out = {}
    for t in tables:
        exprs = ["MD5(`%s`)" % c if c in t.bytes_columns else "`%s`" % c for c in t.columns]
        rows = db.sql("SELECT %s FROM `%s`.`%s`" % (", ".join(exprs), t.db, t.table))
        kidx = [t.columns.index(c) for c in t.key]
        out[t.name] = {tuple(r[i] for i in kidx): tuple(r) for r in rows}
    return out


def compare(replayed, dumps, limit=5):
    """Problems where the replay differs from the dumps (at most limit per table)."""
    problems = []
    for name in sorted(dumps):
        got, want = replayed.get(name, {}), dumps[name]
        n = 0
        for k in sorted(set(got) | set(want)):
            if got.get(k) == want.get(k):
                continue
            n += 1
            if n > limit:
                continue
            if k not in want:
                problems.append("%s: phantom row %s: the stream has %s, the database has no "
                                "such row" % (name, k, _short(got[k])))
            elif k not in got:
                problems.append("%s: gap: row %s is in the database (%s) but not in the "
                                "replayed stream" % (name, k, _short(want[k])))
            else:
                problems.append("%s: row %s differs: the stream gives %s, the database has %s"
                                % (name, k, _short(got[k]), _short(want[k])))
        if n > limit:
            problems.append("%s: %d more rows differ" % (name, n - limit))
    return problems


def _short(row):
    text = repr(row)
    return text if len(text) <= 120 else text[:117] + "..."


def check_app(updates, tables, dumps, key=pos_key):
    """Every problem of one app's stream (arrival order, all instances concatenated in the
    order they ran) against the final tables: order, then content. Returns (problems,
    stats) where stats says how many updates arrived and how many were redeliveries.
    key=logical_key checks a stream that several copies of the shard delivered in turn
    (a failover): their physical positions differ, their logical ones do not."""
    uniq = dedup(updates, key)
    problems = order_problems(uniq, key)
    problems += compare(replay(uniq, tables), dumps)
    return problems, {"received": len(updates), "distinct": len(uniq),
                      "duplicates": len(updates) - len(uniq)}
