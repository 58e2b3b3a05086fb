"""Live hand-over (`tsdirector --takeover`): a new process receives the listeners and every live
connection of the running one over its admin socket, and the clients and nodes never notice.
Each connection checks an echo sequence before, during and after; a hand-over that fails (bad
config, a new process that dies or speaks another version) leaves the old process serving."""
import hashlib
import os
import re
import selectors
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import BIN
from opslib import ctl, ctl_json, metric, wait_until
from sshlib import lab  # noqa: F401 (the fixture)
from test_reload_scale import SelectorEcho, echo_all
from tsdlib import free_port, pattern

LIVE = int(os.environ.get("TSD_TAKEOVER_LIVE", "1000"))
MAGIC = 0x54534448


def take_over(d, config=None, timeout=120):
    """Starts `tsdirector --takeover` on d's config; returns (seconds until the old process
    exited, the old log). d then drives the new process."""
    n = getattr(d, "handovers", 0) + 1
    log = d.tmp / f"takeover-{n}.log"
    f = open(log, "ab")
    old, old_log = d.proc, d.log()
    t0 = time.time()
    new = subprocess.Popen([str(BIN / "tsdirector"), "-c", str(config or d.cfg_path),
                            "--log-level", "debug", "--takeover"], stdout=f, stderr=f)
    rc = old.wait(timeout)
    elapsed = time.time() - t0
    old_log = d.log()
    assert rc == 0, old_log[-3000:]
    wait_until(lambda: "hand-over from pid" in log.read_text() or new.poll() is not None,
               what="the new process to report the hand-over", timeout=30)
    assert new.poll() is None, log.read_text()[-3000:]
    d.proc, d.log_path, d.handovers = new, log, n
    return elapsed, old_log


def handover_figures(old_log):
    m = re.search(r"hand-over done: (\d+) connections, (\d+) listeners, (\d+) pending bytes; "
                  r"quiesce (\d+) ms, transfer (\d+) ms, adopted after (\d+) ms", old_log)
    assert m, old_log[-3000:]
    return [int(x) for x in m.groups()]


class Streamer:
    """Every connection sends a numbered line, waits for its exact echo, sends the next, on one
    thread, until stopped. Any mismatch or close is an error."""

    def __init__(self, conns):
        self.conns = conns
        self.rounds = [0] * len(conns)
        self.errors = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _token(self, i):
        return b"%d:%d;" % (i, self.rounds[i])

    def _run(self):
        sel = selectors.DefaultSelector()
        got = {}
        for i, s in enumerate(self.conns):
            s.setblocking(False)
            s.send(self._token(i))
            got[i] = b""
            sel.register(s, selectors.EVENT_READ, i)
        deadline = time.time() + 600
        while got and time.time() < deadline and not self.errors:
            for key, _ in sel.select(timeout=0.5):
                i, s = key.data, key.fileobj
                try:
                    data = s.recv(256)
                except BlockingIOError:
                    continue
                except OSError as e:
                    self.errors.append(f"connection {i}: {e}")
                    return
                if not data:
                    self.errors.append(f"connection {i} closed after {self.rounds[i]} rounds")
                    return
                got[i] += data
                want = self._token(i)
                if len(got[i]) < len(want):
                    continue
                if got[i] != want:
                    self.errors.append(f"connection {i}: got {got[i]!r}, want {want!r}")
                    return
                self.rounds[i] += 1
                got[i] = b""
                if self.stopping:  # the last echo is in: this one is done
                    sel.unregister(s)
                    s.setblocking(True)
                    del got[i]
                    continue
                s.send(self._token(i))

    def snapshot(self):
        return list(self.rounds)

    def stop(self):
        self.stopping = True
        self.thread.join(60)
        assert not self.errors, self.errors[:5]
        assert not self.thread.is_alive(), "the last echoes did not arrive"


