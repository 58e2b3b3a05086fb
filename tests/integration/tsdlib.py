"""Test helpers: loopback backends that count connections, data generators, port helpers."""
import hashlib
import os
import socket
import threading
import time


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(port, host="127.0.0.1", timeout=15, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port}")


def pattern(n, seed=0):
    """n deterministic pseudo-random bytes (fast: a repeated 1 MiB block with a seed)."""
    block = hashlib.shake_256(f"tsd{seed}".encode()).digest(1 << 20)
    reps = n // len(block) + 1
    return memoryview(block * reps)[:n]


def send_all_and_hash(sock, total, seed, chunk=256 * 1024):
    h = hashlib.sha256()
    block = hashlib.shake_256(f"tsd{seed}".encode()).digest(1 << 20)
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sock.sendall(piece)
        h.update(piece)
        sent += len(piece)
    return h.hexdigest()


def recv_all_and_hash(sock, limit=None):
    h = hashlib.sha256()
    n = 0
    while True:
        b = sock.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
        if limit is not None and n >= limit:
            break
    return n, h.hexdigest()


class Backend:
    """A threaded TCP server on loopback. mode:
    echo    - echo everything back, close after the client's FIN
    banner  - send `banner` first, then echo
    bulk    - receive and hash until FIN while sending `bulk_bytes` (seeded); close after both
    silent  - accept and never send (a wedged sshd)
    hold    - accept and keep the socket until closed by the client
    """

    def __init__(self, mode="echo", port=None, host="127.0.0.1", banner=b"SSH-2.0-tsdtest\r\n",
                 bulk_bytes=0, name=None):
        self.mode, self.banner, self.bulk_bytes = mode, banner, bulk_bytes
        self.host = host
        self.name = name
        self.port = port or free_port(host)
        self.accepted = 0
        self.served = 0  # connections that sent at least one byte (clients, not probes)
        self.results = []  # bulk: (bytes_received, sha256, error)
        self.lock = threading.Lock()
        self.conns = []
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, self.port))
        self.sock.listen(1024)
        self.closed = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    @property
    def addr(self):
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def _accept_loop(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            mode = self.mode  # read once: tests switch modes at run time
            if mode == "banner":
                c.sendall(self.banner)
            if mode in ("echo", "banner"):
                first = True
                while True:
                    b = c.recv(1 << 16)
                    if not b:
                        break
                    if first:
                        with self.lock:
                            self.served += 1
                        first = False
                    c.sendall(b)
                c.shutdown(socket.SHUT_WR)
            elif mode == "bulk":
                res = {}
                t = threading.Thread(target=lambda: res.update(
                    r=recv_all_and_hash(c)))
                t.start()
                send_all_and_hash(c, self.bulk_bytes, seed=2)
                c.shutdown(socket.SHUT_WR)
                t.join()
                with self.lock:
                    self.results.append(res["r"] + (None,))
            elif mode in ("silent", "hold"):
                while c.recv(1 << 16):
                    pass
        except OSError as e:
            with self.lock:
                self.results.append((0, "", e.errno))
        finally:
            try:
                c.close()
            except OSError:
                pass

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass


def connect(port, host="127.0.0.1", timeout=10):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def bpf_map_entries(pid):
    """Entries in the hash and sockhash maps a process holds (its fast-path socket maps)."""
    import re
    import subprocess
    total = 0
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            info = open(f"/proc/{pid}/fdinfo/{fd}").read()
        except OSError:
            continue
        mid = re.search(r"map_id:\s*(\d+)", info)
        mtype = re.search(r"map_type:\s*(\d+)", info)
        if not mid or mtype.group(1) not in ("1", "18"):  # BPF_MAP_TYPE_HASH, SOCKHASH
            continue
        out = subprocess.run(["bpftool", "map", "dump", "id", mid.group(1)],
                             capture_output=True, text=True).stdout
        found = re.search(r"Found (\d+) element", out)
        total += int(found.group(1)) if found else out.count("key:")
    return total
