"""Operations against the real tsdirector: /metrics and /nodes over HTTP, every tsdirectorctl
command (and its errors), drain semantics, manual node choice (manual_listen and SNI), the
admin socket's permission checks (the packages: tests/packaging/test_packages.py)."""
import json
import os
import pathlib
import shutil
import socket
import stat
import subprocess
import tempfile

import pytest

from conftest import BUILD, ROOT
from opslib import (NOBODY, client_hello, ctl, ctl_json, http_get, metric, node_backends,
                    nodes_json, open_client, read_line, refused, statuses, wait_statuses,
                    wait_until, which_node)
from tsdlib import free_port


def start(director, servers, names=("n1", "n2"), service=None, sticky=None, extra_nodes=None,
          node_extra=None):
    """Starts the director in front of one banner backend per node; waits until all are up."""
    backends = node_backends(names, servers)
    port = free_port()
    svc = {"listen": f"127.0.0.1:{port}", "check": "tcp"}
    svc.update(service or {})
    nodes = {n: {"address": b.addr} for n, b in backends.items()}
    for n, kv in (node_extra or {}).items():
        nodes[n].update(kv)
    nodes.update(extra_nodes or {})
    director.write_config({"ssh": svc}, nodes, sticky=sticky)
    # Wait on the metrics port: a probe of the service port would be a counted client.
    director.start(wait_for=director.metrics_port)
    wait_statuses(director, {**{n: "Idle" for n in names},
                             **{n: "Down" for n in (extra_nodes or {})}})
    return port, backends


