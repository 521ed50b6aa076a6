#!/usr/bin/env python3
"""Integration tests of the bounds: no poison pills, every buffer bounded (docs/PROTOCOL.md, "Limits").

Usage: python3 tests/publisher/test_bounds.py SCENARIO [--source synthetic|mariadb]

Scenarios (each starts its own throwaway servers through tests/harness):
  pending      a flood of connections that never say HELLO at a wormhole-tail that a real
               publisher delivers to: eight at a time each sending one incomplete 60 MiB
               frame, and 200 idle ones held open (reopened as they are dropped); the
               subscriber's memory stays within the documented caps (VmHWM), the publisher
               keeps delivering meanwhile, every update arrives, and the drops are logged
               once per burst
  big_filter   an instance with a filter of 64 KiB of text registers and gets exactly its
               updates; one whose instance node would exceed the limit refuses to start
               with a message naming the limit
  big_row      MariaDB with max_allowed_packet=256M: a 70 MiB LONGBLOB row reaches a
               subscriber intact (SHA-256 compared) in UPDATES_PART frames, and the rows
               after it too; an app whose max_update_bytes is 16 MiB gets the rows before
               it, then its flow stops with the reason (naming the position) in the
               publisher's log, while the other app keeps receiving
  pub_inbuf    a fake instance that answers HELLO, then streams valid 60 KB heartbeats in
               7001-byte writes (so a frame is nearly always pending) and never acknowledges:
               the publisher's memory stays bounded while another app gets everything

Prints what it checks; exits 0 on success, 1 on a failed check, 77 (skip) if a source or
a binary is not available.
"""
import base64
import hashlib
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_delivery as td  # noqa: E402  (Env, checks, the harness)
from test_delivery import Failed, check, log, wait_until, read_lines, count_lines  # noqa: E402

wh = td.wh
MiB = 1 << 20


def proc_status(pid, field):
    """A /proc/PID/status field in MiB (VmRSS, VmHWM)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 & -(crc & 1))
    return crc ^ 0xffffffff


def frame(ftype, payload):
    """One frame of docs/PROTOCOL.md."""
    head = struct.pack(">IB", len(payload) + 1, ftype)
    return head + payload + struct.pack(">I", crc32c(head + payload))


def mp_map(d):
    """A MessagePack map of small unsigned keys to unsigned ints or short strings."""
    out = bytes([0x80 | len(d)])
    for k, v in d.items():
        out += bytes([k])
        if isinstance(v, int):
            out += b"\xcf" + struct.pack(">Q", v)
        else:
            b = v.encode()
            out += bytes([0xd9, len(b)]) + b
    return out


def tail_env():
    """wormhole-tail's environment: a sanitizer build keeps freed memory in a quarantine
    (256 MiB by default) that would count as the process's memory; make it small."""
    env = dict(os.environ)
    asan = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + \
        "quarantine_size_mb=4:thread_local_quarantine_size_kb=256:malloc_context_size=5"
    return env


def start_tail(env, app, extra=(), wait=True):
    env.n += 1
    out = env.stack.path("tail%d.jsonl" % env.n)
    args = [td.TAIL, "--zk", env.zk.connect + env.root, "--app", app,
            "--session-timeout", "2000"] + list(extra)
    logf = open(env.stack.path("tail%d.log" % env.n), "w")
    p = subprocess.Popen(args, stdout=open(out, "w"), stderr=logf, env=tail_env())
    p.out = out
    p.logpath = logf.name
    env.procs.append(p)
    if wait:
        env.wait_registered(p)
    return p


def endpoint_of(p):
    """host, port the instance listens on (from its log)."""
    with open(p.logpath) as f:
        for line in f:
            if " listening on " in line:
                hp = line.rsplit(" listening on ", 1)[1].strip()
                host, port = hp.rsplit(":", 1)
                return host, int(port)
    raise Failed("no endpoint in %s" % p.logpath)


# ---- pending: connections that never say HELLO ------------------------------------------

