#!/usr/bin/python3
"""Figures for per-user stickiness (issue 12, docs/sticky.md), in the e2e namespace lab (root):
  - time from an ssh connect to the director learning its user, p50/p99 over LOGINS logins
    (each from an address never seen before; measured from the ssh client's start, so the ssh
    handshake and authentication are included; the learn time is the director log's timestamp);
  - returning-user outcomes with wrong_node = bounce: a roaming user (desktop on A, every try
    from a new address) and two users behind one shared address (desktops on two nodes, taking
    turns), TRIES tries each: home at once / home after one retry / stray.
Bounded: every wait has a timeout, LOGINS <= 100 and TRIES <= 40.
usage: TSD_BUILD=build tests/e2e/user_sticky_bench.py [--not-transparent] [LOGINS [TRIES]]"""
import collections
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from conftest import BUILD, missing  # noqa: E402
from user_lab import Login, UserLab, go_home, learned_at, make_desktop  # noqa: E402

BOUNCE_WINDOW = 5  # seconds, the default; a user is never bounced twice within it


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def learning(lab, who, n):
    lab.configure(wrong_node="keep")
    delays, missed = [], 0
    for _ in range(n):
        src = lab.new_address()
        login = Login(lab, who, src)
        t = None
        deadline = time.time() + 10
        while t is None and time.time() < deadline:
            time.sleep(0.05)
            t = learned_at(lab, who, src, login.started)
        login.kill()
        if t is None:
            missed += 1
        else:
            delays.append(t - login.started)
    return delays, missed


def returning(lab, users_homes, src_for_try, tries):
    counts = collections.Counter()
    for i in range(tries):
        who = list(users_homes)[i % len(users_homes)]
        home, pid = users_homes[who]
        outcome, login = go_home(lab, who, src_for_try(i), home, bounce_wait=8)
        if outcome in ("home", "retry") and login.attach() != pid:
            outcome = "stray:new-desktop"
        counts[outcome] += 1
        login.kill()
        time.sleep(BOUNCE_WINDOW + 0.5)
    return counts


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    transparent = "--not-transparent" not in sys.argv
    logins = min(int(args[0]) if args else 50, 100)
    tries = min(int(args[1]) if len(args) > 1 else 20, 40)
    why = missing()
    if why:
        sys.exit(f"cannot run: {why}")
    os.environ.setdefault("TSD_E2E_PREFIX", "uabench")
    lab = UserLab(BUILD, transparent=transparent)
    try:
        lab.build_network()
        lab.make_keys()
        for suffix in "abc":
            lab.add_user(suffix)
        alice, bob, carol = lab.users
        for i, node in enumerate(UserLab.NODES, 1):
            lab.start_node(i, node)
        lab.write_director_config()
        lab.start_director()
        lab.wait_nodes_up(UserLab.NODES)
        mode = "transparent" if transparent else "not transparent"

        delays, missed = learning(lab, carol, logins)
        if delays:
            print(f"[{mode}] connect -> user learned over {len(delays)} logins: "
                  f"p50 {pct(delays, 50):.2f}s p99 {pct(delays, 99):.2f}s "
                  f"max {max(delays):.2f}s; not learned within 10s: {missed}")

        a_home, a_pid = make_desktop(lab, alice, lab.new_address())
        lab.configure(wrong_node="bounce", zero_weight=[a_home])
        roam = returning(lab, {alice: (a_home, a_pid)}, lambda i: lab.new_address(), tries)
        print(f"[{mode}] roaming user, {tries} tries from new addresses: {dict(roam)}")

        b_home, b_pid = make_desktop(lab, bob, lab.new_address())
        lab.configure(wrong_node="bounce", zero_weight=[a_home, b_home])
        shared = lab.new_address()
        nat = returning(lab, {alice: (a_home, a_pid), bob: (b_home, b_pid)},
                        lambda i: shared, tries)
        print(f"[{mode}] two users behind one address, {tries} tries: {dict(nat)}")
        bounces = lab.director_log_text().count(" bounce: user ")
        print(f"[{mode}] bounces logged by the director: {bounces}")
        lab.stop_director()
    finally:
        lab.close()


if __name__ == "__main__":
    main()
