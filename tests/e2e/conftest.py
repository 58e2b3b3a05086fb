"""Fixtures for the end-to-end tests: a network-namespace lab (netns_lab.Lab) with a real
director, real sshd + tsdirector-agent nodes and real ssh clients, torn down even on failure."""
import os
import pathlib
import shutil

import pytest

from netns_lab import Lab

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("TSD_BUILD", ROOT / "build"))
NEEDED = ("ip", "unshare", "runuser", "nsenter", "ss", "ssh", "ssh-keygen", "tmux", "useradd",
          "userdel", "usermod")


def missing():
    if os.geteuid() != 0:
        return "needs root (network namespaces, sshd, useradd)"
    for b in ("tsdirector", "tsdirector-agent"):
        if not (BUILD / "bin" / b).exists():
            return f"{BUILD}/bin/{b} not built (set TSD_BUILD)"
    if not os.path.exists("/usr/sbin/sshd"):
        return "/usr/sbin/sshd not installed (openssh-server)"
    for tool in NEEDED:
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    if shutil.which("nft") is None and shutil.which("iptables") is None:
        return "neither nft (nftables) nor iptables installed"
    return None


@pytest.fixture(scope="module")
def lab():
    why = missing()
    if why:
        pytest.skip(why)
    lab = Lab(BUILD)
    director_rc = None
    try:
        lab.build_network()
        lab.make_keys()
        for suffix in "abc":
            lab.add_user(suffix)
        for i, node in enumerate(Lab.NODES, 1):
            lab.start_node(i, node)
        lab.write_director_config()
        lab.start_director()
        lab.wait_nodes_up(Lab.NODES)
        yield lab
        # A clean SIGTERM exit (state saved, nothing crashed) is part of every run.
        director_rc = lab.stop_director()
    finally:
        if os.environ.get("TSD_E2E_KEEP") == "1":
            print(f"lab files kept in {lab.dir}")
        lab.close()
        left = lab.leftovers()
        assert not left, f"namespaces left behind: {left}"
    assert director_rc in (0, None), f"tsdirector exited with {director_rc}"
