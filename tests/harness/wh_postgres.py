"""Throwaway PostgreSQL servers for wormhole's tests, next to wh_harness's MariaDB and ZooKeeper.

Python 3 standard library only. A server is initialised with initdb in a
directory of its own under a wh_harness.Stack's temp dir (trust
authentication, superuser "wh"), listens on 127.0.0.1 on a port picked at
run time and on a Unix socket in that directory, reads no system
configuration (Debian's binaries are run directly: no pg_ctlcluster, no
/etc/postgresql, no service), runs in its own process group with the
harness's death signal, and is killed by the Stack's teardown (also at exit
and on SIGTERM). PostgreSQL refuses to run as root, so under root the
server runs as the 'postgres' (or 'nobody') user, which owns its directory.

    import wh_harness as wh, wh_postgres
    with wh.Stack() as st:
        pg = wh_postgres.postgres(st)
        pg.sql("CREATE TABLE t (id int)")
        pg.sql("SELECT count(*) FROM t")        # [["0"]]
        pg.conninfo()                           # "host=... port=... user=wh dbname=postgres"
        pg.kill(); pg.start()                   # a crash and a restart on the same port

Binaries: $WH_PG_BIN, else the newest /usr/lib/postgresql/*/bin (Debian's
postgresql-15), else PATH. Timeouts follow WH_TIMEOUT_SCALE.
"""

import glob
import os
import pwd
import signal
import subprocess

import wh_harness as wh

__all__ = ["PostgreSQL", "postgres", "pg_bin"]


def pg_bin(name):
    """Path of PostgreSQL program `name` (initdb, postgres, psql, pg_isready)."""
    dirs = []
    if os.environ.get("WH_PG_BIN"):
        dirs.append(os.environ["WH_PG_BIN"])

    def version(d):
        try:
            return int(d.split("/")[-2])
        except ValueError:
            return 0
    dirs += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    for d in dirs:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return wh._find_exe(name)


def _run_as():
    """(uid, gid) to run the server as: ourselves, or an unprivileged user under root."""
    if os.geteuid() != 0:
        return None
    for user in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(user)
            return pw.pw_uid, pw.pw_gid
        except KeyError:
            continue
    raise wh.HarnessError("running as root, and there is no 'postgres' or 'nobody' user to run "
                          "PostgreSQL as")


