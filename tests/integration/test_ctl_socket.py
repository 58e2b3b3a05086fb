"""tsdirectorctl finds the admin socket without -s: -s, then -c FILE's [admin] socket, then
$TSDIRECTORCTL_SOCKET, then [admin] socket in the packaged /etc/tsdirector/tsdirector.ini,
then /run/tsdirector/admin.sock. The packaged-config cases run in a private mount namespace
with an overlay on /etc, so the machine's own /etc is never touched."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from conftest import BIN, ROOT
from opslib import node_backends
from tsdlib import free_port

CTL = str(BIN / "tsdirectorctl")
ENV = "TSDIRECTORCTL_SOCKET"


def run(*args, env=None, prefix=()):
    e = {k: v for k, v in os.environ.items() if k != ENV}
    e.update(env or {})
    return subprocess.run([*prefix, CTL, *map(str, args)], capture_output=True, text=True,
                          timeout=30, env=e)


def started(d, servers):
    b = node_backends(["n1"], servers)["n1"]
    d.write_config({"ssh": {"listen": f"127.0.0.1:{free_port()}"}}, {"n1": {"address": b.addr}})
    d.start(wait_for=d.metrics_port)
    return d


def ok_nodes(r):
    return r.returncode == 0 and r.stdout.split()[:2] == ["NODE", "STATUS"] and "n1" in r.stdout


def test_config_file_and_environment(userspace_director, servers, tmp_path):
    d = started(userspace_director, servers)
    missing = str(tmp_path / "nobody-listens.sock")
    assert ok_nodes(run("-c", d.cfg_path, "nodes"))
    assert run("--config", d.cfg_path, "--json", "nodes").stdout.startswith('{"ok":true')
    assert ok_nodes(run("nodes", env={ENV: d.admin_socket}))
    # Order: -s and -c beat the environment.
    assert ok_nodes(run("-s", d.admin_socket, "nodes", env={ENV: missing}))
    assert ok_nodes(run("-c", d.cfg_path, "nodes", env={ENV: missing}))
    r = run("nodes", env={ENV: missing})
    assert r.returncode == 1 and f"no admin socket at {missing} (from ${ENV})" in r.stderr
    r = run("-s", missing, "nodes")
    assert r.returncode == 1 and "(from -s)" in r.stderr
    # Both explicit choices: a usage error.
    r = run("-s", d.admin_socket, "-c", d.cfg_path, "nodes")
    assert r.returncode == 2 and "not both" in r.stderr

    # A config that does not parse, one that disables the socket, one that is missing.
    bad = tmp_path / "bad.ini"
    bad.write_text("[admin]\nsocket = \"/run/x.sock\"\n")
    r = run("-c", bad, "nodes", env={ENV: d.admin_socket})
    assert r.returncode == 1 and f"{bad}:2: socket:" in r.stderr, r.stderr
    off = tmp_path / "off.ini"
    off.write_text(d.cfg_path.read_text().replace(f"socket = {d.admin_socket}", "socket ="))
    r = run("-c", off, "nodes")
    assert r.returncode == 1 and "[admin] socket is empty" in r.stderr, r.stderr
    r = run("-c", tmp_path / "none.ini", "nodes")
    assert r.returncode == 1 and "none.ini" in r.stderr


def in_private_etc(tmp_path, script):
    """A shell script in its own mount namespace: /etc overlaid (writes land in tmp_path, not
    on the host) with an empty /etc/tsdirector, and an empty /run (no daemon's default
    socket)."""
    top = pathlib.Path(tempfile.mkdtemp(dir=tmp_path))
    upper, work = top / "upper", top / "work"
    upper.mkdir()
    work.mkdir()
    setup = (f"mount --make-rprivate / && mount -t overlay overlay -o lowerdir=/etc,"
             f"upperdir={upper},workdir={work} /etc && rm -rf /etc/tsdirector && "
             "mkdir /etc/tsdirector && mount -t tmpfs tmpfs /run && ")
    return ["unshare", "-m", "sh", "-c", setup + script]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare for a private /etc")
def test_packaged_config_then_default(userspace_director, servers, tmp_path):
    d = started(userspace_director, servers)
    packaged = tmp_path / "packaged.ini"
    packaged.write_text(d.cfg_path.read_text())
    broken = tmp_path / "broken.ini"
    broken.write_text("[admin]\nsocket = /x\nnonsense = 1\n")
    env = {k: v for k, v in os.environ.items() if k != ENV}

    def sh(script, extra_env=None):
        return subprocess.run(in_private_etc(tmp_path, script), capture_output=True, text=True,
                              timeout=30, env={**env, **(extra_env or {})})

    # No flags, no environment: the packaged config names the socket.
    r = sh(f"cp {packaged} /etc/tsdirector/tsdirector.ini && {CTL} nodes")
    assert ok_nodes(r), r.stderr
    # The environment comes before the packaged config.
    r = sh(f"cp {packaged} /etc/tsdirector/tsdirector.ini && {CTL} nodes",
           {ENV: str(tmp_path / "env.sock")})
    assert r.returncode == 1 and f"(from ${ENV})" in r.stderr, r.stderr
    # A broken packaged config: a warning, then the built-in default.
    r = sh(f"cp {broken} /etc/tsdirector/tsdirector.ini && {CTL} nodes")
    assert "warning:" in r.stderr and "nonsense" in r.stderr, r.stderr
    assert "/run/tsdirector/admin.sock (the default)" in r.stderr
    # No packaged config: the built-in default, said so.
    r = sh(f"{CTL} nodes")
    assert r.returncode == 1 and r.stdout == ""
    assert "no admin socket at /run/tsdirector/admin.sock (the default)" in r.stderr, r.stderr
    assert "warning" not in r.stderr
    # The README's demo line: the socket comes from conf/demo.ini (/run is empty here).
    demo = ROOT / "conf" / "demo.ini"
    r = sh(f"{CTL} -c {demo} nodes")
    assert r.returncode == 1 and \
        f"no admin socket at /run/tsdirector/demo-admin.sock ([admin] socket in {demo})" \
        in r.stderr, r.stderr
