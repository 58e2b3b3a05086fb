"""Real X2Go through the director in transparent mode: three nodes with sshd + x2goserver +
tsdirector-agent, real pyhoca-cli clients. Two users land on different nodes and the nodes see
their real addresses; a crashed client's session is suspended and resumed on the same node,
also after a director restart and after its state file is deleted (agents alone)."""
import os

import pytest

from conftest import BUILD, missing
from netns_lab import wait_for
from x2go_lab import X2goLab, x2go_missing


@pytest.fixture(scope="module")
def xlab():
    why = missing() or x2go_missing()
    if why:
        pytest.skip(why)
    lab = X2goLab(BUILD)
    try:
        lab.build_network()
        lab.make_keys()
        for suffix in "xy":
            lab.add_user(suffix)
        for i, node in enumerate(X2goLab.NODES, 1):
            lab.start_node(i, node)
        lab.write_director_config()
        lab.start_director()
        lab.wait_nodes_up(X2goLab.NODES)
        lab.start_display()
        yield lab
        assert lab.stop_director() == 0
    finally:
        if os.environ.get("TSD_E2E_KEEP") == "1":
            print(f"lab files kept in {lab.dir}")
        lab.close()
        left = lab.leftovers()
        assert not left, f"namespaces left behind: {left}"


def only_node(lab, user):
    where = lab.where(user)
    assert len(where) == 1, f"{user} has sessions on {sorted(where)}"
    (node, sessions), = where.items()
    assert len(sessions) == 1, f"{user} has {len(sessions)} sessions on {node}"
    return node, sessions[0]


def crash_and_resume(lab, client_ns, user, node, session, between=None):
    lab.crash_client(user)
    lab.wait_state(user, node, "S")
    if between:
        between()
    lab.connect(client_ns, user, resume=True)
    lab.wait_state(user, node, "R")
    again_node, again = only_node(lab, user)
    assert (again_node, again["session"]) == (node, session["session"])
    assert again["client"] == lab.client_ip(lab.CLIENTS[client_ns][0])


def test_x2go_sessions_follow_their_users(xlab):
    lab = xlab
    x, y = lab.users
    lab.connect("c1", x)
    x_node, x_session = only_node(lab, x)
    lab.connect("c2", y)
    y_node, y_session = only_node(lab, y)
    # least-conn spreads them; each node saw the real client address (transparent mode).
    assert x_node != y_node
    assert x_session["client"] == lab.client_ip(lab.CLIENTS["c1"][0])
    assert y_session["client"] == lab.client_ip(lab.CLIENTS["c2"][0])
    # One desktop, one session: the agent lists x's X2Go desktop once, not also the ssh
    # connection that carries it, and no other node lists it.
    def listed(node, i):
        return [s for s in lab.agent_sessions(node, i) if s[0] == x]
    x_i = lab.NODES.index(x_node) + 1
    wait_for(lambda: any(s[1] == "x2go" for s in listed(x_node, x_i)), 20,
             "the agent's snapshot to show the desktop")
    for i, node in enumerate(lab.NODES, 1):
        mine = listed(node, i)
        if node == x_node:
            assert [s[1:4] for s in mine] == [["x2go", "running", x_session["client"]]], mine
        else:
            assert mine == [], (node, mine)

    # 1. The client crashes; the session waits suspended and the user gets it back.
    crash_and_resume(lab, "c1", x, x_node, x_session)

    # 2. The same across a director restart (sticky table saved and loaded).
    def restart():
        assert lab.stop_director() == 0
        lab.start_director()
        lab.wait_nodes_up(lab.NODES)
    crash_and_resume(lab, "c1", x, x_node, x_session, between=restart)

    # 3. The same with the state file gone: only the agents' inventories know.
    def forget():
        assert lab.stop_director() == 0
        lab.state_file.unlink(missing_ok=True)
        lab.start_director()
        lab.wait_nodes_up(lab.NODES)
        # The session index fills from the agents' polls: a few of each before the user comes.
        for node in lab.NODES:
            lab.wait_polls(node, 3)
    crash_and_resume(lab, "c1", x, x_node, x_session, between=forget)
    only_node(lab, y)  # y was never disturbed
