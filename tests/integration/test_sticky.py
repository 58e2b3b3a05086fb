"""Stickiness with the real binary on loopback: client identities from source addresses
(127.0.0.x) and TLS SNI names; the sticky table survives a restart; a down home node sends
its users elsewhere and they are re-stuck there."""
import socket
import ssl
import time

import pytest

from tsdlib import Backend, free_port


def named_farm(director, servers, n=3, svc=None, sticky=None, start=True):
    backends = [Backend("banner", banner=b"SSH-2.0-node%d\r\n" % i) for i in range(n)]
    servers.extend(backends)
    port = free_port()
    s = {"listen": f"127.0.0.1:{port}", "check": "tcp", "algorithm": "roundrobin"}
    s.update(svc or {})
    director.write_config({"ssh": s}, {f"n{i}": {"address": b.addr}
                                       for i, b in enumerate(backends)},
                          sticky=sticky or {"ipv4_prefix": "32"})
    if start:
        director.start()
        time.sleep(0.5)
    return backends, port


def land(port, src="127.0.0.2", first=b""):
    """Connects from `src`, returns the node index that answered."""
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    if first:
        s.sendall(first)
    banner = s.recv(100).split(b"\r\n")[0]
    s.close()
    assert banner.startswith(b"SSH-2.0-node"), banner
    return int(banner[len(b"SSH-2.0-node"):])


def test_source_address_sticks_and_survives_restart(userspace_director, servers):
    d = userspace_director
    backends, port = named_farm(d, servers)
    home = land(port, "127.0.0.2")
    assert all(land(port, "127.0.0.2") == home for _ in range(10))
    # Other clients are spread by the scheduler meanwhile.
    others = {land(port, f"127.0.0.{i}") for i in range(3, 9)}
    assert len(others) > 1
    d.stop()
    d.start()
    time.sleep(0.5)
    assert all(land(port, "127.0.0.2") == home for _ in range(5))


def test_down_home_node_replaces_and_restickes(userspace_director, servers):
    d = userspace_director
    backends, port = named_farm(d, servers)
    home = land(port, "127.0.0.5")
    dead_port = backends[home].port
    backends[home].close()
    time.sleep(1.0)  # fall checks
    new_home = land(port, "127.0.0.5")
    assert new_home != home
    assert all(land(port, "127.0.0.5") == new_home for _ in range(5))
    # The old node comes back; the user stays on the new home.
    servers.append(Backend("banner", port=dead_port, banner=b"SSH-2.0-node%d\r\n" % home))
    time.sleep(1.5)
    assert all(land(port, "127.0.0.5") == new_home for _ in range(5))


def test_prefix_groups_clients(userspace_director, servers):
    d = userspace_director
    backends, port = named_farm(d, servers, sticky={"ipv4_prefix": "24"})
    home = land(port, "127.0.0.2")
    # Every address in 127.0.0.0/24 is the same identity.
    assert all(land(port, f"127.0.0.{i}") == home for i in range(3, 12))


def client_hello(name):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def test_sni_identity_and_manual_choice(userspace_director, servers):
    d = userspace_director
    backends, port = named_farm(d, servers, svc={"sticky_key": "sni"})
    home = land(port, "127.0.0.2", first=client_hello("alice.example.org"))
    # The same name from other addresses lands on the same node.
    assert all(land(port, f"127.0.0.{i}", first=client_hello("alice.example.org")) == home
               for i in range(3, 8))
    # An SNI name equal to a node name is a manual choice of that node.
    for i in range(3):
        assert land(port, "127.0.0.9", first=client_hello(f"n{i}")) == i


def test_malformed_hello_closed_cleanly(userspace_director, servers):
    d = userspace_director
    backends, port = named_farm(d, servers, svc={"sticky_key": "sni"})
    for junk in (b"\x16\x03\x01\xff\xff" + b"\x00" * 40, b"GET / HTTP/1.0\r\n\r\n",
                 b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00"):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(junk)
        try:
            assert s.recv(100) == b""
        except ConnectionResetError:
            pass
        s.close()
    assert d.proc.poll() is None
    assert land(port, "127.0.0.2", first=client_hello("bob.example.org")) in (0, 1, 2)


def test_slow_hello_times_out(userspace_director, servers):
    d = userspace_director
    backends, port = named_farm(d, servers, svc={"sticky_key": "sni"})
    hello = client_hello("slow.example.org")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(hello[:20])  # a partial hello, never finished
    t0 = time.time()
    try:
        assert s.recv(100) == b""
    except ConnectionResetError:
        pass
    assert time.time() - t0 < 8  # closed by the hello deadline (connect_timeout), not hung
    s.close()
    assert sum(b.served for b in backends) == 0
