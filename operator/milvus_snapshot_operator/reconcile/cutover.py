"""After Milvus's restore job completes: verify the target, load it, point the alias at it; later release or
drop the collection the alias left, roll back on request; and clean up after a failure.

Every step is driven by status and is idempotent: the collection an alias pointed at is recorded before the
alias moves, so a restart after the switch finds the alias already on the target and knows where it was.
Milvus has reported Completed for restores that could not load, so nothing serves from a target before it
passed verification and loaded; a failed check never touches the alias.
"""

from __future__ import annotations

import dataclasses
import datetime
import random

from ..api.common import Intent, parse_rfc3339_or_none, rfc3339
from ..api.restore import (
    CutoverStatus,
    LoadStatus,
    MilvusRestoreSpec,
    MilvusRestoreStatus,
    OnFailure,
    PreviousCollection,
    RestorePhase,
    RowCountCheck,
    VerificationStatus,
)
from ..milvus.gateway import ErrorKind, MilvusError, MilvusGateway
from .outcome import Event, Outcome, Retry

ALTER_ALIAS = "AlterAlias"
LOAD_ATTEMPTS = 3  # loads that Milvus drops (back to NotLoad) before the restore fails LoadFailed
NEVER = datetime.timedelta(days=3650)


@dataclasses.dataclass(frozen=True)
class Step:
    """What the cut-over steps share: the restore's spec, the clock, the target and a client."""

    spec: MilvusRestoreSpec
    generation: int | None
    now: datetime.datetime
    gateway: MilvusGateway
    target: str
    db: str
    cutover_request: str | None = None  # value of the snapshot.milvus.io/cutover annotation
    rollback_request: str | None = None  # value of the snapshot.milvus.io/rollback annotation


def after_job(step: Step, status: MilvusRestoreStatus, events: list[Event], done: str) -> Outcome[MilvusRestoreStatus]:
    """The job completed (`done` says how): what comes next (nothing more, for a plain restore)."""
    if step.spec.effective_verify is not None:
        events = [*events, Event("Normal", "RestoreJobCompleted", done)]
        return _move(step, status, RestorePhase.VERIFYING, f"{done}; verifying the restored collection", events)
    if step.spec.effective_load is not None:
        events = [*events, Event("Normal", "RestoreJobCompleted", done)]
        return _move(step, status, RestorePhase.LOADING, f"{done}; loading the restored collection", events)
    return _complete(step, status, events, done)


async def verify(step: Step, status: MilvusRestoreStatus) -> Outcome[MilvusRestoreStatus]:
    """Row count and indexes, before anything loads or serves from the target."""
    checks = step.spec.effective_verify
    assert checks is not None and status.source is not None
    gw, found = step.gateway, VerificationStatus()
    found.row_count = await gw.row_count(step.target, step.db)
    found.expected_row_count = status.source.source_row_count
    expected, rows = found.expected_row_count, found.row_count
    if checks.row_count != RowCountCheck.SKIP and expected is not None:
        short = rows < expected if checks.row_count == RowCountCheck.EXACT else False
        if short or rows > expected:
            how = "exactly" if checks.row_count == RowCountCheck.EXACT else "at most"
            return _verification_failed(
                step,
                status,
                "rowCount",
                f"the target has {rows} rows, the snapshot's source had {expected} when it was taken (expected "
                f"{how} that; AtMost tolerates a compaction between the count and the snapshot)",
            )
    if checks.indexes:
        source = await gw.indexes(status.source.collection_name, status.source.db_name)
        target = {index.name: index for index in await gw.indexes(step.target, step.db)}
        missing = [index.name for index in source if index.name not in target]
        if missing:
            return _verification_failed(step, status, "indexes", f"missing on the target: {', '.join(missing)}")
        building = [i.name for i in target.values() if i.state != "Finished" or i.pending_rows > 0]
        if building:
            message = f"waiting for the target's indexes to finish: {', '.join(building)}"
            status.mark_progressing("Verifying", message, step.generation, step.now)
            return Outcome(status, Retry.POLL)
        found.indexes = sorted(target)
    status.verification = found
    if step.spec.effective_load is not None:
        return _move(step, status, RestorePhase.LOADING, "verified; loading the restored collection", [])
    found.time = rfc3339(step.now)
    return await _then_serve(step, status, [])