class Flood:
    """Eight senders of incomplete 60 MiB frames and 200 idle connections, until stop."""

    def __init__(self, host, port, senders=8, idle=200):
        self.addr = (host, port)
        self.stop = threading.Event()
        self.sent = 0          # bytes the senders got into the socket
        self.big = 0           # incomplete frames started
        self.reopened = 0      # idle connections opened (again)
        self.threads = [threading.Thread(target=self.sender, daemon=True)
                        for _ in range(senders)]
        self.threads.append(threading.Thread(target=self.idler, args=(idle,), daemon=True))

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def sender(self):
        chunk = os.urandom(MiB)
        while not self.stop.is_set():
            try:
                s = socket.create_connection(self.addr, timeout=5)
            except OSError:
                time.sleep(0.05)
                continue
            s.settimeout(2)
            self.big += 1
            try:
                # A frame of type UPDATES announcing 60 MiB, of which 60 MiB - 1 come.
                s.sendall(struct.pack(">IB", 60 * MiB, 4))
                left = 60 * MiB - 2
                while left > 0 and not self.stop.is_set():
                    n = min(left, len(chunk))
                    s.sendall(chunk[:n])
                    self.sent += n
                    left -= n
                time.sleep(0.2)
            except OSError:
                pass
            finally:
                s.close()

    def idler(self, n):
        socks = []
        while not self.stop.is_set():
            live = []
            for s in socks:
                try:
                    if s.recv(1, socket.MSG_DONTWAIT) == b"":
                        s.close()          # dropped by the subscriber
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    continue
                live.append(s)
            socks = live
            while len(socks) < n and not self.stop.is_set():
                try:
                    socks.append(socket.create_connection(self.addr, timeout=5))
                    self.reopened += 1
                except OSError:
                    break
            time.sleep(0.2)
        for s in socks:
            s.close()


def sc_pending(env):
    t = start_tail(env, "app_a")
    host, port = endpoint_of(t)
    rate, n = 4000, 120000
    p = env.publisher({"updates": n, "rate": rate})
    wait_until(lambda: count_lines(t.out) >= 2 * rate, 60, "the first updates")
    time.sleep(1)
    base_rss, base_hwm = proc_status(t.pid, "VmRSS"), proc_status(t.pid, "VmHWM")
    log("wormhole-tail before the flood: VmRSS %.1f MiB, VmHWM %.1f MiB" % (base_rss, base_hwm))
    flood = Flood(host, port)
    flood.start()
    peak, t0 = base_rss, time.time()
    got0 = count_lines(t.out)
    while time.time() - t0 < 15:
        peak = max(peak, proc_status(t.pid, "VmRSS"))
        time.sleep(0.1)
    got1 = count_lines(t.out)
    flood.finish()
    hwm = proc_status(t.pid, "VmHWM")
    log("flood: %d incomplete 60 MiB frames started (%.0f MiB sent into sockets), %d idle "
        "connections opened" % (flood.big, flood.sent / MiB, flood.reopened))
    log("wormhole-tail during the flood: peak VmRSS %.1f MiB, VmHWM %.1f MiB" % (peak, hwm))
    check(flood.big >= 8 and flood.reopened >= 200,
          "the flood ran: %d large incomplete frames, %d idle connections"
          % (flood.big, flood.reopened))
    # Documented caps: 64 pending connections x 64 KiB, plus the publisher's connection
    # (its frames are at most 1 MiB here, its update bound is not used); 12 MiB of slack
    # for the allocator and the sanitizer's bookkeeping.
    cap = base_hwm + 64 * 64 / 1024.0 + 2 + 12
    check(hwm <= cap, "the subscriber's memory stayed within the caps: VmHWM %.1f MiB <= "
          "%.1f MiB (before the flood %.1f MiB)" % (hwm, cap, base_hwm))
    check(got1 - got0 >= rate * 15 / 3,
          "the publisher kept delivering during the flood (%d updates in 15 s at %d/s)"
          % (got1 - got0, rate))
    wait_until(lambda: td.distinct([t.out], n) >= n, 90, "all %d updates" % n)
    td.check_stream(read_lines(t.out), td.synth_keys(n), "app_a under the flood")
    check(p.poll() is None and t.poll() is None, "publisher and subscriber still run")

    def summary():
        with open(t.logpath) as f:
            return [line for line in f if "before their HELLO in the last burst" in line]
    wait_until(lambda: summary(), 30, "the burst's summary line")
    with open(t.logpath) as f:
        text = f.read()
    firsts = [line for line in text.splitlines() if "dropping connection from" in line and
              "before its HELLO" in line]
    log(firsts[0][24:] if firsts else "(no first line)")
    log(summary()[0].strip()[24:])
    check(len(firsts) == 1, "the drops were logged once for the burst (%d first lines, %d "
          "lines in the log)" % (len(firsts), text.count("\n")))
    check("allowed before one" in summary()[0] and "said no HELLO within 5000 ms" in summary()[0],
          "the summary counts the drops by reason")
    check(text.count("delivers shard s1") == 1, "the publisher's connection was never dropped")