def test_metrics_move_as_connections_flow(userspace_director, servers):
    d = userspace_director
    port, _ = start(d, servers)
    status, ctype, body = http_get(d, "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    assert 'tsdirector_build_info{version="' in body
    assert metric(d, "tsdirector_connections_accepted_total", service="ssh") == 0
    assert metric(d, "tsdirector_node_up", node="n1", service="ssh") == 1

    payload = os.urandom(50000)
    with open_client(port) as s:
        first = read_line(s)
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            got += s.recv(65536)
        assert got == payload
        # Live bytes count before the connection ends.
        assert metric(d, "tsdirector_bytes_total", direction="up") >= len(payload)
        assert metric(d, "tsdirector_bytes_total", direction="down") >= len(payload) + len(first)
        assert metric(d, "tsdirector_connections_active", service="ssh") == 1
    node = first.decode().strip().split("-", 2)[2]
    assert which_node(port) == node  # the same client identity comes back: sticky
    wait_until(lambda: metric(d, "tsdirector_connections_active", service="ssh") == 0,
               what="connections closed")
    assert metric(d, "tsdirector_connections_accepted_total", service="ssh") == 2
    assert metric(d, "tsdirector_decisions_total", reason="scheduler") == 1
    assert metric(d, "tsdirector_decisions_total", reason="sticky") == 1
    assert metric(d, "tsdirector_node_connections_total", node=node) == 2
    assert metric(d, "tsdirector_node_bytes_total", node=node, direction="up") >= len(payload)
    assert metric(d, "tsdirector_data_path_connections_total", path="userspace") == 2
    assert metric(d, "tsdirector_sticky_entries") == 1
    assert metric(d, "tsdirector_node_status", node=node, status="idle") == 1
    assert metric(d, "tsdirector_config_generation") == 1

    assert http_get(d, "/healthz")[:1] == (200,)
    assert http_get(d, "/nope")[0] == 404


def test_docs_alerts_and_dashboard_match_the_metrics(userspace_director, servers):
    """Every family the daemon exports is documented, and the alert rules and the dashboard
    use only names it exports."""
    import re
    import yaml
    d = userspace_director
    start(d, servers)
    exported = set(re.findall(r"^# TYPE (tsdirector_\w+) ", d.metrics(), re.M))
    assert len(exported) > 30
    docs = ROOT / "docs"
    documented = set(re.findall(r"`(tsdirector_\w+)`", (docs / "operations.md").read_text()))
    assert exported <= documented, exported - documented
    rules = yaml.safe_load((docs / "prometheus-alerts.yml").read_text())
    exprs = " ".join(r["expr"] for g in rules["groups"] for r in g["rules"])
    dash = json.loads((docs / "grafana-dashboard.json").read_text())
    exprs += " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    used = set(re.findall(r"tsdirector_\w+", exprs))
    assert used and used <= exported, used - exported


def test_nodes_json_shows_status_and_overrides(userspace_director, servers):
    d = userspace_director
    dead = free_port()
    start(d, servers, extra_nodes={"n3": {"address": f"127.0.0.1:{dead}"}})
    doc = nodes_json(d)
    assert doc["generation"] == 1
    by = {n["name"]: n for n in doc["nodes"]}
    assert set(by) == {"n1", "n2", "n3"}
    assert by["n3"]["status"] == "Down" and by["n3"]["effective_weight"] == 0
    assert by["n1"]["status"] == "Idle" and by["n1"]["effective_weight"] > 0
    assert by["n1"]["load"] is None and by["n1"]["sessions"] is None  # no agent
    assert by["n1"]["checks"][0]["up"] is True
    assert metric(d, "tsdirector_node_status", node="n3", status="down") == 1
    assert metric(d, "tsdirector_node_up", node="n3", service="ssh") == 0

    assert ctl(d, "drain", "n1").returncode == 0
    assert ctl(d, "maint", "n2").returncode == 0
    assert ctl(d, "weight", "n3", "5").returncode == 0
    by = {n["name"]: n for n in nodes_json(d)["nodes"]}
    assert (by["n1"]["status"], by["n1"]["state"], by["n1"]["state_runtime"]) == \
        ("Drain", "drain", True)
    assert (by["n2"]["status"], by["n2"]["state"]) == ("Maint", "maint")
    assert (by["n3"]["weight"], by["n3"]["file_weight"], by["n3"]["weight_runtime"]) == \
        (5, 1, True)
    assert ctl(d, "ready", "n1").returncode == 0
    assert statuses(d)["n1"] == "Idle"


def test_ctl_every_command_and_errors(userspace_director, servers):
    d = userspace_director
    port, _ = start(d, servers, sticky={"ipv4_prefix": "32"})

    r = ctl(d, "nodes")
    assert r.returncode == 0 and r.stdout.split()[:2] == ["NODE", "STATUS"]
    assert "n1" in r.stdout and "n2" in r.stdout
    rc, js = ctl_json(d, "nodes")
    assert rc == 0 and js["ok"] and {n["name"] for n in js["result"]} == {"n1", "n2"}

    r = ctl(d, "drain", "n2")
    assert r.returncode == 0 and "drain (runtime override)" in r.stdout
    r = ctl(d, "nodes")
    assert "drain (runtime)" in r.stdout
    assert ctl(d, "ready", "n2").returncode == 0
    assert "(runtime)" not in ctl(d, "nodes").stdout  # back to the file's state
    assert ctl(d, "maint", "n2").returncode == 0
    assert ctl(d, "ready", "n2").returncode == 0
    r = ctl(d, "weight", "n1", "0")
    assert r.returncode == 0 and "weight 0 (runtime override)" in r.stdout
    assert ctl(d, "weight", "n1", "1").returncode == 0

    rc, js = ctl_json(d, "sessions")
    assert rc == 0 and js == {"ok": True, "result": []}
    assert ctl(d, "sessions").stdout.startswith("no sessions")

    # pin routes that client, sticky shows it, unpin removes it.
    r = ctl(d, "pin", "127.0.0.9", "n2", "8h")
    assert r.returncode == 0 and "127.0.0.9/32 pinned to node n2" in r.stdout
    assert which_node(port, src="127.0.0.9") == "n2"
    rc, js = ctl_json(d, "sticky", "127.0.0.9")
    assert rc == 0 and js["result"][0]["node"] == "n2" and js["result"][0]["pinned"]
    assert js["result"][0]["pinned_until"] is not None
    r = ctl(d, "sticky")
    assert r.returncode == 0 and "127.0.0.9/32" in r.stdout and "IDENTITY" in r.stdout
    assert ctl(d, "pin", "127.0.0.10", "n1").returncode == 0  # no TTL: until unpinned
    assert ctl(d, "unpin", "127.0.0.9/32").returncode == 0
    r = ctl(d, "sticky", "127.0.0.9")
    assert r.returncode == 1 and "no sticky entry" in r.stderr
    rc, js = ctl_json(d, "unpin", "127.0.0.9")
    assert rc == 1 and js["ok"] is False and "not pinned" in js["error"]

    r = ctl(d, "reload")
    assert r.returncode == 0 and "generation 2" in r.stdout
    assert metric(d, "tsdirector_reloads_total", result="ok") == 1

    # Errors from the daemon: exit 1 with a clear message.
    for args, text in [(("drain", "nosuch"), "unknown node 'nosuch'"),
                       (("weight", "nosuch", "3"), "unknown node"),
                       (("pin", "127.0.0.5", "nosuch"), "unknown node"),
                       (("pin", "not-an-ip", "n1"), "bad identity"),
                       (("sticky", "1.2.3.999"), "bad identity")]:
        r = ctl(d, *args)
        assert r.returncode == 1 and text in r.stderr, (args, r.stderr)
    # Usage errors, caught before connecting: exit 2.
    for args, text in [(("weight", "n1", "1001"), "bad weight"),
                       (("weight", "n1", "-1"), "bad weight"),
                       (("weight", "n1", "x"), "bad weight"),
                       (("pin", "127.0.0.5", "n1", "soon"), "bad TTL"),
                       (("pin", "127.0.0.5", "n1", "0s"), "bad TTL"),
                       (("drain",), "usage: drain NODE"),
                       (("weight", "n1"), "usage: weight"),
                       (("pin", "127.0.0.5"), "usage: pin"),
                       (("nodes", "extra"), "usage: nodes"),
                       (("frobnicate",), "unknown command")]:
        r = ctl(d, *args)
        assert r.returncode == 2 and text in r.stderr, (args, r.stderr)
    assert subprocess.run([str(BUILD / "bin" / "tsdirectorctl")],
                          capture_output=True).returncode == 2

    # The socket is missing: exit 1, saying so.
    r = ctl(d, "nodes", socket_path=str(d.tmp / "missing.sock"))
    assert r.returncode == 1 and "no admin socket" in r.stderr
    # A raw client speaking the protocol directly.
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(d.admin_socket)
        s.sendall(b"weight n1 5000\n")
        reply = json.loads(s.makefile().readline())
    assert reply["ok"] is False and "bad weight" in reply["error"]


def test_drain_keeps_returning_users_and_new_ones_out(userspace_director, servers):
    d = userspace_director
    port, _ = start(d, servers, sticky={"ipv4_prefix": "32"})
    home = which_node(port, src="127.0.0.2")
    other = "n2" if home == "n1" else "n1"
    assert ctl(d, "drain", home).returncode == 0
    for _ in range(3):
        assert which_node(port, src="127.0.0.2") == home  # returning user: sticky
    for src in ("127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"):
        assert which_node(port, src=src) == other  # new users avoid the draining node
    assert metric(d, "tsdirector_decisions_total", reason="sticky") >= 3
    assert ctl(d, "maint", home).returncode == 0
    assert which_node(port, src="127.0.0.2") == other  # maintenance: even returning users move


def test_manual_listen_routes_and_refuses_when_down(userspace_director, servers):
    d = userspace_director
    mport = free_port()
    port, backends = start(d, servers, node_extra={"n2": {"manual_listen": f"127.0.0.1:{mport}"}})
    for _ in range(4):
        assert which_node(mport) == "n2"
    assert metric(d, "tsdirector_decisions_total", reason="manual") == 4
    backends["n2"].close()
    wait_statuses(d, {"n1": "Idle", "n2": "Down"})
    assert refused(mport)
    wait_until(lambda: metric(d, "tsdirector_connections_refused_total",
                              reason="manual_down") == 1, what="manual_down counted")
    assert which_node(port) == "n1"  # the ordinary listener still works


def test_sni_naming_a_node_is_a_manual_choice(userspace_director, servers):
    d = userspace_director
    port, _ = start(d, servers, names=("n1", "n2", "n3"), service={"sticky_key": "sni"})
    for name in ("n2", "n3", "n2"):
        with open_client(port) as s:
            s.sendall(client_hello(name))
            assert read_line(s).decode().strip().endswith(name)
    assert metric(d, "tsdirector_decisions_total", reason="manual") == 3


def test_admin_socket_refuses_other_users(userspace_director, servers):
    d = userspace_director
    # A directory others may enter, so the socket's own mode is what stops them.
    sockdir = pathlib.Path(tempfile.mkdtemp(prefix="tsd-ops-"))
    os.chmod(sockdir, 0o755)
    d.admin_socket = str(sockdir / "sub" / "admin.sock")  # the daemon creates "sub"
    try:
        start(d, servers)
        st = os.stat(d.admin_socket)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
        assert stat.S_IMODE(os.stat(sockdir / "sub").st_mode) == 0o755
        r = ctl(d, "nodes", prefix=NOBODY)
        assert r.returncode == 1 and "permission denied" in r.stderr
        # Even with the file opened up, the daemon checks the peer's uid itself.
        os.chmod(d.admin_socket, 0o666)
        r = ctl(d, "drain", "n1", prefix=NOBODY)
        assert r.returncode == 1 and "uid 65534 may not use the admin socket" in r.stderr
        assert statuses(d)["n1"] == "Idle"  # nothing changed
        assert ctl(d, "nodes").returncode == 0  # root still can
        d.stop()
        assert not os.path.exists(d.admin_socket)  # removed on exit
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)


def test_stale_admin_socket_is_replaced(userspace_director, servers):
    d = userspace_director
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(d.admin_socket)  # left behind by a crashed daemon: nobody listens
    start(d, servers)
    assert ctl(d, "nodes").returncode == 0
