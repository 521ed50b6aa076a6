#!/usr/bin/env python3
"""Benchmark of wormhole-cache: invalidations per second applied to memcached and to Redis.

Usage: python3 bench/apps/cache/run.py [--build DIR] [--rows N] [--cpu N]

Starts throwaway MariaDB, ZooKeeper, memcached and Redis (tests/harness),
writes a binlog of row changes into MariaDB (N inserts in transactions of
10,000 rows, then N/2 updates of which half move the row to another owner;
N = 500,000 by default: 750,000 row changes),
then starts one wormhole-publisher and, for each cache, a wormhole-cache
instance of a new app that catches up from the start of the binlog, pinned
to one core with taskset (the publisher and the cache server share the
other core). Its two rules delete t:{id} and owner:{owner} (an update that
moves a row invalidates both owners' keys). Printed per cache: row changes
applied per second and cache invalidations (deletes) applied and confirmed
per second, from the first applied batch to the last, the second deletes
(apply.second_delete_ms, 1 s after the first) done in the same time, and
the app's CPU use. The figures come from the app's status file (rewritten
every 20 ms).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import wh_harness as wh  # noqa: E402
import wh_caches as whc  # noqa: E402


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin(pid, cpu):
    subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(pid)], check=True,
                   stdout=subprocess.DEVNULL)


def write_binlog(db, rows):
    db.sql("CREATE DATABASE bench")
    db.sql("CREATE TABLE bench.t (id INT PRIMARY KEY, owner INT NOT NULL, v VARCHAR(32))")
    step = 10000
    for lo in range(1, rows + 1, step):
        hi = min(rows, lo + step - 1)
        db.sql("INSERT INTO bench.t SELECT seq, seq %% 5000, CONCAT('value-', seq) "
               "FROM seq_%d_to_%d" % (lo, hi), db="bench")
    half = rows // 2
    for lo in range(1, half + 1, step):
        hi = min(half, lo + step - 1)
        db.sql("UPDATE bench.t SET v = CONCAT(v, '+'), owner = IF(id %% 2, owner + 1, owner) "
               "WHERE id BETWEEN %d AND %d" % (lo, hi))
    return rows + half


def run_app(build, stack, zk, cache_name, cache_cfg, total, gtid, app_cpu):
    status = stack.path("status-%s.json" % cache_name)
    cfg = {"subscriber": {"zookeeper": zk.connect, "zk_root": "/bench",
                          "app": "bench_" + cache_name},
           "caches": [cache_cfg],
           "rules": [{"table": "bench.t", "keys": ["t:{id}", "owner:{owner}"]}],
           "stats": {"interval_ms": 0, "status_interval_ms": 20}}
    path = stack.path("cache-%s.json" % cache_name)
    with open(path, "w") as f:
        json.dump(cfg, f)
    log = open(stack.path("cache-%s.log" % cache_name), "w")
    p = subprocess.Popen(["taskset", "-c", str(app_cpu),
                          os.path.join(build, "apps", "cache", "wormhole-cache"),
                          "--config", path, "--status-file", status], stderr=log)
    t_first = applied_first = None
    cpu0 = None
    deadline = time.monotonic() + 600
    st = {}
    try:
        while time.monotonic() < deadline:
            time.sleep(0.005)
            try:
                with open(status) as f:
                    st = json.load(f)
            except (OSError, ValueError):
                continue
            applied = st.get("updates_applied", 0)
            if t_first is None and applied > 0:
                t_first, applied_first = time.monotonic(), applied
                ops_first = st["ops"]["delete"]
                second_first = st["ops"]["second_delete"]
                cpu0 = cpu_seconds(p.pid)
            sh = st.get("shards", {}).get("s1", {})
            if (sh.get("logical") or "").split("/")[0] == gtid and applied >= total and \
                    st.get("updates_queued") == 0:
                t_last = time.monotonic()
                cpu1 = cpu_seconds(p.pid)
                break
            if p.poll() is not None:
                raise SystemExit("wormhole-cache exited with status %d (log: %s)"
                                 % (p.returncode, log.name))
        else:
            raise SystemExit("wormhole-cache did not catch up within 600 s (log: %s)" % log.name)
    finally:
        p.terminate()
        p.wait(timeout=30)
    secs = t_last - t_first
    rows = st["updates_applied"] - applied_first
    dels = st["ops"]["delete"] - ops_first
    second = st["ops"]["second_delete"] - second_first
    print("%-9s %d row changes (%d in all) -> %d invalidations in %.2f s: %.0f row changes/s, "
          "%.0f invalidations/s confirmed (and %d second deletes in the same time); app CPU "
          "%.0f%% of one core (pinned to cpu %d)"
          % (cache_name + ":", rows, st["updates_applied"], dels, secs, rows / secs,
             dels / secs, second, 100 * (cpu1 - cpu0) / secs, app_cpu), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("WH_BUILD_ROOT",
                                                      os.path.join(ROOT, "build")))
    ap.add_argument("--rows", type=int, default=500000,
                    help="rows inserted; half as many updates follow (default 500000)")
    ap.add_argument("--cpu", type=int, default=1, help="the core wormhole-cache runs on")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    other = 0 if args.cpu != 0 else 1
    with wh.Stack() as stack:
        zk = stack.zookeeper()
        db = stack.mariadb(options={"innodb_buffer_pool_size": "256M",
                                    "max_binlog_size": "268435456"})
        mc = whc.memcached(stack)
        rd = whc.redis(stack)
        for srv in (mc, rd):
            pin(srv.pid, other)
        t0 = time.time()
        total = write_binlog(db, args.rows)
        gtid = db.gtid_binlog_pos()
        db.flush_logs()
        size = sum(os.path.getsize(f) for f in db.binlog_files() if os.path.exists(f))
        print("binlog: %d row changes (%d inserts, %d updates) in %.1f MB, written in %.1f s; "
              "%d cores" % (total, args.rows, args.rows // 2, size / 1e6, time.time() - t0,
                            os.cpu_count()), flush=True)
        cfg = {"shard": "s1", "mapper": {"name": "mysql",
                                         "options": {"binlog_dir": db.binlog_dir}},
               "zookeeper": {"connect": zk.connect, "root": "/bench"}}
        path = stack.path("pub.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        pub = subprocess.Popen(["taskset", "-c", str(other),
                                os.path.join(build, "publisher", "wormhole-publisher"),
                                "--config", path], stderr=open(stack.path("pub.log"), "w"))
        try:
            run_app(build, stack, zk, "memcached",
                    {"name": "mc", "type": "memcached", "servers": [mc.server]}, total, gtid,
                    args.cpu)
            run_app(build, stack, zk, "redis",
                    {"name": "r", "type": "redis", "servers": [rd.server]}, total, gtid,
                    args.cpu)
        finally:
            pub.terminate()
            pub.wait(timeout=30)


if __name__ == "__main__":
    main()