# ---- big_filter: instance node sizes -----------------------------------------------------

def filter_text(size, unit, sep=" or "):
    parts, n = [], 0
    while n + len(unit) + len(sep) <= size:
        parts.append(unit)
        n += len(unit) + len(sep)
    return sep.join(parts)


def sc_big_filter(env):
    # 64 KiB of filter text: k in (...) lists of the synthetic updates' k values
    # (k = id % 1000), most of them never matching.
    ks = [1, 2, 3]
    units = ["k in (%s)" % ", ".join(str(k) for k in ks)]
    junk = 0
    while sum(len(u) + 4 for u in units) < 65536 - 64:
        junk += 1
        units.append('name = "never-%06d"' % junk)
    text = " or ".join(units)
    check(65536 - 128 <= len(text) <= 65536, "a filter of %d bytes of text" % len(text))
    t = start_tail(env, "app_f", ["--filter", text])
    n = 20000
    p = env.publisher({"updates": n, "rate": 20000})
    want = [("", i, 0) for i in range(1, n + 1) if i % 1000 in ks]
    wait_until(lambda: td.distinct([t.out], len(want)) >= len(want), 60,
               "the filtered updates")
    time.sleep(1)
    td.check_stream(read_lines(t.out), want, "the app with a 64 KiB filter")
    with open(p.logpath) as f:
        check("ignoring instance" not in f.read(), "the publisher read the instance node")

    # A filter whose node would exceed 512 KiB: 640 KiB of text in legal pieces (from a
    # file: a command-line argument takes at most 128 KiB).
    path = env.stack.path("huge.filter")
    with open(path, "w") as f:
        f.write(filter_text(640 * 1024, 'name in ("%s")' % ("x" * 60)))
    args = [td.TAIL, "--zk", env.zk.connect + env.root, "--app", "app_huge",
            "--filter-file", path]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    msg = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    log(msg[:300])
    check(r.returncode == 1 and "cannot register instance" in msg and
          "more than the limit of 524287" in msg and "docs/ZOOKEEPER.md" in msg,
          "an instance whose node would be too large refuses to start, saying why")
    rc = subprocess.run([td.ZK_CHECK, env.zk.connect, "absent", env.root + "/apps/app_huge"],
                        capture_output=True, text=True)
    check(rc.returncode == 0, "it registered nothing in ZooKeeper (%s)" % rc.stdout.strip())


# ---- big_row: an update larger than a frame ------------------------------------------------

def insert_blob(db, table, key, data):
    """INSERT of a LONGBLOB of data (bytes) through the mariadb client, with a packet limit
    large enough for it."""
    stmt = ("INSERT INTO app.%s (id, body) VALUES (%d, x'%s')" % (table, key, data.hex()))
    argv = db._client_argv() + ["--max-allowed-packet=512M"]
    r = subprocess.run(argv, input=stmt.encode(), capture_output=True,
                       timeout=wh.scaled(300))
    if r.returncode != 0:
        raise Failed("INSERT of %d bytes failed: %s" % (len(data), r.stderr.decode()[-500:]))