async def load(step: Step, status: MilvusRestoreStatus) -> Outcome[MilvusRestoreStatus]:
    """Load the target (bounded by load.timeoutSeconds), then run the search probe if one is asked for."""
    wanted = step.spec.effective_load
    assert wanted is not None
    gw = step.gateway
    current = status.load or LoadStatus(start_time=rfc3339(step.now), attempts=0)
    state = await gw.load_state(step.target, step.db)
    current.state, current.progress = state.state, state.progress
    status.load = current
    if state.state == "Loaded":
        return await _probe(step, status)
    started = parse_rfc3339_or_none(current.start_time) or step.now
    if step.now - started >= datetime.timedelta(seconds=wanted.timeout_seconds):
        return _fail(
            step, status, "LoadTimeout", f"loading {step.target!r} did not finish in {wanted.timeout_seconds}s"
        )
    if state.state == "Loading":
        message = f"loading {step.target!r}: {state.progress}%"
        status.mark_progressing("Loading", message, step.generation, step.now)
        return Outcome(status, Retry.POLL)
    if (current.attempts or 0) >= LOAD_ATTEMPTS:
        return _fail(step, status, "LoadFailed", f"Milvus dropped the load of {step.target!r} {current.attempts} times")
    current.attempts = (current.attempts or 0) + 1
    try:
        await gw.start_load(step.target, step.db, wanted.replica_number, list(wanted.resource_groups))
    except MilvusError as exc:
        if exc.kind != ErrorKind.NOT_LOADED:
            raise
        return _fail(step, status, "LoadFailed", f"Milvus could not load {step.target!r}: {exc.message}")
    status.mark_progressing("Loading", f"loading {step.target!r}", step.generation, step.now)
    return Outcome(status, Retry.POLL)


async def _probe(step: Step, status: MilvusRestoreStatus) -> Outcome[MilvusRestoreStatus]:
    checks = step.spec.effective_verify
    found = status.verification or VerificationStatus()
    probe = checks.search_probe if checks else None
    if probe is not None:
        fields = [f for f in await step.gateway.vector_fields(step.target, step.db) if f.dtype == "FLOAT_VECTOR"]
        if not fields:
            return _verification_failed(step, status, "searchProbe", "the target has no FLOAT_VECTOR field to search")
        field = fields[0]
        rng = random.Random(f"{step.target}/{field.name}")  # the same probe on every attempt
        vectors = [[rng.random() for _ in range(field.dim)] for _ in range(probe.queries)]
        hits = await step.gateway.search_hits(step.target, step.db, field.name, vectors, probe.limit)
        answered = sum(1 for count in hits if count > 0)
        found.probe = f"{answered}/{probe.queries} queries on {field.name!r} returned hits"
        if answered < probe.queries:
            return _verification_failed(step, status, "searchProbe", found.probe)
    found.time = rfc3339(step.now)
    status.verification = found
    return await _then_serve(step, status, [])


async def _then_serve(step: Step, status: MilvusRestoreStatus, events: list[Event]) -> Outcome[MilvusRestoreStatus]:
    if step.spec.alias is None:
        return _complete(step, status, events)
    return await cutover(step, status)


