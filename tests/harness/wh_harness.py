"""Throwaway MariaDB, MariaDB replica and ZooKeeper servers on loopback for wormhole's tests.

Python 3 standard library only. Every server lives in a private temporary
directory, listens on 127.0.0.1 on a port picked at run time (never a default
port), is started in its own process group with --no-defaults (so no system
configuration file or service is ever read or touched), and is killed by
teardown() which also runs at interpreter exit and on SIGINT/SIGTERM when the
caller installs the handlers (run.py does).

Typical use from a Python-driven test:

    import wh_harness as wh
    with wh.Stack() as st:
        db = st.mariadb()                       # primary, server_id 1
        rep = st.replica(db)                    # follows db with GTIDs
        db.sql("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY)")
        db.sql("INSERT INTO d.t VALUES (1)")
        rep.wait_caught_up()
        assert rep.sql("SELECT id FROM d.t") == [["1"]]
        zk = st.zookeeper()                     # zk.connect == "127.0.0.1:PORT"
        ens = st.zk_ensemble(3)                 # ens.stop_node(0) ...

Timeouts are multiplied by the float in WH_TIMEOUT_SCALE (default 1).
WH_KEEP_TMP=1 keeps the temporary directory after teardown and prints it.
"""

import atexit
import base64
import ctypes
import glob
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

__all__ = [
    "HarnessError", "SqlError", "Stack", "MariaDB", "ZooKeeper", "ZkEnsemble",
    "timeout_scale", "scaled", "free_port", "free_ports", "teardown_all", "live_pids",
    "pid_alive", "pgroup_alive", "four_letter", "zk_digest_id",
]


class HarnessError(RuntimeError):
    """A server could not be started or stopped; the message names which and why."""


class SqlError(HarnessError):
    """The mariadb client reported an error for a statement."""


def timeout_scale():
    """Return the WH_TIMEOUT_SCALE multiplier (>= 1 is typical; bad values mean 1)."""
    try:
        v = float(os.environ.get("WH_TIMEOUT_SCALE", "1"))
    except ValueError:
        return 1.0
    return v if v > 0 else 1.0


def scaled(seconds):
    """Return `seconds` multiplied by WH_TIMEOUT_SCALE."""
    return seconds * timeout_scale()


def _log(msg):
    print("wh_harness: " + msg, file=sys.stderr, flush=True)


def _tail(path, lines=40):
    """Return the last `lines` lines of a text file, or a note that it is missing."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    return "\n".join(data.splitlines()[-lines:])


def _find_exe(name, extra_dirs=("/usr/sbin", "/sbin", "/usr/local/sbin")):
    path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(extra_dirs)
    exe = shutil.which(name, path=path)
    if exe is None:
        raise HarnessError("cannot find the program '%s' (run scripts/install-deps.sh)" % name)
    return exe


# --- ports -----------------------------------------------------------------

def free_port():
    """Return a loopback TCP port that was free a moment ago (bind to port 0)."""
    return free_ports(1)[0]


def free_ports(n):
    """Return `n` distinct loopback TCP ports that were free a moment ago."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _port_open(port, host="127.0.0.1", timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --- process bookkeeping ---------------------------------------------------

_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - every Linux libc loads
    _libc = None


def _child_setup():
    # Runs in the child between fork and exec: die with the harness even if
    # the harness itself is SIGKILLed (its own session is made by setsid).
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != _parent_pid[0]:     # the harness died before prctl
        os._exit(1)


def child_dies_with_parent():
    """preexec_fn for commands run under the harness: SIGTERM when the harness dies."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


_parent_pid = [os.getpid()]
_live_procs = {}      # pid -> (name, Popen)
_live_stacks = []


def pid_alive(pid):
    """True if process `pid` exists and is not a zombie."""
    if pid is None:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def pgroup_alive(pgid):
    """True if any non-zombie process is in process group `pgid`."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def live_pids():
    """Return the pids (== process group ids) of every server still running."""
    return [pid for pid, (_, p) in _live_procs.items() if p.poll() is None]


