"""The HA pair with desktops (issue 13): two directors in two network namespaces behind real
keepalived, configured from the shipped conf/keepalived.conf.example (the service address on the
client network and, for transparent mode, the nodes' gateway on the node network), three sshd
nodes with real agents, tmux desktops, and clients on another network. The master director is
killed with SIGKILL; the address moves; users whose clients were killed come back through the
backup and attach their own desktop, although the two directors share no state: the backup
knows where each desktop is from the agents alone. Then the old master comes back and nobody
is disturbed (nopreempt)."""
import pathlib
import re
import shutil
import signal
import time

import pytest

from conftest import BUILD, missing
from netns_lab import Lab, sh, wait_for
from user_lab import Login, make_desktop

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "conf" / "keepalived.conf.example"


class HaDesktopLab(Lab):
    # director namespace -> its host part on both networks (the floating addresses are .1)
    DIRECTORS = {"dir": 2, "dir2": 3}
    node_side_peer = None  # transparent: sshd sees the client's own address
    marks = 0  # user_lab.Login numbers its echo marks here

    @property
    def agent_allow(self):
        return f"10.{self.net}.2.0/24"  # both directors poll, each from its own address

    def own_ip(self, d, network):
        return f"10.{self.net}.{network}.{self.DIRECTORS[d]}"

    def build_network(self):
        self._add_ns("sw")
        for br in ("brc", "brn"):
            sh("ip", "-n", self.ns("sw"), "link", "add", br, "type", "bridge")
            sh("ip", "-n", self.ns("sw"), "link", "set", br, "up")
        for d in self.DIRECTORS:
            self._add_ns(d)
            self._plug(d, f"{d}c", "brc", "eth1", f"{self.own_ip(d, 1)}/24")
            self._plug(d, f"{d}n", "brn", "eth2", f"{self.own_ip(d, 2)}/24")
            # The backup binds the service address before it owns it (docs/operations.md).
            sh("ip", "netns", "exec", self.ns(d), "sysctl", "-q", "-w",
               "net.ipv4.ip_nonlocal_bind=1")
            self.transparent_routing(d)
        self.add_nodes_and_clients()

    def write_configs(self):
        self.write_director_config()
        base = self.director_cfg.read_text()
        self.cfgs = {}
        for d in self.DIRECTORS:
            state = self.dir / d / "state"
            state.mkdir(parents=True)
            text = base.replace(f"state_dir = {self.dir / 'state'}", f"state_dir = {state}")
            text = text.replace("[metrics]\nlisten = off", "[metrics]\nlisten = 127.0.0.1:9108")
            assert f"state_dir = {state}" in text and "127.0.0.1:9108" in text
            self.cfgs[d] = self.dir / d / "tsdirector.ini"
            self.cfgs[d].write_text(text)

    def start(self, d):
        log = self.dir / d / "tsdirector.log"
        self.__dict__.setdefault("directors", {})[d] = self.popen(
            self.in_ns(d, self.build / "bin" / "tsdirector", "-c", self.cfgs[d],
                       "--log-level", "debug"), log=log)
        for n in self.NODES:
            wait_for(lambda: f"node {n} is UP for ssh" in log.read_text(errors="replace"), 20,
                     f"{d}: {n} up")

    def kill(self, d):
        p = self.directors.pop(d)
        p.send_signal(signal.SIGKILL)
        return p.wait(15)

    def keepalived(self, d, priority):
        peer = next(o for o in self.DIRECTORS if o != d)
        text = EXAMPLE.read_text()
        text = text.replace("router_id tsdirector-a", f"router_id tsdirector-{d}")
        text = text.replace("priority 150", f"priority {priority}")
        text = text.replace("interface eth0", "interface eth1")
        text = text.replace("unicast_src_ip 10.20.0.11", f"unicast_src_ip {self.own_ip(d, 1)}")
        text = re.sub(r"unicast_peer \{\s*10\.20\.0\.12\s*\}",
                      f"unicast_peer {{\n        {self.own_ip(peer, 1)}\n    }}", text)
        text = text.replace("10.20.0.10/24 dev eth0", f"{self.vip}/24 dev eth1")
        text = text.replace("# 10.20.1.1/24 dev eth1", f"{self.director_node_ip}/24 dev eth2")
        text = text.replace("2001:db8:20::10/64 dev eth0", "fd00:31::10/64 dev eth1")
        live = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
        assert not any("10.20." in ln for ln in live), "the example changed: update this test"
        cfg = self.dir / d / "keepalived.conf"
        cfg.write_text(text)
        r = sh(*self.in_ns(d, "keepalived", "-t", "-f", cfg), check=False)
        assert r.returncode == 0, f"keepalived -t refused the example: {r.stdout}{r.stderr}"
        self.popen(self.in_ns(d, "keepalived", "-n", "-l", "-D", "-P", "-f", cfg,
                              "-p", self.dir / d / "ka.pid", "-r", self.dir / d / "vrrp.pid"),
                   log=self.dir / d / "keepalived.log")

    def decisions(self, d, reason):
        out = sh(*self.in_ns(d, "curl", "-fsS", "http://127.0.0.1:9108/metrics")).stdout
        return sum(float(ln.rsplit(" ", 1)[1]) for ln in out.splitlines()
                   if ln.startswith("tsdirector_decisions_total{") and f'reason="{reason}"' in ln)

    def holder(self):
        held = []
        for d in self.DIRECTORS:
            out = sh("ip", "-n", self.ns(d), "-4", "addr", "show", check=False).stdout
            if f"{self.vip}/" in out and f"{self.director_node_ip}/" in out:
                held.append(d)
        return held[0] if len(held) == 1 else None


