"""Helpers for the operations tests: tsdirectorctl, the JSON node list, clients with a chosen
source address, TLS ClientHellos with an SNI name, and polling without timed assertions."""
import json
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

from conftest import BIN
from tsdlib import Backend

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def ctl(director, *args, json_out=False, socket_path=None, prefix=()):
    """Runs tsdirectorctl against the director's admin socket."""
    cmd = list(prefix) + [str(BIN / "tsdirectorctl"), "-s",
                          socket_path or director.admin_socket]
    if json_out:
        cmd.append("--json")
    cmd += [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def ctl_json(director, *args):
    r = ctl(director, *args, json_out=True)
    assert r.stdout, r.stderr
    return r.returncode, json.loads(r.stdout)


def wait_until(fn, timeout=15, what="condition"):
    """Polls fn() until it returns a truthy value; returns it. Not a timing assertion: the
    deadline only bounds a hung test."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def http_get(director, path):
    url = f"http://127.0.0.1:{director.metrics_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def nodes_json(director):
    status, ctype, body = http_get(director, "/nodes")
    assert status == 200 and ctype.startswith("application/json")
    return json.loads(body)


def statuses(director):
    return {n["name"]: n["status"] for n in nodes_json(director)["nodes"]}


def wait_statuses(director, expected, timeout=15):
    return wait_until(lambda: statuses(director) == expected or None, timeout,
                      f"node statuses {expected}")


def metric(director, name, **labels):
    v = director.metric(name, **labels)
    return 0.0 if v is None else v


def node_backends(names, servers):
    """One banner+echo backend per node name; the banner says which node answered."""
    out = {}
    for n in names:
        b = Backend(mode="banner", banner=f"SSH-2.0-{n}\r\n".encode(), name=n)
        servers.append(b)
        out[n] = b
    return out


def open_client(port, src="127.0.0.1", host="127.0.0.1", timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect((host, port))
    return s


def read_line(sock):
    buf = b""
    while not buf.endswith(b"\n"):
        b = sock.recv(1)
        if not b:
            break
        buf += b
    return buf


def which_node(port, src="127.0.0.1", payload=b"hello\n"):
    """Connects, returns the node name from the banner after an echo round trip (or None when
    the director closed the connection without a node)."""
    with open_client(port, src) as s:
        line = read_line(s)
        if not line:
            return None
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            b = s.recv(65536)
            if not b:
                break
            got += b
        assert got == payload
        return line.decode().strip().split("-", 2)[2]


def refused(port, src="127.0.0.1"):
    """True when the director closes the connection without forwarding anything."""
    with open_client(port, src) as s:
        try:
            return s.recv(100) == b""
        except ConnectionResetError:
            return True


def client_hello(server_name):
    """The bytes of a real TLS ClientHello carrying `server_name` as SNI."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


class StreamClients:
    """N client connections, each streaming data through the director to an echo backend and
    checking what comes back, driven by one selector thread. Each keeps at most `window` bytes
    in flight, so all of them keep transferring until stop()."""

    def __init__(self, port, n, chunk=4096, window=65536):
        import hashlib
        import selectors
        import threading
        self.sel = selectors.DefaultSelector()
        self.chunk, self.window = chunk, window
        self.conns = []
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.setblocking(False)
            c = {"sock": s, "sent": 0, "recv": 0, "tx": hashlib.sha256(), "rx": hashlib.sha256(),
                 "block": hashlib.shake_256(f"conn{i}".encode()).digest(chunk), "eof": False,
                 "shut": False, "error": None}
            self.conns.append(c)
            self.sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import selectors
        open_count = len(self.conns)
        while open_count:
            for key, ev in self.sel.select(timeout=0.2):
                c = key.data
                try:
                    if ev & selectors.EVENT_READ:
                        b = c["sock"].recv(1 << 16)
                        if b:
                            c["rx"].update(b)
                            c["recv"] += len(b)
                        else:
                            c["eof"] = True
                            if not c["shut"]:
                                c["error"] = "closed before the client finished"
                    if ev & selectors.EVENT_WRITE and not c["shut"]:
                        if self.stopping:
                            c["sock"].shutdown(socket.SHUT_WR)
                            c["shut"] = True
                        elif c["sent"] - c["recv"] < self.window:
                            n = c["sock"].send(c["block"])
                            c["tx"].update(c["block"][:n])
                            c["sent"] += n
                except OSError as e:
                    c["error"] = repr(e)
                    c["eof"] = True
                if c["eof"]:
                    self.sel.unregister(c["sock"])
                    c["sock"].close()
                    open_count -= 1
                elif c["shut"]:
                    self.sel.modify(c["sock"], selectors.EVENT_READ, c)
                elif self.stopping:
                    self.sel.modify(c["sock"], selectors.EVENT_READ | selectors.EVENT_WRITE, c)
                elif c["sent"] - c["recv"] >= self.window:
                    self.sel.modify(c["sock"], selectors.EVENT_READ, c)
                else:
                    self.sel.modify(c["sock"], selectors.EVENT_READ | selectors.EVENT_WRITE, c)
            if self.stopping:
                for c in self.conns:
                    if not c["eof"] and not c["shut"]:
                        try:
                            self.sel.modify(c["sock"], selectors.EVENT_READ |
                                            selectors.EVENT_WRITE, c)
                        except (KeyError, ValueError):
                            pass

    def received(self):
        """Bytes each connection got back so far."""
        return [c["recv"] for c in self.conns]

    def stop(self, timeout=60):
        """Half-closes every connection, waits for the echoes to end; returns the problems."""
        self.stopping = True
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "stream clients did not finish"
        problems = []
        for i, c in enumerate(self.conns):
            if c["error"] or c["sent"] != c["recv"] or \
                    c["tx"].hexdigest() != c["rx"].hexdigest():
                problems.append((i, c["sent"], c["recv"], c["error"]))
        return problems
