"""Integration test: the harness's MariaDB primary and replica are real, configured as promised, and usable."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wh_harness as wh  # noqa: E402

from checks import check, done, eq  # noqa: E402,F401


def main():
    with wh.Stack() as st:
        db = st.mariadb()
        rep = st.replica(db)

        # Server settings the mappers rely on.
        got = db.sql("SELECT @@log_bin, @@binlog_format, @@binlog_row_metadata, @@binlog_row_image,"
                     " @@binlog_checksum, @@server_id, @@gtid_strict_mode, @@log_slave_updates,"
                     " @@bind_address, @@port, @@log_bin_basename")[0]
        want = ["1", "ROW", "FULL", "FULL", "CRC32", "1", "1", "1", "127.0.0.1", str(db.port),
                os.path.join(db.binlog_dir, "mysql-bin")]
        check(got == want, "primary settings: expected %r, got %r" % (want, got))
        check(rep.value("SELECT @@server_id") != "1", "replica has its own server_id")

        # A row written on the primary appears on the replica.
        db.sql("CREATE DATABASE h; CREATE TABLE h.t (id INT PRIMARY KEY, s TEXT, n INT)")
        db.sql("INSERT INTO h.t VALUES (1, 'one', NULL), (2, 'tab\\there\\nnewline \\\\ end', 7)")
        rep.wait_caught_up()
        rows = rep.sql("SELECT id, s, n FROM h.t ORDER BY id")
        want = [["1", "one", None], ["2", "tab\there\nnewline \\ end", "7"]]
        check(rows == want, "replica rows: expected %r, got %r" % (want, rows))
        check(rep.gtid_binlog_pos() == db.gtid_binlog_pos(),
              "replica logs the primary's GTIDs (%s vs %s)" % (rep.gtid_binlog_pos(),
                                                               db.gtid_binlog_pos()))

        # The binlog is where the env vars say, as files, listed in the index.
        files = db.binlog_files()
        check(len(files) >= 1 and all(os.path.isfile(f) for f in files),
              "primary binlog files exist: %r" % files)
        check(all(os.path.dirname(f) == db.binlog_dir for f in files),
              "primary binlog files live in %s: %r" % (db.binlog_dir, files))
        check(os.path.basename(files[-1]) ==
              db.sql("SHOW MASTER STATUS")[0][0], "index ends with the current binlog file")
        with open(files[-1], "rb") as f:
            check(f.read(4) == b"\xfebin", "binlog file starts with the binlog magic")
        rfiles = rep.binlog_files()
        check(len(rfiles) >= 2 and os.path.basename(rfiles[-1]).startswith("replica-bin."),
              "replica has its own, differently named binlog: %r" % rfiles)

        # flush_logs rotates; restart keeps data and port; kill is a crash.
        n = len(db.binlog_files())
        db.flush_logs()
        check(len(db.binlog_files()) == n + 1, "flush_logs opens a new binlog file")
        port = db.port
        pid = db.pid
        db.restart()
        check(db.port == port and db.pid != pid, "restart keeps the port, new process")
        check(db.value("SELECT COUNT(*) FROM h.t") == "2", "data survives a clean restart")
        db.sql("INSERT INTO h.t VALUES (3, 'three', 3)")
        rep.wait_caught_up()
        check(rep.value("SELECT s FROM h.t WHERE id = 3") == "three",
              "replica follows after the primary restarted")

        pid = db.pid
        db.kill()
        check(not wh.pid_alive(pid), "kill() leaves no mariadbd behind")
        db.start()
        check(db.value("SELECT COUNT(*) FROM h.t") == "3", "committed data survives a SIGKILL")

        # SQL errors are raised with the client's message.
        try:
            db.sql("SELECT * FROM h.no_such_table")
            check(False, "a bad statement raises SqlError")
        except wh.SqlError as e:
            check("no_such_table" in str(e), "SqlError names the problem: %s" % e)

        # Extra options reach the server.
        db2 = st.mariadb(options={"binlog_row_image": "MINIMAL", "max_binlog_size": "4096"})
        got = db2.sql("SELECT @@binlog_row_image, @@max_binlog_size")[0]
        check(got == ["MINIMAL", "4096"], "extra options applied: %r" % got)
        check(db2.port != db.port and db2.socket != db.socket, "servers do not share port/socket")

        pids = [s.pid for s in (db, rep, db2)]
        tmp = st.tmpdir
    check(all(not wh.pid_alive(p) for p in pids), "Stack teardown kills every server")
    check(not os.path.exists(tmp) or os.environ.get("WH_KEEP_TMP") == "1",
          "Stack teardown removes %s" % tmp)
    return done("harness_mariadb")


if __name__ == "__main__":
    sys.exit(main())
