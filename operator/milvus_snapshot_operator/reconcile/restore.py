"""MilvusRestore state machine.

Steps: resolve the source -> check the target is free -> record intent -> RestoreSnapshot (or, after a
crash, a lost reply or pymilvus re-sending the call, adopt the job found with ListRestoreSnapshotJobs) ->
follow the job until it ends. One resource never starts two jobs: once intent is on record, the jobs are
listed before any call and before any verdict, and a job is ours only if it restores our snapshot into our
target, started after our intent, and no other MilvusRestore holds it. Milvus's job records carry no source
collection, so a target is also claimed by one MilvusRestore at a time (the oldest): a second restore into
the same target waits for the first instead of racing it for the job.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Awaitable, Callable

from ..api.common import Intent, parse_rfc3339, parse_rfc3339_or_none, rfc3339
from ..api.restore import MilvusRestoreSpec, MilvusRestoreStatus, ResolvedSource, RestorePhase
from ..milvus.gateway import RESTORE_COMPLETED, RESTORE_FAILED, ErrorKind, MilvusError, MilvusGateway, RestoreJob
from .milvus_errors import UNKNOWN_OUTCOME, retry_or_fail
from .outcome import Event, Outcome, Retry
from .refs import Blocked, Connected, Missing, SourceFailed
from .timestamps import ms_to_datetime

RESTORE = "RestoreSnapshot"
# How long after a RestoreSnapshot call (or its intent) a missing job may still be Milvus's own job-creation
# lag, or a call that outlived its client-side timeout and is still running on the server. Counted from
# the last attempt, never from the intent alone: a slow synchronous phase is not an expired job.
JOB_APPEAR_GRACE = datetime.timedelta(seconds=10)
# Milvus stamps jobs with its own clock, we stamp intents with ours (at second precision): a job that
# started more than this before our intent cannot be ours.
CLOCK_SKEW = datetime.timedelta(seconds=60)

JobLookup = Callable[[int, str], Awaitable[RestoreJob | None]]


@dataclasses.dataclass(frozen=True)
class RestoreRefs:
    source: ResolvedSource
    connected: Connected
    job_lookup: JobLookup  # (job_id, target_db) -> job; backed by one list per interval
    claimed_jobs: frozenset[int] = frozenset()  # job IDs other MilvusRestores already follow


@dataclasses.dataclass(frozen=True)
class RestoreInputs:
    generation: int | None
    spec: MilvusRestoreSpec
    status: MilvusRestoreStatus
    now: datetime.datetime
    refs: RestoreRefs | Blocked | SourceFailed


async def reconcile_restore(inp: RestoreInputs) -> Outcome[MilvusRestoreStatus]:
    status = inp.status.model_copy(deep=True)
    if status.phase in (RestorePhase.COMPLETED, RestorePhase.FAILED):
        return Outcome(status)
    status.target_collection_name = inp.spec.target.collection_name
    started = status.job_id is not None or status.intent is not None
    if isinstance(inp.refs, SourceFailed):
        return _fail(inp, status, "SourceSnapshotFailed", inp.refs.message)
    if isinstance(inp.refs, Blocked):  # nothing derived from an unresolved reference is persisted
        if not started:
            waiting = inp.refs.missing == Missing.SNAPSHOT
            status.phase = RestorePhase.WAITING_FOR_SNAPSHOT if waiting else RestorePhase.PENDING
        status.mark_retrying(inp.refs.reason, inp.refs.message, inp.generation, inp.now)
        return Outcome(status, Retry.DEPENDENCY, dependency=inp.refs.wake)
    refs = inp.refs
    status.source = status.source or refs.source
    status.target_db_name = status.target_db_name or inp.spec.target.db_name or status.source.db_name
    gw = refs.connected.gateway
    try:
        if status.job_id is not None:
            return await _follow(inp, refs, status)
        if status.intent is None:
            return await _announce(inp, gw, status)
        return await _start_or_adopt(inp, refs, status)
    except MilvusError as exc:
        if exc.kind in UNKNOWN_OUTCOME and status.intent is not None:
            status.intent.attempt_time = rfc3339(inp.now)
        return retry_or_fail(exc, status, inp.generation, inp.now, transition="RestoreFailed")


def _fail(inp: RestoreInputs, status: MilvusRestoreStatus, reason: str, message: str) -> Outcome[MilvusRestoreStatus]:
    status.fail(reason, message, inp.generation, inp.now)
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
        status.mark_retrying("SourceSnapshotNotFound", message, inp.generation, inp.now)
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
    status.mark_progressing(
        "RestoreInProgress", f"restoring snapshot {source.snapshot_name!r} into {target!r}", inp.generation, inp.now
    )
    return Outcome(status, Retry.NOW)


async def _start_or_adopt(
    inp: RestoreInputs, refs: RestoreRefs, status: MilvusRestoreStatus
) -> Outcome[MilvusRestoreStatus]:
    """Intent is on record: adopt the job an earlier attempt started, else start one."""
    target, db = _target(status)
    source, intent, gw = status.source, status.intent, refs.connected.gateway
    assert source is not None and intent is not None
    job = await _our_job(inp, refs, status)
    if job is not None:
        status.job_id = job.job_id
        status.intent = None
        _apply_job(status, job)
        message = f"adopted restore job {job.job_id} into {target!r} (its start was not recorded: crash or lost reply)"
        return await _after_job_update(inp, gw, status, job, [Event("Normal", "RestoreAdopted", message)])
    if await gw.collection_exists(target, db):
        if _job_may_appear(intent, inp.now):
            return Outcome(status, Retry.BACKOFF)  # RestoreSnapshot created the target; its job is on the way
        rows = await _rows(gw, target, db)
        return _fail(
            inp,
            status,
            "RestoreJobExpired",
            f"a restore into {target!r} was requested at {intent.time} but Milvus knows no job for it "
            f"(finished jobs are forgotten after about 3 hours); the target collection {rows}. "
            "Not re-running: inspect the target, drop it and create a new MilvusRestore to retry",
        )
    try:
        job_id = await gw.restore_snapshot(source.snapshot_name, source.collection_name, source.db_name, target, db)
    except MilvusError as exc:
        if exc.kind != ErrorKind.TARGET_EXISTS:
            raise
        # pymilvus re-sent the call after a lost reply, or another client created the target meanwhile: no
        # verdict before the jobs are listed again (next step, within the grace).
        intent.attempt_time = rfc3339(inp.now)
        return Outcome(status, Retry.BACKOFF)
    status.job_id = job_id
    status.intent = None
    status.state = "RestoreSnapshotPending"
    status.progress = 0
    status.start_time = rfc3339(inp.now)  # until Milvus reports its own start time
    message = f"restore job {job_id} started: snapshot {source.snapshot_name!r} -> collection {target!r}"
    status.mark_progressing("RestoreInProgress", message, inp.generation, inp.now)
    return Outcome(status, Retry.POLL, [Event("Normal", "RestoreStarted", message)])


async def _our_job(inp: RestoreInputs, refs: RestoreRefs, status: MilvusRestoreStatus) -> RestoreJob | None:
    """The job this restore started, if Milvus has it: our snapshot, our target database and collection,
    started after our intent, held by no other MilvusRestore."""
    target, db = _target(status)
    source, intent = status.source, status.intent
    assert source is not None and intent is not None
    earliest = parse_rfc3339(intent.time) - CLOCK_SKEW
    ours = [
        job
        for job in await refs.connected.gateway.list_restore_jobs(db)
        if job.collection_name == target
        and job.db_name == db
        and job.snapshot_name == source.snapshot_name
        and job.job_id not in refs.claimed_jobs
        and (not job.start_time_ms or ms_to_datetime(job.start_time_ms) >= earliest)
    ]
    return max(ours, key=lambda j: (j.start_time_ms, j.job_id)) if ours else None


def _job_may_appear(intent: Intent, now: datetime.datetime) -> bool:
    times = [parse_rfc3339_or_none(intent.time), parse_rfc3339_or_none(intent.attempt_time)]
    latest = max((t for t in times if t is not None), default=None)
    return latest is not None and now - latest < JOB_APPEAR_GRACE


async def _follow(inp: RestoreInputs, refs: RestoreRefs, status: MilvusRestoreStatus) -> Outcome[MilvusRestoreStatus]:
    assert status.job_id is not None
    target, db = _target(status)
    job = await refs.job_lookup(status.job_id, db)
    if job is None and status.start_time and not status.time_cost_ms:
        started = parse_rfc3339(status.start_time)
        if inp.now - started < JOB_APPEAR_GRACE:
            return Outcome(status, Retry.BACKOFF)  # Milvus creates the job just after RestoreSnapshot returns
    gw = refs.connected.gateway
    if job is None:
        rows = await _rows(gw, target, db)
        return _fail(
            inp,
            status,
            "RestoreJobExpired",
            f"Milvus no longer knows restore job {status.job_id} (last seen {status.state}, {status.progress}%); "
            f"finished jobs are forgotten after about 3 hours; target collection {target!r} {rows}. Not re-running",
        )
    _apply_job(status, job)
    return await _after_job_update(inp, gw, status, job, [])


async def _after_job_update(
    inp: RestoreInputs, gw: MilvusGateway, status: MilvusRestoreStatus, job: RestoreJob, events: list[Event]
) -> Outcome[MilvusRestoreStatus]:
    target, db = _target(status)
    if job.state == RESTORE_COMPLETED:
        status.phase = RestorePhase.COMPLETED
        status.completion_time = rfc3339(ms_to_datetime(job.start_time_ms + job.time_cost_ms))
        try:
            status.target_row_count = await gw.row_count(target, db)
        except MilvusError:
            status.target_row_count = None  # informational only; the job's own state decides
        message = f"restore job {job.job_id} completed into {target!r} in {job.time_cost_ms} ms"
        status.mark_ready("RestoreCompleted", message, inp.generation, inp.now)
        return Outcome(status, None, [*events, Event("Normal", "RestoreCompleted", message)])
    if job.state == RESTORE_FAILED:
        out = _fail(inp, status, "RestoreFailed", f"restore job {job.job_id} failed: {job.reason}")
        out.events[:0] = events
        return out
    message = f"restore job {job.job_id}: {job.state} {job.progress}%"
    status.mark_progressing("RestoreInProgress", message, inp.generation, inp.now)
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
    assert status.target_collection_name and status.target_db_name, "set before any Milvus call"
    return status.target_collection_name, status.target_db_name
