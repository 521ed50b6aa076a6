#!/usr/bin/env python3
"""test_rocksdb_tail.py -- the rocksdb mapper against a real RocksDB writer process.

usage: test_rocksdb_tail.py WRITER LOGCAT [TEST...]

WRITER is the harness's RocksDB writer (tests/harness/rocksdb_writer.c), which
prints every operation with the sequence number RocksDB gave it; LOGCAT is
wormhole-logcat. Each test runs the writer on a scratch database and checks
that `wormhole-logcat --mapper rocksdb` delivers exactly the writer's
operations, in order: while tailing (across WAL rotation, memtable flushes,
recycled WALs and writer restarts, including a kill -9), from archived WALs,
and resumed from many positions. Randomised workloads print their seed; set
WH_RDB_SEED to replay one. Prints "N passed, N failed".
"""
import base64
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

WRITER, LOGCAT = sys.argv[1], sys.argv[2]
ONLY = set(sys.argv[3:])
SLOW = 3 if os.environ.get("ASAN_OPTIONS") else 1
SEED = int(os.environ.get("WH_RDB_SEED", str(random.randrange(1, 1 << 30))))
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAILED: " + what, file=sys.stderr)


def scratch():
    base = os.environ.get("WH_ROCKSDB_DIR") or os.environ.get("WH_TMPDIR") or None
    return tempfile.mkdtemp(prefix="wh-rdb-", dir=base)


def writer_args(db, opts):
    return [WRITER, "--db", db] + list(opts)


def run_writer(db, script, opts=()):
    """Runs the writer to completion; returns its operation records."""
    p = subprocess.run(writer_args(db, opts), input=script, capture_output=True, text=True,
                       timeout=120 * SLOW)
    if p.returncode != 0:
        raise RuntimeError("writer failed: " + p.stderr)
    return ops_of(p.stdout)


def ops_of(text):
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if "op" in r:
            second = r.get("value_hex", r.get("end_hex"))
            out.append((r["seq"] + r["index"], r["seq"], r["index"], r["op"], r["cf"],
                        bytes.fromhex(r["key_hex"]),
                        bytes.fromhex(second) if second is not None else None))
    return out


def updates_of(text):
    out = []
    for line in text.splitlines():
        u = json.loads(line)
        seq, idx = (int(x) for x in u["pos"]["physical"].split("/"))
        a = u["after"]
        second = a.get("value", a.get("end_key"))
        out.append((seq + idx, seq, idx, u["op"], u["cf"], base64.b64decode(a["key"]),
                    base64.b64decode(second) if second is not None else None))
        assert u["pos"]["logical"] == u["pos"]["physical"]
        assert u["txn"]["id"] == str(seq) and u["txn"]["index"] == idx
    return out


def logcat(db, *args):
    p = subprocess.run([LOGCAT, "--mapper", "rocksdb", "--db", db] + list(args),
                       capture_output=True, text=True, timeout=120 * SLOW)
    return p.returncode, p.stdout, p.stderr


class Follower:
    """wormhole-logcat --follow in the background, output to a file."""

    def __init__(self, db, *args):
        self.path = db + ".follow"
        self.out = open(self.path, "w")
        self.err = open(db + ".follow.err", "w")
        self.p = subprocess.Popen([LOGCAT, "--mapper", "rocksdb", "--db", db, "--follow",
                                   "--debug", "rocksdb"] + list(args),
                                  stdout=self.out, stderr=self.err)

    def lines(self):
        with open(self.path) as f:
            text = f.read()
        # Only whole lines: the last one may still be being written.
        return text[: text.rfind("\n") + 1]

    def wait_for(self, n, timeout):
        end = time.time() + timeout * SLOW
        while time.time() < end:
            if self.lines().count("\n") >= n or self.p.poll() is not None:
                break
            time.sleep(0.05)
        return self.lines()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.out.close()
        self.err.close()
        with open(self.err.name) as f:
            return self.p.returncode, f.read()


def compare(got, want, name):
    check(len(got) == len(want), "%s: %d updates, expected %d" % (name, len(got), len(want)))
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            check(False, "%s: update %d is %r, expected %r" % (name, i, g, w))
            return
    check(True, name)


def check_contiguous(ops, name):
    seqs = [o[0] for o in ops]
    check(seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True,
          name + ": writer's sequence numbers are contiguous")


SETUP = "create_cf alpha\ncreate_cf beta\ncreate_cf gamma\nput default hello world\n"


