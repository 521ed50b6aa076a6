#!/usr/bin/env python3
"""Integration tests of mutual TLS between publishers and subscribers (docs/SECURITY.md).

Usage: python3 tests/publisher/test_tls.py SCENARIO

Certificates are made by scripts/gen-certs.sh in the scenario's temp dir. Scenarios (each
starts its own throwaway ZooKeeper, and MariaDB where said, through tests/harness):
  delivery   MariaDB workload delivered over TLS to wormhole-tail (app_t, certificate
             subscriber.app_t.wormhole): the stream check replays it exactly to the
             database's tables; an instance of app_x whose certificate is named for another
             app gets nothing (its flow fails for that reason, in the publisher's log) while
             app_t goes on
  forged     a TLS wormhole-tail and Python clients that send HELLO + UPDATES (a forged
             insert "INJECTED") over TLS with Python's ssl module: with no certificate, with
             one from another CA, with a valid one not authorised for the shard, with an
             expired one: each is refused, logged naming the peer's address (and the
             certificate) and why, and nothing reaches the app; a plaintext peer is refused
             within a second, a client offering at most TLS 1.2 is refused, a silent one is
             dropped at hello_timeout_ms; then a client with the right certificate does get its update
             through (the same path, authorised: the checks above can fail)
  reload     certificates renewed in place: the subscriber starts with a certificate not
             named for its app (the publisher refuses it before its HELLO, the flow retries
             at retry_max_ms) and is accepted once its files are replaced, without a
             restart; the publisher's certificate is not authorised for the shard (the
             subscriber refuses it) until it gets the right one by SIGHUP; then every update
             arrives
  plaintext  without TLS configured, delivery works on loopback (the demo's case); a
             subscriber without TLS listening on every interface refuses a connection from
             a non-loopback address of this host, and a publisher without TLS refuses to
             deliver to an instance advertised at such an address

Prints what it checks; exits 0 on success, 1 on a failed check, 77 (skip) if a source or
a binary is not available.
"""
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_delivery as td  # noqa: E402  (Env, checks, the harness)
import test_bounds as tb  # noqa: E402  (start_tail, endpoint_of, frame, crc32c)
from test_delivery import Failed, check, log, wait_until, read_lines  # noqa: E402

sys.path.insert(0, os.path.join(td.ROOT, "tests", "harness"))
import stream_check as sc  # noqa: E402

GEN_CERTS = os.path.join(td.ROOT, "scripts", "gen-certs.sh")
ITEMS = sc.Table("app.items", ["id"], ["id", "grp", "name", "qty", "price"])
AUDIT = sc.Table("app.audit", ["id"], ["id", "note"])


def gen_certs(d, *args):
    out = subprocess.run([GEN_CERTS, d] + list(args), capture_output=True, text=True)
    if out.returncode != 0:
        raise Failed("gen-certs.sh failed: %s" % out.stderr)


def tls_args(d, name):
    return ["--tls-ca", os.path.join(d, "ca.pem"), "--tls-cert", os.path.join(d, name + ".pem"),
            "--tls-key", os.path.join(d, name + ".key")]


def tls_cfg(d, name):
    return {"ca_file": os.path.join(d, "ca.pem"), "cert_file": os.path.join(d, name + ".pem"),
            "key_file": os.path.join(d, name + ".key")}


def start_pub(env, tls=None, source_opts=None):
    """A publisher of shard s1 (the mysql mapper on env.db, or the generator) with the
    given tls section."""
    env.n += 1
    if env.source == "synthetic":
        mapper = {"name": "synthetic", "options": source_opts or {}}
    else:
        mapper = {"name": "mysql", "options": {"binlog_dir": env.db.env("X")["X_BINLOG_DIR"]}}
    cfg = {"shard": "s1", "id": "pub-tls", "mapper": mapper,
           "zookeeper": {"connect": env.zk.connect, "root": env.root,
                         "session_timeout_ms": 4000},
           "delivery": {"heartbeat_interval_ms": 300, "heartbeat_timeout_ms": 3000,
                        "datamarker_interval_ms": 50, "retry_max_ms": 1000},
           "positions": {"flush_interval_ms": 100}}
    if tls is not None:
        cfg["tls"] = tls
    path = env.stack.path("pub%d.json" % env.n)
    with open(path, "w") as f:
        json.dump(cfg, f)
    logf = open(env.stack.path("pub%d.log" % env.n), "w")
    p = subprocess.Popen([td.PUBLISHER, "--config", path], stderr=logf, env=tb.tail_env())
    p.logpath = logf.name
    p.cfgpath = path
    env.procs.append(p)
    return p


