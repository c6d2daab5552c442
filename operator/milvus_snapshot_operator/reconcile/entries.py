"""What the operator remembers about each resource between events (Kopf indexes), as typed values.

The handlers build these from watch events (handlers/indexes.py); reconcile code reads them. Each holds only
what some decision needs, so an index costs little per resource and is read one way everywhere.
"""

from __future__ import annotations

import dataclasses
import datetime

from ..api.connection import MilvusConnectionSpec
from ..api.schedule import Retention
from ..api.snapshot import DeletionPolicy


@dataclasses.dataclass(frozen=True)
class ConnectionEntry:
    spec: MilvusConnectionSpec


@dataclasses.dataclass(frozen=True, slots=True)
class SnapshotEntry:
    """A MilvusSnapshot as restores, connections and retention see it."""

    name: str
    connection: str
    collection_name: str
    phase: str | None
    snapshot_name: str | None  # in Milvus, once resolved
    db_name: str | None  # resolved database (status)
    endpoint: str | None  # where it lives (status)
    error_message: str = ""
    needs_drop: bool = False  # its finalizer will call Milvus through its connection
    source_row_count: int | None = None  # the collection's row count when it was taken (restores verify it)
    deleting: bool = False
    imported_from: str | None = None  # an inventory import: <endpoint>/<db>/<collection>/<snapshot> it represents
    # For drift checks (reconcile/snapshot.py drift_check): the Ready condition and when it was last verified.
    ready: str | None = None
    ready_reason: str | None = None
    last_verified_time: datetime.datetime | None = None


@dataclasses.dataclass(frozen=True)
class RestoreEntry:
    """A MilvusRestore as connections (deletion), retention and other restores (target claims) see it."""

    name: str
    created: datetime.datetime
    connection: str | None  # spec.source.connectionRef, else the resolved source's connection
    snapshot_ref: str | None  # the MilvusSnapshot it restores or will restore (spec or resolved)
    schedule_ref: str | None  # restores the newest Ready snapshot of this schedule (not resolved yet)
    target_collection: str
    target_db: str | None  # spec, else the resolved one
    active: bool  # not ended (Completed, RolledBack, Failed): it may still start a job or switch an alias
    started: bool = False  # intent recorded or job started: Milvus work is under way
    job_id: int | None = None


@dataclasses.dataclass(frozen=True)
class ScheduleEntry:
    """A MilvusSnapshotSchedule as a connection's inventory sees it: whose snapshots may join it."""

    name: str
    uid: str
    connection: str  # spec.template.connectionRef
    collection: str
    db: str | None  # spec.template.dbName; None: the connection's
    time_zone: str
    retention: Retention | None
    deletion_policy: DeletionPolicy  # the template's, in effect
    owner_reference: bool  # snapshotOwnerReference: Schedule (its runs carry an ownerReference)
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
