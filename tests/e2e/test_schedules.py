"""MilvusSnapshotSchedule on the real testbed: manual runs, retention in Kubernetes and in Milvus, suspend,
GitOps-safe deletion and restore of a schedule's newest snapshot. Runs are started with the trigger
annotation (cron ticks are covered by the unit tests with an injected clock)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from testbed import seed
from testbed.processes import MilvusServer, OperatorProcess

from .operator_fixtures import Kube, connection_manifest, snapshot_manifest, typed_reasons, wait_condition

pytestmark = pytest.mark.e2e
SCHEDULE = "MilvusSnapshotSchedule"
NEVER = "0 0 1 1 *"  # once a year: no tick during a test
GITOPS_LABELS = {"app.kubernetes.io/instance": "prod-backups", "argocd.argoproj.io/instance": "prod", "team": "data"}


def schedule_manifest(name: str, labels: dict[str, str] | None = None, **spec: Any) -> str:
    body = {
        "apiVersion": "snapshot.milvus.io/v1alpha1",
        "kind": SCHEDULE,
        "metadata": {"name": name, "labels": labels or {}, "annotations": {"argocd.argoproj.io/sync-wave": "1"}},
        "spec": {
            "schedule": NEVER,
            "template": {"connectionRef": {"name": "milvus"}, "collectionName": "books"},
            **spec,
        },
    }
    return json.dumps(body)


def children(kube: Kube, schedule: str) -> dict[str, dict[str, Any]]:
    proc = kube.run("get", "milvussnapshots", "-l", f"snapshot.milvus.io/schedule={schedule}", "-o", "json")
    return {item["metadata"]["name"]: item for item in json.loads(proc.stdout)["items"]}


def ready_children(kube: Kube, schedule: str) -> list[str]:
    return sorted(n for n, c in children(kube, schedule).items() if (c.get("status") or {}).get("phase") == "Ready")


def trigger(kube: Kube, schedule: str, value: str) -> None:
    kube.run("annotate", "--overwrite", SCHEDULE, schedule, f"snapshot.milvus.io/trigger={value}")


def run_once(kube: Kube, schedule: str, value: str) -> str:
    """Trigger a run and wait until its snapshot is Ready; returns the MilvusSnapshot's name."""
    before = set(children(kube, schedule))
    time.sleep(1.1)  # child names have second precision
    trigger(kube, schedule, value)
    new = kube.wait(lambda: set(children(kube, schedule)) - before, 30, f"a run of {schedule} for {value}")
    (name,) = new
    kube.wait_phase("MilvusSnapshot", name, "Ready")
    kube.wait(lambda: kube.status(SCHEDULE, schedule).get("lastTrigger") == value, 30, "trigger recorded")
    return str(name)


def milvus_name(name: str) -> str:
    return name.replace("-", "_")


