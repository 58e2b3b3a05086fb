"""Health checks with the real binary: a failing node stops getting new sessions within
fall x interval without clients noticing, and comes back after rise; the ssh check catches
a port that accepts but never sends a banner."""
import threading
import time

from tsdlib import Backend, connect, free_port


def session(port):
    """One client session: read the banner, send a keystroke, read the echo."""
    with connect(port, timeout=5) as s:
        s.settimeout(5)
        banner = s.recv(100)
        assert banner.startswith(b"SSH-"), banner
        s.sendall(b"k")
        assert s.recv(10) == b"k"


def farm(director, servers, n=3, check="ssh"):
    backends = [Backend("banner") for _ in range(n)]
    servers.extend(backends)
    port = free_port()
    director.write_config(
        {"ssh": {"listen": f"127.0.0.1:{port}", "check": check, "sticky_key": "none",
                 "algorithm": "roundrobin"}},
        {f"n{i}": {"address": b.addr} for i, b in enumerate(backends)},
        health={"interval": "200ms", "fast_interval": "100ms", "down_interval": "200ms",
                "timeout": "150ms", "rise": "2", "fall": "2"})
    director.start()
    time.sleep(0.6)  # first checks settle every node
    return backends, port


def test_wedged_sshd_is_marked_down(userspace_director, servers):
    backends, port = farm(userspace_director, servers)
    for _ in range(9):
        session(port)
    assert all(b.served > 0 for b in backends)
    backends[0].mode = "silent"  # accepts, never sends a banner: a wedged sshd
    time.sleep(2 * 0.2 + 2 * 0.1 + 0.8)  # fall checks (fast interval while pending) + slack
    before = backends[0].served
    for _ in range(12):
        session(port)  # would fail on the wedged node (no banner)
    assert backends[0].served == before
    backends[0].mode = "banner"
    time.sleep(2 * 0.2 + 2 * 0.1 + 0.8)  # rise checks + slack
    for _ in range(12):
        session(port)
    assert backends[0].served > before


def test_killed_node_no_client_failures(userspace_director, servers):
    backends, port = farm(userspace_director, servers, check="tcp")
    failures, done = [], threading.Event()
    count = [0]

    def clients():
        while not done.is_set():
            try:
                session(port)
                count[0] += 1
            except (OSError, AssertionError) as e:
                failures.append(repr(e))
            time.sleep(0.005)
    t = threading.Thread(target=clients)
    t.start()
    time.sleep(0.5)
    dead = backends[1]
    dead_port = dead.port
    dead.close()  # the node dies: connections are refused
    time.sleep(1.5)
    # The node comes back on the same port.
    revived = Backend("banner", port=dead_port)
    servers.append(revived)
    time.sleep(1.5)
    done.set()
    t.join(30)
    assert failures == []
    assert count[0] > 50
    assert revived.served > 0  # used again after rise
