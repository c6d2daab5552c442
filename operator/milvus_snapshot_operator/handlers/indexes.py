"""Kopf indexes: what each decision needs to know about other resources, kept in memory from the watches
(no list calls), as the typed entries of reconcile/entries.py. Async, so Kopf runs them on its event loop
rather than handing each event to a worker thread."""

from __future__ import annotations

import datetime
import sys
from collections.abc import Mapping
from typing import TypeVar

import kopf

from ..api import (
    GROUP,
    IMPORTED_FROM_ANNOTATION,
    IMPORTED_LABEL,
    KEEP_LABEL,
    RUN_TIME_ANNOTATION,
    SCHEDULE_LABEL,
    SCHEDULE_UID_ANNOTATION,
    TRIGGER_ANNOTATION,
    VERSION,
)
from ..api.common import READY, parse_rfc3339_or_none
from ..api.connection import PLURAL as CONNECTIONS
from ..api.connection import MilvusConnectionSpec
from ..api.restore import ENDED, MilvusRestoreSpec, MilvusRestoreStatus
from ..api.restore import PLURAL as RESTORES
from ..api.snapshot import PLURAL as SNAPSHOTS
from ..api.snapshot import MilvusSnapshotSpec, MilvusSnapshotStatus
from ..reconcile.entries import ConnectionEntry, RestoreEntry, SnapshotEntry
from ..reconcile.retention import Child
from ..reconcile.snapshot import needs_drop
from .common import by_name, parse
from .kube import FIELD_MANAGER

Key = tuple[str, str]
E = TypeVar("E")
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


@kopf.index(GROUP, VERSION, CONNECTIONS)
@by_name
async def connections(namespace: str, name: str, spec: kopf.Spec, **_: object) -> dict[Key, ConnectionEntry]:
    """(namespace, name) -> each MilvusConnection's spec."""
    return {(namespace, name): ConnectionEntry(spec=parse(MilvusConnectionSpec, spec))}


@kopf.index(GROUP, VERSION, SNAPSHOTS)
@by_name
async def snapshots(
    namespace: str, name: str, spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, **_: object
) -> dict[Key, SnapshotEntry]:
    """(namespace, name) -> each MilvusSnapshot: restores wait on it, its connection's finalizer too."""
    model = parse(MilvusSnapshotSpec, spec)
    current = parse(MilvusSnapshotStatus, status)
    ready = current.condition(READY)
    return {
        (namespace, name): SnapshotEntry(
            name=name,
            # Interned: thousands of entries share a few connections, collections, databases and endpoints.
            connection=sys.intern(model.connection_ref.name),
            collection_name=sys.intern(current.collection_name or model.collection_name),
            phase=current.phase,
            snapshot_name=current.snapshot_name,
            db_name=_intern(current.db_name),
            endpoint=_intern(current.endpoint),
            error_message=current.error.message if current.error else "",
            needs_drop=needs_drop(model, current),
            source_row_count=current.source_row_count,
            deleting=bool(meta.get("deletionTimestamp")),
            imported_from=(meta.get("annotations") or {}).get(IMPORTED_FROM_ANNOTATION),
            ready=ready.status if ready else None,
            ready_reason=sys.intern(ready.reason) if ready else None,
            last_verified_time=parse_rfc3339_or_none(current.last_verified_time),
        )
    }


@kopf.index(GROUP, VERSION, SNAPSHOTS, labels={SCHEDULE_LABEL: kopf.PRESENT})
@by_name
async def schedule_children(
    namespace: str, name: str, meta: kopf.Meta, status: kopf.Status, **_: object
) -> dict[Key, Child]:
    """(namespace, schedule) -> what schedules (runs, retention) and scheduleRef restores need of each child."""
    annotations: Mapping[str, str] = meta.get("annotations") or {}
    labels: Mapping[str, str] = meta.get("labels") or {}
    error = status.get("error") or {}
    # A run's time orders children and picks retention buckets. A hand-edited annotation that is not a time
    # must not halt the schedule: fall back to when the object was made.
    time = parse_rfc3339_or_none(annotations.get(RUN_TIME_ANNOTATION)) or parse_rfc3339_or_none(
        meta.get("creationTimestamp")
    )
    return {
        (namespace, labels[SCHEDULE_LABEL]): Child(
            name=name,
            time=time or EPOCH,
            phase=status.get("phase"),
            keep=labels.get(KEEP_LABEL) == "true",
            deleting=bool(meta.get("deletionTimestamp")),
            trigger=annotations.get(TRIGGER_ANNOTATION),
            message=str(error.get("message") or ""),
            schedule_uid=annotations.get(SCHEDULE_UID_ANNOTATION),
            created_by_operator=created_by_operator(meta),
            imported=labels.get(IMPORTED_LABEL) == "true",
        )
    }


def in_namespace(index: kopf.Index[Key, E], namespace: str) -> list[E]:
    """The entries of one namespace's objects in a (namespace, name)-keyed index."""
    return [entry for (ns, _name), found in index.items() if ns == namespace for entry in found]


def _intern(value: str | None) -> str | None:
    return sys.intern(value) if value is not None else None


def created_by_operator(meta: kopf.Meta) -> bool:
    """The operator's field manager owns the object's spec: it was created by a schedule run, not applied."""
    for entry in meta.get("managedFields") or []:
        fields = entry.get("fieldsV1") or {}
        if entry.get("manager") == FIELD_MANAGER and "f:spec" in fields:
            return True
    return False


@kopf.index(GROUP, VERSION, RESTORES)
@by_name
async def restores(
    namespace: str, name: str, spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, **_: object
) -> dict[Key, RestoreEntry]:
    """(namespace, name) -> each MilvusRestore: for connection deletion, retention and target claims."""
    model = parse(MilvusRestoreSpec, spec)
    current = parse(MilvusRestoreStatus, status)
    source = current.source
    spec_source = model.source
    connection = (
        source.connection if source else (spec_source.connection_ref.name if spec_source.connection_ref else None)
    )
    snapshot_ref = (
        source.snapshot_ref if source else (spec_source.snapshot_ref.name if spec_source.snapshot_ref else None)
    )
    return {
        (namespace, name): RestoreEntry(
            name=name,
            created=parse_rfc3339_or_none(meta.get("creationTimestamp")) or EPOCH,
            connection=connection,
            snapshot_ref=snapshot_ref,
            schedule_ref=spec_source.schedule_ref.name if spec_source.schedule_ref and not source else None,
            target_collection=model.target.collection_name,
            target_db=current.target_db_name or model.target.db_name,
            active=current.phase not in ENDED,
            started=current.intent is not None or current.job_id is not None,
            job_id=current.job_id,
        )
    }
