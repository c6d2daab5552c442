"""MilvusSnapshot: one Milvus collection snapshot, created (or adopted) and deleted declaratively."""

from __future__ import annotations

import enum

from pydantic import ConfigDict, Field

from .common import (
    MILVUS_NAME_MAX,
    MILVUS_NAME_PATTERN,
    Condition,
    ErrorInfo,
    LocalObjectReference,
    Model,
)

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
    FAILED = "Failed"
    DELETING = "Deleting"


class Intent(Model):
    """A side-effecting Milvus call about to be made; written to status before the call (crash safety)."""

    operation: str = Field(description="The Milvus operation: CreateSnapshot, RestoreSnapshot or DropSnapshot.")
    time: str = Field(description="When the intent was recorded (RFC 3339).")


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
    collection_name: str = Field(
        pattern=MILVUS_NAME_PATTERN,
        min_length=1,
        max_length=MILVUS_NAME_MAX,
        description="Collection to snapshot.",
    )
    db_name: str | None = Field(
        default=None,
        pattern=MILVUS_NAME_PATTERN,
        max_length=MILVUS_NAME_MAX,
        description="Database of the collection; the connection's dbName when unset.",
    )
    snapshot_name: str | None = Field(
        default=None,
        pattern=MILVUS_NAME_PATTERN,
        max_length=MILVUS_NAME_MAX,
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


class MilvusSnapshotStatus(Model):
    observed_generation: int | None = Field(default=None, description="Last metadata.generation handled.")
    phase: SnapshotPhase | None = Field(default=None, description="Pending, Creating, Ready, Failed or Deleting.")
    ready_to_use: bool | None = Field(default=None, description="True when the snapshot can be restored from.")
    snapshot_name: str | None = Field(default=None, description="Name of the snapshot in Milvus.")
    collection_name: str | None = Field(default=None, description="Snapshotted collection.")
    db_name: str | None = Field(default=None, description="Database of the collection.")
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
    error: ErrorInfo | None = Field(default=None, description="The last error, when not Ready.")
    conditions: list[Condition] = Field(default_factory=list, description="Ready, Reconciling, Stalled.")


__all__ = [
    "KIND",
    "PLURAL",
    "DeletionPolicy",
    "Intent",
    "LocalObjectReference",
    "MilvusSnapshotSpec",
    "MilvusSnapshotStatus",
    "SnapshotPhase",
]
