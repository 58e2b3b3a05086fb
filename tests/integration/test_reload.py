"""SIGHUP reload against the real tsdirector: hundreds of live, transferring connections
survive it byte for byte while the new configuration takes effect; an invalid file changes
nothing; listeners are opened and closed by a reload."""
import socket

import pytest

from opslib import (StreamClients, ctl, metric, nodes_json, statuses, wait_statuses,
                    wait_until)
from tsdlib import Backend, free_port

LIVE = 200


def write(director, port, backends, listen=None):
    svc = {"listen": listen or f"127.0.0.1:{port}", "check": "tcp", "algorithm": "roundrobin",
           "sticky_key": "none"}
    director.write_config({"ssh": svc}, {n: {"address": b.addr} for n, b in backends.items()},
                          director={"max_connections": "5000"})


def echo_backends(names, servers):
    out = {n: Backend(mode="echo", name=n) for n in names}
    servers.extend(out.values())
    return out


def round_trips(port, n):
    for _ in range(n):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"ping\n")
            assert s.recv(100) == b"ping\n"


def test_sighup_with_live_connections_drops_nothing(userspace_director, servers):
    d = userspace_director
    port = free_port()
    b = echo_backends(["n1", "n2", "n3"], servers)
    write(d, port, {"n1": b["n1"], "n2": b["n2"]})
    d.start(wait_for=d.metrics_port)
    wait_statuses(d, {"n1": "Idle", "n2": "Idle"})

    clients = StreamClients(port, LIVE)
    wait_until(lambda: all(r > 0 for r in clients.received()), what="all streams flowing")
    on_n2 = metric(d, "tsdirector_node_active_connections", node="n2")
    assert on_n2 > 0 and metric(d, "tsdirector_connections_active", service="ssh") == LIVE
    n2_total = metric(d, "tsdirector_node_connections_total", node="n2")

    # n2 leaves, n3 joins.
    write(d, port, {"n1": b["n1"], "n3": b["n3"]})
    d.hup()
    wait_until(lambda: metric(d, "tsdirector_config_generation") == 2, what="generation 2")
    assert metric(d, "tsdirector_reloads_total", result="ok") == 1
    wait_statuses(d, {"n1": "Idle", "n3": "Idle", "n2": "Down"})  # n2: removed, still busy
    assert [n["removed"] for n in nodes_json(d)["nodes"] if n["name"] == "n2"] == [True]
    before = clients.received()
    round_trips(port, 20)
    assert metric(d, "tsdirector_node_connections_total", node="n2") == n2_total  # none new
    assert metric(d, "tsdirector_node_connections_total", node="n3") >= 5
    # The removed node's live sessions continue until they end.
    assert metric(d, "tsdirector_node_active_connections", node="n2") == on_n2
    wait_until(lambda: all(a > b0 for a, b0 in zip(clients.received(), before)),
               what="every stream still moving after the reload")

    assert clients.stop() == []
    moved = sum(c["recv"] for c in clients.conns)
    assert moved >= 2 * LIVE * clients.chunk
    assert metric(d, "tsdirector_bytes_total", direction="down") >= moved
    wait_until(lambda: metric(d, "tsdirector_connections_active", service="ssh") == 0,
               what="all connections closed")
    assert metric(d, "tsdirector_connection_resets_total") == 0
    assert "n2" not in statuses(d)  # gone once its last connection ended


def test_invalid_file_changes_nothing(userspace_director, servers):
    d = userspace_director
    port = free_port()
    b = echo_backends(["n1", "n2"], servers)
    write(d, port, b)
    d.start(wait_for=d.metrics_port)
    wait_statuses(d, {"n1": "Idle", "n2": "Idle"})
    clients = StreamClients(port, 20)
    wait_until(lambda: all(r > 0 for r in clients.received()), what="streams flowing")

    good = d.cfg_path.read_text()
    d.cfg_path.write_text(good + "\n[node n9]\naddress = not-an-address\n")
    d.hup()
    wait_until(lambda: metric(d, "tsdirector_reloads_total", result="failed") == 1,
               what="failed reload counted")
    assert metric(d, "tsdirector_config_generation") == 1
    assert "n9" not in statuses(d)
    round_trips(port, 4)
    r = ctl(d, "reload")
    assert r.returncode == 1 and "tsdirector.ini:" in r.stderr and "address" in r.stderr
    assert metric(d, "tsdirector_reloads_total", result="failed") == 2

    # Valid syntax, but a listener that cannot be opened: refused as a whole.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    bad_listen = f"127.0.0.1:{port}, 127.0.0.1:{busy.getsockname()[1]}"
    write(d, port, {"n1": b["n1"]}, listen=bad_listen)
    r = ctl(d, "reload")
    busy.close()
    assert r.returncode == 1 and "bind" in r.stderr
    assert metric(d, "tsdirector_config_generation") == 1
    assert statuses(d) == {"n1": "Idle", "n2": "Idle"}  # n2 was not removed
    assert clients.stop() == []


def test_reload_opens_and_closes_listeners(userspace_director, servers):
    d = userspace_director
    old, new = free_port(), free_port()
    b = echo_backends(["n1"], servers)
    write(d, old, b)
    d.start(wait_for=d.metrics_port)
    wait_statuses(d, {"n1": "Idle"})
    live = socket.create_connection(("127.0.0.1", old), timeout=10)
    live.sendall(b"before\n")
    assert live.recv(100) == b"before\n"

    write(d, new, b)
    d.hup()
    wait_until(lambda: metric(d, "tsdirector_config_generation") == 2, what="generation 2")
    round_trips(new, 3)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", old), timeout=5)
    live.sendall(b"after\n")  # accepted on the old listener, still forwarded
    assert live.recv(100) == b"after\n"
    live.shutdown(socket.SHUT_WR)
    assert live.recv(100) == b""
    live.close()
