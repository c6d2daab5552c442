"""The restore's source choice (reconcile/restore_source.py): which snapshot, through which connection,
decided once and kept; missing or unready sources are waited for with what is missing named."""

from __future__ import annotations

import datetime

from milvus_snapshot_operator.api.restore import ResolvedSource, RestoreSource
from milvus_snapshot_operator.reconcile.entries import SnapshotEntry
from milvus_snapshot_operator.reconcile.refs import Blocked, Missing, SourceFailed
from milvus_snapshot_operator.reconcile.restore_source import SourcePlan, choose_source
from milvus_snapshot_operator.reconcile.retention import Child

T0 = datetime.datetime(2026, 11, 25, 10, tzinfo=datetime.UTC)
READY = SnapshotEntry("nightly", "milvus", "books", "Ready", "nightly", "prod", "h:19530")


def choose(
    source: dict[str, object],
    snapshots: dict[str, SnapshotEntry] | None = None,
    children: list[Child] | None = None,
    persisted: ResolvedSource | None = None,
) -> SourcePlan | Blocked | SourceFailed:
    return choose_source(
        "ns",
        RestoreSource.model_validate(source),
        persisted,
        snapshot=lambda name: (snapshots or {}).get(name),
        schedule_children=lambda schedule: children or [],
        wake=lambda kind, name: f"{kind}/ns/{name}",
    )


def test_snapshot_ref_takes_everything_from_the_snapshot() -> None:
    plan = choose({"snapshotRef": {"name": "nightly"}}, {"nightly": READY})
    assert isinstance(plan, SourcePlan)
    assert plan.resolve("default", "h:19530") == ResolvedSource(
        snapshot_name="nightly",
        collection_name="books",
        db_name="prod",
        connection="milvus",
        snapshot_ref="nightly",
        endpoint="h:19530",
    )


def test_snapshot_name_defaults_its_database_from_the_connection_once_it_resolves() -> None:
    plan = choose({"snapshotName": "legacy", "collectionName": "books", "connectionRef": {"name": "m"}})
    assert isinstance(plan, SourcePlan) and plan.db_name is None
    assert plan.resolve("analytics", "m:19530").db_name == "analytics"


def test_waits_naming_what_is_missing() -> None:
    missing = choose({"snapshotRef": {"name": "nightly"}})
    assert isinstance(missing, Blocked) and missing.missing == Missing.SNAPSHOT
    assert (missing.reason, missing.wake) == ("SourceSnapshotNotFound", "MilvusSnapshot/ns/nightly")
    creating = choose(
        {"snapshotRef": {"name": "nightly"}},
        {"nightly": SnapshotEntry("nightly", "m", "b", "Creating", None, None, None)},
    )
    assert (
        isinstance(creating, Blocked) and creating.reason == "SourceSnapshotNotReady" and "Creating" in creating.message
    )
    deleting = SnapshotEntry("nightly", "m", "books", "Ready", "nightly", "default", None, deleting=True)
    assert isinstance(choose({"snapshotRef": {"name": "nightly"}}, {"nightly": deleting}), Blocked)


def test_a_failed_source_fails_the_restore() -> None:
    failed = SnapshotEntry("nightly", "m", "books", "Failed", "nightly", "default", None, error_message="boom")
    out = choose({"snapshotRef": {"name": "nightly"}}, {"nightly": failed})
    assert isinstance(out, SourceFailed) and "boom" in out.message


def test_schedule_ref_picks_the_newest_ready_run_then_keeps_it() -> None:
    children = [
        Child("daily-1", T0, phase="Ready"),
        Child("daily-2", T0 + datetime.timedelta(days=1), phase="Ready"),
        Child("daily-3", T0 + datetime.timedelta(days=2), phase="Creating"),
    ]
    entries = {
        name: SnapshotEntry(name, "milvus", "books", "Ready", name.replace("-", "_"), "default", None)
        for name in ("daily-1", "daily-2")
    }
    plan = choose({"scheduleRef": {"name": "daily"}}, entries, children)
    assert isinstance(plan, SourcePlan) and plan.snapshot_ref == "daily-2"
    persisted = plan.resolve("default", "m:19530")
    later = [*children, Child("daily-4", T0 + datetime.timedelta(days=3), phase="Ready")]
    kept = choose({"scheduleRef": {"name": "daily"}}, entries, later, persisted=persisted)
    assert isinstance(kept, SourcePlan) and kept.snapshot_ref == "daily-2"  # a newer run changes nothing
    none_yet = choose({"scheduleRef": {"name": "daily"}}, {}, [Child("daily-1", T0, phase="Creating")])
    assert isinstance(none_yet, Blocked) and none_yet.reason == "NoReadySnapshot"


def test_a_source_on_another_milvus_than_the_connection_now_points_at_waits() -> None:
    plan = choose({"snapshotRef": {"name": "nightly"}}, {"nightly": READY})
    assert isinstance(plan, SourcePlan)
    assert plan.elsewhere("h:19530", "MilvusConnection/ns/milvus") is None
    moved = plan.elsewhere("other-cluster:19530", "MilvusConnection/ns/milvus")
    assert isinstance(moved, Blocked) and moved.reason == "EndpointChanged" and moved.missing == Missing.CONNECTION
    assert "lives on h:19530" in moved.message and moved.wake == "MilvusConnection/ns/milvus"


def test_a_started_restore_stays_bound_to_the_endpoint_it_ran_on() -> None:
    unmanaged = choose({"snapshotName": "legacy", "collectionName": "books", "connectionRef": {"name": "m"}})
    assert isinstance(unmanaged, SourcePlan) and unmanaged.elsewhere("anywhere:1", "k") is None  # not known yet
    persisted = unmanaged.resolve("default", "m:19530")  # the first resolution records where it runs
    kept = choose(
        {"snapshotName": "legacy", "collectionName": "books", "connectionRef": {"name": "m"}}, persisted=persisted
    )
    assert isinstance(kept, SourcePlan) and kept.endpoint == "m:19530"
    assert isinstance(kept.elsewhere("n:19530", "k"), Blocked) and kept.elsewhere("m:19530", "k") is None