def test_manual_trigger_creates_a_ready_snapshot_without_gitops_labels(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    kube.apply(connection_manifest(milvus))
    kube.apply(schedule_manifest("nightly", labels=GITOPS_LABELS))
    wait_condition(kube, SCHEDULE, "nightly", ("True", "Scheduled"), timeout=30)
    status = kube.status(SCHEDULE, "nightly")
    assert status["nextScheduleTime"].endswith("-01-01T00:00:00Z") and "lastScheduleTime" not in status
    time.sleep(2)
    assert children(kube, "nightly") == {}  # runOnCreate defaults to false

    name = run_once(kube, "nightly", "first")
    child = children(kube, "nightly")[name]
    assert child["metadata"]["labels"] == {"snapshot.milvus.io/schedule": "nightly", "team": "data"}
    assert "ownerReferences" not in child["metadata"]
    assert not any(k.startswith("argocd.argoproj.io/") for k in child["metadata"].get("annotations", {}))
    assert child["metadata"]["annotations"]["snapshot.milvus.io/trigger"] == "first"
    assert books.list_snapshots(collection_name="books") == [milvus_name(name)]
    wait_condition(kube, SCHEDULE, "nightly", ("True", "SnapshotSucceeded"), "LastSnapshotSucceeded", timeout=30)
    status = kube.status(SCHEDULE, "nightly")
    assert status["lastSuccessfulTime"] and status.get("active", []) == []
    assert ("Normal", "RunStarted") in typed_reasons(kube, "nightly")
    time.sleep(2)
    assert list(children(kube, "nightly")) == [name]  # the same trigger value never runs twice


@pytest.mark.operator_env(MSO_RETENTION_INTERVAL_SECONDS="2")
def test_retention_prunes_the_right_resources_and_milvus_snapshots(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    kube.apply(connection_manifest(milvus))
    kube.apply(snapshot_manifest("by-hand"))  # not the schedule's: never pruned
    kube.wait_phase("MilvusSnapshot", "by-hand", "Ready")
    kube.apply(schedule_manifest("hourly", retention={"keepLast": 2}))
    first = run_once(kube, "hourly", "1")
    kube.run("label", "milvussnapshot", first, "snapshot.milvus.io/keep=true")
    second = run_once(kube, "hourly", "2")
    third = run_once(kube, "hourly", "3")
    fourth = run_once(kube, "hourly", "4")
    # keepLast 2 keeps the third and fourth; the first is labelled to be kept; the second goes, with its data
    kube.wait(lambda: sorted(children(kube, "hourly")) == sorted([first, third, fourth]), 30, f"{second} pruned")
    expected = sorted(["by_hand", *(milvus_name(n) for n in (first, third, fourth))])
    kube.wait(lambda: sorted(books.list_snapshots(collection_name="books")) == expected, 30, "Milvus pruned")
    assert kube.get("MilvusSnapshot", "by-hand") is not None
    events = [m for _, r, m in kube.events("hourly") if r == "RetentionPruned"]
    assert events and second in events[-1]
    retention = kube.status(SCHEDULE, "hourly")["retention"]
    assert retention["kept"] == 3 and retention.get("errors", []) == []
    # the retention timer runs again on its own (2 s here) and finds nothing more to prune
    kube.wait(
        lambda: kube.status(SCHEDULE, "hourly")["retention"]["lastRunTime"] != retention["lastRunTime"], 20, "timer"
    )
    assert kube.status(SCHEDULE, "hourly")["retention"].get("pruned", []) == []
    # unpinning makes the first prunable at once
    kube.run("label", "milvussnapshot", first, "snapshot.milvus.io/keep-")
    kube.wait(lambda: sorted(children(kube, "hourly")) == sorted([third, fourth]), 30, f"{first} pruned")


def test_suspend_stops_runs(kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess) -> None:
    kube.apply(connection_manifest(milvus))
    kube.apply(schedule_manifest("paused", suspend=True, runOnCreate=True, schedule="* * * * *"))
    wait_condition(kube, SCHEDULE, "paused", ("True", "Suspended"), timeout=30)
    trigger(kube, "paused", "while-suspended")
    kube.wait(lambda: kube.status(SCHEDULE, "paused").get("lastSkipReason") == "Suspended", 30, "trigger skipped")
    assert "nextScheduleTime" not in kube.status(SCHEDULE, "paused")
    # unpausing does not fire the skipped trigger, nor the create-time run, nor a missed tick
    kube.apply(schedule_manifest("paused", suspend=False, runOnCreate=True, schedule="0 0 1 1 *"))
    wait_condition(kube, SCHEDULE, "paused", ("True", "Scheduled"), timeout=30)
    time.sleep(3)
    assert children(kube, "paused") == {} and books.list_snapshots(collection_name="books") == []


def test_deleting_a_schedule_leaves_its_snapshots(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    kube.apply(connection_manifest(milvus))
    kube.apply(schedule_manifest("doomed", retention={"keepLast": 1}))
    name = run_once(kube, "doomed", "only")
    kube.run("delete", SCHEDULE, "doomed", "--wait=true", "--timeout=30s")
    time.sleep(2)
    assert kube.get("MilvusSnapshot", name) is not None
    assert kube.status("MilvusSnapshot", name)["phase"] == "Ready"
    assert books.list_snapshots(collection_name="books") == [milvus_name(name)]


def test_snapshots_owned_by_the_schedule_are_garbage_collected_and_dropped(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    """snapshotOwnerReference: Schedule opts into the cascade; kube-controller-manager's garbage collector
    deletes the child and the operator's finalizer drops it in Milvus per its deletionPolicy."""
    kube.apply(connection_manifest(milvus))
    template = {"connectionRef": {"name": "milvus"}, "collectionName": "books", "deletionPolicy": "Delete"}
    kube.apply(schedule_manifest("owned", snapshotOwnerReference="Schedule", template=template))
    name = run_once(kube, "owned", "only")
    child = kube.get("MilvusSnapshot", name)
    assert child is not None
    owners = child["metadata"]["ownerReferences"]
    assert [(o["kind"], o["name"], o.get("controller")) for o in owners] == [(SCHEDULE, "owned", True)]
    assert books.list_snapshots(collection_name="books") == [milvus_name(name)]
    kube.run("delete", SCHEDULE, "owned", "--wait=true", "--timeout=30s")
    kube.wait(lambda: kube.get("MilvusSnapshot", name) is None, 60, "the garbage collector deletes the child")
    assert books.list_snapshots(collection_name="books") == []


def test_restore_from_schedule_ref_uses_the_newest_ready_snapshot(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    kube.apply(connection_manifest(milvus))
    kube.apply(schedule_manifest("nightly"))
    restore = {
        "apiVersion": "snapshot.milvus.io/v1alpha1",
        "kind": "MilvusRestore",
        "metadata": {"name": "latest"},
        "spec": {"source": {"scheduleRef": {"name": "nightly"}}, "target": {"collectionName": "books_latest"}},
    }
    early = {**restore, "metadata": {"name": "early"}}
    early["spec"] = {**restore["spec"], "target": {"collectionName": "books_early"}}
    kube.apply(json.dumps(early))  # before any run: waits for a Ready snapshot
    kube.wait_phase("MilvusRestore", "early", "WaitingForSnapshot")
    run_once(kube, "nightly", "a")
    newest = run_once(kube, "nightly", "b")
    kube.apply(json.dumps(restore))
    status = kube.wait_phase("MilvusRestore", "latest", "Completed")
    assert status["source"]["snapshotRef"] == newest
    assert status["source"]["snapshotName"] == milvus_name(newest)
    seed.load(books, "books_latest")  # a restored collection is not loaded (milvusd, like Milvus, refuses the query)
    assert seed.row_count(books, "books_latest") == 300
    assert kube.wait_phase("MilvusRestore", "early", "Completed")["source"]["snapshotRef"] in ready_children(
        kube, "nightly"
    )


def test_unknown_time_zone_is_stalled_naming_the_field(
    kube: Kube, milvus: MilvusServer, operator: OperatorProcess
) -> None:
    kube.apply(schedule_manifest("lost", timeZone="Mars/Olympus"))
    wait_condition(kube, SCHEDULE, "lost", ("True", "InvalidSchedule"), "Stalled", timeout=30)
    assert kube.status(SCHEDULE, "lost")["error"]["message"] == "spec.timeZone: unknown IANA time zone 'Mars/Olympus'"
    assert ("Warning", "InvalidSchedule") in typed_reasons(kube, "lost")
    kube.apply(schedule_manifest("lost", timeZone="Europe/Berlin"))
    wait_condition(kube, SCHEDULE, "lost", ("True", "Scheduled"), timeout=30)
    assert kube.condition(SCHEDULE, "lost", "Stalled") is None
