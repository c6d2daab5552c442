"""A restore that ends serving traffic: verify, load, switch the alias (Automatic or Manual), keep the previous
collection for a grace period, roll back on request; and deadlines and onFailure after a failed restore."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from milvus_snapshot_operator.api.restore import MilvusRestoreSpec, MilvusRestoreStatus, ResolvedSource
from milvus_snapshot_operator.milvus.gateway import RestoreJob
from milvus_snapshot_operator.reconcile.outcome import Outcome, Retry
from milvus_snapshot_operator.reconcile.refs import Connected
from milvus_snapshot_operator.reconcile.restore import RestoreInputs, RestoreRefs, needs_daemon, reconcile_restore

from .fakes import Crash, FakeMilvus

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)
SOURCE = ResolvedSource(
    snapshot_name="nightly_1", collection_name="books", db_name="default", connection="milvus", source_row_count=200
)


def spec(**fields: Any) -> MilvusRestoreSpec:
    base = {"source": {"snapshotRef": {"name": "nightly-1"}}, "target": {"collectionName": "books_v2"}}
    return MilvusRestoreSpec.model_validate({**base, **fields})


def conditions(status: MilvusRestoreStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


@pytest.fixture
async def milvus() -> FakeMilvus:
    fake = FakeMilvus(collections={("default", "books"): 200, ("default", "books_v1"): 180})
    await fake.create_snapshot("nightly_1", "books", "default", "", 0)
    fake.aliases[("default", "library")] = "books_v1"
    fake.loads[("default", "books_v1")] = "Loaded"
    fake.calls.clear()
    return fake


class Run:
    """Steps like the daemon: status persisted after each step, annotations and clock set by the test."""

    def __init__(self, milvus: FakeMilvus, sp: MilvusRestoreSpec) -> None:
        self.milvus, self.spec, self.now = milvus, sp, NOW
        self.status = MilvusRestoreStatus()
        self.cutover: str | None = None
        self.rollback: str | None = None
        self.events: list[str] = []

    async def step(self) -> Outcome[MilvusRestoreStatus]:
        milvus = self.milvus

        async def lookup(job_id: int, db: str) -> RestoreJob | None:
            return {j.job_id: j for j in await milvus.list_restore_jobs(db)}.get(job_id)

        refs = RestoreRefs(source=SOURCE, connected=Connected(milvus, "default", "m:19530"), job_lookup=lookup)
        inputs = RestoreInputs(
            1, self.spec, self.status, self.now, refs, NOW, cutover_request=self.cutover, rollback_request=self.rollback
        )
        outcome = await reconcile_restore(inputs)
        self.status = outcome.status
        self.events += [e.reason for e in outcome.events]
        return outcome

    async def until(self, *phases: str, limit: int = 30, settled: bool = True) -> Outcome[MilvusRestoreStatus]:
        """Step until in one of `phases` (and, if `settled`, waiting rather than continuing at once)."""
        for _ in range(limit):
            try:
                outcome = await self.step()
            except Crash:
                continue
            if self.status.phase in phases and (outcome.retry != Retry.NOW or not settled):
                return outcome
            if self.status.job_id and self.status.state == "RestoreSnapshotPending":
                self.milvus.advance(self.status.job_id, "RestoreSnapshotCompleted", 100, rows=self.rows)
        raise AssertionError(f"never reached {phases}: {self.status}")

    rows = 200


async def test_a_plain_restore_ends_at_the_job_as_before(milvus: FakeMilvus) -> None:
    run = Run(milvus, spec())
    out = await run.until("Completed")
    assert out.retry is None and not needs_daemon(run.spec, run.status)
    assert milvus.calls["start_load"] == 0 and run.events[-1] == "RestoreCompleted"


async def test_automatic_cutover_verifies_loads_then_switches_and_records_the_previous(milvus: FakeMilvus) -> None:
    run = Run(milvus, spec(alias="library"))
    out = await run.until("Completed")
    status = run.status
    assert milvus.aliases[("default", "library")] == "books_v2" and milvus.loads[("default", "books_v2")] == "Loaded"
    assert status.cutover is not None and status.cutover.previous_collection == "books_v1"
    assert status.cutover.time == "2026-11-25T12:00:00Z"
    assert status.verification is not None and status.verification.row_count == 200
    assert status.verification.expected_row_count == 200 and status.verification.indexes == ["vector"]
    assert conditions(status) == {"Ready": ("True", "RestoreCompleted")}
    assert {"RestoreJobCompleted", "CutoverCompleted", "RestoreCompleted"} <= set(run.events)
    assert out.retry == Retry.DEPENDENCY  # the daemon stays: rollback, grace period
    assert milvus.calls["alter_alias"] == 1 and milvus.calls["create_alias"] == 0


async def test_the_first_cutover_creates_the_alias(milvus: FakeMilvus) -> None:
    del milvus.aliases[("default", "library")]
    run = Run(milvus, spec(alias="library"))
    await run.until("Completed")
    assert milvus.aliases[("default", "library")] == "books_v2"
    assert run.status.cutover is not None and run.status.cutover.previous_collection is None


async def test_a_crash_after_the_switch_keeps_the_recorded_previous(milvus: FakeMilvus) -> None:
    run = Run(milvus, spec(alias="library"))
    await run.until("CuttingOver", settled=False)  # the previous collection is on record, the switch is next
    assert run.status.cutover is not None and run.status.cutover.previous_collection == "books_v1"
    milvus.crash_after = milvus.side_effects + 1  # the alias moves, the status write is lost
    await run.until("Completed")
    assert run.status.cutover is not None and run.status.cutover.previous_collection == "books_v1"
    assert milvus.calls["alter_alias"] == 1


async def test_manual_cutover_waits_for_the_annotation(milvus: FakeMilvus) -> None:
    run = Run(milvus, spec(alias="library", cutover="Manual"))
    await run.until("AwaitingCutover")
    again = await run.step()
    assert again.retry == Retry.DEPENDENCY and run.status.phase == "AwaitingCutover"
    assert conditions(run.status)["Reconciling"] == ("True", "AwaitingCutover")
    assert milvus.aliases[("default", "library")] == "books_v1"
    run.cutover = "now"
    await run.until("Completed")
    assert milvus.aliases[("default", "library")] == "books_v2"


@pytest.mark.parametrize(
    ("setup", "check"),
    [
        (lambda m: setattr(Run, "rows", 193), "rowCount"),
        (lambda m: m.index_names.__setitem__(("default", "books_v2"), []), "indexes"),
        (lambda m: m.empty_search.add(("default", "books_v2")), "searchProbe"),
    ],
    ids=["row-count-short", "index-missing", "search-finds-nothing"],
)
async def test_verification_failures_never_touch_the_alias(milvus: FakeMilvus, setup: Any, check: str) -> None:
    setup(milvus)
    try:
        run = Run(milvus, spec(alias="library", verify={"searchProbe": {"queries": 3}}))
        await run.until("Failed")
    finally:
        Run.rows = 200
    assert conditions(run.status)["Stalled"] == ("True", "VerificationFailed")
    assert run.status.error is not None and run.status.error.message.startswith(f"{check}: ")
    assert milvus.aliases[("default", "library")] == "books_v1"
    assert milvus.calls["alter_alias"] == 0


async def test_at_most_tolerates_fewer_rows(milvus: FakeMilvus) -> None:
    Run.rows = 190
    try:
        run = Run(milvus, spec(alias="library", verify={"rowCount": "AtMost"}))
        await run.until("Completed")
    finally:
        Run.rows = 200


async def test_a_load_that_never_ends_fails_at_its_timeout(milvus: FakeMilvus) -> None:
    milvus.load_steps = 1000
    run = Run(milvus, spec(load={"timeoutSeconds": 60}))
    await run.until("Loading")  # the load is requested
    await run.step()  # and polled
    assert run.status.load is not None and (run.status.load.state, run.status.load.progress) == ("Loading", 50)
    run.now = NOW + datetime.timedelta(seconds=61)
    await run.until("Failed")
    assert conditions(run.status)["Stalled"] == ("True", "LoadTimeout")


async def test_rollback_points_the_alias_back_loading_the_previous_first(milvus: FakeMilvus) -> None:
    run = Run(milvus, spec(alias="library", previousCollection="Release", gracePeriodSeconds=600))
    await run.until("Completed")
    run.now = NOW + datetime.timedelta(seconds=599)
    early = await run.step()
    assert milvus.loads[("default", "books_v1")] == "Loaded"  # still in the grace period
    assert early.within == datetime.timedelta(seconds=1)
    run.now = NOW + datetime.timedelta(seconds=600)
    await run.step()
    assert milvus.loads[("default", "books_v1")] == "NotLoad" and "PreviousCollectionReleased" in run.events
    run.rollback = "now"
    milvus.load_steps = 1
    await run.until("RolledBack")
    assert milvus.aliases[("default", "library")] == "books_v1" and milvus.loads[("default", "books_v1")] == "Loaded"
    assert conditions(run.status) == {"Ready": ("True", "RolledBack")} and "RolledBack" in run.events
    assert ("default", "books_v2") in milvus.collections  # the restored one is kept


async def test_rollback_to_a_dropped_collection_is_impossible_and_says_so(milvus: FakeMilvus) -> None:
    run = Run(milvus, spec(alias="library", previousCollection="Drop", gracePeriodSeconds=0))
    await run.until("Completed")
    await run.step()
    assert ("default", "books_v1") not in milvus.collections and "PreviousCollectionDropped" in run.events
    run.rollback = "now"
    await run.step()
    assert "RollbackImpossible" in run.events and milvus.aliases[("default", "library")] == "books_v2"
    assert run.status.phase == "Completed"


async def test_drop_never_drops_a_collection_an_alias_still_points_at(milvus: FakeMilvus) -> None:
    milvus.aliases[("default", "old_name")] = "books_v1"
    run = Run(milvus, spec(alias="library", previousCollection="Drop", gracePeriodSeconds=0))
    await run.until("Completed")
    await run.step()
    assert ("default", "books_v1") in milvus.collections and "PreviousCollectionKept" in run.events


async def test_an_alias_that_names_a_collection_is_refused(milvus: FakeMilvus) -> None:
    run = Run(milvus, spec(alias="books"))
    await run.until("Failed")
    assert conditions(run.status)["Stalled"] == ("True", "InvalidAlias")


async def test_a_deadline_fails_the_restore_and_the_job_is_still_followed(milvus: FakeMilvus) -> None:
    run = Run(milvus, spec(activeDeadlineSeconds=60, onFailure="Drop"))
    for _ in range(3):
        await run.step()
    assert run.status.phase == "Restoring" and run.status.job_id is not None
    run.now = NOW + datetime.timedelta(seconds=60)
    out = await run.step()
    assert run.status.phase == "Failed" and conditions(run.status)["Stalled"] == ("True", "DeadlineExceeded")
    assert out.retry is not None and needs_daemon(run.spec, run.status)
    await run.step()
    assert ("default", "books_v2") in milvus.collections, "never dropped while the job runs"
    milvus.advance(run.status.job_id, "RestoreSnapshotCompleted", 100, rows=200)
    await run.step()  # the job's end is reported
    assert run.status.state == "RestoreSnapshotCompleted" and run.status.job_ended and "RestoreJobEnded" in run.events
    await run.step()  # then onFailure: Drop, once the job has ended
    assert ("default", "books_v2") not in milvus.collections and run.status.target_dropped is True
    assert not needs_daemon(run.spec, run.status)


async def test_no_progress_for_too_long_is_a_deadline_too(milvus: FakeMilvus) -> None:
    run = Run(milvus, spec(progressDeadlineSeconds=30))
    for _ in range(3):
        await run.step()
    run.now = NOW + datetime.timedelta(seconds=29)
    await run.step()
    assert run.status.phase == "Restoring"
    run.now = NOW + datetime.timedelta(seconds=31)
    await run.step()
    assert run.status.error is not None and run.status.error.reason == "DeadlineExceeded"
    assert "no progress for 30s" in run.status.error.message


async def test_on_failure_drop_never_drops_a_target_it_did_not_create(milvus: FakeMilvus) -> None:
    milvus.collections[("default", "books_v2")] = 5  # someone else's
    run = Run(milvus, spec(onFailure="Drop"))
    await run.until("Failed")
    assert run.status.error is not None and run.status.error.reason == "TargetCollectionExists"
    assert ("default", "books_v2") in milvus.collections and not needs_daemon(run.spec, run.status)


async def test_on_failure_drop_keeps_a_target_an_alias_points_at(milvus: FakeMilvus) -> None:
    run = Run(milvus, spec(alias="library", onFailure="Drop"))
    await run.until("Restoring")  # the job runs; the target exists
    milvus.aliases[("default", "mirror")] = "books_v2"  # someone pointed an alias at it meanwhile
    Run.rows = 150
    try:
        await run.until("Failed")
    finally:
        Run.rows = 200
    assert ("default", "books_v2") in milvus.collections and "TargetKept" in run.events
    assert run.status.target_dropped is False


async def test_a_manual_restore_past_its_deadline_while_awaiting_still_cuts_over(milvus: FakeMilvus) -> None:
    run = Run(milvus, spec(alias="library", cutover="Manual", activeDeadlineSeconds=600))
    await run.until("AwaitingCutover")
    run.now = NOW + datetime.timedelta(hours=5)  # the person came back the next morning
    run.cutover = "now"
    await run.until("Completed")
    assert milvus.aliases[("default", "library")] == "books_v2" and "RestoreFailed" not in run.events


async def test_a_deadline_during_a_lost_restore_reply_adopts_the_job_before_failing(milvus: FakeMilvus) -> None:
    run = Run(milvus, spec(activeDeadlineSeconds=60, onFailure="Drop"))
    milvus.lose_reply("restore_snapshot")  # the job starts, the reply is lost
    while milvus.calls["restore_snapshot"] == 0:
        await run.step()
    assert run.status.intent is not None and run.status.job_id is None, "the reply was lost: no job ID"
    run.now = NOW + datetime.timedelta(seconds=61)
    await run.step()  # adopts the job first
    assert run.status.job_id is not None and run.status.target_created
    await run.step()  # then the verdict, and the job is still followed
    assert run.status.error is not None and run.status.error.reason == "DeadlineExceeded"
    assert needs_daemon(run.spec, run.status) and milvus.calls["restore_snapshot"] == 1


async def test_a_deadline_before_any_job_started_fails_without_starting_one(milvus: FakeMilvus) -> None:
    run = Run(milvus, spec(activeDeadlineSeconds=60))
    while run.status.intent is None:  # until the intent is recorded, the call not yet made
        await run.step()
    assert run.status.intent is not None and run.status.job_id is None
    run.now = NOW + datetime.timedelta(seconds=61)
    await run.step()  # no job in Milvus, no target: nothing to follow
    assert run.status.error is not None and run.status.error.reason == "DeadlineExceeded"
    assert run.status.intent is None and milvus.calls["restore_snapshot"] == 0
    assert not needs_daemon(run.spec, run.status)


async def test_a_search_probe_without_an_alias_loads_and_probes(milvus: FakeMilvus) -> None:
    milvus.empty_search.add(("default", "books_v2"))
    run = Run(milvus, spec(verify={"searchProbe": {"queries": 2}}))
    await run.until("Failed")
    assert run.status.error is not None and run.status.error.message.startswith("searchProbe: ")
    assert milvus.loads[("default", "books_v2")] == "Loaded"


async def test_a_rollback_annotation_set_before_the_switch_does_not_roll_back(milvus: FakeMilvus) -> None:
    run = Run(milvus, spec(alias="library"))
    run.rollback = "copied-from-an-old-manifest"
    await run.until("Completed")
    await run.step()
    assert run.status.phase == "Completed" and milvus.aliases[("default", "library")] == "books_v2"
    run.rollback = "now"  # a value set after the switch
    await run.until("RolledBack")
    assert milvus.aliases[("default", "library")] == "books_v1"


async def test_a_cutover_annotation_present_in_advance_approves_the_manual_switch(milvus: FakeMilvus) -> None:
    run = Run(milvus, spec(alias="library", cutover="Manual"))
    run.cutover = "approved-in-the-manifest"
    await run.until("Completed")
    assert milvus.aliases[("default", "library")] == "books_v2"
    assert run.status.cutover is not None and run.status.cutover.last_trigger == "approved-in-the-manifest"
