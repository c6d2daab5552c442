"""MilvusSnapshot state machine, table-driven, including a crash after every Milvus call, ownership of the
Milvus snapshot (never adopt or drop someone else's), and where a snapshot lives."""

from __future__ import annotations

import datetime

import pytest

from milvus_snapshot_operator.api.snapshot import MilvusSnapshotSpec, MilvusSnapshotStatus
from milvus_snapshot_operator.milvus.gateway import ErrorKind, MilvusError
from milvus_snapshot_operator.reconcile import ownership
from milvus_snapshot_operator.reconcile.outcome import Outcome, Retry
from milvus_snapshot_operator.reconcile.refs import Blocked, Connected, Missing
from milvus_snapshot_operator.reconcile.snapshot import (
    CREATE_LANDING_GRACE,
    DeletionInputs,
    SnapshotInputs,
    delete_snapshot,
    reconcile_snapshot,
)

from .fakes import Crash, FakeMilvus

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)
UID = "0a1b2c3d-0000-4000-8000-000000000001"
OTHER_UID = "0a1b2c3d-0000-4000-8000-000000000002"
HERE = "127.0.0.1:19530"


def spec(**overrides: object) -> MilvusSnapshotSpec:
    data: dict[str, object] = {"connectionRef": {"name": "milvus"}, "collectionName": "books"}
    data.update(overrides)
    return MilvusSnapshotSpec.model_validate(data)


