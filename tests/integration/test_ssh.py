"""A real ssh client through the real director to real sshd nodes."""
import hashlib
import os
import subprocess

import pytest

from sshlib import lab  # noqa: F401 (the fixture)
from tsdlib import free_port


def test_ssh_session_through_director(director, lab):
    nodes = {}
    for i in range(2):
        _, port = lab.start_sshd()
        nodes[f"n{i}"] = {"address": f"127.0.0.1:{port}"}
    dport = free_port()
    director.write_config({"ssh": {"listen": f"127.0.0.1:{dport}", "check": "ssh"}}, nodes)
    director.start(wait_for=dport)
    out = subprocess.run(lab.ssh_args(dport) + ["echo", "hello-through-director"],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == b"hello-through-director"
    # A bulk transfer over the same path (what scp does): 32 MiB, checksummed on the node.
    data = os.urandom(32 << 20)
    out = subprocess.run(lab.ssh_args(dport) + ["sha256sum"], input=data,
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
