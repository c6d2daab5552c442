"""MilvusRestore state machine.

Steps: resolve the source -> check the target is free -> record intent -> RestoreSnapshot (or, after a crash,
a lost reply or pymilvus re-sending the call, adopt the job found with ListRestoreSnapshotJobs) -> follow the
job until it ends -> verify, load and cut over (reconcile/cutover.py) when asked to. One resource never starts
two jobs: once intent is on record, the jobs are listed before any call and before any verdict, and a job is
ours only if it restores our snapshot into our target, started after our intent, and no other MilvusRestore
holds it. Milvus's job records carry no source collection, so a target is also claimed by one MilvusRestore at
a time (the oldest): a second restore into the same target waits for the first instead of racing it for the
job.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Awaitable, Callable

from ..api.common import Intent, parse_rfc3339, parse_rfc3339_or_none, rfc3339
from ..api.restore import ENDED, Cutover, MilvusRestoreSpec, MilvusRestoreStatus, ResolvedSource, RestorePhase
from ..milvus.gateway import RESTORE_COMPLETED, RESTORE_FAILED, ErrorKind, MilvusError, MilvusGateway, RestoreJob
from . import cutover
from .milvus_errors import UNKNOWN_OUTCOME, retry, retry_or_fail
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
    created_at: datetime.datetime | None = None  # metadata.creationTimestamp: activeDeadlineSeconds counts from it
    cutover_request: str | None = None  # the snapshot.milvus.io/cutover annotation
    rollback_request: str | None = None  # the snapshot.milvus.io/rollback annotation


def needs_daemon(spec: MilvusRestoreSpec, status: MilvusRestoreStatus) -> bool:
    """Whether an ended restore still has work: following a job after a deadline, a cleanup after a
    failure, or (with an alias) a rollback to honour and a previous collection to release."""
    if status.phase == RestorePhase.FAILED:
        following = status.job_id is not None and not status.job_ended
        cleanup = spec.on_failure == "Drop" and bool(status.target_created) and status.target_dropped is None
        return following or cleanup
    if status.phase in (RestorePhase.COMPLETED, RestorePhase.ROLLED_BACK):
        return spec.alias is not None and status.cutover is not None
    return True


async def reconcile_restore(inp: RestoreInputs) -> Outcome[MilvusRestoreStatus]:
    status = inp.status.model_copy(deep=True)
    if not needs_daemon(inp.spec, status):
        return Outcome(status)
    before = _progress_marks(status)
    outcome = await _step(inp, status)
    if _progress_marks(outcome.status) != before or outcome.status.last_progress_time is None:
        outcome.status.last_progress_time = rfc3339(inp.now)
    return outcome


async def _step(inp: RestoreInputs, status: MilvusRestoreStatus) -> Outcome[MilvusRestoreStatus]:
    status.target_collection_name = inp.spec.target.collection_name
    started = status.job_id is not None or status.intent is not None
    ended = status.phase in ENDED
    # After the intent and before a job ID, a restore call's outcome is not known: its job, if it started, must
    # be adopted first, or it would run unfollowed (and onFailure could not drop its target). _start_or_adopt
    # applies the deadline once the job is known absent.
    call_unresolved = status.intent is not None and status.job_id is None
    if not ended and not call_unresolved and (late := _past_deadline(inp, status)) is not None:
        return _fail(inp, status, "DeadlineExceeded", late)
    if isinstance(inp.refs, SourceFailed) and not started:
        return _fail(inp, status, "SourceSnapshotFailed", inp.refs.message)
    if isinstance(inp.refs, (Blocked, SourceFailed)):  # nothing derived from an unresolved reference is persisted
        if isinstance(inp.refs, SourceFailed) or ended:
            return Outcome(status, Retry.DEPENDENCY)
        if not started:
            waiting = inp.refs.missing == Missing.SNAPSHOT
            status.phase = RestorePhase.WAITING_FOR_SNAPSHOT if waiting else RestorePhase.PENDING
        status.mark_retrying(inp.refs.reason, inp.refs.message, inp.generation, inp.now)
        return Outcome(status, Retry.DEPENDENCY, dependency=inp.refs.wake)
    refs = inp.refs
    status.source = status.source or refs.source
    status.target_db_name = status.target_db_name or inp.spec.target.db_name or status.source.db_name
    gw = refs.connected.gateway
    target, db = _target(status)
    step = cutover.Step(inp.spec, inp.generation, inp.now, gw, target, db, inp.cutover_request, inp.rollback_request)
    try:
        if status.phase == RestorePhase.FAILED:
            if status.job_id is not None and not status.job_ended:
                return await _follow_after_failure(inp, refs, status)
            return await cutover.after_failure(step, status)
        if status.phase in (RestorePhase.COMPLETED, RestorePhase.ROLLED_BACK):
            return await cutover.serving(step, status)
        if status.phase == RestorePhase.VERIFYING:
            return await cutover.verify(step, status)
        if status.phase == RestorePhase.LOADING:
            return await cutover.load(step, status)
        if status.phase in (RestorePhase.AWAITING_CUTOVER, RestorePhase.CUTTING_OVER):
            return await cutover.cutover(step, status)
        if status.job_id is not None:
            return await _follow(inp, refs, step, status)
        if status.intent is None:
            return await _announce(inp, gw, status)
        return await _start_or_adopt(inp, refs, step, status)
    except MilvusError as exc:
        if exc.kind in UNKNOWN_OUTCOME and status.intent is not None:
            status.intent.attempt_time = rfc3339(inp.now)
        if status.phase in ENDED:  # cleanup, rollback or grace-period work: retried, never a new verdict
            return retry(exc, status, inp.generation, inp.now)
        return retry_or_fail(exc, status, inp.generation, inp.now, transition="RestoreFailed")


def _progress_marks(status: MilvusRestoreStatus) -> tuple[object, ...]:
    """What counts as progress for progressDeadlineSeconds: a new phase, job state or percentage."""
    load = status.load.progress if status.load else None
    return (status.phase, status.state, status.progress, load, status.job_id)


def _past_deadline(inp: RestoreInputs, status: MilvusRestoreStatus) -> str | None:
    spec = inp.spec
    if status.phase == RestorePhase.AWAITING_CUTOVER:  # done with Milvus; waiting for a person is not stuck
        return None
    if status.phase == RestorePhase.CUTTING_OVER and spec.cutover == Cutover.MANUAL:  # the person has acted
        return None
    if spec.active_deadline_seconds is not None and inp.created_at is not None:
        limit = datetime.timedelta(seconds=spec.active_deadline_seconds)
        if inp.now - inp.created_at >= limit:
            return f"not finished {spec.active_deadline_seconds}s after it was created ({_where(status)})"
    last = parse_rfc3339_or_none(status.last_progress_time)
    progress = spec.progress_deadline_seconds
    if progress is not None and last is not None and inp.now - last >= datetime.timedelta(seconds=progress):
        return f"no progress for {progress}s ({_where(status)})"
    return None


def _where(status: MilvusRestoreStatus) -> str:
    job = f", job {status.job_id} {status.state} {status.progress}%" if status.job_id else ""
    return f"phase {status.phase or 'Pending'}{job}; Milvus has no cancel: a running job is still followed"


def _fail(inp: RestoreInputs, status: MilvusRestoreStatus, reason: str, message: str) -> Outcome[MilvusRestoreStatus]:
    status.fail(reason, message, inp.generation, inp.now)
    # Events carry the stable transition reason; the specific one is in the message and the conditions.
    detail = message if reason == "RestoreFailed" else f"{reason}: {message}"
    events = [Event("Warning", "RestoreFailed", detail)]
    return Outcome(status, Retry.NOW if needs_daemon(inp.spec, status) else None, events)


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
    inp: RestoreInputs, refs: RestoreRefs, step: cutover.Step, status: MilvusRestoreStatus
) -> Outcome[MilvusRestoreStatus]:
    """Intent is on record: adopt the job an earlier attempt started, else start one."""
    target, db = _target(status)
    source, intent, gw = status.source, status.intent, refs.connected.gateway
    assert source is not None and intent is not None
    job = await _our_job(inp, refs, status)
    if job is not None:
        status.job_id = job.job_id
        status.intent = None
        status.target_created = True
        _apply_job(status, job)
        message = f"adopted restore job {job.job_id} into {target!r} (its start was not recorded: crash or lost reply)"
        return await _after_job_update(inp, step, status, job, [Event("Normal", "RestoreAdopted", message)])
    if await gw.collection_exists(target, db):
        last = intent.last_attempt()
        if last is not None and inp.now - last < JOB_APPEAR_GRACE:
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
    if (late := _past_deadline(inp, status)) is not None:  # no job, no target: nothing started, nothing to follow
        status.intent = None
        return _fail(inp, status, "DeadlineExceeded", late)
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
    status.target_created = True
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


async def _follow(
    inp: RestoreInputs, refs: RestoreRefs, step: cutover.Step, status: MilvusRestoreStatus
) -> Outcome[MilvusRestoreStatus]:
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
        status.job_ended = True  # forgotten by Milvus: how it ended can no longer be known
        return _fail(
            inp,
            status,
            "RestoreJobExpired",
            f"Milvus no longer knows restore job {status.job_id} (last seen {status.state}, {status.progress}%); "
            f"finished jobs are forgotten after about 3 hours; target collection {target!r} {rows}. Not re-running",
        )
    _apply_job(status, job)
    return await _after_job_update(inp, step, status, job, [])


async def _follow_after_failure(
    inp: RestoreInputs, refs: RestoreRefs, status: MilvusRestoreStatus
) -> Outcome[MilvusRestoreStatus]:
    """Failed (a deadline) while Milvus's job still runs: there is no cancel, so report how the job ends."""
    assert status.job_id is not None
    _, db = _target(status)
    job = await refs.job_lookup(status.job_id, db)
    if job is None:  # forgotten by Milvus: its end cannot be known any more
        status.job_ended = True
        return Outcome(status, Retry.NOW)
    status.state, status.progress, status.reason = job.state, max(0, min(100, job.progress)), job.reason or None
    status.time_cost_ms = job.time_cost_ms or None
    if not job.terminal:
        return Outcome(status, Retry.POLL)
    status.job_ended = True
    if job.state == RESTORE_COMPLETED:
        status.completion_time = rfc3339(ms_to_datetime(job.start_time_ms + job.time_cost_ms))
    message = f"restore job {job.job_id} ended {job.state} after this restore had failed ({job.reason or 'no reason'})"
    return Outcome(status, Retry.NOW, [Event("Normal", "RestoreJobEnded", message)])


async def _after_job_update(
    inp: RestoreInputs, step: cutover.Step, status: MilvusRestoreStatus, job: RestoreJob, events: list[Event]
) -> Outcome[MilvusRestoreStatus]:
    target, db = _target(status)
    if job.state == RESTORE_COMPLETED:
        status.job_ended = True
        status.completion_time = rfc3339(ms_to_datetime(job.start_time_ms + job.time_cost_ms))
        try:
            status.target_row_count = await step.gateway.row_count(target, db)
        except MilvusError:
            status.target_row_count = None  # informational only; the job's own state decides
        done = f"restore job {job.job_id} completed into {target!r} in {job.time_cost_ms} ms"
        return cutover.after_job(step, status, events, done)
    if job.state == RESTORE_FAILED:
        status.job_ended = True
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
