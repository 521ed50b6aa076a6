"""Throwaway memcached and Redis servers on loopback, and small clients for them, for wormhole's tests.

Python 3 standard library only; an extension of wh_harness (same process
bookkeeping: each server runs in its own process group in the stack's temp
dir, on a free 127.0.0.1 port, reads no system configuration file, and is
killed by the stack's teardown, at exit and on SIGTERM).

    import wh_harness as wh, wh_caches as whc
    with wh.Stack() as st:
        mc = whc.memcached(st)              # mc.port, mc.server == "127.0.0.1:PORT"
        rd = whc.redis(st)
        c = whc.MemcacheClient(mc.port); c.set(b"k", b"v"); c.get(b"k")
        r = whc.RedisClient(rd.port); r.command("SET", "k", "v")
        mc.kill(); mc.start()               # a crash and a restart on the same port (data is gone)

The clients speak just what the tests need: memcached's text and meta
commands (mg/ms with CAS and vivify-on-miss leases, lru_crawler metadump to
list every key) and Redis's RESP.
"""

import os
import signal
import socket
import urllib.parse

import wh_harness as wh

__all__ = ["Memcached", "Redis", "memcached", "redis", "MemcacheClient", "RedisClient",
           "CacheError"]


class CacheError(RuntimeError):
    """A cache server answered with an error, or the connection failed."""


def _ping(port, payload, expect):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(payload)
            data = b""
            while expect not in data and len(data) < 4096:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return expect in data
    except OSError:
        return False


class _Server:
    """What memcached and Redis share: a port kept across restarts, a log, start/kill/stop."""

    name = "server"

    def __init__(self, basedir, name=None):
        self.basedir = basedir
        self.name = name or self.name
        self.port = None
        self.proc = None
        self.log = os.path.join(basedir, "server.log")
        os.makedirs(basedir, exist_ok=True)

    @property
    def server(self):
        return "127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def _argv(self):
        raise NotImplementedError

    def _ready(self):
        raise NotImplementedError

    def start(self, attempts=3):
        """Start the server (on its old port after a kill or stop) and wait until it answers."""
        if self.pid is not None:
            return self
        keep_port = self.port is not None
        for attempt in range(attempts):
            if self.port is None:
                self.port = wh.free_port()
            with open(self.log, "ab") as f:
                f.write(("---- starting %s on port %d\n" % (self.name, self.port)).encode())
            self.proc = wh._spawn(self.name, self._argv(), self.log)
            try:
                wh._wait_until("%s (port %d)" % (self.name, self.port), self._ready,
                               wh.scaled(30), self.proc, self.log, interval=0.05)
                return self
            except wh.HarnessError:
                self.kill()
                if keep_port or attempt + 1 == attempts:
                    raise
                self.port = None       # somebody took the port: pick another
        return self

    def kill(self):
        """SIGKILL the server: a crash (its data is lost: these servers do not persist)."""
        if self.proc is not None:
            wh._killpg(self.proc, signal.SIGKILL)
            self.proc = None

    def stop(self):
        """SIGTERM the server and wait (SIGKILL if it hangs)."""
        if self.proc is not None:
            wh._killpg(self.proc, signal.SIGTERM, wait=wh.scaled(10))
            self.proc = None

    def restart(self):
        self.kill()
        return self.start()


class Memcached(_Server):
    """One memcached (Debian's /usr/bin/memcached): 64 MB, two threads, no UDP."""

    name = "memcached"

    def _argv(self):
        argv = [wh._find_exe("memcached"), "-l", "127.0.0.1", "-p", str(self.port), "-U", "0",
                "-m", "64", "-t", "2", "-c", "1024",
                "-P", os.path.join(self.basedir, "memcached.pid")]   # names its dir (check_leaks)
        if os.geteuid() == 0:
            argv += ["-u", "root"]      # memcached refuses to run as root without it
        return argv

    def _ready(self):
        return _ping(self.port, b"version\r\n", b"VERSION")


class Redis(_Server):
    """One redis-server with no persistence (no RDB, no AOF) and no config file."""

    name = "redis"

    def _argv(self):
        return [wh._find_exe("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.basedir,
                "--logfile", os.path.join(self.basedir, "redis.log"), "--daemonize", "no",
                "--protected-mode", "no", "--databases", "16"]

    def _ready(self):
        return _ping(self.port, b"PING\r\n", b"+PONG")


def _add(stack, cls, prefix):
    n = sum(1 for s in stack.servers if isinstance(s, cls)) + 1
    srv = cls(stack.path("%s%d" % (prefix, n)), name="%s%d" % (cls.name, n))
    stack.servers.append(srv)      # the stack's teardown kills it
    return srv.start()


def memcached(stack):
    """Start a memcached in the stack's temp dir; returns the Memcached object."""
    return _add(stack, Memcached, "mc")


def redis(stack):
    """Start a redis-server in the stack's temp dir; returns the Redis object."""
    return _add(stack, Redis, "rd")


# --- clients ---------------------------------------------------------------------------------

class _Conn:
    def __init__(self, port, timeout):
        self.port = port
        self.timeout = timeout
        self.sock = None
        self.buf = b""

    def _connect(self):
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port),
                                                 timeout=self.timeout)
            self.buf = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise CacheError("port %d closed the connection" % self.port)
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _send(self, data):
        try:
            self._connect()
            self.sock.sendall(data)
        except OSError as e:
            self.close()
            raise CacheError("port %d: %s" % (self.port, e))


