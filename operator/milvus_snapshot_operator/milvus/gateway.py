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
    ALIAS_CONFLICT = "AliasConflict"  # the alias names a collection, or points at another collection (create)
    NOT_LOADED = "NotLoaded"  # the collection is not (fully) loaded, or its load failed


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


@dataclasses.dataclass(frozen=True)
class LoadState:
    state: str  # Milvus's LoadState name: NotExist, NotLoad, Loading, Loaded
    progress: int  # percent; 100 when Loaded


@dataclasses.dataclass(frozen=True)
class IndexInfo:
    name: str
    field: str
    state: str  # Milvus's index state name, e.g. Finished
    pending_rows: int


@dataclasses.dataclass(frozen=True)
class VectorField:
    name: str
    dim: int
    dtype: str  # pymilvus DataType name, e.g. FLOAT_VECTOR


RESTORE_COMPLETED = "RestoreSnapshotCompleted"
RESTORE_FAILED = "RestoreSnapshotFailed"


class MilvusGateway(Protocol):
    """One Milvus server, one set of credentials. Every method raises MilvusError on failure."""

    async def server_version(self) -> str: ...

    async def check_snapshot_support(self) -> None:
        """Raise MilvusError(UNSUPPORTED) when the server lacks the snapshot RPCs."""

    async def flush(self, collection: str, db: str) -> None: ...

    async def collection_exists(self, collection: str, db: str) -> bool: ...

    async def list_collections(self, db: str) -> list[str]:
        """Collections of database `db` (Milvus lists only those the user may see: no privilege to grant)."""

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

    # -- serving a restored collection: load, verify, aliases ----------------------------------------

    async def start_load(self, collection: str, db: str, replicas: int, resource_groups: list[str]) -> None:
        """Ask Milvus to load; returns once loaded or after a short wait (loading goes on; poll load_state).
        Raises MilvusError(NOT_LOADED) when Milvus says the load failed."""

    async def load_state(self, collection: str, db: str) -> LoadState: ...

    async def release(self, collection: str, db: str) -> None: ...

    async def drop_collection(self, collection: str, db: str) -> None: ...

    async def indexes(self, collection: str, db: str) -> list[IndexInfo]: ...

    async def vector_fields(self, collection: str, db: str) -> list[VectorField]: ...

    async def search_hits(
        self, collection: str, db: str, field: str, vectors: list[list[float]], limit: int
    ) -> list[int]:
        """How many hits each query vector returned (the collection must be loaded)."""

    async def alias_target(self, alias: str, db: str) -> str | None:
        """The collection the alias points at, or None when there is no such alias."""

    async def create_alias(self, collection: str, alias: str, db: str) -> None: ...

    async def alter_alias(self, collection: str, alias: str, db: str) -> None: ...

    async def aliases_of(self, collection: str, db: str) -> list[str]: ...
