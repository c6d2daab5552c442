"""MilvusRestore state machine: start, adopt after crashes and lost replies, follow, expire, never run twice,
never adopt another restore's job."""

from __future__ import annotations

import datetime

import pytest

from milvus_snapshot_operator.api.restore import MilvusRestoreSpec, MilvusRestoreStatus, ResolvedSource
from milvus_snapshot_operator.milvus.gateway import ErrorKind, MilvusError, RestoreJob
from milvus_snapshot_operator.reconcile.outcome import Outcome, Retry
from milvus_snapshot_operator.reconcile.refs import Blocked, Connected, Missing, SourceFailed
from milvus_snapshot_operator.reconcile.restore import (
    JOB_APPEAR_GRACE,
    RestoreInputs,
    RestoreRefs,
    reconcile_restore,
)

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
    fake = FakeMilvus(collections={("default", "books"): 200, ("default", "papers"): 50})
    await fake.create_snapshot("nightly_1", "books", "default", "", 0)
    fake.side_effects = 0
    fake.calls.clear()
    return fake


def refs(milvus: FakeMilvus, claimed: frozenset[int] = frozenset()) -> RestoreRefs:
    async def lookup(job_id: int, db: str) -> RestoreJob | None:
        jobs = {j.job_id: j for j in await milvus.list_restore_jobs(db)}
        return jobs.get(job_id) or await milvus.restore_state(job_id)

    return RestoreRefs(
        source=SOURCE,
        connected=Connected(milvus, "default", "127.0.0.1:19530"),
        job_lookup=lookup,
        claimed_jobs=claimed,
    )


async def step(
    milvus: FakeMilvus,
    status: MilvusRestoreStatus,
    now: datetime.datetime = NOW,
    given: RestoreRefs | Blocked | SourceFailed | None = None,
) -> Outcome[MilvusRestoreStatus]:
    inputs = RestoreInputs(generation=1, spec=SPEC, status=status, now=now, refs=given or refs(milvus))
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
    assert done.status.completion_time == "2026-11-25T12:00:01Z"  # Milvus start_time + time_cost
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


async def test_waits_for_source_snapshot_and_persists_nothing_derived(milvus: FakeMilvus) -> None:
    waiting = Blocked(
        Missing.SNAPSHOT,
        "SourceSnapshotNotReady",
        "waiting for MilvusSnapshot 'nightly-1' (Creating)",
        "MilvusSnapshot/ns/nightly-1",
    )
    out = await step(milvus, MilvusRestoreStatus(), given=waiting)
    assert out.retry == Retry.DEPENDENCY and out.status.phase == "WaitingForSnapshot"
    assert out.dependency == "MilvusSnapshot/ns/nightly-1"
    assert out.status.source is None and out.status.target_db_name is None
    assert milvus.calls.total() == 0


async def test_missing_connection_is_pending_not_waiting_for_snapshot(milvus: FakeMilvus) -> None:
    blocked = Blocked(Missing.CONNECTION, "ConnectionNotFound", "MilvusConnection 'm' not found", "k")
    out = await step(milvus, MilvusRestoreStatus(), given=blocked)
    assert out.status.phase == "Pending" and out.status.target_db_name is None


async def test_source_failed_fails_restore(milvus: FakeMilvus) -> None:
    out = await step(milvus, MilvusRestoreStatus(), given=SourceFailed("source MilvusSnapshot 'x' failed: boom"))
    assert out.retry is None and out.status.phase == "Failed"
    assert conditions(out.status)["Stalled"] == ("True", "SourceSnapshotFailed")


# ---- the call's outcome unknown: lost replies, re-sent calls, slow synchronous phases -------------------


async def test_lost_reply_of_restore_snapshot_adopts_the_job(milvus: FakeMilvus) -> None:
    announced = (await step(milvus, MilvusRestoreStatus())).status
    milvus.lose_reply("restore_snapshot")
    lost = await step(milvus, announced)
    assert lost.retry == Retry.BACKOFF and lost.status.intent is not None and lost.status.intent.attempt_time
    status, outcomes = await until_polling(milvus, lost.status)
    assert status.job_id == next(iter(milvus.jobs)) and len(milvus.jobs) == 1
    assert milvus.calls["restore_snapshot"] == 1
    assert "RestoreAdopted" in [e.reason for o in outcomes for e in o.events]


async def test_pymilvus_resending_restore_snapshot_is_not_a_failure(milvus: FakeMilvus) -> None:
    """pymilvus re-sends RestoreSnapshot on UNAVAILABLE: the first send started the job, the second gets
    "duplicate collection". That is no verdict: the jobs are listed again and the running one adopted."""
    announced = (await step(milvus, MilvusRestoreStatus())).status
    milvus.before(
        "restore_snapshot", lambda: milvus.start_restore("nightly_1", "books", "default", "books_restored", "default")
    )
    resent = await step(milvus, announced)
    assert resent.status.phase == "Restoring" and resent.retry == Retry.BACKOFF
    status, _ = await until_polling(milvus, resent.status)
    assert status.phase == "Restoring" and status.job_id == next(iter(milvus.jobs)) and len(milvus.jobs) == 1


async def test_a_slow_synchronous_restore_is_not_reported_expired(milvus: FakeMilvus) -> None:
    """RestoreSnapshot outlived its client-side timeout: Milvus created the target and will create the job.
    The grace counts from that call, not from the intent recorded long before it."""
    announced = (await step(milvus, MilvusRestoreStatus())).status
    later = NOW + datetime.timedelta(minutes=5)  # e.g. the connection was down since the intent
    milvus.fail("restore_snapshot", MilvusError(ErrorKind.UNAVAILABLE, "DEADLINE_EXCEEDED"))
    timed_out = await step(milvus, announced, now=later)
    milvus.collections[("default", "books_restored")] = 0  # the server is still in its synchronous phase
    soon = await step(milvus, timed_out.status, now=later + datetime.timedelta(seconds=5))
    assert soon.retry == Retry.BACKOFF and soon.status.phase == "Restoring"
    expired = await step(milvus, timed_out.status, now=later + JOB_APPEAR_GRACE)
    assert expired.status.phase == "Failed" and conditions(expired.status)["Stalled"][1] == "RestoreJobExpired"


# ---- never another restore's job ---------------------------------------------------------------------


async def test_a_job_that_started_before_our_intent_is_never_adopted(milvus: FakeMilvus) -> None:
    """A same-named snapshot of another collection restored into our target earlier (its target since
    dropped): Milvus's job records carry no source collection, but that job predates our intent."""
    await milvus.create_snapshot("nightly_1", "papers", "default", "", 0)
    milvus.clock_ms -= 3_600_000  # an hour ago
    old = milvus.start_restore("nightly_1", "papers", "default", "books_restored", "default")
    del milvus.collections[("default", "books_restored")]
    milvus.clock_ms += 3_600_000
    status, _ = await until_polling(milvus)
    assert status.job_id != old and status.job_id in milvus.jobs and milvus.calls["restore_snapshot"] == 1


async def test_a_job_another_restore_follows_is_never_adopted(milvus: FakeMilvus) -> None:
    announced = (await step(milvus, MilvusRestoreStatus())).status
    theirs = milvus.start_restore("nightly_1", "books", "default", "books_restored", "default")
    out = await step(milvus, announced, given=refs(milvus, claimed=frozenset({theirs})))
    assert out.status.job_id is None  # not adopted; the target is taken, so once the grace is over it fails
    late = await step(milvus, out.status, now=NOW + JOB_APPEAR_GRACE, given=refs(milvus, claimed=frozenset({theirs})))
    assert late.status.phase == "Failed"