def _spawn(name, argv, log_path, env=None, cwd=None):
    """Start argv in its own session/process group, stdout+stderr to log_path."""
    logf = open(log_path, "ab")
    _parent_pid[0] = os.getpid()
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                             stderr=subprocess.STDOUT, env=env, cwd=cwd,
                             start_new_session=True, preexec_fn=_child_setup,
                             close_fds=True)
    finally:
        logf.close()
    _live_procs[p.pid] = (name, p)
    return p


def _exited_unreaped(pid):
    """True once pid has exited; it stays a zombie (not reaped), so its pgid cannot be reused."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _killpg(p, sig=signal.SIGKILL, wait=10.0):
    """Send sig to p's process group, wait up to `wait` s, SIGKILL what is left, reap p."""
    if p is None:
        return
    if p.returncode is None:      # not reaped yet: the group id is still ours
        try:
            os.killpg(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        deadline = time.monotonic() + wait
        while not _exited_unreaped(p.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        # The leader is dead or hung; either way nothing of the group may survive.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        p.wait()
    _live_procs.pop(p.pid, None)


def teardown_all():
    """Kill every server this process started and remove their temp dirs."""
    for st in list(_live_stacks):
        st.teardown()
    for pid, (name, p) in list(_live_procs.items()):
        _killpg(p)


atexit.register(teardown_all)


def _exit_on_signal(signum, frame):
    # Turn SIGTERM/SIGHUP into SystemExit so with-blocks, finally and atexit
    # tear the servers down (meson sends SIGTERM when a test times out).
    signal.signal(signum, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def install_signal_handlers():
    """Make SIGTERM and SIGHUP run teardown, unless the program set its own handlers.

    Called by Stack(); only possible from the main thread.
    """
    import threading
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _exit_on_signal)


def _wait_until(what, pred, timeout, proc=None, log_path=None, interval=0.1):
    """Poll pred() until true; raise HarnessError naming `what` on timeout or early exit."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return
        if proc is not None and proc.poll() is not None:
            raise HarnessError("%s exited with status %s before it was ready%s" % (
                what, proc.returncode,
                ("; last lines of %s:\n%s" % (log_path, _tail(log_path))) if log_path else ""))
        if time.monotonic() > deadline:
            raise HarnessError("%s was not ready after %.0f s%s" % (
                what, timeout,
                ("; last lines of %s:\n%s" % (log_path, _tail(log_path))) if log_path else ""))
        time.sleep(interval)


# --- MariaDB ---------------------------------------------------------------

def _unescape_batch(field):
    """Decode one field of `mariadb -B` output: \\t \\n \\0 \\\\ escapes; 'NULL' -> None."""
    if field == "NULL":
        return None
    if "\\" not in field:
        return field
    out = []
    i = 0
    n = len(field)
    while i < n:
        c = field[i]
        if c == "\\" and i + 1 < n:
            d = field[i + 1]
            out.append({"t": "\t", "n": "\n", "0": "\0", "\\": "\\", "r": "\r",
                        "b": "\b"}.get(d, "\\" + d))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class MariaDB:
    """One throwaway mariadbd with its binlog on, in `basedir`.

    Attributes: port, socket, host ("127.0.0.1"), user ("root", no password),
    datadir, binlog_dir, binlog_basename, binlog_index, error_log, server_id,
    pid (None when stopped).  `options` maps extra server option names (with _
    or -) to values; they override the defaults (e.g. binlog_row_image="MINIMAL",
    max_binlog_size="4096").  A value of None passes a bare flag.
    """

    BINLOG_BASENAME = "mysql-bin"

    def __init__(self, basedir, server_id=1, options=None, binlog_basename=None,
                 name="mariadb"):
        self.name = name
        self.basedir = basedir
        self.server_id = server_id
        self.host = "127.0.0.1"
        self.user = "root"
        self.datadir = os.path.join(basedir, "data")
        self.binlog_dir = os.path.join(self.datadir, "binlog")
        self.binlog_basename = binlog_basename or self.BINLOG_BASENAME
        self.binlog_index = os.path.join(self.binlog_dir, self.binlog_basename + ".index")
        self.socket = os.path.join(basedir, "mysqld.sock")
        self.error_log = os.path.join(basedir, "error.log")
        self.pid_file = os.path.join(basedir, "mysqld.pid")
        self.port = None
        self.proc = None
        self.options = {}
        for k, v in (options or {}).items():
            self.options[k.replace("-", "_")] = v
        if len(self.socket) > 100:
            raise HarnessError("socket path %s is too long for a Unix socket; use a shorter TMPDIR"
                               % self.socket)

    # -- lifecycle --
    def _server_args(self):
        opts = {
            "datadir": self.datadir,
            "socket": self.socket,
            "pid_file": self.pid_file,
            "log_error": self.error_log,
            "bind_address": "127.0.0.1",
            "skip_name_resolve": None,
            "log_bin": os.path.join(self.binlog_dir, self.binlog_basename),
            "log_bin_index": self.binlog_index,
            "binlog_format": "ROW",
            "binlog_row_metadata": "FULL",
            "binlog_row_image": "FULL",
            "binlog_checksum": "CRC32",
            "server_id": str(self.server_id),
            "gtid_strict_mode": "ON",
            "log_slave_updates": "ON",
            "innodb_buffer_pool_size": "32M",
            "innodb_log_file_size": "8M",
            "innodb_log_buffer_size": "2M",
            "innodb_flush_log_at_trx_commit": "2",
            "sync_binlog": "0",
            "key_buffer_size": "1M",
            "aria_pagecache_buffer_size": "1M",
            "performance_schema": "OFF",
            "max_connections": "100",
            "skip_slave_start": None,
            "relay_log": os.path.join(self.datadir, "relay-bin"),
            "loose_feedback": "OFF",
            "innodb_use_native_aio": "OFF",
            "character_set_server": "utf8mb4",
            "collation_server": "utf8mb4_general_ci",
        }
        if os.geteuid() == 0:
            opts["user"] = "root"       # mariadbd refuses to run as root without it
        opts.update(self.options)
        argv = ["--no-defaults"]
        for k, v in opts.items():
            flag = "--" + k.replace("_", "-")
            argv.append(flag if v is None else "%s=%s" % (flag, v))
        return argv

    def install(self, attempts=2):
        """Create a fresh datadir with mariadb-install-db (root@127.0.0.1 without password).

        The bootstrap has been seen to fail once in a while on a heavily loaded
        machine ("Unknown table 'mysql.tmp_proxies_priv'"); a failed attempt is
        wiped and retried once, and the second failure is reported."""
        for attempt in range(attempts):
            try:
                return self._install_once()
            except HarnessError as e:
                if attempt + 1 == attempts:
                    raise
                sys.stderr.write("harness: %s; retrying with a fresh datadir\n" % e)
                shutil.rmtree(self.datadir, ignore_errors=True)

    def _install_once(self):
        os.makedirs(self.binlog_dir, exist_ok=True)
        log = os.path.join(self.basedir, "install.log")
        argv = [_find_exe("mariadb-install-db"), "--no-defaults",
                "--datadir=" + self.datadir, "--auth-root-authentication-method=normal",
                "--skip-test-db", "--skip-name-resolve",
                "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M"]
        if os.geteuid() == 0:
            argv.append("--user=root")
        # Its own process group, so a timeout also kills the bootstrap mariadbd it forks.
        p = _spawn(self.name + "-install", argv, log)
        try:
            rc = p.wait(timeout=scaled(120))
        except subprocess.TimeoutExpired:
            _killpg(p)
            raise HarnessError("%s: mariadb-install-db did not finish within %.0f s; last lines "
                               "of %s:\n%s" % (self.name, scaled(120), log, _tail(log)))
        _killpg(p)
        if rc != 0:
            raise HarnessError("%s: mariadb-install-db failed with status %d; last lines of %s:\n%s"
                               % (self.name, rc, log, _tail(log)))

    def start(self, attempts=5):
        """Start mariadbd on a fresh free port (retrying if the port was taken); wait until ready."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        if not os.path.isdir(os.path.join(self.datadir, "mysql")):
            self.install()
        exe = _find_exe("mariadbd")
        last = None
        for _ in range(attempts):
            port = free_port() if self.port is None or last is not None else self.port
            self.port = port
            log_start = os.path.getsize(self.error_log) if os.path.exists(self.error_log) else 0
            self.proc = _spawn(self.name, [exe] + self._server_args() + ["--port=%d" % port],
                               os.path.join(self.basedir, "stdout.log"))
            try:
                _wait_until("%s (mariadbd on port %d)" % (self.name, port), self._ready,
                            scaled(60), self.proc, self.error_log)
                return self
            except HarnessError as e:
                last = e
                _killpg(self.proc)
                self.proc = None
                with open(self.error_log, "rb") as f:
                    f.seek(log_start)
                    text = f.read().decode("utf-8", "replace")
                if "Bind on TCP/IP port" in text or "Address already in use" in text:
                    continue        # somebody grabbed the port; pick another
                raise
        raise last

    def _ready(self):
        if not os.path.exists(self.socket):
            return False
        r = subprocess.run(self._client_argv() + ["-e", "SELECT 1"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return r.returncode == 0 and _port_open(self.port)

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def kill(self):
        """SIGKILL the server (a crash: no clean shutdown, binlog may end mid-write)."""
        if self.proc is not None:
            _killpg(self.proc, signal.SIGKILL)
            self.proc = None

    def stop(self):
        """Shut the server down cleanly (SIGTERM, wait; SIGKILL if it hangs)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            _killpg(self.proc, signal.SIGTERM, wait=scaled(60))
        else:
            _killpg(self.proc)
        self.proc = None

    def restart(self, options=None):
        """Stop cleanly and start again on the same port and datadir (options update if given)."""
        self.stop()
        if options:
            for k, v in options.items():
                self.options[k.replace("-", "_")] = v
        return self.start()

    # -- SQL --
    def _client_argv(self, db=None, names=False):
        argv = [_find_exe("mariadb"), "--no-defaults", "--user=root", "--socket=" + self.socket,
                "--batch", "--default-character-set=utf8mb4"]
        if not names:
            argv.append("--skip-column-names")
        if db:
            argv.append("--database=" + db)
        return argv

    def sql(self, query, db=None, timeout=60):
        """Run one or more statements; return all result rows as lists of str (NULL -> None).

        Output comes from `mariadb --batch --skip-column-names` (not --raw), so tab,
        newline, NUL and backslash inside values arrive escaped and are decoded here.
        A string value spelled 'NULL' is indistinguishable from NULL: select
        `col IS NULL` or HEX(col) when that matters.  Binary values come back decoded
        as UTF-8 with replacement characters; select HEX(col) for exact bytes.
        Raises SqlError with the client's message on failure.
        """
        if self.pid is None:
            raise HarnessError("%s is not running" % self.name)
        try:
            r = subprocess.run(self._client_argv(db), input=query.encode("utf-8"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            raise SqlError("%s: SQL did not finish within %.0f s\nstatement: %s" % (
                self.name, scaled(timeout), query[:2000]))
        if r.returncode != 0:
            raise SqlError("%s: SQL failed: %s\nstatement: %s" % (
                self.name, r.stderr.decode("utf-8", "replace").strip(), query[:2000]))
        rows = []
        for line in r.stdout.decode("utf-8", "replace").split("\n"):
            if line == "":
                continue
            rows.append([_unescape_batch(f) for f in line.split("\t")])
        return rows

    def sql_script(self, text, db=None, timeout=600):
        """Run a large SQL script (fed on stdin); return rows like sql()."""
        return self.sql(text, db=db, timeout=timeout)

    def session(self):
        """A client session fed on stdin, for statements whose effect lasts as long as the
        session (a lock): write statements ending in ";\n" to its stdin (text) and flush;
        close stdin and wait() to end it. Returns the subprocess.Popen."""
        return subprocess.Popen(self._client_argv(), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def value(self, query, db=None):
        """Return the first column of the first row of `query` (None if no row)."""
        rows = self.sql(query, db)
        return rows[0][0] if rows else None

    def flush_logs(self):
        """FLUSH BINARY LOGS: close the current binlog file and open the next one."""
        self.sql("FLUSH BINARY LOGS")

    def binlog_files(self):
        """Return the binlog file paths listed in the index, oldest first."""
        try:
            with open(self.binlog_index) as f:
                names = [l.strip() for l in f if l.strip()]
        except OSError:
            return []
        return [n if os.path.isabs(n) else os.path.join(self.datadir, n) for n in names]

    def gtid_binlog_pos(self):
        return self.value("SELECT @@GLOBAL.gtid_binlog_pos") or ""

    def env(self, prefix="WH_MARIADB"):
        """Return the WH_* environment variables that describe this server."""
        return {
            prefix + "_SOCKET": self.socket,
            prefix + "_PORT": str(self.port),
            prefix + "_HOST": self.host,
            prefix + "_USER": self.user,
            prefix + "_DATADIR": self.datadir,
            prefix + "_BINLOG_DIR": self.binlog_dir,
            prefix + "_BINLOG_INDEX": self.binlog_index,
            prefix + "_BINLOG_BASENAME": self.binlog_basename,
            prefix + "_SERVER_ID": str(self.server_id),
            prefix + "_ERROR_LOG": self.error_log,
        }

    # -- replication --
    def replicate_from(self, primary):
        """Make this server a GTID replica of `primary` (slave_pos) and start replication."""
        self.primary = primary
        self.sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL gtid_slave_pos='';"
                 "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', "
                 "MASTER_PASSWORD='', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos;"
                 "START SLAVE" % primary.port)
        _wait_until("%s replication threads" % self.name, self._slave_running, scaled(60),
                    self.proc, self.error_log, interval=0.2)

    def slave_status(self):
        """Return SHOW SLAVE STATUS as a dict (empty if not a replica)."""
        r = subprocess.run(self._client_argv(names=True) + ["--vertical", "-e", "SHOW SLAVE STATUS"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=scaled(30))
        st = {}
        for line in r.stdout.decode("utf-8", "replace").splitlines():
            if ":" in line and not line.startswith("*"):
                k, v = line.split(":", 1)
                st[k.strip()] = v.strip()
        return st

    def _slave_running(self):
        st = self.slave_status()
        if st.get("Last_SQL_Errno", "0") not in ("", "0"):
            raise HarnessError("%s: replication SQL error: %s" % (self.name, st.get("Last_SQL_Error")))
        return st.get("Slave_IO_Running") == "Yes" and st.get("Slave_SQL_Running") == "Yes"

    def wait_caught_up(self, primary=None, timeout=60):
        """Block until this replica applied everything in the primary's binlog."""
        primary = primary or getattr(self, "primary", None)
        if primary is None:
            raise HarnessError("%s is not a replica" % self.name)
        pos = primary.gtid_binlog_pos()
        if not pos:
            return
        r = self.sql("SELECT MASTER_GTID_WAIT('%s', %f)" % (pos, scaled(timeout)),
                     timeout=timeout + 30)[0][0]
        if r != "0":
            st = self.slave_status()
            raise HarnessError("%s did not reach primary GTID %s within %.0f s (slave pos %s; IO %s, "
                               "SQL %s, last error: %s %s)" % (
                                   self.name, pos, scaled(timeout), st.get("Gtid_Slave_Pos"),
                                   st.get("Slave_IO_Running"), st.get("Slave_SQL_Running"),
                                   st.get("Last_IO_Error"), st.get("Last_SQL_Error")))


# --- ZooKeeper -------------------------------------------------------------

_ZK_JARS = ["zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar"]


def _zk_classpath():
    dirs = [os.environ.get("WH_ZK_JAVA_DIR", "/usr/share/java"), "/usr/share/zookeeper"]
    cp = []
    for jar in _ZK_JARS:
        for d in dirs:
            p = os.path.join(d, jar)
            if os.path.exists(p):
                cp.append(p)
                break
        else:
            if jar.startswith("zookeeper"):
                hits = glob.glob("/usr/share/**/%s" % jar, recursive=True)
                if hits:
                    cp.append(hits[0])
                    continue
                raise HarnessError("cannot find %s (install libzookeeper-java: "
                                   "scripts/install-deps.sh)" % jar)
    return os.pathsep.join(cp)


def four_letter(port, cmd, timeout=2.0):
    """Send a ZooKeeper four-letter command to 127.0.0.1:port; return the reply ('' on error)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(cmd.encode())
            s.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                b = s.recv(4096)
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks).decode("utf-8", "replace")
    except OSError:
        return ""


def zk_digest_id(user, password):
    """ZooKeeper's digest id of user:password, "user:" + base64(SHA-1("user:password")),
    computed independently of protocol/zk_acl.c (hashlib)."""
    sha = hashlib.sha1(("%s:%s" % (user, password)).encode()).digest()
    return "%s:%s" % (user, base64.b64encode(sha).decode())


class ZooKeeper:
    """One ZooKeeper server (standalone, or node `myid` of an ensemble) run with java.

    Attributes: port (client port), connect ("127.0.0.1:port"), datadir, log, pid.

    super_password: run with authentication for the tests of docs/ZOOKEEPER.md ("Access
    control"): the server's super user ("super", the operators' admin identity, which
    passes every ACL) gets this password through
    -Dzookeeper.DigestAuthenticationProvider.superDigest. The digest scheme needs no
    other server setting: every client may authenticate with it, and the ACLs of the
    nodes decide the rest.

    tick_ms: the server's tickTime (500 by default). Sessions expire on tick boundaries,
    so an expiry comes up to one tick after the session timeout (docs/FAILOVER.md,
    "Takeover time"); bench/failover/run.py --zk-tick-ms measures other values.
    """

    def __init__(self, basedir, port=None, myid=None, servers=None, name="zookeeper",
                 super_password=None, tick_ms=500):
        self.name = name
        self.basedir = basedir
        self.datadir = os.path.join(basedir, "data")
        self.cfg = os.path.join(basedir, "zoo.cfg")
        self.log = os.path.join(basedir, "zookeeper.log")
        self.port = port
        self.myid = myid
        self.servers = servers        # list of (id, quorum_port, election_port) or None
        self.proc = None
        self.super_password = super_password
        self.tick_ms = tick_ms

    @property
    def connect(self):
        return "127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def _write_cfg(self):
        os.makedirs(self.datadir, exist_ok=True)
        lines = [
            "tickTime=%d" % self.tick_ms,
            "initLimit=20",
            "syncLimit=10",
            "dataDir=%s" % self.datadir,
            "clientPort=%d" % self.port,
            "clientPortAddress=127.0.0.1",
            "maxClientCnxns=200",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            "autopurge.purgeInterval=0",
            "minSessionTimeout=1000",
            "maxSessionTimeout=60000",
        ]
        if self.servers:
            lines.append("standaloneEnabled=false")
            lines.append("reconfigEnabled=false")
            lines.append("quorumListenOnAllIPs=false")
            for sid, qport, eport in self.servers:
                lines.append("server.%d=127.0.0.1:%d:%d" % (sid, qport, eport))
            with open(os.path.join(self.datadir, "myid"), "w") as f:
                f.write("%d\n" % self.myid)
        with open(self.cfg, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, wait=True, attempts=3):
        """Start the JVM; with wait=True block until the server serves requests.

        A standalone server whose port was taken meanwhile is retried on a new port.
        """
        if self.pid is not None:
            return self
        for attempt in range(attempts):
            if self.port is None:
                self.port = free_port()
            self._spawn_jvm()
            if not wait:
                return self
            try:
                self.wait_serving()
                return self
            except HarnessError:
                self.kill()
                if self.servers or attempt + 1 == attempts or "BindException" not in _tail(self.log):
                    raise
                self.port = None            # somebody took the port: pick another
        return self

    def _spawn_jvm(self):
        self._write_cfg()
        java = _find_exe("java")
        argv = [java, "-Xmx128m", "-Xms16m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Xss512k", "-Djava.net.preferIPv4Stack=true",
                "-Dzookeeper.admin.enableServer=false",
                "-Dzookeeper.4lw.commands.whitelist=*",
                "-Dzookeeper.jmx.log4j.disable=true",
                ] + ([] if self.super_password is None else [
                "-Dzookeeper.DigestAuthenticationProvider.superDigest=" +
                zk_digest_id("super", self.super_password)]) + [
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-cp", _zk_classpath(),
                "org.apache.zookeeper.server.quorum.QuorumPeerMain", self.cfg]
        with open(self.log, "ab") as f:
            f.write(("---- %s: starting %s\n" % (time.strftime("%H:%M:%S"), self.name)).encode())
        self.proc = _spawn(self.name, argv, self.log)

    def serving(self):
        """True when the server answers 'srvr' with a mode (it is in a working quorum)."""
        return "Mode:" in four_letter(self.port, "srvr")

    def mode(self):
        """Return 'standalone', 'leader', 'follower' or '' (not serving)."""
        for line in four_letter(self.port, "srvr").splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return ""

    def wait_serving(self, timeout=60):
        _wait_until("%s (port %d)" % (self.name, self.port), self.serving, scaled(timeout),
                    self.proc, self.log, interval=0.2)

    def kill(self):
        """SIGKILL the JVM."""
        if self.proc is not None:
            _killpg(self.proc, signal.SIGKILL)
            self.proc = None

    def stop(self):
        """Stop the JVM with SIGTERM (SIGKILL if it does not exit)."""
        if self.proc is not None:
            _killpg(self.proc, signal.SIGTERM, wait=scaled(20))
            self.proc = None

    def restart(self):
        self.stop()
        return self.start()


class ZkEnsemble:
    """Three (or `size`) ZooKeeper nodes on loopback forming one quorum.

    connect is "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3".  stop_node(i),
    kill_node(i) and start_node(i) take the 0-based node index.
    """

    def __init__(self, basedir, size=3):
        if size < 1:
            raise HarnessError("an ensemble needs at least one node")
        self.basedir = basedir
        self.size = size
        self.nodes = []
        self._assign_ports()

    def _assign_ports(self):
        ports = free_ports(3 * self.size)
        servers = [(i + 1, ports[3 * i + 1], ports[3 * i + 2]) for i in range(self.size)]
        self.nodes = [ZooKeeper(os.path.join(self.basedir, "node%d" % (i + 1)), port=ports[3 * i],
                                myid=i + 1, servers=servers, name="zk-node%d" % (i + 1))
                      for i in range(self.size)]

    @property
    def connect(self):
        return ",".join(n.connect for n in self.nodes)

    def start(self, timeout=90, attempts=3):
        """Start every node and wait until all serve; on failure retry on fresh ports."""
        for attempt in range(attempts):
            for n in self.nodes:
                n.start(wait=False)
            try:
                deadline = time.monotonic() + scaled(timeout)
                for n in self.nodes:
                    n.wait_serving(max(1.0, (deadline - time.monotonic()) / timeout_scale()))
                return self
            except HarnessError:
                self.kill()
                if attempt + 1 == attempts:
                    raise
                _log("ZooKeeper ensemble did not form; retrying on new ports")
                shutil.rmtree(self.basedir, ignore_errors=True)
                self._assign_ports()
        return self

    def stop_node(self, i):
        self.nodes[i].stop()

    def kill_node(self, i):
        self.nodes[i].kill()

    def start_node(self, i, wait=True):
        self.nodes[i].start(wait=wait)

    def leader(self):
        """Return the index of the current leader, or None."""
        for i, n in enumerate(self.nodes):
            if n.pid is not None and n.mode() == "leader":
                return i
        return None

    def stop(self):
        for n in self.nodes:
            n.stop()

    def kill(self):
        for n in self.nodes:
            n.kill()


# --- a set of servers sharing one temp dir -----------------------------------

# What a sanitizer writes into a process's log when it finds something.
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


class Stack:
    """A temporary directory plus the servers started in it; teardown() kills all and removes it.

    Use as a context manager or call teardown() yourself (it also runs at exit).
    """

    def __init__(self, tmpdir=None, keep=None):
        base = os.environ.get("WH_TMP_PARENT") or tempfile.gettempdir()
        # Keep the path short: Unix socket paths must stay under ~100 bytes.
        self.tmpdir = tmpdir or tempfile.mkdtemp(prefix="wh-", dir=base)
        self.keep = (os.environ.get("WH_KEEP_TMP") == "1") if keep is None else keep
        self.servers = []
        self._n_mariadb = 0
        self._n_zk = 0
        self._done = False
        _live_stacks.append(self)
        install_signal_handlers()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.teardown()
        return False

    def path(self, *parts):
        return os.path.join(self.tmpdir, *parts)

    def scratch_dir(self, name):
        """Create and return an empty directory under the stack's temp dir."""
        p = self.path(name)
        os.makedirs(p, exist_ok=True)
        return p

    def logs(self, prefixes=None, skip=()):
        """The names of the process logs (NAME.log) in the stack's directory, sorted:
        those that start with one of prefixes (every one when None) and none of skip."""
        return [n for n in sorted(os.listdir(self.tmpdir))
                if n.endswith(".log") and (prefixes is None or n.startswith(tuple(prefixes)))
                and not n.startswith(tuple(skip))]

    def sanitizer_report(self, prefixes=None, skip=("zk", "m")):
        """'NAME reports MARK' for the first of those logs (by default all but the
        servers': zk*, m*) that holds a sanitizer's report (AddressSanitizer,
        LeakSanitizer, UBSan's 'runtime error:'), or None when none does."""
        for name in self.logs(prefixes, skip):
            with open(self.path(name), errors="replace") as f:
                text = f.read()
            for mark in SANITIZER_MARKS:
                if mark in text:
                    return "%s reports %s" % (name, mark)
        return None

    def print_log_tails(self, prefixes=None, skip=(), size=3000):
        """Prints the last size characters of each of those logs (after a failure)."""
        for name in self.logs(prefixes, skip):
            with open(self.path(name), errors="replace") as f:
                print("--- %s (tail)\n%s" % (name, f.read()[-size:]), flush=True)

    def mariadb(self, options=None, server_id=None, binlog_basename=None, name=None):
        """Install and start a primary MariaDB; returns the MariaDB object."""
        self._n_mariadb += 1
        n = self._n_mariadb
        db = MariaDB(self.path("m%d" % n), server_id=server_id or n, options=options,
                     binlog_basename=binlog_basename, name=name or "mariadb%d" % n)
        self.servers.append(db)
        db.start()
        return db

    def replica(self, primary, options=None, server_id=None, name=None, binlog_basename=None):
        """Start a MariaDB that replicates `primary` via GTID, with its own binlog.

        Its binlog basename is `binlog_basename` (default 'replica-bin') and it rotates
        its binlog once before replicating, so its binlog file names and offsets differ
        from the primary's.
        """
        self._n_mariadb += 1
        n = self._n_mariadb
        db = MariaDB(self.path("m%d" % n), server_id=server_id or (100 + n), options=options,
                     binlog_basename=binlog_basename or "replica-bin",
                     name=name or "replica%d" % n)
        self.servers.append(db)
        db.start()
        db.flush_logs()
        db.replicate_from(primary)
        return db

    def zookeeper(self, super_password=None, tick_ms=500):
        """Start a standalone ZooKeeper (with a super user of that password, and that
        tickTime, see ZooKeeper); returns the ZooKeeper object."""
        self._n_zk += 1
        zk = ZooKeeper(self.path("zk%d" % self._n_zk), name="zookeeper%d" % self._n_zk,
                       super_password=super_password, tick_ms=tick_ms)
        self.servers.append(zk)
        zk.start()
        return zk

    def zk_ensemble(self, size=3):
        """Start a `size`-node ZooKeeper ensemble; returns the ZkEnsemble object."""
        self._n_zk += 1
        ens = ZkEnsemble(self.path("zke%d" % self._n_zk), size)
        self.servers.append(ens)
        ens.start()
        return ens

    def teardown(self):
        """Kill every server of this stack, then remove the temp dir (unless kept)."""
        if self._done:
            return
        self._done = True
        for s in reversed(self.servers):
            try:
                s.kill()
            except Exception as e:  # keep tearing down the rest
                _log("teardown of %s: %s" % (getattr(s, "name", s), e))
        if self in _live_stacks:
            _live_stacks.remove(self)
        if self.keep:
            _log("WH_KEEP_TMP=1: kept %s" % self.tmpdir)
        else:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
