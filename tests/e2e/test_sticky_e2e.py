"""Per-user stickiness end to end: real ssh clients in their own network namespaces reach real
sshd nodes through tsdirector in transparent mode; a tmux session stands in for a suspended
desktop. The steps run in order on one lab (module fixture), each a test of its own:
  1 two users from different addresses are spread over nodes, and nodes see the real client;
  2 a user whose client is killed comes back to the same node and the same tmux session;
  3 the same after a director restart (sticky state file restored);
  4 the same after the state file is deleted (the agents' session inventory brings them home);
  5 a node going down sends its user elsewhere (re-stuck there) and new clients avoid it;
  6 new clients take turns over equally loaded nodes (agent polls must not reset the rotation).
Placement luck is ruled out where it matters: before steps 3 and 4 the director restarts with
`state = drain` on the nodes that must be reached by memory alone (drained nodes take
returning users only), and a fresh address shows where the scheduler would send a new client.
Where a session landed is asked of the node itself (sshd's SetEnv TSD_NODE, the shell's pid
inside tmux), never read from the director's log."""
import re
import subprocess
import time

import pytest

from netns_lab import wait_for
from terminal import Terminal, ssh_args

USERS = {"a": "c1", "b": "c2"}  # user suffix -> client namespace (10.N.1.21, 10.N.1.22)
state = {}                      # what earlier steps established, for the later ones


def user(lab, suffix):
    return lab.users["abc".index(suffix)]


def client_addr(lab, client):
    return lab.client_ip(lab.CLIENTS[client][0])


def login(lab, suffix):
    """An interactive ssh that prints where it landed, then runs `tmux new -A -s desk`.
    Returns (terminal, node, shell pid inside tmux, the marker line it printed there)."""
    client = USERS[suffix]
    t = Terminal(lab, client, user(lab, suffix))
    m = t.expect(r"TSDNODE=(node\d) TSDCLIENT=([0-9.]+)")
    node, seen_client = m.group(1), m.group(2)
    # Transparent mode: the node saw the client's own address, not the director's.
    assert seen_client == client_addr(lab, client)
    t.type("go")
    t.expect(r"\[desk\]")  # tmux is up (status line)
    n = state.setdefault("marks", 0) + 1
    state["marks"] = n
    t.type(f"echo M{n}-$$-$TSD_NODE")
    m = t.expect(rf"M{n}-(\d+)-(node\d)")
    assert m.group(2) == node
    return t, node, int(m.group(1)), m.group(0)


def come_back(lab, suffix, why):
    """The user returns: same node, same tmux session (same shell, earlier screen redrawn)."""
    home, pid, mark = state[suffix]["node"], state[suffix]["pid"], state[suffix]["mark"]
    t, node, new_pid, _ = login(lab, suffix)
    assert node == home, f"user {suffix} went to {node}, home is {home} ({why})"
    assert new_pid == pid, f"user {suffix}: a new tmux session (shell {new_pid}, was {pid})"
    # The re-attached screen still shows what the user left there (an earlier login's line).
    assert mark in t.text(), t.text()[-2000:]
    state[suffix]["term"] = t


def remember(suffix, t, node, pid, mark):
    state[suffix] = {"term": t, "node": node, "pid": pid, "mark": mark}


def test_1_users_spread_and_nodes_see_clients(lab):
    for suffix in USERS:
        t, node, pid, mark = login(lab, suffix)
        remember(suffix, t, node, pid, mark)
    assert state["a"]["node"] != state["b"]["node"], "least-conn put both users on one node"


def test_2_killed_client_returns_to_its_session(lab):
    state["a"]["term"].kill()
    # On the node, the desktop outlives its client: detached, not gone.
    home, name = state["a"]["node"], user(lab, "a")
    wait_for(lambda: lab.tmux_sessions(home, name).get("desk") == 0, 15,
             "the tmux session to be detached")
    come_back(lab, "a", "client killed")
    # The other user was never disturbed.
    assert state["b"]["term"].proc.poll() is None


def sticky_entries(lab):
    """(identity, node) pairs of the sticky state file."""
    rows = []
    for line in lab.state_file.read_text().splitlines()[1:]:
        f = line.split(" ")
        if len(f) == 4:
            rows.append((re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), f[0]),
                         f[1]))
    return rows


