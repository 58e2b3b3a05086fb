"""What SIGTERM does to live connections (docs/operations.md, "Stopping"): with stop_grace = 0
they are reset at once; with a grace time the listeners close at once, live connections keep
carrying bytes and the process exits as soon as the last one ends, or resets the rest when the
grace time is over; a second SIGTERM resets them at once."""
import signal
import socket
import time

import pytest

from tsdlib import Backend, connect, free_port


def start(d, servers, grace):
    b = Backend("echo")
    servers.append(b)
    port = free_port()
    director = {"stop_grace": grace}
    d.write_config({"ssh": {"listen": f"127.0.0.1:{port}", "check": "none"}},
                   {"n1": {"address": b.addr}}, director=director)
    d.start(wait_for=port)
    return port


def echo(sock, data=b"keystroke"):
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(len(data) - len(got))
        assert chunk, "connection closed"
        got += chunk
    return got


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except OSError:
        return True


def test_grace_lets_live_connections_finish(userspace_director, servers):
    d = userspace_director
    port = start(d, servers, "30s")
    c = connect(port)
    assert echo(c) == b"keystroke"
    d.proc.send_signal(signal.SIGTERM)
    deadline = time.time() + 10
    while not refused(port):
        assert time.time() < deadline, "listener still open after SIGTERM"
        time.sleep(0.05)
    for _ in range(5):  # the desktop carries on while the director drains
        assert echo(c) == b"keystroke"
        time.sleep(0.1)
    assert d.proc.poll() is None
    c.close()  # the last connection ends: the director exits at once, not after 30 s
    assert d.proc.wait(10) == 0
    assert "live connections may finish within 30000 ms" in d.log(), d.log()


def test_grace_over_resets_the_rest(userspace_director, servers):
    d = userspace_director
    port = start(d, servers, "1s")
    c = connect(port)
    assert echo(c) == b"keystroke"
    t0 = time.time()
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(10) == 0
    assert time.time() - t0 >= 0.9
    c.settimeout(5)
    with pytest.raises(ConnectionResetError):
        c.sendall(b"x")
        c.recv(1)
    assert "stop_grace over: resetting 1 connections" in d.log()


def test_second_sigterm_stops_at_once(userspace_director, servers):
    d = userspace_director
    port = start(d, servers, "60s")
    c = connect(port)
    assert echo(c) == b"keystroke"
    d.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert d.proc.poll() is None
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(10) == 0
    c.close()


def test_no_grace_resets_at_once(userspace_director, servers):
    d = userspace_director
    port = start(d, servers, "0")
    c = connect(port)
    assert echo(c) == b"keystroke"
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(10) == 0
    c.settimeout(5)
    with pytest.raises(ConnectionResetError):
        c.sendall(b"x")
        c.recv(1)
