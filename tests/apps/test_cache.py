#!/usr/bin/env python3
"""Integration tests of wormhole-cache with real MariaDB, ZooKeeper, memcached and Redis.

Usage: python3 tests/apps/test_cache.py SCENARIO

Every scenario starts its own throwaway servers (tests/harness), a publisher
on the MariaDB binlog and wormhole-cache with delete rules on memcached and
Redis (user:{id}, email:{email}, post:{id}, and feed:{owner_id} filtered to
public posts) plus a set rule on Redis (ujson:{id} = the row as JSON). Four
client threads write inserts, updates (also of key columns: email, owner_id,
the primary key) and deletes on two tables, while two read-through fillers
read random rows from MariaDB and store them in memcached and Redis the way
a correct read-through cache does: take a lease on the missed key (memcached
mg with vivify-on-miss; Redis SET NX of a token), read the database, store
only if the lease still holds (ms with CAS; a compare-and-set script). After
the load stops and the app has applied the last transaction, EVERY key in
both caches must hold the value the database gives now, or be absent; every
current users row must have its ujson key with the row's JSON (where the
cache kept its data).

Scenarios:
  consistency    the above, with an ALTER TABLE on posts mid-load (on_ddl flush)
  cache_restart  memcached, then Redis, is killed mid-load and restarted seconds later:
                 while a cache is down the acknowledged position in ZooKeeper and the
                 app's applied count do not move although the load goes on, the app
                 logs the outage once and its end once, and does not crash
  kill_app       wormhole-cache is killed with SIGKILL mid-load and started again

Prints what it checks; exits 0 on success, 1 on a failed check. The workload
prints its seed (WH_SEED replays it). WH_CACHE_SECOND_DELETE_MS sets the app's
apply.second_delete_ms (default 1000; 0 leaves out the second deletes that
cover a fill reading a row between its binlog write and its commit becoming
visible).
"""
import base64
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import wh_harness as wh  # noqa: E402
import wh_caches as whc  # noqa: E402

BUILD = os.environ.get("WH_BUILD_ROOT", os.path.join(ROOT, "build"))
PUBLISHER = os.path.join(BUILD, "publisher", "wormhole-publisher")
CACHE = os.path.join(BUILD, "apps", "cache", "wormhole-cache")
ZK_WATCH = os.path.join(BUILD, "tests", "publisher", "zk_watch")
THREADS = 4
ROOT_ZK = "/wh"
APP = "cache"


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)
    print("ok: %s" % what, flush=True)


def log(msg):
    print("# %s" % msg, flush=True)


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + wh.scaled(timeout)
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise Failed("timed out after %.0f s waiting for %s" % (wh.scaled(timeout), what))


# ---- database access -------------------------------------------------------------------------

class SqlReader:
    """One persistent mariadb client session for many small queries (the fillers' reads)."""

    def __init__(self, db):
        self.p = subprocess.Popen(
            [wh._find_exe("mariadb"), "--no-defaults", "--user=root", "--socket=" + db.socket,
             "--batch", "--skip-column-names", "--unbuffered", "--default-character-set=utf8mb4"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            bufsize=1)

    def rows(self, sql):
        self.p.stdin.write(sql + ";\nSELECT '#END#';\n")
        self.p.stdin.flush()
        out = []
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise Failed("the mariadb client exited: %s" % self.p.stderr.read()[-500:])
            line = line.rstrip("\n")
            if line == "#END#":
                return out
            out.append([None if f == "NULL" else f for f in line.split("\t")])

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=10)
        except Exception:  # noqa: BLE001 - best effort
            self.p.kill()


