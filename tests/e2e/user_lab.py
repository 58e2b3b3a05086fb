"""The per-user stickiness lab (issue 12): netns_lab.Lab with many fresh client addresses, a
director config with [sticky] wrong_node and per-node weights, and the client moves the tests
and the measurement script share: make a detached tmux desktop, connect from an address, see
where the connection landed, whether the director reset it, attach the desktop.
Where a connection landed is asked of the node (sshd's SetEnv TSD_NODE, the shell's pid inside
tmux); only the measurement reads the director's log, for timestamps."""
import calendar
import pathlib
import re
import time

from netns_lab import Lab, wait_for
from terminal import Terminal

# Remote command of every interactive login: name the node and the peer sshd saw, then wait
# for our "go" before tmux takes the terminal (so a connection can be watched before it is
# used as a desktop).
REMOTE = ('echo "TSDNODE=$TSD_NODE" "TSDCLIENT=${SSH_CLIENT%% *}"; '
          "read go; exec tmux new -A -s desk")


class UserLab(Lab):
    # c3 holds many addresses: every roaming try needs one the director has never seen.
    CLIENTS = {"c1": (21,), "c2": (22,), "c3": tuple(range(23, 200))}

    def __init__(self, build, transparent=True):
        super().__init__(build)
        self.transparent = transparent
        self.fresh = list(self.CLIENTS["c3"])
        self.marks = 0

    def new_address(self):
        """A c3 address no earlier connection used."""
        return self.client_ip(self.fresh.pop(0))

    def write_director_config(self, drain=(), wrong_node="keep", zero_weight=(),
                              bounce_window="5s"):
        """The base lab's config, plus: transparent on or off, [sticky] wrong_node, and
        weight 0 (returning users only, still a bounce target) on zero_weight nodes."""
        super().write_director_config(drain=drain)
        text = self.director_cfg.read_text()
        if not self.transparent:
            text = text.replace("transparent = yes\n", "transparent = no\n")
        text = text.replace("[sticky]\n", f"[sticky]\nwrong_node = {wrong_node}\n"
                                          f"bounce_window = {bounce_window}\n")
        for i, n in enumerate(self.NODES, 1):
            w = 0 if n in zero_weight else 1
            text = text.replace(f"address = {self.node_ip(i)}\n",
                                f"address = {self.node_ip(i)}\nweight = {w}\n")
        self.director_cfg.write_text(text)

    def configure(self, **kw):
        """Rewrites the config and reloads the running director."""
        self.write_director_config(**kw)
        self.reload_director()

    @property
    def node_side_peer(self):
        """The peer address sshd sees for a client at a given address."""
        return None if self.transparent else self.director_node_ip


class Login:
    """One interactive ssh from client namespace `client`, source address `src`."""

    def __init__(self, lab, user, src, client="c3"):
        self.lab, self.user, self.src = lab, user, src
        self.started = time.time()
        self.term = Terminal(lab, client, user, src=src, remote=REMOTE)
        m = self.term.expect(r"TSDNODE=(node\d) TSDCLIENT=([0-9.]+)")
        self.node = m.group(1)
        expected = lab.node_side_peer or src
        assert m.group(2) == expected, f"sshd saw {m.group(2)}, expected {expected}"

    def alive(self):
        return self.term.proc.poll() is None

    def wait_reset(self, timeout):
        """True when the director reset this connection (ssh exits) within timeout."""
        try:
            wait_for(lambda: not self.alive(), timeout, "the connection to be reset")
            return True
        except TimeoutError:
            return False

    def attach(self):
        """Starts or attaches tmux; returns the pid of the shell inside it."""
        self.term.type("go")
        self.term.expect(r"\[desk\]")
        self.lab.marks += 1
        n = self.lab.marks
        self.term.type(f"echo M{n}-$$-$TSD_NODE")
        m = self.term.expect(rf"M{n}-(\d+)-(node\d)")
        assert m.group(2) == self.node
        return int(m.group(1))

    def kill(self):
        self.term.kill()


def make_desktop(lab, user, src, client="c3"):
    """A tmux desktop of user, left detached: (node, shell pid)."""
    login = Login(lab, user, src, client)
    pid = login.attach()
    login.kill()
    wait_for(lambda: lab.tmux_sessions(login.node, user).get("desk") == 0, 15,
             f"{user}'s tmux on {login.node} to be detached")
    # The agents (collecting every 250 ms, polled every 500 ms) report it suspended, and the
    # ssh connection that carried it is gone from every inventory.
    wait_for(lambda: not _ssh_of(lab, user), 15, f"{user}'s sshd session to end")
    time.sleep(1.5)
    return login.node, pid


def _ssh_of(lab, user):
    found = []
    for pid in lab.ssh_sessions():
        try:
            title = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(f"sshd: {user}".encode()):
            found.append(pid)
    return found


def go_home(lab, user, src, home, bounce_wait=10, client="c3"):
    """A returning user connecting from src, retrying once if the director resets the first
    connection. Returns (outcome, login): "home" (first connection landed home), "retry" (the
    first was reset, the retry landed home), or "stray:<how>" (ended elsewhere)."""
    first = Login(lab, user, src, client)
    if first.node == home:
        return "home", first
    if not first.wait_reset(bounce_wait):
        return "stray:kept", first
    second = Login(lab, user, src, client)
    if second.node == home:
        return "retry", second
    return "stray:retry", second


def learned_at(lab, user, src, after):
    """Unix time of the director's log line saying it learned user behind src (None if not)."""
    rx = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z .*user " +
                    re.escape(user) + r" learned behind \S*" + re.escape(src) + r"\b", re.M)
    for m in rx.finditer(lab.director_log_text()):
        y, mo, d, h, mi, s, ms = (int(g) for g in m.groups())
        t = calendar.timegm((y, mo, d, h, mi, s)) + ms / 1000
        if t >= after - 1:
            return t
    return None
