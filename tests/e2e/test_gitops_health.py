"""What GitOps tools read from our live objects: Argo CD's health (our health.lua in Argo CD's own Lua sandbox)
and kstatus (the cli-utils library Flux's health checks use), for objects the operator brought into each state.

The objects double as the testdata of gitops/argocd/: a committed testdata file must still describe what the
operator produces (same phase, condition types, statuses and reasons); `MSO_REGENERATE_TESTDATA=1` rewrites
the files and health_test.yaml from this run instead.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import yaml

from testbed.processes import MilvusServer, OperatorProcess
from tests.gitops.harness import GROUP_DIR, argo_health, kstatus

from .operator_fixtures import Kube, connection_manifest, restore_manifest

pytestmark = pytest.mark.e2e
REGENERATE = os.environ.get("MSO_REGENERATE_TESTDATA") == "1"
API = "snapshot.milvus.io/v1alpha1"
# (kind, name) -> (Argo CD health, kstatus). The names are the testdata file names.
EXPECTED: dict[tuple[str, str], tuple[str, str]] = {
    ("MilvusConnection", "connected"): ("Healthy", "Current"),
    ("MilvusConnection", "unauthenticated"): ("Degraded", "InProgress"),
    ("MilvusConnection", "deleting"): ("Progressing", "Terminating"),
    ("MilvusSnapshot", "ready"): ("Healthy", "Current"),
    ("MilvusSnapshot", "failed"): ("Degraded", "Failed"),
    ("MilvusSnapshot", "waiting"): ("Progressing", "InProgress"),
    ("MilvusSnapshot", "missing"): ("Degraded", "InProgress"),  # gone from Milvus: recoverable, not Stalled
    ("MilvusSnapshot", "deleting"): ("Progressing", "Terminating"),
    ("MilvusRestore", "completed"): ("Healthy", "Current"),
    ("MilvusRestore", "restoring"): ("Progressing", "InProgress"),
    ("MilvusRestore", "failed"): ("Degraded", "Failed"),
    ("MilvusRestore", "waiting"): ("Progressing", "InProgress"),
    ("MilvusRestore", "awaiting-cutover"): ("Progressing", "InProgress"),
    ("MilvusSnapshotSchedule", "scheduled"): ("Healthy", "Current"),
    ("MilvusSnapshotSchedule", "suspended"): ("Suspended", "Current"),
    ("MilvusSnapshotSchedule", "invalid"): ("Degraded", "Failed"),
    ("MilvusSnapshotSchedule", "last-failed"): ("Degraded", "Current"),
}


def obj(kind: str, name: str, spec: dict[str, Any], **meta: Any) -> str:
    return json.dumps({"apiVersion": API, "kind": kind, "metadata": {"name": name, **meta}, "spec": spec})


def condition(kube: Kube, kind: str, name: str, type_: str = "Ready") -> tuple[str, str] | None:
    return kube.condition(kind, name, type_)


def stalled(kube: Kube, kind: str, name: str) -> bool:
    return (condition(kube, kind, name, "Stalled") or ("",))[0] == "True"


def schedule(name: str, collection: str = "books", cron: str = "0 0 1 1 *", **spec: Any) -> str:
    template = {"connectionRef": {"name": "connected"}, "collectionName": collection}
    return obj("MilvusSnapshotSchedule", name, {"schedule": cron, "template": template, **spec})


def connection(milvus: MilvusServer, name: str, secret: str = "milvus-credentials") -> str:
    spec = {"uri": milvus.uri, "credentialsSecretRef": {"name": secret}, "timeoutSeconds": 5}
    return obj("MilvusConnection", name, spec)


def produce_every_state(kube: Kube, milvus: MilvusServer, books: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """Bring one object into each state of EXPECTED; returns the live objects (deleting ones captured while
    their deletion is pending)."""
    kube.apply(connection_manifest(milvus))  # the Secret milvus-credentials (and a connection named milvus)
    kube.apply(connection(milvus, "connected"))
    wrong = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "wrong"}, "stringData": {"token": "root:no"}}
    kube.apply(json.dumps(wrong))
    kube.apply(connection(milvus, "unauthenticated", "wrong"))
    kube.apply(connection(milvus, "deleting"))
    ref = {"connectionRef": {"name": "connected"}}
    kube.apply(obj("MilvusSnapshot", "ready", {**ref, "collectionName": "books"}))
    kube.apply(obj("MilvusSnapshot", "failed", {**ref, "collectionName": "no_such_collection"}))
    kube.apply(obj("MilvusSnapshot", "waiting", {"connectionRef": {"name": "absent"}, "collectionName": "books"}))
    kube.apply(obj("MilvusSnapshot", "deleting", {**ref, "collectionName": "books", "deletionPolicy": "Delete"}))
    kube.apply(
        obj("MilvusSnapshot", "uses-deleting", {"connectionRef": {"name": "deleting"}, "collectionName": "books"})
    )
    kube.apply(schedule("scheduled"))
    kube.apply(schedule("suspended", suspend=True))
    kube.apply(schedule("invalid", cron="61 * * * *"))
    kube.apply(schedule("last-failed", collection="no_such_collection"))
    kube.apply(obj("MilvusSnapshot", "missing", {**ref, "collectionName": "books"}))
    for name in ("ready", "deleting", "uses-deleting", "missing"):
        kube.wait_phase("MilvusSnapshot", name, "Ready")
    books.drop_snapshot("missing", collection_name="books")  # out of band: the drift check finds it gone
    manual = {
        "source": {"snapshotRef": {"name": "ready"}},
        "target": {"collectionName": "books_manual"},
        "alias": "library",
        "cutover": "Manual",
    }
    kube.apply(obj("MilvusRestore", "awaiting-cutover", manual))
    kube.run("annotate", "MilvusSnapshotSchedule", "last-failed", "snapshot.milvus.io/trigger=e2e")
    kube.apply(restore_manifest("completed", "ready", "books_completed"))
    kube.apply(restore_manifest("failed", "ready", "books"))  # the target exists: Milvus refuses
    kube.apply(restore_manifest("waiting", "absent", "books_waiting"))
    kube.wait_phase("MilvusRestore", "completed", "Completed")
    # a restore that runs long enough to be seen running, and to pin its source snapshot against deletion
    milvus.faults(restore_duration=30)
    kube.apply(restore_manifest("restoring", "deleting", "books_restoring"))
    kube.wait_phase("MilvusRestore", "restoring", "Restoring")
    kube.run("delete", "MilvusSnapshot", "deleting", "--wait=false")
    kube.wait(lambda: condition(kube, "MilvusSnapshot", "deleting") == ("False", "DeletionBlocked"), 30, "blocked")
    kube.run("delete", "MilvusConnection", "deleting", "--wait=false")  # still needed by uses-deleting
    kube.wait(lambda: (kube.get("MilvusConnection", "deleting") or {})["metadata"].get("deletionTimestamp"), 30, "")
    waits = {
        ("MilvusConnection", "connected"): lambda: condition(kube, "MilvusConnection", "connected") == ("True", "Connected"),
        ("MilvusConnection", "unauthenticated"): lambda: condition(kube, "MilvusConnection", "unauthenticated")
        == ("False", "AuthenticationFailed"),
        ("MilvusSnapshot", "failed"): lambda: stalled(kube, "MilvusSnapshot", "failed"),
        ("MilvusSnapshot", "waiting"): lambda: (condition(kube, "MilvusSnapshot", "waiting") or ("",))[0] == "False",
        ("MilvusSnapshot", "missing"): lambda: condition(kube, "MilvusSnapshot", "missing") == ("False", "SnapshotMissing"),
        ("MilvusRestore", "awaiting-cutover"): lambda: kube.status("MilvusRestore", "awaiting-cutover").get("phase")
        == "AwaitingCutover",
        ("MilvusRestore", "failed"): lambda: stalled(kube, "MilvusRestore", "failed"),
        ("MilvusRestore", "waiting"): lambda: kube.status("MilvusRestore", "waiting").get("phase") == "WaitingForSnapshot",
        ("MilvusSnapshotSchedule", "scheduled"): lambda: condition(kube, "MilvusSnapshotSchedule", "scheduled")
        == ("True", "Scheduled"),
        ("MilvusSnapshotSchedule", "suspended"): lambda: condition(kube, "MilvusSnapshotSchedule", "suspended")
        == ("True", "Suspended"),
        ("MilvusSnapshotSchedule", "invalid"): lambda: stalled(kube, "MilvusSnapshotSchedule", "invalid"),
        ("MilvusSnapshotSchedule", "last-failed"): lambda: (
            condition(kube, "MilvusSnapshotSchedule", "last-failed", "LastSnapshotSucceeded") or ("",)
        )[0] == "False",
    }  # fmt: skip
    for (kind, name), check in waits.items():
        kube.wait(check, 60, f"{kind}/{name}: {kube.status(kind, name)}")
    live = {key: kube.get(*key) for key in EXPECTED}
    missing = [key for key, value in live.items() if value is None]
    assert not missing, missing
    return {key: value for key, value in live.items() if value is not None}


def sanitized(item: dict[str, Any], namespace: str) -> dict[str, Any]:
    """A live object as testdata: no managedFields, resourceVersion or uid; the namespace `milvus`."""
    out = json.loads(json.dumps(item).replace(namespace, "milvus"))
    meta = out["metadata"]
    for key in ("managedFields", "resourceVersion", "uid"):
        meta.pop(key, None)
    for ref in meta.get("ownerReferences", []):
        ref.pop("uid", None)
    return dict(out)


def fingerprint(item: dict[str, Any]) -> tuple[Any, ...]:
    """What the health of an object depends on; the committed testdata must still match a live object in it."""
    status = item.get("status") or {}
    conditions = sorted((c["type"], c["status"], c.get("reason")) for c in status.get("conditions", []))
    meta = item["metadata"]
    return (
        item["kind"],
        status.get("phase"),
        tuple(conditions),
        bool(meta.get("deletionTimestamp")),
        tuple(meta.get("finalizers", [])),
        (item.get("spec") or {}).get("suspend"),
        status.get("observedGeneration") == meta.get("generation"),
    )


def test_argo_cd_health_and_kstatus_of_live_objects_in_every_state(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    live = produce_every_state(kube, milvus, books)
    keys = list(EXPECTED)
    objects = [sanitized(live[key], kube.namespace) for key in keys]  # as committed: messages name no test namespace
    argo = argo_health(objects)
    computed = kstatus(objects)
    got = {key: (a["status"], k["status"]) for key, a, k in zip(keys, argo, computed, strict=True)}
    assert got == EXPECTED
    for key, health in zip(keys, argo, strict=True):
        assert health["message"], f"{key}: no message"
        if health["status"] == "Degraded":  # the reason a person needs is in the message
            reason = next(
                c["reason"] for c in objects[keys.index(key)]["status"]["conditions"] if c["status"] == "False"
            )
            assert reason in health["message"], (key, health)
    # the committed testdata and health_test.yaml are what this run produced
    for kind in {k for k, _ in keys}:
        folder = GROUP_DIR / kind
        tests = []
        for (k, name), health in zip(keys, argo, strict=True):
            if k != kind:
                continue
            path = folder / "testdata" / f"{name}.yaml"
            item = objects[keys.index((k, name))]
            if REGENERATE:
                path.write_text(yaml.safe_dump(item, sort_keys=False))
            committed = yaml.safe_load(path.read_text())
            assert fingerprint(committed) == fingerprint(item), (
                f"{path} no longer matches what the operator produces; regenerate with MSO_REGENERATE_TESTDATA=1"
            )
            tests.append({"healthStatus": dict(health), "inputPath": f"testdata/{name}.yaml"})
        if REGENERATE:
            (folder / "health_test.yaml").write_text(yaml.safe_dump({"tests": tests}, sort_keys=False))
    # let the long restore finish: its snapshot's deletion then proceeds (teardown deletes the rest)
    milvus.faults(restore_duration=1.5)
