"""Which snapshot a MilvusRestore restores, and through which connection: decided once, then kept.

spec.source names it one of three ways: snapshotRef (a MilvusSnapshot), scheduleRef (the newest Ready
snapshot of a schedule, chosen once) or snapshotName + collectionName + connectionRef (a Milvus snapshot no
resource manages). Once the restore has persisted status.source, that choice is final: a schedule's newer
run, or the source resource going away, never changes what a running restore restores.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from ..api.restore import ResolvedSource, RestoreSource
from ..api.snapshot import SnapshotPhase
from .entries import SnapshotEntry
from .refs import Blocked, Missing, SourceFailed
from .retention import Child


@dataclasses.dataclass(frozen=True)
class SourcePlan:
    """The source, up to the database the connection may default."""

    connection: str
    snapshot_name: str
    collection_name: str
    db_name: str | None  # None: the connection's dbName
    snapshot_ref: str | None = None
    endpoint: str | None = None  # where the source MilvusSnapshot lives, when known
    source_row_count: int | None = None

    def resolve(self, connection_db: str, connection_endpoint: str) -> ResolvedSource:
        """With the connection resolved: its database unless the source names one, and where the restore runs
        (the source snapshot's endpoint; for a snapshotName, the connection's at the first resolution)."""
        return ResolvedSource(
            snapshot_name=self.snapshot_name,
            collection_name=self.collection_name,
            db_name=self.db_name or connection_db,
            connection=self.connection,
            snapshot_ref=self.snapshot_ref,
            source_row_count=self.source_row_count,
            endpoint=self.endpoint or connection_endpoint,
        )

    def elsewhere(self, connection_endpoint: str, wake: str) -> Blocked | None:
        """The connection points at another Milvus than the one the source lives on (repointed since the
        snapshot was made, or since this restore started): wait rather than restore, follow or switch an alias
        on the wrong cluster. Repointing the connection back resumes it."""
        if self.endpoint is None or self.endpoint == connection_endpoint:
            return None
        message = (
            f"MilvusConnection {self.connection!r} now points at {connection_endpoint}, but the source snapshot "
            f"{self.snapshot_name!r} lives on {self.endpoint}: nothing is done against another Milvus"
        )
        return Blocked(Missing.CONNECTION, "EndpointChanged", message, wake)


def choose_source(
    namespace: str,
    source: RestoreSource,
    persisted: ResolvedSource | None,
    snapshot: Callable[[str], SnapshotEntry | None],
    schedule_children: Callable[[str], Iterable[Child]],
    wake: Callable[[str, str], str],
) -> SourcePlan | Blocked | SourceFailed:
    """`snapshot(name)` and `schedule_children(schedule)` read the indexes; `wake(kind, name)` makes a key."""
    if persisted is not None:
        return SourcePlan(
            connection=persisted.connection,
            snapshot_name=persisted.snapshot_name,
            collection_name=persisted.collection_name,
            db_name=persisted.db_name,
            snapshot_ref=persisted.snapshot_ref,
            endpoint=persisted.endpoint,
            source_row_count=persisted.source_row_count,
        )
    if source.snapshot_name is not None:
        assert source.connection_ref is not None and source.collection_name is not None, "CEL requires them"
        return SourcePlan(
            connection=source.connection_ref.name,
            snapshot_name=source.snapshot_name,
            collection_name=source.collection_name,
            db_name=source.db_name,
        )
    if source.schedule_ref is not None:
        schedule = source.schedule_ref.name
        ref = newest_ready(schedule_children(schedule))
        if ref is None:
            return Blocked(
                Missing.SNAPSHOT,
                "NoReadySnapshot",
                f"MilvusSnapshotSchedule {schedule!r} has no Ready MilvusSnapshot (yet)",
                wake("MilvusSnapshot", "*"),
            )
    else:
        assert source.snapshot_ref is not None, "CEL requires exactly one source"
        ref = source.snapshot_ref.name
    return _from_snapshot(namespace, ref, snapshot(ref), wake("MilvusSnapshot", ref))


def _from_snapshot(
    namespace: str, ref: str, entry: SnapshotEntry | None, wake: str
) -> SourcePlan | Blocked | SourceFailed:
    if entry is None:
        return Blocked(
            Missing.SNAPSHOT,
            "SourceSnapshotNotFound",
            f"MilvusSnapshot {ref!r} not found in namespace {namespace!r}",
            wake,
        )
    if entry.phase == SnapshotPhase.FAILED:
        return SourceFailed(f"source MilvusSnapshot {ref!r} failed: {entry.error_message or 'failed'}")
    if entry.phase != SnapshotPhase.READY or not entry.snapshot_name or entry.deleting:
        state = "being deleted" if entry.deleting else (entry.phase or SnapshotPhase.PENDING)
        return Blocked(
            Missing.SNAPSHOT, "SourceSnapshotNotReady", f"waiting for MilvusSnapshot {ref!r} ({state})", wake
        )
    return SourcePlan(
        connection=entry.connection,
        snapshot_name=entry.snapshot_name,
        collection_name=entry.collection_name,
        db_name=entry.db_name,
        snapshot_ref=ref,
        endpoint=entry.endpoint,
        source_row_count=entry.source_row_count,
    )


def newest_ready(children: Iterable[Child]) -> str | None:
    """The schedule's newest Ready, not deleting, MilvusSnapshot (by run time, then name)."""
    ready = [c for c in children if c.phase == SnapshotPhase.READY and not c.deleting]
    return max(ready, key=lambda c: (c.time, c.name)).name if ready else None