async def cutover(step: Step, status: MilvusRestoreStatus) -> Outcome[MilvusRestoreStatus]:
    """Point the alias at the target: wait for the annotation if Manual; record where it pointed first."""
    alias = step.spec.alias
    assert alias is not None
    record = status.cutover or CutoverStatus(alias=alias)
    status.cutover = record
    if status.phase != RestorePhase.CUTTING_OVER:
        if step.spec.cutover == "Manual":
            if not step.cutover_request or step.cutover_request == record.last_trigger:
                status.phase = RestorePhase.AWAITING_CUTOVER
                message = (
                    f"verified and loaded; waiting for the annotation snapshot.milvus.io/cutover=now to point alias "
                    f"{alias!r} at {step.target!r}"
                )
                status.mark_progressing("AwaitingCutover", message, step.generation, step.now)
                return Outcome(status, Retry.DEPENDENCY, within=NEVER)
            record.last_trigger = step.cutover_request
        current = await step.gateway.alias_target(alias, step.db)
        if current is None and await step.gateway.collection_exists(alias, step.db):
            return _fail(step, status, "InvalidAlias", f"{alias!r} is the name of a collection, not an alias")
        # Recorded before the switch: after a crash the alias already points at the target, and this is the
        # only place that knows where it pointed before.
        record.previous_collection = current if current != step.target else record.previous_collection
        # A rollback annotation already there (copied with a manifest, or set early) asks for nothing: only a
        # value set after the switch rolls back.
        record.last_rollback = step.rollback_request
        status.phase = RestorePhase.CUTTING_OVER
        status.intent = Intent(operation=ALTER_ALIAS, time=rfc3339(step.now))
        status.mark_progressing(
            "CuttingOver", f"pointing alias {alias!r} at {step.target!r}", step.generation, step.now
        )
        return Outcome(status, Retry.NOW)
    current = await step.gateway.alias_target(alias, step.db)
    if current is None:
        await step.gateway.create_alias(step.target, alias, step.db)
    elif current != step.target:
        await step.gateway.alter_alias(step.target, alias, step.db)
    record.time = record.time or rfc3339(step.now)
    status.intent = None
    was = f" (it pointed at {record.previous_collection!r})" if record.previous_collection else " (created)"
    message = f"alias {alias!r} now points at {step.target!r}{was}"
    return _complete(step, status, [Event("Normal", "CutoverCompleted", message)], message)


async def serving(step: Step, status: MilvusRestoreStatus) -> Outcome[MilvusRestoreStatus]:
    """Completed with an alias: roll back on request; after the grace period, release or drop the previous."""
    record, alias = status.cutover, step.spec.alias
    if record is None or alias is None:
        return Outcome(status)
    if step.rollback_request and step.rollback_request != record.last_rollback:
        return await _rollback(step, status, record, alias)
    previous, policy = record.previous_collection, step.spec.previous_collection
    if status.phase != RestorePhase.COMPLETED or previous is None or policy == PreviousCollection.KEEP:
        return Outcome(status, Retry.DEPENDENCY, within=NEVER)
    if record.previous_state is not None:
        return Outcome(status, Retry.DEPENDENCY, within=NEVER)
    switched = parse_rfc3339_or_none(record.time) or step.now
    due = switched + datetime.timedelta(seconds=step.spec.grace_period_seconds)
    if step.now < due:
        return Outcome(status, Retry.DEPENDENCY, within=due - step.now)
    gw = step.gateway
    if not await gw.collection_exists(previous, step.db):
        record.previous_state = "Gone"
        return Outcome(status, Retry.DEPENDENCY, within=NEVER)
    if policy == PreviousCollection.DROP:
        still = await gw.aliases_of(previous, step.db)
        if still:
            message = f"previous collection {previous!r} kept: aliases still point at it ({', '.join(still)})"
            record.previous_state = "KeptAliased"
            return Outcome(
                status, Retry.DEPENDENCY, [Event("Warning", "PreviousCollectionKept", message)], within=NEVER
            )
        await gw.drop_collection(previous, step.db)
        record.previous_state = "Dropped"
    else:
        await gw.release(previous, step.db)
        record.previous_state = "Released"
    message = f"previous collection {previous!r} {record.previous_state.lower()} after the grace period"
    return Outcome(
        status, Retry.DEPENDENCY, [Event("Normal", f"PreviousCollection{record.previous_state}", message)], within=NEVER
    )