def workload(seed, rounds, per_round, maxbatch, extra="", cfs=("alpha", "beta", "gamma")):
    lines = []
    for r in range(rounds):
        lines.append("random %d %d %d" % (seed * 1000 + r, per_round, maxbatch))
        if r % 3 == 1:
            lines.append("flush")
        if r % 4 == 2:
            lines.append("batch begin\nput %s b%d x\ndelete_range %s a c\n"
                         "single_delete %s s%d\nmerge %s m%d y\nbatch commit"
                         % (cfs[0], r, cfs[1], cfs[2], r, cfs[1], r))
        if extra and r == rounds // 2:
            lines.append(extra)
        lines.append("sleep 20")
    return "\n".join(lines) + "\n"


def tail_test(name, writer_opts, extra="", rounds=16, per_round=600, min_files=4,
              setup=SETUP, cfs=("alpha", "beta", "gamma")):
    d = scratch()
    db = os.path.join(d, "db")
    try:
        want = run_writer(db, setup, writer_opts)
        f = Follower(db)
        time.sleep(0.2)
        want += run_writer(db, workload(SEED, rounds, per_round, 6, extra, cfs), writer_opts)
        check_contiguous(want, name)
        text = f.wait_for(len(want), 60)
        rc, err = f.stop()
        check(rc == 0, "%s: logcat --follow exit status %s: %s" % (name, rc, err[-2000:]))
        compare(updates_of(text), want, name)
        files = err.count("reading ")
        check(files >= min_files, "%s: logcat followed %d WAL files, expected at least %d"
              % (name, files, min_files))
        if "WARN" in err or "ERROR" in err:
            print("%s: logcat said: %s" % (name, err[-2000:]), file=sys.stderr)
        print("%s: %d updates over %d WAL files" % (name, len(want), files))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_tail_rotation():
    # Small memtables and WAL limit: many WAL switches, flushes, WAL deletions.
    tail_test("tail_rotation", ["--write-buffer-size", "65536", "--max-total-wal-size",
                                "262144"])


def test_tail_reopen():
    # The writer closes and reopens the database mid-stream (new WAL after recovery).
    tail_test("tail_reopen", ["--write-buffer-size", "131072"], extra="reopen\nreopen")


def test_tail_recycle():
    # Recycled WAL files: old records stay behind the new ones.
    # RocksDB 7 recycles only with WALRecoveryMode::kSkipAnyCorruptedRecords (3),
    # and 7.8.3 crashes in a flush (DBImpl::MarkLogsSynced) when it recycles
    # with several column families: the default family only.
    tail_test("tail_recycle", ["--write-buffer-size", "65536", "--recycle-log-file-num", "4",
                               "--wal-recovery-mode", "3"], rounds=8,
              setup="put default hello world\n", cfs=("default",) * 3)


def test_tail_archive():
    # WAL_ttl_seconds: finished WALs move to archive/ while being read.
    tail_test("tail_archive", ["--write-buffer-size", "65536", "--wal-ttl-seconds", "3600"],
              rounds=8)


