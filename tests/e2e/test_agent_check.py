"""tsdirector-agent as an admin runs it by hand: --check prints what the agent would report
(figures, sessions, warnings) and exits; bad options and a bad key are refused clearly."""
import os
import subprocess

import pytest

from conftest import BUILD

AGENT = BUILD / "bin" / "tsdirector-agent"


def run(*args, **kw):
    return subprocess.run([str(AGENT), *map(str, args)], capture_output=True, text=True,
                          timeout=60, **kw)


@pytest.fixture
def tools(tmp_path):
    if not AGENT.exists():
        pytest.skip(f"{AGENT} not built (set TSD_BUILD)")
    key = tmp_path / "agent.key"
    key.write_text(os.urandom(32).hex() + "\n")
    os.chmod(key, 0o600)
    (tmp_path / "tmux").mkdir()
    return tmp_path, key


def test_check_prints_the_report_and_warnings(tools):
    d, key = tools
    r = run("--check", "--key-file", key, "--node-name", "node-9", "--tmux-dir", d / "tmux",
            "--sessions-command",
            "echo 'alice nx suspended 10.0.0.5 1700000000'; echo 'not a session'")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert f"# key {key}: ok" in lines
    assert "node node-9" in lines
    assert "session alice nx suspended 10.0.0.5 1700000000" in lines
    assert "warning sessions command: 1 invalid line(s) ignored" in lines
    assert any(line.startswith("load_per_cpu ") for line in lines)


def test_check_reports_a_hung_command_and_a_bad_key(tools):
    d, key = tools
    os.chmod(key, 0o644)  # readable by others: refused
    r = run("--check", "--key-file", key, "--tmux-dir", d / "tmux", "--command-timeout", "200",
            "--sessions-command", "sleep 30")
    assert r.returncode == 1
    assert "warning sessions command: timed out; its sessions are left out" in r.stdout
    assert f"# key {key}: " in r.stdout and ": ok" not in r.stdout


@pytest.mark.parametrize("args, why", [
    ([], "--key-file is required"),
    (["--key-file", "k", "--collect-interval", "0"], "--collect-interval"),
    (["--key-file", "k", "--node-address", "not-an-ip"], "--node-address"),
    (["--key-file", "k", "--node-name", "has space"], "invalid node name"),
    (["--key-file", "k", "--bogus", "1"], "--bogus"),
])
def test_bad_options_are_refused(tools, args, why):
    r = run(*args)
    assert r.returncode == 2
    assert why in r.stderr
