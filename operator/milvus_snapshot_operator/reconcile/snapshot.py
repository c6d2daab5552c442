"""MilvusSnapshot state machine.

One call performs at most one side-effecting Milvus operation, and the intent to perform it is
persisted (Retry.NOW) before the call is made. A re-run after a crash therefore either finds the
snapshot (describe) and adopts it as its own, or makes the call it had announced: never a duplicate,
never a conflict with itself.
"""

from __future__ import annotations

import dataclasses
import datetime

from ..api.common import rfc3339
from ..api.snapshot import DeletionPolicy, Intent, MilvusSnapshotSpec, MilvusSnapshotStatus, SnapshotPhase
from ..milvus.gateway import ErrorKind, MilvusError, MilvusGateway, SnapshotInfo
from .conditions import mark_progressing, mark_ready, mark_retrying, mark_stalled
from .milvus_errors import react
from .naming import snapshot_name_for
from .outcome import Event, Outcome, Retry
from .timestamps import hybrid_ts_to_datetime

CREATE = "CreateSnapshot"


@dataclasses.dataclass(frozen=True)
class Blocked:
    """A referenced object is missing: wait for it (GitOps applies in any order)."""

    reason: str
    message: str
    dependency: str


@dataclasses.dataclass
class SnapshotInputs:
    name: str
    generation: int | None
    spec: MilvusSnapshotSpec
    status: MilvusSnapshotStatus
    now: datetime.datetime
    gateway: MilvusGateway | None = None
    connection_db: str = "default"
    blocked: Blocked | None = None
    # True when this very process recorded the intent in the previous step and has made no Milvus call
    # since: the snapshot cannot exist yet, so the adoption check (describe) is skipped. After a restart
    # (or any failed attempt) it is False and the check runs: that is what makes a crash safe.
    intent_fresh: bool = False


async def reconcile_snapshot(inp: SnapshotInputs) -> Outcome[MilvusSnapshotStatus]:
    status = inp.status.model_copy(deep=True)
    if status.phase == SnapshotPhase.FAILED:
        return Outcome(status)
    spec = inp.spec
    status.snapshot_name = status.snapshot_name or spec.snapshot_name or snapshot_name_for(inp.name)
    status.collection_name = spec.collection_name
    status.db_name = status.db_name or spec.db_name or inp.connection_db
    status.deletion_policy = spec.effective_deletion_policy()
    if inp.blocked is not None:
        return _blocked(inp, status, inp.blocked)
    assert inp.gateway is not None, "a gateway is required unless blocked"
    try:
        if status.phase == SnapshotPhase.READY:
            return await _verify(inp, inp.gateway, status)
        if spec.adopt:
            return await _adopt(inp, inp.gateway, status)
        if status.intent is None:
            return await _announce(inp, inp.gateway, status)
        return await _create(inp, inp.gateway, status)
    except MilvusError as exc:
        outcome = react(exc, status, inp.generation, inp.now, terminal_reason="SnapshotFailed")
        if outcome.retry is None:
            status.phase = SnapshotPhase.FAILED
            status.ready_to_use = False
            status.intent = None
        return outcome


def _blocked(inp: SnapshotInputs, status: MilvusSnapshotStatus, blocked: Blocked) -> Outcome[MilvusSnapshotStatus]:
    if status.phase is None:
        status.phase = SnapshotPhase.PENDING
    mark_retrying(status, blocked.reason, blocked.message, inp.generation, inp.now)
    return Outcome(status, Retry.DEPENDENCY, dependency=blocked.dependency)


async def _announce(
    inp: SnapshotInputs, gw: MilvusGateway, status: MilvusSnapshotStatus
) -> Outcome[MilvusSnapshotStatus]:
    """Before the first create: refuse a name someone else's snapshot already holds, then record intent."""
    name, collection, db = _ids(status)
    existing = await gw.describe_snapshot(name, collection, db)
    if existing is not None:
        message = (
            f"snapshot {name!r} already exists on collection {collection!r} (database {db!r}) and was not "
            "created by this MilvusSnapshot; set spec.adopt: true to adopt it, or choose spec.snapshotName"
        )
        status.phase = SnapshotPhase.FAILED
        status.ready_to_use = False
        mark_stalled(status, "SnapshotExists", message, inp.generation, inp.now)
        return Outcome(status, None, [Event("Warning", "SnapshotExists", message)])
    status.phase = SnapshotPhase.CREATING
    status.intent = Intent(operation=CREATE, time=rfc3339(inp.now))
    status.adopted = False
    mark_progressing(
        status, "SnapshotInProgress", f"creating snapshot {name!r} of {collection!r}", inp.generation, inp.now
    )
    return Outcome(status, Retry.NOW)


