"""Integration test: the harness's standalone ZooKeeper and 3-node ensemble serve znodes through the C client, also with one node down.

Usage: test_zookeeper.py PATH/TO/zk_check
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wh_harness as wh  # noqa: E402

from checks import check, done, eq  # noqa: E402,F401


def zk(connect, *args):
    """Run zk_check against `connect`; return True when it exits 0."""
    r = subprocess.run([ZK_CHECK, connect] + list(args), stdin=subprocess.DEVNULL,
                       timeout=wh.scaled(90))
    return r.returncode == 0


def main():
    global ZK_CHECK
    if len(sys.argv) != 2:
        print("usage: test_zookeeper.py ZK_CHECK", file=sys.stderr)
        return 2
    ZK_CHECK = sys.argv[1]
    with wh.Stack() as st:
        # Standalone.
        one = st.zookeeper()
        check(one.mode() == "standalone", "standalone mode, got %r" % one.mode())
        check(zk(one.connect, "absent", "/wh/harness/x"), "fresh server has no /wh/harness/x")
        check(zk(one.connect, "write", "/wh/harness/x", "hello"), "write+read on standalone")
        check(zk(one.connect, "read", "/wh/harness/x", "hello"), "read back on a new session")
        check(not zk(one.connect, "read", "/wh/harness/x", "other"), "a wrong value is reported")
        one.restart()
        check(zk(one.connect, "read", "/wh/harness/x", "hello"), "znode survives a restart")

        # Ensemble: write through every node, read through the others.
        ens = st.zk_ensemble(3)
        modes = sorted(n.mode() for n in ens.nodes)
        check(modes == ["follower", "follower", "leader"], "ensemble modes: %r" % modes)
        check(len(set(n.port for n in ens.nodes) | {one.port}) == 4, "distinct client ports")
        check(zk(ens.connect, "write", "/wh/ens/a", "v1"), "write on ensemble")
        for n in ens.nodes:
            check(zk(n.connect, "read", "/wh/ens/a", "v1"), "read back through %s" % n.name)

        # Stop the leader: the two others elect a new one and keep serving.
        lead = ens.leader()
        check(lead is not None, "ensemble has a leader")
        lead = 0 if lead is None else lead
        ens.stop_node(lead)
        rest = [n for i, n in enumerate(ens.nodes) if i != lead]
        for n in rest:
            n.wait_serving()
        conn = ",".join(n.connect for n in rest)
        check(zk(conn, "read", "/wh/ens/a", "v1"), "read after stopping the leader")
        check(zk(conn, "write", "/wh/ens/b", "v2"), "write after stopping the leader")

        # Kill a second node: no quorum, so a session cannot be had.
        other = next(i for i in range(3) if i != lead)
        ens.kill_node(other)
        last = next(i for i in range(3) if i not in (lead, other))
        deadline = time.monotonic() + wh.scaled(30)
        while ens.nodes[last].serving() and time.monotonic() < deadline:
            time.sleep(0.2)
        check(not ens.nodes[last].serving(), "one node of three stops serving")

        # Bring both back: the quorum returns with all data.
        ens.start_node(lead, wait=False)
        ens.start_node(other, wait=False)
        for n in ens.nodes:
            n.wait_serving()
        check(zk(ens.nodes[lead].connect, "read", "/wh/ens/b", "v2"),
              "restarted node has the write made while it was down")
        pids = [n.pid for n in ens.nodes] + [one.pid]
    check(all(not wh.pid_alive(p) for p in pids), "teardown kills every JVM")
    return done("harness_zookeeper")


if __name__ == "__main__":
    sys.exit(main())
