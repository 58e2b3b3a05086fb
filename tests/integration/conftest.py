"""Fixtures for the integration tests: the real tsdirector binary on loopback, in front of
real backends (Python socket servers and, where a test asks, real sshd)."""
import os
import pathlib
import signal
import socket
import subprocess
import time

import pytest

from tsdlib import free_port, wait_port  # noqa: F401

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("TSD_BUILD", ROOT / "build"))
BIN = BUILD / "bin"


def bpf_possible():
    return os.geteuid() == 0 and os.environ.get("TSD_NO_BPF") != "1" and \
        (BUILD / "bpf").exists()


class Director:
    """A running tsdirector with a config written from a template dict."""

    def __init__(self, tmp_path, fast_path="userspace"):
        self.tmp = tmp_path
        self.fast_path = fast_path
        self.proc = None
        self.cfg_path = tmp_path / "tsdirector.ini"
        self.log_path = tmp_path / "tsdirector.log"
        self.metrics_port = free_port()
        self.admin_socket = str(tmp_path / "admin.sock")

    def write_config(self, services, nodes, director=None, health=None, sticky=None,
                     agent=None, extra=""):
        d = {"fast_path": self.fast_path, "connect_timeout": "1s", "connect_attempts": "3",
             "state_dir": str(self.tmp / "state")}
        d.update(director or {})
        h = {"interval": "200ms", "fast_interval": "100ms", "down_interval": "300ms",
             "timeout": "150ms", "rise": "2", "fall": "2"}
        h.update(health or {})
        out = ["[director]"] + [f"{k} = {v}" for k, v in d.items()]
        out += ["", "[health]"] + [f"{k} = {v}" for k, v in h.items()]
        if sticky:
            out += ["", "[sticky]"] + [f"{k} = {v}" for k, v in sticky.items()]
        if agent:
            out += ["", "[agent]"] + [f"{k} = {v}" for k, v in agent.items()]
        out += ["", "[metrics]", f"listen = 127.0.0.1:{self.metrics_port}"]
        out += ["", "[admin]", f"socket = {self.admin_socket}"]
        for name, kv in services.items():
            out += ["", f"[service {name}]"] + [f"{k} = {v}" for k, v in kv.items()]
        for name, kv in nodes.items():
            out += ["", f"[node {name}]"] + [f"{k} = {v}" for k, v in kv.items()]
        out.append(extra)
        (self.tmp / "state").mkdir(exist_ok=True)
        self.cfg_path.write_text("\n".join(out) + "\n")

    def start(self, wait_for=None, args=(), preexec=None, cmd_prefix=()):
        self.logf = open(self.log_path, "ab")
        cmd = list(cmd_prefix) + [str(BIN / "tsdirector"), "-c", str(self.cfg_path),
                                  "--log-level", "debug", *args]
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=self.logf,
                                     preexec_fn=preexec)
        if wait_for:
            wait_port(wait_for, proc=self.proc)
        else:
            self.wait_started()
        return self

    def wait_started(self, timeout=15):
        """Readiness without opening a connection (that would reach a backend)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tsdirector exited with {self.proc.returncode}:\n"
                                   + self.log()[-3000:])
            if "tsdirector started" in self.log():
                return
            time.sleep(0.05)
        raise TimeoutError("tsdirector did not start")

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        return self.proc.returncode if self.proc else None

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def metrics(self):
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                    timeout=5) as r:
            return r.read().decode()

    def metric(self, name, **labels):
        """Sum of the samples of `name` whose labels include `labels`."""
        total, found = 0.0, False
        for line in self.metrics().splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            key, _, value = line.rpartition(" ")
            mname, _, lbl = key.partition("{")
            if mname != name:
                continue
            if all(f'{k}="{v}"' in lbl for k, v in labels.items()):
                total += float(value)
                found = True
        return total if found else None


@pytest.fixture(params=["userspace", "ebpf"])
def data_path(request):
    if request.param == "ebpf" and not bpf_possible():
        pytest.skip("eBPF fast path needs root and a build with TSD_BPF=ON")
    return request.param


@pytest.fixture
def director(tmp_path, data_path):
    d = Director(tmp_path, data_path)
    yield d
    rc = d.stop()
    if rc not in (0, None):
        print(d.log()[-5000:])
    assert rc in (0, None), f"tsdirector exited with {rc}"
    if "AddressSanitizer" in d.log() or "runtime error:" in d.log():
        print(d.log()[-8000:])
        pytest.fail("sanitizer report in the director log")


@pytest.fixture
def userspace_director(tmp_path):
    d = Director(tmp_path, "userspace")
    yield d
    rc = d.stop()
    assert rc in (0, None), f"tsdirector exited with {rc}\n{d.log()[-3000:]}"


@pytest.fixture
def servers():
    started = []
    yield started
    for s in started:
        s.close()
