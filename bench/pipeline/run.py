#!/usr/bin/env python3
"""The real pipeline: MariaDB binlog -> wormhole-publisher -> one C subscriber, beside the
server's own dump protocol over the same log, in the same run.

Usage: python3 bench/pipeline/run.py [--build DIR] [--tables N] [--table-size N]
                                    [--write-seconds S] [--rounds N] [--regenerate]
                                    [--apps N] [--perf DIR] [--publisher-json JSON]

The first run writes a sysbench log (oltp_insert prepare: TABLES x TABLE_SIZE inserted
rows, default 4 x 300000; then oltp_write_only for WRITE_SECONDS, default 0) on a
MariaDB whose data directory is cached under BUILD/bench-pipeline (the harness starts it
on loopback; later runs start it again on the cached data). Each round then reads the
whole log, from the page cache, twice:
  dump       `mariadb-binlog --read-from-remote-server --raw --to-last-log` from the
             first file (the server's binlog dump protocol, files written to a temp dir)
  pipeline   a new app from its oldest position: the publisher's mysql mapper reads the
             binlog files, one subscriber (bench/e2e/e2e-sub, libwormhole with a counting
             callback) takes every update
and prints row changes/s and MB/s of binlog for both, and their ratio. With --apps N it
then reads the log for 1 app and for N apps at once (one reader) and prints the
publisher CPU each extra app costs per row change. The subscriber's
rate is from its first to its last callback; "wall" adds the start-up (publisher start,
ZooKeeper, connect, recording the app's start). CPU is user+system seconds.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import wh_harness as wh  # noqa: E402

DB_OPTIONS = {"max_binlog_size": "268435456", "innodb_buffer_pool_size": "256M",
              "innodb_log_file_size": "256M", "max_connections": "50"}


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def binlog_files(db):
    with open(db.binlog_index) as f:
        names = [os.path.basename(line.strip()) for line in f if line.strip()]
    return [os.path.join(db.binlog_dir, n) for n in names]


def start_db(stack, cache, args):
    """The cached MariaDB, started (and its log written first if the cache is not there or
    was made with other parameters)."""
    want = {"tables": args.tables, "table_size": args.table_size,
            "write_seconds": args.write_seconds}
    stamp = os.path.join(cache, "made.json")
    made = None
    if os.path.exists(stamp) and not args.regenerate:
        with open(stamp) as f:
            made = json.load(f)
    if made != want:
        shutil.rmtree(cache, ignore_errors=True)
    os.makedirs(cache, exist_ok=True)
    db = wh.MariaDB(os.path.join(cache, "db"), options=DB_OPTIONS, name="pipeline-db")
    stack.servers.append(db)   # stopped (not removed) with the stack
    db.start()
    if made == want:
        return db
    print("writing the log (once; cached in %s): sysbench oltp_insert prepare %d x %d rows%s"
          % (cache, args.tables, args.table_size,
             ", then oltp_write_only for %d s" % args.write_seconds if args.write_seconds
             else ""), flush=True)
    db.sql("CREATE DATABASE sbtest")
    sb = ["sysbench", None, "--db-driver=mysql", "--mysql-socket=" + db.socket,
          "--mysql-user=root", "--mysql-db=sbtest", "--tables=%d" % args.tables,
          "--table-size=%d" % args.table_size]
    subprocess.run([sb[0], "oltp_insert"] + sb[2:] + ["prepare"], check=True,
                   stdout=subprocess.DEVNULL)
    if args.write_seconds:
        subprocess.run([sb[0], "oltp_write_only"] + sb[2:] +
                       ["run", "--threads=2", "--time=%d" % args.write_seconds,
                        "--report-interval=0"], check=True, stdout=subprocess.DEVNULL)
    db.sql("FLUSH BINARY LOGS")
    with open(stamp, "w") as f:
        json.dump(want, f)
    return db


def count_log(build, db):
    """(row changes, updates) in the log, by the mapper alone (bench_binlog_decode)."""
    out = subprocess.run([os.path.join(build, "bench", "mysql", "bench_binlog_decode"),
                          db.binlog_dir], capture_output=True, text=True, check=True).stdout
    line = [ln for ln in out.splitlines() if ln.startswith("decode:")][0]
    words = line.split()
    return int(words[1]), int(words[4].lstrip("("))


def dump(db, files, rows, size, tmp):
    out = tempfile.mkdtemp(dir=tmp)
    c0, t0 = children_cpu(), time.time()
    subprocess.run(["mariadb-binlog", "--no-defaults", "--read-from-remote-server", "--raw",
                    "--to-last-log", "--host=127.0.0.1", "--port=%d" % db.port, "--user=root",
                    "--result-file=" + out + "/", os.path.basename(files[0])], check=True)
    wall, cpu = time.time() - t0, children_cpu() - c0
    got = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    shutil.rmtree(out)
    print("dump: mariadb-binlog --read-from-remote-server --raw: %.1f MB in %.2f s: %.2f M row "
          "changes/s, %.0f MB/s (client CPU %.2f s)"
          % (got / 1e6, wall, rows / wall / 1e6, size / wall / 1e6, cpu), flush=True)
    return rows / wall


def pipeline(build, stack, zk, db, rnd, rows, updates, size, extra, perf=None, napps=1):
    root = "/pipe%d" % rnd
    subs = []
    for i in range(napps):
        sub_log = open(stack.path("sub%d-%d.log" % (rnd, i)), "w")
        subs.append(subprocess.Popen([os.path.join(build, "bench", "e2e", "e2e-sub"), "--zk",
                                      zk.connect + root, "--app", "bench%02d" % i, "--count",
                                      str(updates), "--latency-column", ""],
                                     stdout=subprocess.PIPE, stderr=sub_log, text=True))
    time.sleep(0.5 + napps / 20)   # every instance registered before the publisher starts
    cfg = {"shard": "s1", "mapper": {"name": "mysql", "options": {"binlog_dir": db.binlog_dir}},
           "zookeeper": {"connect": zk.connect, "root": root}}
    cfg.update(extra)
    path = stack.path("pub%d.json" % rnd)
    with open(path, "w") as f:
        json.dump(cfg, f)
    # With --perf, perf runs the publisher (its threads come later than an attach would see).
    pub = subprocess.Popen((["perf", "record", "-g", "-o", os.path.join(perf, "pub%d.data" % rnd),
                             "--"] if perf else []) +
                           [os.path.join(build, "publisher", "wormhole-publisher"), "--config",
                            path], stderr=open(stack.path("pub%d.log" % rnd), "w"))
    c0, t0 = children_cpu(), time.time()
    perfs = [subprocess.Popen(["perf", "record", "-g", "-o", os.path.join(perf, "sub%d.data"
                                                                          % rnd),
                               "-p", str(subs[0].pid)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)] if perf else []
    try:
        outs = [s.communicate(timeout=900)[0] for s in subs]
        wall = time.time() - t0
        for p in perfs:
            p.send_signal(2)
            p.wait()
        sub_cpu = (children_cpu() - c0) / napps
        pub_cpu = proc_cpu(pub.pid)   # with --perf: perf's and the publisher's
    finally:
        pub.send_signal(2 if perf else 15)
        pub.wait(timeout=30)
    res = [json.loads(out.strip().splitlines()[-1]) for out in outs]
    secs = max(r["seconds"] for r in res)
    got = min(r["updates"] for r in res)
    rate = rows / secs if secs else 0
    print("pipeline: %s%d updates (%d row changes) delivered in %.2f s (wall %.2f s): %.2f M row "
          "changes/s, %.0f MB/s of binlog, %.1f MB on the wire; CPU publisher %.2f s, "
          "subscriber %.2f s (%.2f and %.2f us per row change)"
          % ("%d apps x " % napps if napps > 1 else "", got, rows, secs, wall, rate / 1e6,
             size / secs / 1e6 if secs else 0, res[0]["bytes"] / 1e6, pub_cpu, sub_cpu,
             pub_cpu * 1e6 / rows, sub_cpu * 1e6 / rows), flush=True)
    if got < updates:
        print("pipeline: INCOMPLETE: %d of %d updates" % (got, updates))
    return rate, pub_cpu * 1e6 / rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("WH_BUILD_ROOT",
                                                      os.path.join(ROOT, "build-release")))
    ap.add_argument("--tables", type=int, default=4)
    ap.add_argument("--table-size", type=int, default=300000)
    ap.add_argument("--write-seconds", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--apps", type=int, default=0,
                    help="also read the log for 1 and for this many apps at once and print "
                         "the publisher CPU each extra app costs per row change")
    ap.add_argument("--regenerate", action="store_true", help="write the log again")
    ap.add_argument("--perf", metavar="DIR",
                    help="record perf profiles of the publisher and the subscriber into DIR")
    ap.add_argument("--publisher-json", default="{}",
                    help="extra publisher configuration (JSON object), e.g. delivery options")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    cache = os.path.realpath(os.path.join(build, "bench-pipeline"))   # one path for the index
    with wh.Stack() as stack:
        db = start_db(stack, cache, args)
        zk = stack.zookeeper()
        files = binlog_files(db)
        size = sum(os.path.getsize(f) for f in files)
        rows, updates = count_log(build, db)
        for f in files:   # both read from the page cache
            with open(f, "rb") as fh:
                while fh.read(1 << 20):
                    pass
        print("log: %d files, %.1f MB, %d row changes (%d updates); load average %s"
              % (len(files), size / 1e6, rows, updates,
                 " ".join("%.2f" % x for x in os.getloadavg())), flush=True)
        best_dump = best_pipe = 0
        try:
            extra = json.loads(args.publisher_json)
            for rnd in range(args.rounds):
                best_dump = max(best_dump, dump(db, files, rows, size, stack.tmpdir))
                best_pipe = max(best_pipe, pipeline(build, stack, zk, db, rnd, rows, updates,
                                                    size, extra, args.perf)[0])
            if args.apps > 1:
                # One reader for all (a member the machine's load slows waits, not leaves).
                extra.setdefault("delivery", {})["caravan_wait_ms"] = 60000
                one = pipeline(build, stack, zk, db, 100, rows, updates, size, extra)[1]
                many = pipeline(build, stack, zk, db, 101, rows, updates, size, extra,
                                napps=args.apps)[1]
                print("pipeline: each extra app costs %.3f us of publisher CPU per row change "
                      "(%d apps against 1, one reader)" % ((many - one) / (args.apps - 1),
                                                           args.apps))
        finally:
            db.stop()   # cleanly: the cached data directory is used again
        print("pipeline/dump: best of %d: pipeline %.2f M row changes/s, dump %.2f M row "
              "changes/s: ratio %.2f (target: >= 2 M row changes/s delivered); load average %s"
              % (args.rounds, best_pipe / 1e6, best_dump / 1e6, best_pipe / best_dump,
                 " ".join("%.2f" % x for x in os.getloadavg())))


if __name__ == "__main__":
    main()
