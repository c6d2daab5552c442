"""E2E fixtures: a real control plane per test session and a fresh namespace per test.

The control plane is the repo's testbed (etcd + kube-apiserver + kube-controller-manager on loopback).
Opt in to an existing cluster instead with MSO_E2E_USE_EXISTING=1 and MSO_E2E_KUBECONFIG=<path>.
Missing binaries skip the e2e tests locally (naming the install command) but fail them under CI=true, so a
green CI run cannot hide an install step that silently did nothing.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.cluster import Cluster
from testbed.controlplane import ControlPlane
from testbed.tools import find_tools, missing_report

IN_CI = os.environ.get("CI") == "true"
USE_EXISTING = os.environ.get("MSO_E2E_USE_EXISTING") == "1"
# How long deleted test namespaces may take to disappear, at the end of the session, before the run is failed
# for leaking finalizers.
NAMESPACE_GRACE = float(os.environ.get("MSO_E2E_NAMESPACE_GRACE", "60"))


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: e2e tests must not be skipped)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The cluster under test: .kubeconfig, .server, .kubectl(*args, namespace=, input=, check=)."""
    tools = find_tools()
    kubeconfig = os.environ.get("MSO_E2E_KUBECONFIG")
    existing = bool(kubeconfig) and USE_EXISTING
    if kubeconfig and not existing:
        warnings.warn("MSO_E2E_KUBECONFIG ignored: set MSO_E2E_USE_EXISTING=1 to use it", stacklevel=1)
    # Outside CI a missing controller-manager is tolerated (degraded mode, logged); the tests that need
    # namespace deletion or GC then fail rather than pass.
    required = ["kubectl"]
    if not existing:
        required += ["etcd", "kube_apiserver", *(["kube_controller_manager"] if IN_CI else [])]
    if problem := missing_report(*required, tools=tools):
        _unavailable(problem)
    if kubeconfig and existing:
        cluster = Cluster.from_kubeconfig(Path(kubeconfig), tools.kubectl)
        yield cluster
        await_deleted_namespaces(cluster, NAMESPACE_GRACE)
        return
    cp = ControlPlane(tmp_path_factory.mktemp("controlplane"), tools=tools, controller_manager=IN_CI or None)
    cp.start()
    try:
        cluster = cp.cluster()
        yield cluster
        await_deleted_namespaces(cluster, NAMESPACE_GRACE)
    finally:
        cp.stop()


def _namespace_name(test_name: str) -> str:
    short = re.sub(r"[^a-z0-9]+", "-", test_name.lower().removeprefix("test_"))[:40].strip("-")
    return f"t-{short}-{secrets.token_hex(3)}"


@pytest.fixture
def namespace(control_plane: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace; teardown deletes it, and the session fails if it cannot finish (stuck finalizers).

    Finalizers are reported, never stripped: a finalizer nobody removes is exactly the operator bug an
    e2e test must catch (see the operator section at the end of this file for the teardown order).
    """
    name = _namespace_name(request.node.name)
    control_plane.kubectl("create", "namespace", name)
    yield name
    delete_namespace(control_plane, name)


# Namespaces deleted by tests, per API server, that the session has not yet seen disappear.
_TERMINATING: dict[str, list[str]] = {}


def delete_namespace(cluster: Cluster, name: str) -> None:
    """Start deleting `name`; the session checks at its end that it is gone (await_deleted_namespaces).

    The namespace controller takes ~5 s per namespace even when nothing blocks it; waiting for each one in
    its test's teardown cost minutes per run. Our own resources are checked for stuck finalizers at once,
    by the operator fixture, while the operator still runs.
    """
    cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")
    _TERMINATING.setdefault(cluster.server, []).append(name)


def await_deleted_namespaces(cluster: Cluster, grace: float, names: list[str] | None = None) -> None:
    """Wait up to `grace` seconds for every namespace the tests deleted (or just `names`); pytest.fail
    naming the culprits (the namespace names carry the test names) if any is left."""
    pending = _TERMINATING.setdefault(cluster.server, [])
    names = list(pending if names is None else names)
    pending[:] = [n for n in pending if n not in names]
    if cluster.degraded:
        warnings.warn(
            f"degraded testbed (no controller-manager): {len(names)} namespaces stay Terminating", stacklevel=1
        )
        return
    deadline = time.monotonic() + grace
    while names and time.monotonic() < deadline:
        listed = cluster.kubectl("get", "namespaces", "-o", "name").stdout.split()
        names = [n for n in names if f"namespace/{n}" in listed]
        if names:
            time.sleep(0.5)
    report = []
    for name in names:
        proc = cluster.kubectl("get", "namespace", name, "-o", "json", check=False)
        conditions = [
            f"{c['type']}: {c.get('message', '')}"
            for c in json.loads(proc.stdout or "{}").get("status", {}).get("conditions", [])
            if c.get("status") == "True"
        ]
        stuck = objects_with_finalizers(cluster, name)
        report.append(f"{name}: objects with finalizers: {stuck or 'none'}; namespace conditions: {conditions}")
    if report:
        pytest.fail(f"namespaces still exist {grace:.0f}s after deletion:\n" + "\n".join(report), pytrace=False)


def objects_with_finalizers(cluster: Cluster, namespace: str) -> list[str]:
    """`kind/name [finalizers]` for every object in `namespace` that still has finalizers."""
    kinds = cluster.kubectl("api-resources", "--verbs=list", "--namespaced", "-o", "name").stdout.split()
    # check=False: one unlistable type (e.g. an aggregated API that is down) must not hide the others.
    proc = cluster.kubectl("get", ",".join(kinds), "-o", "json", namespace=namespace, check=False)
    items = json.loads(proc.stdout or '{"items": []}')["items"]
    return [
        f"{item['kind']}/{item['metadata']['name']} {item['metadata']['finalizers']}"
        for item in items
        if item["metadata"].get("finalizers")
    ]


# =====================================================================================================
# Operator / Milvus fixtures: written by the operator e2e work, below this line.
#
# Build on `control_plane` (session) and `namespace` (function). A fixture that runs the operator for a
# test should request `namespace`: pytest then tears the operator down *before* the namespace, so delete
# the operator's custom resources in that fixture's teardown while the operator still runs (it must
# remove its own finalizers; the namespace teardown fails the test if any are left).
# =====================================================================================================

from .operator_fixtures import books, crds, kube, milvus, operator, shared_kube  # noqa: E402, F401
