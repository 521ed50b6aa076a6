"""Integration test: the harness's PostgreSQL (wh_postgres.py) is real, private, usable, and torn down."""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wh_harness as wh  # noqa: E402
import wh_postgres  # noqa: E402

from checks import check, done, eq  # noqa: E402


def main():
    st = wh.Stack()
    pg = wh_postgres.postgres(st)
    pid, tmp = pg.pid, st.tmpdir
    check(pid is not None and wh.pid_alive(pid), "postgres runs (pid %s)" % pid)
    eq(pg.sql("SHOW listen_addresses"), [["127.0.0.1"]], "listens on loopback only")
    eq(pg.value("SHOW port"), str(pg.port), "listens on the port picked at run time")
    eq(pg.value("SHOW data_directory"), pg.datadir, "data directory under the stack's temp dir")
    check(pg.datadir.startswith(tmp), "data directory %s is in %s" % (pg.datadir, tmp))
    with socket.create_connection(("127.0.0.1", pg.port), timeout=5):
        pass
    check(True, "TCP connections to 127.0.0.1:%d are accepted" % pg.port)
    eq(pg.value("SHOW server_encoding"), "UTF8", "server encoding")

    # Values with tabs, newlines and NULLs come back unchanged.
    pg.sql("CREATE TABLE t (id int PRIMARY KEY, s text)")
    pg.sql("INSERT INTO t VALUES (1, E'tab\\there\\nnewline'), (2, NULL), (3, '')")
    eq(pg.sql("SELECT id, s FROM t ORDER BY id"),
       [["1", "tab\there\nnewline"], ["2", None], ["3", ""]], "rows round-trip through psql")
    try:
        pg.sql("SELECT * FROM missing_table")
        check(False, "a bad statement raises SqlError")
    except wh.SqlError as e:
        check("missing_table" in str(e), "a bad statement raises SqlError naming it")

    # A crash keeps committed data; the server comes back on the same port.
    port = pg.port
    pg.kill()
    check(not wh.pid_alive(pid), "kill() stops the server at once")
    pg.start()
    eq(pg.port, port, "restarted on the same port")
    eq(pg.value("SELECT count(*) FROM t"), "3", "committed rows survive a kill -9")
    conn = pg.create_database("idx")
    check("dbname=idx" in conn and pg.sql("SELECT 1", db="idx") == [["1"]],
          "create_database returns a usable conninfo (%s)" % conn)

    # Teardown kills the server and removes its directory.
    pid = pg.pid
    st.teardown()
    check(not wh.pid_alive(pid), "teardown killed postgres")
    check(not os.path.exists(tmp), "teardown removed %s" % tmp)
    return done("harness_postgres")


if __name__ == "__main__":
    sys.exit(main())
