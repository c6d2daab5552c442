"""Rendering and validating the Helm chart: the pinned helm binary, `helm template`, Kubernetes and CRD schemas."""

from __future__ import annotations

import atexit
import copy
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from testbed.tools import REPO_ROOT, find_tools, missing_report

CHART = REPO_ROOT / "charts" / "milvus-snapshot-operator"
# The testbed's API server version: rendered objects must be valid for it, strictly (no unknown fields).
K8S_VERSION = "1.33.0"
IN_CI = os.environ.get("CI") == "true"


def helm_path() -> Path:
    """The pinned helm; a missing one skips locally (naming the install command) and fails under CI=true."""
    tools = find_tools()
    if problem := missing_report("helm", tools=tools):
        if IN_CI:
            pytest.fail(f"{problem} (CI=true: chart tests must not be skipped)", pytrace=False)
        pytest.skip(problem)
    return tools.helm


@cache
def _helm_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="mso-helm-home-"))
    atexit.register(shutil.rmtree, home, True)
    return home


def helm(*args: str, check: bool = True, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run helm with private cache/config/data directories (no state from the user's ~)."""
    home = _helm_home()
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    argv = [str(helm_path()), *args, *([f"--kubeconfig={kubeconfig}"] if kubeconfig else [])]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
    if check and proc.returncode:
        raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}")
    return proc


def values_file(values: dict[str, Any]) -> Path:
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="mso-values-", delete=False) as handle:
        json.dump(values, handle)
    return Path(handle.name)


def template(
    values: dict[str, Any] | None = None, *, release: str = "mso", namespace: str = "mso-system", check: bool = True
) -> subprocess.CompletedProcess[str]:
    path = values_file(values or {})
    try:
        return helm("template", release, str(CHART), "--namespace", namespace, "-f", str(path), check=check)
    finally:
        path.unlink()


def render(values: dict[str, Any] | None = None, *, release: str = "mso", namespace: str = "mso-system") -> list[Any]:
    """The rendered objects (templates only; crds/ are validated separately)."""
    docs = yaml.safe_load_all(template(values, release=release, namespace=namespace).stdout)
    return [doc for doc in docs if doc]


def find(docs: Iterable[Any], kind: str, name: str | None = None) -> list[Any]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: Iterable[Any], kind: str, name: str | None = None) -> Any:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def crd_files() -> dict[str, list[Any]]:
    return {path.name: list(yaml.safe_load_all(path.read_text())) for path in sorted((CHART / "crds").glob("*.yaml"))}


@cache
def _crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema for every CRD shipped in the chart."""
    out = {}
    for docs in crd_files().values():
        for crd in docs:
            for version in crd["spec"]["versions"]:
                key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
                out[key] = version["schema"]["openAPIV3Schema"]
    return out


def _strict(schema: Any) -> Any:
    """The API server prunes unknown fields; for a test, an unknown field is an error (like kubectl --validate=strict)."""
    if isinstance(schema, dict):
        out = {key: _strict(value) for key, value in schema.items()}
        if out.get("type") == "object" and "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


def validate(doc: dict[str, Any]) -> None:
    """Kubernetes kinds against the 1.33 schemas (strict); the chart's custom resources against their CRDs."""
    key = (doc["apiVersion"], doc["kind"])
    if key in _crd_schemas():
        schema = copy.deepcopy(_crd_schemas()[key])
        for implicit in ("apiVersion", "kind", "metadata"):
            schema.setdefault("properties", {}).setdefault(
                implicit, {"type": "string" if implicit != "metadata" else "object"}
            )
        jsonschema.validate(doc, _strict(schema))
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": doc["metadata"]}, K8S_VERSION, strict=True
        )
        return
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