def conditions(status: MilvusSnapshotStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


def connected(milvus: FakeMilvus, endpoint: str = HERE, db: str = "default") -> Connected:
    return Connected(gateway=milvus, db_name=db, endpoint=endpoint)


async def step(
    milvus: FakeMilvus,
    sp: MilvusSnapshotSpec,
    status: MilvusSnapshotStatus,
    *,
    uid: str = UID,
    name: str = "nightly-1",
    fresh: bool = False,
    endpoint: str = HERE,
    now: datetime.datetime = NOW,
) -> Outcome[MilvusSnapshotStatus]:
    return await reconcile_snapshot(
        SnapshotInputs(
            name=name,
            uid=uid,
            generation=1,
            spec=sp,
            status=status,
            now=now,
            refs=connected(milvus, endpoint),
            intent_fresh=fresh,
        )
    )


async def converge(
    milvus: FakeMilvus,
    sp: MilvusSnapshotSpec,
    status: MilvusSnapshotStatus | None = None,
    limit: int = 10,
    uid: str = UID,
) -> tuple[MilvusSnapshotStatus, list[Outcome[MilvusSnapshotStatus]]]:
    """Run steps like the daemon does, persisting status after each; a Crash loses that step's status."""
    status = status or MilvusSnapshotStatus()
    outcomes = []
    for _ in range(limit):
        try:
            outcome = await step(milvus, sp, status, uid=uid)
        except Crash:
            continue
        outcomes.append(outcome)
        status = outcome.status
        if outcome.retry in (None, Retry.DRIFT, Retry.SLOW):
            return status, outcomes
    raise AssertionError(f"did not converge: {status}")


async def delete(
    milvus: FakeMilvus,
    sp: MilvusSnapshotSpec,
    status: MilvusSnapshotStatus,
    *,
    uid: str = UID,
    refs: Connected | Blocked | None = None,
    terminating: bool = False,
    now: datetime.datetime = NOW,
) -> Outcome[MilvusSnapshotStatus]:
    return await delete_snapshot(
        DeletionInputs(
            uid=uid,
            spec=sp,
            status=status,
            generation=1,
            now=now,
            refs=refs or connected(milvus),
            namespace_terminating=terminating,
        )
    )


@pytest.fixture
def milvus() -> FakeMilvus:
    return FakeMilvus(collections={("default", "books"): 200})


# ---- creation and crash safety -----------------------------------------------------------------------


async def test_happy_path_two_status_writes(milvus: FakeMilvus) -> None:
    status, outcomes = await converge(milvus, spec())
    assert [o.retry for o in outcomes] == [Retry.NOW, Retry.DRIFT]
    assert outcomes[0].status.phase == "Creating" and outcomes[0].status.intent is not None
    assert outcomes[0].status.endpoint == HERE  # where the create will happen, recorded with the intent
    assert status.phase == "Ready" and status.ready_to_use is True and status.intent is None
    assert status.snapshot_name == "nightly_1" and status.endpoint == HERE
    assert status.creation_time == "2023-11-14T22:13:20Z" and status.create_ts == 1_700_000_000_000 << 18
    assert status.partition_names == ["_default"] and status.source_row_count == 200
    assert status.last_verified_time == "2026-11-25T12:00:00Z"
    assert conditions(status) == {"Ready": ("True", "SnapshotReady")}
    assert milvus.calls["flush"] == 1 and milvus.calls["create_snapshot"] == 1
    assert [e.reason for o in outcomes for e in o.events] == ["SnapshotCreated"]


async def test_the_create_call_writes_the_ownership_marker(milvus: FakeMilvus) -> None:
    await converge(milvus, spec(description="nightly backup"))
    info = milvus.snapshots[("default", "books", "nightly_1")]
    assert ownership.owner(info) == UID and info.description == f"nightly backup {ownership.marker(UID)}"


async def test_intent_is_recorded_before_any_milvus_call(milvus: FakeMilvus) -> None:
    outcome = await step(milvus, spec(), MilvusSnapshotStatus())
    assert outcome.retry == Retry.NOW
    assert milvus.calls.total() == 0  # not even a describe: ownership is checked when the name is taken
    assert conditions(outcome.status) == {
        "Ready": ("Unknown", "Progressing"),
        "Reconciling": ("True", "SnapshotInProgress"),
    }


async def test_fresh_intent_skips_only_the_adoption_check(milvus: FakeMilvus) -> None:
    announced = await step(milvus, spec(), MilvusSnapshotStatus())
    done = await step(milvus, spec(), announced.status, fresh=True)
    assert done.status.phase == "Ready" and milvus.calls["create_snapshot"] == 1
    assert milvus.calls["describe_snapshot"] == 1  # only the read-back after create


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


async def test_lost_reply_of_the_create_is_recognised_as_ours(milvus: FakeMilvus) -> None:
    announced = await step(milvus, spec(), MilvusSnapshotStatus())
    milvus.lose_reply("create_snapshot")  # Milvus made it; the operator saw UNAVAILABLE
    failed = await step(milvus, spec(), announced.status, fresh=True)
    assert failed.retry == Retry.BACKOFF and failed.status.intent is not None
    assert failed.status.intent.attempt_time == "2026-11-25T12:00:00Z"
    done = await step(milvus, spec(), failed.status)
    assert done.status.phase == "Ready" and milvus.calls["create_snapshot"] == 1


async def test_pymilvus_resending_the_create_gets_already_exists_and_adopts_its_own(milvus: FakeMilvus) -> None:
    """pymilvus re-sends on UNAVAILABLE: the second send finds the name taken, by us (the marker says so)."""
    announced = await step(milvus, spec(), MilvusSnapshotStatus())
    milvus.before(
        "create_snapshot", lambda: milvus.put_snapshot("nightly_1", "books", description=ownership.marker(UID))
    )
    done = await step(milvus, spec(), announced.status, fresh=True)
    assert done.status.phase == "Ready" and [e.reason for e in done.events] == ["SnapshotCreated"]


# ---- ownership: someone else's snapshot under our name -------------------------------------------------


async def test_existing_snapshot_not_ours_is_a_conflict_and_never_dropped(milvus: FakeMilvus) -> None:
    milvus.put_snapshot("nightly_1", "books", description="someone else's")
    status, outcomes = await converge(milvus, spec())
    assert status.phase == "Failed" and status.intent is None
    assert conditions(status)["Stalled"] == ("True", "SnapshotExists")
    assert "spec.adopt" in (status.error.message if status.error else "")
    assert milvus.calls["create_snapshot"] == 0
    assert outcomes[-1].events[0].reason == "SnapshotExists"
    gone = await delete(milvus, spec(), status)
    assert gone.retry is None and milvus.calls["drop_snapshot"] == 0 and milvus.snapshots


async def test_a_name_taken_between_intent_and_create_is_not_taken_over(milvus: FakeMilvus) -> None:
    """The race: our intent is on record, someone creates the same name, our create gets ALREADY_EXISTS."""
    announced = await step(milvus, spec(), MilvusSnapshotStatus())
    milvus.before("create_snapshot", lambda: milvus.put_snapshot("nightly_1", "books", description="by hand"))
    out = await step(milvus, spec(), announced.status, fresh=True)
    assert out.status.phase == "Failed" and conditions(out.status)["Stalled"] == ("True", "SnapshotExists")
    assert (await delete(milvus, spec(), out.status)).retry is None
    assert milvus.calls["drop_snapshot"] == 0 and milvus.snapshots


async def test_restart_after_intent_does_not_adopt_a_snapshot_made_by_someone_else_meanwhile(
    milvus: FakeMilvus,
) -> None:
    announced = await step(milvus, spec(), MilvusSnapshotStatus())
    milvus.put_snapshot("nightly_1", "books", description=ownership.marker(OTHER_UID))  # another resource
    out = await step(milvus, spec(), announced.status)
    assert out.status.phase == "Failed" and OTHER_UID in (out.status.error.message if out.status.error else "")


async def test_two_resources_with_one_snapshot_name_one_owner(milvus: FakeMilvus) -> None:
    """Two MilvusSnapshots resolving to the same Milvus snapshot: one is Ready, the other SnapshotExists, and
    deleting the loser never drops the winner's data."""
    first, _ = await converge(milvus, spec(snapshotName="shared"), uid=UID)
    second, _ = await converge(milvus, spec(snapshotName="shared"), uid=OTHER_UID)
    assert first.phase == "Ready" and second.phase == "Failed"
    await delete(milvus, spec(snapshotName="shared"), second, uid=OTHER_UID)
    assert ("default", "books", "shared") in milvus.snapshots
    await delete(milvus, spec(snapshotName="shared"), first, uid=UID)
    assert ("default", "books", "shared") not in milvus.snapshots


async def test_adopt_existing_snapshot_defaults_to_retain(milvus: FakeMilvus) -> None:
    milvus.put_snapshot("legacy", "books", description="pre-provisioned")
    status, outcomes = await converge(milvus, spec(adopt=True, snapshotName="legacy"))
    assert status.phase == "Ready" and status.adopted is True and status.deletion_policy == "Retain"
    assert [e.reason for o in outcomes for e in o.events] == ["SnapshotAdopted"]
    assert status.endpoint == HERE and milvus.calls["create_snapshot"] == 0


async def test_adopted_with_delete_drops_only_the_very_snapshot_it_adopted(milvus: FakeMilvus) -> None:
    milvus.put_snapshot("legacy", "books", ts=1)
    sp = spec(adopt=True, snapshotName="legacy", deletionPolicy="Delete")
    status, _ = await converge(milvus, sp)
    milvus.put_snapshot("legacy", "books", ts=2)  # dropped and re-made by someone else since
    out = await delete(milvus, sp, status)
    assert [e.reason for e in out.events] == ["SnapshotNotOwned"] and milvus.calls["drop_snapshot"] == 0
    milvus.put_snapshot("legacy", "books", ts=1)
    await delete(milvus, sp, status)
    assert milvus.calls["drop_snapshot"] == 1 and not milvus.snapshots


async def test_adopt_missing_snapshot_waits_slowly(milvus: FakeMilvus) -> None:
    status, outcomes = await converge(milvus, spec(adopt=True, snapshotName="legacy"))
    assert outcomes[-1].retry == Retry.SLOW
    assert status.phase == "Pending" and conditions(status)["Ready"] == ("False", "SnapshotNotFound")


# ---- errors and references -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "reason", "retry"),
    [
        (MilvusError(ErrorKind.UNAVAILABLE, "Retry timeout: 30s"), "MilvusUnavailable", Retry.BACKOFF),
        (MilvusError(ErrorKind.AUTH, "auth check failure", 1800), "AuthenticationFailed", Retry.SLOW),
        (MilvusError(ErrorKind.PERMISSION, "permission denied", 1801), "PermissionDenied", Retry.SLOW),
        (MilvusError(ErrorKind.INTERNAL, "TypeError: boom"), "InternalError", Retry.BACKOFF),
        (MilvusError(ErrorKind.PINNED, "1 active pins, unpin before dropping"), "SnapshotPinned", Retry.BACKOFF),
        (MilvusError(ErrorKind.TLS, "UNAVAILABLE: SSL handshake"), "TLSHandshakeFailed", Retry.SLOW),
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


async def test_blocked_waits_and_persists_nothing_derived(milvus: FakeMilvus) -> None:
    """Applied before its connection: no database (nor name) is chosen from a connection not seen yet."""
    blocked = Blocked(Missing.CONNECTION, "ConnectionNotFound", "MilvusConnection 'milvus' not found", "k")
    outcome = await reconcile_snapshot(SnapshotInputs("a", UID, 1, spec(), MilvusSnapshotStatus(), NOW, refs=blocked))
    assert outcome.retry == Retry.DEPENDENCY and outcome.dependency == "k"
    assert outcome.status.phase == "Pending" and conditions(outcome.status)["Ready"] == ("False", "ConnectionNotFound")
    assert outcome.status.db_name is None and outcome.status.snapshot_name is None and outcome.status.endpoint is None
    resumed = await reconcile_snapshot(
        SnapshotInputs("a", UID, 1, spec(), outcome.status, NOW, refs=connected(milvus, db="prod"))
    )
    assert resumed.status.db_name == "prod"  # the connection's database, once it exists


# ---- drift and where a snapshot lives --------------------------------------------------------------------


async def test_missing_snapshot_is_recoverable_not_failed(milvus: FakeMilvus) -> None:
    status, _ = await converge(milvus, spec())
    again = await step(milvus, spec(), status)
    assert again.retry == Retry.DRIFT and again.status == status  # unchanged: no status write
    saved = dict(milvus.snapshots)
    milvus.snapshots.clear()
    gone = await step(milvus, spec(), status)
    assert gone.retry == Retry.DRIFT and gone.status.phase == "Missing" and gone.status.ready_to_use is False
    assert conditions(gone.status)["Ready"] == ("False", "SnapshotMissing") and "Stalled" not in conditions(gone.status)
    assert [e.reason for e in gone.events] == ["SnapshotMissing"]
    still = await step(milvus, spec(), gone.status)
    assert still.events == []  # the event is posted on the transition only
    milvus.snapshots.update(saved)  # e.g. Milvus's metadata restored from its own backup
    back = await step(milvus, spec(), still.status)
    assert back.status.phase == "Ready" and [e.reason for e in back.events] == ["SnapshotFound"]
    assert milvus.calls["create_snapshot"] == 1  # never silently recreated


async def test_verified_time_is_refreshed_hourly_not_on_every_check(milvus: FakeMilvus) -> None:
    status, _ = await converge(milvus, spec())
    soon = await step(milvus, spec(), status, now=NOW + datetime.timedelta(minutes=5))
    assert soon.status == status
    later = await step(milvus, spec(), status, now=NOW + datetime.timedelta(hours=1))
    assert later.status.last_verified_time == "2026-11-25T13:00:00Z"


async def test_drift_check_ignores_transient_errors(milvus: FakeMilvus) -> None:
    status, _ = await converge(milvus, spec())
    milvus.fail("list_snapshots", MilvusError(ErrorKind.UNAVAILABLE, "down"))
    outcome = await step(milvus, spec(), status)
    assert outcome.retry == Retry.DRIFT and outcome.status.phase == "Ready"


async def test_a_repointed_connection_is_never_used_to_judge_the_snapshot(milvus: FakeMilvus) -> None:
    status, _ = await converge(milvus, spec())
    calls = milvus.calls.total()
    moved = await step(milvus, spec(), status, endpoint="other-cluster:19530")
    assert milvus.calls.total() == calls  # no Milvus call against the other cluster
    assert moved.status.phase == "Ready" and moved.status.ready_to_use is False
    assert conditions(moved.status)["Ready"] == ("False", "EndpointChanged")
    assert moved.retry == Retry.DEPENDENCY and [e.reason for e in moved.events] == ["EndpointChanged"]
    back = await step(milvus, spec(), moved.status)  # pointed back: verified there, Ready again
    assert conditions(back.status) == {"Ready": ("True", "SnapshotReady")} and back.status.ready_to_use is True


async def test_failed_is_terminal(milvus: FakeMilvus) -> None:
    outcome = await step(milvus, spec(), MilvusSnapshotStatus(phase="Failed"))
    assert outcome.retry is None and milvus.calls.total() == 0


# ---- deletion ---------------------------------------------------------------------------------------


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


async def test_a_drop_refused_for_an_unclassified_reason_is_retried_with_milvus_words(milvus: FakeMilvus) -> None:
    """A finalizer never gives up: a Milvus failure of no known kind is retried as MilvusError, its text kept."""
    status, _ = await converge(milvus, spec())
    milvus.fail("drop_snapshot", MilvusError(ErrorKind.INVALID, "snapshot is being compacted", 65535))
    outcome = await delete(milvus, spec(), status)
    assert outcome.retry == Retry.BACKOFF and milvus.snapshots
    assert [(e.type, e.reason, e.message) for e in outcome.events] == [
        ("Warning", "MilvusError", "snapshot is being compacted")
    ]
    assert conditions(outcome.status)["Ready"] == ("False", "MilvusError")
    assert outcome.status.error is not None and outcome.status.error.code == 65535
    done = await delete(milvus, spec(), outcome.status)
    assert done.retry is None and not milvus.snapshots


async def test_deletion_after_collection_dropped_is_fine(milvus: FakeMilvus) -> None:
    status, _ = await converge(milvus, spec())
    milvus.collections.clear()
    outcome = await delete(milvus, spec(), status)
    assert outcome.retry is None


async def test_deleted_right_after_an_unknown_outcome_create_waits_for_it_to_land(milvus: FakeMilvus) -> None:
    """Deleted while the create was in flight (reply lost): finding nothing yet is not proof of nothing."""
    announced = await step(milvus, spec(), MilvusSnapshotStatus())
    milvus.fail("create_snapshot", MilvusError(ErrorKind.UNAVAILABLE, "deadline exceeded"))
    unknown = await step(milvus, spec(), announced.status, fresh=True)
    early = await delete(milvus, spec(), unknown.status)
    assert early.retry == Retry.BACKOFF and milvus.calls["drop_snapshot"] == 0
    milvus.put_snapshot("nightly_1", "books", description=ownership.marker(UID))  # the create landed
    landed = await delete(milvus, spec(), early.status)
    assert landed.retry is None and not milvus.snapshots
    after = NOW + CREATE_LANDING_GRACE
    nothing = await delete(milvus, spec(), early.status, now=after)
    assert nothing.retry is None  # past the grace: there is nothing to drop


async def test_deletion_through_a_repointed_connection_leaves_it_behind_plainly(milvus: FakeMilvus) -> None:
    status, _ = await converge(milvus, spec())
    out = await delete(milvus, spec(), status, refs=connected(milvus, endpoint="other:19530"))
    assert out.retry is None and milvus.calls["drop_snapshot"] == 0
    assert [e.reason for e in out.events] == ["SnapshotLeftBehind"] and HERE in out.events[0].message


async def test_deletion_without_credentials_waits_unless_the_namespace_is_going_away(milvus: FakeMilvus) -> None:
    status, _ = await converge(milvus, spec())
    blocked = Blocked(Missing.SECRET, "SecretNotFound", "Secret 'creds' not found", "Secret/ns/creds")
    waiting = await delete(milvus, spec(), status, refs=blocked)
    assert waiting.retry == Retry.DEPENDENCY and waiting.dependency == "Secret/ns/creds"
    released = await delete(milvus, spec(), status, refs=blocked, terminating=True)
    assert released.retry is None and [e.reason for e in released.events] == ["SnapshotLeftBehind"]
    assert "nightly_1" in released.events[0].message and "namespace is being deleted" in released.events[0].message
