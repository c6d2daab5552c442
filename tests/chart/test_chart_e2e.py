"""The chart on the real API server: `helm install --no-hooks` into the testbed, then the operator runs as the
chart's ServiceAccount (a token from `kubectl create token`) with the exact args and env of the chart's
Deployment, through snapshot -> restore -> delete. Any RBAC denial in its log fails the test, so the rules are
proven sufficient; `kubectl auth can-i` proves what the account cannot do. Upgrade and uninstall keep the CRDs
and the user's resources."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed import seed
from testbed.cluster import Cluster
from testbed.ports import free_ports
from testbed.processes import REPO, MilvusServer, OperatorProcess
from tests.e2e.conftest import delete_namespace
from tests.e2e.operator_fixtures import KINDS, Kube, manifest, typed_reasons, wait_ready

from .release import CRDS, DENIAL, FAST, Release, nightly_snapshot, reported_by

pytestmark = pytest.mark.e2e

# A stand-in for milvus-operator's CRD (milvus.io/v1beta1 Milvus), so that spec.milvusRef and the chart's
# `get milvuses` rule run for real; status is a plain field here so the test can set status.endpoint.
MILVUS_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "milvuses.milvus.io"},
    "spec": {
        "group": "milvus.io",
        "scope": "Namespaced",
        "names": {"kind": "Milvus", "plural": "milvuses", "singular": "milvus"},
        "versions": [
            {
                "name": "v1beta1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


class ChartOperator(OperatorProcess):
    """The operator started exactly as the chart's Deployment starts it: its container args and env values."""

    def __init__(self, kubeconfig: Path, deployment: Any, log: Path) -> None:
        super().__init__(kubeconfig, [], log)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        self.args = list(container["args"])
        # A pod name where the Deployment asks the downward API for it (POD_NAME, POD_ID: Kopf's peering identity).
        self.pod_name = f"{deployment['metadata']['name']}-{secrets.token_hex(3)}"
        self.container_env = {}
        for var in container.get("env", []):
            if "value" in var:
                self.container_env[var["name"]] = var["value"]
            elif var["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}:
                self.container_env[var["name"]] = self.pod_name
        (health,) = [p["containerPort"] for p in container["ports"] if p["name"] == "health"]
        self.health_port = health

    def start(self) -> ChartOperator:
        env = {
            **os.environ,
            **self.container_env,
            "KUBECONFIG": str(self.kubeconfig),
            "PYTHONPATH": os.pathsep.join([str(REPO / "operator"), str(REPO)]),
        }
        with self.log.open("ab") as out:
            out.write(f"\n===== operator start #{self.starts + 1}: {' '.join(self.args)} =====\n".encode())
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "milvus_snapshot_operator", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
                start_new_session=True,
            )
        self.starts += 1
        return self

    @property
    def peering(self) -> str:
        """The name of the Kopf peering object the chart passes (--peering=NAME)."""
        return next(a for a in self.args if a.startswith("--peering=")).split("=", 1)[1]

    def healthy(self) -> bool:
        """What the chart's liveness/readiness probes ask: GET /healthz on the health port."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False


@pytest.fixture(scope="module")
def milvus_crd(crds: Cluster) -> Iterator[Cluster]:
    crds.kubectl("apply", "-f", "-", input=json.dumps(MILVUS_CRD))
    crds.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/milvuses.milvus.io")
    yield crds
    crds.kubectl("delete", "crd", "milvuses.milvus.io", "--wait=false", "--ignore-not-found")


@pytest.fixture
def operator_namespace(crds: Cluster, namespace: str) -> Iterator[str]:
    """Where the release (and so the operator's ServiceAccount) lives; `namespace` holds the user's resources."""
    name = f"t-ops-{secrets.token_hex(3)}"
    crds.kubectl("create", "namespace", name)
    yield name
    delete_namespace(crds, name)


@pytest.fixture
def release(crds: Cluster, operator_namespace: str) -> Iterator[Release]:
    rel = Release(crds, operator_namespace)
    yield rel
    if rel.installed:  # cluster-scoped objects (ClusterRoles, peering) must not leak into later tests
        rel.uninstall()


@pytest.fixture
def kube(crds: Cluster, namespace: str) -> Kube:
    return Kube(crds, namespace)


@pytest.fixture
def operators(release: Release, kube: Kube, tmp_path: Path) -> Iterator[Callable[..., ChartOperator]]:
    """Start operator processes as the chart's ServiceAccount; on teardown the custom resources are deleted while
    they still run (they remove their finalizers), then every log is checked for RBAC denials and tracebacks."""
    started: list[ChartOperator] = []

    def start(*extra_args: str) -> ChartOperator:
        kubeconfig = tmp_path / "service-account.kubeconfig"
        if not kubeconfig.exists():
            release.as_service_account(kubeconfig)
        proc = ChartOperator(kubeconfig, release.deployment(), tmp_path / f"operator-{len(started)}.log")
        proc.args.extend(extra_args)
        started.append(proc.start())
        return proc

    yield start
    try:
        if started:
            for proc in started:
                if not proc.alive():
                    proc.start()
            kube.run("delete", KINDS, "--all", "--wait=true", "--timeout=60s", check=False)
            left = kube.run("get", KINDS, "-o", "name", check=False).stdout.split()
            assert not left, f"custom resources left after deletion (stuck finalizers?): {left}"
    finally:
        for proc in started:
            proc.stop()
        for proc in started:
            text = proc.text()
            print(f"--- {proc.log} ---\n{text[-15000:]}")  # shown by pytest on failure
            assert "Traceback" not in text, f"operator logged a traceback: {proc.log}"
            denials = [line for line in text.splitlines() if DENIAL.search(line)]
            assert not denials, "operator hit RBAC denials:\n" + "\n".join(denials[:5])


def chart_values(*, port: int, **values: Any) -> dict[str, Any]:
    """The health port given; /metrics (on by default) on a free port too, so parallel runs never collide."""
    return {**FAST, "health": {"port": port}, "metrics": {"port": free_ports(1)[0]}, **values}


def snapshot_restore_delete(kube: Kube, milvus: MilvusServer, books: Any, via_milvus_ref: bool = False) -> None:
    """The examples/ manifests end to end, then deletion, which drops the Milvus snapshot (deletionPolicy Delete)."""
    secret, connection = yaml.safe_load_all(manifest((REPO / "examples" / "connection.yaml").read_text(), milvus))
    if via_milvus_ref:  # the same server, found through a milvus-operator Milvus resource
        endpoint = milvus.uri.removeprefix("http://")
        kube.apply(json.dumps({"apiVersion": "milvus.io/v1beta1", "kind": "Milvus", "metadata": {"name": "prod"},
                               "status": {"endpoint": endpoint}}))  # fmt: skip
        connection["spec"] = {"milvusRef": {"name": "prod"}, "credentialsSecretRef": secret["metadata"]}
    kube.apply(json.dumps({"apiVersion": "v1", "kind": "List", "items": [secret, connection]}))
    kube.apply((REPO / "examples" / "snapshot.yaml").read_text())
    kube.apply((REPO / "examples" / "restore.yaml").read_text())
    wait_ready(kube, "MilvusConnection", "milvus", timeout=90)
    wait_ready(kube, "MilvusSnapshot", "books-nightly", timeout=90)
    kube.wait_phase("MilvusRestore", "books-restore", "Completed", timeout=90)
    seed.load(books, "books_restored")  # a restored collection serves queries only once loaded (as in Milvus 3.0)
    assert seed.row_count(books, "books_restored") == 300
    assert ("Normal", "SnapshotCreated") in typed_reasons(kube, "books-nightly")  # events: create
    assert books.list_snapshots(collection_name="books") == ["books_nightly"]
    kube.run("delete", "milvusrestore", "books-restore", "--timeout=60s")
    kube.run("delete", "milvussnapshot", "books-nightly", "--timeout=60s")
    assert books.list_snapshots(collection_name="books") == []
    schedule_run_and_prune(kube, books)


def schedule_run_and_prune(kube: Kube, books: Any) -> None:
    """examples/schedule.yaml with keepLast 1: two manual runs, the first pruned (create and delete rights)."""
    schedule = yaml.safe_load((REPO / "examples" / "schedule.yaml").read_text())
    schedule["spec"]["retention"] = {"keepLast": 1}
    kube.apply(json.dumps(schedule))
    wait_ready(kube, "MilvusSnapshotSchedule", "books-daily", timeout=90)

    def children() -> list[tuple[str, str]]:
        items = kube.cluster.get_json("milvussnapshots", namespace=kube.namespace)["items"]
        return sorted((i["metadata"]["name"], (i.get("status") or {}).get("phase", "")) for i in items)

    made: list[str] = []
    for value in ("1", "2"):
        time.sleep(1.1)  # run names have second precision
        kube.run(
            "annotate", "--overwrite", "milvussnapshotschedule", "books-daily", f"snapshot.milvus.io/trigger={value}"
        )
        run = kube.wait(lambda: [n for n, p in children() if p == "Ready" and n not in made], 90, f"run {value}")
        made.append(run[0])
    kube.wait(lambda: children() == [(made[1], "Ready")], 60, f"{made[0]} pruned")
    assert books.list_snapshots(collection_name="books") == [made[1].replace("-", "_")]
    kube.run("delete", "milvussnapshotschedule", "books-daily", "--timeout=60s")
    kube.run("delete", "milvussnapshot", made[1], "--timeout=60s")
    assert books.list_snapshots(collection_name="books") == []
    kube.run("delete", "milvusconnection", "milvus", "--timeout=60s")


def test_cluster_wide_install_serves_every_namespace_with_its_clusterrole(
    release: Release,
    kube: Kube,
    milvus_crd: Cluster,
    milvus: MilvusServer,
    books: Any,
    operators: Callable[..., ChartOperator],
) -> None:
    (port,) = free_ports(1)
    notes = release.install(chart_values(port=port))
    assert "all namespaces" in notes
    operator = operators()
    assert "--all-namespaces" in operator.args
    kube.wait(operator.healthy, 60, "the operator's /healthz (the chart's probes)")
    snapshot_restore_delete(kube, milvus, books, via_milvus_ref=True)  # in another namespace than the operator's
    # What the account must not do, although it reads Secrets everywhere.
    ns = kube.namespace
    assert release.can_i("get", "secrets", "-n", "default") and release.can_i("watch", "secrets", "-A")
    assert not release.can_i("create", "secrets", "-n", ns)
    assert not release.can_i("delete", "milvusrestores.snapshot.milvus.io", "-n", ns)
    assert not release.can_i("deletecollection", "milvussnapshots.snapshot.milvus.io", "-n", ns)
    assert not release.can_i("update", "milvussnapshotschedules.snapshot.milvus.io", "-n", ns)
    assert not release.can_i("update", "milvusrestores.snapshot.milvus.io", "-n", ns)
    assert not release.can_i("get", "pods", "-n", ns)
    assert not release.can_i("list", "namespaces")
    assert not release.can_i("patch", "customresourcedefinitions.apiextensions.k8s.io")
    assert not release.can_i("create", "milvuses.milvus.io", "-n", ns)


def test_namespaced_install_with_peering_cannot_read_secrets_elsewhere(
    release: Release,
    kube: Kube,
    milvus: MilvusServer,
    books: Any,
    operators: Callable[..., ChartOperator],
) -> None:
    (port,) = free_ports(1)
    ns = kube.namespace  # watched; the release and its ServiceAccount live in release.namespace
    notes = release.install(chart_values(port=port, watchNamespaces=[ns], replicaCount=2))
    assert f"the namespaces {ns}" in notes
    operator = operators()
    assert f"--namespace={ns}" in operator.args and any(a.startswith("--peering=") for a in operator.args)
    peering = operator.peering
    kube.wait(operator.healthy, 60, "the operator's /healthz (the chart's probes)")
    snapshot_restore_delete(kube, milvus, books)
    # The replica announced itself in the chart's KopfPeering object (patch, limited to that name).
    peers = kube.wait(lambda: (kube.get("kopfpeerings.kopf.dev", peering) or {}).get("status"), 30, "a peer entry")
    assert len(peers) == 1
    assert release.can_i("get", "secrets", "-n", ns)
    for other in (release.namespace, "default", "kube-system"):  # not even its own namespace
        assert not release.can_i("get", "secrets", "-n", other)
        assert not release.can_i("list", "milvussnapshots.snapshot.milvus.io", "-n", other)
        assert not release.can_i("create", "events", "-n", other)
    assert not release.can_i("list", "secrets", "-A")
    assert not release.can_i("list", "namespaces")
    assert not release.can_i("list", "customresourcedefinitions.apiextensions.k8s.io")
    assert not release.can_i("list", "clusterkopfpeerings.kopf.dev")
    assert release.can_i("patch", f"kopfpeerings.kopf.dev/{peering}", "-n", ns)
    assert not release.can_i("patch", "kopfpeerings.kopf.dev/someone-else", "-n", ns)
    bindings = kube.cluster.get_json("clusterrolebindings")["items"]
    sa = release.service_account()
    assert not [b["metadata"]["name"] for b in bindings if any(s.get("name") == sa for s in b.get("subjects") or [])]


def test_two_replicas_one_acts_and_the_other_takes_over(
    release: Release,
    kube: Kube,
    milvus: MilvusServer,
    books: Any,
    operators: Callable[..., ChartOperator],
) -> None:
    first_port, second_port = free_ports(2)
    release.install(chart_values(port=first_port, replicaCount=2))
    first = operators()
    kube.wait(first.healthy, 60, "the first replica's /healthz")
    release.upgrade(chart_values(port=second_port, replicaCount=2))  # a second pod: its own health port
    second = operators()
    kube.wait(second.healthy, 60, "the second replica's /healthz")
    peering = first.peering

    def peers() -> dict[str, Any]:
        return dict((kube.get("clusterkopfpeerings.kopf.dev", peering) or {}).get("status") or {})

    kube.wait(lambda: set(peers()) == {first.pod_name, second.pod_name}, 30, "both pods in the ClusterKopfPeering")
    by_priority = sorted(peers().items(), key=lambda item: item[1]["priority"])
    assert by_priority[0][1]["priority"] != by_priority[1][1]["priority"], "equal priorities: both would pause"
    active, standby = (first, second) if by_priority[1][0] == first.pod_name else (second, first)
    nightly_snapshot(kube, milvus, timeout=60)
    assert reported_by(kube, "books-nightly", "SnapshotCreated") == {active.pod_name}
    seen = len(standby.text())
    active.stop()  # a clean shutdown removes its peering entry: the standby resumes at once
    kube.wait(lambda: set(peers()) == {standby.pod_name}, 30, "the stopped pod to leave the peering")
    kube.wait(lambda: "Resuming operations" in standby.text()[seen:], 30, "the standby to resume")
    kube.apply(
        json.dumps(
            {
                "apiVersion": "snapshot.milvus.io/v1alpha1",
                "kind": "MilvusSnapshot",
                "metadata": {"name": "after-failover"},
                "spec": {"connectionRef": {"name": "milvus"}, "collectionName": "books"},
            }
        )
    )
    wait_ready(kube, "MilvusSnapshot", "after-failover", timeout=60)
    assert reported_by(kube, "after-failover", "SnapshotCreated") == {standby.pod_name}


def test_a_replica_that_loses_the_lead_stops_its_drift_sweeps(
    release: Release,
    kube: Kube,
    milvus: MilvusServer,
    books: Any,
    operators: Callable[..., ChartOperator],
) -> None:
    """Kopf pauses a replica's watches and daemons when a peer of higher priority appears, not the operator's own
    drift timer: the replica that led, its index now frozen, must stop sweeping; the new leader alone reports."""
    first_port, second_port = free_ports(2)
    release.install(chart_values(port=first_port, replicaCount=2))
    first = operators("--priority=10")
    kube.wait(first.healthy, 60, "the first replica's /healthz")
    nightly_snapshot(kube, milvus, timeout=60)
    kube.wait(lambda: "drift sweep: 1 snapshots" in first.text(), 30, "the first replica to drift-check it")
    release.upgrade(chart_values(port=second_port, replicaCount=2))  # a second pod: its own health port
    second = operators("--priority=20")
    kube.wait(lambda: "drift sweeps paused" in first.text(), 60, "the first replica to stop sweeping")
    kube.wait(lambda: "drift sweep: 1 snapshots" in second.text(), 60, "the new leader to drift-check it")
    books.drop_snapshot("books_nightly", collection_name="books")
    kube.wait_phase("MilvusSnapshot", "books-nightly", "Missing", timeout=60)  # driftCheckSeconds is 3
    kube.wait(lambda: reported_by(kube, "books-nightly", "SnapshotMissing"), 30, "the SnapshotMissing event")
    assert reported_by(kube, "books-nightly", "SnapshotMissing") == {second.pod_name}


def test_upgrade_and_uninstall_keep_crds_and_user_resources(release: Release, kube: Kube) -> None:
    (port,) = free_ports(1)
    release.install(chart_values(port=port))
    kube.apply((REPO / "examples" / "connection.yaml").read_text())
    kube.apply((REPO / "examples" / "snapshot.yaml").read_text())
    before = {name for name in kube.run("get", KINDS, "-o", "name").stdout.split()}
    assert len(before) == 2

    release.upgrade(chart_values(port=port, replicaCount=2, operator={"logLevel": "debug"}))
    ops = Kube(kube.cluster, release.namespace)
    deployment, sa = release.deployment()["metadata"]["name"], release.service_account()
    live = ops.get("deployment", deployment)
    assert live and live["spec"]["replicas"] == 2
    args = live["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--verbose" in args and any(a.startswith("--peering=") for a in args)
    assert ops.get("poddisruptionbudget", deployment) is not None
    assert kube.cluster.kubectl("get", "clusterkopfpeering", deployment, check=False).returncode == 0
    assert set(kube.run("get", KINDS, "-o", "name").stdout.split()) == before

    release.uninstall()
    assert ops.get("deployment", deployment) is None and ops.get("serviceaccount", sa) is None
    assert kube.cluster.kubectl("get", "clusterkopfpeering", deployment, check=False).returncode != 0
    cluster_roles = [d["metadata"]["name"] for d in kube.cluster.get_json("clusterroles")["items"]]
    assert not [name for name in cluster_roles if name.startswith(release.name)]
    for crd in CRDS:
        kube.cluster.kubectl("get", "crd", crd)
    assert set(kube.run("get", KINDS, "-o", "name").stdout.split()) == before
    assert kube.get("secret", "milvus-credentials") is not None


def test_drift_turns_a_vanished_snapshot_missing_under_the_charts_rbac(
    release: Release,
    kube: Kube,
    milvus: MilvusServer,
    books: Any,
    operators: Callable[..., ChartOperator],
) -> None:
    """The drift timer reads a snapshot before it changes its status, with the verbs the chart grants (list,
    watch, patch: no get). A snapshot dropped in Milvus out of band turns Missing with its event (README, Drift)."""
    (port,) = free_ports(1)
    ns = kube.namespace
    release.install(chart_values(port=port, watchNamespaces=[ns]))
    operators()
    nightly_snapshot(kube, milvus)
    assert not release.can_i("get", "milvussnapshots.snapshot.milvus.io", "-n", ns)  # drift reads by a list
    books.drop_snapshot("books_nightly", collection_name="books")
    kube.wait_phase("MilvusSnapshot", "books-nightly", "Missing", timeout=60)  # driftCheckSeconds is 3
    kube.wait(lambda: ("Warning", "SnapshotMissing") in typed_reasons(kube, "books-nightly"), 30, "the event")
