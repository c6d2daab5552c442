"""Watch events that wake resources waiting for something, and keep the Secret watches in step with the
Secrets that connections reference."""

from __future__ import annotations

import kopf

from ..api import GROUP, SCHEDULE_LABEL, VERSION, wire
from ..api.common import READY
from ..api.connection import PLURAL as CONNECTIONS
from ..api.restore import PLURAL as RESTORES
from ..api.schedule import KIND as SCHEDULE
from ..api.schedule import PLURAL as SCHEDULES
from ..api.snapshot import PLURAL as SNAPSHOTS
from ..reconcile.entries import ConnectionEntry
from .bus import key
from .common import by_name
from .resolve import secret_refs
from .state import runtime_of, state_of

Key = tuple[str, str]


@kopf.on.event(GROUP, VERSION, CONNECTIONS)
@by_name
async def connection_changed(
    type: str,  # noqa: A002 - Kopf's name for the watch event type
    namespace: str,
    name: str,
    meta: kopf.Meta,
    status: kopf.Status,
    memo: kopf.Memo,
    connections: kopf.Index[Key, ConnectionEntry],
    **_: object,
) -> None:
    runtime, state = runtime_of(memo), state_of(memo)
    # Wake the resources using this connection only when something they depend on changed: it appeared or
    # went away, its spec changed, or its Ready condition changed (e.g. a fixed token). Not on every probe's
    # lastProbeTime patch, which would make every Ready snapshot re-check Milvus at once.
    ready = wire.condition(status, READY)
    fingerprint = (type == "DELETED", meta.get("generation"), ready.get("status"), ready.get("reason"))
    if state.wake_fingerprint != fingerprint:
        state.wake_fingerprint = fingerprint
        runtime.bus.notify(key("MilvusConnection", namespace, name))
    generation = meta.get("generation")
    if state.seen_generation != generation:  # spec changed: re-probe now
        state.seen_generation = generation
        runtime.bus.notify(key("MilvusConnection", namespace, name) + "#spec")
    wanted = {
        (ns, ref) for (ns, _name), found in connections.items() for entry in found for ref in secret_refs(entry.spec)
    }
    started, stopped = runtime.secrets.sync(wanted)
    for ns, ref in started:
        runtime.kube.watching(ns, ref, True)
    for ns, ref in stopped:
        runtime.kube.watching(ns, ref, False)


@kopf.on.event(GROUP, VERSION, SNAPSHOTS)
@by_name
async def snapshot_changed(namespace: str, name: str, labels: kopf.Labels, memo: kopf.Memo, **_: object) -> None:
    bus = runtime_of(memo).bus
    bus.notify(key("MilvusSnapshot", namespace, name))
    bus.notify(key("MilvusSnapshot", namespace, "*"))  # restores and connection deletions waiting on any snapshot
    if SCHEDULE_LABEL in labels:  # a schedule's child changed: its retention and status may change
        bus.notify(key(SCHEDULE, namespace, labels[SCHEDULE_LABEL]))


@kopf.on.event(GROUP, VERSION, RESTORES)
@by_name
async def restore_changed(namespace: str, name: str, memo: kopf.Memo, **_: object) -> None:
    bus = runtime_of(memo).bus
    bus.notify(key("MilvusRestore", namespace, name))  # restores waiting for this one's target claim
    bus.notify(key("MilvusRestore", namespace, "*"))  # connection deletions waiting on running restores


@kopf.on.event(GROUP, VERSION, SCHEDULES)
@by_name
async def schedule_changed(namespace: str, name: str, memo: kopf.Memo, **_: object) -> None:
    """Spec, suspend or the trigger annotation changed: the schedule's daemon re-plans at once."""
    runtime_of(memo).bus.notify(key(SCHEDULE, namespace, name))