class PostgreSQL:
    """One throwaway PostgreSQL server in `basedir`.

    Attributes: port, host ("127.0.0.1"), socket_dir, user ("wh"), datadir, log, pid.
    """

    USER = "wh"

    def __init__(self, basedir, name="postgresql", options=None):
        self.name = name
        self.basedir = basedir
        self.datadir = os.path.join(basedir, "data")
        self.socket_dir = basedir
        self.log = os.path.join(basedir, "postgres.log")
        self.host = "127.0.0.1"
        self.user = self.USER
        self.port = None
        self.proc = None
        self.options = dict(options or {})
        self.ids = _run_as()
        if len(os.path.join(self.socket_dir, ".s.PGSQL.65535")) > 100:
            raise wh.HarnessError("socket path under %s is too long; use a shorter TMPDIR"
                                  % basedir)

    def _spawn(self, what, argv, log_path):
        """Like wh_harness's spawn (own session, death signal, tracked for teardown),
        as the unprivileged user when we are root."""
        logf = open(log_path, "ab")
        wh._parent_pid[0] = os.getpid()
        kw = {}
        if self.ids:
            kw = {"user": self.ids[0], "group": self.ids[1], "extra_groups": []}
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                 stderr=subprocess.STDOUT, start_new_session=True,
                                 preexec_fn=wh._child_setup, close_fds=True,
                                 cwd=self.basedir, env=self._env(), **kw)
        finally:
            logf.close()
        wh._live_procs[p.pid] = (what, p)
        return p

    def _env(self):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("PG"):
                del env[k]          # no PGDATA, PGPORT ... of the caller
        env["LC_ALL"] = "C"
        return env

    def install(self):
        """initdb a fresh data directory (UTF8, C locale, trust authentication)."""
        os.makedirs(self.basedir, exist_ok=True)
        if self.ids:
            # The stack's directory is private (0700): let the server's user through it.
            parent = os.path.dirname(os.path.abspath(self.basedir))
            os.chmod(parent, os.stat(parent).st_mode | 0o111)
            os.chown(self.basedir, self.ids[0], self.ids[1])
        log = os.path.join(self.basedir, "initdb.log")
        p = self._spawn(self.name + "-initdb",
                        [pg_bin("initdb"), "-D", self.datadir, "-U", self.user,
                         "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"], log)
        try:
            rc = p.wait(timeout=wh.scaled(120))
        except subprocess.TimeoutExpired:
            wh._killpg(p)
            raise wh.HarnessError("%s: initdb did not finish within %.0f s; last lines of %s:\n%s"
                                  % (self.name, wh.scaled(120), log, wh._tail(log)))
        wh._killpg(p)
        if rc != 0:
            raise wh.HarnessError("%s: initdb failed with status %d; last lines of %s:\n%s"
                                  % (self.name, rc, log, wh._tail(log)))

    def _server_args(self):
        opts = {
            "listen_addresses": self.host,
            "unix_socket_directories": self.socket_dir,
            "unix_socket_permissions": "0777",
            "shared_buffers": "32MB",
            "max_connections": "40",
            "fsync": "off",                 # a kill -9 of the server keeps the page cache
            "full_page_writes": "off",
            "logging_collector": "off",
            "log_min_messages": "warning",
            "max_wal_size": "256MB",
        }
        opts.update(self.options)
        argv = [pg_bin("postgres"), "-D", self.datadir, "-p", str(self.port)]
        for k, v in opts.items():
            argv += ["-c", "%s=%s" % (k, v)]
        return argv

    def start(self, attempts=4):
        """Start the server (initdb first if needed) on its port, or a free one; wait until
        it accepts connections."""
        if self.pid is not None:
            return self
        if not os.path.exists(os.path.join(self.datadir, "PG_VERSION")):
            self.install()
        last = None
        for _ in range(attempts):
            if self.port is None or last is not None:
                self.port = wh.free_port()
            start = os.path.getsize(self.log) if os.path.exists(self.log) else 0
            self.proc = self._spawn(self.name, self._server_args(), self.log)
            try:
                wh._wait_until("%s (postgres on port %d)" % (self.name, self.port), self.ready,
                               wh.scaled(60), self.proc, self.log)
                return self
            except wh.HarnessError as e:
                last = e
                wh._killpg(self.proc)
                self.proc = None
                with open(self.log, "rb") as f:
                    f.seek(start)
                    text = f.read().decode("utf-8", "replace")
                if "could not bind" in text or "Address already in use" in text:
                    continue                # the port was taken meanwhile
                raise
        raise last

    def ready(self):
        r = subprocess.run([pg_bin("pg_isready"), "-q", "-h", self.socket_dir, "-p",
                            str(self.port), "-U", self.user, "-d", "postgres"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=self._env())
        return r.returncode == 0

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def _children(self):
        """Pids of the postmaster's children (each runs in a session of its own)."""
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                out.append(int(d))
        return out

    def kill(self):
        """SIGKILL the server and its backends (a crash)."""
        if self.proc is not None:
            kids = self._children() if self.proc.poll() is None else []
            for pid in kids:
                try:
                    os.kill(pid, signal.SIGSTOP)   # no restart of children meanwhile
                except OSError:
                    pass
            wh._killpg(self.proc, signal.SIGKILL)
            for pid in kids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.proc = None

    def stop(self):
        """Fast shutdown (SIGINT: roll back sessions, checkpoint); SIGKILL if it hangs."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            wh._killpg(self.proc, signal.SIGINT, wait=wh.scaled(60))
        else:
            wh._killpg(self.proc)
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def conninfo(self, db="postgres"):
        """libpq connection string over the Unix socket."""
        return "host=%s port=%d user=%s dbname=%s" % (self.socket_dir, self.port, self.user, db)

    def env(self, prefix="WH_PG"):
        """The WH_PG_* environment variables that describe this server."""
        return {prefix + "_HOST": self.socket_dir, prefix + "_PORT": str(self.port),
                prefix + "_USER": self.user, prefix + "_DATADIR": self.datadir,
                prefix + "_CONNINFO": self.conninfo()}

    def sql(self, query, db="postgres", timeout=60):
        """Run one or more statements with psql; return the rows of the last result as lists
        of str (NULL -> None). Raises wh.SqlError with psql's message on failure.

        Rows come from psql's unaligned output with \\x1f between fields and \\x1e between
        rows, so tabs and newlines in values come back unchanged."""
        if self.pid is None:
            raise wh.HarnessError("%s is not running" % self.name)
        argv = [pg_bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-F", "\x1f", "-R", "\x1e", "-P", "null=\x01NULL\x01",
                "-h", self.socket_dir, "-p", str(self.port), "-U", self.user, "-d", db]
        try:
            r = subprocess.run(argv, input=query.encode("utf-8"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=wh.scaled(timeout),
                               env=self._env())
        except subprocess.TimeoutExpired:
            raise wh.SqlError("%s: SQL did not finish within %.0f s\nstatement: %s"
                              % (self.name, wh.scaled(timeout), query[:2000]))
        if r.returncode != 0:
            raise wh.SqlError("%s: SQL failed: %s\nstatement: %s" % (
                self.name, r.stderr.decode("utf-8", "replace").strip(), query[:2000]))
        out = r.stdout.decode("utf-8", "replace")
        if out.endswith("\n"):
            out = out[:-1]
        rows = []
        for line in out.split("\x1e"):
            if line == "":
                continue
            rows.append([None if f == "\x01NULL\x01" else f for f in line.split("\x1f")])
        return rows

    def value(self, query, db="postgres"):
        rows = self.sql(query, db)
        return rows[0][0] if rows else None

    def create_database(self, name):
        self.sql('CREATE DATABASE "%s"' % name)
        return self.conninfo(name)


def postgres(stack, options=None, name=None):
    """Start a PostgreSQL server in the Stack's temp dir; the Stack's teardown kills it."""
    n = sum(1 for s in stack.servers if isinstance(s, PostgreSQL)) + 1
    pg = PostgreSQL(stack.path("pg%d" % n), name=name or "postgresql%d" % n, options=options)
    stack.servers.append(pg)
    pg.start()
    return pg
