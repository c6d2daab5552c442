"""MilvusRestore: restore a snapshot into a new collection, reporting Milvus's restore job; optionally load it,
verify it and switch an alias to it (blue/green), with a way back."""

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
    RESTORING = "Restoring"  # Milvus's restore job runs
    VERIFYING = "Verifying"  # row count and indexes of the target, before it is loaded
    LOADING = "Loading"  # the target is loaded (then probed with searches, when asked)
    AWAITING_CUTOVER = "AwaitingCutover"  # cutover: Manual, waiting for the snapshot.milvus.io/cutover annotation
    CUTTING_OVER = "CuttingOver"  # the alias is being pointed at the target
    COMPLETED = "Completed"  # done; with an alias: serving through it
    ROLLED_BACK = "RolledBack"  # the alias points back at the previous collection
    FAILED = "Failed"


# The phases in which a restore is finished (its daemon may still watch for a rollback or a grace period).
ENDED = (RestorePhase.COMPLETED, RestorePhase.ROLLED_BACK, RestorePhase.FAILED)


class Cutover(enum.StrEnum):
    AUTOMATIC = "Automatic"
    MANUAL = "Manual"


class PreviousCollection(enum.StrEnum):
    KEEP = "Keep"
    RELEASE = "Release"
    DROP = "Drop"


class OnFailure(enum.StrEnum):
    RETAIN = "Retain"
    DROP = "Drop"


class RowCountCheck(enum.StrEnum):
    EXACT = "Exact"
    AT_MOST = "AtMost"
    SKIP = "Skip"


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


class LoadSpec(Model):
    """Load the restored collection before anything is said to serve from it."""

    replica_number: int = Field(default=1, ge=1, le=100, description="In-memory replicas to load.")
    resource_groups: list[MilvusName] = Field(
        default_factory=list, max_length=32, description="Milvus resource groups to load the replicas into."
    )
    timeout_seconds: int = Field(
        default=1800, ge=1, le=86400, description="How long loading may take before the restore fails (LoadTimeout)."
    )


class SearchProbe(Model):
    queries: int = Field(default=3, ge=1, le=100, description="Searches with random vectors; each must return a hit.")
    limit: int = Field(default=1, ge=1, le=100, description="topK of each search.")


class VerifySpec(Model):
    """Checks between the job's Completed and anything serving from the target: Completed alone is not proof."""

    row_count: RowCountCheck = Field(
        default=RowCountCheck.EXACT,
        description=(
            "Target row count (statistics) against the source snapshot's recorded sourceRowCount: Exact, AtMost "
            "(tolerates a compaction between the count and the snapshot, which can only lower it), Skip."
        ),
    )
    indexes: bool = Field(default=True, description="Every index of the source exists on the target and is Finished.")
    search_probe: SearchProbe | None = Field(
        default=None,
        description=(
            "After loading, a few searches with random vectors must return hits (a search needs the target "
            "loaded: a probe implies load, with defaults)."
        ),
    )


class MilvusRestoreSpec(Model):
    """Restore a Milvus snapshot into a new collection, optionally verify and load it and point an alias at it.
    Deleting a MilvusRestore never touches the restored collection nor the alias: both stay as they are (drop or
    re-point them yourself, or restore again)."""

    model_config = Model.model_config | ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self == oldSelf",
                    "message": "spec is immutable: create a new MilvusRestore instead",
                },
                {
                    "rule": "!has(self.alias) || self.alias != self.target.collectionName",
                    "message": "spec.alias must differ from spec.target.collectionName: an alias names no collection",
                    "fieldPath": ".alias",
                },
            ],
        }
    )

    source: RestoreSource = Field(
        description="What to restore: snapshotRef, scheduleRef, or snapshotName + collectionName."
    )
    target: RestoreTarget = Field(description="Where to restore to: always a new collection.")
    load: LoadSpec | None = Field(
        default=None,
        description="Load the target after the job completes (implied, with defaults, by alias or a searchProbe).",
    )
    verify: VerifySpec | None = Field(
        default=None,
        description="Verify the target before it serves (implied, with defaults, by alias: row count and indexes).",
    )
    alias: MilvusName | None = Field(
        default=None,
        description=(
            "After load and verify, point this alias (in the target's database) at the target: created the first "
            "time, switched after; the collection it pointed at is recorded in status.previousCollection."
        ),
    )
    cutover: Cutover = Field(
        default=Cutover.AUTOMATIC,
        description="Automatic, or Manual: wait for the annotation snapshot.milvus.io/cutover before switching.",
    )
    previous_collection: PreviousCollection = Field(
        default=PreviousCollection.KEEP,
        description=(
            "What happens to the alias's previous collection gracePeriodSeconds after the switch: Keep, Release "
            "(unload it) or Drop (never while an alias still points at it)."
        ),
    )
    grace_period_seconds: int = Field(
        default=3600, ge=0, le=31536000, description="Delay before previousCollection applies (rollback window)."
    )
    active_deadline_seconds: int | None = Field(
        default=None,
        ge=1,
        description=(
            "The restore fails (DeadlineExceeded) if it has not finished (or, with cutover: Manual, reached "
            "AwaitingCutover) this long after it was created. Milvus has no cancel: a running job is still "
            "followed and its final state reported."
        ),
    )
    progress_deadline_seconds: int | None = Field(
        default=None, ge=1, description="The restore fails (DeadlineExceeded) after this long without progress."
    )
    on_failure: OnFailure = Field(
        default=OnFailure.RETAIN,
        description=(
            "Retain the half-restored target, or Drop it: only once Milvus's job has ended, never while it runs, "
            "never a collection this restore did not create, never one an alias points at."
        ),
    )

    @property
    def effective_load(self) -> LoadSpec | None:
        probe = self.verify is not None and self.verify.search_probe is not None
        return self.load or (LoadSpec() if self.alias or probe else None)

    @property
    def effective_verify(self) -> VerifySpec | None:
        return self.verify or (VerifySpec() if self.alias else None)


