"""The chart's alert rules under Prometheus's own `promtool`: syntax, and fixtures in which every alert fires
and in which it stays silent (tests/chart/alerts/*.yaml; the rules are the PrometheusRule the chart renders)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed.tools import find_tools, missing_report

from .chart import IN_CI, one, render

FIXTURES = Path(__file__).parent / "alerts"
VALUES = {"metrics": {"prometheusRule": {"enabled": True}}}  # overdueFactor 2, connectionNotReadySeconds 900


def promtool() -> Path:
    tools = find_tools()
    if problem := missing_report("promtool", tools=tools):
        if IN_CI:
            pytest.fail(f"{problem} (CI=true: rule tests must not be skipped)", pytrace=False)
        pytest.skip(problem)
    return tools.promtool


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rendered PrometheusRule's groups as a Prometheus rule file, beside copies of the fixtures."""
    folder = tmp_path_factory.mktemp("rules")
    rule = one(render(VALUES), "PrometheusRule")
    (folder / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    for fixture in FIXTURES.glob("*.yaml"):
        shutil.copy(fixture, folder / fixture.name)
    return folder


def alert_names(rules: Path) -> set[str]:
    groups = yaml.safe_load((rules / "rules.yaml").read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"]}


def test_rules_are_valid(rules: Path) -> None:
    proc = subprocess.run(
        [str(promtool()), "check", "rules", "rules.yaml"], cwd=rules, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(alert_names(rules)) >= 7


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.yaml")))
def test_rule_fixtures(rules: Path, fixture: str) -> None:
    proc = subprocess.run(
        [str(promtool()), "test", "rules", fixture], cwd=rules, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_alert_has_a_fixture_that_fires_and_one_that_stays_silent(rules: Path) -> None:
    fires: set[str] = set()
    silent: set[str] = set()
    for fixture in FIXTURES.glob("*.yaml"):
        tests: list[dict[str, Any]] = yaml.safe_load(fixture.read_text())["tests"]
        for case in tests:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    names = alert_names(rules)
    assert names - fires == set(), "alerts without a firing fixture"
    assert names - silent == set(), "alerts without a silent fixture"
    assert (fires | silent) <= names, "fixtures for alerts the chart does not ship"
