"""Pods replaced under a running restore: the active replica of two deleted (Kopf peering hands over), and a
`helm upgrade` to a new image tag (the single replica is recreated). Either way the restore that was running
completes with exactly one Milvus restore job. `helm uninstall` then leaves the CRDs and the user's resources."""

from __future__ import annotations

import json
from typing import Any

import pytest

from testbed.processes import REPO, MilvusServer
from tests.chart.release import CRDS, Release, reported_by
from tests.e2e.operator_fixtures import Kube, wait_ready

from .pods import NodeEnv, assert_clean_log, logs, peers, pods, wait_rollout

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("node")]  # one node per machine: one worker
# Restore jobs run this long on the Milvus test server, so the pods are replaced while one runs.
MILVUS_RESTORE_SECONDS = 20


def start_restore(node_env: NodeEnv, user: Kube, milvus: MilvusServer) -> dict[str, Any]:
    """The examples' connection, snapshot and restore; returns the restore's status once its Milvus job runs."""
    user.apply(node_env.connection(milvus))
    user.apply((REPO / "examples" / "snapshot.yaml").read_text())
    wait_ready(user, "MilvusSnapshot", "books-nightly", timeout=120)
    user.apply((REPO / "examples" / "restore.yaml").read_text())
    status: dict[str, Any] = user.wait(
        lambda: (s := user.status("MilvusRestore", "books-restore")).get("jobId") and s.get("phase") == "Restoring"
        and s,
        120,
        "the restore's Milvus job to start",
    )  # fmt: skip
    return status


def finish_restore(user: Kube, milvus: MilvusServer, books: Any, job: int) -> dict[str, Any]:
    done = user.wait_phase("MilvusRestore", "books-restore", "Completed", timeout=180)
    assert done["jobId"] == job and done["targetRowCount"] == 300
    assert milvus.counters()["RestoreSnapshot"] == 1, "one MilvusRestore, one Milvus restore job"
    jobs = books.list_restore_snapshot_jobs()
    assert len(jobs) == 1, jobs
    return done


def test_deleting_the_active_pod_hands_over_and_a_running_restore_completes_once(
    node_env: NodeEnv, release: Release, user: Kube, milvus: MilvusServer, books: Any
) -> None:
    release.install(node_env.values(replicaCount=2, watchNamespaces=[user.namespace]))
    first, second = wait_rollout(release)
    (peering,) = [a.split("=", 1)[1] for a in first["spec"]["containers"][0]["args"] if a.startswith("--peering=")]
    names = {first["metadata"]["name"], second["metadata"]["name"]}
    user.wait(lambda: set(peers(user, peering)) == names, 60, "both pods in the KopfPeering")
    by_priority = sorted(peers(user, peering).items(), key=lambda item: item[1]["priority"])
    active, standby = by_priority[1][0], by_priority[0][0]
    job = start_restore(node_env, user, milvus)["jobId"]
    assert reported_by(user, "books-restore", "RestoreStarted") == {active}
    assert_clean_log(logs(release, active), active)
    # Deleted like a node drain or `kubectl delete pod` would: SIGTERM, Kopf leaves the peering, the standby resumes.
    release.cluster.kubectl("delete", "pod", active, "--wait=false", namespace=release.namespace)
    user.wait(lambda: active not in peers(user, peering), 90, f"{active} to leave the peering")
    user.wait(lambda: "Resuming operations" in logs(release, standby), 60, f"{standby} to take over")
    assert user.status("MilvusRestore", "books-restore")["phase"] == "Restoring", "the job ended before the handover"
    finish_restore(user, milvus, books, job)
    # The Deployment replaced the deleted pod. Peering priorities are random, so the newcomer may outrank the
    # standby and finish the restore itself: either way one of the live pods, never a second job.
    replaced = {p["metadata"]["name"] for p in wait_rollout(release)}
    assert standby in replaced and active not in replaced and len(replaced) == 2
    finisher = reported_by(user, "books-restore", "RestoreCompleted")
    assert finisher and finisher <= replaced, finisher
    user.wait(lambda: set(peers(user, peering)) == replaced, 60, "the replacement in the peering")


def test_helm_upgrade_rolls_over_under_a_running_restore_and_uninstall_keeps_crds_and_resources(
    node_env: NodeEnv, release: Release, user: Kube, milvus: MilvusServer, books: Any
) -> None:
    release.install(node_env.values(watchNamespaces=[user.namespace]))
    (old,) = wait_rollout(release)
    job = start_restore(node_env, user, milvus)["jobId"]
    release.upgrade(node_env.values(image=node_env.upgrade, watchNamespaces=[user.namespace]))
    (new,) = wait_rollout(release)
    assert new["metadata"]["name"] != old["metadata"]["name"]
    assert new["spec"]["containers"][0]["image"] == node_env.upgrade
    # The new tag names the same image (containerd then reports the image by its first name).
    assert new["status"]["containerStatuses"][0]["imageID"] == old["status"]["containerStatuses"][0]["imageID"]
    finish_restore(user, milvus, books, job)
    assert reported_by(user, "books-restore", "RestoreCompleted") == {new["metadata"]["name"]}
    mine = user.run("get", "secret,milvusconnections,milvussnapshots,milvusrestores", "-o", "json").stdout
    before = {(i["kind"], i["metadata"]["name"], i["metadata"]["uid"]) for i in json.loads(mine)["items"]}

    assert_clean_log(logs(release, new["metadata"]["name"]), new["metadata"]["name"])
    deployment = release.deployment()["metadata"]["name"]
    release.uninstall()
    ops = Kube(release.cluster, release.namespace)
    ops.wait(lambda: not pods(release), 90, "the operator pod to go")
    assert ops.get("deployment", deployment) is None
    assert not [r for r in release.cluster.get_json("clusterroles")["items"]
                if r["metadata"]["name"].startswith(release.name)]  # fmt: skip
    for crd in CRDS:
        release.cluster.kubectl("get", "crd", crd)
    after = user.run("get", "secret,milvusconnections,milvussnapshots,milvusrestores", "-o", "json").stdout
    assert {(i["kind"], i["metadata"]["name"], i["metadata"]["uid"]) for i in json.loads(after)["items"]} == before
    assert {"books_nightly"} == set(books.list_snapshots(collection_name="books"))
    # Installed again, the operator takes its resources back (and the test's clean-up needs it for the finalizers).
    release.install(node_env.values(watchNamespaces=[user.namespace]))
    wait_rollout(release)
    wait_ready(user, "MilvusRestore", "books-restore", timeout=120)
