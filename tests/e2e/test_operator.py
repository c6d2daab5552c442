"""The operator as a separate process against the real API server and the Milvus test server: crash safety
(SIGKILL right after recording intent and right after the Milvus call), outages, deletion policies,
deletion during a restore, credentials from a Secret, drift, adoption and errors Milvus reports."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from testbed.processes import MilvusServer, OperatorProcess

from .operator_fixtures import (
    TOKEN,
    Kube,
    connection_manifest,
    reasons,
    restore_manifest,
    snapshot_manifest,
    wait_condition,
    wait_counter,
    wait_ready,
)

pytestmark = pytest.mark.e2e


def restore_jobs(books: Any, target: str) -> list[Any]:
    """Milvus's restore jobs (pymilvus RestoreSnapshotJobInfo) into `target`."""
    return [job for job in books.list_restore_snapshot_jobs() if job.collection_name == target]


# ---- crash safety ----------------------------------------------------------------------------------------


def test_snapshot_sigkill_after_intent_then_restart_creates_once(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    milvus.faults(latency={"Flush": 3})
    kube.apply(connection_manifest(milvus))
    kube.apply(snapshot_manifest("crash-intent"))
    # The intent is in status before any side effect; the flush that follows it is in flight: kill now.
    kube.wait(lambda: kube.status("MilvusSnapshot", "crash-intent").get("intent"), 60, "intent recorded")
    wait_counter(milvus, "Flush")
    assert milvus.counters().get("CreateSnapshot", 0) == 0
    operator.kill()
    milvus.faults(latency={})
    operator.start()
    status = wait_ready(kube, "MilvusSnapshot", "crash-intent")
    assert status["phase"] == "Ready" and "intent" not in status
    assert milvus.counters()["CreateSnapshot"] == 1
    assert books.list_snapshots(collection_name="books") == ["crash_intent"]
    assert status["sourceRowCount"] == 300


def test_snapshot_sigkill_after_create_call_adopts_without_duplicate(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    # CreateSnapshot is held 3 s before Milvus executes it: the operator dies with the call in flight, Milvus
    # still creates the snapshot, and the reply is lost (the "after the call" crash).
    milvus.faults(latency={"CreateSnapshot": 3})
    kube.apply(connection_manifest(milvus))
    kube.apply(snapshot_manifest("crash-call"))
    wait_counter(milvus, "CreateSnapshot")
    operator.kill()
    kube.wait(lambda: books.list_snapshots(collection_name="books") == ["crash_call"], 30, "Milvus made it")
    assert kube.status("MilvusSnapshot", "crash-call")["phase"] == "Creating"
    milvus.faults(latency={})
    operator.start()
    status = wait_ready(kube, "MilvusSnapshot", "crash-call")
    assert milvus.counters()["CreateSnapshot"] == 1, "adopted, not re-created"
    assert books.list_snapshots(collection_name="books") == ["crash_call"]
    assert status["createTs"] == books.describe_snapshot("crash_call", collection_name="books").create_ts


def _ready_snapshot(kube: Kube, milvus: MilvusServer, name: str = "src") -> None:
    kube.apply(connection_manifest(milvus))
    kube.apply(snapshot_manifest(name))
    wait_ready(kube, "MilvusSnapshot", name)


def test_restore_sigkill_after_intent_then_restart_starts_one_job(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    _ready_snapshot(kube, milvus)
    milvus.faults(latency={"ListRestoreSnapshotJobs": 3})
    before = milvus.counters().get("ListRestoreSnapshotJobs", 0)
    kube.apply(restore_manifest("crash-intent", "src", "restored_intent"))
    kube.wait(lambda: kube.status("MilvusRestore", "crash-intent").get("intent"), 60, "intent recorded")
    wait_counter(milvus, "ListRestoreSnapshotJobs", before + 1)
    assert milvus.counters().get("RestoreSnapshot", 0) == 0
    operator.kill()
    milvus.faults(latency={})
    operator.start()
    status = kube.wait_phase("MilvusRestore", "crash-intent", "Completed")
    assert milvus.counters()["RestoreSnapshot"] == 1
    assert [job.job_id for job in restore_jobs(books, "restored_intent")] == [status["jobId"]]
    assert status["targetRowCount"] == 300


def test_restore_sigkill_after_restore_call_adopts_the_job(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    _ready_snapshot(kube, milvus)
    milvus.faults(latency={"RestoreSnapshot": 3})
    kube.apply(restore_manifest("crash-call", "src", "restored_call"))
    wait_counter(milvus, "RestoreSnapshot")
    operator.kill()
    jobs = kube.wait(lambda: restore_jobs(books, "restored_call"), 30, "Milvus started the job")
    assert "jobId" not in kube.status("MilvusRestore", "crash-call"), "the reply was lost with the process"
    milvus.faults(latency={})
    operator.start()
    status = kube.wait_phase("MilvusRestore", "crash-call", "Completed")
    assert status["jobId"] == jobs[0].job_id
    assert milvus.counters()["RestoreSnapshot"] == 1, "one MilvusRestore never starts two jobs"
    assert len(restore_jobs(books, "restored_call")) == 1
    assert "RestoreAdopted" in reasons(kube, "crash-call")


def test_restore_job_forgotten_while_operator_down_is_reported_not_rerun(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    _ready_snapshot(kube, milvus)
    milvus.faults(job_retention=1, restore_duration=1)
    kube.apply(restore_manifest("expired", "src", "restored_expired"))
    job_id = kube.wait(lambda: kube.status("MilvusRestore", "expired").get("jobId"), 60, "job started")
    operator.kill()
    kube.wait(lambda: not restore_jobs(books, "restored_expired"), 30, "Milvus forgets the finished job")
    operator.start()
    status = kube.wait_phase("MilvusRestore", "expired", "Failed")
    assert status["jobId"] == job_id and status["error"]["reason"] == "RestoreJobExpired"
    assert "300 rows" in status["error"]["message"], status["error"]["message"]
    assert milvus.counters()["RestoreSnapshot"] == 1, "never re-run"
    assert kube.condition("MilvusRestore", "expired", "Stalled") == ("True", "RestoreJobExpired")


# ---- outages and errors ------------------------------------------------------------------------------------


def test_milvus_unavailable_for_20s_never_fails_and_converges(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    kube.apply(connection_manifest(milvus))
    wait_ready(kube, "MilvusConnection", "milvus")
    milvus.faults(unavailable_for=20)
    started = time.monotonic()
    kube.apply(snapshot_manifest("during-outage"))
    seen: set[str] = set()
    while time.monotonic() - started < 19:
        status = kube.status("MilvusSnapshot", "during-outage")
        assert status.get("phase") != "Failed", status
        seen.add(str((kube.condition("MilvusSnapshot", "during-outage") or ("", ""))[1]))
        time.sleep(0.5)
    assert "MilvusUnavailable" in seen, seen
    assert kube.condition("MilvusSnapshot", "during-outage", "Stalled") in (None, ("False", "MilvusUnavailable"))
    wait_ready(kube, "MilvusSnapshot", "during-outage", timeout=60)
    assert milvus.counters()["CreateSnapshot"] >= 1
    assert books.list_snapshots(collection_name="books") == ["during_outage"]


def test_invalid_input_from_milvus_fails_with_its_message(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    kube.apply(connection_manifest(milvus))
    kube.apply(snapshot_manifest("no-such", collection="nonexistent"))
    status = kube.wait_phase("MilvusSnapshot", "no-such", "Failed")
    assert status["error"]["reason"] == "CollectionNotFound"
    assert "nonexistent" in status["error"]["message"] and status["error"]["code"] == 100
    assert kube.condition("MilvusSnapshot", "no-such", "Stalled") == ("True", "CollectionNotFound")
    assert kube.condition("MilvusSnapshot", "no-such") == ("False", "CollectionNotFound")
    _ready_snapshot(kube, milvus)
    kube.apply(restore_manifest("onto-existing", "src", "books"))
    status = kube.wait_phase("MilvusRestore", "onto-existing", "Failed")
    assert status["error"]["reason"] == "TargetCollectionExists"
    assert milvus.counters().get("RestoreSnapshot", 0) == 0
    assert "SnapshotFailed" in reasons(kube, "no-such")


def test_failed_restore_job_reports_milvus_reason(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    _ready_snapshot(kube, milvus)
    milvus.faults(fail_restores=1, fail_reason="copy segment 42: object storage said no")
    kube.apply(restore_manifest("doomed", "src", "restored_doomed"))
    status = kube.wait_phase("MilvusRestore", "doomed", "Failed")
    assert status["state"] == "RestoreSnapshotFailed"
    assert "object storage said no" in status["reason"] and "object storage said no" in status["error"]["message"]
    assert kube.condition("MilvusRestore", "doomed", "Stalled") == ("True", "RestoreFailed")
    assert milvus.counters()["RestoreSnapshot"] == 1


def test_two_restores_into_one_target_run_one_after_the_other(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    """README: the older one runs, the other waits (TargetClaimed) and then fails TargetCollectionExists, with
    one Milvus restore job in all."""
    _ready_snapshot(kube, milvus)
    milvus.faults(restore_duration=5)
    kube.apply(restore_manifest("first", "src", "restored_once"))
    kube.wait(lambda: kube.status("MilvusRestore", "first").get("jobId"), 60, "the first restore started")
    kube.apply(restore_manifest("second", "src", "restored_once"))
    wait_condition(kube, "MilvusRestore", "second", ("False", "TargetClaimed"), timeout=30)
    assert "'first'" in kube.status("MilvusRestore", "second")["error"]["message"]
    kube.wait_phase("MilvusRestore", "first", "Completed", timeout=60)
    status = kube.wait_phase("MilvusRestore", "second", "Failed", timeout=60)
    assert status["error"]["reason"] == "TargetCollectionExists"
    assert milvus.counters()["RestoreSnapshot"] == 1


def test_existing_snapshot_is_a_conflict_unless_adopted(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    books.create_snapshot("made_by_hand", collection_name="books")
    kube.apply(connection_manifest(milvus))
    kube.apply(snapshot_manifest("clash", snapshotName="made_by_hand"))
    status = kube.wait_phase("MilvusSnapshot", "clash", "Failed")
    assert status["error"]["reason"] == "SnapshotExists"
    kube.apply(snapshot_manifest("adopter", snapshotName="made_by_hand", adopt=True, deletionPolicy="Retain"))
    status = wait_ready(kube, "MilvusSnapshot", "adopter")
    assert status["adopted"] is True
    # The one made by hand, and clash's own attempt: refused ALREADY_EXISTS, and the description carries no
    # ownership marker of clash's, so it is not taken over.
    assert milvus.counters()["CreateSnapshot"] == 2
    kube.run("delete", "milvussnapshot", "clash", "adopter")
    assert books.list_snapshots(collection_name="books") == ["made_by_hand"], "Failed and Retain never drop"


def test_snapshot_dropped_out_of_band_turns_not_ready(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    _ready_snapshot(kube, milvus, "drifting")
    books.drop_snapshot("drifting", collection_name="books")
    wait_condition(kube, "MilvusSnapshot", "drifting", ("False", "SnapshotMissing"), timeout=30)
    assert kube.status("MilvusSnapshot", "drifting")["readyToUse"] is False
    assert "SnapshotMissing" in reasons(kube, "drifting")


# ---- deletion ----------------------------------------------------------------------------------------------


def test_deletion_policies_delete_and_retain(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    kube.apply(connection_manifest(milvus))
    kube.apply(snapshot_manifest("dropped", deletionPolicy="Delete"))
    kube.apply(snapshot_manifest("kept", deletionPolicy="Retain"))
    wait_ready(kube, "MilvusSnapshot", "dropped")
    wait_ready(kube, "MilvusSnapshot", "kept")
    assert sorted(books.list_snapshots(collection_name="books")) == ["dropped", "kept"]
    # The finalizer is Kopf's; no last-handled-configuration annotation is written (a PATCH per object saved).
    dropped = kube.get("MilvusSnapshot", "dropped")
    assert dropped is not None
    meta = dropped["metadata"]
    assert meta["finalizers"] == ["snapshot.milvus.io/finalizer"]
    assert not [a for a in meta.get("annotations", {}) if a.startswith("snapshot.milvus.io/")]
    kube.run("delete", "milvussnapshot", "dropped", "kept", "--timeout=60s")
    assert books.list_snapshots(collection_name="books") == ["kept"]
    assert milvus.counters()["DropSnapshot"] == 1


def test_snapshot_deletion_waits_for_running_restore(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    _ready_snapshot(kube, milvus)
    milvus.faults(restore_duration=8)
    kube.apply(restore_manifest("long", "src", "restored_long"))
    kube.wait(lambda: kube.status("MilvusRestore", "long").get("jobId"), 60, "restore started")
    kube.run("delete", "milvussnapshot", "src", "--wait=false")
    kube.wait(lambda: "DeletionBlocked" in reasons(kube, "src"), 30, "DeletionBlocked event")
    blocked = kube.get("MilvusSnapshot", "src")
    assert blocked is not None and blocked["metadata"]["deletionTimestamp"]
    assert "running restore" in json.dumps(blocked["status"]["conditions"])
    assert kube.status("MilvusRestore", "long")["phase"] == "Restoring"
    kube.wait_phase("MilvusRestore", "long", "Completed", timeout=60)
    kube.wait(lambda: kube.get("MilvusSnapshot", "src") is None, 60, "snapshot deletion proceeds")
    assert books.list_snapshots(collection_name="books") == []
    # Deleting a MilvusRestore never touches the restored collection.
    kube.run("delete", "milvusrestore", "long")
    assert books.has_collection("restored_long")


# ---- credentials -------------------------------------------------------------------------------------------


@pytest.mark.operator_env(MSO_SLOW_RETRY_SECONDS="600")
def test_wrong_then_fixed_token_recovers_on_secret_change(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    wrong = "root:NotTheP4ssword"
    kube.apply(connection_manifest(milvus, token=wrong))
    kube.apply(snapshot_manifest("authed"))
    wait_condition(kube, "MilvusConnection", "milvus", ("False", "AuthenticationFailed"), timeout=60)
    kube.wait(lambda: (kube.condition("MilvusSnapshot", "authed") or ("",))[0] == "False", 60, "snapshot waits")
    assert kube.status("MilvusSnapshot", "authed").get("phase") != "Failed"
    fixed = time.monotonic()
    kube.apply(connection_manifest(milvus))  # the Secret now holds the right token
    wait_ready(kube, "MilvusSnapshot", "authed", timeout=45)
    # The slow retry is 600 s here: only the Secret watch can have woken the resources this fast.
    assert time.monotonic() - fixed < 45
    assert kube.condition("MilvusConnection", "milvus") == ("True", "Connected")
    everything = operator.text() + kube.run("get", "events,milvusconnections,milvussnapshots", "-o", "json").stdout
    for secret in (wrong, TOKEN, "NotTheP4ssword"):
        assert secret not in everything, "a credential leaked into logs, events or status"
