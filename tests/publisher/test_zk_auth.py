#!/usr/bin/env python3
"""Integration tests of ZooKeeper authentication and ACLs (docs/ZOOKEEPER.md, "Access control").

Usage: python3 tests/publisher/test_zk_auth.py SCENARIO [--source synthetic|mariadb]

Each scenario starts a ZooKeeper with a super user (the operators' admin identity,
superDigest) and sets the layout up the way docs/ZOOKEEPER.md tells an operator to:
`wormhole-ctl init --publisher-id` and `wormhole-ctl add-app APP --app-id` as super.
The publisher runs as identity wh-publisher, the apps' instances as app-a / app-b.

  delivery   with authentication on, a rogue instance (planted by the admin with an
             open ACL, named so that it wins the public rendezvous hash) and the real
             instance of app_a: the publisher ignores the rogue (nobody ever connects to
             its endpoint) and app_a receives everything; with --source mariadb its
             stream replays exactly to the database's tables (stream_check). The ACLs
             stored in ZooKeeper name the digest ids computed independently in Python.
  refusals   a client without credentials gets NOAUTH when it registers an instance,
             changes a position or the epoch, creates an app, reads a position or an
             instance or lists the apps (the root marker stays readable); app-b's
             identity cannot register an instance of app_a (zk_check and wormhole-tail,
             which fails at start saying so); app-a cannot write a position or the epoch;
             a wrong password makes the publisher and wormhole-tail stop at start with a
             sentence naming the identity and the secret file; no password is ever logged.
  session_expiry  the instance's, then the publisher's session expires (SIGSTOP past its
             timeout): each authenticates on its new session, registers again, and every
             update arrives.
  convert    a deployment that ran without authentication (open nodes) is converted with
             wormhole-ctl init and add-app: its existing nodes get the table's ACLs, the
             publisher and instance restarted with identities resume from the recorded
             position, and every update arrives.
  zk_restart ZooKeeper is unreachable (relays refusing connections) while an
             authenticated instance and publisher start, then restarted mid-stream: both
             wait, authenticate when it is back and every update arrives (a connection lost
             before the server answered the credential is not a refusal).
  one_filter with authentication on, libwormhole's one-filter-per-app registration holds:
             the first instance records its filter in the app node (which add-app created
             with the app's ACL), a second instance of the app with another filter is
             refused at start, one with the same filter joins, wormhole-ctl policy keeps
             the filter, the publisher delivers only the app's filter, and the app node
             and instance nodes keep the table's ACLs throughout.

Prints what it checks; exits 0 on success, 1 on a failed check, 77 (skip) if a source or
a binary is not available.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_delivery as td  # noqa: E402  (Env, checks, the harness)
from test_delivery import Failed, check, log, wait_until, read_lines  # noqa: E402

wh = td.wh
sys.path.insert(0, os.path.join(td.ROOT, "tests", "harness"))
import stream_check as sc  # noqa: E402

CTL = os.path.join(td.BUILD, "tools", "wormhole-ctl")
ROOTP = "/wh"
SECRETS = {"super": "adm1n pass", "wh-publisher": "pub-s3cret", "app-a": "a-s3cret",
           "app-b": "b-s3cret"}
WRONG = "Xq9-not-it"
ITEMS = sc.Table("app.items", ["id"], ["id", "grp", "name", "qty", "price"])
AUDIT = sc.Table("app.audit", ["id"], ["id", "note"])


def secret_file(env, user, password=None):
    path = env.stack.path("%s.secret" % user if password is None else "%s.wrong" % user)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write((password or SECRETS[user]) + "\n")
    return path


def digest(user):
    return wh.zk_digest_id(user, SECRETS[user])


def ctl(env, *args):
    cmd = [CTL, "--zk", env.zk.connect + ROOTP, "--zk-user", "super",
           "--zk-secret-file", secret_file(env, "super")] + list(args)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, "wormhole-ctl %s: %s" % (" ".join(args),
                                                        (out.stdout + out.stderr).strip()))
    return out.stdout


def zk_try(env, user, op, path, value=None):
    """The outcome of one request as user (None: no credentials): (code, lines)."""
    cmd = [td.ZK_CHECK]
    if user:
        cmd += ["--auth", "%s:%s" % (user, secret_file(env, user))]
    cmd += [env.zk.connect, "try", op, ROOTP + path] + ([value] if value is not None else [])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise Failed("zk_check %s: %s" % (" ".join(cmd[1:]), out.stderr.strip()))
    lines = out.stdout.splitlines()
    return lines[0], lines[1:]


def setup(env, apps=("app_a",)):
    """The operator's steps of docs/ZOOKEEPER.md: init, then add-app per app."""
    ctl(env, "init", "--publisher-id", digest("wh-publisher"))
    for app in apps:
        ctl(env, "add-app", app, "--app-id", digest("app-" + app[-1]))


