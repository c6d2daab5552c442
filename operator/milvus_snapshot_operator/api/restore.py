"""MilvusRestore: restore a snapshot into a new collection, reporting Milvus's restore job."""

from __future__ import annotations

import datetime
import enum

from pydantic import ConfigDict, Field

from .common import Intent, LocalObjectReference, MilvusName, Model, TerminalStatus

KIND = "MilvusRestore"
PLURAL = "milvusrestores"


class RestorePhase(enum.StrEnum):
    PENDING = "Pending"
    WAITING_FOR_SNAPSHOT = "WaitingForSnapshot"
    RESTORING = "Restoring"
    COMPLETED = "Completed"
    FAILED = "Failed"


EXACTLY_ONE_SOURCE = (
    "(has(self.snapshotRef) ? 1 : 0) + (has(self.snapshotName) ? 1 : 0) + (has(self.scheduleRef) ? 1 : 0) == 1"
)


class RestoreSource(Model):
    model_config = Model.model_config | ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": EXACTLY_ONE_SOURCE,
                    "message": "set exactly one of source.snapshotRef, source.snapshotName, source.scheduleRef",
                },
                {
                    "rule": "!has(self.snapshotName) || (has(self.collectionName) && has(self.connectionRef))",
                    "message": "source.snapshotName needs source.collectionName and source.connectionRef",
                },
                {
                    "rule": (
                        "!(has(self.snapshotRef) || has(self.scheduleRef)) || "
                        "(!has(self.collectionName) && !has(self.dbName) && !has(self.connectionRef))"
                    ),
                    "message": (
                        "source.snapshotRef and source.scheduleRef take collection, database and connection from "
                        "the MilvusSnapshot: do not set source.collectionName, source.dbName or source.connectionRef"
                    ),
                },
            ]
        }
    )

    snapshot_ref: LocalObjectReference | None = Field(
        default=None,
        description="A MilvusSnapshot in the same namespace; the restore waits until it is Ready.",
    )
    schedule_ref: LocalObjectReference | None = Field(
        default=None,
        description=(
            "A MilvusSnapshotSchedule in the same namespace: restore its newest Ready snapshot, chosen once "
            "when the restore starts (status.source.snapshotRef)."
        ),
    )
    snapshot_name: MilvusName | None = Field(
        default=None,
        description="Name of an existing Milvus snapshot (not managed by a MilvusSnapshot).",
    )
    collection_name: MilvusName | None = Field(
        default=None,
        description="Collection the snapshot belongs to (with snapshotName).",
    )
    db_name: MilvusName | None = Field(
        default=None,
        description="Database of that collection (with snapshotName); the connection's dbName when unset.",
    )
    connection_ref: LocalObjectReference | None = Field(
        default=None, description="The MilvusConnection to use (with snapshotName)."
    )


class RestoreTarget(Model):
    collection_name: MilvusName = Field(description="New collection to create; Milvus refuses an existing one.")
    db_name: MilvusName | None = Field(
        default=None,
        description="Database for the new collection; the source database when unset.",
    )


class MilvusRestoreSpec(Model):
    model_config = Model.model_config | ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self == oldSelf",
                    "message": "spec is immutable: create a new MilvusRestore instead",
                }
            ]
        }
    )

    source: RestoreSource = Field(
        description="What to restore: snapshotRef, scheduleRef, or snapshotName + collectionName."
    )
    target: RestoreTarget = Field(description="Where to restore to: always a new collection.")


class ResolvedSource(Model):
    snapshot_name: str = Field(description="Milvus snapshot name.")
    collection_name: str = Field(description="Source collection.")
    db_name: str = Field(description="Source database.")
    connection: str = Field(description="MilvusConnection used.")
    snapshot_ref: str | None = Field(
        default=None, description="The MilvusSnapshot restored (from spec.source.snapshotRef or scheduleRef)."
    )


class MilvusRestoreStatus(TerminalStatus):
    phase: RestorePhase | None = Field(
        default=None, description="Pending, WaitingForSnapshot, Restoring, Completed or Failed."
    )
    source: ResolvedSource | None = Field(default=None, description="The snapshot being restored, resolved.")
    target_collection_name: str | None = Field(default=None, description="Collection being restored into.")
    target_db_name: str | None = Field(default=None, description="Database of the target collection.")
    job_id: int | None = Field(default=None, description="Milvus restore job ID.")
    state: str | None = Field(default=None, description="Milvus's job state, e.g. RestoreSnapshotExecuting.")
    progress: int | None = Field(default=None, ge=0, le=100, description="Job progress in percent.")
    reason: str | None = Field(default=None, description="Milvus's job reason, verbatim.")
    start_time: str | None = Field(default=None, description="When Milvus started the job (RFC 3339).")
    completion_time: str | None = Field(default=None, description="When the job finished (RFC 3339).")
    time_cost_ms: int | None = Field(default=None, description="Job duration reported by Milvus (ms).")
    target_row_count: int | None = Field(
        default=None, description="Row count (statistics) of the target collection after the job ended."
    )
    intent: Intent | None = Field(default=None, description="Milvus call in flight (crash safety).")

    def fail(
        self, reason: str, message: str, generation: int | None, now: datetime.datetime, code: int | None = None
    ) -> None:
        """Terminal: phase Failed; nothing left in flight, never re-run."""
        self.phase = RestorePhase.FAILED
        self.intent = None
        self.mark_stalled(reason, message, generation, now, code)
