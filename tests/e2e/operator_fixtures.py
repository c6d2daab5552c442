"""Operator e2e fixtures: CRDs installed once, a Milvus test server and an operator process per test.

Teardown order (pytest unwinds in reverse): the operator fixture deletes every custom resource in the
test namespace while the operator still runs and Milvus is still up, so finalizers are removed by the
operator itself; only then the namespace fixture deletes the namespace and fails on leftovers.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed import seed
from testbed.cluster import Cluster
from testbed.processes import REPO, MilvusServer, OperatorProcess

KINDS = (
    "milvussnapshotschedules.snapshot.milvus.io,milvusrestores.snapshot.milvus.io,"
    "milvussnapshots.snapshot.milvus.io,milvusconnections.snapshot.milvus.io"
)
TOKEN = "root:Milvus"


@pytest.fixture(scope="session")
def crds(control_plane: Cluster) -> Cluster:
    control_plane.kubectl("apply", "-f", str(REPO / "crds"))
    control_plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(REPO / "crds"))
    return control_plane


@pytest.fixture
def milvus(tmp_path: Path) -> Iterator[MilvusServer]:
    """A Milvus test server requiring the token of examples/connection.yaml; short restore ticks."""
    server = MilvusServer(
        tmp_path / "milvus", "--user", TOKEN, "--restore-tick", "0.5", "--restore-duration", "1.5"
    ).start()
    yield server
    server.stop()


@pytest.fixture
def books(milvus: MilvusServer) -> Any:
    """The `books` collection with 300 real vectors; returns a pymilvus client."""
    mc = seed.client(milvus.uri, TOKEN)
    seed.create_books(mc)
    yield mc
    mc.close()


class Kube:
    """kubectl in the test namespace, plus polling helpers."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster, self.namespace = cluster, namespace

    def run(self, *args: str, input: str | None = None, check: bool = True) -> Any:  # noqa: A002
        return self.cluster.kubectl(*args, namespace=self.namespace, input=input, check=check)

    def apply(self, manifest: str, check: bool = True) -> Any:
        return self.run("apply", "-f", "-", input=manifest, check=check)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        proc = self.run("get", kind, name, "-o", "json", check=False)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def status(self, kind: str, name: str) -> dict[str, Any]:
        return dict((self.get(kind, name) or {}).get("status") or {})

    def condition(self, kind: str, name: str, type_: str = "Ready") -> tuple[str, str] | None:
        for cond in self.status(kind, name).get("conditions", []):
            if cond["type"] == type_:
                return cond["status"], cond["reason"]
        return None

    def wait(self, check: Callable[[], Any], timeout: float, what: str, interval: float = 0.3) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(interval)

    def wait_phase(self, kind: str, name: str, phase: str, timeout: float = 60) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            status = self.status(kind, name)
            if status.get("phase") == "Failed" and phase != "Failed":
                raise AssertionError(f"{kind}/{name} failed: {status}")
            return status if status.get("phase") == phase else None

        return self.wait(check, timeout, f"{kind}/{name} phase {phase} (now {self.status(kind, name)})")

    def events(self, name: str) -> list[tuple[str, str, str]]:
        items = json.loads(self.run("get", "events", "-o", "json").stdout)["items"]
        return [(e["type"], e["reason"], e["message"]) for e in items if e["involvedObject"]["name"] == name]


def wait_counter(milvus: MilvusServer, rpc: str, at_least: int = 1, timeout: float = 30) -> None:
    """Wait until Milvus has served `rpc` at least `at_least` times."""
    deadline = time.monotonic() + timeout
    while milvus.counters().get(rpc, 0) < at_least:
        assert time.monotonic() < deadline, f"{rpc} never called: {milvus.counters()}"
        time.sleep(0.05)