def pub_zk(env, password=None):
    return {"user": "wh-publisher",
            "secret_file": secret_file(env, "wh-publisher", password)}


def tail_auth(env, user, password=None):
    return ["--zk-user", user, "--zk-secret-file", secret_file(env, user, password)]


def rendezvous_weight(instance, shard):
    """zku_rendezvous_weight of protocol/zk_layout.c (the public hash)."""
    m = (1 << 64) - 1
    h = 0xcbf29ce484222325
    for b in instance.encode() + b"\xff" + shard.encode():
        h = ((h ^ b) * 0x100000001b3) & m
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & m
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & m
    h ^= h >> 33
    return h


class RogueEndpoint:
    """A listening socket standing in for a rogue instance: counts who connects."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.accepted += 1
                c.close()
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.sock.close()


# ---- scenarios ---------------------------------------------------------------------------------

def sc_delivery(env):
    setup(env)
    # The ACLs as ZooKeeper stores them, against digests computed here with hashlib.
    code, lines = zk_try(env, "super", "acl", "/apps/app_a/instances")
    want = {"digest:%s 29" % digest("app-a"), "digest:%s 17" % digest("wh-publisher")}
    check(code == "ZOK" and set(lines) == want,
          "add-app set the instances folder's ACL: %s" % lines)
    # A rogue instance that wins the public hash, planted with an open ACL (as a node left
    # from before authentication, or written by a careless admin tool, would be).
    rogue_ep = RogueEndpoint()
    legit = "legit"
    rogue = next("rogue%d" % i for i in range(1000)
                 if rendezvous_weight("rogue%d" % i, "s1") > rendezvous_weight(legit, "s1"))
    check(True, "instance %s beats %s in the public rendezvous hash for shard s1"
          % (rogue, legit))
    node = '{"endpoint":"127.0.0.1:%d","filter":null,"pid":1,"protocol":1,"shards":"all"}' \
        % rogue_ep.port
    code, _ = zk_try(env, "super", "create", "/apps/app_a/instances/" + rogue, node)
    check(code == "ZOK", "the admin planted %s with an open ACL" % rogue)
    a = env.tail("app_a", instance=legit, extra=tail_auth(env, "app-a"))
    time.sleep(0.5)
    if env.source == "synthetic":
        n = 20000
        p = env.publisher({"updates": n, "tables": 2}, zookeeper=pub_zk(env))
        want_keys = td.synth_keys(n)
    else:
        p = env.publisher(zookeeper=pub_zk(env))
        env.write_workload(2000)
        want_keys = [td.pos_key(u) for u in env.expected()]
    wait_until(lambda: td.distinct([a.out], len(want_keys)) >= len(want_keys), 120,
               "%d updates at the real instance" % len(want_keys))
    td.check_stream(read_lines(a.out), want_keys, "app_a (authenticated)")
    check(rogue_ep.accepted == 0, "nobody connected to the rogue instance's endpoint")
    rogue_ep.close()
    text = td.log_text(p)
    check("ignoring instance %s/apps/app_a/instances/%s: its ACL" % (ROOTP, rogue) in text,
          "the publisher logged why it ignores the rogue instance")
    check("unauthenticated" not in text, "the publisher did not warn of an unauthenticated "
          "ZooKeeper")
    # Nodes the publisher created carry its digest id, as the server computed it.
    code, lines = zk_try(env, "super", "acl", "/apps/app_a/positions/s1")
    check(code == "ZOK" and lines == ["digest:%s 31" % digest("wh-publisher")],
          "the position node's ACL is the publishers' alone: %s" % lines)
    code, lines = zk_try(env, "super", "acl", "/shards/s1/epoch")
    check(code == "ZOK" and lines == ["digest:%s 31" % digest("wh-publisher")],
          "the epoch node's ACL is the publishers' alone: %s" % lines)
    code, lines = zk_try(env, "super", "acl", "/apps/app_a/instances/" + legit)
    check(code == "ZOK" and set(lines) == {"digest:%s 31" % digest("app-a"),
                                           "digest:%s 17" % digest("wh-publisher")},
          "the instance node's ACL: its app all, publishers read and admin: %s" % lines)
    if env.source == "mariadb":
        env.stop_all()
        problems, stats = sc.check_app(read_lines(a.out), [ITEMS, AUDIT],
                                       sc.dump_tables(env.db, [ITEMS, AUDIT]))
        check(not problems, "stream_check: app_a's stream replays to app.items and app.audit "
              "(%s)%s" % (stats, "" if not problems else ": " + "; ".join(problems)))
    for path in (a.logpath, p.logpath):
        with open(path) as f:
            t = f.read()
        check(not any(s in t for s in SECRETS.values()), "no password in %s"
              % os.path.basename(path))


def sc_refusals(env):
    setup(env, ("app_a", "app_b"))
    a = env.tail("app_a", instance="ia", extra=tail_auth(env, "app-a"))
    p = env.publisher({"updates": 2000, "tables": 2}, zookeeper=pub_zk(env))
    wait_until(lambda: td.distinct([a.out], 2000) >= 2000, 60, "2000 updates at app_a")
    wait_until(lambda: zk_try(env, "super", "get", "/apps/app_a/positions/s1")[0] == "ZOK",
               30, "app_a's position written")
    attempts = [
        ("register an instance", "create", "/apps/app_a/instances/evil",
         '{"endpoint":"127.0.0.1:9"}'),
        ("change a position", "set", "/apps/app_a/positions/s1", '{"epoch":99}'),
        ("bump the epoch", "set", "/shards/s1/epoch", "99999"),
        ("create an app", "create", "/apps/evil", ""),
        ("create the shard of another publisher", "create", "/shards/s9", ""),
        ("remove an instance", "delete", "/apps/app_a/instances/ia", None),
        ("read a position", "get", "/apps/app_a/positions/s1", None),
        ("read an instance", "get", "/apps/app_a/instances/ia", None),
        ("list the apps", "children", "/apps", None),
        ("read a publisher node", "children", "/shards/s1/publishers", None),
    ]
    for what, op, path, value in attempts:
        code, _ = zk_try(env, None, op, path, value)
        check(code == "ZNOAUTH", "without credentials: %s (%s %s) -> %s" % (what, op, path, code))
    code, _ = zk_try(env, None, "get", "")
    check(code == "ZOK", "without credentials the root marker %s is readable" % ROOTP)
    # Another app's identity, and the app's own where only publishers may write.
    code, _ = zk_try(env, "app-b", "create", "/apps/app_a/instances/evil",
                     '{"endpoint":"127.0.0.1:9"}')
    check(code == "ZNOAUTH", "app-b cannot register an instance of app_a (%s)" % code)
    for what, path, value in (("a position", "/apps/app_a/positions/s1", '{"epoch":99}'),
                              ("the epoch", "/shards/s1/epoch", "99999")):
        code, _ = zk_try(env, "app-a", "set", path, value)
        check(code == "ZNOAUTH", "app-a cannot change %s (%s)" % (what, code))
    code, _ = zk_try(env, "app-b", "create", "/apps/app_b/instances/ok",
                     '{"endpoint":"127.0.0.1:9"}')
    check(code == "ZOK", "app-b registers an instance of its own app (control: %s)" % code)
    zk_try(env, "app-b", "delete", "/apps/app_b/instances/ok")
    b = env.tail("app_a", instance="ib", extra=tail_auth(env, "app-b"), wait=False)
    rc = td.wait_exit(b, 30, "wormhole-tail of app_a as app-b")
    text = td.log_text(b)
    check(rc != 0 and "refused registering instance ib of app app_a to user app-b" in text,
          "wormhole-tail as app-b for app_a stops at start naming the refusal: %s"
          % text.strip().splitlines()[-1:])
    # Wrong passwords: clear errors at start.
    w = env.tail("app_a", instance="iw", extra=tail_auth(env, "app-a", WRONG), wait=False)
    rc = td.wait_exit(w, 30, "wormhole-tail with a wrong password")
    text = td.log_text(w)
    check(rc != 0 and "to user app-a" in text and "wrong password" in text,
          "wormhole-tail with a wrong password stops at start: %s"
          % text.strip().splitlines()[-1:])
    q = env.publisher({"updates": 10}, pub_id="pub-wrong",
                      zookeeper=pub_zk(env, WRONG))
    rc = td.wait_exit(q, 30, "publisher with a wrong password")
    text = td.log_text(q)
    check(rc != 0 and "to user wh-publisher (NOAUTH)" in text and
          secret_file(env, "wh-publisher", WRONG) in text,
          "the publisher with a wrong password stops at start naming the identity and the "
          "secret file: %s" % [ln for ln in text.splitlines() if "NOAUTH" in ln][:1])
    # No identity at all against a layout with ACLs: a clear error, not a silent retry.
    n = env.tail("app_a", instance="in", wait=False)
    rc = td.wait_exit(n, 30, "wormhole-tail without an identity")
    text = td.log_text(n)
    check(rc != 0 and "unauthenticated" in text and "the app's nodes carry ACLs" in text,
          "wormhole-tail without an identity warns and stops at start: %s"
          % text.strip().splitlines()[-1:])
    r = env.publisher({"updates": 10}, pub_id="pub-none")
    rc = td.wait_exit(r, 30, "publisher without an identity")
    text = td.log_text(r)
    check(rc != 0 and "unauthenticated" in text and "set zookeeper.user" in text,
          "the publisher without an identity warns and stops at start: %s"
          % [ln for ln in text.splitlines() if "NOAUTH" in ln][:1])
    check(p.poll() is None and a.poll() is None,
          "the real publisher and instance are still running")
    for proc in (a, b, w, p, q, n, r):
        t = td.log_text(proc)
        check(not any(s in t for s in list(SECRETS.values()) + [WRONG]),
              "no password in %s" % os.path.basename(proc.logpath))


def sc_zk_restart(env):
    setup(env)
    # ZooKeeper unreachable while the instance and the publisher start (through relays
    # that refuse connections until healed: the client retries, its credential's
    # completion reports a lost connection, not a refusal), then ZooKeeper restarted
    # mid-stream (sessions may expire: both register again, authenticated).
    pa, pp = td.ZkProxy(env.zk.port), td.ZkProxy(env.zk.port)
    pa.cut()
    pp.cut()
    a = env.tail("app_a", instance="ia", extra=tail_auth(env, "app-a"), wait=False,
                 zk_connect=pa.connect)
    p = env.publisher({"updates": 30000, "tables": 2, "rate": 5000},
                      zookeeper=pub_zk(env), zk_connect=pp.connect)
    time.sleep(3)
    check(a.poll() is None and p.poll() is None,
          "the instance and the publisher wait for ZooKeeper")
    pa.heal()
    pp.heal()
    env.wait_registered(a)
    wait_until(lambda: td.count_lines(a.out) >= 5000, 60, "5000 updates at app_a")
    env.zk.restart()
    wait_until(lambda: td.distinct([a.out], 30000) >= 30000, 120, "30000 updates at app_a")
    td.check_stream(read_lines(a.out), td.synth_keys(30000), "app_a across ZooKeeper restarts")
    check("refused" not in td.log_text(p) + td.log_text(a),
          "no refusal was reported for a lost connection")
    pa.close()
    pp.close()


def sc_session_expiry(env):
    setup(env)
    a = env.tail("app_a", instance="ia", extra=tail_auth(env, "app-a"))
    n = 40000
    p = env.publisher({"updates": n, "tables": 2, "rate": 4000}, zookeeper=pub_zk(env),
                      session_ms=2000)
    # The instance's session expires (SIGSTOP past its 2 s timeout), then the publisher's:
    # each opens a new session, authenticates again and registers again.
    for proc, what in ((a, "the instance"), (p, "the publisher")):
        before = td.count_lines(a.out)
        wait_until(lambda: td.count_lines(a.out) >= before + 2000, 60,
                   "progress before stopping %s" % what)
        # Registration lines before the stop (a publisher logs two: its candidate node,
        # then its publisher node once it holds the lease).
        regs = td.log_text(proc).count("registered ")
        proc.send_signal(signal.SIGSTOP)
        time.sleep(wh.scaled(6))
        proc.send_signal(signal.SIGCONT)
        wait_until(lambda: td.log_text(proc).count("registered ") > regs, 60,
                   "%s registered again after its session expired" % what)
        wait_until(lambda: "session expired" in td.log_text(proc), 30,
                   "%s to log its session expiry" % what)
        check("session expired" in td.log_text(proc),
              "%s's session expired and it registered again, authenticated" % what)
    wait_until(lambda: td.distinct([a.out], n) >= n, 120, "%d updates at app_a" % n)
    got = set(td.pos_key(u) for u in read_lines(a.out))
    check(got == set(td.synth_keys(n)), "app_a received every update across both expiries "
          "(%d distinct)" % len(got))
    check(p.poll() is None and "refused" not in td.log_text(p) + td.log_text(a),
          "nothing was refused")


def sc_convert(env):
    """A deployment that ran without authentication, converted as docs/ZOOKEEPER.md says."""
    n = 20000
    a = env.tail("app_a", instance="ia")
    p = env.publisher({"updates": n, "tables": 2, "rate": 4000})
    wait_until(lambda: td.count_lines(a.out) >= 5000, 60, "5000 updates before converting")
    for proc in (p, a):
        proc.terminate()
        td.wait_exit(proc, 30, "the unauthenticated processes")
    code, lines = zk_try(env, None, "acl", "/apps/app_a/positions/s1")
    check(code == "ZOK" and lines == ["world:anyone 31"],
          "before: the position node is open to anyone (%s)" % lines)
    setup(env)
    code, lines = zk_try(env, "super", "acl", "/apps/app_a/positions/s1")
    check(lines == ["digest:%s 31" % digest("wh-publisher")],
          "init and add-app set the table's ACL on the existing position node (%s)" % lines)
    code, lines = zk_try(env, "super", "acl", "/shards/s1/epoch")
    check(lines == ["digest:%s 31" % digest("wh-publisher")],
          "... and on the existing epoch node (%s)" % lines)
    b = env.tail("app_a", instance="ia", extra=tail_auth(env, "app-a"))
    q = env.publisher({"updates": n, "tables": 2, "rate": 4000}, zookeeper=pub_zk(env),
                      pub_id="pub-2")
    wait_until(lambda: td.distinct([a.out, b.out], n) >= n, 120,
               "%d updates across the conversion" % n)
    got = set(td.pos_key(u) for u in read_lines(a.out) + read_lines(b.out))
    check(got == set(td.synth_keys(n)), "every update arrived across the conversion")
    first_b = td.pos_key(read_lines(b.out)[0])
    check(first_b[1] > 1, "the converted publisher resumed from the recorded position (%s), "
          "not from the start" % (first_b,))
    code, _ = zk_try(env, None, "set", "/apps/app_a/positions/s1", '{"epoch":99}')
    check(code == "ZNOAUTH", "after: a client without credentials cannot change the position "
          "(%s)" % code)
    check(q.poll() is None and "refused" not in td.log_text(q), "nothing was refused")


def sc_one_filter(env):
    setup(env)
    app_acl = {"digest:%s 3" % digest("app-a"), "digest:%s 5" % digest("wh-publisher")}

    def acl(path):
        code, lines = zk_try(env, "super", "acl", path)
        return set(lines) if code == "ZOK" else code

    check(acl("/apps/app_a") == app_acl,
          "add-app gave the app node read/write to app-a, read/create to the publishers")

    def app_doc():
        return json.loads(ctl(env, "--json", "app", "app_a"))

    a = env.tail("app_a", 'table = "t1"', instance="a", extra=tail_auth(env, "app-a"))
    check(app_doc().get("filter") == '{"eq":["table","t1"]}',
          "the first instance recorded its filter in the app node: %s" % app_doc().get("filter"))
    b = env.tail("app_a", 'table = "t2"', instance="b", extra=tail_auth(env, "app-a"),
                 wait=False)
    rc = td.wait_exit(b, 30, "wormhole-tail of app_a with another filter")
    text = td.log_text(b)
    last = text.strip().splitlines()[-1] if text.strip() else "(no output)"
    check(rc != 0 and "app app_a is registered with filter 'table = \"t1\"' (set by instance "
          "a)" in text and "all instances of an app run one filter" in text,
          "a second instance with another filter is refused at start: %s" % last[:400])
    code, _ = zk_try(env, "super", "get", "/apps/app_a/instances/b")
    check(code == "ZNONODE", "the refused instance left no node (%s)" % code)
    c = env.tail("app_a", 'table = "t1"', instance="c", extra=tail_auth(env, "app-a"))
    check(c.poll() is None and a.poll() is None, "an instance with the same filter joins")
    ctl(env, "policy", "app_a", "--on-purged", "oldest")
    doc = app_doc()
    check(doc.get("on_purged") == "oldest" and doc.get("filter") == '{"eq":["table","t1"]}',
          "wormhole-ctl policy keeps the app's filter (%s)" % doc)
    check(acl("/apps/app_a") == app_acl,
          "the app node keeps its ACL after registrations, a refusal and policy: %s"
          % acl("/apps/app_a"))
    inst_acl = {"digest:%s 31" % digest("app-a"), "digest:%s 17" % digest("wh-publisher")}
    for name in ("a", "c"):
        check(acl("/apps/app_a/instances/" + name) == inst_acl,
              "instance %s's node carries the table's ACL (created in the multi-op)" % name)
    p = env.publisher({"rate": 2000, "tables": 4}, zookeeper=pub_zk(env))
    wait_until(lambda: len(read_lines(a.out)) + len(read_lines(c.out)) >= 50, 60,
               "updates at app_a")
    got = read_lines(a.out) + read_lines(c.out)
    check(all(u["table"] == "t1" for u in got), "app_a receives only t1 (%d)" % len(got))
    check(p.poll() is None, "the publisher runs")


SCENARIOS = {"delivery": sc_delivery, "refusals": sc_refusals, "zk_restart": sc_zk_restart,
             "session_expiry": sc_session_expiry, "convert": sc_convert,
             "one_filter": sc_one_filter}


def main(argv):
    if len(argv) < 2 or argv[1] not in SCENARIOS:
        print(__doc__)
        return 2
    source = "synthetic"
    if "--source" in argv:
        source = argv[argv.index("--source") + 1]
    for exe in (td.PUBLISHER, td.TAIL, CTL, td.ZK_CHECK):
        if not os.path.exists(exe):
            print("skip: %s is not built" % exe)
            return td.SKIP
    if source == "mariadb":
        out = subprocess.run([td.LOGCAT, "--help"], capture_output=True, text=True)
        if "options of mapper 'mysql'" not in out.stdout:
            print("skip: the mysql mapper is not built")
            return td.SKIP
    with wh.Stack() as stack:
        env = td.Env(stack, source, zk_super=SECRETS["super"])
        try:
            SCENARIOS[argv[1]](env)
            env.stop_all()
            bad = stack.sanitizer_report()
            if bad:
                raise Failed(bad)
            check(True, "no sanitizer reports in the processes' logs")
        except Failed as e:
            print("FAILED: %s" % e, flush=True)
            stack.print_log_tails()
            return 1
        finally:
            env.stop_all()
    print("%s (%s): passed" % (argv[1], source))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
