"""MilvusRestore state machine: start, adopt after crashes, follow, expire, never run twice."""

from __future__ import annotations

import datetime

import pytest

from milvus_snapshot_operator.api.restore import MilvusRestoreSpec, MilvusRestoreStatus, ResolvedSource
from milvus_snapshot_operator.milvus.gateway import ErrorKind, MilvusError, RestoreJob
from milvus_snapshot_operator.reconcile.outcome import Outcome, Retry
from milvus_snapshot_operator.reconcile.restore import RestoreInputs, SourceFailed, reconcile_restore
from milvus_snapshot_operator.reconcile.snapshot import Blocked

from .fakes import Crash, FakeMilvus

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)
SOURCE = ResolvedSource(snapshot_name="nightly_1", collection_name="books", db_name="default", connection="milvus")
SPEC = MilvusRestoreSpec.model_validate(
    {"source": {"snapshotRef": {"name": "nightly-1"}}, "target": {"collectionName": "books_restored"}}
)


def conditions(status: MilvusRestoreStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


@pytest.fixture
async def milvus() -> FakeMilvus:
    fake = FakeMilvus(collections={("default", "books"): 200})
    await fake.create_snapshot("nightly_1", "books", "default", "", 0)
    fake.side_effects = 0
    fake.calls.clear()
    return fake


async def step(milvus: FakeMilvus, status: MilvusRestoreStatus, now: datetime.datetime = NOW, **kw: object):
    async def lookup(job_id: int, db: str) -> RestoreJob | None:
        jobs = {j.job_id: j for j in await milvus.list_restore_jobs(db)}
        return jobs.get(job_id) or await milvus.restore_state(job_id)

    inputs = RestoreInputs(
        generation=1, spec=SPEC, status=status, now=now, source=SOURCE, gateway=milvus, job_lookup=lookup
    )
    for name, value in kw.items():
        setattr(inputs, name, value)
    return await reconcile_restore(inputs)


async def until_polling(milvus: FakeMilvus, status: MilvusRestoreStatus | None = None):
    status = status or MilvusRestoreStatus()
    outcomes: list[Outcome[MilvusRestoreStatus]] = []
    for _ in range(10):
        try:
            outcome = await step(milvus, status)
        except Crash:
            continue
        outcomes.append(outcome)
        status = outcome.status
        if outcome.retry in (None, Retry.POLL):
            return status, outcomes
    raise AssertionError(status)


async def test_start_follow_complete(milvus: FakeMilvus) -> None:
    status, outcomes = await until_polling(milvus)
    assert [o.retry for o in outcomes] == [Retry.NOW, Retry.POLL]
    assert outcomes[0].status.intent is not None
    job_id = status.job_id
    assert job_id is not None and status.phase == "Restoring"
    assert [e.reason for e in outcomes[1].events] == ["RestoreStarted"]
    milvus.advance(job_id, "RestoreSnapshotExecuting", 40)
    running = await step(milvus, status)
    assert running.retry == Retry.POLL and running.status.progress == 40
    assert running.status.state == "RestoreSnapshotExecuting"
    unchanged = await step(milvus, running.status)
    assert unchanged.status == running.status  # nothing changed: the handler writes nothing
    milvus.advance(job_id, "RestoreSnapshotCompleted", 100, rows=200)
    done = await step(milvus, running.status)
    assert done.retry is None and done.status.phase == "Completed"
    assert done.status.time_cost_ms == 1500 and done.status.target_row_count == 200
    assert done.status.completion_time == "2023-11-14T22:13:21Z"
    assert conditions(done.status) == {"Ready": ("True", "RestoreCompleted")}
    assert [e.reason for e in done.events] == ["RestoreCompleted"]
    assert milvus.calls["restore_snapshot"] == 1


async def test_intent_recorded_before_restore_call(milvus: FakeMilvus) -> None:
    outcome = await step(milvus, MilvusRestoreStatus())
    assert outcome.retry == Retry.NOW and outcome.status.intent is not None
    assert milvus.calls["restore_snapshot"] == 0


async def test_crash_after_restore_call_adopts_the_job(milvus: FakeMilvus) -> None:
    milvus.crash_after = 1
    status, outcomes = await until_polling(milvus)
    assert milvus.calls["restore_snapshot"] == 1  # one job, adopted via ListRestoreSnapshotJobs
    assert len(milvus.jobs) == 1 and status.job_id == next(iter(milvus.jobs))
    assert "RestoreAdopted" in [e.reason for o in outcomes for e in o.events]


async def test_crash_between_every_pair_of_steps(milvus: FakeMilvus) -> None:
    clean = FakeMilvus(collections=dict(milvus.collections), snapshots=dict(milvus.snapshots))
    _, outcomes = await until_polling(clean)
    for i, persisted in enumerate([MilvusRestoreStatus(), *[o.status for o in outcomes]]):
        replay = FakeMilvus(collections=dict(milvus.collections), snapshots=dict(milvus.snapshots))
        if i >= 2:
            replay.collections = dict(clean.collections)
            replay.jobs = dict(clean.jobs)
        final, _ = await until_polling(replay, persisted)
        assert final.phase == "Restoring" and final.job_id is not None, i
        assert len(replay.jobs) == 1, i


async def test_target_exists_before_start_fails_without_calling(milvus: FakeMilvus) -> None:
    milvus.collections[("default", "books_restored")] = 5
    status, _ = await until_polling(milvus)
    assert status.phase == "Failed" and conditions(status)["Stalled"] == ("True", "TargetCollectionExists")
    assert milvus.calls["restore_snapshot"] == 0


async def test_job_failed_reports_milvus_reason(milvus: FakeMilvus) -> None:
    status, _ = await until_polling(milvus)
    assert status.job_id
    milvus.advance(status.job_id, "RestoreSnapshotFailed", 0, reason="1/1 tasks failed")
    out = await step(milvus, status)
    assert out.status.phase == "Failed" and out.status.reason == "1/1 tasks failed"
    assert conditions(out.status)["Stalled"] == ("True", "RestoreFailed")
    assert "1/1 tasks failed" in (out.status.error.message if out.status.error else "")


async def test_expired_job_is_reported_and_never_rerun(milvus: FakeMilvus) -> None:
    status, _ = await until_polling(milvus)
    assert status.job_id
    milvus.advance(status.job_id, "RestoreSnapshotExecuting", 60)
    status = (await step(milvus, status)).status
    milvus.jobs.clear()  # Milvus forgot the job (3 h retention)
    later = NOW + datetime.timedelta(hours=4)
    out = await step(milvus, status, now=later)
    assert out.retry is None and out.status.phase == "Failed"
    assert conditions(out.status)["Stalled"] == ("True", "RestoreJobExpired")
    assert "exists with 0 rows" in (out.status.error.message if out.status.error else "")
    assert milvus.calls["restore_snapshot"] == 1


async def test_job_not_yet_visible_right_after_start_is_retried(milvus: FakeMilvus) -> None:
    status, _ = await until_polling(milvus)
    milvus.jobs.clear()  # Milvus creates the job in its ack callback, slightly after the RPC returns
    out = await step(milvus, status, now=NOW + datetime.timedelta(seconds=3))
    assert out.retry == Retry.BACKOFF and out.status.phase == "Restoring"


async def test_intent_without_job_after_long_outage_is_expired(milvus: FakeMilvus) -> None:
    announced = (await step(milvus, MilvusRestoreStatus())).status
    milvus.collections[("default", "books_restored")] = 200  # the call happened, the job is long gone
    out = await step(milvus, announced, now=NOW + datetime.timedelta(hours=5))
    assert out.status.phase == "Failed" and conditions(out.status)["Stalled"][1] == "RestoreJobExpired"
    assert milvus.calls["restore_snapshot"] == 0


async def test_transient_error_on_restore_keeps_intent(milvus: FakeMilvus) -> None:
    announced = (await step(milvus, MilvusRestoreStatus())).status
    milvus.fail("restore_snapshot", MilvusError(ErrorKind.UNAVAILABLE, "UNAVAILABLE: connection refused"))
    out = await step(milvus, announced)
    assert out.retry == Retry.BACKOFF and out.status.intent is not None
    assert conditions(out.status)["Ready"] == ("False", "MilvusUnavailable")
    status, _ = await until_polling(milvus, out.status)
    assert status.job_id is not None and len(milvus.jobs) == 1


async def test_missing_source_snapshot_is_waited_for(milvus: FakeMilvus) -> None:
    snapshots = dict(milvus.snapshots)
    milvus.snapshots.clear()
    out = await step(milvus, MilvusRestoreStatus())
    assert out.retry == Retry.SLOW and out.status.phase == "WaitingForSnapshot"
    assert conditions(out.status)["Ready"] == ("False", "SourceSnapshotNotFound")
    assert milvus.calls["restore_snapshot"] == 0
    milvus.snapshots.update(snapshots)  # applied later by GitOps, or made by a script
    status, _ = await until_polling(milvus, out.status)
    assert status.phase == "Restoring" and status.job_id is not None


async def test_snapshot_dropped_after_intent_fails_with_verbatim_message(milvus: FakeMilvus) -> None:
    announced = (await step(milvus, MilvusRestoreStatus())).status
    milvus.snapshots.clear()
    out = await step(milvus, announced)
    assert out.retry is None and out.status.phase == "Failed"
    assert out.status.error is not None and out.status.error.message == "snapshot not found[snapshot=nightly_1]"


async def test_waits_for_source_snapshot(milvus: FakeMilvus) -> None:
    waiting = Blocked(
        "SourceSnapshotNotReady", "waiting for MilvusSnapshot 'nightly-1' (Creating)", "MilvusSnapshot/ns/nightly-1"
    )
    out = await step(milvus, MilvusRestoreStatus(), waiting=waiting)
    assert out.retry == Retry.DEPENDENCY and out.status.phase == "WaitingForSnapshot"
    assert out.dependency == "MilvusSnapshot/ns/nightly-1"
    assert milvus.calls.total() == 0


async def test_source_failed_fails_restore(milvus: FakeMilvus) -> None:
    out = await step(
        milvus, MilvusRestoreStatus(), source_failed=SourceFailed("source MilvusSnapshot 'x' failed: boom")
    )
    assert out.retry is None and out.status.phase == "Failed"
    assert conditions(out.status)["Stalled"] == ("True", "SourceSnapshotFailed")
