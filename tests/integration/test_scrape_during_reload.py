"""A scrape during a reload never sees a half-applied configuration. Each configuration names
its own generation in a node (`gen7` lives only in the file that becomes generation 7), so
every /metrics, /nodes and /status.json answer can be checked on its own: its generation and
its node set must belong to the same file. Reloads run back to back while two threads scrape.

Why it holds: the daemon is one libevent loop. A reload (SIGHUP or `tsdirectorctl reload`) is
applied inside one callback and each HTTP answer is built inside another, so no answer can be
built while a reload is half done."""
import json
import os
import re
import threading
import time
import urllib.request

from opslib import ctl
from tsdlib import free_port

RELOADS = 150
DEADLINE_S = 90


def nodes_for(gen):
    return {"base": {"address": f"127.0.0.1:{free_port()}"},
            f"gen{gen}": {"address": f"127.0.0.1:{free_port()}"}}


def write_atomically(d, services, nodes):
    d.write_config(services, nodes)
    # write_config wrote cfg_path in place; re-write through a rename so a reader never sees a
    # partial file (the test is about the daemon, not about torn files).
    text = d.cfg_path.read_text()
    tmp = d.cfg_path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, d.cfg_path)


def check_set(gen, names, where, problems):
    if set(names) != {"base", f"gen{gen}"}:
        problems.append(f"{where}: generation {gen} with nodes {sorted(names)}")


def scrape(url_base, stop, problems, counts):
    last = 0
    while not stop.is_set():
        for path in ("/status.json", "/nodes", "/metrics"):
            with urllib.request.urlopen(url_base + path, timeout=10) as r:
                body = r.read().decode()
            if path == "/metrics":
                gen = int(float(re.search(r"^tsdirector_config_generation (\S+)$", body,
                                          re.M).group(1)))
                names = set(re.findall(r'^tsdirector_node_status\{node="([^"]+)"', body, re.M))
            else:
                doc = json.loads(body)
                gen = doc["generation"]
                names = [n["name"] for n in doc["nodes"]]
            check_set(gen, names, path, problems)
            if gen < last:
                problems.append(f"{path}: generation went back from {last} to {gen}")
            last = gen
            counts[path] = counts.get(path, 0) + 1


def test_every_scrape_matches_one_configuration(userspace_director):
    d = userspace_director
    services = {"ssh": {"listen": f"127.0.0.1:{free_port()}", "check": "tcp"}}
    write_atomically(d, services, nodes_for(1))
    d.start(wait_for=d.metrics_port)
    base = f"http://127.0.0.1:{d.metrics_port}"
    stop, problems = threading.Event(), []
    counts = [{}, {}]
    threads = [threading.Thread(target=scrape, args=(base, stop, problems, c), daemon=True)
               for c in counts]
    for t in threads:
        t.start()
    deadline = time.time() + DEADLINE_S
    done = 0
    try:
        for gen in range(2, RELOADS + 2):
            if time.time() > deadline:
                break
            write_atomically(d, services, nodes_for(gen))
            r = ctl(d, "reload")
            assert r.returncode == 0 and f"generation {gen}" in r.stdout, r.stdout + r.stderr
            done += 1
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert done >= 10, f"only {done} reloads in {DEADLINE_S}s"
    assert problems == [], problems[:10]
    total = sum(sum(c.values()) for c in counts)
    assert total > done, (total, done)  # scrapes really interleaved with the reloads
    assert all(c.get("/metrics", 0) > 0 for c in counts)
