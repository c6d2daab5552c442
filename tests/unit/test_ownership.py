"""The ownership marker the create call writes into the Milvus snapshot's description."""

from __future__ import annotations

from milvus_snapshot_operator.milvus.gateway import SnapshotInfo
from milvus_snapshot_operator.reconcile import ownership

UID = "6f1c2a9e-5b7d-4c1e-9a3f-2d8e7b6c5a41"


def info(description: str, ts: int = 1) -> SnapshotInfo:
    return SnapshotInfo("s", description, "books", ("_default",), ts, "snapshots/1/metadata/2.json")


def test_marker_round_trip_keeps_the_users_description() -> None:
    stored = ownership.describe_with_marker("nightly backup", UID)
    assert ownership.owner(info(stored)) == UID
    assert stored == f"nightly backup {ownership.marker(UID)}"  # the user's text kept, as it was
    assert ownership.owner(info(ownership.describe_with_marker("", UID))) == UID


def test_someone_elses_snapshot_is_not_ours() -> None:
    assert ownership.owner(info("made by a script")) is None
    assert not ownership.is_ours(info("made by a script"), UID)
    assert not ownership.is_ours(info(ownership.marker("another-uid")), UID)


def test_an_adopted_snapshot_is_recognised_by_its_creation_timestamp() -> None:
    assert ownership.is_ours(info("pre-provisioned", ts=42), UID, adopted_create_ts=42)
    assert not ownership.is_ours(info("re-made since", ts=43), UID, adopted_create_ts=42)
