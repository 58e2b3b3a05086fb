"""A throw-away network of namespaces for the end-to-end tests: a switch namespace with two
bridges, a director namespace on both LANs, desktop nodes (real sshd + tsdirector-agent, each
with a private /tmp so tmux sockets stay per node) and client namespaces. Every name carries
the test run's prefix; close() removes everything this lab created, also after a failure."""
import os
import pathlib
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

def sh(*cmd, check=True, **kw):
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True, text=True,
                          **kw)


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


class Lab:
    NODES = ("node1", "node2", "node3")
    # client namespace -> its addresses (host parts on the client LAN); c3 makes new identities
    CLIENTS = {"c1": (21,), "c2": (22,), "c3": (23, 24, 25, 26, 27, 28)}

    def __init__(self, build):
        self.build = pathlib.Path(build)
        self.run_id = os.getpid()
        # TSD_E2E_PREFIX keeps concurrent runs (several engineers on one machine) apart.
        self.prefix = f"{os.environ.get('TSD_E2E_PREFIX', 'tsde2e')}-{self.run_id}-"
        # Addresses only exist inside this lab's namespaces; the run id keeps logs unambiguous.
        self.net = 100 + self.run_id % 150
        # Not under /tmp: every node bind-mounts its own directory over /tmp.
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix=self.prefix, dir="/var/tmp"))
        os.chmod(self.dir, 0o755)
        self.namespaces = []
        self.procs = []          # every Popen this lab started
        self.node_procs = {}     # node -> {"holder", "sshd", "agent"}
        self.users = []
        self.director_proc = None
        self.director_runs = 0

    # ---- addresses and names -------------------------------------------------------------
    def ns(self, short):
        return self.prefix + short

    def client_ip(self, host):
        return f"10.{self.net}.1.{host}"

    def node_ip(self, i):
        return f"10.{self.net}.2.{10 + i}"

    @property
    def vip(self):
        return f"10.{self.net}.1.1"

    @property
    def director_node_ip(self):
        return f"10.{self.net}.2.1"

    @property
    def agent_allow(self):
        """Who may poll the agents: the director's address on the node network."""
        return self.director_node_ip

    # ---- topology -------------------------------------------------------------------------
    def _add_ns(self, short):
        sh("ip", "netns", "add", self.ns(short))
        self.namespaces.append(self.ns(short))
        sh("ip", "-n", self.ns(short), "link", "set", "lo", "up")

    def _plug(self, short, port, bridge, ifname, cidr):
        """A veth from the switch's bridge to namespace `short`, named ifname there."""
        sw = self.ns("sw")
        sh("ip", "-n", sw, "link", "add", port, "type", "veth", "peer", "name", ifname,
           "netns", self.ns(short))
        sh("ip", "-n", sw, "link", "set", port, "master", bridge, "up")
        sh("ip", "-n", self.ns(short), "addr", "add", cidr, "dev", ifname)
        sh("ip", "-n", self.ns(short), "link", "set", ifname, "up")

    def build_network(self):
        self._add_ns("sw")
        for br in ("brc", "brn"):
            sh("ip", "-n", self.ns("sw"), "link", "add", br, "type", "bridge")
            sh("ip", "-n", self.ns("sw"), "link", "set", br, "up")
        self._add_ns("dir")
        self._plug("dir", "dirc", "brc", "eth1", f"{self.vip}/24")
        self._plug("dir", "dirn", "brn", "eth2", f"{self.director_node_ip}/24")
        self.add_nodes_and_clients()
        self.transparent_routing()

    def add_nodes_and_clients(self):
        """Nodes on the node bridge (routing through the director), clients on the client one."""
        for i, node in enumerate(self.NODES, 1):
            self._add_ns(node)
            self._plug(node, f"n{i}", "brn", "eth0", f"{self.node_ip(i)}/24")
            # Replies to client addresses must come back through the director.
            sh("ip", "-n", self.ns(node), "route", "add", "default", "via", self.director_node_ip)
        for c, hosts in self.CLIENTS.items():
            self._add_ns(c)
            self._plug(c, c, "brc", "eth0", f"{self.client_ip(hosts[0])}/24")
            for h in hosts[1:]:
                sh("ip", "-n", self.ns(c), "addr", "add", f"{self.client_ip(h)}/24", "dev", "eth0")
            sh("ip", "-n", self.ns(c), "route", "add", "default", "via", self.vip)

    def transparent_routing(self, director="dir"):
        """What transparent mode needs on the director (docs/transparent-mode.md)."""
        d = self.ns(director)
        # Strict reverse-path filtering, as on a hardened host: the recipe must not need less.
        sh("ip", "netns", "exec", d, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=1",
           "net.ipv4.conf.default.rp_filter=1")
        sh("ip", "-n", d, "rule", "add", "fwmark", "1", "lookup", "100")
        sh("ip", "-n", d, "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100")
        rules = ("table inet tsdirector {\n"
                 " chain prerouting {\n"
                 "  type filter hook prerouting priority mangle; policy accept;\n"
                 "  meta l4proto tcp socket transparent 1 meta mark set 1 accept\n"
                 " }\n"
                 "}\n")
        if shutil.which("nft") and os.environ.get("TSD_E2E_FIREWALL") != "iptables":
            sh("ip", "netns", "exec", d, "nft", "-f", "-", input=rules)
            return
        for rule in (["-N", "TSD_DIVERT"],
                     ["-A", "PREROUTING", "-p", "tcp", "-m", "socket", "--transparent",
                      "-j", "TSD_DIVERT"],
                     ["-A", "TSD_DIVERT", "-j", "MARK", "--set-mark", "1"],
                     ["-A", "TSD_DIVERT", "-j", "ACCEPT"]):
            sh("ip", "netns", "exec", d, "iptables", "-t", "mangle", *rule)

    # ---- processes ------------------------------------------------------------------------
    def popen(self, argv, log=None, **kw):
        out = open(log, "ab") if log else subprocess.DEVNULL
        p = subprocess.Popen([str(a) for a in argv], stdout=kw.pop("stdout", out),
                             stderr=kw.pop("stderr", out), stdin=kw.pop("stdin", subprocess.DEVNULL),
                             **kw)
        self.procs.append(p)
        return p

    def in_ns(self, short, *argv):
        return ["ip", "netns", "exec", self.ns(short), *argv]

    def run_in(self, short, *argv, check=True, timeout=30):
        return sh(*self.in_ns(short, *argv), check=check, timeout=timeout)

    # ---- keys, users, nodes ---------------------------------------------------------------
    def make_keys(self):
        self.host_key = self.dir / "host_ed25519"
        self.client_key = self.dir / "id_ed25519"
        for key in (self.host_key, self.client_key):
            sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
        self.authorized_keys = self.dir / "authorized_keys"
        self.authorized_keys.write_text((self.dir / "id_ed25519.pub").read_text())
        os.chmod(self.authorized_keys, 0o644)
        # One host key for every node: the client pins it once for the director's address.
        pub = (self.dir / "host_ed25519.pub").read_text().split()
        self.known_hosts = self.dir / "known_hosts"
        self.known_hosts.write_text(f"{self.vip} {pub[0]} {pub[1]}\n")
        self.agent_key = self.dir / "agent.key"
        self.agent_key.write_text(os.urandom(32).hex() + "\n")
        os.chmod(self.agent_key, 0o600)
        os.makedirs("/run/sshd", exist_ok=True)

    def add_user(self, suffix):
        name = f"te{self.run_id}{suffix}"
        try:
            pwd.getpwnam(name)
            raise RuntimeError(f"user {name} exists already; refusing to reuse it")
        except KeyError:
            pass
        home = self.dir / "home" / name
        home.parent.mkdir(exist_ok=True)
        os.chmod(home.parent, 0o755)
        sh("useradd", "-m", "-d", home, "-s", "/bin/sh", name)
        self.users.append(name)
        # A locked password ("!") makes sshd without PAM refuse even key logins.
        sh("usermod", "-p", "*", name)
        return name

    def start_node(self, i, node):
        tmp = self.dir / node / "tmp"
        tmp.mkdir(parents=True)
        os.chmod(tmp, 0o1777)
        # A mount namespace whose /tmp is the node's own: tmux sockets live there, and both
        # sshd (so users' tmux servers) and the agent (which scans /tmp/tmux-UID) join it.
        holder = self.popen(self.in_ns(node, "unshare", "--mount", "--propagation", "private",
                                       "--", "sh", "-c",
                                       f"mount --bind {tmp} /tmp && exec sleep infinity"))
        wait_for(lambda: _comm(holder.pid) == "sleep", 10, f"{node} mount namespace")
        enter = ["nsenter", "-t", str(holder.pid), "-m", "-n", "--"]
        cfg = self.dir / node / "sshd.conf"
        cfg.write_text(f"""ListenAddress {self.node_ip(i)}:22
HostKey {self.host_key}
PidFile none
AuthorizedKeysFile {self.authorized_keys}
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
AllowUsers {' '.join(self.users)}
SetEnv TSD_NODE={node}
LogLevel INFO
""")
        sshd = self.popen(enter + ["/usr/sbin/sshd", "-D", "-e", "-f", cfg],
                          log=self.dir / node / "sshd.log")
        # Nodes have a private /tmp: run a copy of the agent from the lab dir, so a checkout
        # under /tmp (CI clones there) stays reachable.
        agent_bin = self.dir / "tsdirector-agent"
        if not agent_bin.exists():
            shutil.copy2(self.build / "bin" / "tsdirector-agent", agent_bin)
        agent = self.popen(enter + [agent_bin,
                                    "--listen", f"{self.node_ip(i)}:7801",
                                    "--key-file", self.agent_key, "--node-name", node,
                                    "--node-address", self.node_ip(i),
                                    "--collect-interval", "250",
                                    "--allow", self.agent_allow, "--log-level", "debug"],
                           log=self.dir / node / "agent.log")
        self.node_procs[node] = {"holder": holder, "sshd": sshd, "agent": agent}
        for port in (22, 7801):
            wait_for(lambda: self._listening(node, self.node_ip(i), port), 15,
                     f"{node} port {port}")
        for p in (sshd, agent):
            if p.poll() is not None:
                raise RuntimeError(f"{node}: {p.args[5]} exited with {p.returncode}")

    def _listening(self, short, ip, port):
        out = self.run_in(short, "ss", "-Hltn", f"src {ip}:{port}", check=False).stdout
        return "LISTEN" in out

    def tmux_sessions(self, node, user):
        """{session name: attached clients} of user's tmux server on node, asked on the node."""
        holder = self.node_procs[node]["holder"].pid
        r = sh("nsenter", "-t", holder, "-m", "-n", "--", "runuser", "-u", user, "--",
               "tmux", "list-sessions", "-F", "#{session_name} #{session_attached}",
               check=False, timeout=10)
        return {n: int(a) for n, a in (line.rsplit(" ", 1) for line in r.stdout.splitlines())}

    def ssh_sessions(self):
        """PIDs of sshd processes serving one of this lab's users, on any node."""
        found = []
        for node in self.NODES:
            for pid in sh("ip", "netns", "pids", self.ns(node), check=False).stdout.split():
                try:
                    title = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if any(title.startswith(f"sshd: {u}".encode()) for u in self.users):
                    found.append(int(pid))
        return found

    def wait_ssh_sessions_gone(self, timeout=15):
        """After the director dropped every connection: the nodes' sshd sessions have ended,
        and the agents' snapshots (collected every 250 ms) no longer show them."""
        wait_for(lambda: not self.ssh_sessions(), timeout, "sshd sessions to end")
        time.sleep(1.5)

    def kill_node(self, node):
        """The node dies: its sshd and agent are killed (tmux stays, unreachable)."""
        for what in ("sshd", "agent"):
            p = self.node_procs[node][what]
            p.kill()
            p.wait(10)

    # ---- director -------------------------------------------------------------------------
    @property
    def state_file(self):
        return self.dir / "state" / "sticky.state"

    def write_director_config(self, drain=()):
        """drain: nodes that take returning users only (no new ones)."""
        (self.dir / "state").mkdir(exist_ok=True)
        nodes = "".join(f"\n[node {n}]\naddress = {self.node_ip(i)}\n"
                        f"state = {'drain' if n in drain else 'active'}\n"
                        for i, n in enumerate(self.NODES, 1))
        self.director_cfg = self.dir / "tsdirector.ini"
        self.director_cfg.write_text(f"""[director]
algorithm = least-conn
fast_path = userspace
connect_timeout = 1s
connect_attempts = 3
transparent = yes
state_dir = {self.dir / "state"}

[sticky]
ipv4_prefix = 32
ttl = 1h

[health]
interval = 2s
fast_interval = 300ms
down_interval = 1s
timeout = 900ms
rise = 2
fall = 2
max_load = 1000
slow_response = 10s

[agent]
key_file = {self.agent_key}
poll = 500ms
max_age = 5s

[metrics]
listen = off

[admin]
socket = off

[service ssh]
listen = {self.vip}:22
port = 22
check = agent
sticky_key = src
{nodes}""")

    def start_director(self):
        self.director_runs += 1
        self.director_log = self.dir / f"director-{self.director_runs}.log"
        self.director_proc = self.popen(
            self.in_ns("dir", self.build / "bin" / "tsdirector", "-c", self.director_cfg,
                       "--log-level", "debug"), log=self.director_log)
        self.wait_director_log("tsdirector started", 15)

    def director_log_text(self):
        return self.director_log.read_text(errors="replace") if self.director_log.exists() else ""

    def wait_director_log(self, text, timeout):
        """Waits (never asserts) on the log: readiness, not behaviour, is read from it."""
        def seen():
            if self.director_proc.poll() is not None:
                raise RuntimeError(f"tsdirector exited with {self.director_proc.returncode}:\n"
                                   + self.director_log_text()[-3000:])
            return text in self.director_log_text()
        wait_for(seen, timeout, f"director log line {text!r}")

    def wait_nodes_up(self, nodes, timeout=20):
        for n in nodes:
            self.wait_director_log(f"node {n} is UP for ssh", timeout)

    def reload_director(self, timeout=15):
        before = self.director_log_text().count("reloaded ")
        self.director_proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.director_log_text().count("reloaded ") > before, timeout,
                 "the director to reload")

    def stop_director(self):
        p = self.director_proc
        p.send_signal(signal.SIGTERM)
        return p.wait(15)

    # ---- teardown -------------------------------------------------------------------------
    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        # Whatever still runs in our namespaces was started by this lab's sessions (tmux
        # servers, sshd session processes): kill those PIDs, and only those.
        for ns in self.namespaces:
            out = sh("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in out:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for ns in self.namespaces:
            deadline = time.time() + 5
            while sh("ip", "netns", "pids", ns, check=False).stdout.strip() and \
                    time.time() < deadline:
                time.sleep(0.05)
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
        for u in self.users:
            sh("userdel", u, check=False)
        if os.environ.get("TSD_E2E_KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    def leftovers(self):
        names = sh("ip", "-all", "netns", "list", check=False).stdout
        names += sh("ip", "netns", "list", check=False).stdout
        return [line.split()[0] for line in names.splitlines()
                if line.startswith(self.prefix)]


def _comm(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
