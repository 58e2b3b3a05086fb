"""tsd-load, the benchmark's load generator (tests/bench/load/tsd_load.cc), against its own
backends on loopback: every mode scripts/bench uses reports the figures the tables read, counts
what it should (exact per-backend counts, banners, held connections) and reports failures
instead of hiding them. Figures themselves are not asserted (shared machine)."""
import socket
import subprocess
import time

import pytest

from conftest import BUILD

LOAD = BUILD / "bin" / "tsd-load"


def kv(line):
    return dict(x.split("=", 1) for x in line.split())


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_listen(port, proc):
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, f"nothing listens on {port}"
            time.sleep(0.05)


@pytest.fixture
def serve():
    procs = []

    def start(mode, ports, *extra):
        p = subprocess.Popen([str(LOAD), "serve", "--mode", mode, "--ports",
                              ",".join(map(str, ports)), *extra], stderr=subprocess.PIPE, text=True)
        procs.append(p)
        for port in ports:
            wait_listen(port, p)
        return p

    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


def run(*args, timeout=60):
    r = subprocess.run([str(LOAD), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout.strip(), r.stderr


def test_rate_by_count_counts_every_backend_exactly(serve):
    ports = free_ports(4)
    serve("rr", ports)
    rc, out, err = run("rate", "--ports", ",".join(map(str, ports)), "--conc", 8, "--count", 400)
    assert rc == 0, err
    f = kv(out)
    assert f["conns"] == "400" and f["errors"] == "0" and f["bad"] == "0", out
    assert f["per_backend"] == "1:100,2:100,3:100,4:100", out
    assert float(f["cps"]) > 0 and float(f["p99_us"]) >= float(f["p50_us"]) > 0


def test_rate_reports_refused_connections_as_errors():
    (port,) = free_ports(1)
    rc, out, _ = run("rate", "--ports", port, "--conc", 2, "--count", 10, "--timeout", 5)
    f = kv(out)
    assert f["conns"] == "0" and f["errors"] == "10", out


def test_rate_by_duration_and_ping_after_banner(serve):
    rr, echo = free_ports(2)
    serve("rr", [rr])
    serve("echo", [echo], "--banner")
    rc, out, err = run("rate", "--port", rr, "--conc", 4, "--duration", 0.5, "--warmup", 0.1)
    assert rc == 0 and int(kv(out)["conns"]) > 0 and kv(out)["errors"] == "0", out + err
    rc, out, err = run("ping", "--port", echo, "--banner", "--n", 300, "--warmn", 10)
    assert rc == 0 and kv(out)["n"] == "300" and kv(out)["errors"] == "0", out + err
    rc, out, err = run("ping", "--port", echo, "--banner", "--n", 20, "--warmn", 0,
                       "--interval-us", 1000)
    f = kv(out)
    assert rc == 0 and f["n"] == "20" and float(f["p50_us"]) > 0, out + err


def test_idle_holds_connections_and_counts_drops(serve, tmp_path):
    a, b = free_ports(2)
    backend = serve("echo", [a, b], "--banner")
    ready = tmp_path / "ready"
    p = subprocess.Popen([str(LOAD), "idle", "--ports", f"{a},{b}", "--n", "200", "--banner",
                          "--ready", str(ready), "--maxhold", "30"], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not ready.exists():
        assert p.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    assert ready.read_text().strip() == "200"
    backend.terminate()  # every held connection now sees EOF: counted as dropped
    backend.wait(timeout=10)
    time.sleep(0.5)
    p.terminate()
    out, _ = p.communicate(timeout=10)
    f = kv(out.strip())
    assert f["opened"] == "200" and f["failed"] == "0", out
    assert f["dropped"] == "200" and f["alive_at_end"] == "0", out


def test_bulk_reads_from_source(serve):
    (port,) = free_ports(1)
    serve("source", [port])
    rc, out, err = run("bulk", "--port", port, "--streams", 2, "--duration", 0.5, "--warmup", 0.1)
    f = kv(out)
    assert rc == 0 and int(f["bytes"]) > 0 and float(f["gbps"]) > 0 and f["closed_early"] == "0", out + err


def test_bad_usage_exits_2():
    for args in [[], ["rate"], ["bogus", "--port", "1"], ["rate", "--port", "0"],
                 ["rate", "--port", "1", "--conc", "x"], ["serve", "--mode", "nope", "--port", "1"]]:
        rc, _, err = run(*args)
        assert rc == 2 and "tsd-load:" in err, (args, err)
