"""Two directors behind real keepalived (VRRP), in network namespaces, configured from the
shipped conf/keepalived.conf.example: the service address lives on the first director; when its
tsdirector stops, keepalived's check moves the address to the second one within seconds, and a
returning client lands on the same node there (both directors hash the client identically, no
state shared); with nopreempt the address stays put when the first director comes back.
The master is killed with SIGKILL, as a crash would."""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("TSD_BUILD", ROOT / "build"))
EXAMPLE = ROOT / "conf" / "keepalived.conf.example"

# A node: says its name, then echoes. Two of them on one node host, on two ports.
NODE_PY = """
import socket, sys, threading
name, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[3], port)); s.listen(64)
def serve(c):
    with c:
        c.sendall(name.encode() + b"\\n")
        while True:
            d = c.recv(4096)
            if not d: return
            c.sendall(d)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

# A client: connects, prints the node's name, proves the echo, exits.
CLIENT_PY = """
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
f = c.makefile("rb")
print(f.readline().decode().strip())
c.sendall(b"keystroke\\n")
assert f.readline() == b"keystroke\\n"
"""


def sh(*cmd, check=True, timeout=30):
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True, text=True,
                          timeout=timeout)


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class HaLab:
    def __init__(self):
        pid = os.getpid()
        self.prefix = f"tha-{pid}-"
        self.net = f"172.31.{pid % 200}"
        self.vip = f"{self.net}.10"
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix=self.prefix, dir="/var/tmp"))
        self.namespaces = []
        self.procs = {}

    def ns(self, short):
        return self.prefix + short

    def ip(self, host):
        return f"{self.net}.{host}"

    def build(self):
        sw = self.ns("sw")
        for short in ("sw", "c", "d1", "d2", "n"):
            sh("ip", "netns", "add", self.ns(short))
            self.namespaces.append(self.ns(short))
            sh("ip", "-n", self.ns(short), "link", "set", "lo", "up")
        sh("ip", "-n", sw, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", sw, "link", "set", "br0", "up")
        for short, host in (("c", 2), ("d1", 11), ("d2", 12), ("n", 21)):
            sh("ip", "-n", sw, "link", "add", f"p{short}", "type", "veth", "peer", "name", "eth0",
               "netns", self.ns(short))
            sh("ip", "-n", sw, "link", "set", f"p{short}", "master", "br0", "up")
            sh("ip", "-n", self.ns(short), "addr", "add", f"{self.ip(host)}/24", "dev", "eth0")
            sh("ip", "-n", self.ns(short), "link", "set", "eth0", "up")
        for d in ("d1", "d2"):
            # The backup binds the service address before it owns it (docs/operations.md).
            sh("ip", "netns", "exec", self.ns(d), "sysctl", "-q", "-w",
               "net.ipv4.ip_nonlocal_bind=1", "net.ipv6.ip_nonlocal_bind=1")

    def popen(self, key, short, argv, log):
        out = open(self.dir / log, "ab")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(short), *map(str, argv)],
                             stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        self.procs[key] = p
        return p

    def start_nodes(self):
        (self.dir / "node.py").write_text(NODE_PY)
        for name, port in (("a", 7001), ("b", 7002), ("c", 7003)):
            self.popen(f"node-{name}", "n", ["python3", self.dir / "node.py", name, port,
                                            self.ip(21)], f"node-{name}.log")
        wait_for(lambda: all(f":{p} " in sh("ip", "netns", "exec", self.ns("n"), "ss", "-ltn").stdout
                             for p in (7001, 7002, 7003)), 10, "nodes listening")

    def director_config(self, d):
        state = self.dir / d / "state"
        state.mkdir(parents=True, exist_ok=True)
        nodes = "".join(f"[node {n}]\naddress = {self.ip(21)}:{p}\n"
                        for n, p in (("a", 7001), ("b", 7002), ("c", 7003)))
        text = (f"[director]\nalgorithm = hash\nfast_path = userspace\nstate_dir = {state}\n"
                f"[health]\ninterval = 500ms\nfast_interval = 200ms\ndown_interval = 500ms\n"
                f"timeout = 300ms\n[metrics]\nlisten = 127.0.0.1:9108\n"
                f"[admin]\nsocket = {self.dir / d / 'admin.sock'}\n"
                f"[service ssh]\nlisten = {self.vip}:2222\ncheck = tcp\nsticky_key = src\n"
                + nodes)
        path = self.dir / d / "tsdirector.ini"
        path.write_text(text)
        return path

    def start_director(self, d):
        cfg = self.director_config(d)
        self.popen(f"tsd-{d}", d, [BUILD / "bin" / "tsdirector", "-c", cfg], f"tsd-{d}.log")
        wait_for(lambda: "tsdirector started" in self.log(f"tsd-{d}.log"), 15, f"{d} started")

    def stop_director(self, d, sig=signal.SIGTERM):
        p = self.procs.pop(f"tsd-{d}")
        p.send_signal(sig)
        return p.wait(15)

    def keepalived_config(self, d, priority, peer):
        """The shipped example with this lab's interface, addresses and router id."""
        text = EXAMPLE.read_text()
        text = text.replace("router_id tsdirector-a", f"router_id tsdirector-{d}")
        text = text.replace("priority 150", f"priority {priority}")
        text = text.replace("unicast_src_ip 10.20.0.11", f"unicast_src_ip {self.ip(11 if d == 'd1' else 12)}")
        text = re.sub(r"unicast_peer \{\s*10\.20\.0\.12\s*\}", f"unicast_peer {{\n        {peer}\n    }}", text)
        text = text.replace("10.20.0.10/24 dev eth0", f"{self.vip}/24 dev eth0")
        text = text.replace("2001:db8:20::10/64 dev eth0", "fd00:31::10/64 dev eth0")
        live = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
        assert not any("10.20.0." in ln for ln in live), "the example changed: update this test"
        path = self.dir / d / "keepalived.conf"
        path.write_text(text)
        return path

    def start_keepalived(self, d, priority, peer):
        cfg = self.keepalived_config(d, priority, peer)
        r = sh("keepalived", "-t", "-f", cfg, check=False)
        assert r.returncode == 0, f"keepalived -t refused the example: {r.stdout}{r.stderr}"
        run = self.dir / d
        self.popen(f"ka-{d}", d, ["keepalived", "-n", "-l", "-D", "-P", "-f", cfg,
                                  "-p", run / "ka.pid", "-r", run / "vrrp.pid"], f"ka-{d}.log")

    def holder(self):
        for d in ("d1", "d2"):
            out = sh("ip", "-n", self.ns(d), "-4", "addr", "show", "dev", "eth0").stdout
            if f"{self.vip}/" in out:
                return d
        return None

    def client(self):
        (self.dir / "client.py").write_text(CLIENT_PY)
        r = sh("ip", "netns", "exec", self.ns("c"), "python3", self.dir / "client.py", self.vip,
               2222, timeout=20)
        return r.stdout.strip()

    def accepted(self, d):
        r = sh("ip", "netns", "exec", self.ns(d), "curl", "-fsS", "http://127.0.0.1:9108/metrics",
               check=False)
        total = 0.0
        for line in r.stdout.splitlines():
            if line.startswith("tsdirector_connections_accepted_total"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def log(self, name):
        p = self.dir / name
        return p.read_text(errors="replace") if p.exists() else ""

    def close(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for ns in self.namespaces:
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)  # started by this lab's processes only
                except (ProcessLookupError, ValueError):
                    pass
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
        if os.environ.get("TSD_E2E_KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def ha():
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, keepalived)")
    for tool in ("keepalived", "curl", "ip"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")
    lab = HaLab()
    try:
        lab.build()
        lab.start_nodes()
        yield lab
    finally:
        failed = {k: lab.log(f"{k}.log")[-2000:] for k in ("tsd-d1", "tsd-d2", "ka-d1", "ka-d2")}
        lab.close()
        left = [n for n in sh("ip", "netns", "list", check=False).stdout.split()
                if n.startswith(lab.prefix)]
        assert not left, f"namespaces left behind: {left}"
        os.environ.get("TSD_E2E_VERBOSE") and print(failed)


def test_failover_keeps_users_on_their_node(ha):
    ha.start_director("d1")
    ha.start_director("d2")
    ha.start_keepalived("d1", 150, ha.ip(12))
    ha.start_keepalived("d2", 100, ha.ip(11))
    wait_for(lambda: ha.holder() == "d1", 20, "the service address on d1 (higher priority)")
    first = ha.client()
    assert first in ("a", "b", "c")
    assert ha.client() == first
    assert ha.accepted("d1") >= 2 and ha.accepted("d2") == 0

    # d1's tsdirector dies (SIGKILL, no goodbye): its check fails, d1 goes to FAULT and gives
    # the address up.
    t0 = time.time()
    assert ha.stop_director("d1", signal.SIGKILL) == -signal.SIGKILL
    wait_for(lambda: ha.holder() == "d2", 30, "the service address moving to d2")
    moved_after = time.time() - t0
    # The returning client reaches the same node through the other director.
    assert ha.client() == first
    assert ha.accepted("d2") >= 1
    print(f"failover: address moved {moved_after:.1f}s after tsdirector was killed on d1")

    # d1 comes back; with nopreempt the address stays on d2 (no flapping of new connections).
    ha.start_director("d1")
    time.sleep(6)  # longer than the check's rise (2 x 2 s): d1 is healthy and BACKUP again
    assert ha.holder() == "d2"
    assert ha.client() == first
