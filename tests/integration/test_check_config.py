"""`tsdirector --check-config` against the real binary: it accepts exactly what the daemon
runs. A missing, short or group-readable agent key and a node that is one of the director's
own listeners fail the check with FILE:LINE, as they fail start and reload."""
import os
import subprocess

from conftest import BUILD
from tsdlib import free_port

KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"


def config(tmp_path, key_line="", node_port=None):
    port = free_port()
    node_port = node_port or free_port()
    text = (
        "[director]\nfast_path = userspace\nstate_dir = " + str(tmp_path) + "\n"
        "[metrics]\nlisten = off\n[admin]\nsocket = off\n"
        f"[service ssh]\nlisten = 127.0.0.1:{port}\n"
        f"[node a]\naddress = 127.0.0.1:{node_port}\n" + key_line)
    path = tmp_path / "tsdirector.ini"
    path.write_text(text)
    return path, port


def check(path):
    return subprocess.run([f"{BUILD}/bin/tsdirector", "--check-config", str(path)],
                          capture_output=True, text=True, timeout=30)


def test_good_config_with_a_good_key(tmp_path):
    key = tmp_path / "agent.key"
    key.write_text(KEY)
    key.chmod(0o600)
    path, _ = config(tmp_path, f"[agent]\nkey_file = {key}\n")
    r = check(path)
    assert r.returncode == 0, r.stderr
    assert "ok (1 service" in r.stdout


def test_bad_agent_keys_fail_the_check(tmp_path):
    key = tmp_path / "agent.key"
    cases = [("missing", None, 0o600, "cannot open key file"),
             ("group-readable", KEY, 0o640, "chmod 600"),
             ("too short", "abcd\n", 0o600, "key_file: ")]
    for what, content, mode, error in cases:
        if key.exists():
            key.unlink()
        if content is not None:
            key.write_text(content)
            key.chmod(mode)
        path, _ = config(tmp_path, f"[agent]\nkey_file = {key}\n")
        r = check(path)
        assert r.returncode == 1, what
        assert f"{path}:13: key_file:" in r.stderr and error in r.stderr, (what, r.stderr)
        # The daemon refuses to start on the same file, with the same message.
        d = subprocess.run([f"{BUILD}/bin/tsdirector", "-c", str(path)], capture_output=True,
                           text=True, timeout=30)
        assert d.returncode == 1 and error in d.stderr, (what, d.stderr)


def test_node_at_the_directors_own_listener_fails_the_check(tmp_path):
    path, port = config(tmp_path)
    text = path.read_text()
    node_addr = text.split("address = ")[1].split("\n")[0]
    path.write_text(text.replace(node_addr, f"127.0.0.1:{port}"))
    r = check(path)
    assert r.returncode == 1
    assert f"{path}:11: address:" in r.stderr, r.stderr
    assert "director's own listener" in r.stderr and "connect to itself" in r.stderr, r.stderr
