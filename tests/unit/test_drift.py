"""Drift checks from one timer: one ListSnapshots per (connection, database, collection), reads and writes only for
snapshots whose status changes, the same status and events a snapshot's own check would produce."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import types
import uuid
from typing import Any

import kopf
import pytest

from milvus_snapshot_operator.api.snapshot import MilvusSnapshotSpec, MilvusSnapshotStatus
from milvus_snapshot_operator.handlers import drift
from milvus_snapshot_operator.handlers.bus import WakeupBus
from milvus_snapshot_operator.handlers.indexes import snapshots as snapshot_index
from milvus_snapshot_operator.reconcile.refs import Blocked, Connected, Missing
from milvus_snapshot_operator.reconcile.snapshot import DriftCheck, SnapshotInputs, drift_check, reconcile_snapshot

from .fakes import FakeMilvus

NS = "prod"
HERE = "127.0.0.1:19530"


def uid_of(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


class FakeKube:
    """The API server as the drift timer sees it: objects by name, every read, patch and event counted."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.reads: list[str] = []
        self.patches: list[tuple[str, dict[str, object]]] = []
        self.refused: list[str] = []  # patches of objects gone, or changed since the version the patch names
        self.events: list[tuple[str, str, str]] = []
        self.after_read: Any = None  # a change someone else makes between a read and the patch that follows it

    async def get_snapshot(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads.append(name)
        found = self.objects.get(name)
        copy = None if found is None else {**found, "metadata": dict(found["metadata"])}
        if self.after_read is not None:
            self.after_read(name)
        return copy

    async def patch_snapshot_status(
        self, namespace: str, name: str, status: dict[str, object], resource_version: str | None = None
    ) -> bool:
        obj = self.objects.get(name)
        if obj is None or (resource_version is not None and obj["metadata"]["resourceVersion"] != resource_version):
            self.refused.append(name)
            return False
        self.patches.append((name, status))
        obj["status"] = {**obj["status"], **status}
        self.bump(name)
        return True

    def bump(self, name: str) -> None:
        meta = self.objects[name]["metadata"]
        meta["resourceVersion"] = str(int(meta.get("resourceVersion", "1")) + 1)

    async def post_event(self, involved: dict[str, object], type_: str, reason: str, message: str, *_: str) -> None:
        self.events.append((str(involved["name"]), type_, reason))


async def ready_snapshot(milvus: FakeMilvus, name: str, collection: str, verified: datetime.datetime) -> dict[str, Any]:
    """A MilvusSnapshot as the daemon leaves it: made through the state machine, Ready, then verified at a time."""
    spec = MilvusSnapshotSpec.model_validate({"connectionRef": {"name": "milvus"}, "collectionName": collection})
    status = MilvusSnapshotStatus()
    while status.phase != "Ready":
        inputs = SnapshotInputs(name, uid_of(name), 1, spec, status, verified, Connected(milvus, "default", HERE))
        status = (await reconcile_snapshot(inputs)).status
        assert status.phase != "Failed", status.error
    body = {
        "apiVersion": "snapshot.milvus.io/v1alpha1",
        "kind": "MilvusSnapshot",
        "metadata": {"name": name, "namespace": NS, "uid": uid_of(name), "generation": 1, "resourceVersion": "1"},
        "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        "status": status.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    return body


async def index_of(bodies: list[dict[str, Any]]) -> dict[tuple[str, str], list[Any]]:
    """The snapshots index as Kopf would hold it, built by the real index function."""
    index: dict[tuple[str, str], list[Any]] = {}
    for body in bodies:
        meta = body["metadata"]
        found = await snapshot_index(
            namespace=NS, name=meta["name"], spec=body["spec"], status=body["status"], meta=meta
        )
        for key, entry in found.items():
            index[key] = [entry]
    return index


@pytest.fixture
def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


async def setup(
    now: datetime.datetime, count: int = 200, collections: int = 2, monkeypatch: Any = None
) -> tuple[drift.DriftChecks, FakeMilvus, FakeKube, dict[tuple[str, str], list[Any]]]:
    milvus = FakeMilvus(collections={("default", f"c{i}"): 10 for i in range(collections)})
    kube = FakeKube()
    bodies = [await ready_snapshot(milvus, f"s-{i}", f"c{i % collections}", now) for i in range(count)]
    kube.objects = {b["metadata"]["name"]: b for b in bodies}
    milvus.calls.clear()
    runtime = types.SimpleNamespace(kube=kube, bus=WakeupBus(), config=types.SimpleNamespace(drift_check_seconds=60))
    settings = kopf.OperatorSettings()
    index = await index_of(bodies)
    checks = drift.DriftChecks(runtime, index, {}, settings)  # type: ignore[arg-type]

    async def resolve(rt: object, namespace: str, name: str, entries: object) -> Connected | Blocked:
        return Connected(gateway=milvus, db_name="default", endpoint=HERE)

    monkeypatch.setattr(drift, "resolve_connection", resolve)
    return checks, milvus, kube, index


async def test_one_listing_per_collection_and_nothing_written_when_nothing_changed(
    now: datetime.datetime, monkeypatch: Any
) -> None:
    checks, milvus, kube, _ = await setup(now, monkeypatch=monkeypatch)
    done = await checks.sweep()
    assert done.snapshots == 200 and done.listings == 2
    assert milvus.calls["list_snapshots"] == 2 and milvus.calls["describe_snapshot"] == 0
    assert kube.reads == [] and kube.patches == [] and kube.events == []


async def test_a_vanished_snapshot_is_read_and_turns_missing_alone_and_comes_back(
    now: datetime.datetime, monkeypatch: Any
) -> None:
    checks, milvus, kube, index = await setup(now, monkeypatch=monkeypatch)
    name = kube.objects["s-3"]["status"]["snapshotName"]
    await milvus.drop_snapshot(name, "c1", "default")
    await checks.sweep()
    assert kube.reads == ["s-3"] and [p[0] for p in kube.patches] == ["s-3"]
    status = kube.objects["s-3"]["status"]
    assert status["phase"] == "Missing" and status["readyToUse"] is False
    assert kube.events == [("s-3", "Warning", "SnapshotMissing")]
    index.update(await index_of([kube.objects["s-3"]]))  # the watch event reaches the index
    kube.reads.clear(), kube.patches.clear(), kube.events.clear()
    await checks.sweep()  # still missing: nothing new to say
    assert kube.reads == [] and kube.patches == [] and kube.events == []
    milvus.put_snapshot(name, "c1")
    await checks.sweep()
    assert kube.objects["s-3"]["status"]["phase"] == "Ready"
    assert kube.events == [("s-3", "Normal", "SnapshotFound")]


async def test_last_verified_time_is_refreshed_hourly_without_a_read(now: datetime.datetime, monkeypatch: Any) -> None:
    verified = now - datetime.timedelta(hours=2)
    checks, _, kube, index = await setup(verified, count=3, monkeypatch=monkeypatch)
    # The entries hold the status's own timestamp (second precision, as written), which drift_check compares.
    assert {e.last_verified_time for found in index.values() for e in found} == {verified.replace(microsecond=0)}
    await checks.sweep()
    assert kube.reads == [] and len(kube.patches) == 3
    assert all(set(patch) == {"lastVerifiedTime"} for _, patch in kube.patches)


async def test_a_repointed_connection_makes_its_snapshots_endpoint_changed_without_listing(
    now: datetime.datetime, monkeypatch: Any
) -> None:
    checks, milvus, kube, _ = await setup(now, count=4, monkeypatch=monkeypatch)

    async def elsewhere(rt: object, namespace: str, name: str, entries: object) -> Connected:
        return Connected(gateway=milvus, db_name="default", endpoint="10.0.0.9:19530")

    monkeypatch.setattr(drift, "resolve_connection", elsewhere)
    await checks.sweep()
    assert milvus.calls["list_snapshots"] == 0 and len(kube.patches) == 4
    assert all(o["status"]["conditions"][0]["reason"] == "EndpointChanged" for o in kube.objects.values())
    assert sorted(e[2] for e in kube.events) == ["EndpointChanged"] * 4


async def test_snapshots_still_being_made_or_deleted_are_the_daemons_and_finalizers(
    now: datetime.datetime, monkeypatch: Any
) -> None:
    checks, milvus, kube, index = await setup(now, count=2, monkeypatch=monkeypatch)
    creating = {**kube.objects["s-0"], "status": {"phase": "Creating"}}
    deleting = {**kube.objects["s-1"], "metadata": {**kube.objects["s-1"]["metadata"], "deletionTimestamp": "t"}}
    index.update(await index_of([creating, deleting]))
    done = await checks.sweep()
    assert done.snapshots == 0 and milvus.calls["list_snapshots"] == 0


def test_drift_check_decides_from_the_entry_alone(now: datetime.datetime) -> None:
    milvus = FakeMilvus()
    refs = Connected(gateway=milvus, db_name="default", endpoint=HERE)
    entry = types.SimpleNamespace(
        phase="Ready",
        ready="True",
        ready_reason="SnapshotReady",
        endpoint=HERE,
        snapshot_name="s",
        last_verified_time=now,
    )
    check: Any = drift_check
    assert check(entry, refs, frozenset({"s"}), now) == DriftCheck.NOTHING
    assert check(entry, refs, frozenset(), now) == DriftCheck.RECONCILE
    assert check(entry, refs, None, now) == DriftCheck.NOTHING
    later = now + datetime.timedelta(hours=1)
    assert check(entry, refs, frozenset({"s"}), later) == DriftCheck.REFRESH
    blocked = Blocked(Missing.SECRET, "SecretNotFound", "Secret 'x' not found", "Secret/prod/x")
    assert check(entry, blocked, None, now) == DriftCheck.RECONCILE


async def test_a_blocked_connection_is_said_once_and_recovery_writes_once(
    now: datetime.datetime, monkeypatch: Any
) -> None:
    checks, milvus, kube, index = await setup(now, count=2, monkeypatch=monkeypatch)
    blocked = Blocked(Missing.SECRET, "SecretNotFound", "Secret 'x' not found", "Secret/prod/x")

    async def resolve_blocked(*_: object) -> Blocked:
        return blocked

    monkeypatch.setattr(drift, "resolve_connection", resolve_blocked)
    await checks.sweep()
    assert {ready_of(o) for o in kube.objects.values()} == {("False", "SecretNotFound")}
    index.update(await index_of(list(kube.objects.values())))
    kube.patches.clear()
    await checks.sweep()
    assert kube.patches == []  # still blocked: nothing new to write

    async def resolve_ok(*_: object) -> Connected:
        return Connected(gateway=milvus, db_name="default", endpoint=HERE)

    monkeypatch.setattr(drift, "resolve_connection", resolve_ok)
    await checks.sweep()
    assert {ready_of(o) for o in kube.objects.values()} == {("True", "SnapshotReady")}
    index.update(await index_of(list(kube.objects.values())))
    kube.patches.clear(), kube.events.clear()
    await checks.sweep()
    assert kube.patches == [] and kube.events == []


def ready_of(obj: dict[str, Any]) -> tuple[str, str]:
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    return ready["status"], ready["reason"]


async def test_a_replica_paused_by_peering_sweeps_nothing_until_it_leads_again(
    now: datetime.datetime, monkeypatch: Any
) -> None:
    """Kopf pauses a replica's watches and daemons, not the drift timer: its frozen index (here two hours old)
    would otherwise have it refresh every snapshot on every sweep, next to the replica that leads."""
    checks, milvus, kube, _ = await setup(now - datetime.timedelta(hours=2), count=5, monkeypatch=monkeypatch)
    checks.runtime.config.drift_check_seconds = 0.05
    paused = True
    checks.paused = lambda: paused
    task = asyncio.create_task(checks.run())
    try:
        await asyncio.sleep(1.5)  # the first sweep would come within 0.5 s (index settled, interval 0.05 s)
        assert milvus.calls["list_snapshots"] == 0 and kube.reads == [] and kube.patches == []
        paused = False
        for _ in range(100):
            if len(kube.patches) >= 5:
                break
            await asyncio.sleep(0.05)
        assert sorted(name for name, _ in kube.patches[:5]) == [f"s-{i}" for i in range(5)]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_entry_of_an_object_gone_unseen_is_tried_once_until_the_index_changes(
    now: datetime.datetime, monkeypatch: Any
) -> None:
    """Kopf keeps the index entry of an object deleted while its watch was not running (a paused replica)."""
    checks, _, kube, index = await setup(now - datetime.timedelta(hours=2), count=2, monkeypatch=monkeypatch)
    gone = kube.objects.pop("s-1")
    await checks.sweep()
    assert kube.refused == ["s-1"] and [name for name, _ in kube.patches] == ["s-0"]
    index.update(await index_of([kube.objects["s-0"]]))  # the watch event of s-0's refresh
    kube.refused.clear(), kube.patches.clear()
    await checks.sweep()
    assert kube.refused == [] and kube.patches == []  # s-0 verified just now; s-1 not tried again
    kube.objects["s-1"] = gone  # made again under the same name: a new entry, checked again
    index.update(await index_of([gone]))
    await checks.sweep()
    assert [name for name, _ in kube.patches] == ["s-1"]


async def test_a_deletion_that_begins_after_the_read_is_not_overwritten(
    now: datetime.datetime, monkeypatch: Any
) -> None:
    checks, milvus, kube, _ = await setup(now, count=1, monkeypatch=monkeypatch)
    await milvus.drop_snapshot(kube.objects["s-0"]["status"]["snapshotName"], "c0", "default")

    def finalizer_starts(name: str) -> None:
        kube.objects[name]["status"] = {**kube.objects[name]["status"], "phase": "Deleting"}
        kube.bump(name)

    kube.after_read = finalizer_starts
    await checks.sweep()
    assert kube.refused == ["s-0"] and kube.events == []
    assert kube.objects["s-0"]["status"]["phase"] == "Deleting"
