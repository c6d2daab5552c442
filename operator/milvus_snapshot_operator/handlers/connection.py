"""MilvusConnection: probed on creation, on spec or Secret change, and periodically, with its inventory pass
when one is due; its finalizer waits for the snapshots and restores that still need it, then closes its client."""

from __future__ import annotations

import kopf

from ..api import GROUP, VERSION
from ..api.connection import PLURAL, MilvusConnectionSpec, MilvusConnectionStatus
from ..reconcile.connection import ConnectionInputs, probe_connection
from ..reconcile.entries import ConnectionEntry, RestoreEntry, ScheduleEntry, SnapshotEntry
from ..reconcile.outcome import Retry
from ..reconcile.refs import Connected
from ..reconcile.retention import Child
from . import engine, inventory
from .bus import key
from .common import by_name, now, parse
from .indexes import in_namespace
from .resolve import connection_key, resolve_spec, secret_refs
from .state import runtime_of, state_of

Key = tuple[str, str]
# A deletion waiting for users of the connection re-checks at least this often (each change of a snapshot or
# restore in the namespace wakes it at once).
DELETION_RECHECK_SECONDS = 60.0


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=30)
@engine.daemon_step
async def connection_daemon(
    body: kopf.Body,
    spec: kopf.Spec,
    status: kopf.Status,
    name: str,
    namespace: str,
    meta: kopf.Meta,
    patch: kopf.Patch,
    memo: kopf.Memo,
    snapshots: kopf.Index[Key, SnapshotEntry],
    schedule_children: kopf.Index[Key, Child],
    restores: kopf.Index[Key, RestoreEntry],
    connections: kopf.Index[Key, ConnectionEntry],
    inventory_schedules: kopf.Index[str, ScheduleEntry],
    **_: object,
) -> None:
    runtime = runtime_of(memo)
    model = parse(MilvusConnectionSpec, spec)
    refs = await resolve_spec(runtime, namespace, name, model)
    clock = now()
    inputs = ConnectionInputs(meta.get("generation"), parse(MilvusConnectionStatus, status), clock, refs)
    outcome = await probe_connection(inputs)
    if model.inventory is None:
        outcome.status.inventory = None
    elif outcome.retry == Retry.DRIFT and isinstance(refs, Connected):  # connected: inventory when due
        indexes = inventory.Indexes(snapshots, schedule_children, restores, connections, inventory_schedules)
        await inventory.pass_if_due(
            runtime, namespace, name, meta.get("generation"), model, refs, outcome, clock, indexes
        )
    waits = [connection_key(namespace, name) + "#spec", *(key("Secret", namespace, s) for s in secret_refs(model))]
    engine.settle(
        outcome, body=body, patch=patch, memo=memo, waits=waits, wait_seconds=runtime.config.connection_probe_seconds
    )


@kopf.on.delete(GROUP, VERSION, PLURAL)
@by_name
async def connection_deleted(
    body: kopf.Body,
    name: str,
    namespace: str,
    memo: kopf.Memo,
    snapshots: kopf.Index[Key, SnapshotEntry],
    restores: kopf.Index[Key, RestoreEntry],
    **_: object,
) -> None:
    """Keep the connection while snapshots must still be dropped through it, or restores it started run."""
    runtime, state = runtime_of(memo), state_of(memo)
    users = sorted(
        f"MilvusSnapshot {entry.name}"
        for entry in in_namespace(snapshots, namespace)
        if entry.connection == name and entry.needs_drop
    ) + sorted(
        f"MilvusRestore {entry.name}"
        for entry in in_namespace(restores, namespace)
        if entry.connection == name and entry.active and entry.started
    )
    if not users:
        await runtime.pool.evict(connection_key(namespace, name))  # its channel and token go with it
        runtime.jobs.forget(connection_key(namespace, name))
        return
    if not state.waiting_logged:
        state.waiting_logged = True
        message = f"deletion waits until these no longer need MilvusConnection {name!r}: {', '.join(users)}"
        kopf.event(body, type="Normal", reason="DeletionWaiting", message=message)
    keys = [key("MilvusSnapshot", namespace, "*"), key("MilvusRestore", namespace, "*")]
    await engine.finalizer_wait(memo, keys, DELETION_RECHECK_SECONDS)
