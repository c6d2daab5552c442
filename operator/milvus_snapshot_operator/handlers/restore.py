"""MilvusRestore: a daemon resolves the source, starts (or adopts) the job and follows it to the end."""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION
from ..api.restore import PLURAL, MilvusRestoreSpec, MilvusRestoreStatus, ResolvedSource
from ..api.snapshot import MilvusSnapshotSpec, MilvusSnapshotStatus
from ..milvus.gateway import RestoreJob
from ..reconcile.restore import RestoreInputs, SourceFailed, reconcile_restore
from ..reconcile.snapshot import Blocked
from . import engine
from .bus import key
from .common import now, parse
from .resolve import resolve_connection
from .runtime import Runtime


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=30)
@engine.daemon_step
async def restore_daemon(
    body: Any,
    spec: Any,
    status: Any,
    namespace: Any,
    meta: Any,
    patch: Any,
    memo: Any,
    **kwargs: Any,
) -> None:
    runtime: Runtime = memo.runtime
    model = parse(MilvusRestoreSpec, spec)
    current = parse(MilvusRestoreStatus, status)
    inputs = RestoreInputs(generation=meta.get("generation"), spec=model, status=current, now=now())
    waits: list[str] = []
    if current.phase not in ("Completed", "Failed"):
        waits = await _resolve(
            runtime,
            namespace,
            model,
            current,
            inputs,
            kwargs["connections"],
            kwargs["snapshots"],
            kwargs["schedule_children"],
        )
    outcome = await reconcile_restore(inputs)
    engine.settle(outcome, body=body, patch=patch, memo=memo, waits=waits)


async def _resolve(
    runtime: Runtime,
    namespace: Any,
    spec: MilvusRestoreSpec,
    status: MilvusRestoreStatus,
    inputs: RestoreInputs,
    connections: Any,
    snapshots: Any,
    schedule_children: Any,
) -> list[str]:
    """Fill the inputs; return the keys whose change should wake this restore."""
    source = spec.source
    if status.source is not None:  # resolved and persisted before the job started: keep using it
        resolved_source: ResolvedSource | None = status.source
        connection = status.source.connection
    elif source.snapshot_ref is not None or source.schedule_ref is not None:
        if source.snapshot_ref is not None:
            ref = source.snapshot_ref.name
        else:
            assert source.schedule_ref is not None
            schedule = source.schedule_ref.name
            newest = newest_ready(schedule_children.get((namespace, schedule), ()))
            if newest is None:
                inputs.waiting = Blocked(
                    "NoReadySnapshot",  # names "Snapshot": the phase is WaitingForSnapshot
                    f"MilvusSnapshotSchedule {schedule!r} has no Ready MilvusSnapshot (yet)",
                    key("MilvusSnapshot", namespace, "*"),
                )
                return []
            ref = newest
        found = list(snapshots.get((namespace, ref), ()))
        dep = key("MilvusSnapshot", namespace, ref)
        if not found:
            inputs.waiting = Blocked(
                "SourceSnapshotNotFound", f"MilvusSnapshot {ref!r} not found in namespace {namespace!r}", dep
            )
            return []
        snap_spec = parse(MilvusSnapshotSpec, found[0]["spec"])
        snap_status = parse(MilvusSnapshotStatus, found[0]["status"])
        if snap_status.phase == "Failed":
            why = snap_status.error.message if snap_status.error else "failed"
            inputs.source_failed = SourceFailed(f"source MilvusSnapshot {ref!r} failed: {why}")
            return []
        if snap_status.phase != "Ready" or not snap_status.snapshot_name:
            phase = snap_status.phase or "Pending"
            inputs.waiting = Blocked("SourceSnapshotNotReady", f"waiting for MilvusSnapshot {ref!r} ({phase})", dep)
            return []
        connection = snap_spec.connection_ref.name
        resolved_source = ResolvedSource(
            snapshot_name=snap_status.snapshot_name,
            collection_name=snap_status.collection_name or snap_spec.collection_name,
            db_name=snap_status.db_name or "default",
            connection=connection,
            snapshot_ref=ref,
        )
    else:
        assert source.connection_ref is not None and source.snapshot_name and source.collection_name
        connection = source.connection_ref.name
        resolved_source = None
    resolved = await resolve_connection(runtime, namespace, connection, connections)
    if isinstance(resolved, Blocked):
        inputs.waiting = resolved
        return []
    if resolved_source is None:
        assert source.snapshot_name and source.collection_name
        resolved_source = ResolvedSource(
            snapshot_name=source.snapshot_name,
            collection_name=source.collection_name,
            db_name=source.db_name or resolved.db_name,
            connection=connection,
        )
    inputs.source = resolved_source
    inputs.gateway = resolved.gateway
    gateway, pool_key = resolved.gateway, resolved.pool_key

    async def lookup(job_id: int, db: str) -> RestoreJob | None:
        return await runtime.jobs.lookup(pool_key, gateway, db, job_id)

    inputs.job_lookup = lookup
    return [*resolved.wake_keys(namespace), key("MilvusSnapshot", namespace, "*")]


def newest_ready(children: Any) -> str | None:
    """The schedule's newest Ready, not deleting, MilvusSnapshot (by run time, then name)."""
    ready = [c for c in children if c["phase"] == "Ready" and not c["deleting"]]
    return max(ready, key=lambda c: (c["time"] or "", c["name"]))["name"] if ready else None
