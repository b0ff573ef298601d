"""The Prometheus rules under test by Prometheus itself: `promtool check rules` and `promtool test rules`
(deploy/prometheus/tests/), every alert covered by a test that makes it fire, every runbook_url an anchor
of docs/runbooks.md. promtool comes from Debian's prometheus package (`make test` installs it); a machine
without it fails here rather than skipping."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yaml"
RULE_TESTS = sorted((ROOT / "deploy" / "prometheus" / "tests").glob("*.yaml"))
RUNBOOKS = ROOT / "docs" / "runbooks.md"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool")
    assert path, "promtool is missing: apt-get install -y prometheus (make test installs it as root)"
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=300, check=False)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load(RULES)["groups"] for rule in group["rules"] if "alert" in rule]


def test_the_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rule_tests_pass() -> None:
    assert RULE_TESTS
    result = promtool("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_promtool_test_that_makes_it_fire() -> None:
    fired = {
        case["alertname"]
        for path in RULE_TESTS
        for test in load(path)["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    untested = {rule["alert"] for rule in alert_rules()} - fired
    assert not untested, f"alerts without a promtool test in deploy/prometheus/tests: {sorted(untested)}"


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_runbook_url_names_a_section_of_the_runbooks() -> None:
    sections = anchors(RUNBOOKS.read_text(encoding="utf-8"))
    for rule in alert_rules():
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path == "docs/runbooks.md" and anchor in sections, f"{rule['alert']}: no section {url}"


def test_the_slo_objectives_are_the_ones_the_runbooks_write() -> None:
    """docs/runbooks.md#slos is the written objective; the recording rules carry the same numbers."""
    budgets = {
        rule["labels"]["kind"]: float(re.fullmatch(r"vector\(([\d.]+)\)", rule["expr"].strip()).group(1))  # type: ignore[union-attr]
        for group in load(RULES)["groups"]
        for rule in group["rules"]
        if rule.get("record") == "counsel:sla_error_budget:ratio"
    }
    table = RUNBOOKS.read_text(encoding="utf-8").split("## slos", 1)[1].split("\n## ", 1)[0]
    written = {
        kind: 1 - float(percent) / 100
        for kind, percent in re.findall(
            r"^\|\s*`(\w+)`[^|]*\|[^|]*\|\s*([\d.]+)\s*%", table, flags=re.MULTILINE
        )
    }
    assert written and {kind: round(b, 6) for kind, b in budgets.items()} == {
        kind: round(b, 6) for kind, b in written.items()
    }


def test_the_slo_dashboards_queries_are_evaluated_on_recorded_series() -> None:
    """No Grafana here: deploy/prometheus/tests/slo-dashboard.yaml evaluates the SLO dashboard's key queries
    (deploy.grafana.generate.SLO_QUERIES) with promtool, and each of them is a panel of that dashboard."""
    from deploy.grafana.generate import SLO_QUERIES, SLOS, Panel

    evaluated = {
        case["expr"]
        for test in load(RULES.parent / "tests" / "slo-dashboard.yaml")["tests"]
        for case in test.get("promql_expr_test", [])
    }
    panels = {query.expr for item in SLOS.items if isinstance(item, Panel) for query in item.queries}
    for query in SLO_QUERIES:
        assert query in evaluated, f"the SLO dashboard's {query!r} is not evaluated by promtool"
        assert query in panels
