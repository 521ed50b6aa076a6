#!/usr/bin/env python3
"""Every column type, decoded exactly: rows with edge values (NULL, min/max
of each integer width signed and unsigned, negative and 65-digit decimals,
fractional seconds 0..6, zero dates, 4-byte UTF-8, empty strings, latin1 and
ucs2 text, multi-MB blobs, JSON, ENUM/SET, BIT, YEAR, GEOMETRY) are
inserted, updated and deleted on a harness MariaDB; the updates
wormhole-logcat decodes from its binlog must equal what SELECT returns for
the same rows. Then MINIMAL and NOBLOB row images (absent columns absent),
and column names from the server when binlog_row_metadata is MINIMAL."""

import sys

from mysql_testlib import (b64, check, done, fail, float32, logcat, wh)

# name, SQL type, how to read it back
COLUMNS = [
    ("ti", "TINYINT", "int"), ("tiu", "TINYINT UNSIGNED", "int"),
    ("si", "SMALLINT", "int"), ("siu", "SMALLINT UNSIGNED", "int"),
    ("mi", "MEDIUMINT", "int"), ("miu", "MEDIUMINT UNSIGNED", "int"),
    ("i", "INT", "int"), ("iu", "INT UNSIGNED", "int"),
    ("bi", "BIGINT", "int"), ("biu", "BIGINT UNSIGNED", "int"),
    ("f", "FLOAT", "float"), ("d", "DOUBLE", "double"),
    ("dec1", "DECIMAL(10,2)", "text"), ("dec2", "DECIMAL(65,30)", "text"),
    ("dec3", "DECIMAL(5,0)", "text"), ("dec4", "DECIMAL(18,9) UNSIGNED", "text"),
    ("b1", "BIT(1)", "bit"), ("b64", "BIT(64)", "bit"), ("b10", "BIT(10)", "bit"),
    ("y", "YEAR", "int"),
    ("dt", "DATE", "text"), ("t0", "TIME", "text"), ("t3", "TIME(3)", "text"),
    ("t6", "TIME(6)", "text"), ("dtm0", "DATETIME", "text"), ("dtm1", "DATETIME(1)", "text"),
    ("dtm4", "DATETIME(4)", "text"), ("dtm6", "DATETIME(6)", "text"),
    ("ts0", "TIMESTAMP NULL", "text"), ("ts2", "TIMESTAMP(2) NULL", "text"),
    ("ts6", "TIMESTAMP(6) NULL", "text"),
    ("c10", "CHAR(10)", "utf8"), ("vc", "VARCHAR(300)", "utf8"),
    ("vcl", "VARCHAR(20) CHARACTER SET latin1", "utf8"),
    ("c3", "CHAR(5) CHARACTER SET utf8mb3", "utf8"),
    ("u2", "CHAR(5) CHARACTER SET ucs2", "utf8"),
    ("cbin", "BINARY(4)", "bytes"), ("vb", "VARBINARY(20)", "bytes"),
    ("tt", "TINYTEXT", "utf8"), ("tx", "TEXT", "utf8"), ("mt", "MEDIUMTEXT", "utf8"),
    ("lt", "LONGTEXT", "utf8"), ("txl", "TEXT CHARACTER SET latin1", "utf8"),
    ("tb", "TINYBLOB", "bytes"), ("bl", "BLOB", "bytes"), ("mb", "MEDIUMBLOB", "bytes"),
    ("lb", "LONGBLOB", "bytes"),
    ("j", "JSON", "utf8"),
    ("e", "ENUM('a','b','c-é')", "text"), ("s", "SET('x','y','z')", "text"),
    ("g", "GEOMETRY", "bytes"), ("pt", "POINT", "bytes"),
]

MAXDEC65 = "9" * 35 + "." + "9" * 30

