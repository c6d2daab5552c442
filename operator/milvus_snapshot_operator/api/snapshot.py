"""MilvusSnapshot: one Milvus collection snapshot, created (or adopted) and deleted declaratively."""

from __future__ import annotations

import datetime
import enum

from pydantic import ConfigDict, Field

from .common import Intent, LocalObjectReference, MilvusName, Model, TerminalStatus

KIND = "MilvusSnapshot"
PLURAL = "milvussnapshots"
MAX_COMPACTION_PROTECTION_SECONDS = 604800  # Milvus's dataCoord.snapshot.maxCompactionProtectionSeconds


class DeletionPolicy(enum.StrEnum):
    DELETE = "Delete"
    RETAIN = "Retain"


class SnapshotPhase(enum.StrEnum):
    PENDING = "Pending"
    CREATING = "Creating"
    READY = "Ready"
    MISSING = "Missing"  # was Ready; not found in Milvus at the last check (recoverable: it may come back)
    FAILED = "Failed"
    DELETING = "Deleting"


class MilvusSnapshotSpec(Model):
    model_config = Model.model_config | ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self == oldSelf",
                    "message": "spec is immutable: create a new MilvusSnapshot instead",
                },
                {
                    "rule": "!self.adopt || has(self.snapshotName)",
                    "message": "spec.snapshotName is required when spec.adopt is true",
                    "fieldPath": ".snapshotName",
                },
            ]
        }
    )

    connection_ref: LocalObjectReference = Field(description="The MilvusConnection to use (same namespace).")
    collection_name: MilvusName = Field(description="Collection to snapshot.")
    db_name: MilvusName | None = Field(
        default=None, description="Database of the collection; the connection's dbName when unset."
    )
    snapshot_name: MilvusName | None = Field(
        default=None,
        description=(
            "Name of the snapshot in Milvus (letters, digits and _ only; unique per collection). "
            "Default: metadata.name with '-' and '.' turned into '_'."
        ),
    )
    description: str = Field(default="", max_length=1024, description="Description stored with the snapshot.")
    flush: bool = Field(
        default=True, description="Flush the collection first so that recently inserted rows are included."
    )
    compaction_protection_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_COMPACTION_PROTECTION_SECONDS,
        description="Protect the snapshot's segments from compaction for this long (0 to 604800).",
    )
    deletion_policy: DeletionPolicy | None = Field(
        default=None,
        description=(
            "Delete drops the Milvus snapshot when this resource is deleted; Retain keeps it. "
            "Default: Delete, or Retain for adopted snapshots."
        ),
    )
    adopt: bool = Field(
        default=False,
        description=(
            "Adopt a snapshot that already exists in Milvus (pre-provisioned) instead of creating one. "
            "Requires snapshotName."
        ),
    )

    def effective_deletion_policy(self) -> DeletionPolicy:
        if self.deletion_policy is not None:
            return DeletionPolicy(self.deletion_policy)
        return DeletionPolicy.RETAIN if self.adopt else DeletionPolicy.DELETE


class MilvusSnapshotStatus(TerminalStatus):
    phase: SnapshotPhase | None = Field(
        default=None, description="Pending, Creating, Ready, Missing, Failed or Deleting."
    )
    ready_to_use: bool | None = Field(default=None, description="True when the snapshot can be restored from.")
    snapshot_name: str | None = Field(default=None, description="Name of the snapshot in Milvus.")
    collection_name: str | None = Field(default=None, description="Snapshotted collection.")
    db_name: str | None = Field(default=None, description="Database of the collection.")
    endpoint: str | None = Field(
        default=None,
        description=(
            "The Milvus endpoint the snapshot was created on (or adopted from): it is verified and dropped "
            "there, even if the connection is repointed later."
        ),
    )
    partition_names: list[str] | None = Field(default=None, description="Partitions captured by the snapshot.")
    creation_time: str | None = Field(default=None, description="When Milvus took the snapshot (RFC 3339).")
    create_ts: int | None = Field(
        default=None, description="Raw Milvus hybrid timestamp of the snapshot (physical ms << 18)."
    )
    s3_location: str | None = Field(default=None, description="Object key of the snapshot's metadata file.")
    source_row_count: int | None = Field(
        default=None, description="Row count of the collection (statistics) right before the snapshot."
    )
    deletion_policy: DeletionPolicy | None = Field(default=None, description="The deletion policy in effect.")
    adopted: bool | None = Field(default=None, description="True when the snapshot was pre-provisioned.")
    intent: Intent | None = Field(default=None, description="Milvus call in flight (crash safety).")
    last_verified_time: str | None = Field(
        default=None, description="When the snapshot was last seen in Milvus (periodic drift check)."
    )

    def fail(
        self, reason: str, message: str, generation: int | None, now: datetime.datetime, code: int | None = None
    ) -> None:
        """Terminal: phase Failed, never restorable, nothing left in flight."""
        self.phase = SnapshotPhase.FAILED
        self.ready_to_use = False
        self.intent = None
        self.mark_stalled(reason, message, generation, now, code)


__all__ = [
    "KIND",
    "PLURAL",
    "DeletionPolicy",
    "LocalObjectReference",
    "MilvusSnapshotSpec",
    "MilvusSnapshotStatus",
    "SnapshotPhase",
]
