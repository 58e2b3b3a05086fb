"""The eBPF fast path as an operator sees it: `auto` falls back to user space (with a warning
and a metric) where BPF is not permitted, `ebpf` refuses to start there, a bulk transfer is
handed to user space while keystrokes stay in the kernel (more in test_fastpath_handover.py)."""
import os
import socket
import threading
import time

import pytest

from conftest import Director, bpf_possible
from tsdlib import Backend, connect, free_port, recv_all_and_hash, send_all_and_hash

# Root without the capabilities BPF needs (CAP_SYS_ADMIN would grant them too).
NO_BPF = ["setpriv", "--bounding-set=-bpf,-net_admin,-sys_admin,-perfmon",
          "--inh-caps=-bpf,-net_admin,-sys_admin,-perfmon"]

pytestmark = pytest.mark.skipif(not bpf_possible(), reason="needs root and a TSD_BPF build")


def config(d, backend, port, fast_path):
    d.fast_path = fast_path
    d.write_config({"t": {"listen": f"127.0.0.1:{port}", "check": "none",
                          "sticky_key": "none"}}, {"n1": {"address": backend.addr}},
                   director={"demote_bytes": "1M"})


def test_auto_falls_back_without_capabilities(tmp_path, servers):
    b = Backend("banner")
    servers.append(b)
    d = Director(tmp_path, "auto")
    port = free_port()
    config(d, b, port, "auto")
    d.start(cmd_prefix=NO_BPF)
    try:
        with connect(port) as s:
            s.settimeout(5)
            assert s.recv(100).startswith(b"SSH-")
        assert d.metric("tsdirector_fast_path_enabled") == 0
        assert d.metric("tsdirector_fast_path_fallback") == 1
        assert d.metric("tsdirector_data_path_connections_total", path="userspace") >= 1
    finally:
        assert d.stop() == 0


def test_ebpf_refuses_to_start_without_capabilities(tmp_path):
    d = Director(tmp_path, "ebpf")
    port = free_port()
    config(d, Backend("banner"), port, "ebpf")
    import subprocess
    from conftest import BIN
    out = subprocess.run(NO_BPF + [str(BIN / "tsdirector"), "-c", str(d.cfg_path)],
                         capture_output=True, timeout=30)
    assert out.returncode != 0
    assert b"CAP_BPF" in out.stderr


@pytest.mark.parametrize("perfmon", [True, False])
def test_stream_parser_realigns_with_perfmon_and_falls_back_without(tmp_path, servers, perfmon):
    """With CAP_PERFMON the realigning stream parser is loaded (docs/fast-path.md, "The
    realigning parser"); without it the plain one, with a warning and the gauge at 0, and the
    fast path still carries traffic."""
    b = Backend("echo")
    servers.append(b)
    d = Director(tmp_path, "ebpf")
    port = free_port()
    config(d, b, port, "ebpf")
    # CAP_SYS_ADMIN would count as CAP_PERFMON too.
    no_perfmon = ["setpriv", "--bounding-set=-perfmon,-sys_admin", "--inh-caps=-perfmon,-sys_admin"]
    d.start(cmd_prefix=() if perfmon else no_perfmon)
    try:
        with connect(port) as s:
            s.settimeout(5)
            for i in range(20):
                s.sendall(b"k%d" % i)
                assert s.recv(10) == b"k%d" % i
        assert d.metric("tsdirector_fast_path_enabled") == 1
        assert d.metric("tsdirector_fast_path_parser_realigns") == (1 if perfmon else 0)
        assert d.metric("tsdirector_fast_path_realigned_messages_total") == 0
        warned = "loaded without CAP_PERFMON" in d.log()
        assert warned != perfmon, d.log()[-2000:]
    finally:
        assert d.stop() == 0


def test_keystrokes_stay_in_kernel_bulk_is_handed_back(tmp_path, servers):
    """An interactive connection and a bulk upload (what scp does) to a node that reads late:
    the upload's direction is handed to user space with no byte lost, the interactive one
    stays on the fast path."""
    size = 64 << 20
    echo = Backend("echo")
    servers.append(echo)
    sink_port = free_port()
    lst = socket.create_server(("127.0.0.1", sink_port))
    received = {}

    def slow_sink():
        c, _ = lst.accept()
        time.sleep(0.5)  # the upload piles up in the director's queues meanwhile
        received["r"] = recv_all_and_hash(c)
        c.close()
    t = threading.Thread(target=slow_sink)
    t.start()
    d = Director(tmp_path, "ebpf")
    pi, pb = free_port(), free_port()
    # The sink takes no scheduled sessions (weight 0); its manual listener reaches it.
    d.write_config({"inter": {"listen": f"127.0.0.1:{pi}", "check": "none", "sticky_key": "none"}},
                   {"e": {"address": echo.addr},
                    "sink": {"address": f"127.0.0.1:{sink_port}", "weight": "0",
                             "manual_listen": f"127.0.0.1:{pb}"}},
                   # promote_after = 0: both pairs start in the kernel, so the upload is
                   # handed back from there (late promotion would keep it in user space).
                   director={"demote_bytes": "1M", "promote_after": "0"})
    d.start()
    try:
        inter = connect(pi)
        inter.settimeout(10)
        inter.sendall(b"k")
        assert inter.recv(10) == b"k"
        s = connect(pb, timeout=60)
        sent = send_all_and_hash(s, size, seed=1)
        s.shutdown(socket.SHUT_WR)
        for i in range(50):
            inter.sendall(b"k%d" % i)
            assert inter.recv(10) == b"k%d" % i
        t.join(120)
        assert received["r"] == (size, sent)
        inter.close()
        s.close()
        time.sleep(0.3)
        assert d.metric("tsdirector_fast_path_enabled") == 1
        assert d.metric("tsdirector_data_path_connections_total", path="ebpf") == 2
        # A hand-back keeps the pair on its forwarder: one direction is handed back, counted.
        assert d.metric("tsdirector_data_path_connections_total", path="demoted") is None
        assert d.metric("tsdirector_fast_path_transitions_total", event="handed_back") >= 1
    finally:
        lst.close()
        assert d.stop() == 0