ROWS = {
    1: {},   # all NULL
    2: dict(ti="-128", tiu="0", si="-32768", siu="0", mi="-8388608", miu="0",
            i="-2147483648", iu="0", bi="-9223372036854775808", biu="0",
            f="-3.40282e38", d="-1.7976931348623157e308", dec1="-99999999.99",
            dec2="-" + MAXDEC65, dec3="-99999", dec4="0", b1="b'0'", b64="b'0'", b10="b'0'",
            y="1901", dt="'1000-01-01'", t0="'-838:59:59'", t3="'-00:00:01.500'",
            t6="'-838:59:58.999999'", dtm0="'1000-01-01 00:00:00'",
            dtm1="'1000-01-01 00:00:00.1'", dtm4="'1000-01-01 00:00:00.0001'",
            dtm6="'1000-01-01 00:00:00.000001'", ts0="'1970-01-01 00:00:01'",
            ts2="'1970-01-01 00:00:01.01'", ts6="'1970-01-01 00:00:01.000001'",
            c10="''", vc="''", vcl="''", c3="''", u2="''", cbin="X'00000000'", vb="''",
            tt="''", tx="''", mt="''", lt="''", txl="''", tb="''", bl="''", mb="''", lb="''",
            j="'[]'", e="'a'", s="''", g="POINT(0,0)", pt="POINT(-1.5,2.25)"),
    3: dict(ti="127", tiu="255", si="32767", siu="65535", mi="8388607", miu="16777215",
            i="2147483647", iu="4294967295", bi="9223372036854775807",
            biu="18446744073709551615", f="3.40282e38", d="1.7976931348623157e308",
            dec1="99999999.99", dec2=MAXDEC65, dec3="99999", dec4="999999999.999999999",
            b1="b'1'", b64="0xffffffffffffffff", b10="b'1111111111'", y="2155",
            dt="'9999-12-31'", t0="'838:59:59'", t3="'838:59:58.999'",
            t6="'838:59:58.999999'", dtm0="'9999-12-31 23:59:59'",
            dtm1="'9999-12-31 23:59:59.9'", dtm4="'9999-12-31 23:59:59.9999'",
            dtm6="'9999-12-31 23:59:59.999999'", ts0="'2038-01-19 03:14:07'",
            ts2="'2038-01-19 03:14:07.99'", ts6="'2038-01-19 03:14:07.999999'",
            c10="'0123456789'", vc="CONCAT('\u00e9\u00e8 ', REPEAT('\U0001F600\U0001D11E', 70))",
            vcl="'d\u00e9j\u00e0 vu \u00fc\u00df'", c3="'\u20ac\u00e9\u00e0\u00e7x'", u2="'\u00e9\u4e2d\u6587ab'",
            cbin="'abcd'", vb="X'00ff10ee'", tt="'tiny \U0001F680'",
            tx="REPEAT('text\\n\\t\"\\\\', 1000)", mt="REPEAT('m\u00e9dium ', 10000)",
            lt="REPEAT('long\U0001F4A9', 100000)", txl="REPEAT('\u00e9', 1000)",
            tb="X'00ff'", bl="UNHEX(REPEAT('00FF7F80', 1000))",
            mb="REPEAT(X'DEADBEEF', 500000)", lb="REPEAT(X'0102030405060708', 400000)",
            j="'{\"a\": [1, 2.5, {\"b\": null}], \"c\": \"\u00e9\\\\\"\", \"d\": true}'",
            e="'c-\u00e9'", s="'x,y,z'", g="ST_GeomFromText('LINESTRING(0 0,1 1,2 1.5)')",
            pt="POINT(1e300,-1e-300)"),
    4: dict(ti="-1", tiu="1", si="-2", siu="2", mi="-3", miu="3", i="-4", iu="4", bi="-5",
            biu="9223372036854775808", f="1.5", d="-0.1", dec1="-0.01", dec2="-0.000000000000000000000000000001",
            dec3="0", dec4="0.000000001", b1="1", b64="b'1010'", b10="b'1000000001'", y="2000",
            dt="'2024-02-29'", t0="'00:00:00'", t3="'12:34:56.7'", t6="'-00:00:00.000001'",
            dtm0="'2024-02-29 12:34:56'", dtm1="'2024-02-29 12:34:56.5'",
            dtm4="'2024-02-29 12:34:56.1234'", dtm6="'2024-02-29 12:34:56.123456'",
            ts0="'2024-02-29 12:34:56'", ts2="'2024-02-29 12:34:56.12'",
            ts6="'2024-02-29 12:34:56.000100'", c10="'ab'", vc="'a''b\"c\\\\d'",
            vcl="'caf\u00e9'", c3="'x'", u2="'y'", cbin="'ab'", vb="'x'", tt="'t'", tx="'x'",
            mt="'m'", lt="'l'", txl="'\u00e0'", tb="'b'", bl="'bl'", mb="'mb'", lb="'lb'",
            j="'\"just a string\"'", e="'b'", s="'y'",
            g="ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))')", pt="POINT(3,4)"),
    5: dict(dt="'0000-00-00'", dtm0="'0000-00-00 00:00:00'", dtm6="'0000-00-00 00:00:00.000000'",
            ts0="'0000-00-00 00:00:00'", y="0", dec2="0.5"),
}