async def _rollback(
    step: Step, status: MilvusRestoreStatus, record: CutoverStatus, alias: str
) -> Outcome[MilvusRestoreStatus]:
    gw, previous = step.gateway, record.previous_collection
    impossible = None
    if previous is None:
        impossible = f"alias {alias!r} was created by this restore: there is no previous collection to go back to"
    elif not await gw.collection_exists(previous, step.db):
        impossible = f"previous collection {previous!r} no longer exists"
    if impossible is not None:
        record.last_rollback = step.rollback_request
        return Outcome(status, Retry.DEPENDENCY, [Event("Warning", "RollbackImpossible", impossible)], within=NEVER)
    assert previous is not None
    state = await gw.load_state(previous, step.db)
    if state.state != "Loaded":  # released after the grace period: it must serve again before the switch
        if state.state != "Loading":
            wanted = step.spec.effective_load
            replicas = wanted.replica_number if wanted else 1
            await gw.start_load(previous, step.db, replicas, list(wanted.resource_groups) if wanted else [])
        message = f"rolling back: loading {previous!r} ({state.progress}%)"
        status.mark_progressing("RollingBack", message, step.generation, step.now)
        return Outcome(status, Retry.POLL)
    await gw.alter_alias(previous, alias, step.db)
    record.last_rollback = step.rollback_request
    record.rollback_time = rfc3339(step.now)
    status.phase = RestorePhase.ROLLED_BACK
    message = f"alias {alias!r} points back at {previous!r}; {step.target!r} is kept"
    status.mark_ready("RolledBack", message, step.generation, step.now)
    return Outcome(status, Retry.DEPENDENCY, [Event("Normal", "RolledBack", message)], within=NEVER)


async def after_failure(step: Step, status: MilvusRestoreStatus) -> Outcome[MilvusRestoreStatus]:
    """Failed: onFailure: Drop drops the target once the job has ended, if this restore created it and no
    alias points at it. (A running job is followed by the caller until it ends.)"""
    if (
        step.spec.on_failure != OnFailure.DROP
        or not status.target_created
        or status.target_dropped
        or (status.job_id is not None and not status.job_ended)
    ):
        return Outcome(status)
    gw = step.gateway
    if not await gw.collection_exists(step.target, step.db):
        status.target_dropped = True
        return Outcome(status)
    aliases = await gw.aliases_of(step.target, step.db)
    if aliases:
        message = f"target {step.target!r} kept despite onFailure: Drop: aliases point at it ({', '.join(aliases)})"
        status.target_dropped = False
        return Outcome(status, None, [Event("Warning", "TargetKept", message)])
    await gw.drop_collection(step.target, step.db)
    status.target_dropped = True
    return Outcome(status, None, [Event("Normal", "TargetDropped", f"dropped {step.target!r} (onFailure: Drop)")])


def _move(
    step: Step, status: MilvusRestoreStatus, phase: RestorePhase, message: str, events: list[Event]
) -> Outcome[MilvusRestoreStatus]:
    status.phase = phase
    status.mark_progressing(str(phase), message, step.generation, step.now)
    return Outcome(status, Retry.NOW, events)


def _complete(
    step: Step, status: MilvusRestoreStatus, events: list[Event], message: str | None = None
) -> Outcome[MilvusRestoreStatus]:
    status.phase = RestorePhase.COMPLETED
    text = message or f"restored into {step.target!r}"
    status.mark_ready("RestoreCompleted", text, step.generation, step.now)
    events = [*events, Event("Normal", "RestoreCompleted", text)]
    if step.spec.alias is not None:  # the daemon stays: rollback on request, the previous after the grace
        return Outcome(status, Retry.DEPENDENCY, events, within=datetime.timedelta(seconds=0))
    return Outcome(status, None, events)


def _verification_failed(
    step: Step, status: MilvusRestoreStatus, check: str, detail: str
) -> Outcome[MilvusRestoreStatus]:
    return _fail(step, status, "VerificationFailed", f"{check}: {detail}; nothing was switched to {step.target!r}")


def _fail(step: Step, status: MilvusRestoreStatus, reason: str, message: str) -> Outcome[MilvusRestoreStatus]:
    status.fail(reason, message, step.generation, step.now)
    return Outcome(status, Retry.NOW, [Event("Warning", "RestoreFailed", f"{reason}: {message}")])