async def _create(
    inp: SnapshotInputs, gw: MilvusGateway, status: MilvusSnapshotStatus
) -> Outcome[MilvusSnapshotStatus]:
    """Intent is on record: adopt the snapshot if an earlier run already made it, else make it now."""
    name, collection, db = _ids(status)
    info = None if inp.intent_fresh else await gw.describe_snapshot(name, collection, db)
    if info is None:
        if inp.spec.flush:
            await gw.flush(collection, db)
        status.source_row_count = await gw.row_count(collection, db)
        try:
            await gw.create_snapshot(name, collection, db, inp.spec.description, inp.spec.compaction_protection_seconds)
        except MilvusError as exc:
            if exc.kind != ErrorKind.ALREADY_EXISTS:  # a lost reply to our own create: adopt below
                raise
        info = await gw.describe_snapshot(name, collection, db)
        if info is None:
            raise MilvusError(ErrorKind.UNAVAILABLE, f"snapshot {name!r} not visible right after create")
    _fill(status, info)
    mark_ready(status, "SnapshotReady", f"snapshot {name!r} of {collection!r} is ready", inp.generation, inp.now)
    message = f"created snapshot {name!r} of collection {collection!r} at {status.creation_time}"
    return Outcome(status, Retry.DRIFT, [Event("Normal", "SnapshotCreated", message)])


async def _adopt(inp: SnapshotInputs, gw: MilvusGateway, status: MilvusSnapshotStatus) -> Outcome[MilvusSnapshotStatus]:
    name, collection, db = _ids(status)
    info = await gw.describe_snapshot(name, collection, db)
    if info is None:
        status.phase = SnapshotPhase.PENDING
        message = f"snapshot {name!r} to adopt does not exist on collection {collection!r} (database {db!r})"
        mark_retrying(status, "SnapshotNotFound", message, inp.generation, inp.now)
        return Outcome(status, Retry.SLOW)
    status.adopted = True
    _fill(status, info)
    mark_ready(status, "SnapshotReady", f"adopted existing snapshot {name!r}", inp.generation, inp.now)
    return Outcome(status, Retry.DRIFT, [Event("Normal", "SnapshotAdopted", f"adopted snapshot {name!r}")])


async def _verify(
    inp: SnapshotInputs, gw: MilvusGateway, status: MilvusSnapshotStatus
) -> Outcome[MilvusSnapshotStatus]:
    """Drift check: a Ready snapshot that vanished from Milvus is reported, never silently recreated."""
    name, collection, db = _ids(status)
    try:
        names = await gw.list_snapshots(collection, db)
    except MilvusError as exc:
        if exc.kind != ErrorKind.COLLECTION_NOT_FOUND:
            return Outcome(status, Retry.DRIFT)  # cannot tell now; keep the last known truth
        names = []
    if name in names:
        return Outcome(status, Retry.DRIFT)
    message = f"snapshot {name!r} no longer exists in Milvus (collection {collection!r}, database {db!r})"
    status.phase = SnapshotPhase.FAILED
    status.ready_to_use = False
    mark_stalled(status, "SnapshotMissing", message, inp.generation, inp.now)
    return Outcome(status, None, [Event("Warning", "SnapshotMissing", message)])


def _fill(status: MilvusSnapshotStatus, info: SnapshotInfo) -> None:
    status.phase = SnapshotPhase.READY
    status.ready_to_use = True
    status.intent = None
    status.partition_names = list(info.partition_names)
    status.create_ts = info.create_ts
    status.creation_time = rfc3339(hybrid_ts_to_datetime(info.create_ts))
    status.s3_location = info.s3_location


def _ids(status: MilvusSnapshotStatus) -> tuple[str, str, str]:
    assert status.snapshot_name and status.collection_name and status.db_name
    return status.snapshot_name, status.collection_name, status.db_name


# ---- deletion ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class DeletionInputs:
    spec: MilvusSnapshotSpec
    status: MilvusSnapshotStatus
    generation: int | None
    now: datetime.datetime
    gateway: MilvusGateway | None = None
    blocked: Blocked | None = None


def needs_drop(spec: MilvusSnapshotSpec, status: MilvusSnapshotStatus) -> bool:
    """Drop only what this resource made or adopted, and only under the Delete policy."""
    policy = status.deletion_policy or spec.effective_deletion_policy()
    if policy != DeletionPolicy.DELETE or not status.snapshot_name:
        return False
    return status.phase in (SnapshotPhase.READY, SnapshotPhase.DELETING) or status.intent is not None


async def delete_snapshot(inp: DeletionInputs) -> Outcome[MilvusSnapshotStatus]:
    """Finalizer step. Retry=None means the finalizer may be removed."""
    status = inp.status.model_copy(deep=True)
    if not needs_drop(inp.spec, status):
        return Outcome(status)
    name, collection, db = _ids(status)
    if inp.blocked is not None:
        mark_retrying(status, inp.blocked.reason, inp.blocked.message, inp.generation, inp.now)
        return Outcome(status, Retry.DEPENDENCY, dependency=inp.blocked.dependency)
    assert inp.gateway is not None
    status.phase = SnapshotPhase.DELETING
    try:
        await inp.gateway.drop_snapshot(name, collection, db)
    except MilvusError as exc:
        if exc.kind == ErrorKind.PINNED:
            message = f"snapshot {name!r} is in use by a running restore; deletion waits: {exc.message}"
            first = not status.error or status.error.reason != "DeletionBlocked"
            mark_retrying(status, "DeletionBlocked", message, inp.generation, inp.now, exc.code)
            events = [Event("Warning", "DeletionBlocked", message)] if first else []
            return Outcome(status, Retry.BACKOFF, events)
        if exc.kind not in (ErrorKind.NOT_FOUND, ErrorKind.COLLECTION_NOT_FOUND):
            return react(exc, status, inp.generation, inp.now, terminal_reason=None)
    return Outcome(status, None, [Event("Normal", "SnapshotDeleted", f"dropped snapshot {name!r} in Milvus")])