UPDATES = [
    "UPDATE types SET i = i + 1, vc = 'changed \U0001F600', ts6 = '2001-02-03 04:05:06.789012', "
    "mb = NULL, dec1 = -12.34 WHERE id = 2",
    "UPDATE types SET ti = NULL, tiu = 7, e = 'a', s = 'x,z', b64 = 12345, j = '{}', "
    "lb = REPEAT(X'AA', 100) WHERE id = 3",
    "UPDATE types SET dtm6 = '1999-12-31 23:59:59.999999', t6 = '-12:00:00.5' WHERE id = 1",
]


def select_expr(name, kind):
    if kind == "bit":
        return "%s+0" % name
    if kind == "utf8":
        return "HEX(CONVERT(%s USING utf8mb4))" % name
    if kind == "bytes":
        return "HEX(%s)" % name
    if kind == "float":
        return "CAST(%s AS DOUBLE)" % name
    return name


def snapshot(db):
    """id -> {column: value as read back}."""
    exprs = ", ".join(select_expr(n, k) for n, _, k in COLUMNS)
    rows = db.sql("SET time_zone = '+00:00'; SELECT id, %s FROM types ORDER BY id" % exprs,
                  db="wt")
    out = {}
    for r in rows:
        vals = {}
        for (n, _, k), v in zip(COLUMNS, r[1:]):
            if v is None:
                vals[n] = None
            elif k == "utf8":
                vals[n] = bytes.fromhex(v).decode("utf-8")
            elif k == "bytes":
                vals[n] = bytes.fromhex(v)
            else:
                vals[n] = v
        out[int(r[0])] = vals
    return out


def compare_value(where, name, kind, got, want):
    if want is None:
        return check(got is None, "%s %s: decoded %r, SELECT gives NULL" % (where, name, got))
    if got is None:
        return check(False, "%s %s: decoded NULL, SELECT gives %r" % (where, name, want))
    if kind in ("int", "bit"):
        ok = isinstance(got, int) and got == int(want)
    elif kind == "float":
        ok = float32(float(got)) == float32(float(want))
    elif kind == "double":
        ok = float(got) == float(want) or abs(float(got) - float(want)) <= abs(float(want)) * 1e-15
    elif kind == "bytes":
        ok = b64(got) == want
    else:
        ok = got == want
    s = repr(got)
    return check(ok, "%s %s: decoded %s, SELECT gives %r" % (where, name, s[:200], str(want)[:200]))


def compare_image(where, got, want):
    if not check(set(got) == {"id"} | {n for n, _, _ in COLUMNS},
                 "%s: columns %s" % (where, sorted(got))):
        return
    for n, _, k in COLUMNS:
        compare_value(where, n, k, got.get(n), want[n])


