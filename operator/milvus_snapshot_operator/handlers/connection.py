"""MilvusConnection: probed on creation, on spec or Secret change, and periodically."""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION
from ..api.connection import PLURAL, MilvusConnectionSpec, MilvusConnectionStatus
from ..api.snapshot import MilvusSnapshotSpec, MilvusSnapshotStatus
from ..reconcile.connection import ConnectionInputs, probe_connection
from ..reconcile.snapshot import Blocked, needs_drop
from . import engine
from .bus import key
from .common import now, parse
from .resolve import resolve_spec
from .runtime import Runtime


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=30)
@engine.daemon_step
async def connection_daemon(
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
    model = parse(MilvusConnectionSpec, spec)
    inputs = ConnectionInputs(
        generation=meta.get("generation"), status=parse(MilvusConnectionStatus, status), now=now()
    )
    resolved = await resolve_spec(runtime, namespace, name, model)
    if isinstance(resolved, Blocked):
        inputs.blocked = resolved
    else:
        inputs.gateway, inputs.endpoint = resolved.gateway, resolved.uri
    outcome = await probe_connection(inputs)
    waits = [key("MilvusConnection", namespace, name) + "#spec"]
    for ref in (model.credentials_secret_ref, model.tls.ca_secret_ref if model.tls else None):
        if ref is not None:
            waits.append(key("Secret", namespace, ref.name))
    engine.settle(
        outcome, body=body, patch=patch, memo=memo, waits=waits, wait_seconds=runtime.config.connection_probe_seconds
    )


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def connection_deleted(name: str, namespace: Any, **kwargs: Any) -> None:
    """Keep the connection until the snapshots that must be dropped through it are gone (no wedged finalizers)."""
    users = sorted(
        snap_name
        for (snap_ns, snap_name), entries in kwargs["snapshots"].items()
        if snap_ns == namespace
        for entry in entries
        if (entry["spec"].get("connectionRef") or {}).get("name") == name
        and needs_drop(parse(MilvusSnapshotSpec, entry["spec"]), parse(MilvusSnapshotStatus, entry["status"]))
    )
    if users:
        raise kopf.TemporaryError(
            f"MilvusConnection {name!r} is still needed to drop the Milvus snapshots of: {', '.join(users)}",
            delay=2,  # an index lookup, no API calls: cheap to repeat
        )
