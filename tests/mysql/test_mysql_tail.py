#!/usr/bin/env python3
"""Tailing and failures on a harness MariaDB.

Tailing: wormhole-logcat --follow delivers each committed row within
milliseconds, across FLUSH BINARY LOGS rotations (the latency is measured
and printed; only a generous bound is asserted).

Failures, as printed on wormhole-logcat's stderr: a flipped byte in a
finished binlog (CRC32 mismatch naming file and offset), a finished binlog
cut in the middle of an event (the transaction never committed: skipped with
a warning naming the next file, the next file follows), a
physical and a logical position whose binlog was purged."""

import os
import shutil
import subprocess
import sys
import threading
import time

from mysql_testlib import check, done, logcat, logcat_path, wh

ROWS = 60


def tail_test(db):
    db.sql("CREATE DATABASE tl; CREATE TABLE tl.t (id INT PRIMARY KEY, v VARCHAR(20))")
    argv = [logcat_path(), "--mapper", "mysql", "--binlog-dir", db.binlog_dir, "--follow",
            "--from", db.binlog_files()[-1].rsplit("/", 1)[1] + ":4/0"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = {}
    lock = threading.Lock()

    def reader():
        import json
        for line in p.stdout:
            u = json.loads(line)
            if u.get("table") == "t" and u["op"] == "insert":
                with lock:
                    seen[u["after"]["id"]] = time.monotonic()

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    # One client connection; "SELECT n" after each insert tells us it committed.
    c = subprocess.Popen(db._client_argv("tl") + ["--unbuffered"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    lat, ack = [], []
    bound = wh.scaled(5.0)
    try:
        time.sleep(0.5)
        for i in range(1, ROWS + 1):
            if i % 15 == 0:
                c.stdin.write(b"FLUSH BINARY LOGS;\n")
            t_send = time.monotonic()
            c.stdin.write(b"INSERT INTO t VALUES (%d, 'row %d'); SELECT %d;\n" % (i, i, i))
            c.stdin.flush()
            echo = c.stdout.readline()
            t_commit = time.monotonic()
            check(echo.strip() == str(i).encode(), "client echoed %r" % echo)
            deadline = t_commit + bound
            while time.monotonic() < deadline:
                with lock:
                    if i in seen:
                        break
                time.sleep(0.0005)
            with lock:
                got = seen.get(i)
            if not check(got is not None, "row %d not delivered within %.1f s" % (i, bound)):
                break
            lat.append(got - t_send)
            ack.append(got - t_commit)
            time.sleep(0.01)
    finally:
        c.stdin.close()
        c.wait(timeout=30)
        p.terminate()
        p.wait(timeout=30)
    check(p.returncode in (0, -15), "logcat --follow exited with %s: %s" % (
        p.returncode, p.stderr.read().decode()[:500]))
    if lat:
        lat.sort()
        ack.sort()
        print("tail latency over %d rows and %d rotations, from sending the INSERT to the "
              "update's arrival (includes the server's commit): median %.2f ms, p90 %.2f ms, "
              "max %.2f ms; from the client's commit acknowledgment: median %+.2f ms, max "
              "%+.2f ms" % (len(lat), ROWS // 15, 1000 * lat[len(lat) // 2],
                            1000 * lat[int(len(lat) * 0.9)], 1000 * lat[-1],
                            1000 * ack[len(ack) // 2], 1000 * ack[-1]), flush=True)
    check(len(lat) == ROWS, "%d of %d rows delivered" % (len(lat), ROWS))


def error_tests(db, tmp):
    db.sql("CREATE TABLE tl.e (id INT PRIMARY KEY, b BLOB)")
    for i in range(20):
        db.sql("INSERT INTO tl.e VALUES (%d, REPEAT('x', 2000))" % i)
    db.flush_logs()
    files = db.binlog_files()
    status, full, err = logcat(db.binlog_dir)
    first_file = files[0].rsplit("/", 1)[1]

    # A flipped byte inside an event of a finished file.
    d = os.path.join(tmp, "corrupt")
    shutil.copytree(db.binlog_dir, d)
    victim = files[-2].rsplit("/", 1)[1]   # finished, holds the inserts of e
    path = os.path.join(d, victim)
    data = bytearray(open(path, "rb").read())
    pos = data.find(b"x" * 100)
    data[pos + 50] ^= 0x01
    open(path, "wb").write(data)
    status, ups, err = logcat(d, check_status=False)
    check(status == 1 and ("wormhole-logcat: %s:" % victim) in err and
          "CRC32 checksum mismatch in a Write_rows_v1 event" in err,
          "flipped byte: status %d, %s" % (status, err.strip()))
    print("corrupt: %s" % err.strip(), flush=True)

    # The same file cut in the middle of that event, as a crash leaves it:
    # that transaction never committed; it is skipped with a warning and the
    # next file follows.
    shutil.rmtree(d)
    shutil.copytree(db.binlog_dir, d)
    path = os.path.join(d, victim)
    data = open(path, "rb").read()
    open(path, "wb").write(data[:pos + 50])
    status, ups, err = logcat(d, check_status=False)
    nxt = files[-1].rsplit("/", 1)[1]
    warn = [l for l in err.split("\n") if "never committed" in l]
    check(status == 0 and len(warn) == 1 and ("] %s:" % victim) in warn[0] and
          "the file ends inside it" in warn[0] and ("the binlog continues in %s" % nxt) in warn[0],
          "truncated: status %d, %s" % (status, err.strip()))
    cut_at = int(warn[0].split("] %s:" % victim, 1)[1].split(":", 1)[0]) if warn else 0
    want = [u["pos"] for u in full if not (u["pos"]["physical"].startswith(victim + ":") and
                                           int(u["pos"]["physical"].split(":")[1].split("/")[0])
                                           >= cut_at)]
    check([u["pos"] for u in ups] == want and len(want) < len(full),
          "truncated: the stream is the full one without the cut transaction and what followed "
          "it in %s (%d of %d updates)" % (victim, len(ups), len(full)))
    print("truncated: %s" % err.strip(), flush=True)

    # Purged positions, physical and logical. The resume point is a one-row
    # transaction in a file that stays: resuming after a GTID whose own
    # transaction was purged is rightly an error (its later rows are gone).
    db.flush_logs()
    keep = db.value("SHOW MASTER STATUS")
    db.sql("INSERT INTO tl.e VALUES (99, 'before purge')")
    gtid = db.value("SELECT @@gtid_binlog_pos")
    db.sql("INSERT INTO tl.e VALUES (100, 'after purge')")
    db.flush_logs()
    db.sql("PURGE BINARY LOGS TO '%s'" % keep)
    status, ups, err = logcat(db.binlog_dir, "--from", first_file + ":4/0", check_status=False)
    check(status == 1 and ("binlog %s has been purged" % first_file) in err,
          "purged physical: status %d, %s" % (status, err.strip()))
    print("purged: %s" % err.strip(), flush=True)
    status, ups, err = logcat(db.binlog_dir, "--from-logical", "0-1-1/0", check_status=False)
    check(status == 1 and "logical position 0-1-1/0 has been purged" in err,
          "purged logical: status %d, %s" % (status, err.strip()))
    print("purged: %s" % err.strip(), flush=True)
    status, ups, err = logcat(db.binlog_dir, "--from-logical", gtid + "/0", "--after")
    ins = [u for u in ups if u["op"] == "insert"]
    check(len(ins) == 1 and ins[0]["after"]["id"] == 100,
          "resume after %s: %s" % (gtid, [u["after"] for u in ins]))


def main():
    with wh.Stack() as st:
        db = st.mariadb()
        tail_test(db)
        error_tests(db, st.scratch_dir("copies"))
    return done("test_mysql_tail")


if __name__ == "__main__":
    sys.exit(main())