def main():
    with wh.Stack() as st:
        db = st.mariadb()
        cols = ",\n  ".join("%s %s" % (n, t) for n, t, _ in COLUMNS)
        db.sql("CREATE DATABASE wt")
        db.sql("CREATE TABLE types (\n  id INT PRIMARY KEY,\n  %s\n) DEFAULT CHARSET=utf8mb4"
               % cols, db="wt")
        for rid, vals in ROWS.items():
            names = ["id"] + list(vals)
            exprs = [str(rid)] + list(vals.values())
            db.sql("SET sql_mode = ''; SET time_zone = '+00:00'; SET max_statement_time = 0;"
                   "INSERT INTO types (%s) VALUES (%s)" % (", ".join(names), ", ".join(exprs)),
                   db="wt")
        after_insert = snapshot(db)
        for u in UPDATES:
            db.sql("SET time_zone = '+00:00'; " + u, db="wt")
        after_update = snapshot(db)
        db.sql("DELETE FROM types WHERE id IN (4, 5)", db="wt")
        # MINIMAL and NOBLOB images (session settings)
        db.sql("SET SESSION binlog_row_image = 'MINIMAL'; UPDATE types SET i = 77 WHERE id = 2;"
               "DELETE FROM types WHERE id = 1", db="wt")
        db.sql("SET SESSION binlog_row_image = 'NOBLOB'; UPDATE types SET siu = 9 WHERE id = 3",
               db="wt")
        db.flush_logs()

        status, ups, err = logcat(db.binlog_dir)
        rows = [u for u in ups if u["op"] != "ddl" and u.get("table") == "types"]
        ins = [u for u in rows if u["op"] == "insert"]
        upd = [u for u in rows if u["op"] == "update"]
        dels = [u for u in rows if u["op"] == "delete"]
        check(len(ins) == len(ROWS) and len(upd) == len(UPDATES) + 2 and len(dels) == 3,
              "decoded %d inserts, %d updates, %d deletes" % (len(ins), len(upd), len(dels)))
        for u in ins:
            rid = u["after"]["id"]
            compare_image("insert id %d" % rid, u["after"], after_insert[rid])
        for u in upd[:len(UPDATES)]:
            rid = u["after"]["id"]
            compare_image("update id %d before" % rid, u["before"], after_insert[rid])
            compare_image("update id %d after" % rid, u["after"], after_update[rid])
        for u in dels[:2]:
            rid = u["before"]["id"]
            compare_image("delete id %d" % rid, u["before"], after_update[rid])
        # MINIMAL: the before image is the primary key, the after image what changed
        if len(upd) >= len(UPDATES) + 2:
            m = upd[len(UPDATES)]
            check(m["before"] == {"id": 2} and m["after"] == {"i": 77},
                  "MINIMAL update: before %s after %s" % (m["before"], m["after"]))
            nb = upd[len(UPDATES) + 1]
            blobs = {"tt", "tx", "mt", "lt", "txl", "tb", "bl", "mb", "lb", "j"}   # not GEOMETRY
            check(not (blobs & set(nb["before"])) and not (blobs & set(nb["after"])),
                  "NOBLOB update carries blob columns: %s" % sorted(blobs & set(nb["before"])))
            check(nb["after"].get("siu") == 9 and nb["before"].get("siu") == 65535
                  and nb["before"].get("vc") is not None,
                  "NOBLOB update: %s" % {k: nb["after"].get(k) for k in ("siu", "vc")})
        if len(dels) == 3:
            check(dels[2]["before"] == {"id": 1}, "MINIMAL delete: %s" % dels[2]["before"])
        print("types: %d inserts, %d updates, %d deletes compared" % (len(ins), len(upd),
                                                                       len(dels)), flush=True)
        schema_fallback(db)
    return done("test_mysql_types")


def schema_fallback(db):
    """binlog_row_metadata=MINIMAL: names come from the server, and a table
    changed since the event was written is a clear error."""
    db.sql("SET GLOBAL binlog_row_metadata = 'MINIMAL'")
    db.flush_logs()
    files = db.binlog_files()
    first = files[-1].rsplit("/", 1)[1]
    db.sql("CREATE TABLE nm (a INT UNSIGNED PRIMARY KEY, b VARCHAR(10) CHARACTER SET latin1, "
           "c ENUM('p','q'));"
           "INSERT INTO nm VALUES (4294967295, 'caf\u00e9', 'q')", db="wt")
    base = ["--from", first + ":4/0"]
    status, ups, err = logcat(db.binlog_dir, *base, check_status=False)
    check(status == 1 and "carries no column names for `wt`.`nm`" in err,
          "no names and no server: status %d, %s" % (status, err.strip()))
    status, ups, err = logcat(db.binlog_dir, *base, "--option", "socket=" + db.socket,
                              "--option", "user=root")
    ins = [u for u in ups if u["op"] == "insert"]
    check(len(ins) == 1 and ins[0]["after"] == {"a": 4294967295, "b": "caf\u00e9", "c": "q"},
          "names from the server: %s" % (ins[0]["after"] if ins else ups))
    db.sql("ALTER TABLE nm ADD COLUMN d INT", db="wt")
    status, ups, err = logcat(db.binlog_dir, *base, "--option", "socket=" + db.socket,
                              check_status=False)
    check(status == 1 and "the row image of `wt`.`nm` has 3 columns but the server's table has 4"
          in err, "changed table: status %d, %s" % (status, err.strip()))
    db.sql("ALTER TABLE nm DROP COLUMN d, MODIFY c VARCHAR(5)", db="wt")
    status, ups, err = logcat(db.binlog_dir, *base, "--option", "socket=" + db.socket,
                              check_status=False)
    check(status == 1 and "column 3 of `wt`.`nm` is logged as ENUM but the server's column `c` "
          "is varchar" in err, "retyped column: status %d, %s" % (status, err.strip()))
    db.sql("SET GLOBAL binlog_row_metadata = 'FULL'")


if __name__ == "__main__":
    sys.exit(main())
