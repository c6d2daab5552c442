"""Our Argo CD health checks and actions in Argo CD's own Lua sandbox for argocd-cm scripts (gopher-lua, no
string or math library; testbed/gotools/luahealth), against the upstream-format tests next to them."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml

from . import argocd_cm
from .harness import GROUP_DIR, KINDS, argo_health, health_script, load_yaml, run_lua

TRIGGER = "snapshot.milvus.io/trigger"


def health_tests(kind: str) -> list[dict[str, Any]]:
    return list(load_yaml(GROUP_DIR / kind / "health_test.yaml")["tests"])


@pytest.mark.parametrize("kind", KINDS)
def test_health_tests_pass_in_the_argocd_cm_sandbox(kind: str) -> None:
    """What `go test ./util/lua/` runs upstream: each testdata object gives the expected status and message."""
    tests = health_tests(kind)
    objects = [load_yaml(GROUP_DIR / kind / test["inputPath"]) for test in tests]
    assert {o["kind"] for o in objects} == {kind}
    assert [h for h in argo_health(objects)] == [t["healthStatus"] for t in tests]


def test_every_kind_has_checks_for_each_health_it_can_report() -> None:
    statuses = {kind: {t["healthStatus"]["status"] for t in health_tests(kind)} for kind in KINDS}
    assert statuses["MilvusConnection"] == {"Healthy", "Degraded", "Progressing"}
    assert statuses["MilvusSnapshot"] == {"Healthy", "Degraded", "Progressing"}
    assert statuses["MilvusRestore"] == {"Healthy", "Degraded", "Progressing"}
    assert statuses["MilvusSnapshotSchedule"] == {"Healthy", "Degraded", "Suspended"}
    referenced = {GROUP_DIR / kind / t["inputPath"] for kind in KINDS for t in health_tests(kind)}
    assert referenced == set(GROUP_DIR.glob("*/testdata/*.yaml"))  # no stray or missing testdata


def test_the_sandbox_has_no_string_or_math_library_and_os_only_through_require() -> None:
    """The harness must refuse what Argo CD refuses, or the tests above would prove nothing."""
    scripts = {
        'return {status = string.upper("healthy")}': "non-table object(nil) with key 'upper'",
        'return {status = ("x"):upper()}': "upper",
        "return {status = tostring(math.floor(1.5))}": "non-table object(nil) with key 'floor'",
        'return {status = os.date("!%Y")}': "non-table object(nil) with key 'date'",
    }
    results = run_lua([{"mode": "health", "script": s, "obj": {}} for s in scripts])
    for (script, complaint), result in zip(scripts.items(), results, strict=True):
        assert complaint in result.get("error", ""), (script, result)
    ok = run_lua([{"mode": "health", "script": 'local os = require("os"); return {status = "Healthy", '
                   'message = os.date("!%Y")}', "obj": {}}])  # fmt: skip
    assert ok[0]["result"]["message"].isdigit()
    invalid = run_lua([{"mode": "health", "script": 'return {status = "Fine"}', "obj": {}}])
    assert invalid[0]["result"] == {"status": "Unknown", "message": "Lua returned an invalid health status"}


def schedule() -> dict[str, Any]:
    return dict(load_yaml(GROUP_DIR / "MilvusSnapshotSchedule" / "testdata" / "scheduled.yaml"))


def test_generic_rules_on_synthetic_objects() -> None:
    """The branches live objects rarely show: no status yet, a spec not yet observed, suspended and failing."""
    bare = {"apiVersion": "snapshot.milvus.io/v1alpha1", "kind": "MilvusSnapshot", "metadata": {"name": "x"}}
    unobserved = schedule()
    unobserved["metadata"]["generation"] = unobserved["status"]["observedGeneration"] + 1
    suspended_failing = load_yaml(GROUP_DIR / "MilvusSnapshotSchedule" / "testdata" / "suspended.yaml")
    suspended_failing["status"]["conditions"].append(
        {"type": "LastSnapshotSucceeded", "status": "False", "reason": "SnapshotFailed", "message": "m"}
    )
    deleting = copy.deepcopy(bare)
    deleting["metadata"].update(deletionTimestamp="2026-01-01T00:00:00Z", finalizers=["a/b", "c/d"])
    got = argo_health([bare, unobserved, suspended_failing, deleting])
    assert got == [
        {"status": "Progressing", "message": "Waiting for the operator to observe the latest spec"},
        {"status": "Progressing", "message": "Waiting for the operator to observe the latest spec"},
        {"status": "Suspended", "message": "suspended: no runs until spec.suspend is false"},
        {"status": "Progressing", "message": "Pending deletion; blocked by finalizers: a/b, c/d"},
    ]


def test_schedule_actions_follow_the_upstream_action_tests() -> None:
    folder = GROUP_DIR / "MilvusSnapshotSchedule" / "actions"
    spec = load_yaml(folder / "action_test.yaml")
    discovery = (folder / "discovery.lua").read_text()
    cases = [{"mode": "discovery", "script": discovery, "obj": load_yaml(folder / t["inputPath"])}
             for t in spec["discoveryTests"]]  # fmt: skip
    for test, result in zip(spec["discoveryTests"], run_lua(cases), strict=True):
        found = [{"name": name, **entry} for name, entry in result["result"].items()]
        assert found == test["result"]
    for test in spec["actionTests"]:
        script = (folder / test["action"] / "action.lua").read_text()
        (result,) = run_lua([{"mode": "action", "script": script, "obj": load_yaml(folder / test["inputPath"])}])
        assert "error" not in result, result
        out = result["result"]
        # a new value per click: the time of the click, normalized as Argo CD's own tests normalize such values
        assert re.fullmatch(r"argocd-\d{14}", out["metadata"]["annotations"][TRIGGER])
        out["metadata"]["annotations"][TRIGGER] = "argocd-00010101000000"
        assert out == load_yaml(folder / test["expectedOutputPath"])


def test_argocd_cm_snippet_is_current_and_runs() -> None:
    assert argocd_cm.main(["--check"]) == 0
    data = yaml.safe_load(argocd_cm.OUTPUT.read_text())["data"]
    for kind in KINDS:
        assert data[f"resource.customizations.health.snapshot.milvus.io_{kind}"] == health_script(kind)
    actions = yaml.safe_load(data["resource.customizations.actions.snapshot.milvus.io_MilvusSnapshotSchedule"])
    (run_now,) = actions["definitions"]
    (result,) = run_lua([{"mode": "action", "script": run_now["action.lua"], "obj": schedule()}])
    assert TRIGGER in result["result"]["metadata"]["annotations"]


def shared_rules(kind: str) -> str:
    """condition(), describe(), deletion, unobserved spec, Stalled and `ready`: what every kind's script shares."""
    script = health_script(kind)
    end = '\nlocal ready = condition("Ready")\n'
    return script[script.index("local function condition(") : script.index(end) + len(end)]


def test_the_shared_rules_are_the_same_in_every_health_script() -> None:
    """Argo CD runs each health.lua on its own (no require), so the shared rules are copies: keep them equal."""
    first, *others = KINDS
    for kind in others:
        assert shared_rules(kind) == shared_rules(first), (
            f"{kind}/health.lua differs from {first}'s in the shared rules"
        )
