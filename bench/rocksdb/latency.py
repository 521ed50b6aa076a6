#!/usr/bin/env python3
"""latency.py -- how long a RocksDB write takes to come out of `wormhole-logcat --follow`.

usage: bench/rocksdb/latency.py WRITER LOGCAT [N]

WRITER is tests/harness/rocksdb_writer.c's binary, LOGCAT wormhole-logcat (from
the same build). The writer makes N single puts 50 ms apart and prints each
one's sequence number as soon as RocksDB's write returns; the time from that
line to logcat's line for the same sequence is the tailing latency (an upper
bound: it includes both pipes and the scheduler). Prints median, p90 and max.
"""
import shutil
import subprocess
import sys
import tempfile
import threading
import time

WRITER, LOGCAT = sys.argv[1], sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 100
d = tempfile.mkdtemp(prefix="wh-rdb-latency-")
db = d + "/db"
try:
    subprocess.run([WRITER, "--db", db], input="put default a b\n", capture_output=True,
                   text=True, check=True)
    lc = subprocess.Popen([LOGCAT, "--mapper", "rocksdb", "--db", db, "--follow", "--from", "2"],
                          stdout=subprocess.PIPE, text=True)
    got = {}

    def read_logcat():
        for line in lc.stdout:
            got[line.split('"physical":"')[1].split("/")[0]] = time.time()

    threading.Thread(target=read_logcat, daemon=True).start()
    time.sleep(0.5)
    w = subprocess.Popen([WRITER, "--db", db], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    w.stdin.write("".join("put default k%d v\nsleep 50\n" % i for i in range(N)))
    w.stdin.close()
    sent = {}
    for line in w.stdout:
        if '"seq"' in line:
            sent[line.split('"seq":')[1].split(",")[0]] = time.time()
    w.wait()
    time.sleep(0.5)
    lc.terminate()
    lc.wait()
    lat = sorted(max(0.0, got[k] - sent[k]) * 1000 for k in sent if k in got)
    if len(lat) != len(sent):
        print("only %d of %d writes came out" % (len(lat), len(sent)))
    print("tailing latency over %d writes: median %.2f ms, p90 %.2f ms, max %.2f ms"
          % (len(lat), lat[len(lat) // 2], lat[int(len(lat) * 0.9)], lat[-1]))
finally:
    shutil.rmtree(d, ignore_errors=True)
