"""The Go harnesses of testbed/gotools: Argo CD's Lua sandbox (luahealth) and cli-utils' kstatus.

A missing binary skips locally, naming the install command, and fails under CI=true.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed.tools import REPO_ROOT, find_tools, missing_report

GROUP_DIR = REPO_ROOT / "gitops" / "argocd" / "resource_customizations" / "snapshot.milvus.io"
KINDS = ("MilvusConnection", "MilvusSnapshot", "MilvusRestore", "MilvusSnapshotSchedule")
IN_CI = os.environ.get("CI") == "true"


def tool(name: str) -> Path:
    tools = find_tools()
    if problem := missing_report(name, tools=tools):
        if IN_CI:
            pytest.fail(f"{problem} (CI=true: must not be skipped)", pytrace=False)
        pytest.skip(problem)
    return Path(getattr(tools, name))


def run_lua(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run {"mode", "script", "obj"} cases in Argo CD's argocd-cm sandbox; [{"result"} | {"error"}] in order."""
    proc = subprocess.run(
        [str(tool("luahealth"))], input=json.dumps({"cases": cases}), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    assert len(results) == len(cases)
    return results


def health_script(kind: str) -> str:
    return (GROUP_DIR / kind / "health.lua").read_text()


def argo_health(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Argo CD's health of each object, from our health.lua of its kind; a Lua error fails the test."""
    cases = [{"mode": "health", "script": health_script(o["kind"]), "obj": o} for o in objects]
    out = []
    for obj, result in zip(objects, run_lua(cases), strict=True):
        assert "error" not in result, f"{obj['kind']}/{obj['metadata']['name']}: {result['error']}"
        out.append(result["result"])
    return out


def kstatus(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    """cli-utils kstatus of each object: [{"kind", "name", "status", "message"}]."""
    listing = {"apiVersion": "v1", "kind": "List", "items": objects}
    proc = subprocess.run([str(tool("kstatus"))], input=json.dumps(listing), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result: list[dict[str, str]] = json.loads(proc.stdout)
    return result


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())