def sqlstr(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def expected(sql, key):
    """The value a reader computes for key from the database now (str), "-" for no row."""
    kind, arg = key.split(":", 1)
    if kind == "user":
        r = sql.rows("SELECT id, email, name, score, note FROM app.users WHERE id = %d" % int(arg))
        return "|".join("N" if f is None else f for f in r[0]) if r else "-"
    if kind == "email":
        r = sql.rows("SELECT GROUP_CONCAT(id ORDER BY id) FROM app.users WHERE email = %s"
                     % sqlstr(arg))
        return r[0][0] if r and r[0][0] is not None else "-"
    if kind == "post":
        r = sql.rows("SELECT id, owner_id, title, status FROM app.posts WHERE id = %d" % int(arg))
        return "|".join(r[0]) if r else "-"
    if kind == "feed":
        r = sql.rows("SELECT GROUP_CONCAT(id ORDER BY id) FROM app.posts WHERE owner_id = %d "
                     "AND status = 'public'" % int(arg))
        return r[0][0] if r and r[0][0] is not None else "-"
    raise Failed("unexpected key %r" % key)


def user_ids(t):
    return [t * 1000 + i for i in range(40)] + [t * 1000 + 500 + i for i in range(20)]


def emails(t):
    return ["e%d_%d@x" % (t, k) for k in range(12)] + ["shared%d@x" % k for k in range(4)]


def key_universe(rng):
    t = rng.randrange(THREADS)
    r = rng.random()
    if r < 0.35:
        return "user:%d" % rng.choice(user_ids(t))
    if r < 0.55:
        return "email:%s" % rng.choice(emails(t))
    if r < 0.8:
        return "post:%d" % (t * 1000 + rng.randrange(40))
    return "feed:%d" % rng.randrange(1, 13)


def workload(rng, t, n):
    """n statements of writer t (its own ids; shared emails and post owners)."""
    out = []
    for i in range(n):
        uid = rng.choice(user_ids(t))
        pid = t * 1000 + rng.randrange(40)
        r = rng.random()
        if r < 0.22:
            note = "NULL" if rng.random() < 0.3 else sqlstr("note %d" % i)
            out.append("INSERT INTO app.users VALUES (%d, %s, %s, %d.%02d, '2024-02-29', "
                       "NOW(3), UNHEX('%032x'), %s) ON DUPLICATE KEY UPDATE name = VALUES(name), "
                       "email = VALUES(email), score = score + 1"
                       % (uid, sqlstr(rng.choice(emails(t))), sqlstr("n%d-%d" % (t, i)),
                          rng.randrange(1000), rng.randrange(100), rng.getrandbits(128), note))
        elif r < 0.38:
            out.append("UPDATE app.users SET name = %s, score = score + 1, updated = NOW(3) "
                       "WHERE id = %d" % (sqlstr("u%d-%d" % (t, i)), uid))
        elif r < 0.50:
            out.append("UPDATE app.users SET email = %s WHERE id = %d"
                       % (sqlstr(rng.choice(emails(t))), uid))
        elif r < 0.55:
            out.append("UPDATE IGNORE app.users SET id = %d WHERE id = %d"
                       % (rng.choice(user_ids(t)), uid))
        elif r < 0.63:
            out.append("DELETE FROM app.users WHERE id = %d" % uid)
        elif r < 0.75:
            out.append("INSERT INTO app.posts (id, owner_id, title, status) VALUES (%d, %d, %s, %s) "
                       "ON DUPLICATE KEY UPDATE "
                       "title = VALUES(title), status = VALUES(status)"
                       % (pid, rng.randrange(1, 13), sqlstr("t%d-%d" % (t, i)),
                          sqlstr(rng.choice(["draft", "public"]))))
        elif r < 0.85:
            out.append("UPDATE app.posts SET owner_id = %d WHERE id = %d"
                       % (rng.randrange(1, 13), pid))
        elif r < 0.93:
            out.append("UPDATE app.posts SET status = IF(status = 'public', 'draft', 'public') "
                       "WHERE id = %d" % pid)
        elif r < 0.96:
            out.append("DELETE FROM app.posts WHERE id = %d" % pid)
        else:
            out.append("BEGIN; UPDATE app.users SET score = score + 2 WHERE id = %d; "
                       "UPDATE app.posts SET title = %s WHERE id = %d; COMMIT"
                       % (uid, sqlstr("x%d-%d" % (t, i)), pid))
    return out


# ---- fillers ---------------------------------------------------------------------------------

REDIS_CAS = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
             "return redis.call('set', KEYS[1], ARGV[2]) else return 0 end")


