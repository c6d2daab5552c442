"""MilvusSnapshot state machine, table-driven, including a crash after every Milvus call."""

from __future__ import annotations

import datetime

import pytest

from milvus_snapshot_operator.api.snapshot import MilvusSnapshotSpec, MilvusSnapshotStatus
from milvus_snapshot_operator.milvus.gateway import ErrorKind, MilvusError
from milvus_snapshot_operator.reconcile.outcome import Outcome, Retry
from milvus_snapshot_operator.reconcile.snapshot import (
    Blocked,
    DeletionInputs,
    SnapshotInputs,
    delete_snapshot,
    reconcile_snapshot,
)

from .fakes import Crash, FakeMilvus

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)


def spec(**overrides: object) -> MilvusSnapshotSpec:
    data: dict[str, object] = {"connectionRef": {"name": "milvus"}, "collectionName": "books"}
    data.update(overrides)
    return MilvusSnapshotSpec.model_validate(data)


def conditions(status: MilvusSnapshotStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


async def step(milvus: FakeMilvus, sp: MilvusSnapshotSpec, status: MilvusSnapshotStatus, name: str = "nightly-1"):
    return await reconcile_snapshot(
        SnapshotInputs(name=name, generation=1, spec=sp, status=status, now=NOW, gateway=milvus)
    )


async def converge(
    milvus: FakeMilvus, sp: MilvusSnapshotSpec, status: MilvusSnapshotStatus | None = None, limit: int = 10
) -> tuple[MilvusSnapshotStatus, list[Outcome[MilvusSnapshotStatus]]]:
    """Run steps like the daemon does, persisting status after each; a Crash loses that step's status."""
    status = status or MilvusSnapshotStatus()
    outcomes = []
    for _ in range(limit):
        try:
            outcome = await step(milvus, sp, status)
        except Crash:
            continue
        outcomes.append(outcome)
        status = outcome.status
        if outcome.retry in (None, Retry.DRIFT, Retry.SLOW):
            return status, outcomes
    raise AssertionError(f"did not converge: {status}")


@pytest.fixture
def milvus() -> FakeMilvus:
    return FakeMilvus(collections={("default", "books"): 200})


async def test_happy_path_two_status_writes(milvus: FakeMilvus) -> None:
    status, outcomes = await converge(milvus, spec())
    assert [o.retry for o in outcomes] == [Retry.NOW, Retry.DRIFT]
    assert outcomes[0].status.phase == "Creating" and outcomes[0].status.intent is not None
    assert status.phase == "Ready" and status.ready_to_use is True and status.intent is None
    assert status.snapshot_name == "nightly_1"
    assert status.creation_time == "2023-11-14T22:13:20Z" and status.create_ts == 1_700_000_000_000 << 18
    assert status.partition_names == ["_default"] and status.source_row_count == 200
    assert conditions(status) == {"Ready": ("True", "SnapshotReady")}
    assert milvus.calls["flush"] == 1 and milvus.calls["create_snapshot"] == 1
    assert [e.reason for o in outcomes for e in o.events] == ["SnapshotCreated"]


async def test_intent_is_recorded_before_any_side_effect(milvus: FakeMilvus) -> None:
    outcome = await step(milvus, spec(), MilvusSnapshotStatus())
    assert outcome.retry == Retry.NOW
    assert milvus.side_effects == 0
    assert conditions(outcome.status) == {
        "Ready": ("Unknown", "Progressing"),
        "Reconciling": ("True", "SnapshotInProgress"),
    }


async def test_fresh_intent_skips_only_the_adoption_check(milvus: FakeMilvus) -> None:
    announced = await step(milvus, spec(), MilvusSnapshotStatus())
    assert milvus.calls["describe_snapshot"] == 1  # the conflict check before recording intent
    inputs = SnapshotInputs(name="nightly-1", generation=1, spec=spec(), status=announced.status, now=NOW)
    inputs.gateway, inputs.intent_fresh = milvus, True
    done = await reconcile_snapshot(inputs)
    assert done.status.phase == "Ready" and milvus.calls["create_snapshot"] == 1
    assert milvus.calls["describe_snapshot"] == 2  # + the read-back after create; no adoption check


async def test_stale_intent_after_a_crash_still_adopts(milvus: FakeMilvus) -> None:
    announced = await step(milvus, spec(), MilvusSnapshotStatus())
    milvus.crash_after = 2  # create took effect, the process died before writing status
    with pytest.raises(Crash):
        await step(milvus, spec(), announced.status)
    done = await step(milvus, spec(), announced.status)  # a new process: intent_fresh is False
    assert done.status.phase == "Ready" and milvus.calls["create_snapshot"] == 1


@pytest.mark.parametrize("crash_after", [1, 2])  # after flush, after create
async def test_crash_after_each_milvus_call_converges_without_duplicates(milvus: FakeMilvus, crash_after: int) -> None:
    milvus.crash_after = crash_after
    status, _ = await converge(milvus, spec())
    assert status.phase == "Ready"
    assert list(milvus.snapshots) == [("default", "books", "nightly_1")]
    assert milvus.calls["create_snapshot"] == 1  # never a second create after the crash


async def test_crash_between_every_pair_of_steps(milvus: FakeMilvus) -> None:
    """Replay from every persisted status of a clean run: each converges to the same Ready status."""
    clean = FakeMilvus(collections=dict(milvus.collections))
    _, outcomes = await converge(clean, spec())
    persisted = [MilvusSnapshotStatus(), *[o.status for o in outcomes]]
    for i, status in enumerate(persisted):
        replay = FakeMilvus(collections=dict(milvus.collections))
        if i >= 2:  # the snapshot had been created before this point
            replay.snapshots = dict(clean.snapshots)
        final, _ = await converge(replay, spec(), status)
        assert final.phase == "Ready", i
        assert replay.calls["create_snapshot"] <= 1


async def test_existing_snapshot_not_ours_is_a_conflict(milvus: FakeMilvus) -> None:
    await milvus.create_snapshot("nightly_1", "books", "default", "someone else's", 0)
    status, outcomes = await converge(milvus, spec())
    assert status.phase == "Failed"
    assert conditions(status)["Stalled"] == ("True", "SnapshotExists")
    assert "spec.adopt" in (status.error.message if status.error else "")
    assert milvus.calls["create_snapshot"] == 1  # only the setup's
    assert outcomes[-1].events[0].reason == "SnapshotExists"


async def test_adopt_existing_snapshot_defaults_to_retain(milvus: FakeMilvus) -> None:
    await milvus.create_snapshot("legacy", "books", "default", "pre-provisioned", 0)
    status, _ = await converge(milvus, spec(adopt=True, snapshotName="legacy"))
    assert status.phase == "Ready" and status.adopted is True
    assert status.deletion_policy == "Retain"
    assert milvus.calls["create_snapshot"] == 1


async def test_adopt_missing_snapshot_waits_slowly(milvus: FakeMilvus) -> None:
    status, outcomes = await converge(milvus, spec(adopt=True, snapshotName="legacy"))
    assert outcomes[-1].retry == Retry.SLOW
    assert status.phase == "Pending" and conditions(status)["Ready"] == ("False", "SnapshotNotFound")


@pytest.mark.parametrize(
    ("error", "reason", "retry"),
    [
        (MilvusError(ErrorKind.UNAVAILABLE, "Retry timeout: 30s"), "MilvusUnavailable", Retry.BACKOFF),
        (MilvusError(ErrorKind.AUTH, "auth check failure", 1800), "AuthenticationFailed", Retry.SLOW),
        (MilvusError(ErrorKind.PERMISSION, "permission denied", 1801), "PermissionDenied", Retry.SLOW),
    ],
)
async def test_transient_errors_never_fail(milvus: FakeMilvus, error: MilvusError, reason: str, retry: Retry) -> None:
    persisted = (await step(milvus, spec(), MilvusSnapshotStatus())).status
    milvus.fail("create_snapshot", error)
    outcome = await step(milvus, spec(), persisted)
    assert outcome.retry == retry and outcome.status.phase == "Creating"
    assert conditions(outcome.status)["Ready"] == ("False", reason)
    assert "Stalled" not in conditions(outcome.status)
    assert outcome.status.intent is not None  # still announced: the retry adopts or creates
    final, _ = await converge(milvus, spec(), outcome.status)
    assert final.phase == "Ready"


async def test_invalid_input_fails_with_milvus_message_verbatim(milvus: FakeMilvus) -> None:
    status, outcomes = await converge(milvus, spec(collectionName="missing"))
    assert status.phase == "Failed" and status.ready_to_use is False
    event = outcomes[-1].events[0]  # the stable transition reason; the specific one leads the message
    assert (event.type, event.reason) == ("Warning", "SnapshotFailed")
    assert event.message.startswith("CollectionNotFound: collection not found")
    assert conditions(status)["Stalled"] == ("True", "CollectionNotFound")
    assert status.error is not None and status.error.code == 100
    assert status.error.message == "collection not found[database=default][collection=missing]"


async def test_blocked_waits_for_dependency(milvus: FakeMilvus) -> None:
    blocked = Blocked(
        "ConnectionNotFound", "MilvusConnection 'milvus' not found in namespace 'x'", "MilvusConnection/x/milvus"
    )
    outcome = await reconcile_snapshot(
        SnapshotInputs(name="a", generation=1, spec=spec(), status=MilvusSnapshotStatus(), now=NOW, blocked=blocked)
    )
    assert outcome.retry == Retry.DEPENDENCY and outcome.dependency == "MilvusConnection/x/milvus"
    assert outcome.status.phase == "Pending"
    assert conditions(outcome.status)["Ready"] == ("False", "ConnectionNotFound")
    assert milvus.calls.total() == 0


async def test_drift_check_reports_missing_snapshot(milvus: FakeMilvus) -> None:
    status, _ = await converge(milvus, spec())
    again = await step(milvus, spec(), status)
    assert again.retry == Retry.DRIFT and again.status == status  # unchanged: no status write
    milvus.snapshots.clear()
    gone = await step(milvus, spec(), status)
    assert gone.retry is None and gone.status.phase == "Failed"
    assert conditions(gone.status)["Ready"] == ("False", "SnapshotMissing")
    assert milvus.calls["create_snapshot"] == 1  # never silently recreated


async def test_drift_check_ignores_transient_errors(milvus: FakeMilvus) -> None:
    status, _ = await converge(milvus, spec())
    milvus.fail("list_snapshots", MilvusError(ErrorKind.UNAVAILABLE, "down"))
    outcome = await step(milvus, spec(), status)
    assert outcome.retry == Retry.DRIFT and outcome.status.phase == "Ready"


async def test_failed_is_terminal(milvus: FakeMilvus) -> None:
    status = MilvusSnapshotStatus(phase="Failed")
    outcome = await step(milvus, spec(), status)
    assert outcome.retry is None and milvus.calls.total() == 0


# ---- deletion ---------------------------------------------------------------------------------------


async def delete(milvus: FakeMilvus, sp: MilvusSnapshotSpec, status: MilvusSnapshotStatus):
    return await delete_snapshot(DeletionInputs(spec=sp, status=status, generation=1, now=NOW, gateway=milvus))


async def test_delete_policy_drops_and_is_idempotent(milvus: FakeMilvus) -> None:
    status, _ = await converge(milvus, spec())
    outcome = await delete(milvus, spec(), status)
    assert outcome.retry is None and not milvus.snapshots
    assert [e.reason for e in outcome.events] == ["SnapshotDeleted"]
    again = await delete(milvus, spec(), status)  # already gone = fine
    assert again.retry is None


async def test_retain_policy_keeps_snapshot(milvus: FakeMilvus) -> None:
    status, _ = await converge(milvus, spec(deletionPolicy="Retain"))
    outcome = await delete(milvus, spec(deletionPolicy="Retain"), status)
    assert outcome.retry is None and milvus.snapshots and milvus.calls["drop_snapshot"] == 0


async def test_conflicting_snapshot_is_never_dropped(milvus: FakeMilvus) -> None:
    await milvus.create_snapshot("nightly_1", "books", "default", "someone else's", 0)
    status, _ = await converge(milvus, spec())
    outcome = await delete(milvus, spec(), status)
    assert outcome.retry is None and milvus.calls["drop_snapshot"] == 0 and milvus.snapshots


async def test_deletion_waits_while_pinned_by_a_restore(milvus: FakeMilvus) -> None:
    status, _ = await converge(milvus, spec())
    milvus.pins[("default", "books", "nightly_1")] += 1
    first = await delete(milvus, spec(), status)
    assert first.retry == Retry.BACKOFF and [e.reason for e in first.events] == ["DeletionBlocked"]
    assert conditions(first.status)["Ready"] == ("False", "DeletionBlocked")
    second = await delete(milvus, spec(), first.status)
    assert second.events == []  # the event is posted on the transition only
    milvus.pins.clear()
    done = await delete(milvus, spec(), second.status)
    assert done.retry is None and not milvus.snapshots


async def test_deletion_after_collection_dropped_is_fine(milvus: FakeMilvus) -> None:
    status, _ = await converge(milvus, spec())
    milvus.collections.clear()
    outcome = await delete(milvus, spec(), status)
    assert outcome.retry is None