def sc_big_row(env):
    if env.source != "mariadb":
        raise td.Skip()
    db = env.db
    db.sql("CREATE TABLE app.blobs (id INT PRIMARY KEY, body LONGBLOB)")
    only = ["--filter", 'table = "blobs" and op = "insert"']
    big_app = start_tail(env, "app_big", only)
    small_port = wh.free_port()
    fixed = ["--instance", "small-1", "--listen", "127.0.0.1:%d" % small_port]
    small_app = start_tail(env, "app_small", only + fixed + ["--max-update-bytes", str(16 * MiB)])
    status = env.stack.path("pub.status")
    os.environ["WORMHOLE_STATUS_FILE"] = status          # as the monitor would set it
    os.environ["WORMHOLE_STATUS_INTERVAL_MS"] = "200"
    try:
        p = env.publisher()
    finally:
        del os.environ["WORMHOLE_STATUS_FILE"], os.environ["WORMHOLE_STATUS_INTERVAL_MS"]
    rng = random.Random(int(os.environ.get("WH_SEED", "7")))
    small = [bytes(rng.getrandbits(8) for _ in range(1000)) for _ in range(5)]
    for i, b in enumerate(small):
        insert_blob(db, "blobs", i + 1, b)
    wait_until(lambda: count_lines(small_app.out) >= 5, 60, "the small rows in app_small")
    big = os.urandom(70 * MiB)
    want_hash = hashlib.sha256(big).hexdigest()
    t0 = time.time()
    insert_blob(db, "blobs", 100, big)
    after = [bytes(rng.getrandbits(8) for _ in range(500)) for _ in range(5)]
    for i, b in enumerate(after):
        insert_blob(db, "blobs", 200 + i, b)

    def big_arrived():
        return count_lines(big_app.out) >= 11
    wait_until(big_arrived, 240, "the 70 MiB row and the rows after it in app_big")
    log("the 70 MiB row and 5 more arrived %.1f s after the INSERT" % (time.time() - t0))
    rows = read_lines(big_app.out)
    got = {u["after"]["id"]: u["after"]["body"] for u in rows}
    check(sorted(got) == [1, 2, 3, 4, 5, 100, 200, 201, 202, 203, 204],
          "app_big got every row, in order")
    raw = base64.b64decode(got[100])   # bytes are base64 in update JSON (docs/UPDATES.md)
    check(len(raw) == len(big) and
          hashlib.sha256(raw).hexdigest() == want_hash,
          "the 70 MiB row arrived intact (SHA-256 %s)" % want_hash[:16])
    for i, b in enumerate(after):
        check(base64.b64decode(got[200 + i]) == b,
              "row %d after the big one is intact" % (200 + i))

    # app_small: the rows before, then its flow stops; the reason is logged.
    def stopped():
        with open(p.logpath) as f:
            return [line for line in f if "app app_small" in line and "stop" in line and
                    "max_update_bytes" in line]
    wait_until(stopped, 60, "the publisher to stop app_small's flow")
    log(stopped()[0].strip()[24:])
    pos_phys = [u for u in rows if u["after"]["id"] == 100][0]["pos"]["physical"]
    check(pos_phys in stopped()[0], "the reason names the update's position (%s)" % pos_phys)
    time.sleep(2)
    with open(status) as f:
        rep = json.load(f)
    stopped = [x for x in rep.get("failed_flows") or [] if x.get("app") == "app_small"]
    check(len(stopped) == 1 and stopped[0].get("code") == "too_large" and
          pos_phys in stopped[0].get("reason", ""),
          "the status file reports the stopped flow and why: %s" % json.dumps(stopped)[:200])
    ids = [u["after"]["id"] for u in read_lines(small_app.out)]
    check(ids == [1, 2, 3, 4, 5], "app_small got the rows before the big one and nothing "
          "after it (%s)" % ids)
    with open(small_app.logpath) as f:
        text = f.read()
    check("more than the limit of %d bytes" % (16 * MiB) in text,
          "the small subscriber logged why it refused the update")
    # Other flows go on: a row after all that reaches app_big.
    insert_blob(db, "blobs", 300, b"tail")
    wait_until(lambda: count_lines(big_app.out) >= 12, 60, "a later row in app_big")
    check(True, "the other app keeps receiving after app_small's flow stopped")
    check(p.poll() is None, "the publisher keeps running")
    log("publisher VmHWM %.1f MiB, app_big's wormhole-tail VmHWM %.1f MiB"
        % (proc_status(p.pid, "VmHWM"), proc_status(big_app.pid, "VmHWM")))

    # The same instance (name and endpoint) registers again with the default bound: the
    # stopped flow starts again from its acknowledged position and delivers the rest.
    small_app.terminate()
    check(small_app.wait(timeout=30) == 0, "app_small stops cleanly")
    again = start_tail(env, "app_small", only + fixed)
    wait_until(lambda: count_lines(again.out) >= 7, 240,
               "the big row and the rows after it in the restarted app_small")
    ids = [u["after"]["id"] for u in read_lines(again.out)]
    check(ids == [100, 200, 201, 202, 203, 204, 300],
          "the restarted instance got the refused row and the rest, from the acknowledged "
          "position (%s)" % ids)
    with open(p.logpath) as f:
        text = f.read()
    # Either the publisher saw the node gone first (the flow ended) or only the new
    # node (the same instance registered again: a new flow for the stopped one).
    how = ("the stopped flow restarted on the new registration"
           if "instance small-1 registered again" in text else
           "the flow ended with the old registration and a new one began")
    check("stops delivering shard s1 to instance small-1" in text or
          "instance small-1 registered again" in text, how)


# ---- pub_inbuf: the publisher's receive buffer -----------------------------------------------

def heartbeat_frame(pad):
    """A HEARTBEAT frame padded with an unknown key (receivers skip it) to about pad bytes."""
    filler = os.urandom(pad)
    payload = bytes([0x82, 1, 0xcf]) + struct.pack(">Q", int(time.time() * 1000)) + \
        bytes([15, 0xc6]) + struct.pack(">I", len(filler)) + filler
    return frame(7, payload)