class ResolvedSource(Model):
    snapshot_name: str = Field(description="Milvus snapshot name.")
    collection_name: str = Field(description="Source collection.")
    db_name: str = Field(description="Source database.")
    connection: str = Field(description="MilvusConnection used.")
    snapshot_ref: str | None = Field(
        default=None, description="The MilvusSnapshot restored (from spec.source.snapshotRef or scheduleRef)."
    )
    source_row_count: int | None = Field(
        default=None, description="The source MilvusSnapshot's sourceRowCount (what verification compares to)."
    )
    endpoint: str | None = Field(
        default=None,
        description=(
            "host:port of the Milvus the source snapshot lives on, where the restore runs; while the connection "
            "points elsewhere the restore waits (EndpointChanged)."
        ),
    )


class LoadStatus(Model):
    state: str | None = Field(default=None, description="Milvus's load state: NotLoad, Loading or Loaded.")
    progress: int | None = Field(default=None, ge=0, le=100, description="Loading progress in percent.")
    start_time: str | None = Field(default=None, description="When loading was requested (RFC 3339).")
    attempts: int | None = Field(default=None, description="Load requests made (Milvus may drop a load).")


class VerificationStatus(Model):
    row_count: int | None = Field(default=None, description="Target row count (statistics).")
    expected_row_count: int | None = Field(default=None, description="The source snapshot's recorded row count.")
    indexes: list[str] = Field(default_factory=list, description="Indexes found Finished on the target.")
    probe: str | None = Field(default=None, description="Search probe result, e.g. 3/3 queries returned hits.")
    time: str | None = Field(default=None, description="When verification passed (RFC 3339).")


class CutoverStatus(Model):
    alias: str = Field(description="The alias switched to the target.")
    previous_collection: str | None = Field(
        default=None, description="The collection the alias pointed at before (none: the alias was created)."
    )
    time: str | None = Field(default=None, description="When the alias was switched to the target (RFC 3339).")
    last_trigger: str | None = Field(default=None, description="The cutover annotation value acted on (Manual).")
    rollback_time: str | None = Field(default=None, description="When the alias was pointed back (RFC 3339).")
    last_rollback: str | None = Field(default=None, description="The rollback annotation value acted on.")
    previous_state: str | None = Field(
        default=None, description="What was done to the previous collection after the grace period: Released, Dropped."
    )


class MilvusRestoreStatus(TerminalStatus):
    phase: RestorePhase | None = Field(
        default=None,
        description=(
            "Pending, WaitingForSnapshot, Restoring, Verifying, Loading, AwaitingCutover, CuttingOver, Completed, "
            "RolledBack or Failed."
        ),
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
    target_created: bool | None = Field(
        default=None, description="True once this restore's RestoreSnapshot created the target (onFailure may drop it)."
    )
    target_dropped: bool | None = Field(default=None, description="True when onFailure: Drop dropped the target.")
    job_ended: bool | None = Field(
        default=None, description="Milvus's job reached Completed or Failed (followed even after a deadline)."
    )
    load: LoadStatus | None = Field(default=None, description="Loading of the target.")
    verification: VerificationStatus | None = Field(default=None, description="What verification found.")
    cutover: CutoverStatus | None = Field(default=None, description="The alias switch, and any rollback.")
    last_progress_time: str | None = Field(
        default=None, description="When the restore last made progress (progressDeadlineSeconds counts from it)."
    )

    def fail(
        self, reason: str, message: str, generation: int | None, now: datetime.datetime, code: int | None = None
    ) -> None:
        """Terminal: phase Failed; nothing left in flight, never re-run."""
        self.phase = RestorePhase.FAILED
        self.intent = None
        self.mark_stalled(reason, message, generation, now, code)