def config(d, port, nodes, live=LIVE, extra_services=None, check="tcp"):
    services = {"ssh": {"listen": f"127.0.0.1:{port}", "check": check, "sticky_key": "src"}}
    services.update(extra_services or {})
    d.write_config(services, {f"n{i}": {"address": n.addr} for i, n in enumerate(nodes)},
                   director={"max_connections": str(live + 100)})


def open_conns(port, n):
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        out.append(s)
    return out


def test_two_handovers_in_a_row_under_streaming_connections(director, data_path):
    d = director
    port = free_port()
    nodes = [SelectorEcho() for _ in range(2)]
    conns = []
    try:
        config(d, port, nodes)
        d.start(wait_for=d.metrics_port)
        conns = open_conns(port, LIVE)
        echo_all(conns, b"before\n")
        wait_until(lambda: metric(d, "tsdirector_connections_active", service="ssh") == LIVE,
                   what=f"{LIVE} live connections", timeout=60)
        streamer = Streamer(conns)
        if data_path == "ebpf":
            # Interactive pairs are promoted to the kernel: the hand-over must bring them back.
            wait_until(lambda: metric(d, "tsdirector_fast_path_transitions_total",
                                      event="promoted") >= LIVE,
                       what="every pair promoted to the kernel", timeout=60)
        assert ctl(d, "weight", "n1", 3).returncode == 0  # a runtime override comes along
        figures = []
        for _ in range(2):  # the second right after the first
            before = streamer.snapshot()
            elapsed, old_log = take_over(d)
            figures.append((elapsed, handover_figures(old_log)))
            assert figures[-1][1][0] == LIVE
            # Every connection goes on exchanging with the new process.
            wait_until(lambda: all(a > b + 2 for a, b in zip(streamer.snapshot(), before)),
                       what="every connection streaming after the hand-over", timeout=120)
            assert not streamer.errors, streamer.errors[:5]
            assert metric(d, "tsdirector_connections_active", service="ssh") == LIVE
            # Node counts, the runtime weight and the sticky table's live counts continue.
            ns = ctl_json(d, "nodes")[1]["result"]
            assert sum(n["active"] for n in ns) == LIVE
            n1 = [n for n in ns if n["name"] == "n1"][0]
            assert (n1["weight"], n1["weight_runtime"]) == (3, True)
            sticky = ctl_json(d, "sticky")[1]["result"]
            assert sum(e["connections"] for e in sticky) == LIVE
        streamer.stop()
        echo_all(conns, b"after both hand-overs\n")
        assert metric(d, "tsdirector_connection_resets_total") == 0
        # The listeners came along: new connections are served by the new process.
        extra = open_conns(port, 20)
        echo_all(extra, b"new\n")
        for s in extra:
            s.close()
        for elapsed, (n, listeners, pending, quiesce, transfer, adopted) in figures:
            print(f"hand-over of {n} connections ({data_path}): {elapsed * 1000:.0f} ms until "
                  f"the old process exited; quiesce {quiesce} ms, transfer {transfer} ms, "
                  f"adopted and acknowledged after {adopted} ms")
    finally:
        for s in conns:
            s.close()
        for n in nodes:
            n.close()


