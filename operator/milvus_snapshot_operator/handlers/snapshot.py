"""MilvusSnapshot: a daemon drives creation and drift checks; the finalizer drops per deletionPolicy."""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION
from ..api.snapshot import PLURAL, MilvusSnapshotSpec, MilvusSnapshotStatus
from ..reconcile.snapshot import Blocked, DeletionInputs, SnapshotInputs, delete_snapshot, reconcile_snapshot
from . import engine
from .common import now, parse
from .resolve import resolve_connection
from .runtime import Runtime


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=30)
@engine.daemon_step
async def snapshot_daemon(
    body: Any,
    spec: Any,
    status: Any,
    name: str,
    namespace: Any,
    meta: Any,
    patch: Any,
    memo: Any,
    **kwargs: Any,
) -> None:
    runtime: Runtime = memo.runtime
    model = parse(MilvusSnapshotSpec, spec)
    current = parse(MilvusSnapshotStatus, status)
    inputs = SnapshotInputs(name=name, generation=meta.get("generation"), spec=model, status=current, now=now())
    # Trust our own just-recorded intent only if it is what the API server has now (the patch landed).
    recorded, memo.recorded_intent = getattr(memo, "recorded_intent", None), None
    inputs.intent_fresh = recorded is not None and current.intent is not None and current.intent.time == recorded
    waits: list[str] = []
    if current.phase not in ("Failed",):
        resolved = await resolve_connection(runtime, namespace, model.connection_ref.name, kwargs["connections"])
        if isinstance(resolved, Blocked):
            inputs.blocked = resolved
        else:
            inputs.gateway, inputs.connection_db = resolved.gateway, resolved.db_name
            waits = resolved.wake_keys(namespace)
    outcome = await reconcile_snapshot(inputs)
    if outcome.status.intent is not None and current.intent is None:
        memo.recorded_intent = outcome.status.intent.time
    engine.settle(outcome, body=body, patch=patch, memo=memo, waits=waits)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def snapshot_deleted(
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
    model = parse(MilvusSnapshotSpec, spec)
    inputs = DeletionInputs(
        spec=model, status=parse(MilvusSnapshotStatus, status), generation=meta.get("generation"), now=now()
    )
    resolved = await resolve_connection(runtime, namespace, model.connection_ref.name, kwargs["connections"])
    if isinstance(resolved, Blocked):
        inputs.blocked = resolved
    else:
        inputs.gateway = resolved.gateway
    outcome = await delete_snapshot(inputs)
    engine.apply(outcome, body, patch)
    if outcome.retry is not None:
        memo.failures = getattr(memo, "failures", 0) + 1
        delay = runtime.delay(outcome.retry, memo.failures)
        reason = outcome.status.error.message if outcome.status.error else "retrying"
        raise kopf.TemporaryError(f"deletion waits: {reason}", delay=max(delay, 1.0))