def text(p):
    with open(p.logpath, errors="replace") as f:
        return f.read()


# ---- a forged publisher: HELLO + UPDATES over TLS -----------------------------------------

def mp(v):
    """MessagePack of ints, strings, bytes, None, bools, lists and dicts (enough for
    HELLO and UPDATES)."""
    if v is None:
        return b"\xc0"
    if v is True or v is False:
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        return bytes([v]) if 0 <= v < 128 else b"\xcf" + struct.pack(">Q", v)
    if isinstance(v, str):
        b = v.encode()
        return bytes([0xd9, len(b)]) + b
    if isinstance(v, bytes):
        return bytes([0xc4, len(v)]) + v
    if isinstance(v, list):
        return bytes([0xdc]) + struct.pack(">H", len(v)) + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        return bytes([0xde]) + struct.pack(">H", len(v)) + \
            b"".join(mp(k) + mp(x) for k, x in v.items())
    raise TypeError(v)


def forged_frames(app, shard, row_id):
    hello = tb.frame(1, mp({1: 1, 2: app, 3: shard, 4: "forger", 5: 1, 6: None, 7: 1000}))
    update = {1: 0, 3: ["forged-bin.000001", 4, None, 0], 6: "app", 7: "items",
              11: [0, bytes([2, 0, 6, 0]), [row_id, "INJECTED"]]}
    updates = tb.frame(4, mp({1: shard, 2: [update], 3: [["id", "name"]]}))
    return hello + updates


def forge(addr, app, shard, row_id, cert=None, plaintext=False, max_version=None):
    """Connects as a publisher and sends HELLO + UPDATES; returns (local port, what
    happened as text, seconds until the peer closed)."""
    raw = socket.create_connection(addr, timeout=10)
    port = raw.getsockname()[1]
    t0 = time.time()
    how = "sent"
    try:
        if plaintext:
            s = raw
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE     # an attacker does not care who listens
            if cert:
                ctx.load_cert_chain(cert + ".pem", cert + ".key")
            if max_version:
                ctx.maximum_version = max_version
            s = ctx.wrap_socket(raw)
        s.sendall(forged_frames(app, shard, row_id))
        s.settimeout(5)
        while True:           # read until the subscriber closes (or answers and waits)
            b = s.recv(65536)
            if not b:
                how += ", closed by the subscriber"
                break
            how += ", got %d bytes" % len(b)
            if len(b) > 5 and b[4] == 2:      # HELLO_OK: it was accepted
                time.sleep(1)
                break
    except (OSError, ssl.SSLError) as e:
        how += ", %s" % e.__class__.__name__
    finally:
        raw.close()
    return port, how, time.time() - t0


def injected(p):
    return [u for u in read_lines(p.out) if (u.get("after") or {}).get("name") == "INJECTED"]


# ---- scenarios -----------------------------------------------------------------------------

def sc_delivery(env):
    d = env.stack.path("certs")
    gen_certs(d, "--shard", "s1", "--app", "app_t", "--name", "wrongapp=subscriber.other.wormhole")
    t = tb.start_tail(env, "app_t", tls_args(d, "subscriber-app_t"))
    x = tb.start_tail(env, "app_x", tls_args(d, "wrongapp"))
    pub = start_pub(env, tls_cfg(d, "publisher-s1"))
    env.write_workload(3000)
    full = env.expected()
    wait_until(lambda: td.distinct([t.out], len(full)) >= len(full), 120,
               "%d updates over TLS in %s" % (len(full), t.out))
    time.sleep(1)
    problems, stats = sc.check_app(read_lines(t.out), [ITEMS, AUDIT],
                                   sc.dump_tables(env.db, [ITEMS, AUDIT]))
    check(not problems, "app_t's stream over TLS replays exactly to app.items and app.audit "
          "(%d received, %d distinct)%s" % (stats["received"], stats["distinct"],
                                            "" if not problems else ": " + "; ".join(problems[:5])))
    check(stats["distinct"] == len(full), "every one of the %d updates arrived" % len(full))
    check("over TLS (certificate CN=publisher.s1.wormhole" in text(t),
          "the subscriber logs the publisher's certificate")
    check(os.path.getsize(x.out) == 0, "app_x's instance (certificate named for another app) "
          "received nothing")
    pl = text(pub)
    check("not authorised for app app_x" in pl and "subscriber.other.wormhole" in pl,
          "the publisher logs why app_x's flow fails, naming the certificate's names")
    check(pl.count("not authorised for app app_x") <= 12,
          "the refused flow is retried with backoff, not in a tight loop (%d attempts)"
          % pl.count("not authorised for app app_x"))