def test_pending_bytes_both_ways_survive_the_handover(director):
    """Neither the node nor the client reads: the director holds bytes in both directions
    (in its buffers and the sockets') when the hand-over happens; all arrive intact after."""
    d = director
    port = free_port()
    stalled = socket.socket()
    stalled.bind(("127.0.0.1", 0))
    stalled.listen(4)

    class Addr:
        addr = f"127.0.0.1:{stalled.getsockname()[1]}"
    config(d, port, [Addr()], check="none")  # no probe may take the node's only accept
    d.start(wait_for=d.metrics_port)
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    node, _ = stalled.accept()
    # More than every buffer on the way can hold: receive buffers autotune up to tcp_rmem's
    # maximum (32 MiB here), and on the fast path 4 MiB more wait in the kernel before the
    # hand-back (16 MiB once fitted whole, now and then).
    up, down = pattern(64 << 20, seed=5), pattern(64 << 20, seed=6)

    def push(s, data):
        s.setblocking(False)
        off = 0
        idle_since = time.time()
        while off < len(data) and time.time() - idle_since < 1.0:
            try:
                off += s.send(data[off:off + 65536])
                idle_since = time.time()
            except BlockingIOError:
                time.sleep(0.01)
        s.setblocking(True)
        return off
    sent_up, sent_down = push(client, up), push(node, down)
    assert sent_up < len(up) and sent_down < len(down), "the buffers never filled"
    _, old_log = take_over(d)
    pending = handover_figures(old_log)[2]
    assert pending > 0, "the director held no bytes: the case was not exercised"
    results = {}

    def drain(name, s, n):
        h, got = hashlib.sha256(), 0
        s.settimeout(60)
        while got < n:
            b = s.recv(1 << 20)
            if not b:
                break
            h.update(b)
            got += len(b)
        results[name] = (got, h.hexdigest())
    threads = [threading.Thread(target=drain, args=("up", node, sent_up)),
               threading.Thread(target=drain, args=("down", client, sent_down))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert results["up"] == (sent_up, hashlib.sha256(up[:sent_up]).hexdigest())
    assert results["down"] == (sent_down, hashlib.sha256(down[:sent_down]).hexdigest())
    # Half-close after the hand-over still travels: FIN from the client reaches the node.
    client.shutdown(socket.SHUT_WR)
    node.settimeout(10)
    assert node.recv(10) == b""
    node.close()
    client.settimeout(10)
    assert client.recv(10) == b""
    client.close()
    stalled.close()
    wait_until(lambda: metric(d, "tsdirector_connections_active", service="ssh") == 0,
               what="the pair closed", timeout=30)
    assert metric(d, "tsdirector_connection_resets_total") == 0


def test_invalid_config_or_failed_start_leaves_the_old_process_serving(userspace_director):
    d = userspace_director
    port = free_port()
    nodes = [SelectorEcho()]
    try:
        config(d, port, nodes, live=100)
        d.start(wait_for=d.metrics_port)
        conns = open_conns(port, 50)
        echo_all(conns, b"one\n")
        # 1. The config does not even parse: the running process is never contacted.
        bad = d.tmp / "bad.ini"
        bad.write_text(d.cfg_path.read_text().replace("[service ssh]", "[service ssh]\nbogus = 1"))
        out = subprocess.run([str(BIN / "tsdirector"), "-c", str(bad), "--takeover"],
                             capture_output=True, timeout=30)
        assert out.returncode == 1
        assert b"bogus" in out.stderr and b"keeps serving" in out.stderr, out.stderr
        assert "hand-over" not in d.log()
        echo_all(conns, b"two\n")
        # 2. Valid, but a new listen address is taken: the new process fails after receiving
        # everything, refuses, and the old one resumes every connection and its listener.
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = d.tmp / "busy.ini"
        config(d, port, nodes, live=100, extra_services={
            "other": {"listen": f"127.0.0.1:{taken.getsockname()[1]}", "check": "tcp"}})
        d.cfg_path.rename(busy)
        config(d, port, nodes, live=100)
        out = subprocess.run([str(BIN / "tsdirector"), "-c", str(busy), "--takeover"],
                             capture_output=True, timeout=60)
        assert out.returncode == 1, out.stderr
        assert b"resumes" in out.stderr, out.stderr
        wait_until(lambda: "hand-over failed, still serving everything" in d.log(),
                   what="the old process to resume", timeout=30)
        assert d.proc.poll() is None
        echo_all(conns, b"three\n")
        extra = open_conns(port, 5)
        echo_all(extra, b"new\n")
        assert metric(d, "tsdirector_connection_resets_total") == 0
        taken.close()
        for s in conns + extra:
            s.close()
    finally:
        for n in nodes:
            n.close()


def frame(ftype, payload, version=1):
    return struct.pack("<IHBBI", MAGIC, version, ftype, 0, len(payload)) + payload


def fake_hello(version=1):
    sw = b"fake-new-process"
    return frame(1, struct.pack("<HI", version, os.getpid()) + struct.pack("<I", len(sw)) + sw,
                 version=version)


def fake_connect(admin):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(admin)
    s.sendall(b"takeover\n")
    msg, fds, _, _ = socket.recv_fds(s, 4096, 1)
    s.close()
    assert msg == b"H" and len(fds) == 1, msg
    ch = socket.socket(fileno=fds[0])
    ch.settimeout(30)
    hello = ch.recv(1 << 18)
    magic, version, ftype = struct.unpack("<IHB", hello[:7])
    assert (magic, version, ftype) == (MAGIC, 1, 1)
    return ch


def test_new_process_of_another_version_or_dying_mid_transfer(userspace_director):
    d = userspace_director
    port = free_port()
    nodes = [SelectorEcho()]
    try:
        config(d, port, nodes, live=300)
        d.start(wait_for=d.metrics_port)
        conns = open_conns(port, 250)  # three batches of pairs
        echo_all(conns, b"one\n")
        # Another format version: refused before anything is touched.
        ch = fake_connect(d.admin_socket)
        ch.send(fake_hello(version=99))
        wait_until(lambda: "format version 99 is not supported" in d.log(),
                   what="the version refusal", timeout=30)
        ch.close()
        echo_all(conns, b"two\n")
        # A new process that takes the first batch and dies: the old one resumes everything.
        ch = fake_connect(d.admin_socket)
        ch.send(fake_hello())
        got = []
        while len(got) < 2:
            msg, fds, _, _ = socket.recv_fds(ch, 1 << 18, 253)
            got.append(msg[6])
            for fd in fds:
                os.close(fd)  # our copies only: the sockets stay the old process's
        assert got == [2, 3], got  # listeners, then the first pairs batch
        ch.close()
        wait_until(lambda: "hand-over failed, still serving everything" in d.log(),
                   what="the old process to resume", timeout=30)
        echo_all(conns, b"three\n")
        extra = open_conns(port, 5)
        echo_all(extra, b"new\n")
        assert metric(d, "tsdirector_connection_resets_total") == 0
        # And a real hand-over still works afterwards, to a file with one more listener...
        port2 = free_port()
        config(d, port, nodes, live=300, extra_services={
            "other": {"listen": f"127.0.0.1:{port2}", "check": "tcp"}})
        take_over(d)
        echo_all(conns + extra, b"four\n")
        other = open_conns(port2, 3)
        echo_all(other, b"other\n")
        # ...then back to one: the dropped listener closes, its live connections go on.
        config(d, port, nodes, live=300)
        take_over(d)
        echo_all(conns + extra + other, b"five\n")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port2), timeout=5)
        assert metric(d, "tsdirector_connection_resets_total") == 0
        for s in conns + extra + other:
            s.close()
    finally:
        for n in nodes:
            n.close()


