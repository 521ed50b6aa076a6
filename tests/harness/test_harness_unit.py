"""Unit test (no servers): the harness's pure helpers - client output decoding, option handling, ports, timeouts."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import wh_harness as wh  # noqa: E402
import run  # noqa: E402

from checks import check, done, eq  # noqa: E402,F401


def main():
    u = wh._unescape_batch
    eq(u("plain"), "plain", "plain field")
    eq(u("NULL"), None, "NULL field")
    eq(u(""), "", "empty field")
    eq(u("a\\tb\\nc"), "a\tb\nc", "tab and newline escapes")
    eq(u("back\\\\slash"), "back\\slash", "backslash escape")
    eq(u("nul\\0x"), "nul\0x", "NUL escape")
    eq(u("\\\\t"), "\\t", "escaped backslash before t")
    eq(u("trail\\"), "trail\\", "lone trailing backslash kept")

    os.environ["WH_TIMEOUT_SCALE"] = "3"
    eq(wh.scaled(10), 30.0, "WH_TIMEOUT_SCALE=3")
    for bad in ("", "x", "-2", "0"):
        os.environ["WH_TIMEOUT_SCALE"] = bad
        eq(wh.timeout_scale(), 1.0, "WH_TIMEOUT_SCALE=%r falls back to 1" % bad)
    del os.environ["WH_TIMEOUT_SCALE"]

    ports = wh.free_ports(9)
    eq(len(set(ports)), 9, "free_ports gives distinct ports")
    check(all(1024 <= p <= 65535 for p in ports), "ports are unprivileged: %r" % ports)

    db = wh.MariaDB("/tmp/wh-x/m1", server_id=7,
                    options={"binlog-row-image": "MINIMAL", "max_binlog_size": "4096",
                             "skip_log_error": None})
    args = db._server_args()
    eq(args[0], "--no-defaults", "--no-defaults comes first")
    check("--binlog-row-image=MINIMAL" in args and "--binlog-row-image=FULL" not in args,
          "options override defaults: %r" % args)
    check("--max-binlog-size=4096" in args, "extra option passed")
    check("--skip-log-error" in args, "bare flag passed")
    check("--server-id=7" in args and "--bind-address=127.0.0.1" in args,
          "server id and loopback bind")
    check("--log-bin=/tmp/wh-x/m1/data/binlog/mysql-bin" in args, "binlog location")
    eq(db.env()["WH_MARIADB_BINLOG_INDEX"], "/tmp/wh-x/m1/data/binlog/mysql-bin.index",
       "binlog index env")
    try:
        wh.MariaDB("/tmp/" + "x" * 120)
        check(False, "an over-long socket path is refused")
    except wh.HarnessError:
        check(True, "")

    eq(run._parse_opts(["a=1", "b", "--c=x=y"], "--opt"), {"a": "1", "b": None, "c": "x=y"},
       "run.py option parsing")
    return done("harness_unit")


if __name__ == "__main__":
    sys.exit(main())
