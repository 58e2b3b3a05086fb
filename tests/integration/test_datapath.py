"""The data path through the real tsdirector, over both forwarders (user space, eBPF):
bytes intact both ways, who speaks first, half-close, resets, connect failures."""
import socket
import struct
import threading
import time

import pytest

from tsdlib import Backend, connect, free_port, recv_all_and_hash, send_all_and_hash

MiB = 1 << 20


def one_node(director, backend, port, **svc):
    s = {"listen": f"127.0.0.1:{port}", "check": "tcp", "sticky_key": "none"}
    s.update(svc)
    director.write_config({"t": s}, {"n1": {"address": backend.addr}})
    director.start(wait_for=port)
    wait_up(port)


def wait_up(port, tries=100):
    """Waits until a connection through the director reaches a backend (first check done)."""
    for _ in range(tries):
        try:
            with connect(port, timeout=2) as s:
                s.sendall(b"x")
                s.settimeout(2)
                if s.recv(64):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError("director never forwarded")


def test_bulk_both_ways_at_once(director, servers):
    size = 256 * MiB
    b = Backend("bulk", bulk_bytes=size)
    servers.append(b)
    port = free_port()
    director.write_config({"t": {"listen": f"127.0.0.1:{port}", "check": "none",
                                 "sticky_key": "none"}},
                          {"n1": {"address": b.addr}})
    director.start(wait_for=port)
    s = connect(port, timeout=60)
    got = {}
    t = threading.Thread(target=lambda: got.update(r=recv_all_and_hash(s)))
    t.start()
    sent = send_all_and_hash(s, size, seed=1)
    s.shutdown(socket.SHUT_WR)
    t.join(120)
    s.close()
    assert got["r"] == (size, send_all_and_hash_digest(size, 2))
    assert wait_result(b)[:2] == (size, sent)


