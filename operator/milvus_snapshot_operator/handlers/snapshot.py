"""MilvusSnapshot: a daemon drives creation and returns once the snapshot is made, and is not spawned at all for a
made one (drift checks are one operator-level timer's, handlers/drift.py); the finalizer drops per
deletionPolicy."""

from __future__ import annotations

import kopf

from ..api import GROUP, VERSION
from ..api.snapshot import PLURAL, MilvusSnapshotSpec, MilvusSnapshotStatus
from ..milvus.pymilvus_gateway import PymilvusGateway
from ..reconcile.endpoints import EndpointError, parse_uri
from ..reconcile.entries import ConnectionEntry
from ..reconcile.outcome import Retry
from ..reconcile.refs import Blocked, Connected, Missing
from ..reconcile.snapshot import (
    DeletionInputs,
    SnapshotInputs,
    delete_snapshot,
    needs_drop,
    reconcile_snapshot,
    settled,
)
from . import engine
from .common import by_name, now, parse
from .resolve import connection_key, resolve_connection, wake_keys
from .state import runtime_of, state_of

Connections = kopf.Index[tuple[str, str], ConnectionEntry]


def unsettled(status: kopf.Status, **_: object) -> bool:
    """Kopf spawns the daemon only for snapshots still being made: after a restart with thousands of Ready
    snapshots, none of them gets a task (Benchmarks f)."""
    return not settled(parse(MilvusSnapshotStatus, status))


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=30, when=unsettled)
@engine.daemon_step
async def snapshot_daemon(
    body: kopf.Body,
    spec: kopf.Spec,
    status: kopf.Status,
    name: str,
    namespace: str,
    uid: str,
    meta: kopf.Meta,
    patch: kopf.Patch,
    memo: kopf.Memo,
    stopped: kopf.DaemonStopped,
    connections: Connections,
    **_: object,
) -> None:
    runtime, state = runtime_of(memo), state_of(memo)
    model = parse(MilvusSnapshotSpec, spec)
    current = parse(MilvusSnapshotStatus, status)
    if settled(current):  # made earlier (e.g. before a restart): drift checks are handlers/drift.py's
        return
    if current.intent is None:
        await engine.finalizer_in_place(body, stopped)
    # Trust our own just-recorded intent only if it is what the API server has now (the patch landed).
    recorded, state.recorded_intent = state.recorded_intent, None
    fresh = recorded is not None and current.intent is not None and current.intent.time == recorded
    found = list(connections.get((namespace, model.connection_ref.name), ()))
    refs = await resolve_connection(runtime, namespace, model.connection_ref.name, found)
    waits = wake_keys(namespace, model.connection_ref.name, found[0].spec) if found else []
    outcome = await reconcile_snapshot(
        SnapshotInputs(
            name=name,
            uid=uid,
            generation=meta.get("generation"),
            spec=model,
            status=current,
            now=now(),
            refs=refs,
            intent_fresh=fresh,
        )
    )
    if outcome.status.intent is not None and current.intent is None:
        state.recorded_intent = outcome.status.intent.time
    if outcome.retry == Retry.DRIFT and settled(outcome.status):
        engine.apply(outcome, body, patch, memo)  # Kopf writes it as the daemon returns, and keeps no task
        # Nothing of the step is kept: a finalizer reads the body (Ready, or Creating with the intent: either way
        # it checks Milvus before it lets go), and drift checks are handlers/drift.py's.
        state.failures, state.expected_status = 0, None
        if not stopped:  # a deletion under way reads it: its own body may predate this step (an adoption)
            state.latest_status = None
        return
    engine.settle(outcome, body=body, patch=patch, memo=memo, waits=waits)


@kopf.on.delete(GROUP, VERSION, PLURAL)
@by_name
async def snapshot_deleted(
    body: kopf.Body,
    spec: kopf.Spec,
    namespace: str,
    uid: str,
    meta: kopf.Meta,
    patch: kopf.Patch,
    memo: kopf.Memo,
    connections: Connections,
    **_: object,
) -> None:
    runtime, state = runtime_of(memo), state_of(memo)
    model = parse(MilvusSnapshotSpec, spec)
    connection = model.connection_ref.name
    async with state.lock:  # after any Milvus call the daemon had in flight; the daemon is stopped by now
        current = parse(MilvusSnapshotStatus, engine.latest_status(memo, body))
        if not needs_drop(model, current):
            return
        found = list(connections.get((namespace, connection), ()))
        refs = await resolve_connection(runtime, namespace, connection, found)
        terminating = False
        if isinstance(refs, Blocked):
            refs = _last_used(runtime.pool.last(connection_key(namespace, connection)), refs, current)
        if isinstance(refs, Blocked):
            terminating = await runtime.kube.namespace_terminating(namespace)
        outcome = await delete_snapshot(
            DeletionInputs(
                uid=uid,
                spec=model,
                status=current,
                generation=meta.get("generation"),
                now=now(),
                refs=refs,
                namespace_terminating=terminating,
            )
        )
    changed = engine.apply(outcome, body, patch, memo)
    if outcome.retry is not None:
        state.failures += 1
        keys = [*(wake_keys(namespace, connection, found[0].spec) if found else []), outcome.dependency or ""]
        delay = runtime.delay(outcome.retry, state.failures)
        await engine.finalizer_wait(memo, keys, delay, status_changed=changed)


def _last_used(last: PymilvusGateway | None, blocked: Blocked, status: MilvusSnapshotStatus) -> Connected | Blocked:
    """The credentials last used for this connection, when its Secret is gone (e.g. deleted first with its
    namespace): a finalizer may still drop what it made. Never after a restart (nothing is persisted)."""
    if last is None or blocked.missing != Missing.SECRET:
        return blocked
    try:
        address = parse_uri(last.endpoint.uri, "uri", tls=last.endpoint.secure).address
    except EndpointError:
        return blocked
    db = status.db_name or last.endpoint.db_name
    return Connected(gateway=last, db_name=db, endpoint=address, uri=last.endpoint.uri)
