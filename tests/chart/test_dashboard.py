"""The Grafana dashboard and the alert rules query only metrics the operator exports (a renamed metric would
otherwise leave an empty panel or an alert that can never fire), and the dashboard ships as the sidecar's ConfigMap."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from milvus_snapshot_operator.metrics import EventMetrics
from milvus_snapshot_operator.metrics.state import StateCollector

from .chart import CHART, one, render

DASHBOARD = CHART / "dashboards" / "milvus-snapshot-operator.json"
FROM_PROMETHEUS = {"up"}  # made by Prometheus for every target
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""], "info": ["_info"]}


def exported() -> set[str]:
    """Every series name the operator's registry can expose (state families are yielded even when empty)."""
    registry = CollectorRegistry()
    registry.register(StateCollector(lambda: []))
    EventMetrics(registry)
    from milvus_snapshot_operator.metrics import REGISTRY  # process_*, python_* collectors as well

    names = set()
    for reg in (registry, REGISTRY):
        for family in reg.collect():
            names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, [""]))
    return names


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords or label names."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', "", expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)  # label lists
    names = re.findall(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", text)
    return {name for name in names if name not in KEYWORDS}


def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from walk(panel.get("panels", []))


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in walk(board["panels"]) for t in p.get("targets", [])]
    exprs += [a["expr"] for a in board["annotations"]["list"] if "expr" in a]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            (metric,) = re.findall(r"label_values\(([a-zA-Z_:][\w:]*)\s*,", variable["definition"])
            exprs.append(metric)
    return exprs


def test_the_name_extractor_finds_metrics_and_only_metrics() -> None:
    expr = 'histogram_quantile(0.9, sum by (le, method) (rate(a_bucket{job=~"$job", x="y{z}"}[5m]))) / on (ns) b or vector(0)'
    assert metric_names(expr) == {"a_bucket", "b"}
    assert metric_names("time() - max by (namespace) (c > 0) unless d == bool 1") == {"c", "d"}


def test_dashboard_queries_only_exported_metrics() -> None:
    queries = dashboard_queries()
    used = set().union(*(metric_names(q) for q in queries))
    assert len(queries) > 20 and len(used) > 15
    assert used - exported() - FROM_PROMETHEUS == set()


def test_alert_rules_query_only_exported_metrics() -> None:
    rule = one(render({"metrics": {"prometheusRule": {"enabled": True}}}), "PrometheusRule")
    used = set().union(*(metric_names(r["expr"]) for g in rule["spec"]["groups"] for r in g["rules"]))
    assert used - exported() - FROM_PROMETHEUS == set()


def test_every_panel_has_a_datasource_variable_and_a_unique_id() -> None:
    board = json.loads(DASHBOARD.read_text())
    panels = list(walk(board["panels"]))
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        for target in panel.get("targets", []):
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]


@pytest.mark.parametrize("namespace", ["", "grafana"])
def test_dashboard_config_map_for_the_grafana_sidecar(namespace: str) -> None:
    values = {
        "grafanaDashboard": {"enabled": True, "namespace": namespace, "annotations": {"grafana_folder": "Backups"}}
    }
    config_map = one(render({"metrics": values}), "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == (namespace or "mso-system")
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Backups"}
    assert json.loads(config_map["data"]["milvus-snapshot-operator.json"]) == json.loads(DASHBOARD.read_text())
