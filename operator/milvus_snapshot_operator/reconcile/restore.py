"""MilvusRestore state machine.

Steps: resolve the source -> check the target is free -> record intent -> RestoreSnapshot (or, after a
crash, adopt the job found with ListRestoreSnapshotJobs) -> follow the job until it ends. One resource
never starts two jobs: once intent is on record, a job for the target is looked for before any call.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Awaitable, Callable

from ..api.common import parse_rfc3339, rfc3339
from ..api.restore import MilvusRestoreSpec, MilvusRestoreStatus, ResolvedSource, RestorePhase
from ..api.snapshot import Intent
from ..milvus.gateway import RESTORE_COMPLETED, RESTORE_FAILED, ErrorKind, MilvusError, MilvusGateway, RestoreJob
from .conditions import mark_progressing, mark_ready, mark_retrying, mark_stalled
from .milvus_errors import react
from .outcome import Event, Outcome, Retry
from .snapshot import Blocked
from .timestamps import ms_to_datetime

RESTORE = "RestoreSnapshot"
# How long after RestoreSnapshot (or after recording intent) a missing job may still be Milvus's own
# job-creation race: RestoreSnapshot returns once the job is persisted, so this only covers a brief lag.
# Kept short: a job that finished and was forgotten quickly must not look like "still appearing" for long.
JOB_APPEAR_GRACE = datetime.timedelta(seconds=10)

JobLookup = Callable[[int, str], Awaitable[RestoreJob | None]]


@dataclasses.dataclass(frozen=True)
class SourceFailed:
    """The source MilvusSnapshot failed: the restore can never run."""

    message: str


@dataclasses.dataclass
class RestoreInputs:
    generation: int | None
    spec: MilvusRestoreSpec
    status: MilvusRestoreStatus
    now: datetime.datetime
    source: ResolvedSource | None = None
    gateway: MilvusGateway | None = None
    job_lookup: JobLookup | None = None  # (job_id, target_db) -> job; backed by one list per interval
    waiting: Blocked | None = None  # missing connection/secret/snapshot, or snapshot not Ready yet
    source_failed: SourceFailed | None = None


async def reconcile_restore(inp: RestoreInputs) -> Outcome[MilvusRestoreStatus]:
    status = inp.status.model_copy(deep=True)
    if status.phase in (RestorePhase.COMPLETED, RestorePhase.FAILED):
        return Outcome(status)
    status.target_collection_name = inp.spec.target.collection_name
    if inp.source_failed is not None:
        return _fail(inp, status, "SourceSnapshotFailed", inp.source_failed.message)
    if inp.waiting is not None and status.job_id is None and status.intent is None:
        status.phase = RestorePhase.WAITING_FOR_SNAPSHOT if "Snapshot" in inp.waiting.reason else RestorePhase.PENDING
        mark_retrying(status, inp.waiting.reason, inp.waiting.message, inp.generation, inp.now)
        return Outcome(status, Retry.DEPENDENCY, dependency=inp.waiting.dependency)
    if inp.waiting is not None:  # work already started; the connection or Secret went away meanwhile
        mark_retrying(status, inp.waiting.reason, inp.waiting.message, inp.generation, inp.now)
        return Outcome(status, Retry.DEPENDENCY, dependency=inp.waiting.dependency)
    assert inp.source is not None and inp.gateway is not None and inp.job_lookup is not None
    status.source = status.source or inp.source
    status.target_db_name = status.target_db_name or inp.spec.target.db_name or status.source.db_name
    try:
        if status.job_id is not None:
            return await _follow(inp, inp.job_lookup, status)
        if status.intent is None:
            return await _announce(inp, inp.gateway, status)
        return await _start_or_adopt(inp, inp.gateway, status)
    except MilvusError as exc:
        outcome = react(exc, status, inp.generation, inp.now, terminal_reason="RestoreFailed")
        if outcome.retry is None:
            status.phase = RestorePhase.FAILED
            status.intent = None
        return outcome


def _fail(inp: RestoreInputs, status: MilvusRestoreStatus, reason: str, message: str) -> Outcome[MilvusRestoreStatus]:
    status.phase = RestorePhase.FAILED
    status.intent = None
    mark_stalled(status, reason, message, inp.generation, inp.now)
    # Events carry the stable transition reason; the specific one is in the message and the conditions.
    detail = message if reason == "RestoreFailed" else f"{reason}: {message}"
    return Outcome(status, None, [Event("Warning", "RestoreFailed", detail)])


async def _announce(inp: RestoreInputs, gw: MilvusGateway, status: MilvusRestoreStatus) -> Outcome[MilvusRestoreStatus]:
    target, db = _target(status)
    source = status.source
    assert source is not None
    if not await _source_exists(gw, source):  # GitOps applies in any order: wait for it to appear
        status.phase = RestorePhase.WAITING_FOR_SNAPSHOT
        message = (
            f"snapshot {source.snapshot_name!r} does not exist (yet) on collection {source.collection_name!r} "
            f"in database {source.db_name!r}"
        )
        mark_retrying(status, "SourceSnapshotNotFound", message, inp.generation, inp.now)
        return Outcome(status, Retry.SLOW)
    if await gw.collection_exists(target, db):
        return _fail(
            inp,
            status,
            "TargetCollectionExists",
            f"target collection {target!r} already exists in database {db!r}; "
            "a restore always creates a new collection and never overwrites one",
        )
    status.phase = RestorePhase.RESTORING
    status.intent = Intent(operation=RESTORE, time=rfc3339(inp.now))
    mark_progressing(
        status,
        "RestoreInProgress",
        f"restoring snapshot {source.snapshot_name!r} into {target!r}",
        inp.generation,
        inp.now,
    )
    return Outcome(status, Retry.NOW)


async def _start_or_adopt(
    inp: RestoreInputs, gw: MilvusGateway, status: MilvusRestoreStatus
) -> Outcome[MilvusRestoreStatus]:
    """Intent is on record: adopt the job an earlier run may have started, else start one."""
    target, db = _target(status)
    source = status.source
    assert source is not None and status.intent is not None
    ours = [
        job
        for job in await gw.list_restore_jobs(db)
        if job.collection_name == target and job.snapshot_name == source.snapshot_name
    ]
    if ours:
        job = max(ours, key=lambda j: (j.start_time_ms, j.job_id))
        status.job_id = job.job_id
        status.intent = None
        _apply_job(status, job)
        message = f"adopted restore job {job.job_id} for {target!r} after a restart"
        return await _after_job_update(inp, status, job, [Event("Normal", "RestoreAdopted", message)])
    if await gw.collection_exists(target, db):
        announced = parse_rfc3339(status.intent.time)
        if inp.now - announced < JOB_APPEAR_GRACE:
            return Outcome(status, Retry.BACKOFF)  # RestoreSnapshot may still be creating the job
        rows = await _rows(gw, target, db)
        return _fail(
            inp,
            status,
            "RestoreJobExpired",
            f"a restore into {target!r} was requested at {status.intent.time} but Milvus knows no job for it "
            f"(finished jobs are forgotten after about 3 hours); the target collection {rows}. "
            "Not re-running: inspect the target, drop it and create a new MilvusRestore to retry",
        )
    job_id = await gw.restore_snapshot(source.snapshot_name, source.collection_name, source.db_name, target, db)
    status.job_id = job_id
    status.intent = None
    status.state = "RestoreSnapshotPending"
    status.progress = 0
    status.start_time = rfc3339(inp.now)  # until Milvus reports its own start time
    message = f"restore job {job_id} started: snapshot {source.snapshot_name!r} -> collection {target!r}"
    mark_progressing(status, "RestoreInProgress", message, inp.generation, inp.now)
    return Outcome(status, Retry.POLL, [Event("Normal", "RestoreStarted", message)])


async def _follow(inp: RestoreInputs, lookup: JobLookup, status: MilvusRestoreStatus) -> Outcome[MilvusRestoreStatus]:
    assert status.job_id is not None
    target, db = _target(status)
    job = await lookup(status.job_id, db)
    if job is None and status.start_time and not status.time_cost_ms:
        started = parse_rfc3339(status.start_time)
        if inp.now - started < JOB_APPEAR_GRACE:
            return Outcome(status, Retry.BACKOFF)  # Milvus creates the job just after RestoreSnapshot returns
    if job is None:
        assert inp.gateway is not None
        rows = await _rows(inp.gateway, target, db)
        return _fail(
            inp,
            status,
            "RestoreJobExpired",
            f"Milvus no longer knows restore job {status.job_id} (last seen {status.state}, {status.progress}%); "
            f"finished jobs are forgotten after about 3 hours; target collection {target!r} {rows}. Not re-running",
        )
    _apply_job(status, job)
    return await _after_job_update(inp, status, job, [])


async def _after_job_update(
    inp: RestoreInputs, status: MilvusRestoreStatus, job: RestoreJob, events: list[Event]
) -> Outcome[MilvusRestoreStatus]:
    target, _ = _target(status)
    if job.state == RESTORE_COMPLETED:
        status.phase = RestorePhase.COMPLETED
        status.completion_time = rfc3339(ms_to_datetime(job.start_time_ms + job.time_cost_ms))
        if inp.gateway is not None:
            try:
                status.target_row_count = await inp.gateway.row_count(target, _target(status)[1])
            except MilvusError:
                status.target_row_count = None  # informational only; the job's own state decides
        message = f"restore job {job.job_id} completed into {target!r} in {job.time_cost_ms} ms"
        mark_ready(status, "RestoreCompleted", message, inp.generation, inp.now)
        return Outcome(status, None, [*events, Event("Normal", "RestoreCompleted", message)])
    if job.state == RESTORE_FAILED:
        message = f"restore job {job.job_id} failed: {job.reason}"
        out = _fail(inp, status, "RestoreFailed", message)
        out.events[:0] = events
        return out
    message = f"restore job {job.job_id}: {job.state} {job.progress}%"
    mark_progressing(status, "RestoreInProgress", message, inp.generation, inp.now)
    return Outcome(status, Retry.POLL, events)


def _apply_job(status: MilvusRestoreStatus, job: RestoreJob) -> None:
    status.phase = RestorePhase.RESTORING
    status.state = job.state
    status.progress = max(0, min(100, job.progress))
    status.reason = job.reason or None
    if job.start_time_ms:
        status.start_time = rfc3339(ms_to_datetime(job.start_time_ms))
    status.time_cost_ms = job.time_cost_ms or None


async def _source_exists(gw: MilvusGateway, source: ResolvedSource) -> bool:
    try:
        info = await gw.describe_snapshot(source.snapshot_name, source.collection_name, source.db_name)
    except MilvusError as exc:
        if exc.kind == ErrorKind.COLLECTION_NOT_FOUND:
            return False
        raise
    return info is not None


async def _rows(gw: MilvusGateway, collection: str, db: str) -> str:
    try:
        if not await gw.collection_exists(collection, db):
            return "does not exist"
        return f"exists with {await gw.row_count(collection, db)} rows"
    except MilvusError as exc:
        return f"could not be inspected ({exc.message})"


def _target(status: MilvusRestoreStatus) -> tuple[str, str]:
    assert status.target_collection_name and status.target_db_name
    return status.target_collection_name, status.target_db_name
