"""The status page at / in a real headless Chromium against the real director: every node
state on screen, a node going down shows up without a reload, the page loads nothing from
elsewhere and runs no script but its own, hostile names are shown as text, and the layout
fits a phone. Screenshots go to $TSD_TEST_OUTPUT/status-page (default build/test-output)."""
import json
import os
import pathlib
import socket
import stat
import subprocess
import threading
import urllib.error
import urllib.request

import pytest

from browserlib import CHROMIUM, Browser
from conftest import BIN, BUILD
from opslib import http_get, node_backends, nodes_json, open_client, read_line, wait_until
from tsdlib import Backend, free_port

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")

OUT = pathlib.Path(os.environ.get("TSD_TEST_OUTPUT", BUILD / "test-output")) / "status-page"

# Checks wait up to 500ms; a 250ms banner is Slow (over 100ms) but not failed.
HEALTH = {"interval": "600ms", "fast_interval": "600ms", "down_interval": "600ms",
          "timeout": "500ms", "slow_response": "100ms"}
ROWS = """Object.fromEntries(Array.from(document.querySelectorAll('#nodes tbody tr'))
           .map(r => [r.dataset.node, r.dataset.status]))"""


class SlowBanner:
    """An sshd stand-in that waits before its banner: the check latency makes the node Slow."""

    def __init__(self, delay):
        self.delay, self.conns = delay, []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.addr = f"127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Timer(self.delay, self._banner, (c,)).start()

    def _banner(self, c):
        try:
            c.sendall(b"SSH-2.0-slow\r\n")
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def browser():
    b = Browser()
    yield b
    b.close()


def out_dir():
    OUT.mkdir(parents=True, exist_ok=True)
    return OUT


def page_url(d):
    return f"http://127.0.0.1:{d.metrics_port}/"


def test_page_shows_every_state_and_follows_a_node_going_down(userspace_director, servers,
                                                              browser):
    d = userspace_director
    backends = node_backends(["idle", "busy", "drain", "maint", "victim"], servers)
    slow = SlowBanner(0.25)
    servers.append(slow)
    port, manual = free_port(), free_port()
    nodes = {n: {"address": b.addr} for n, b in backends.items()}
    nodes["busy"].update({"max_sessions": "1", "manual_listen": f"127.0.0.1:{manual}"})
    nodes["drain"]["state"] = "drain"
    nodes["maint"]["state"] = "maint"
    nodes["slow"] = {"address": slow.addr}
    nodes["down"] = {"address": f"127.0.0.1:{free_port()}"}
    d.write_config({"ssh": {"listen": f"127.0.0.1:{port}", "check": "ssh"}}, nodes,
                   health=HEALTH)
    d.start(wait_for=d.metrics_port)
    held = open_client(manual)  # the busy node's one session
    assert read_line(held).startswith(b"SSH-2.0-busy")
    expected = {"idle": "Idle", "busy": "Busy", "drain": "Drain", "maint": "Maint",
                "victim": "Idle", "slow": "Slow", "down": "Down"}
    wait_until(lambda: {n["name"]: n["status"] for n in nodes_json(d)["nodes"]} == expected,
               what="every state")

    page = browser.open(page_url(d))
    assert set(page.eval(ROWS)) == set(expected)
    # Exact states (a loaded machine may briefly make a check slow: poll, don't assume).
    wait_until(lambda: page.eval(ROWS) == expected, what="every state on the page")
    badges = page.eval("""Object.fromEntries(Array.from(document.querySelectorAll(
        '#nodes tbody tr')).map(r => { const b = r.querySelector('.st');
        return [r.dataset.status, [b.textContent, getComputedStyle(b).backgroundColor]]; }))""")
    assert {s: t for s, (t, _) in badges.items()} == {s: s for s in badges}
    assert len({c for _, c in badges.values()}) == len(badges), badges  # a colour per state
    cells = page.eval("""Array.from(document.querySelector('tr[data-status=Busy]').children)
                         .map(td => td.textContent)""")
    assert cells[0].startswith("busy") and cells[5] == "1" and cells[9] == f"127.0.0.1:{manual}"
    assert "ssh: " in cells[8] and " ms" in cells[8]
    assert page.eval("document.getElementById('dec-manual').textContent") == "1"
    assert page.eval("document.getElementById('conn-active').textContent").startswith("1 / ")
    assert page.eval("document.getElementById('generation').textContent") == "1"
    page.screenshot(out_dir() / "desktop.png")

    # A node goes down: the page follows without being reloaded.
    page.eval("window.tsdMarker = 'same page'")
    refreshes = page.eval("window.tsdRefreshes || 0")
    backends["victim"].close()
    page.wait("document.querySelector('tr[data-node=victim]').dataset.status === 'Down'",
              timeout=30, what="victim shown Down")
    assert page.eval("window.tsdMarker") == "same page"
    assert page.eval("window.tsdRefreshes") > refreshes
    page.screenshot(out_dir() / "node-went-down.png")

    # A reload shows up too: a new generation and a node added by the file.
    extra = node_backends(["added"], servers)["added"]
    nodes["added"] = {"address": extra.addr}
    d.write_config({"ssh": {"listen": f"127.0.0.1:{port}", "check": "ssh"}}, nodes,
                   health=HEALTH)
    d.hup()
    page.wait("document.getElementById('generation').textContent === '2' && "
              "document.querySelector('tr[data-node=added]') !== null", timeout=30,
              what="generation 2 with the added node")

    # Offline and self-contained: every request went to the director, and nothing failed.
    origin = page_url(d)
    assert all(u.startswith(origin) or u.startswith("data:") for u in page.requests()), \
        page.requests()
    assert page.errors() == []
    held.close()