def sc_pub_inbuf(env):
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    port = lsock.getsockname()[1]
    conns = []
    stop = threading.Event()
    sent = [0]

    def serve():
        # Answers HELLO with HELLO_OK, then sends valid heartbeats of 60 KB as fast as
        # the publisher reads, in writes of 7001 bytes: the publisher nearly always has
        # part of a frame pending, and it never acknowledges anything.
        stream = b"".join(heartbeat_frame(60000) for _ in range(32))
        while not stop.is_set():
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            conns.append(c)
            try:
                c.settimeout(10)
                c.recv(65536)
                c.sendall(frame(2, mp_map({1: 1, 2: "evil"})))
                off = 0
                while not stop.is_set():
                    piece = stream[off:off + 7001]
                    if len(piece) < 7001:
                        piece += stream[:7001 - len(piece)]
                    c.sendall(piece)
                    sent[0] += len(piece)
                    off = (off + 7001) % len(stream)
                    if off < 7001:
                        time.sleep(0.02)   # about 50 MB/s: enough, on a shared machine
            except OSError:
                pass
            finally:
                c.close()

    threading.Thread(target=serve, daemon=True).start()
    node = "%s/apps/app_evil/instances/fake" % env.root
    data = json.dumps({"endpoint": "127.0.0.1:%d" % port, "filter": None, "shards": "all"})
    rc = subprocess.run([td.ZK_CHECK, env.zk.connect, "write", node, data],
                        capture_output=True, text=True)
    check(rc.returncode == 0, "registered a fake instance that streams partial frames")
    good = start_tail(env, "app_good")
    n = 150000
    p = env.publisher({"updates": n, "rate": 10000})
    peak, t0 = 0.0, time.time()
    while time.time() - t0 < 25:
        peak = max(peak, proc_status(p.pid, "VmRSS"))
        time.sleep(0.2)
    hwm = proc_status(p.pid, "VmHWM")
    log("the fake instance sent %.0f MiB of heartbeats; publisher: peak VmRSS %.1f MiB, "
        "VmHWM %.1f MiB" % (sent[0] / MiB, peak, hwm))
    check(sent[0] > 64 * MiB, "the fake instance sent more than 64 MiB (%.0f MiB)"
          % (sent[0] / MiB))
    check(hwm < 64, "the publisher's memory stayed bounded (VmHWM %.1f MiB < 64 MiB)" % hwm)
    wait_until(lambda: td.distinct([good.out], n) >= n, 90, "app_good's updates")
    td.check_stream(read_lines(good.out), td.synth_keys(n), "the good app next to the evil one")
    check(p.poll() is None, "the publisher keeps running")
    stop.set()
    lsock.close()


SCENARIOS = {"pending": sc_pending, "big_filter": sc_big_filter, "big_row": sc_big_row,
             "pub_inbuf": sc_pub_inbuf}


def main(argv):
    if len(argv) < 2 or argv[1] not in SCENARIOS:
        print(__doc__)
        return 2
    source = argv[argv.index("--source") + 1] if "--source" in argv else "synthetic"
    for exe in (td.PUBLISHER, td.TAIL, td.ZK_CHECK):
        if not os.path.exists(exe):
            print("skip: %s is not built" % exe)
            return td.SKIP
    options = {"max_allowed_packet": "256M"} if argv[1] == "big_row" else None
    with wh.Stack() as stack:
        try:
            env = td.Env(stack, source) if source != "mariadb" else BigEnv(stack, options)
            SCENARIOS[argv[1]](env)
            env.stop_all()
            bad = stack.sanitizer_report()
            if bad:
                raise Failed(bad)
            check(True, "no sanitizer reports in the processes' logs")
        except td.Skip:
            print("skip: scenario %s needs another source" % argv[1])
            return td.SKIP
        except Failed as e:
            print("FAILED: %s" % e, flush=True)
            stack.print_log_tails()
            return 1
        finally:
            try:
                env.stop_all()
            except NameError:
                pass
    print("%s (%s): passed" % (argv[1], source))
    return 0


class BigEnv(td.Env):
    """td.Env with MariaDB started with options (max_allowed_packet)."""

    def __init__(self, stack, options):
        self.stack = stack
        self.source = "mariadb"
        self.zk = stack.zookeeper()
        self.procs = []
        self.root = "/wh"
        self.n = 0
        self.db = stack.mariadb(options=options)
        self.db.sql("CREATE DATABASE IF NOT EXISTS app")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
