#!/usr/bin/python3
"""Benchmark of tsdirector-agent (docs/agent.md "Performance"): poll reply latency p50/p99
with a 200-session inventory while every collection takes 1 s (a sessions command that
sleeps 1 s), and the agent's CPU per collection. Loopback only; bounded in count and time.
usage: TSD_BUILD=build tests/e2e/agent_bench.py [POLLS]"""
import hashlib
import hmac
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

BUILD = pathlib.Path(os.environ.get("TSD_BUILD", "build"))
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(port, key):
    nonce = os.urandom(16).hex()
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"TSDAGENT/1 {nonce} bench\n".encode())
        reply = b"".join(iter(lambda: s.recv(65536), b""))
    elapsed = time.perf_counter() - t0
    body, mac = reply.rsplit(b"mac ", 1)
    assert hmac.new(key, nonce.encode() + body, hashlib.sha256).hexdigest() == mac.strip().decode()
    return elapsed, body


def cpu(pid):
    """(own, reaped children) CPU seconds of pid."""
    f = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK, (int(f[13]) + int(f[14])) / TICK


def start(d, key_file, port, command):
    return subprocess.Popen([BUILD / "bin" / "tsdirector-agent", "--listen", f"127.0.0.1:{port}",
                             "--key-file", key_file, "--node-name", "bench",
                             "--collect-interval", "1000", "--tmux-dir", d,
                             "--sessions-command", command, "--log-level", "warn"],
                            stderr=subprocess.DEVNULL)


def main():
    polls = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory(prefix="tag-agent-bench-") as d:
        key = os.urandom(32)
        key_file = pathlib.Path(d) / "key"
        key_file.write_text(key.hex() + "\n")
        os.chmod(key_file, 0o600)
        sessions = pathlib.Path(d) / "sessions"
        sessions.write_text("".join(
            f"user{i} nx {'suspended' if i % 3 else 'running'} 10.{i // 250}.{i % 250}.7 "
            f"{1700000000 + i}\n" for i in range(200)))
        runs = pathlib.Path(d) / "runs"
        port = free_port()
        agent = start(d, key_file, port, f"echo x >> {runs}; sleep 1; cat {sessions}")
        try:
            for _ in range(100):
                try:
                    _, body = poll(port, key)
                    if body.count(b"\nsession ") == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.1)
            lat = []
            ages = []
            deadline = time.time() + 120
            for _ in range(polls):
                if time.time() > deadline:
                    break
                e, body = poll(port, key)
                assert body.count(b"\nsession ") == 200
                lat.append(e)
                ages.append(int(body.split(b"\nage_ms ")[1].split(b"\n")[0]))
            lat.sort()
            p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
            print(f"polls {len(lat)}  p50 {p(0.50):.2f} ms  p99 {p(0.99):.2f} ms  "
                  f"max {lat[-1] * 1000:.2f} ms  snapshot age max {max(ages)} ms")
        finally:
            agent.terminate()
            agent.wait(10)
        # CPU per collection with no polls: the agent itself (reading /proc, parsing, sorting)
        # and its children (sh + cat; sleep uses none), over a quiet 10 s window.
        port = free_port()
        runs.unlink(missing_ok=True)
        agent = start(d, key_file, port, f"echo x >> {runs}; cat {sessions}")
        try:
            time.sleep(1.5)
            own0, kids0 = cpu(agent.pid)
            n0 = len(runs.read_text().splitlines())
            time.sleep(10)
            own1, kids1 = cpu(agent.pid)
            n1 = len(runs.read_text().splitlines())
        finally:
            agent.terminate()
            agent.wait(10)
        n = max(1, n1 - n0)
        print(f"collections {n}  agent CPU {(own1 - own0) / n * 1000:.1f} ms/collection  "
              f"children {(kids1 - kids0) / n * 1000:.1f} ms/collection")


if __name__ == "__main__":
    main()
