"""`[director] user`: the director binds and loads as root, then runs as that user with only
the capabilities it still needs, keeps serving, and can still save its sticky state."""
import os
import pathlib
import pwd
import shutil
import tempfile
import time

import pytest

from conftest import Director, bpf_possible
from tsdlib import Backend, connect, free_port

CAP_NET_ADMIN, CAP_BPF, CAP_SYS_ADMIN, CAP_PERFMON = 12, 39, 21, 38


def status(pid):
    return dict(line.split(":\t", 1) for line in open(f"/proc/{pid}/status").read().splitlines()
                if ":\t" in line)


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_runs_as_user_with_needed_capabilities(tmp_path, servers):
    b = Backend("banner")
    servers.append(b)
    nobody = pwd.getpwnam("nobody")
    d = Director(tmp_path, "ebpf" if bpf_possible() else "userspace")
    port = free_port()
    # pytest's tmp dirs are 0700 (root only): the state dir must be reachable by the user.
    state_dir = tempfile.mkdtemp(prefix="tsd-privdrop-")
    os.chmod(state_dir, 0o755)
    d.write_config({"t": {"listen": f"127.0.0.1:{port}", "check": "tcp"}},
                   {"n1": {"address": b.addr}},
                   director={"user": "nobody", "state_dir": state_dir + "/state"})
    d.start()
    try:
        time.sleep(0.3)
        st = status(d.proc.pid)
        assert st["Uid"].split()[:2] == [str(nobody.pw_uid)] * 2
        caps = int(st["CapEff"], 16)
        assert caps & (1 << CAP_NET_ADMIN) and caps & (1 << CAP_BPF)
        assert not caps & (1 << CAP_SYS_ADMIN)
        # Root had CAP_PERFMON: kept, so a fast path a reload loads can realign too.
        assert caps & (1 << CAP_PERFMON)
        for _ in range(5):
            with connect(port) as s:
                s.settimeout(5)
                assert s.recv(100).startswith(b"SSH-")
        assert d.metric("tsdirector_connections_accepted_total") >= 5
    finally:
        assert d.stop() == 0
    state = pathlib.Path(state_dir) / "state" / "sticky.state"
    try:
        assert state.exists()
        assert state.stat().st_uid == nobody.pw_uid
    finally:
        shutil.rmtree(state_dir)
