"""What the reconcilers need from Milvus, in our own types (so reconcile/ never sees pymilvus)."""

from __future__ import annotations

import dataclasses
import enum
from typing import Protocol


class ErrorKind(enum.StrEnum):
    """How the operator reacts to a failed Milvus call."""

    INVALID = "Invalid"  # bad input Milvus refused: terminal, Stalled, message verbatim
    NOT_FOUND = "NotFound"  # the snapshot or restore job does not exist
    COLLECTION_NOT_FOUND = "CollectionNotFound"  # the collection or database does not exist
    ALREADY_EXISTS = "AlreadyExists"  # snapshot name taken on that collection
    TARGET_EXISTS = "TargetExists"  # restore target collection already exists
    PINNED = "Pinned"  # snapshot in use by a restore (or a pin): retry later
    UNAVAILABLE = "Unavailable"  # transient: retry with capped backoff, never Failed
    AUTH = "Authentication"  # credentials refused: slow retry
    PERMISSION = "PermissionDenied"  # authenticated but not allowed: slow retry
    UNSUPPORTED = "Unsupported"  # the server has no snapshot RPCs
    DATABASE_NOT_FOUND = "DatabaseNotFound"  # the connection's own database does not exist (probe only)
    TLS = "TLS"  # TLS handshake or certificate verification failed (wrong CA, server name, or no TLS there)
    TLS_MISMATCH = "TLSMismatch"  # one side speaks TLS, the other plaintext (either way round)
    INVALID_ENDPOINT = "InvalidEndpoint"  # the client refused the endpoint or TLS files before connecting
    INTERNAL = "Internal"  # not a Milvus answer at all: a bug in the operator or a library; retried, reported


class MilvusError(Exception):
    """A classified Milvus failure; `message` is Milvus's own text."""

    def __init__(self, kind: ErrorKind, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code

    def __str__(self) -> str:
        suffix = f" (code {self.code})" if self.code is not None else ""
        return f"{self.message}{suffix}"


@dataclasses.dataclass(frozen=True)
class SnapshotInfo:
    name: str
    description: str
    collection_name: str
    partition_names: tuple[str, ...]
    create_ts: int
    s3_location: str


@dataclasses.dataclass(frozen=True)
class RestoreJob:
    job_id: int
    snapshot_name: str
    db_name: str
    collection_name: str
    state: str
    progress: int
    reason: str
    start_time_ms: int
    time_cost_ms: int

    @property
    def terminal(self) -> bool:
        return self.state in (RESTORE_COMPLETED, RESTORE_FAILED)


RESTORE_COMPLETED = "RestoreSnapshotCompleted"
RESTORE_FAILED = "RestoreSnapshotFailed"


class MilvusGateway(Protocol):
    """One Milvus server, one set of credentials. Every method raises MilvusError on failure."""

    async def server_version(self) -> str: ...

    async def check_snapshot_support(self) -> None:
        """Raise MilvusError(UNSUPPORTED) when the server lacks the snapshot RPCs."""

    async def flush(self, collection: str, db: str) -> None: ...

    async def collection_exists(self, collection: str, db: str) -> bool: ...

    async def row_count(self, collection: str, db: str) -> int:
        """Row count from collection statistics (cheap, no load needed)."""

    async def create_snapshot(
        self, name: str, collection: str, db: str, description: str, compaction_protection_seconds: int
    ) -> None: ...

    async def describe_snapshot(self, name: str, collection: str, db: str) -> SnapshotInfo | None:
        """None when the snapshot does not exist (the collection does)."""

    async def list_snapshots(self, collection: str, db: str) -> list[str]: ...

    async def drop_snapshot(self, name: str, collection: str, db: str) -> None: ...

    async def restore_snapshot(
        self, name: str, source_collection: str, source_db: str, target_collection: str, target_db: str
    ) -> int: ...

    async def restore_state(self, job_id: int) -> RestoreJob | None:
        """None when Milvus no longer knows the job (finished jobs vanish after ~3 h)."""

    async def list_restore_jobs(self, db: str) -> list[RestoreJob]: ...
