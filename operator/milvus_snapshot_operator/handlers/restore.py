"""MilvusRestore: a daemon gathers the facts (indexes, connection), reconcile/ decides the source and the job."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import kopf

from ..api import CUTOVER_ANNOTATION, GROUP, ROLLBACK_ANNOTATION, VERSION
from ..api.common import parse_rfc3339_or_none
from ..api.restore import PLURAL, MilvusRestoreSpec, MilvusRestoreStatus
from ..milvus.gateway import RestoreJob
from ..reconcile.claims import older_claimant
from ..reconcile.entries import ConnectionEntry, RestoreEntry, SnapshotEntry
from ..reconcile.refs import Blocked, Missing, SourceFailed
from ..reconcile.restore import RestoreInputs, RestoreRefs, needs_daemon, reconcile_restore
from ..reconcile.restore_source import choose_source
from ..reconcile.retention import Child
from . import engine
from .bus import key
from .common import now, parse
from .indexes import in_namespace
from .resolve import connection_key, resolve_connection, wake_keys
from .runtime import Runtime
from .state import runtime_of

Key = tuple[str, str]
E = TypeVar("E")


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=30)
@engine.daemon_step
async def restore_daemon(
    body: kopf.Body,
    spec: kopf.Spec,
    status: kopf.Status,
    name: str,
    namespace: str,
    meta: kopf.Meta,
    patch: kopf.Patch,
    memo: kopf.Memo,
    connections: kopf.Index[Key, ConnectionEntry],
    snapshots: kopf.Index[Key, SnapshotEntry],
    schedule_children: kopf.Index[Key, Child],
    restores: kopf.Index[Key, RestoreEntry],
    **_: object,
) -> None:
    model = parse(MilvusRestoreSpec, spec)
    current = parse(MilvusRestoreStatus, status)
    if not needs_daemon(model, current):
        return  # ended, nothing left to watch: the daemon exits
    runtime = runtime_of(memo)
    refs, waits = await _gather(
        runtime, namespace, name, model, current, connections, snapshots, schedule_children, restores
    )
    annotations = meta.get("annotations") or {}
    inputs = RestoreInputs(
        generation=meta.get("generation"),
        spec=model,
        status=current,
        now=now(),
        refs=refs,
        created_at=parse_rfc3339_or_none(meta.get("creationTimestamp")),
        cutover_request=annotations.get(CUTOVER_ANNOTATION),
        rollback_request=annotations.get(ROLLBACK_ANNOTATION),
    )
    outcome = await reconcile_restore(inputs)
    # Its own annotations (cutover, rollback) wake it: the restore's key is notified on every change of it.
    waits.append(key("MilvusRestore", namespace, name))
    engine.settle(outcome, body=body, patch=patch, memo=memo, waits=waits)


async def _gather(
    runtime: Runtime,
    namespace: str,
    name: str,
    spec: MilvusRestoreSpec,
    status: MilvusRestoreStatus,
    connections: kopf.Index[Key, ConnectionEntry],
    snapshots: kopf.Index[Key, SnapshotEntry],
    schedule_children: kopf.Index[Key, Child],
    restores: kopf.Index[Key, RestoreEntry],
) -> tuple[RestoreRefs | Blocked | SourceFailed, list[str]]:
    """The facts the restore's decision needs, and the keys whose change should wake it."""
    any_snapshot = key("MilvusSnapshot", namespace, "*")
    plan = choose_source(
        namespace,
        spec.source,
        status.source,
        snapshot=lambda ref: _first(snapshots.get((namespace, ref), ())),
        schedule_children=lambda schedule: schedule_children.get((namespace, schedule), ()),
        wake=lambda kind, ref: key(kind, namespace, ref),
    )
    if isinstance(plan, (Blocked, SourceFailed)):
        return plan, [any_snapshot]
    started = status.job_id is not None or status.intent is not None
    me = _first(restores.get((namespace, name), ()))
    if not started and me is not None:
        claimant = older_claimant(me, in_namespace(restores, namespace))
        if claimant is not None:
            message = (
                f"MilvusRestore {claimant!r} is restoring into {spec.target.collection_name!r} already; this one "
                "waits for it (Milvus refuses an existing target, so this one fails if that one succeeds)"
            )
            return Blocked(Missing.TARGET, "TargetClaimed", message, key("MilvusRestore", namespace, claimant)), []
    found = list(connections.get((namespace, plan.connection), ()))
    connected = await resolve_connection(runtime, namespace, plan.connection, found)
    waits = [*(wake_keys(namespace, plan.connection, found[0].spec) if found else []), any_snapshot]
    if isinstance(connected, Blocked):
        return connected, waits
    if (moved := plan.elsewhere(connected.endpoint, key("MilvusConnection", namespace, plan.connection))) is not None:
        return moved, waits
    gateway, pool_key = connected.gateway, connection_key(namespace, plan.connection)

    async def lookup(job_id: int, db: str) -> RestoreJob | None:
        return await runtime.jobs.lookup(pool_key, gateway, db, job_id)

    claimed = frozenset(
        entry.job_id for found_ in restores.values() for entry in found_ if entry.job_id and entry.name != name
    )
    refs = RestoreRefs(
        source=plan.resolve(connected.db_name, connected.endpoint),
        connected=connected,
        job_lookup=lookup,
        claimed_jobs=claimed,
    )
    return refs, waits


def _first(values: Iterable[E]) -> E | None:
    return next(iter(values), None)
