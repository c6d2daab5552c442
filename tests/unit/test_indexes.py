"""The Kopf indexes as typed entries: each schedule gets its own children (and how far each is its own),
snapshots and restores carry what connections, retention and other restores decide on."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from milvus_snapshot_operator.handlers import indexes
from milvus_snapshot_operator.reconcile.restore_source import newest_ready
from milvus_snapshot_operator.reconcile.retention import Child

OPERATOR_CREATED = [{"manager": "milvus-snapshot-operator", "operation": "Update", "fieldsV1": {"f:spec": {}}}]
KUBECTL_APPLIED = [{"manager": "kubectl-client-side-apply", "operation": "Update", "fieldsV1": {"f:spec": {}}}]


async def child(name: str, schedule: str, phase: str | None, run_time: str, **meta: Any) -> Child:
    labels = {"snapshot.milvus.io/schedule": schedule, **meta.pop("labels", {})}
    annotations = {"snapshot.milvus.io/run-time": run_time, **meta.pop("annotations", {})}
    found = await indexes.schedule_children(
        namespace="team-a",
        name=name,
        meta=kopf.Meta(
            kopf.Body(
                {
                    "metadata": {
                        "labels": labels,
                        "annotations": annotations,
                        "creationTimestamp": "2026-01-01T00:00:00Z",
                        **meta,
                    }
                }
            )
        ),
        status={"phase": phase} if phase else {},
    )
    assert list(found) == [("team-a", schedule)]
    (value,) = found.values()
    return value


async def test_children_are_keyed_by_their_schedule_label() -> None:
    kept = await child("a-2", "a", None, "2026-11-25T11:00:00Z", labels={"snapshot.milvus.io/keep": "true"})
    assert kept.keep and kept.phase is None and not kept.deleting and kept.time.hour == 11
    assert (await child("a-3", "a", "Ready", "2026-11-25T12:00:00Z", deletionTimestamp="2026-11-25T13:00:00Z")).deleting
    assert (await child("b-1", "b", "Ready", "2026-11-25T10:00:00Z")).name == "b-1"


async def test_a_run_time_that_is_not_a_time_falls_back_to_creation() -> None:
    """A hand-edited run-time annotation used to halt the schedule's daemon on every attempt."""
    broken = await child("a-1", "a", "Ready", "yesterday")
    assert broken.time.isoformat() == "2026-01-01T00:00:00+00:00"


async def test_ownership_needs_the_schedule_uid_and_the_operator_as_creator() -> None:
    ours = await child(
        "a-1",
        "a",
        "Ready",
        "2026-11-25T10:00:00Z",
        annotations={"snapshot.milvus.io/schedule-uid": "u-1"},
        managedFields=OPERATOR_CREATED,
    )
    assert ours.owned_by("u-1") and not ours.owned_by("u-2")  # a re-created schedule of the same name
    copied = await child(
        "a-9",
        "a",
        "Ready",
        "2026-11-25T10:00:00Z",
        annotations={"snapshot.milvus.io/schedule-uid": "u-1"},
        managedFields=KUBECTL_APPLIED,
    )
    assert not copied.owned_by("u-1")  # a copied manifest carries the annotation, not the creator


async def test_schedule_ref_picks_the_newest_ready_child() -> None:
    children = [
        await child("a-1", "a", "Ready", "2026-11-25T10:00:00Z"),
        await child("a-2", "a", "Ready", "2026-11-25T11:00:00Z"),
        await child("a-3", "a", "Creating", "2026-11-25T12:00:00Z"),
        await child("a-4", "a", "Failed", "2026-11-25T13:00:00Z"),
        await child("a-5", "a", "Ready", "2026-11-25T14:00:00Z", deletionTimestamp="2026-11-25T15:00:00Z"),
    ]
    assert newest_ready(children) == "a-2"
    assert newest_ready(children[2:4]) is None


async def test_snapshot_entry_knows_whether_its_finalizer_needs_milvus() -> None:
    spec = {"connectionRef": {"name": "milvus"}, "collectionName": "books"}
    meta = kopf.Meta(kopf.Body({"metadata": {}}))
    ready = (
        await indexes.snapshots(
            namespace="ns",
            name="s",
            spec=spec,
            meta=meta,
            status={"phase": "Ready", "snapshotName": "s", "dbName": "default", "endpoint": "h:1"},
        )
    )[("ns", "s")]
    assert ready.needs_drop and ready.connection == "milvus" and ready.endpoint == "h:1"
    pending = await indexes.snapshots(namespace="ns", name="p", spec=spec, meta=meta, status={"phase": "Pending"})
    assert not pending[("ns", "p")].needs_drop
    retained = await indexes.snapshots(
        namespace="ns",
        name="r",
        spec={**spec, "deletionPolicy": "Retain"},
        meta=meta,
        status={"phase": "Ready", "snapshotName": "r", "dbName": "default"},
    )
    assert not retained[("ns", "r")].needs_drop


async def test_restore_entry_resolves_its_connection_and_snapshot() -> None:
    meta = kopf.Meta(kopf.Body({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}}))
    spec = {"source": {"scheduleRef": {"name": "daily"}}, "target": {"collectionName": "t"}}
    waiting = (await indexes.restores(namespace="ns", name="r", spec=spec, meta=meta, status={}))[("ns", "r")]
    assert waiting.schedule_ref == "daily" and waiting.snapshot_ref is None and waiting.active and not waiting.started
    resolved = (
        await indexes.restores(
            namespace="ns",
            name="r",
            spec=spec,
            meta=meta,
            status={
                "phase": "Restoring",
                "jobId": 7,
                "targetDbName": "db",
                "source": {
                    "snapshotName": "s",
                    "collectionName": "c",
                    "dbName": "db",
                    "connection": "m",
                    "snapshotRef": "daily-1",
                },
            },
        )
    )[("ns", "r")]
    assert (resolved.connection, resolved.snapshot_ref, resolved.schedule_ref) == ("m", "daily-1", None)
    assert resolved.started and resolved.job_id == 7 and resolved.target_db == "db"


@pytest.mark.parametrize(("phase", "active"), [("Restoring", True), ("AwaitingCutover", True), ("Completed", False),
                                               ("RolledBack", False), ("Failed", False)])  # fmt: skip
async def test_an_ended_restore_is_not_active(phase: str, active: bool) -> None:
    # A RolledBack restore once counted as active: its connection's deletion waited forever for it, and a
    # second restore into its target waited TargetClaimed instead of failing TargetCollectionExists.
    meta = kopf.Meta(kopf.Body({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}}))
    spec = {"source": {"snapshotRef": {"name": "s"}}, "target": {"collectionName": "t"}, "alias": "a"}
    entry = await indexes.restores(namespace="ns", name="r", spec=spec, meta=meta, status={"phase": phase})
    assert entry[("ns", "r")].active is active