def sc_forged(env):
    d = env.stack.path("certs")
    other = env.stack.path("othercerts")
    gen_certs(d, "--shard", "s1", "--shard", "s2", "--app", "app_f",
              "--expired", "expired=publisher.s1.wormhole")
    gen_certs(other, "--shard", "s1")
    t = tb.start_tail(env, "app_f", tls_args(d, "subscriber-app_f"))
    addr = tb.endpoint_of(t)
    cases = [("no certificate", None, "it presented no certificate"),
             ("a certificate from another CA", os.path.join(other, "publisher-s1"),
              "not issued by the configured CA"),
             ("a valid certificate not authorised for the shard", os.path.join(d, "publisher-s2"),
              "is not authorised for shard s1"),
             ("an expired certificate", os.path.join(d, "expired"), "it has expired")]
    for i, (what, cert, reason) in enumerate(cases):
        port, how, _ = forge(addr, "app_f", "s1", 666 + i, cert=cert)
        peer = "127.0.0.1:%d" % port

        def logged():
            return any(peer in line and reason in line for line in text(t).splitlines())
        wait_until(logged, 10, "a refusal naming %s and '%s' in %s" % (peer, reason, t.logpath))
        line = next(ln for ln in text(t).splitlines() if peer in ln and reason in ln)
        log("  %s" % line.split(" ", 3)[-1][:300])
        if cert:
            check("CN=" in line, "the refusal of %s names the certificate" % what)
        check(True, "a forged publisher with %s is refused (%s), logged naming %s" % (what, how,
                                                                                   peer))
    port, how, took = forge(addr, "app_f", "s1", 700, plaintext=True)
    wait_until(lambda: "127.0.0.1:%d" % port in text(t), 5, "the plaintext peer's refusal")
    check(took < 2.0 and "does not speak TLS" in text(t),
          "a plaintext peer on the TLS port is refused in %.2f s (%s)" % (took, how))
    # No downgrade: a client that offers at most TLS 1.2, with a valid certificate.
    port, how, _ = forge(addr, "app_f", "s1", 710, cert=os.path.join(d, "publisher-s1"),
                         max_version=ssl.TLSVersion.TLSv1_2)
    wait_until(lambda: "127.0.0.1:%d" % port in text(t), 5, "the TLS 1.2 client's refusal")
    check("does not speak TLS 1.3" in text(t) or "unsupported protocol" in text(t),
          "a client offering at most TLS 1.2 is refused (%s)" % how)
    # A peer that connects and says nothing is dropped at hello_timeout_ms (5 s), its
    # handshake never started.
    s = socket.create_connection(addr, timeout=10)
    port = s.getsockname()[1]
    t0 = time.time()
    try:
        gone = s.recv(1) == b""
    except OSError:
        gone = True
    took = time.time() - t0
    s.close()
    # (Logged in the burst's summary: the refusals above opened the burst.)
    check(gone and 4.0 <= took <= 8.0,
          "a silent peer is dropped after %.1f s for want of a TLS handshake" % took)
    time.sleep(0.5)
    check(not injected(t), "nothing from a refused peer reached the app's callback")
    # The same forged frames with the right certificate go through: the refusals above
    # are TLS's doing, not a broken forgery.
    port, how, _ = forge(addr, "app_f", "s1", 800, cert=os.path.join(d, "publisher-s1"))
    wait_until(lambda: injected(t), 10, "the authorised client's update in %s" % t.out)
    got = injected(t)
    check(len(got) == 1 and got[0]["after"]["id"] == 800,
          "a client with the certificate publisher.s1.wormhole is accepted (%s) and its "
          "update (id 800) reaches the app: the only one" % how)