def test_kill_restart():
    """kill -9 of the writer mid-stream, then a new writer recovers and goes on."""
    d = scratch()
    db = os.path.join(d, "db")
    name = "kill_restart"
    try:
        want = run_writer(db, SETUP)
        f = Follower(db)
        p = subprocess.Popen(writer_args(db, ["--write-buffer-size", "131072"]),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        p.stdin.write(workload(SEED + 1, 4, 300, 4) + "echo done\nsleep 600000\n")
        p.stdin.flush()
        out = []
        while True:
            line = p.stdout.readline()
            if not line or '"done"' in line:
                break
            out.append(line)
        p.kill()
        p.wait()
        p.stdin.close()
        p.stdout.close()
        want += ops_of("".join(out))
        want += run_writer(db, workload(SEED + 2, 4, 300, 4))
        check_contiguous(want, name)
        text = f.wait_for(len(want), 60)
        rc, err = f.stop()
        check(rc == 0, "%s: logcat exit status %s: %s" % (name, rc, err[-2000:]))
        compare(updates_of(text), want, name)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_resume():
    """Archived and live WALs, big multi-block records; resume from many positions."""
    d = scratch()
    db = os.path.join(d, "db")
    name = "resume"
    try:
        opts = ["--write-buffer-size", "65536", "--wal-ttl-seconds", "3600"]
        want = run_writer(db, SETUP + "put_big alpha big1 100000\n", opts)
        want += run_writer(db, workload(SEED + 3, 6, 300, 5, extra="put_big gamma big2 70000\n"
                                        "batch begin\nput_big beta big3 40000\nput alpha q r\n"
                                        "batch commit\nlog_data blob"), opts)
        check(os.path.isdir(os.path.join(db, "archive")) and
              any(n.endswith(".log") for n in os.listdir(os.path.join(db, "archive"))),
              name + ": the writer archived WAL files")
        rc, out, err = logcat(db)
        check(rc == 0, "%s: logcat exit %d: %s" % (name, rc, err))
        compare(updates_of(out), want, name + " (full read)")
        rng = random.Random(SEED)
        picks = sorted(set([0, len(want) - 1] + [rng.randrange(len(want)) for _ in range(12)]))
        for k in picks:
            opseq, seq, idx = want[k][0], want[k][1], want[k][2]
            rc, out, err = logcat(db, "--from", "%d/%d" % (seq, idx))
            compare(updates_of(out), want[k:], "%s from %d/%d" % (name, seq, idx))
            rc, out, err = logcat(db, "--from", "%d/%d" % (seq, idx), "--after")
            compare(updates_of(out), want[k + 1:], "%s after %d/%d" % (name, seq, idx))
            # An operation's own sequence number names it too.
            rc, out, err = logcat(db, "--from", str(opseq), "--max", "5")
            compare(updates_of(out), want[k:k + 5], "%s from op seq %d" % (name, opseq))
        rc, out, err = logcat(db, "--from", str(want[-1][0] + 1))
        check(rc == 0 and out == "", "%s: from the next sequence reads nothing" % name)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_errors():
    d = scratch()
    db = os.path.join(d, "db")
    try:
        run_writer(db, SETUP + "random 5 200 3\nflush\nreopen\nput alpha x y\nflush\nreopen\n"
                   "put alpha z w\n")
        rc, out, err = logcat(db, "--from", "1/0")
        check(rc == 1 and "no longer in the WAL" in err and "WAL_ttl_seconds" in err,
              "purged: exit %d, stderr %r" % (rc, err))
        rc, out, err = logcat(os.path.join(d, "missing"))
        check(rc == 1 and "missing" in err, "missing db: %r" % err)
        os.mkdir(os.path.join(d, "empty"))
        rc, out, err = logcat(os.path.join(d, "empty"))
        check(rc == 1 and "not a RocksDB database" in err, "not a db: %r" % err)
        rc, out, err = logcat(db, "--from", "12x")
        check(rc == 1 and 'physical position "12x": at offset 2: SEQ must be decimal digits'
              in err, "bad position: %r" % err)
        # A flipped byte in a record that other records follow: an error naming
        # the WAL file and the record's offset, whatever the writer does next.
        d2 = os.path.join(d, "db2")
        want = run_writer(d2, "create_cf alpha\nput alpha c1 v1\nput alpha c2 v2\n"
                          "put alpha c3 v3\n", ["--wal-ttl-seconds", "3600"])
        logs = sorted(n for n in os.listdir(d2) if n.endswith(".log"))
        live = os.path.join(d2, logs[-1])
        data = bytearray(open(live, "rb").read())
        at = data.find(b"c2")
        data[at] ^= 0x20
        open(live, "wb").write(bytes(data))
        rc, out, err = logcat(d2)
        check(rc == 1 and "checksum" in err and logs[-1] in err and "offset" in err,
              "corrupt WAL: exit %d, %r" % (rc, err))
        check(len(updates_of(out)) == 1, "corrupt WAL: the record before it is delivered")
        # A torn last record (the writer died mid-write): never delivered; once
        # the writer recovers (and drops it too) reading goes on without a gap.
        d3 = os.path.join(d, "db3")
        want = run_writer(d3, "create_cf alpha\nput alpha t1 v1\nput alpha t2 v2\n",
                          ["--wal-ttl-seconds", "3600"])
        logs = sorted(n for n in os.listdir(d3) if n.endswith(".log"))
        live = os.path.join(d3, logs[-1])
        os.truncate(live, os.path.getsize(live) - 2)
        rc, out, err = logcat(d3)
        compare(updates_of(out), want[:1], "torn tail, writer down")
        want = want[:1] + run_writer(d3, "put alpha t3 v3\n", ["--wal-ttl-seconds", "3600"])
        rc, out, err = logcat(d3)
        compare(updates_of(out), want, "torn tail, writer recovered")
        check(rc == 0 and "torn record" in err, "torn tail: exit %d, %r" % (rc, err))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    print("seed %d (replay with WH_RDB_SEED=%d)" % (SEED, SEED))
    tests = [test_resume, test_errors, test_tail_rotation, test_tail_reopen, test_tail_archive,
             test_tail_recycle, test_kill_restart]
    for t in tests:
        if ONLY and t.__name__ not in ONLY:
            continue
        t0 = time.time()
        before = failed
        try:
            t()
        except Exception as e:  # a crash of the test itself is a failure
            check(False, "%s raised %r" % (t.__name__, e))
        print("%s: %s in %.1fs" % (t.__name__, "ok" if failed == before else "FAILED",
                                   time.time() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