@pytest.fixture
def halab():
    why = missing()
    if why or not shutil.which("keepalived"):
        pytest.skip(why or "keepalived not installed")
    lab = HaDesktopLab(BUILD)
    try:
        lab.build_network()
        lab.make_keys()
        for suffix in "ab":
            lab.add_user(suffix)
        for i, node in enumerate(lab.NODES, 1):
            lab.start_node(i, node)
        lab.write_configs()
        yield lab
    finally:
        lab.close()
        left = lab.leftovers()
        assert not left, f"namespaces left behind: {left}"


def test_failover_sends_desktop_users_home(halab):
    lab = halab
    lab.start("dir")
    lab.start("dir2")
    lab.keepalived("dir", 150)
    lab.keepalived("dir2", 100)
    wait_for(lambda: lab.holder() == "dir", 30, "both floating addresses on dir")

    # Two users, each on their own client network address, leave a desktop through dir.
    desktops = {}
    for user, client, host in ((lab.users[0], "c1", 21), (lab.users[1], "c2", 22)):
        src = lab.client_ip(host)
        desktops[user] = (client, src, *make_desktop(lab, user, src, client))

    t0 = time.time()
    assert lab.kill("dir") == -signal.SIGKILL
    wait_for(lambda: lab.holder() == "dir2", 30, "the floating addresses moving to dir2")
    moved = time.time() - t0

    home = 0
    logins = []
    for user, (client, src, node, pid) in desktops.items():
        login = Login(lab, user, src, client)
        assert login.node == node, f"{user} landed on {login.node}, her desktop is on {node}"
        assert login.attach() == pid, f"{user} did not get her own desktop back"
        home += 1
        logins.append(login)
    # Placed by what the agents told the backup, not by a lucky scheduler pick.
    assert lab.decisions("dir2", "session") == len(desktops)
    assert lab.decisions("dir2", "scheduler") == 0
    print(f"HA failover: addresses moved {moved:.1f} s after SIGKILL; "
          f"{home}/{len(desktops)} users home through the backup")

    # The old master comes back: nopreempt keeps the addresses on dir2 and both live desktop
    # sessions keep working.
    lab.start("dir")
    time.sleep(6)  # longer than the check's rise (2 x 2 s)
    assert lab.holder() == "dir2"
    for i, login in enumerate(logins):
        assert login.alive()
        login.term.type(f"echo STILL{i}-$TSD_NODE")
        login.term.expect(rf"STILL{i}-{login.node}")