class Filler(threading.Thread):
    """A read-through cache reader: on a miss, take a lease, read MariaDB, store if the lease
    still holds. Cache errors (a cache that is down) are counted and skipped."""

    def __init__(self, env, kind, seed):
        super().__init__(daemon=True)
        self.env, self.kind, self.rng = env, kind, random.Random(seed)
        self.stop = threading.Event()
        self.n = {"stored": 0, "lost_lease": 0, "hits": 0, "errors": 0}

    def run(self):
        sql = SqlReader(self.env.db)
        mc = whc.MemcacheClient(self.env.mc.port, timeout=2)
        rd = whc.RedisClient(self.env.rd.port, timeout=2)
        try:
            while not self.stop.is_set():
                key = key_universe(self.rng)
                try:
                    if self.kind == "memcached":
                        self.fill_mc(mc, sql, key)
                    else:
                        self.fill_redis(rd, sql, key)
                except whc.CacheError:
                    self.n["errors"] += 1
                    time.sleep(0.05)
        finally:
            sql.close()
            mc.close()
            rd.close()

    def fill_mc(self, mc, sql, key):
        st, x = mc.lease_get(key, ttl=60)
        if st != "win":
            self.n["hits"] += st == "hit"
            return
        val = expected(sql, key)
        if mc.lease_set(key, val, x):
            self.n["stored"] += 1
        else:
            self.n["lost_lease"] += 1

    def fill_redis(self, rd, sql, key):
        if rd.command("GET", key) is not None:
            self.n["hits"] += 1
            return
        token = "lease:%d" % self.rng.getrandbits(63)
        if rd.command("SET", key, token, "NX", "PX", "60000") != "OK":
            return
        val = expected(sql, key)
        if rd.command("EVAL", REDIS_CAS, "1", key, token, val) == "OK":
            self.n["stored"] += 1
        else:
            self.n["lost_lease"] += 1


# ---- the stack -------------------------------------------------------------------------------