def restart_director(lab, delete_state, drain):
    assert lab.stop_director() == 0
    for suffix in USERS:  # the director's exit dropped every connection
        state[suffix]["term"].proc.wait(15)
        state[suffix]["term"].kill()
    assert lab.state_file.exists(), "no sticky state written on shutdown"
    rows = sticky_entries(lab)
    for suffix, client in USERS.items():
        ip = client_addr(lab, client)
        assert any(ip in ident and node == state[suffix]["node"] for ident, node in rows), \
            f"state file has no {ip} -> {state[suffix]['node']}: {rows}"
    if delete_state:
        lab.state_file.unlink()
    # Only the suspended tmux sessions may speak for the users, not a dying ssh connection.
    lab.wait_ssh_sessions_gone()
    # Drained nodes take returning users only: what lands there was not the scheduler's doing.
    lab.write_director_config(drain=drain)
    lab.start_director()
    # Readiness: every node has answered its agent polls (so the session index is built).
    lab.wait_nodes_up(lab.NODES)
    if delete_state:
        assert not lab.state_file.exists()


def where(lab, src):
    """A short non-interactive ssh from c3 with source address src: the node it reached."""
    r = lab.run_in("c3", *ssh_args(lab, user(lab, "c"), src=src),
                   'echo "TSDNODE=$TSD_NODE TSDCLIENT=${SSH_CLIENT%% *}"', timeout=30)
    m = re.search(r"TSDNODE=(node\d) TSDCLIENT=([0-9.]+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert m.group(2) == src
    return m.group(1)


def test_3_return_after_director_restart(lab):
    # A client with no session left on any node (its ssh ended): only the sticky table
    # remembers it. With both desktop users connected, least-conn sends it to the third node.
    x = lab.client_ip(lab.CLIENTS["c3"][-2])
    x_node = where(lab, x)
    assert x_node not in (state["a"]["node"], state["b"]["node"])
    state["x_node"] = x_node
    # x's node is drained after the restart, so no new client may go there; the agents report
    # nothing for x: only the restored state file can bring x back to it.
    restart_director(lab, delete_state=False, drain=[x_node])
    assert where(lab, x) == x_node
    for suffix in USERS:
        come_back(lab, suffix, "director restarted")


def test_4_agents_alone_bring_users_home(lab):
    homes = [state[s]["node"] for s in USERS]
    # Both homes drained: new clients can only go to the third node (checked with a new
    # address), so users landing at home were sent there by the agents' session index.
    restart_director(lab, delete_state=True, drain=homes)
    assert where(lab, lab.client_ip(lab.CLIENTS["c3"][-1])) == state["x_node"]
    for suffix in USERS:
        come_back(lab, suffix, "director restarted without its state file")


def test_5_node_down_replaces_its_user_and_new_users_avoid_it(lab):
    lab.write_director_config(drain=())  # every node active again, without a restart
    lab.reload_director()
    assert state["b"]["term"].proc.poll() is None, "the reload dropped a live session"
    dead = state["a"]["node"]
    state["a"]["term"].kill()
    lab.kill_node(dead)
    lab.wait_director_log(f"node {dead} is DOWN", 20)
    # The user whose home died gets a new node and a new desktop there...
    t, node, pid, mark = login(lab, "a")
    assert node != dead
    assert pid != state["a"]["pid"]
    remember("a", t, node, pid, mark)
    # ...and is stuck to it: the next return lands on that new session.
    t.kill()
    come_back(lab, "a", "re-placed after node failure")
    # Users of other nodes were not touched.
    assert state["b"]["term"].proc.poll() is None
    # New clients (addresses never seen before) never get the dead node.
    state["new"] = []
    for h in lab.CLIENTS["c3"][:-2]:
        state["new"].append(where(lab, lab.client_ip(h)))
        # Agents are polled every 500 ms: let some polls land between two placements, as
        # they do between real users' logins (this is what test 6 is about).
        time.sleep(1.5)
    assert dead not in state["new"]


def test_6_new_clients_take_turns_over_equal_nodes(lab):
    # After step 5 the two live nodes each hold one desktop user: new clients, placed one
    # after the other, should alternate between them.
    assert len(set(state["new"])) == 2, state["new"]


@pytest.fixture(scope="module", autouse=True)
def _close_terminals():
    yield
    for v in state.values():
        if isinstance(v, dict) and v.get("term") is not None:
            try:
                v["term"].kill()
            except (OSError, subprocess.TimeoutExpired):
                pass
    state.clear()
