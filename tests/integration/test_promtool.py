"""The Prometheus side, checked with Debian's promtool: the alert rules are valid and each has
a unit test that fires it (tests/prometheus/alerts_test.yml), proved by silencing each alert
in turn and watching its test fail; and a live scrape of a busy director passes
`promtool check metrics` (format and naming lint)."""
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import ROOT
from opslib import metric, node_backends, open_client, read_line, wait_until
from tsdlib import free_port

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="needs promtool (Debian: prometheus)")

RULES = ROOT / "docs" / "prometheus-alerts.yml"
TESTS = ROOT / "tests" / "prometheus" / "alerts_test.yml"


def promtool(*args, stdin=None):
    return subprocess.run([PROMTOOL, *map(str, args)], input=stdin, capture_output=True,
                          text=True, timeout=120)


def alerts(path):
    doc = yaml.safe_load(path.read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def test_alert_rules_are_valid_and_their_tests_pass():
    r = promtool("check", "rules", RULES)
    assert r.returncode == 0, r.stdout + r.stderr
    r = promtool("test", "rules", TESTS)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr


def test_every_alert_has_a_case_that_fires_it(tmp_path):
    names = [a["alert"] for a in alerts(RULES)]
    required = {"TsdirectorNodeDown", "TsdirectorNoIdleNode", "TsdirectorAllNodesDown",
                "TsdirectorAgentRepliesRejected", "TsdirectorReloadFailed",
                "TsdirectorFastPathFellBack", "TsdirectorConnectionLimitReached"}
    assert required <= set(names), required - set(names)
    assert len(names) == len(set(names))
    tests = yaml.safe_load(TESTS.read_text())
    for name in names:
        # The same tests against a copy of the rules in which only this alert can never fire.
        doc = yaml.safe_load(RULES.read_text())
        for g in doc["groups"]:
            for rule in g["rules"]:
                if rule.get("alert") == name:
                    rule["expr"] = "vector(1) == 0"
        (tmp_path / "rules.yml").write_text(yaml.safe_dump(doc))
        tests["rule_files"] = ["rules.yml"]
        (tmp_path / "test.yml").write_text(yaml.safe_dump(tests))
        r = promtool("test", "rules", tmp_path / "test.yml")
        assert r.returncode != 0 and name in r.stdout + r.stderr, \
            f"no test fails when {name} never fires:\n{r.stdout}{r.stderr}"


def test_live_scrape_passes_promtool_check_metrics(userspace_director, servers):
    """A director with traffic, a down node, a manual listener and a failed reload, so most
    families carry samples."""
    d = userspace_director
    backends = node_backends(["n1", "n2"], servers)
    port, manual = free_port(), free_port()
    nodes = {"n1": {"address": backends["n1"].addr, "manual_listen": f"127.0.0.1:{manual}"},
             "n2": {"address": backends["n2"].addr, "state": "drain"},
             "n3": {"address": f"127.0.0.1:{free_port()}"}}
    d.write_config({"ssh": {"listen": f"127.0.0.1:{port}"}}, nodes)
    d.start(wait_for=d.metrics_port)
    wait_until(lambda: metric(d, "tsdirector_node_up", node="n1") == 1, what="n1 up")
    for p in (port, manual):
        with open_client(p) as s:
            assert read_line(s).startswith(b"SSH-2.0-n1")
    good = d.cfg_path.read_text()
    d.cfg_path.write_text(good + "\n[nonsense]\n")
    d.hup()
    wait_until(lambda: metric(d, "tsdirector_reloads_total", result="failed") == 1,
               what="failed reload counted")
    body = d.metrics()
    assert metric(d, "tsdirector_decisions_total", reason="manual") == 1
    assert re.search(r'^tsdirector_connections_max 10000$', body, re.M)
    r = promtool("check", "metrics", stdin=body)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", \
        r.stdout + r.stderr
    # And what the exporter says is what the rules expect: promtool reads the alert file's
    # metric names from the live families (a renamed metric would silently never alert).
    families = set(re.findall(r"^# TYPE (tsdirector_\w+) ", body, re.M))
    used = set(re.findall(r"tsdirector_\w+", RULES.read_text()))
    assert used <= families, used - families