class Env:
    def __init__(self, stack):
        self.stack = stack
        self.zk = stack.zookeeper()
        self.db = stack.mariadb()
        self.mc = whc.memcached(stack)
        self.rd = whc.redis(stack)
        self.procs = []
        self.n = 0
        self.status = stack.path("cache-status.json")
        self.db.sql("CREATE DATABASE app")
        self.db.sql("CREATE TABLE app.users (id INT PRIMARY KEY, email VARCHAR(64), "
                    "name VARCHAR(64), score DECIMAL(10,2), born DATE, updated DATETIME(3), "
                    "avatar VARBINARY(16), note TEXT)")
        self.db.sql("CREATE TABLE app.posts (id INT PRIMARY KEY, owner_id INT NOT NULL, "
                    "title VARCHAR(64), status ENUM('draft','public') NOT NULL)")

    def publisher(self):
        self.n += 1
        cfg = {"shard": "s1", "id": "pub-test",
               "mapper": {"name": "mysql", "options": {"binlog_dir": self.db.binlog_dir}},
               "zookeeper": {"connect": self.zk.connect, "root": ROOT_ZK,
                             "session_timeout_ms": 4000},
               "delivery": {"heartbeat_interval_ms": 300, "heartbeat_timeout_ms": 3000,
                            "datamarker_interval_ms": 50, "retry_max_ms": 1000},
               "positions": {"flush_interval_ms": 100}}
        path = self.stack.path("pub%d.json" % self.n)
        with open(path, "w") as f:
            json.dump(cfg, f)
        logf = open(self.stack.path("pub%d.log" % self.n), "w")
        p = subprocess.Popen([PUBLISHER, "--config", path], stderr=logf)
        self.procs.append(p)
        return p

    def app_config(self):
        cfg = {
            "subscriber": {"zookeeper": self.zk.connect, "zk_root": ROOT_ZK, "app": APP,
                           "session_timeout_ms": 2000},
            "caches": [{"name": "mc", "type": "memcached", "servers": [self.mc.server],
                        "timeout_ms": 500},
                       {"name": "r", "type": "redis", "servers": [self.rd.server],
                        "timeout_ms": 500}],
            "rules": [{"table": "app.users", "keys": ["user:{id}", "email:{email}"],
                       "columns": ["id", "email", "name", "score", "born", "updated",
                                   "avatar", "note"]},
                      {"table": "app.posts", "keys": ["post:{id}"], "on_ddl": "flush"},
                      {"table": "app.posts", "keys": ["feed:{owner_id}"],
                       "filter": "status = \"public\""},
                      {"table": "app.users", "keys": ["ujson:{id}"], "action": "set",
                       "caches": ["r"]}],
            "apply": {"retry_min_ms": 50, "retry_max_ms": 1000,
                      "second_delete_ms": int(os.environ.get("WH_CACHE_SECOND_DELETE_MS",
                                                             "1000"))},
            "stats": {"interval_ms": 1000},
        }
        path = self.stack.path("cache.json")
        with open(path, "w") as f:
            json.dump(cfg, f, indent=1)
        return path

    def app(self):
        self.n += 1
        logpath = self.stack.path("cache%d.log" % self.n)
        logf = open(logpath, "w")
        p = subprocess.Popen([CACHE, "--config", self.app_config(), "--status-file",
                              self.status], stderr=logf)
        p.logpath = logpath
        self.procs.append(p)
        wait_until(lambda: "registered " in self.log(p), 30, "the app's registration")
        return p

    def log(self, p):
        with open(p.logpath) as f:
            return f.read()

    def status_json(self):
        try:
            with open(self.status) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def write_load(self, seed, rounds=10, per_round=150, pause=0.2, ddl_at=None, until=None):
        """Writes rounds of statements from THREADS threads; with until (an Event), goes on
        past rounds until it is set (at most 50 times as many)."""
        errors = []

        def writer(t):
            rng = random.Random(seed * 100 + t)
            r = 0
            while r < rounds or (until is not None and not until.is_set() and r < 50 * rounds):
                if r:
                    time.sleep(pause)
                if ddl_at is not None and t == 0 and r == ddl_at:
                    self.db.sql("ALTER TABLE app.posts ADD COLUMN extra INT NULL")
                    log("ALTER TABLE app.posts ADD COLUMN extra (round %d)" % r)
                try:
                    self.db.sql_script(";\n".join(workload(rng, t, per_round)) + ";\n")
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(e)
                    return
                r += 1

        ts = [threading.Thread(target=writer, args=(t,)) for t in range(THREADS)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise Failed("workload failed: %s" % errors[0])

    def wait_applied(self):
        """Waits until the app applied the database's last transaction."""
        self.db.sql("INSERT INTO app.users (id, email, name) VALUES (999999, 'last@x', 'last')")
        gtid = self.db.gtid_binlog_pos()

        def caught_up():
            st = self.status_json()
            sh = st.get("shards", {}).get("s1", {})
            return (sh.get("logical") or "").split("/")[0] == gtid and \
                st.get("updates_queued") == 0
        wait_until(caught_up, 120, "the app to apply GTID %s" % gtid)
        check(True, "the app applied the last transaction (GTID %s)" % gtid)
        wait_until(lambda: self.status_json().get("second_delete_batches") == 0, 30,
                   "the app's second deletes")


# ---- checks ----------------------------------------------------------------------------------

def stale_keys(env, sql, counts):
    """The keys of memcached and Redis (but ujson:*) that hold something else than what the
    database gives now; counts what was checked."""
    mc = whc.MemcacheClient(env.mc.port)
    rd = whc.RedisClient(env.rd.port)
    bad = []
    for key in mc.keys():
        m = mc.meta(key)
        if m is None:
            continue            # expired or deleted since the dump
        value, flags = m
        k = key.decode()
        if k.startswith("wormhole-cache:barrier:"):
            continue
        if value == b"" and (b"W" in flags or b"Z" in flags):
            counts["placeholders"] += 1     # a lease without a value: absent
            continue
        counts["memcached"] += 1
        want = expected(sql, k)
        if value.decode() != want:
            bad.append(("memcached", k, value.decode(), want))
    for key in rd.keys():
        k = key.decode()
        value = rd.command("GET", k)
        if value is None or k.startswith("ujson:"):
            continue
        if value.startswith(b"lease:"):
            counts["placeholders"] += 1
            continue
        counts["redis"] += 1
        want = expected(sql, k)
        if value.decode() != want:
            bad.append(("redis", k, value.decode(), want))
    mc.close()
    rd.close()
    return bad


def check_caches(env, ujson_complete):
    """Every key in memcached and Redis holds what the database gives now, or is absent."""
    sql = SqlReader(env.db)
    try:
        counts = {"memcached": 0, "redis": 0, "placeholders": 0}
        bad = ["%s %s = %r, database: %r" % b for b in stale_keys(env, sql, counts)]
        # The set rule: each current row's JSON, no key for a row that is gone.
        rd = whc.RedisClient(env.rd.port)
        ujson = {}
        for key in rd.keys():
            if key.startswith(b"ujson:"):
                value = rd.command("GET", key)
                if value is not None:
                    ujson[int(key[6:])] = value
        rows = sql.rows("SELECT id, email, name, score, DATE_FORMAT(born, '%Y-%m-%d'), "
                        "LEFT(DATE_FORMAT(updated, '%Y-%m-%d %H:%i:%s.%f'), 23), HEX(avatar), "
                        "note FROM app.users")
        current = {}
        for r in rows:
            current[int(r[0])] = {"id": int(r[0]), "email": r[1], "name": r[2], "score": r[3],
                                  "born": r[4], "updated": r[5],
                                  "avatar": None if r[6] is None else
                                  base64.b64encode(bytes.fromhex(r[6])).decode(),
                                  "note": r[7]}
        missing = 0
        for uid, want in current.items():
            if uid not in ujson:
                missing += 1
                continue
            got = json.loads(ujson[uid])
            if got != want:
                bad.append("redis ujson:%d = %s, database: %s" % (uid, got, want))
        for uid in ujson:
            if uid not in current:
                bad.append("redis ujson:%d exists, but the row is gone" % uid)
        for b in bad[:20]:
            log("STALE: " + b)
        check(not bad, "every key in both caches holds the database's current value or is "
              "absent (%d memcached and %d redis keys checked, %d lease placeholders)"
              % (counts["memcached"], counts["redis"], counts["placeholders"]))
        check(counts["memcached"] > 20 and counts["redis"] > 20,
              "the check covered filled keys in both caches")
        if ujson_complete:
            check(missing == 0, "every users row has its ujson key with the row's JSON "
                  "(%d rows; set rule)" % len(current))
        else:
            check(True, "%d of %d users rows have their ujson key with the row's JSON "
                  "(the rest were lost with the restarted Redis)" % (len(current) - missing,
                                                                     len(current)))
        # The check itself can fail: a planted stale value is found.
        mc = whc.MemcacheClient(env.mc.port)
        mc.set(b"user:0", b"stale")
        found = [b for b in stale_keys(env, sql, dict(counts)) if b[1] == "user:0"]
        mc.delete(b"user:0")
        mc.close()
        check(len(found) == 1, "the check detects a planted stale value (user:0)")
    finally:
        sql.close()


def run_with_fillers(env, seed, body):
    """Runs body (the load) with both fillers reading through; they go on reading for a
    little after the load (past the app's second deletes), as an app's readers would."""
    fillers = [Filler(env, "memcached", seed + 1), Filler(env, "redis", seed + 2)]
    for f in fillers:
        f.start()
    try:
        body()
        time.sleep(2)
    finally:
        for f in fillers:
            f.stop.set()
        for f in fillers:
            f.join(timeout=30)
    for f in fillers:
        log("filler %s: %s" % (f.kind, f.n))
    check(all(f.n["stored"] > 50 for f in fillers), "the fillers stored values in both caches "
          "during the load")
    return fillers


def seed_of():
    seed = int(os.environ.get("WH_SEED", int(time.time())))
    log("workload seed %d (WH_SEED=%d replays it)" % (seed, seed))
    return seed


# ---- scenarios -------------------------------------------------------------------------------

def sc_consistency(env):
    seed = seed_of()
    app = env.app()
    env.publisher()
    fillers = run_with_fillers(env, seed, lambda: env.write_load(seed, ddl_at=5))
    env.wait_applied()
    log("leases lost to an invalidation that raced the fill: %s"
        % [f.n["lost_lease"] for f in fillers])
    check_caches(env, ujson_complete=True)
    st = env.status_json()
    check(st["ops"]["delete"] > 1000 and st["ops"]["set"] > 100 and st["ops"]["flush"] >= 2,
          "the app deleted %d keys, set %d and flushed %d times (DDL on posts: memcached "
          "flush_all, Redis SCAN+DEL of post:*)" % (st["ops"]["delete"], st["ops"]["set"],
                                                    st["ops"]["flush"]))
    check("DDL at" in env.log(app) and "flushing the rule's keys" in env.log(app),
          "the app logged the DDL and the flush")
    app.terminate()
    check(app.wait(timeout=20) == 0, "SIGTERM stops the app with exit status 0")
    check(env.status_json().get("state") == "stopped", "the status file says stopped")


def position_of(watch_out, t0, t1):
    """Distinct app positions zk_watch saw between monotonic ms t0 and t1."""
    seen = []
    with open(watch_out) as f:
        for line in f:
            if not line.endswith("\n"):
                continue
            e = json.loads(line)
            if e.get("kind") == "data" and e["version"] >= 0 and t0 <= e["t"] <= t1:
                seen.append(json.loads(e["data"]).get("physical"))
    return seen


def outage(env, app, server, watch_out, what):
    """Kills a cache server for a while during the load; checks nothing moves meanwhile."""
    before = env.status_json().get("updates_applied", 0)
    server.kill()
    t_kill = time.monotonic() * 1000
    log("killed %s (the app had applied %d updates)" % (what, before))
    time.sleep(wh.scaled(1.5))          # acks of rounds confirmed before the kill settle
    t0 = time.monotonic() * 1000
    applied0 = env.status_json().get("updates_applied", 0)
    gtid0 = env.db.gtid_binlog_pos()
    time.sleep(wh.scaled(3))
    applied1 = env.status_json().get("updates_applied", 0)
    gtid1 = env.db.gtid_binlog_pos()
    t1 = time.monotonic() * 1000
    st = env.status_json()
    down = [c for c in st.get("caches", []) if c["state"] == "down"]
    server.start()
    log("restarted %s after %.1f s" % (what, (time.monotonic() * 1000 - t_kill) / 1000))
    check(gtid1 != gtid0, "%s: the load went on while it was down (%s -> %s)"
          % (what, gtid0, gtid1))
    check(applied1 == applied0, "%s: no update counted as applied while it was down (%d)"
          % (what, applied0))
    moved = set(position_of(watch_out, t0, t1))
    check(len(moved) <= 1, "%s: the acknowledged position in ZooKeeper did not move while it "
          "was down (%s)" % (what, sorted(moved)))
    check(len(down) == 1, "%s: the status file showed the cache down (%s)"
          % (what, [c["name"] for c in down]))
    check(app.poll() is None, "%s: the app is still running" % what)
    return t1


def sc_cache_restart(env):
    seed = seed_of()
    watch_out = env.stack.path("zkwatch.jsonl")
    watch = subprocess.Popen([ZK_WATCH, env.zk.connect, "20",
                              "data:%s/apps/%s/positions/s1" % (ROOT_ZK, APP)],
                             stdout=open(watch_out, "w"), stderr=subprocess.DEVNULL)
    env.procs.append(watch)
    app = env.app()
    env.publisher()
    ends = []

    def body():
        done = threading.Event()
        writer = threading.Thread(target=env.write_load, args=(seed,),
                                  kwargs={"rounds": 10, "per_round": 60, "pause": 0.3,
                                          "until": done})
        writer.start()
        try:
            wait_until(lambda: env.status_json().get("updates_applied", 0) > 300, 60,
                       "the first updates applied")
            ends.append(outage(env, app, env.mc, watch_out, "memcached"))
            wait_until(lambda: not any(c["state"] == "down" for c in
                                       env.status_json().get("caches", [])),
                       30, "memcached to be used again")
            ends.append(outage(env, app, env.rd, watch_out, "redis"))
            check(writer.is_alive(), "the load was still running after both outages")
            time.sleep(1)
        finally:
            done.set()
            writer.join()
    run_with_fillers(env, seed, body)
    env.wait_applied()
    for what, t1 in zip(("memcached", "redis"), ends):
        check(len(set(position_of(watch_out, t1, float("inf")))) > 1,
              "after %s came back, the acknowledged position moved on in ZooKeeper" % what)
    text = env.log(app)
    for name in ("mc", "r"):
        check(text.count("cache '%s' is down" % name) == 1 and
              text.count("cache '%s' (" % name) >= 1 and "is up again" in text,
              "the app logged cache '%s' going down once and coming back" % name)
    check_caches(env, ujson_complete=False)
    app.terminate()
    check(app.wait(timeout=20) == 0, "SIGTERM stops the app with exit status 0")


def sc_kill_app(env):
    seed = seed_of()
    app = env.app()
    env.publisher()

    def body():
        done = threading.Event()
        writer = threading.Thread(target=env.write_load, args=(seed,),
                                  kwargs={"rounds": 10, "per_round": 80, "pause": 0.3,
                                          "until": done})
        writer.start()
        try:
            wait_until(lambda: env.status_json().get("updates_applied", 0) > 500, 60,
                       "the first updates applied")
            app.send_signal(signal.SIGKILL)
            app.wait()
            log("killed wormhole-cache with SIGKILL after %d applied updates"
                % env.status_json().get("updates_applied", 0))
            time.sleep(0.5)
            check(writer.is_alive(), "the load was still running after the kill")
            env.app_again = env.app()
            wait_until(lambda: env.status_json().get("updates_applied", 0) > 200, 60,
                       "the restarted app to apply updates")
            check(writer.is_alive(), "the load was still running when the restarted app "
                  "applied its first updates")
            time.sleep(1)
        finally:
            done.set()
            writer.join()
    run_with_fillers(env, seed, body)
    env.wait_applied()
    check_caches(env, ujson_complete=True)
    env.app_again.terminate()
    check(env.app_again.wait(timeout=20) == 0, "SIGTERM stops the restarted app with status 0")


SCENARIOS = {"consistency": sc_consistency, "cache_restart": sc_cache_restart,
             "kill_app": sc_kill_app}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print(__doc__, file=sys.stderr)
        return 2
    for exe in (PUBLISHER, CACHE):
        if not os.path.exists(exe):
            print("missing %s (build first; WH_BUILD_ROOT=%s)" % (exe, BUILD), file=sys.stderr)
            return 1
    with wh.Stack() as stack:
        env = Env(stack)
        try:
            SCENARIOS[sys.argv[1]](env)
        except Failed as e:
            print("FAILED: %s" % e, flush=True)
            print("(logs in %s; WH_KEEP_TMP=1 keeps them)" % stack.tmpdir, flush=True)
            for p in env.procs:
                if hasattr(p, "logpath"):
                    print("--- tail of %s:\n%s" % (p.logpath, wh._tail(p.logpath, 30)))
            return 1
        finally:
            env.stop_all()
    print("test_cache %s: passed" % sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