def wait_ready(kube: Kube, kind: str, name: str, timeout: float = 60) -> dict[str, Any]:
    """Wait for the Ready condition to be True, whatever its reason; returns the status then."""
    kube.wait(lambda: (kube.condition(kind, name) or ("",))[0] == "True", timeout, f"{kind}/{name} Ready=True")
    return kube.status(kind, name)


def wait_condition(
    kube: Kube, kind: str, name: str, want: tuple[str, str], type_: str = "Ready", timeout: float = 60
) -> None:
    """Wait for condition `type_` to be exactly `want`: (status, reason)."""
    kube.wait(lambda: kube.condition(kind, name, type_) == want, timeout, f"{kind}/{name} {type_}={want}")


def reasons(kube: Kube, name: str) -> set[str]:
    """The reasons of the Events about `name`."""
    return {reason for _, reason, _ in kube.events(name)}


def typed_reasons(kube: Kube, name: str) -> set[tuple[str, str]]:
    """The (type, reason) pairs of the Events about `name`: ("Warning", "SnapshotMissing")."""
    return {(type_, reason) for type_, reason, _ in kube.events(name)}


def manifest(text: str, milvus: MilvusServer) -> str:
    """An example manifest pointed at this test's Milvus server."""
    return milvus.manifest(text)


@pytest.fixture
def kube(crds: Cluster, namespace: str) -> Kube:
    return Kube(crds, namespace)


@pytest.fixture(scope="module")
def shared_kube(crds: Cluster) -> Iterator[Kube]:
    """One namespace for a whole module of tests that create nothing lasting (API validation only)."""
    from .conftest import delete_namespace

    name = f"t-shared-{secrets.token_hex(3)}"
    crds.kubectl("create", "namespace", name)
    yield Kube(crds, name)
    delete_namespace(crds, name)


@pytest.fixture
def operator(
    kube: Kube, milvus: MilvusServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[OperatorProcess]:
    """The operator as a separate process watching only the test namespace.

    `@pytest.mark.operator_env(MSO_X="...")` on a test adds environment variables (operator settings).
    """
    marker = request.node.get_closest_marker("operator_env")
    env = dict(marker.kwargs) if marker else {}
    proc = OperatorProcess(kube.cluster.kubeconfig, [kube.namespace], tmp_path / "operator.log", env).start()
    yield proc
    try:
        if not proc.alive():
            proc.start()
        kube.run("delete", KINDS, "--all", "--wait=true", "--timeout=60s", check=False)
        left = kube.run("get", KINDS, "-o", "name", check=False).stdout.split()
        assert not left, f"custom resources left after deletion (stuck finalizers?): {left}"
    finally:
        proc.stop()
        text = proc.text()
        print(text[-20000:])  # shown by pytest on failure
        unexpected = [line for line in text.splitlines() if "Traceback" in line]
        assert not unexpected, "operator logged tracebacks:\n" + "\n".join(unexpected)
        denials = [line for line in text.splitlines() if re.search(r'HTTP/1\.1" 403 |\bForbidden\b', line)]
        assert not denials, "operator hit RBAC denials:\n" + "\n".join(denials[:5])


def connection_manifest(milvus: MilvusServer, token: str = TOKEN) -> str:
    return manifest((REPO / "examples" / "connection.yaml").read_text(), milvus).replace(TOKEN, token)


def snapshot_manifest(name: str, collection: str = "books", **spec: Any) -> str:
    body = {
        "apiVersion": "snapshot.milvus.io/v1alpha1",
        "kind": "MilvusSnapshot",
        "metadata": {"name": name},
        "spec": {"connectionRef": {"name": "milvus"}, "collectionName": collection, **spec},
    }
    return json.dumps(body)


def restore_manifest(name: str, snapshot: str, target: str) -> str:
    body = {
        "apiVersion": "snapshot.milvus.io/v1alpha1",
        "kind": "MilvusRestore",
        "metadata": {"name": name},
        "spec": {"source": {"snapshotRef": {"name": snapshot}}, "target": {"collectionName": target}},
    }
    return json.dumps(body)