def test_page_fits_a_phone(userspace_director, servers, browser):
    d = userspace_director
    backends = node_backends(["phone-node-with-a-long-name", "n2"], servers)
    nodes = {n: {"address": b.addr} for n, b in backends.items()}
    d.write_config({"ssh": {"listen": f"127.0.0.1:{free_port()}", "check": "tcp"}}, nodes)
    d.start(wait_for=d.metrics_port)
    wait_until(lambda: all(n["status"] == "Idle" for n in nodes_json(d)["nodes"]),
               what="nodes up")
    # With /status.json blocked, the page still shows the nodes (from the document it carries),
    # then says its figures are stale, and recovers once the director can be fetched again.
    page = browser.open(page_url(d), width=390, height=844, mobile=True,
                        block=["*/status.json"])
    assert page.eval("document.querySelectorAll('#nodes tbody tr').length") == 2
    assert page.eval("document.querySelector('tr[data-node=n2]').dataset.status") == "Idle"
    page.wait("document.getElementById('stale').classList.contains('on')", what="stale banner")
    page.screenshot(out_dir() / "phone-stale.png")
    page.block([])
    page.wait("!document.getElementById('stale').classList.contains('on')",
              what="the banner gone after a good fetch")
    # No sideways scrolling; the table became labelled cards.
    assert page.eval("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert page.eval("getComputedStyle(document.querySelector('#nodes thead')).display") == "none"
    label = page.eval("""getComputedStyle(document.querySelector('#nodes tbody td'),
                         '::before').content""")
    assert label == '"Node"'
    page.screenshot(out_dir() / "phone.png")
    assert page.errors(allow=["ERR_BLOCKED_BY_CLIENT"]) == []


def agent_key(tmp_path):
    key = tmp_path / "agent.key"
    key.write_text(os.urandom(32).hex() + "\n")
    os.chmod(key, stat.S_IRUSR | stat.S_IWUSR)
    return key


HOSTILE_AGENT = "</script><img/src=x/onerror=window.pwned=1>\"'&amp;"


def test_hostile_names_are_shown_as_text(userspace_director, servers, browser, tmp_path):
    """Names reach the page from the config and from the nodes. An agent that names itself
    with HTML is refused as a wrong node (its text never reaches /nodes or the page); a good
    agent's figures do; and the renderer shows hostile text as text wherever it comes from."""
    d = userspace_director
    key = agent_key(tmp_path)
    hosts = {"x": "127.0.0.31", "y": "127.0.0.32"}
    names = {"x": "x", "y": HOSTILE_AGENT}
    backends, agents = {}, []
    aport = free_port("127.0.0.31")
    for n, host in hosts.items():
        backends[n] = Backend(mode="banner", host=host, banner=b"SSH-2.0-x\r\n")
        servers.append(backends[n])
        agents.append(subprocess.Popen(
            [str(BIN / "tsdirector-agent"), "--key-file", str(key), "--listen",
             f"{host}:{aport}", "--node-name", names[n], "--sessions-command", "true"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        d.write_config({"ssh": {"listen": f"127.0.0.1:{free_port()}", "check": "tcp"}},
                       {n: {"address": b.addr} for n, b in backends.items()},
                       agent={"port": str(aport), "key_file": str(key), "poll": "200ms"})
        d.start(wait_for=d.metrics_port)

        def node(name):
            return [n for n in nodes_json(d)["nodes"] if n["name"] == name][0]
        wait_until(lambda: node("x")["agent_node"] == "x", what="the good agent's report")
        wait_until(lambda: node("y")["polls"]["wrong_node"] >= 1,
                   what="the hostile agent refused as another node")
        assert node("y")["agent_node"] is None and node("y")["load"] is None
        # The good agent's figures reach /nodes: memory and the running/suspended split.
        n = node("x")
        assert n["mem_available_kib"] > 0 and n["load"] is not None
        assert n["sessions_running"] is not None and n["sessions_suspended"] is not None
        assert n["sessions_running"] + n["sessions_suspended"] == n["sessions"]
        _, _, raw = http_get(d, "/")
        assert "<img" not in raw and "onerror" not in raw

        page = browser.open(page_url(d))
        page.wait("document.querySelectorAll('#nodes tbody tr').length == 2", what="two rows")
        assert page.eval("document.images.length") == 0
        assert page.eval("typeof window.pwned") == "undefined"
        mem = page.eval("document.querySelector('#nodes tbody tr').children[3].textContent")
        assert mem.endswith(" GiB") or mem.endswith(" MiB"), mem

        # Names the config and the agent protocol refuse (non-ASCII, spaces) still render as
        # text when they arrive: the renderer itself, fed a hostile document.
        doc = json.loads(http_get(d, "/status.json")[2])
        evil = {"name": "<b id=inj>é中\"'</b>", "address": "<i>addr</i>", "status": "Bogus<x>",
                "agent_node": "<svg onload=window.pwned=2>", "manual_listen": "<u>m</u>",
                "state": "<s>", "state_runtime": True, "weight_runtime": False, "removed": False,
                "checks": [{"service": "<q>", "known": True, "up": False,
                            "latency_seconds": 0, "last_error": "<img src=x onerror=pwned=3>"}]}
        base = dict(doc["nodes"][0])
        base.update(evil)
        doc["nodes"] = [base]
        doc["services"][0]["name"] = "<marquee>svc</marquee>"
        page.eval(f"window.tsdRender({json.dumps(doc)})")
        row = page.eval("""(() => { const r = document.querySelector('#nodes tbody tr');
            return [r.dataset.node, r.dataset.status, r.children[0].textContent,
                    r.children[1].querySelector('.st').className,
                    r.children[8].textContent, r.children[9].textContent]; })()""")
        assert row[0] == evil["name"] and row[1] == "Down"  # unknown status: no class from it
        assert row[2].startswith(evil["name"] + evil["address"])
        assert row[3] == "st st-down"
        assert "<img src=x onerror=pwned=3>" in row[4] and row[5] == "<u>m</u>"
        counts = page.eval("""[document.querySelectorAll('#inj, b#inj, svg, marquee, u, q, s, i')
                              .length, document.images.length, typeof window.pwned]""")
        assert counts == [0, 0, "undefined"]
        assert page.eval("document.querySelector('#services tbody td').textContent") == \
            "<marquee>svc</marquee>"
        page.screenshot(out_dir() / "hostile-names.png")
        assert page.errors() == []
    finally:
        for agent in agents:
            agent.terminate()
            agent.wait(10)


def test_page_and_status_json_over_plain_http(userspace_director, servers):
    """What curl sees: the headers that keep the page read-only and self-contained."""
    d = userspace_director
    backends = node_backends(["n1"], servers)
    d.write_config({"ssh": {"listen": f"127.0.0.1:{free_port()}"}},
                   {"n1": {"address": backends["n1"].addr}})
    d.start(wait_for=d.metrics_port)
    with urllib.request.urlopen(page_url(d), timeout=5) as r:
        csp = r.headers["Content-Security-Policy"]
        body = r.read().decode()
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "http://" not in body and "https://" not in body and "//cdn" not in body
    status, ctype, js = http_get(d, "/status.json")
    doc = json.loads(js)
    assert status == 200 and ctype == "application/json"
    assert doc["generation"] == 1 and [n["name"] for n in doc["nodes"]] == ["n1"]
    assert set(doc["decisions"]) == {"manual", "user", "session", "sticky", "scheduler",
                                     "fallback"}
    assert doc["data_path"]["mode"] == "userspace"
    with urllib.request.urlopen(urllib.request.Request(page_url(d), method="HEAD"),
                                timeout=5) as r:
        assert r.status == 200
    req = urllib.request.Request(page_url(d), data=b"x", method="POST")
    try:
        urllib.request.urlopen(req, timeout=5)
        raise AssertionError("POST / was accepted")
    except urllib.error.HTTPError as e:
        assert e.code in (405, 501)  # evhttp answers 501 to methods it is told to refuse
