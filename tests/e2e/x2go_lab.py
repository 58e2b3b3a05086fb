"""A Lab (netns_lab.py) whose nodes run real X2Go: each node gets its own hostname (UTS
namespace) and private /tmp, /run, /var/lib/x2go, /var/log and /etc/hosts (mount namespace),
x2gocleansessions, an sshd that allows the forwarding X2Go tunnels NX through, and an agent
that lists sessions with x2golistsessions_root. Clients are real pyhoca-cli processes in the
client namespaces, drawing on one Xvfb on the host. Facts: ../shared/notes/x2go-lab.md."""
import os
import pathlib
import shutil
import signal
import subprocess
import time

from netns_lab import Lab, sh, wait_for, _comm

X2GO_NEEDED = ("x2golistsessions_root", "x2gocleansessions", "x2godbadmin", "pyhoca-cli",
               "Xvfb", "xterm", "nxagent")


def x2go_missing():
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    for tool in X2GO_NEEDED:
        if shutil.which(tool, path=path) is None:
            return f"{tool} not installed (scripts/install-deps.sh installs X2Go)"
    return None


class X2goLab(Lab):
    def __init__(self, build):
        super().__init__(build)
        os.environ["PATH"] = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        self.display = None
        self.clients = {}  # user -> Popen of its pyhoca-cli

    # ---- nodes ---------------------------------------------------------------------------
    def start_node(self, i, node):
        base = self.dir / node
        dirs = {"/tmp": base / "tmp", "/run": base / "run", "/var/lib/x2go": base / "x2go",
                "/var/log": base / "log"}
        for d in dirs.values():
            d.mkdir(parents=True)
        os.chmod(dirs["/tmp"], 0o1777)
        hosts = base / "hosts"
        hosts.write_text(f"127.0.0.1 localhost\n{self.node_ip(i)} {self.hostname(node)}\n")
        mounts = "; ".join(f"mount --bind {src} {dst}" for dst, src in dirs.items())
        holder = self.popen(self.in_ns(
            node, "unshare", "--uts", "--mount", "--propagation", "private", "--", "sh", "-c",
            f"hostname {self.hostname(node)} && {mounts} && mount --bind {hosts} /etc/hosts && "
            "mkdir -p /run/sshd && exec sleep infinity"))
        wait_for(lambda: _comm(holder.pid) == "sleep", 10, f"{node} namespaces")
        enter = ["nsenter", "-t", str(holder.pid), "-m", "-u", "-n", "--"]
        sh(*enter, "x2godbadmin", "--createdb", timeout=60)
        # It daemonizes: the namespaces' PID sweep in close() ends it.
        sh(*enter, "x2gocleansessions", timeout=30)
        cfg = base / "sshd.conf"
        cfg.write_text(f"""ListenAddress {self.node_ip(i)}:22
HostKey {self.host_key}
PidFile none
AuthorizedKeysFile {self.authorized_keys}
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowTcpForwarding yes
Subsystem sftp /usr/lib/openssh/sftp-server
ClientAliveInterval 5
ClientAliveCountMax 2
AllowUsers {' '.join(self.users)}
LogLevel INFO
""")
        sshd = self.popen(enter + ["/usr/sbin/sshd", "-D", "-e", "-f", cfg],
                          log=base / "sshd.log")
        agent_bin = self.dir / "tsdirector-agent"
        if not agent_bin.exists():
            shutil.copy2(self.build / "bin" / "tsdirector-agent", agent_bin)
        agent = self.popen(enter + [agent_bin, "--listen", f"{self.node_ip(i)}:7801",
                                    "--key-file", self.agent_key, "--node-name", node,
                                    "--node-address", self.node_ip(i),
                                    "--collect-interval", "500", "--command-timeout", "10000",
                                    "--allow", self.director_node_ip, "--log-level", "debug"],
                           log=base / "agent.log")
        self.node_procs[node] = {"holder": holder, "sshd": sshd, "agent": agent}
        for port in (22, 7801):
            wait_for(lambda: self._listening(node, self.node_ip(i), port), 15,
                     f"{node} port {port}")

    def polls_seen(self, node):
        log = self.dir / node / "agent.log"
        return log.read_text(errors="replace").count("poll from ") if log.exists() else 0

    def wait_polls(self, node, more, timeout=20):
        """Waits (never asserts) until node's agent answered `more` further polls."""
        start = self.polls_seen(node)
        wait_for(lambda: self.polls_seen(node) >= start + more, timeout, f"polls of {node}")

    def agent_sessions(self, node, i):
        """The session lines node's agent reports, polled from the director's namespace with
        the lab's key (the reply's MAC checked)."""
        script = f"""
import hashlib, hmac, os, socket
key = bytes.fromhex(open({str(self.agent_key)!r}).read().strip())
nonce = os.urandom(16).hex()
s = socket.create_connection(({self.node_ip(i)!r}, 7801), timeout=10)
s.sendall(f"TSDAGENT/1 {{nonce}} e2e\\n".encode())
reply = b"".join(iter(lambda: s.recv(65536), b""))
body, mac = reply.rsplit(b"mac ", 1)
assert hmac.new(key, nonce.encode() + body, hashlib.sha256).hexdigest() == mac.strip().decode()
print(body.decode())
"""
        out = self.run_in("dir", "/usr/bin/python3", "-c", script).stdout
        return [line.split()[1:] for line in out.splitlines() if line.startswith("session ")]

    def hostname(self, node):
        return f"x2go-{node}"

    def x2go_sessions(self, node):
        """[{session, state, client, user}] as node's X2Go database lists them."""
        holder = self.node_procs[node]["holder"].pid
        out = sh("nsenter", "-t", holder, "-m", "-u", "-n", "--", "x2golistsessions_root",
                 check=False, timeout=30).stdout
        rows = []
        for line in out.splitlines():
            f = line.split("|")
            if len(f) >= 12 and f[11] in self.users:
                rows.append({"session": f[1], "state": f[4], "client": f[7], "user": f[11]})
        return rows

    def where(self, user):
        """{node: [sessions]} of user's sessions on every node."""
        found = {}
        for node in self.NODES:
            mine = [s for s in self.x2go_sessions(node) if s["user"] == user]
            if mine:
                found[node] = mine
        return found

    # ---- clients -------------------------------------------------------------------------
    def start_display(self):
        n = 300 + self.run_id % 500
        while os.path.exists(f"/tmp/.X11-unix/X{n}") or os.path.exists(f"/tmp/.X{n}-lock"):
            n += 1
        self.display = f":{n}"
        self.popen(["Xvfb", self.display, "-nolisten", "tcp", "-screen", "0", "1024x768x24"],
                   log=self.dir / "xvfb.log")
        wait_for(lambda: os.path.exists(f"/tmp/.X11-unix/X{n}"), 15, "Xvfb")

    def client_home(self, user):
        """pyhoca-cli ignores -i: each client gets a HOME with the key and the pinned host."""
        home = self.dir / "clients" / user
        ssh = home / ".ssh"
        if not ssh.exists():
            ssh.mkdir(parents=True)
            shutil.copy2(self.client_key, ssh / "id_ed25519")
            shutil.copy2(self.dir / "id_ed25519.pub", ssh / "id_ed25519.pub")
            pub = (self.dir / "host_ed25519.pub").read_text().split()
            (ssh / "known_hosts").write_text(f"{self.vip} {pub[0]} {pub[1]}\n"
                                             f"[{self.vip}]:22 {pub[0]} {pub[1]}\n")
        return home

    def connect(self, client_ns, user, resume=False, timeout=90):
        """Starts pyhoca-cli for user from client_ns; returns once the session is up."""
        log = self.dir / "clients" / f"{user}-{time.time():.0f}.log"
        self.client_home(user)
        argv = ["env", f"HOME={self.client_home(user)}", f"DISPLAY={self.display}",
                "PYTHONUNBUFFERED=1", "pyhoca-cli", "--server", self.vip, "-u", user,
                "-c", "xterm", "--sound", "none", "-g", "640x480"]
        if resume:
            argv += ["--new", "--try-resume"]
        p = self.popen(self.in_ns(client_ns, *argv), log=log, start_new_session=True)
        self.clients[user] = p
        def up():
            if p.poll() is not None:
                raise RuntimeError(f"pyhoca-cli for {user} exited with {p.returncode}:\n"
                                   + log.read_text(errors="replace")[-3000:])
            return "Press CTRL+C" in log.read_text(errors="replace")
        wait_for(up, timeout, f"the X2Go session of {user} to come up")
        return p

    def crash_client(self, user):
        """kill -9 of the client and everything it started: a thin client losing power."""
        p = self.clients.pop(user)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(10)

    def wait_state(self, user, node, state, timeout=45):
        def ok():
            return any(s["state"] == state for s in self.where(user).get(node, []))
        wait_for(ok, timeout, f"{user}'s session on {node} to be {state}")