def wait_result(backend, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with backend.lock:
            if backend.results:
                return backend.results[-1]
        time.sleep(0.05)
    raise TimeoutError("the backend never finished")


def send_all_and_hash_digest(size, seed):
    class Null:
        def sendall(self, _):
            pass
    return send_all_and_hash(Null(), size, seed)


def test_server_speaks_first(director, servers):
    b = Backend("banner")
    servers.append(b)
    port = free_port()
    one_node(director, b, port)
    with connect(port) as s:
        s.settimeout(5)
        assert s.recv(100).startswith(b"SSH-2.0-tsdtest")


def test_client_speaks_first_and_echo(director, servers):
    b = Backend("echo")
    servers.append(b)
    port = free_port()
    one_node(director, b, port)
    with connect(port) as s:
        for i in range(100):
            msg = b"keystroke %d" % i
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                got += s.recv(100)
            assert got == msg


def test_data_before_node_connects(director, servers):
    """Bytes the client sends at once (before the node connect completes) all arrive."""
    b = Backend("echo")
    servers.append(b)
    port = free_port()
    one_node(director, b, port)
    payload = bytes(range(256)) * 4096  # 1 MiB
    with connect(port) as s:
        s.sendall(payload[:65536])  # right after connect, before any reply
        t = threading.Thread(target=s.sendall, args=(payload[65536:],))
        t.start()
        got = bytearray()
        while len(got) < len(payload):
            chunk = s.recv(1 << 16)
            assert chunk
            got += chunk
        t.join()
        assert bytes(got) == payload


def test_half_close_client_first(director, servers):
    """Client sends FIN; the node still streams megabytes back, all of which arrive."""
    size = 32 * MiB
    b = Backend("bulk", bulk_bytes=size)
    servers.append(b)
    port = free_port()
    director.write_config({"t": {"listen": f"127.0.0.1:{port}", "check": "none",
                                 "sticky_key": "none"}}, {"n1": {"address": b.addr}})
    director.start(wait_for=port)
    with connect(port, timeout=30) as s:
        s.sendall(b"only this")
        s.shutdown(socket.SHUT_WR)
        n, digest = recv_all_and_hash(s)
    assert (n, digest) == (size, send_all_and_hash_digest(size, 2))
    assert wait_result(b)[0] == len(b"only this")


def test_half_close_node_first(director, servers):
    """The node sends its data and FIN first; the client keeps sending megabytes after it."""
    size = 32 * MiB
    srv_port = free_port()
    lst = socket.create_server(("127.0.0.1", srv_port))
    result = {}

    def serve():
        c, _ = lst.accept()
        c.sendall(b"bye")
        c.shutdown(socket.SHUT_WR)  # node half-closes first
        result["r"] = recv_all_and_hash(c)
        c.close()
    t = threading.Thread(target=serve)
    t.start()
    port = free_port()
    director.write_config({"t": {"listen": f"127.0.0.1:{port}", "check": "none",
                                 "sticky_key": "none"}},
                          {"n1": {"address": f"127.0.0.1:{srv_port}"}})
    director.start()
    with connect(port, timeout=30) as s:
        got = b""
        while True:
            chunk = s.recv(100)
            if not chunk:
                break
            got += chunk
        assert got == b"bye"
        sent = send_all_and_hash(s, size, seed=5)
        s.shutdown(socket.SHUT_WR)
        t.join(60)
    lst.close()
    assert result["r"] == (size, sent)


def rst_close(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def connected_pair(director):
    """A client connection through the director and the node's end of it."""
    srv_port = free_port()
    lst = socket.create_server(("127.0.0.1", srv_port))
    port = free_port()
    director.write_config({"t": {"listen": f"127.0.0.1:{port}", "check": "none",
                                 "sticky_key": "none"}},
                          {"n1": {"address": f"127.0.0.1:{srv_port}"}})
    director.start()
    s = connect(port)
    s.sendall(b"hello")
    c, _ = lst.accept()
    lst.close()
    c.settimeout(10)
    s.settimeout(10)
    assert c.recv(5) == b"hello"
    return s, c


def test_client_reset_reaches_node(director):
    s, c = connected_pair(director)
    rst_close(s)
    with pytest.raises(ConnectionResetError):
        while True:
            c.sendall(b"x" * 65536)  # the director must abort the node side
            time.sleep(0.01)
    c.close()


def test_node_reset_reaches_client(director):
    s, c = connected_pair(director)
    rst_close(c)
    with pytest.raises(ConnectionResetError):
        while True:
            if not s.recv(100):
                pytest.fail("client saw a FIN, not a reset")
    s.close()


def test_dead_node_skipped_on_connect(director, servers):
    """One of three nodes refuses connections; with checks off, every client still lands."""
    live = [Backend("banner", name=f"n{i}") for i in range(2)]
    servers.extend(live)
    dead_port = free_port()
    port = free_port()
    director.write_config(
        {"t": {"listen": f"127.0.0.1:{port}", "check": "none", "sticky_key": "none",
               "algorithm": "roundrobin"}},
        {"dead": {"address": f"127.0.0.1:{dead_port}"}, "n0": {"address": live[0].addr},
         "n1": {"address": live[1].addr}})
    director.start()
    for _ in range(30):
        with connect(port) as s:
            s.settimeout(5)
            assert s.recv(100).startswith(b"SSH-")
    assert live[0].accepted + live[1].accepted == 30
    assert live[0].accepted > 0 and live[1].accepted > 0


def test_all_nodes_dead_clean_close(director):
    port = free_port()
    director.write_config({"t": {"listen": f"127.0.0.1:{port}", "check": "none",
                                 "sticky_key": "none"}},
                          {"a": {"address": f"127.0.0.1:{free_port()}"},
                           "b": {"address": f"127.0.0.1:{free_port()}"}})
    director.start(wait_for=port)
    for _ in range(5):
        with connect(port) as s:
            s.settimeout(5)
            try:
                assert s.recv(100) == b""
            except ConnectionResetError:
                pass  # also a clean end for the client: no hang
    assert director.proc.poll() is None


def test_max_connections(director, servers):
    b = Backend("banner")
    servers.append(b)
    port = free_port()
    director.write_config({"t": {"listen": f"127.0.0.1:{port}", "check": "none",
                                 "sticky_key": "none"}},
                          {"n1": {"address": b.addr}}, director={"max_connections": "5"})
    director.start()
    held = []
    for _ in range(5):
        s = connect(port)
        s.settimeout(5)
        assert s.recv(100).startswith(b"SSH-")
        held.append(s)
    extra = connect(port)
    extra.settimeout(5)
    try:
        assert extra.recv(100) == b""  # closed politely, never forwarded
    except ConnectionResetError:
        pass
    extra.close()
    assert b.accepted == 5
    for s in held:
        s.close()
    time.sleep(0.3)
    with connect(port) as s:  # capacity is back
        s.settimeout(5)
        assert s.recv(100).startswith(b"SSH-")


def test_many_short_connections_no_leak(director, servers):
    b = Backend("echo")
    servers.append(b)
    port = free_port()
    one_node(director, b, port)
    from tsdlib import fd_count
    time.sleep(0.3)
    before = fd_count(director.proc.pid)
    for i in range(2000):
        with connect(port) as s:
            s.sendall(b"ping")
            s.settimeout(5)
            assert s.recv(10) == b"ping"
    time.sleep(1.0)
    after = fd_count(director.proc.pid)
    assert after <= before + 2, (before, after)
    if director.fast_path == "ebpf":
        from tsdlib import bpf_map_entries
        assert bpf_map_entries(director.proc.pid) == 0


def test_ipv6_listener(director, servers):
    b = Backend("banner")
    servers.append(b)
    port = free_port("::1")
    director.write_config({"t": {"listen": f"[::1]:{port}, 127.0.0.1:{port}",
                                 "check": "none", "sticky_key": "none"}},
                          {"n1": {"address": b.addr}})
    director.start(wait_for=port)
    for host in ("::1", "127.0.0.1"):
        with connect(port, host=host) as s:
            s.settimeout(5)
            assert s.recv(100).startswith(b"SSH-")


def test_idle_timeout(userspace_director, servers):
    director = userspace_director
    b = Backend("banner")
    servers.append(b)
    port = free_port()
    director.write_config({"t": {"listen": f"127.0.0.1:{port}", "check": "none",
                                 "sticky_key": "none"}},
                          {"n1": {"address": b.addr}},
                          director={"idle_timeout": "1s", "fast_path": "userspace"})
    director.start()
    with connect(port) as busy, connect(port) as idle:
        for s in (busy, idle):
            s.settimeout(10)
            assert s.recv(100).startswith(b"SSH-")
        for _ in range(15):  # 3 s of keystrokes on one, silence on the other
            busy.sendall(b"k")
            assert busy.recv(10) == b"k"
            time.sleep(0.2)
        try:
            assert idle.recv(100) == b""
        except ConnectionResetError:
            pass
        busy.sendall(b"still here")
        assert busy.recv(100) == b"still here"


def test_full_fd_table_recovers(tmp_path, servers):
    """With a tiny descriptor limit, a flood fails some clients but never the director, and
    service is back once the flood is gone."""
    from conftest import Director
    b = Backend("banner")
    servers.append(b)
    d = Director(tmp_path, "userspace")
    port = free_port()
    d.write_config({"t": {"listen": f"127.0.0.1:{port}", "check": "none",
                          "sticky_key": "none"}}, {"n1": {"address": b.addr}})
    d.start(cmd_prefix=["prlimit", "--nofile=48:48"])
    try:
        flood = []
        for _ in range(80):
            try:
                flood.append(connect(port, timeout=2))
            except OSError:
                pass
        time.sleep(0.5)
        assert d.proc.poll() is None
        for s in flood:
            s.close()
        time.sleep(0.5)
        for _ in range(10):
            with connect(port) as s:
                s.settimeout(5)
                assert s.recv(100).startswith(b"SSH-")
    finally:
        assert d.stop() == 0
