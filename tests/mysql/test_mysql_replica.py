#!/usr/bin/env python3
"""Logical positions work on any replica: updates are written on a harness
MariaDB primary (two GTID domains, multi-row transactions, rotations on the
primary only) and replicated to a harness replica whose binlog files and
offsets differ. For GTIDs taken from the primary's decoded stream,
seek_logical on the replica's binlog dir must resume at the same update
(inclusive and exclusive), and a multi-domain position must resume after
every listed GTID."""

import sys

from mysql_testlib import check, done, logcat, wh


def strip(u):
    """What must agree between servers: everything but physical positions."""
    return {k: v for k, v in u.items() if k not in ("pos", "ts")} | {
        "logical": u["pos"]["logical"]}


def main():
    with wh.Stack() as st:
        prim = st.mariadb()
        prim.sql("CREATE DATABASE rp; CREATE TABLE rp.t (id INT PRIMARY KEY, v VARCHAR(30), "
                 "n BIGINT UNSIGNED)")
        rep = st.replica(prim)
        for k in range(30):
            dom = 1 if k % 3 == 0 else 0
            rows = ", ".join("(%d, 'v%d-%d', %d)" % (k * 10 + i, k, i, 2**63 + k) for i in range(4))
            prim.sql("SET gtid_domain_id = %d; BEGIN; INSERT INTO rp.t VALUES %s; "
                     "UPDATE rp.t SET v = CONCAT(v, '!') WHERE id = %d; COMMIT"
                     % (dom, rows, k * 10))
            if k % 10 == 9:
                prim.flush_logs()
        rep.wait_caught_up(prim)
        rep.flush_logs()

        _, pups, _ = logcat(prim.binlog_dir)
        _, rups, _ = logcat(rep.binlog_dir)
        pups = [u for u in pups if u.get("db") == "rp" and u["op"] != "ddl"]
        rups = [u for u in rups if u.get("db") == "rp" and u["op"] != "ddl"]
        check(len(pups) == 150, "primary: %d updates" % len(pups))
        check(sorted(map(str, map(strip, pups))) == sorted(map(str, map(strip, rups))),
              "the replica's stream differs from the primary's")
        same_phys = sum(1 for a, b in zip(pups, rups)
                        if a["pos"]["physical"] == b["pos"]["physical"])
        check(same_phys < len(pups), "the replica's physical positions equal the primary's")
        print("primary %s..., replica %s... (%d of %d physical positions coincide)" % (
            pups[0]["pos"]["physical"], rups[0]["pos"]["physical"], same_phys, len(pups)),
            flush=True)

        tried = 0
        for k in (0, 7, 33, 76, 101, 149):
            u = pups[k]
            pos = u["pos"]["logical"]
            for after in (False, True):
                args = ["--from-logical", pos, "--max", "1"] + (["--after"] if after else [])
                _, got, err = logcat(rep.binlog_dir, *args)
                # the primary's next update in the replica's order
                idx = next(i for i, r in enumerate(rups)
                           if r["pos"]["logical"] == pos)
                want = rups[idx + 1] if after and idx + 1 < len(rups) else rups[idx]
                if after and idx + 1 >= len(rups):
                    check(not got, "after the last update: %s" % got)
                    continue
                check(len(got) == 1 and strip(got[0]) == strip(want),
                      "%s %s on the replica: got %s, want %s" % (
                          "after" if after else "at", pos, got[:1], strip(want)))
                if not after:
                    check(strip(got[0]) == strip(u), "at %s: the replica gives %s, the primary "
                          "%s" % (pos, strip(got[0]), strip(u)))
                tried += 1
        # Multi-domain: resume after 0-1-x and 1-1-y together.
        last0 = [u for u in pups if u["pos"]["logical"].startswith("0-")][40]
        last1 = [u for u in pups if u["pos"]["logical"].startswith("1-")][9]
        g0 = last0["txn"]["id"]
        g1 = last1["txn"]["id"]
        pos = "%s,%s/%d" % (g0, g1, last0["txn"]["index"])
        _, got, err = logcat(rep.binlog_dir, "--from-logical", pos, "--after")
        got = [u for u in got if u.get("db") == "rp"]

        def seq(g):
            return int(g.split("-")[2])
        want = [u for u in pups
                if (u["txn"]["id"].startswith("0-") and
                    (seq(u["txn"]["id"]) > seq(g0) or
                     (u["txn"]["id"] == g0 and u["txn"]["index"] > last0["txn"]["index"]))) or
                (u["txn"]["id"].startswith("1-") and seq(u["txn"]["id"]) > seq(g1))]
        check(sorted(map(str, map(strip, got))) == sorted(map(str, map(strip, want))),
              "multi-domain %s: %d updates, expected %d" % (pos, len(got), len(want)))
        print("%d single-GTID resumes and one two-domain resume (%s, %d updates) match" % (
            tried, pos, len(got)), flush=True)
    return done("test_mysql_replica")


if __name__ == "__main__":
    sys.exit(main())
