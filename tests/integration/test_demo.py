"""The demo tells the truth (issue 14): scripts/lab.sh's three sshd nodes share one host, yet
`tsdirectorctl sessions` shows exactly the user who logged in, on exactly the node the director
sent them to, while connected and after the client was killed; a tmux session the admin had on
the host before the demo is nobody's desktop; and the next login from the same address goes
back to that node. Runs the real scripts/lab.sh, the real agents and conf/demo.ini (with this
test's own ports and directory)."""
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BIN, ROOT
from opslib import wait_until
from tsdlib import free_port, wait_port

TMUX_SOCKET = f"tsd-demo-test-{os.getpid()}"


def run(*cmd, check=True, timeout=60, **kw):
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True, text=True,
                          timeout=timeout, **kw)


@pytest.fixture
def demo(tmp_path):
    if os.geteuid() != 0 or not os.path.exists("/usr/sbin/sshd") or not shutil.which("tmux"):
        pytest.skip("needs root, sshd and tmux")
    lab = pathlib.Path(f"/var/tmp/tsd-demo-test-{os.getpid()}")
    port, metrics = free_port(), free_port()
    text = (ROOT / "conf" / "demo.ini").read_text()
    text = text.replace("/var/tmp/tsdirector-demo", str(lab))
    text = text.replace("127.0.0.1:2222, [::1]:2222", f"127.0.0.1:{port}")
    text = text.replace("127.0.0.1:9108", f"127.0.0.1:{metrics}")
    text = text.replace("/run/tsdirector/demo-admin.sock", str(tmp_path / "admin.sock"))
    cfg = tmp_path / "demo.ini"
    cfg.write_text(text)
    env = dict(os.environ, TSD_BIN=str(BIN))
    # Its agents run in the background: they must not hold our pipes open.
    with open(tmp_path / "lab.log", "wb") as out:
        subprocess.run([str(ROOT / "scripts" / "lab.sh"), "start", str(lab), "3"], env=env,
                       check=True, stdout=out, stderr=out, timeout=60)
    # The admin's own tmux session on the host, started before the demo, outside any ssh.
    host_env = {k: v for k, v in os.environ.items() if not k.startswith("SSH_")}
    run("tmux", "-L", TMUX_SOCKET, "new-session", "-d", "-s", "admins-own", env=host_env)
    log = open(tmp_path / "tsdirector.log", "wb")
    director = subprocess.Popen([BIN / "tsdirector", "-c", cfg, "--log-level", "debug"],
                                stdout=log, stderr=log)
    clients = []
    try:
        wait_port(metrics, proc=director)
        yield {"port": port, "metrics": metrics, "cfg": cfg, "lab": lab, "clients": clients,
               "log": tmp_path / "tsdirector.log"}
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
            c.wait()
        director.send_signal(signal.SIGTERM)
        rc = director.wait(15)
        # Both tmux servers, even when the test failed: a desktop left behind would be
        # reported (rightly) by the next run's agents.
        for sock in (TMUX_SOCKET, TMUX_SOCKET + "-desk"):
            run("tmux", "-L", sock, "kill-server", check=False)
            pathlib.Path(f"/tmp/tmux-0/{sock}").unlink(missing_ok=True)
        run(ROOT / "scripts" / "lab.sh", "stop", lab, env=env, check=False)
        shutil.rmtree(lab, ignore_errors=True)
        assert rc == 0


def ctl(demo, *args):
    r = run(BIN / "tsdirectorctl", "-c", demo["cfg"], "--json", *args, check=False)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["result"]


def ssh(demo, command):
    lab = demo["lab"]
    return subprocess.Popen(
        ["ssh", "-i", str(lab / "id_ed25519"), "-p", str(demo["port"]), "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "LogLevel=ERROR", "root@127.0.0.1", command],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def forwarded(demo):
    out = {}
    for n in ctl(demo, "nodes"):
        out[n["name"]] = n["active"]
    return out


def node_counts(demo):
    text = run("curl", "-fsS", f"http://127.0.0.1:{demo['metrics']}/metrics").stdout
    return {m.group(1): float(m.group(2)) for m in
            re.finditer(r'tsdirector_node_connections_total\{node="([^"]+)"\} (\S+)', text)}


def node_of_last_login(demo, before):
    """The node whose forwarded-connections counter moved since `before`."""
    now = node_counts(demo)
    moved = [n for n in now if now[n] > before.get(n, 0)]
    assert len(moved) == 1, (before, now)
    return moved[0], now


def test_sessions_show_exactly_the_user_on_exactly_their_node(demo):
    wait_until(lambda: all(n["status"] != "Down" for n in ctl(demo, "nodes")), timeout=30,
               what="the demo nodes up")
    assert ctl(demo, "sessions") == []  # the admin's host tmux is nobody's desktop
    # A desktop: a tmux session started through the director, then the client stays.
    client = ssh(demo, f"tmux -L {TMUX_SOCKET}-desk new-session -d -s desk; sleep 120")
    demo["clients"].append(client)
    wait_until(lambda: sum(forwarded(demo).values()) == 1, timeout=20, what="the login")
    home = [n for n, a in forwarded(demo).items() if a == 1][0]

    def rows():
        return [(s["user"], s["node"], s["state"]) for s in ctl(demo, "sessions")]
    wait_until(lambda: rows() and all(n == home for _, n, _ in rows()), timeout=20,
               what="the agents' inventory")
    print("connected:", rows())
    assert {u for u, _, _ in rows()} == {"root"}
    assert {n for _, n, _ in rows()} == {home}

    # The client is killed: its tmux desktop stays, suspended, on the same node only.
    client.send_signal(signal.SIGKILL)
    client.wait()
    try:
        wait_until(lambda: rows() == [("root", home, "suspended")], timeout=30,
                   what=f"exactly root's suspended desktop on {home}")
    except AssertionError as e:
        raise AssertionError(f"{e}; sessions now: {rows()}") from None

    # The next login from the same address goes home.
    before = node_counts(demo)
    again = ssh(demo, "true")
    demo["clients"].append(again)
    assert again.wait(30) == 0, again.stderr.read()
    node, _ = node_of_last_login(demo, before)
    assert node == home
