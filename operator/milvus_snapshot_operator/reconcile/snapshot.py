"""MilvusSnapshot state machine.

One call performs at most one side-effecting Milvus operation, and the intent to perform it is persisted
(Retry.NOW) before the call is made, together with the endpoint it will be made on. A re-run after a crash
finds the snapshot (describe) and takes it over only when it is provably ours (the ownership marker the
create call wrote); a snapshot someone else holds under that name is SnapshotExists, never adopted and never
dropped. Every Milvus call for a snapshot goes to the endpoint recorded for it: a repointed connection makes
it Ready=False (EndpointChanged) instead of judging it against the wrong cluster.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum

from ..api.common import READY, ConditionStatus, Intent, parse_rfc3339_or_none, rfc3339
from ..api.snapshot import DeletionPolicy, MilvusSnapshotSpec, MilvusSnapshotStatus, SnapshotPhase
from ..milvus.gateway import ErrorKind, MilvusError, MilvusGateway, SnapshotInfo
from . import ownership
from .entries import SnapshotEntry
from .milvus_errors import UNKNOWN_OUTCOME, retry, retry_or_fail
from .naming import snapshot_name_for
from .outcome import Event, Outcome, Retry
from .refs import Blocked, Connected
from .timestamps import hybrid_ts_to_datetime

CREATE = "CreateSnapshot"
# lastVerifiedTime is refreshed at most this often: a drift check that changes nothing writes nothing else.
VERIFIED_TIME_REFRESH = datetime.timedelta(hours=1)
# After a create whose outcome is unknown (timeout, lost reply, a crash mid-call), Milvus may still be
# executing it: a deletion that finds nothing waits this long before it concludes there is nothing to drop.
CREATE_LANDING_GRACE = datetime.timedelta(seconds=30)
SNAPSHOT_MISSING = "SnapshotMissing"
ENDPOINT_CHANGED = "EndpointChanged"

# The names ListSnapshots returned for a collection, listed once for all its resources (handlers/drift.py), or
# the error that listing got.
Listing = frozenset[str] | MilvusError


@dataclasses.dataclass(frozen=True)
class SnapshotInputs:
    name: str
    uid: str
    generation: int | None
    spec: MilvusSnapshotSpec
    status: MilvusSnapshotStatus
    now: datetime.datetime
    refs: Connected | Blocked
    # True when this very process recorded the intent in the previous step and has made no Milvus call
    # since: the snapshot cannot exist yet, so the adoption check (describe) is skipped. After a restart
    # (or any failed attempt) it is False and the check runs: that is what makes a crash safe.
    intent_fresh: bool = False
    # Drift checks: the collection's snapshots as already listed, instead of a ListSnapshots of its own.
    listed: Listing | None = None


def settled(status: MilvusSnapshotStatus) -> bool:
    """Made (or adopted) and recorded where: from now on only drift checks look at it, from one operator-level
    timer (handlers/drift.py), so a Ready snapshot keeps no task of its own."""
    return (
        status.phase in (SnapshotPhase.READY, SnapshotPhase.MISSING)
        and status.endpoint is not None
        and status.snapshot_name is not None
        and status.intent is None
    )


class DriftCheck(enum.StrEnum):
    """What a drift check must do for one settled snapshot, decided from its index entry alone."""

    NOTHING = "Nothing"  # what it shows is still true
    REFRESH = "Refresh"  # still true, but lastVerifiedTime is due: write that field alone
    RECONCILE = "Reconcile"  # something changed: read it, run reconcile_snapshot, write what differs


def drift_check(
    entry: SnapshotEntry, refs: Connected | Blocked, listed: Listing | None, now: datetime.datetime
) -> DriftCheck:
    """The cheap half of a drift check, so that a sweep over thousands of snapshots reads and writes only those
    whose status would change (reconcile_snapshot, given the same listing, decides how)."""
    if isinstance(refs, Blocked):
        return DriftCheck.NOTHING if entry.ready_reason == refs.reason else DriftCheck.RECONCILE
    if entry.endpoint != refs.endpoint:
        return DriftCheck.NOTHING if entry.ready_reason == ENDPOINT_CHANGED else DriftCheck.RECONCILE
    if listed is None or (isinstance(listed, MilvusError) and listed.kind != ErrorKind.COLLECTION_NOT_FOUND):
        return DriftCheck.NOTHING  # cannot tell now; keep the last known truth
    present = not isinstance(listed, MilvusError) and entry.snapshot_name in listed
    if not present:
        missing = entry.phase == SnapshotPhase.MISSING and entry.ready_reason == SNAPSHOT_MISSING
        return DriftCheck.NOTHING if missing else DriftCheck.RECONCILE
    if entry.phase != SnapshotPhase.READY or entry.ready != ConditionStatus.TRUE:
        return DriftCheck.RECONCILE
    last = entry.last_verified_time
    return DriftCheck.REFRESH if last is None or now - last >= VERIFIED_TIME_REFRESH else DriftCheck.NOTHING


async def reconcile_snapshot(inp: SnapshotInputs) -> Outcome[MilvusSnapshotStatus]:
    status = inp.status.model_copy(deep=True)
    if status.phase == SnapshotPhase.FAILED:
        return Outcome(status)
    if isinstance(inp.refs, Blocked):  # nothing derived from an unresolved reference is persisted
        if status.phase is None:
            status.phase = SnapshotPhase.PENDING
        status.mark_retrying(inp.refs.reason, inp.refs.message, inp.generation, inp.now)
        return Outcome(status, Retry.DEPENDENCY, dependency=inp.refs.wake)
    conn = inp.refs
    spec = inp.spec
    status.snapshot_name = status.snapshot_name or spec.snapshot_name or snapshot_name_for(inp.name)
    status.collection_name = spec.collection_name
    status.db_name = status.db_name or spec.db_name or conn.db_name
    status.deletion_policy = DeletionPolicy(spec.effective_deletion_policy())
    if status.endpoint is not None and status.endpoint != conn.endpoint:
        return _moved(inp, status, conn)
    try:
        if status.phase in (SnapshotPhase.READY, SnapshotPhase.MISSING):
            return await _verify(inp, conn.gateway, status)
        if spec.adopt:
            return await _adopt(inp, conn, status)
        if status.intent is None:
            return _announce(inp, conn, status)
        return await _create(inp, conn.gateway, status)
    except MilvusError as exc:
        if exc.kind in UNKNOWN_OUTCOME and status.intent is not None:
            status.intent.attempt_time = rfc3339(inp.now)
        return retry_or_fail(exc, status, inp.generation, inp.now, transition="SnapshotFailed")


def _announce(inp: SnapshotInputs, conn: Connected, status: MilvusSnapshotStatus) -> Outcome[MilvusSnapshotStatus]:
    """Record the intent and where the call will go, before any side effect (no Milvus call here)."""
    name, collection, _ = _ids(status)
    status.phase = SnapshotPhase.CREATING
    status.intent = Intent(operation=CREATE, time=rfc3339(inp.now))
    status.endpoint = conn.endpoint
    status.adopted = False
    status.mark_progressing(
        "SnapshotInProgress", f"creating snapshot {name!r} of {collection!r}", inp.generation, inp.now
    )
    return Outcome(status, Retry.NOW)


async def _create(
    inp: SnapshotInputs, gw: MilvusGateway, status: MilvusSnapshotStatus
) -> Outcome[MilvusSnapshotStatus]:
    """Intent is on record: take over the snapshot if an earlier run of ours made it, else make it now."""
    name, collection, db = _ids(status)
    info = None if inp.intent_fresh else await gw.describe_snapshot(name, collection, db)
    if info is None:
        if inp.spec.flush:
            await gw.flush(collection, db)
        description = ownership.describe_with_marker(inp.spec.description, inp.uid)
        # The row count and the create both see the flushed collection: made at once, not one after the other.
        counted, created = await asyncio.gather(
            gw.row_count(collection, db),
            gw.create_snapshot(name, collection, db, description, inp.spec.compaction_protection_seconds),
            return_exceptions=True,
        )
        # ALREADY_EXISTS: ours (a lost reply, or pymilvus re-sending the create) or someone else's: the marker
        # (describe below) says which.
        if isinstance(created, BaseException) and not (
            isinstance(created, MilvusError) and created.kind == ErrorKind.ALREADY_EXISTS
        ):
            raise created
        # A count that failed beside a create that may have landed is taken again, alone (rare).
        status.source_row_count = counted if isinstance(counted, int) else await gw.row_count(collection, db)
        info = await gw.describe_snapshot(name, collection, db)
        if info is None:
            raise MilvusError(ErrorKind.UNAVAILABLE, f"snapshot {name!r} not visible right after create")
    if not ownership.is_ours(info, inp.uid):
        return _taken(inp, status, info)
    _fill(status, info, inp.now)
    status.mark_ready("SnapshotReady", f"snapshot {name!r} of {collection!r} is ready", inp.generation, inp.now)
    message = f"created snapshot {name!r} of collection {collection!r} at {status.creation_time}"
    return Outcome(status, Retry.DRIFT, [Event("Normal", "SnapshotCreated", message)])


def _taken(inp: SnapshotInputs, status: MilvusSnapshotStatus, info: SnapshotInfo) -> Outcome[MilvusSnapshotStatus]:
    name, collection, db = _ids(status)
    holder = ownership.owner(info)
    by = f"MilvusSnapshot with UID {holder}" if holder else "someone outside this resource"
    message = (
        f"snapshot {name!r} already exists on collection {collection!r} (database {db!r}), created by {by}; "
        "it is left alone and never dropped by this resource. Set spec.adopt: true to adopt it, or choose "
        "another spec.snapshotName"
    )
    status.fail("SnapshotExists", message, inp.generation, inp.now)
    return Outcome(status, None, [Event("Warning", "SnapshotExists", message)])


async def _adopt(inp: SnapshotInputs, conn: Connected, status: MilvusSnapshotStatus) -> Outcome[MilvusSnapshotStatus]:
    name, collection, db = _ids(status)
    info = await conn.gateway.describe_snapshot(name, collection, db)
    if info is None:
        status.phase = SnapshotPhase.PENDING
        message = f"snapshot {name!r} to adopt does not exist on collection {collection!r} (database {db!r})"
        status.mark_retrying("SnapshotNotFound", message, inp.generation, inp.now)
        return Outcome(status, Retry.SLOW)
    status.adopted = True
    status.endpoint = conn.endpoint
    _fill(status, info, inp.now)
    status.mark_ready("SnapshotReady", f"adopted existing snapshot {name!r}", inp.generation, inp.now)
    return Outcome(status, Retry.DRIFT, [Event("Normal", "SnapshotAdopted", f"adopted snapshot {name!r}")])


async def _verify(
    inp: SnapshotInputs, gw: MilvusGateway, status: MilvusSnapshotStatus
) -> Outcome[MilvusSnapshotStatus]:
    """Drift check: a snapshot that vanished is Missing (Ready=False, recoverable), never silently recreated."""
    name, collection, db = _ids(status)
    listed = inp.listed if inp.listed is not None else await list_snapshots(gw, collection, db)
    if isinstance(listed, MilvusError) and listed.kind != ErrorKind.COLLECTION_NOT_FOUND:
        return Outcome(status, Retry.DRIFT)  # cannot tell now; keep the last known truth
    if not isinstance(listed, MilvusError) and name in listed:
        events = []
        ready = status.condition(READY)
        restored = status.phase == SnapshotPhase.MISSING or ready is None or ready.status != ConditionStatus.TRUE
        if restored:
            if status.phase == SnapshotPhase.MISSING:
                events.append(Event("Normal", "SnapshotFound", f"snapshot {name!r} is present in Milvus again"))
            status.phase = SnapshotPhase.READY
            status.ready_to_use = True
            message = f"snapshot {name!r} of {collection!r} is present in Milvus"
            status.mark_ready("SnapshotReady", message, inp.generation, inp.now)
        last = parse_rfc3339_or_none(status.last_verified_time)
        if restored or last is None or inp.now - last >= VERIFIED_TIME_REFRESH:
            status.last_verified_time = rfc3339(inp.now)
        return Outcome(status, Retry.DRIFT, events)
    message = f"snapshot {name!r} no longer exists in Milvus (collection {collection!r}, database {db!r})"
    first = status.phase != SnapshotPhase.MISSING
    status.phase = SnapshotPhase.MISSING
    status.ready_to_use = False
    status.mark_retrying(SNAPSHOT_MISSING, message, inp.generation, inp.now)
    return Outcome(status, Retry.DRIFT, [Event("Warning", SNAPSHOT_MISSING, message)] if first else [])


async def list_snapshots(gw: MilvusGateway, collection: str, db: str) -> Listing:
    """One ListSnapshots, its error kept as the answer (a drift check judges both)."""
    try:
        return frozenset(await gw.list_snapshots(collection, db))
    except MilvusError as exc:
        return MilvusError(exc.kind, exc.message, exc.code)  # without the client's traceback: it may be kept


def _moved(inp: SnapshotInputs, status: MilvusSnapshotStatus, conn: Connected) -> Outcome[MilvusSnapshotStatus]:
    """The connection now points elsewhere: nothing is judged (or created) against the wrong cluster."""
    name, _, _ = _ids(status)
    message = (
        f"snapshot {name!r} was made on {status.endpoint}, but MilvusConnection {inp.spec.connection_ref.name!r} "
        f"now points to {conn.endpoint}; point it back to use this snapshot"
    )
    first = status.mark_retrying(ENDPOINT_CHANGED, message, inp.generation, inp.now)
    status.ready_to_use = False
    return Outcome(status, Retry.DEPENDENCY, [Event("Warning", ENDPOINT_CHANGED, message)] if first else [])


def _fill(status: MilvusSnapshotStatus, info: SnapshotInfo, now: datetime.datetime) -> None:
    status.phase = SnapshotPhase.READY
    status.ready_to_use = True
    status.intent = None
    status.partition_names = list(info.partition_names)
    status.create_ts = info.create_ts
    status.creation_time = rfc3339(hybrid_ts_to_datetime(info.create_ts))
    status.s3_location = info.s3_location
    status.last_verified_time = rfc3339(now)


def _ids(status: MilvusSnapshotStatus) -> tuple[str, str, str]:
    assert status.snapshot_name and status.collection_name and status.db_name, "set before any Milvus call"
    return status.snapshot_name, status.collection_name, status.db_name


# ---- deletion ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DeletionInputs:
    uid: str
    spec: MilvusSnapshotSpec
    status: MilvusSnapshotStatus
    generation: int | None
    now: datetime.datetime
    refs: Connected | Blocked
    # The namespace is being deleted: a missing Secret or connection will never come back, so a snapshot
    # that cannot be reached is released (with a Warning naming what is left behind) instead of waiting.
    namespace_terminating: bool = False


def needs_drop(spec: MilvusSnapshotSpec, status: MilvusSnapshotStatus) -> bool:
    """Drop only what this resource made or adopted, and only under the Delete policy."""
    policy = status.deletion_policy or spec.effective_deletion_policy()
    if policy != DeletionPolicy.DELETE or not status.snapshot_name or not status.db_name:
        return False
    if status.phase in (SnapshotPhase.READY, SnapshotPhase.MISSING, SnapshotPhase.DELETING):
        return True
    return status.intent is not None and status.phase != SnapshotPhase.FAILED


async def delete_snapshot(inp: DeletionInputs) -> Outcome[MilvusSnapshotStatus]:
    """Finalizer step. Retry=None means the finalizer may be removed."""
    status = inp.status.model_copy(deep=True)
    if not needs_drop(inp.spec, status):
        return Outcome(status)
    name, collection, db = _ids(status)
    where = f"snapshot {name!r} of collection {collection!r} (database {db!r}) on {status.endpoint or 'Milvus'}"
    if isinstance(inp.refs, Blocked):
        if inp.namespace_terminating:
            message = f"{where} is left behind: the namespace is being deleted and {inp.refs.message}"
            return Outcome(status, None, [Event("Warning", "SnapshotLeftBehind", message)])
        status.mark_retrying(inp.refs.reason, inp.refs.message, inp.generation, inp.now)
        return Outcome(status, Retry.DEPENDENCY, dependency=inp.refs.wake)
    if status.endpoint is not None and status.endpoint != inp.refs.endpoint:
        message = (
            f"{where} is left behind: MilvusConnection {inp.spec.connection_ref.name!r} now points to "
            f"{inp.refs.endpoint}, and its credentials are not sent to another endpoint"
        )
        return Outcome(status, None, [Event("Warning", "SnapshotLeftBehind", message)])
    gw = inp.refs.gateway
    status.phase = SnapshotPhase.DELETING
    try:
        info = await gw.describe_snapshot(name, collection, db)
        if info is None:
            last = status.intent.last_attempt() if status.intent is not None else None
            if last is not None and inp.now - last < CREATE_LANDING_GRACE:  # a create may still be landing
                status.mark_retrying(
                    "DeletionWaiting", f"{where}: a create may still be landing", inp.generation, inp.now
                )
                return Outcome(status, Retry.BACKOFF)
            return Outcome(status, None, [Event("Normal", "SnapshotDeleted", f"{where} was already gone")])
        if not ownership.is_ours(info, inp.uid, status.create_ts if status.adopted else None):
            message = f"{where} was not dropped: it is not the snapshot this resource created or adopted"
            return Outcome(status, None, [Event("Warning", "SnapshotNotOwned", message)])
        await gw.drop_snapshot(name, collection, db)
    except MilvusError as exc:
        if exc.kind == ErrorKind.PINNED:
            message = f"snapshot {name!r} is in use by a running restore; deletion waits: {exc.message}"
            first = status.mark_retrying("DeletionBlocked", message, inp.generation, inp.now, exc.code)
            return Outcome(status, Retry.BACKOFF, [Event("Warning", "DeletionBlocked", message)] if first else [])
        if exc.kind in (ErrorKind.NOT_FOUND, ErrorKind.COLLECTION_NOT_FOUND):
            return Outcome(status, None, [Event("Normal", "SnapshotDeleted", f"{where} was already gone")])
        return retry(exc, status, inp.generation, inp.now)
    return Outcome(status, None, [Event("Normal", "SnapshotDeleted", f"dropped {where}")])
