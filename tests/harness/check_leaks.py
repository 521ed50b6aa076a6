"""Integration check run last: no harness-started server outlived its harness.

A server started by wh_harness (or wh_postgres) runs mariadbd, java or
postgres with a data directory under a temp dir named wh-*.  It is leaked
when its harness process is gone (it was re-parented) or its temp dir was
already removed.  Servers of other
harness runs that are still alive and owned are left alone, so this check is
safe while other people run tests on the same machine.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wh_harness as wh  # noqa: E402



def _stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()


def _cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]


def leaked():
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        try:
            argv = _cmdline(pid)
            st = _stat(pid)
        except OSError:
            continue
        if not argv or st[0] == "Z":
            continue
        prog = os.path.basename(argv[0])
        if prog == "mariadbd":
            dirs = [a.split("=", 1)[1] for a in argv if a.startswith("--datadir=")]
        elif prog == "java" and "org.apache.zookeeper.server.quorum.QuorumPeerMain" in argv:
            dirs = [argv[-1]]       # the generated zoo.cfg
        elif prog == "postgres" and "-D" in argv[:-1]:
            dirs = [argv[argv.index("-D") + 1]]
        elif prog in ("memcached", "redis-server"):   # wh_caches.py: -P PIDFILE, --dir DIR
            flag = "-P" if prog == "memcached" else "--dir"
            dirs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]
        else:
            continue
        if not dirs or "/wh-" not in dirs[0]:
            continue                # not started by the harness
        ppid = int(st[1])
        parent_ok = False
        try:
            pargv = _cmdline(ppid)
            parent_ok = ppid != 1 and any("python" in os.path.basename(a) for a in pargv[:1])
        except OSError:
            pass
        if not parent_ok or not os.path.exists(dirs[0]):
            out.append("%d %s (parent %d, dir %s)" % (pid, " ".join(argv[:3]), ppid, dirs[0]))
    return out


def main():
    bad = leaked()
    for line in bad:
        print("leaked server: " + line, file=sys.stderr)
    print("harness_no_leaks: %d passed, %d failed" % (0 if bad else 1, 1 if bad else 0))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
