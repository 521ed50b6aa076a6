"""tcp_proxy.py -- a loopback TCP relay a test puts between one client and one server, to cut it.

    proxy = TcpProxy(target_port)         # listens on 127.0.0.1, any free port
    client connects to proxy.port / proxy.address
    proxy.drop()        # closes every relayed connection and refuses new ones (a server
                        # or host that is gone: the client sees resets at once)
    proxy.blackhole()   # keeps the connections open but forwards nothing either way and
                        # accepts new connections without relaying them (a partition:
                        # the client only notices by its own timeouts)
    proxy.heal()        # relays again (new connections; blackholed ones are closed)
    proxy.close()

Loopback only; one thread per direction per connection (daemon threads), so it suits tests
with a handful of clients (ZooKeeper sessions, database connections)."""
import socket
import threading


class TcpProxy:
    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.mode = "pass"          # pass, drop or blackhole
        self.lock = threading.Lock()
        self.conns = []             # (client socket, server socket or None)
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                mode = self.mode
            if mode == "drop":
                c.close()
                continue
            if mode == "blackhole":
                with self.lock:
                    self.conns.append((c, None))
                threading.Thread(target=self._sink, args=(c,), daemon=True).start()
                continue
            try:
                u = socket.create_connection(self.target, timeout=5)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns.append((c, u))
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _sink(self, a):
        """Reads and discards until the peer or the test closes a."""
        while True:
            try:
                if not a.recv(65536):
                    break
            except OSError:
                break
        self._close(a)

    def _pump(self, a, b):
        while True:
            try:
                data = a.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            with self.lock:
                mode = self.mode
            if mode == "blackhole":
                continue            # swallowed: the peer never hears of it
            if mode == "drop":
                break
            try:
                b.sendall(data)
            except OSError:
                break
        for s in (a, b):
            self._close(s)

    @staticmethod
    def _close(s):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass

    def drop(self):
        """Closes every relayed connection and refuses new ones."""
        with self.lock:
            self.mode = "drop"
            conns, self.conns = self.conns, []
        for c, u in conns:
            for s in (c, u):
                if s is not None:
                    self._close(s)

    def blackhole(self):
        """Forwards nothing more, in either direction, on old and new connections."""
        with self.lock:
            self.mode = "blackhole"

    def heal(self):
        """Relays new connections again; connections of a blackhole are closed (their
        streams lost bytes), so clients reconnect."""
        with self.lock:
            was, self.mode = self.mode, "pass"
            conns = self.conns if was == "blackhole" else []
            if was == "blackhole":
                self.conns = []
        for c, u in conns:
            for s in (c, u):
                if s is not None:
                    self._close(s)

    def close(self):
        self.drop()
        try:
            self.lsock.close()
        except OSError:
            pass