def sc_reload(env):
    d = env.stack.path("certs")
    gen_certs(d, "--shard", "s1", "--shard", "s9", "--app", "app_r",
              "--name", "subwrong=subscriber.nope.wormhole")
    # Files the processes use, replaced in place later.
    import shutil
    for src, dst in (("publisher-s9", "pub"), ("subwrong", "sub")):
        for ext in (".pem", ".key"):
            shutil.copy(os.path.join(d, src + ext), os.path.join(d, dst + ext))
            os.chmod(os.path.join(d, dst + ext), 0o600)
    t = tb.start_tail(env, "app_r", tls_args(d, "sub"))
    pub = start_pub(env, tls_cfg(d, "pub"), source_opts={"updates": 2000, "tables": 2})
    # The publisher checks the instance's certificate first (before its HELLO).
    wait_until(lambda: "not authorised for app app_r" in text(pub), 20,
               "the publisher refusing the subscriber's certificate subscriber.nope.wormhole")
    check("it may refuse this instance's certificate for app app_r" in text(t),
          "the subscriber logs that the publisher closed after the handshake")
    for ext in (".key", ".pem"):
        shutil.copy(os.path.join(d, "subscriber-app_r" + ext), os.path.join(d, "sub" + ext))
    wait_until(lambda: "is not authorised for shard s1" in text(t), 20,
               "the subscriber (renewed certificate) refusing publisher.s9.wormhole")
    check("certificate files changed: reloaded; now CN=subscriber.app_r.wormhole" in text(t),
          "the subscriber reloaded its renewed certificate without a restart")
    check(os.path.getsize(t.out) == 0, "nothing delivered while either certificate was wrong")
    for ext in (".key", ".pem"):
        shutil.copy(os.path.join(d, "publisher-s1" + ext), os.path.join(d, "pub" + ext))
    pub.send_signal(signal.SIGHUP)
    wait_until(lambda: "TLS certificate reloaded: CN=publisher.s1.wormhole" in text(pub), 10,
               "the publisher's reload on SIGHUP")
    wait_until(lambda: td.distinct([t.out], 2000) >= 2000, 60,
               "2000 updates once both certificates were renewed in place")
    check(t.poll() is None and pub.poll() is None, "neither process restarted")


def non_loopback_address():
    """An address of this host that is not loopback, or None."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("10.255.255.255", 9))      # no packet is sent: picks the route's source
        a = s.getsockname()[0]
        s.close()
        return None if a.startswith("127.") else a
    except OSError:
        return None


def sc_plaintext(env):
    t = tb.start_tail(env, "app_p")
    start_pub(env, None, source_opts={"updates": 500, "tables": 2})
    wait_until(lambda: td.distinct([t.out], 500) >= 500, 60, "500 updates in plaintext on "
               "loopback")
    check(" in plaintext" in text(t), "the subscriber logs the connection as plaintext")
    addr = non_loopback_address()
    if not addr:
        log("skip the non-loopback part: this host has no non-loopback address")
        return
    w = tb.start_tail(env, "app_w", ["--listen", "0.0.0.0", "--advertise", addr])
    check("only publishers on this host (loopback addresses) are accepted" in text(w),
          "a plaintext subscriber on every interface warns at start")
    host, port = tb.endpoint_of(w)
    s = socket.create_connection((addr, port), timeout=5)
    s.settimeout(5)
    try:
        gone = s.recv(1) == b""
    except OSError:
        gone = True
    s.close()
    check(gone and "plaintext is accepted from loopback addresses only" in text(w),
          "a plaintext connection from %s (not loopback) is refused" % addr)
    pub2 = [p for p in env.procs if getattr(p, "cfgpath", None)][0]
    wait_until(lambda: "refusing to deliver in plaintext to a non-loopback address" in
               text(pub2), 20, "the publisher refusing to deliver app_w in plaintext to %s"
               % addr)
    check(os.path.getsize(w.out) == 0, "app_w (advertised at %s) got nothing in plaintext"
          % addr)


SCENARIOS = {"delivery": sc_delivery, "forged": sc_forged, "reload": sc_reload,
             "plaintext": sc_plaintext}
SOURCES = {"delivery": "mariadb", "forged": "synthetic", "reload": "synthetic",
           "plaintext": "synthetic"}


def main(argv):
    if len(argv) < 2 or argv[1] not in SCENARIOS:
        print(__doc__)
        return 2
    source = SOURCES[argv[1]]
    for exe in (td.PUBLISHER, td.TAIL):
        if not os.path.exists(exe):
            print("skip: %s is not built" % exe)
            return td.SKIP
    if subprocess.run(["sh", "-c", "command -v openssl"], capture_output=True).returncode:
        print("skip: the openssl command is not installed")
        return td.SKIP
    if source == "mariadb":
        out = subprocess.run([td.LOGCAT, "--help"], capture_output=True, text=True)
        if "options of mapper 'mysql'" not in out.stdout:
            print("skip: the mysql mapper is not built")
            return td.SKIP
    with td.wh.Stack() as stack:
        env = td.Env(stack, source)
        try:
            SCENARIOS[argv[1]](env)
            env.stop_all()
            bad = stack.sanitizer_report()
            if bad:
                raise Failed(bad)
            check(True, "no sanitizer reports in the processes' logs")
        except td.Skip:
            return td.SKIP
        except Failed as e:
            print("FAILED: %s" % e, flush=True)
            stack.print_log_tails()
            return 1
        finally:
            env.stop_all()
    print("%s: passed" % argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