def test_interactive_ssh_session_survives_the_handover(director, lab):
    _, sport = lab.start_sshd()
    dport = free_port()
    director.write_config({"ssh": {"listen": f"127.0.0.1:{dport}", "check": "ssh"}},
                          {"n0": {"address": f"127.0.0.1:{sport}"}})
    director.start(wait_for=dport)
    ssh = subprocess.Popen(
        lab.ssh_args(dport) + ["while read l; do echo \"got $l\"; done"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def exchange(line):
            ssh.stdin.write(line + b"\n")
            ssh.stdin.flush()
            assert ssh.stdout.readline() == b"got " + line + b"\n"
        for i in range(5):
            exchange(b"before %d" % i)
        time.sleep(0.5)  # on the eBPF path, long enough to be promoted to the kernel
        take_over(director)
        for i in range(5):
            exchange(b"after %d" % i)
        take_over(director)
        exchange(b"after the second hand-over")
        ssh.stdin.close()
        assert ssh.wait(30) == 0, ssh.stderr.read()
    finally:
        if ssh.poll() is None:
            ssh.kill()
            ssh.wait()
    assert metric(director, "tsdirector_connection_resets_total") == 0


def test_systemd_reload_path_detaches_and_names_the_new_main_pid(userspace_director):
    """What the unit's ExecReload does: `--takeover --detach` returns 0 once done while the new
    process goes on; READY=1 and, from the old process before it exits, MAINPID=<new> reach
    $NOTIFY_SOCKET (the barrier answered as systemd does, by closing the passed fd)."""
    d = userspace_director
    notify_path = str(d.tmp / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(30)
    port = free_port()
    nodes = [SelectorEcho()]
    new_pid = None
    os.environ["NOTIFY_SOCKET"] = notify_path
    try:
        config(d, port, nodes, live=100)
        d.start(wait_for=d.metrics_port)
        conns = open_conns(port, 20)
        echo_all(conns, b"one\n")
        msgs = []

        def serve_notify():  # what systemd does with the datagrams
            while True:
                try:
                    msg, fds, _, _ = socket.recv_fds(notify, 4096, 4)
                except OSError:
                    return
                msgs.append(msg.decode())
                for fd in fds:
                    os.close(fd)  # BARRIER=1: closing the fd releases the sender
        threading.Thread(target=serve_notify, daemon=True).start()
        wait_until(lambda: any("READY=1" in m for m in msgs), what="READY=1", timeout=30)
        old_pid = d.proc.pid
        with open(d.tmp / "detached.log", "ab") as log:
            rc = subprocess.run([str(BIN / "tsdirector"), "-c", str(d.cfg_path), "--takeover",
                                 "--detach"], stdout=log, stderr=log, timeout=60).returncode
        assert rc == 0, (d.tmp / "detached.log").read_text()
        assert d.proc.wait(30) == 0
        mains = [m for m in msgs if m.startswith("MAINPID=")]
        assert mains, msgs
        new_pid = int(mains[-1].split("=")[1])
        assert new_pid != old_pid
        assert "told systemd the main process is now pid %d" % new_pid in d.log()
        assert new_pid != d.proc.pid
        assert d.proc.wait(30) == 0
        d.proc = None  # not our child: stopped by pid below
        echo_all(conns, b"two\n")
        for s in conns:
            s.close()
    finally:
        del os.environ["NOTIFY_SOCKET"]
        notify.close()
        for n in nodes:
            n.close()
        if new_pid:
            os.kill(new_pid, 15)
            wait_until(lambda: not os.path.exists(f"/proc/{new_pid}") or
                       open(f"/proc/{new_pid}/stat").read().split()[2] == "Z",
                       what="the detached process to stop", timeout=30)


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_handover_from_a_process_that_dropped_privileges(tmp_path, data_path):
    """The packaged setup: `[director] user` makes the running daemon an unprivileged user;
    the new process (root, as systemd's ExecReload) takes over and drops in turn."""
    import shutil
    import tempfile
    from conftest import Director
    d = Director(tmp_path, data_path)
    state_dir = tempfile.mkdtemp(prefix="tsd-takeover-")
    os.chmod(state_dir, 0o755)
    port = free_port()
    nodes = [SelectorEcho()]
    try:
        d.write_config({"ssh": {"listen": f"127.0.0.1:{port}", "check": "tcp"}},
                       {"n0": {"address": nodes[0].addr}},
                       director={"user": "nobody", "state_dir": state_dir + "/state"})
        d.start(wait_for=d.metrics_port)
        conns = open_conns(port, 200)
        echo_all(conns, b"one\n")
        time.sleep(0.5)  # promoted on the eBPF path
        take_over(d)
        echo_all(conns, b"two\n")
        uid = [line.split()[1] for line in open(f"/proc/{d.proc.pid}/status")
               if line.startswith("Uid:")][0]
        assert uid != "0"  # the new process dropped privileges too
        take_over(d)  # and a second one from it
        echo_all(conns, b"three\n")
        assert metric(d, "tsdirector_connection_resets_total") == 0
        for s in conns:
            s.close()
    finally:
        assert d.stop() == 0, d.log()[-3000:]
        for n in nodes:
            n.close()
        shutil.rmtree(state_dir)