def _b(x):
    return x if isinstance(x, bytes) else str(x).encode()


class MemcacheClient(_Conn):
    """memcached text and meta protocol on one connection (reconnects after an error)."""

    def __init__(self, port, timeout=5.0):
        super().__init__(port, timeout)

    def _call(self, data, reader):
        try:
            self._send(data)
            return reader()
        except (OSError, CacheError) as e:
            self.close()
            raise CacheError("memcached port %d: %s" % (self.port, e))

    def get(self, key):
        """The value (bytes) or None."""
        def read():
            line = self._line()
            if line == b"END":
                return None
            parts = line.split()
            if parts[0] != b"VALUE":
                raise CacheError("get: %r" % line)
            value = self._exact(int(parts[3]))
            if self._line() != b"END":
                raise CacheError("get: no END")
            return value
        return self._call(b"get " + _b(key) + b"\r\n", read)

    def set(self, key, value, ttl=0):
        value = _b(value)
        line = self._call(b"set %s 0 %d %d\r\n%s\r\n" % (_b(key), ttl, len(value), value),
                          self._line)
        if line != b"STORED":
            raise CacheError("set: %r" % line)

    def delete(self, key):
        line = self._call(b"delete " + _b(key) + b"\r\n", self._line)
        return line == b"DELETED"

    def lease_get(self, key, ttl=30):
        """mg with vivify-on-miss: ('hit', value), ('win', cas) when this caller must fill
        the key (a placeholder now holds it), or ('busy', None) when another filler has
        the lease."""
        def read():
            line = self._line()
            parts = line.split()
            if parts[0] != b"VA":
                raise CacheError("mg: %r" % line)
            value = self._exact(int(parts[1]))
            flags = parts[2:]
            cas = [f[1:] for f in flags if f.startswith(b"c")]
            if b"W" in flags:
                return ("win", int(cas[0]))
            if b"Z" in flags or b"X" in flags:
                return ("busy", None)
            return ("hit", value)
        return self._call(b"mg %s v c N%d\r\n" % (_b(key), ttl), read)

    def lease_set(self, key, value, cas, ttl=0):
        """ms with compare-and-swap: True if stored, False if the key changed or vanished
        (an invalidation came in between)."""
        value = _b(value)
        line = self._call(b"ms %s %d C%d T%d\r\n%s\r\n" % (_b(key), len(value), cas, ttl, value),
                          self._line)
        if line.startswith(b"HD"):
            return True
        if line.startswith(b"EX") or line.startswith(b"NF"):
            return False
        raise CacheError("ms: %r" % line)

    def meta(self, key):
        """(value, flags) of a key without touching its LRU state, or None if absent."""
        def read():
            line = self._line()
            if line.startswith(b"EN"):
                return None
            parts = line.split()
            if parts[0] != b"VA":
                raise CacheError("mg: %r" % line)
            return (self._exact(int(parts[1])), parts[2:])
        return self._call(b"mg %s v\r\n" % _b(key), read)

    def keys(self):
        """Every key the server holds (lru_crawler metadump all; its lines end in \\n,
        the dump in END\\r\\n)."""
        def read():
            while not (self.buf.startswith(b"END\r\n") or b"\nEND\r\n" in self.buf):
                if self.buf.startswith(b"ERROR") or self.buf.startswith(b"BUSY"):
                    raise CacheError("metadump: %r" % self.buf[:200])
                self._fill()
            dump, self.buf = self.buf.split(b"END\r\n", 1)
            out = []
            for line in dump.split(b"\n"):
                for field in line.split():
                    if field.startswith(b"key="):
                        out.append(urllib.parse.unquote_to_bytes(field[4:].decode()))
            return out
        return self._call(b"lru_crawler metadump all\r\n", read)

    def stats(self):
        def read():
            st = {}
            while True:
                line = self._line()
                if line == b"END":
                    return st
                parts = line.decode().split()
                if len(parts) >= 3:
                    st[parts[1]] = parts[2]
        return self._call(b"stats\r\n", read)


class RedisClient(_Conn):
    """Redis RESP on one connection (reconnects after an error)."""

    def __init__(self, port, timeout=5.0):
        super().__init__(port, timeout)

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return CacheError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise CacheError("bad RESP line %r" % line)

    def command(self, *args):
        """Sends one command; returns its reply (str, int, bytes, list or None); raises
        CacheError for an error reply."""
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = _b(a)
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        try:
            self._send(b"".join(out))
            r = self._reply()
        except (OSError, CacheError) as e:
            self.close()
            raise CacheError("redis port %d: %s" % (self.port, e))
        if isinstance(r, CacheError):
            raise r
        return r

    def keys(self):
        """Every key (SCAN to the end)."""
        cursor, out = b"0", []
        while True:
            cursor, batch = self.command("SCAN", cursor, "COUNT", "1000")
            out.extend(batch)
            if cursor == b"0":
                return out
