"""Watch events that wake resources waiting for a reference, plus the in-memory indices they read."""

from __future__ import annotations

import copy
from typing import Any

import kopf

from ..api import GROUP, VERSION
from ..api.connection import PLURAL as CONNECTIONS
from ..api.schedule import KIND as SCHEDULE
from ..api.schedule import PLURAL as SCHEDULES
from ..api.snapshot import PLURAL as SNAPSHOTS
from ..reconcile.schedule import KEEP_LABEL, RUN_TIME_ANNOTATION, SCHEDULE_LABEL, TRIGGER_ANNOTATION
from .bus import key
from .runtime import Runtime


@kopf.index(GROUP, VERSION, CONNECTIONS)
def connections(namespace: Any, name: str, spec: Any, **_: Any) -> dict[tuple[str, str], Any]:
    """(namespace, name) -> spec of every MilvusConnection."""
    return {(namespace, name): copy.deepcopy(dict(spec))}


@kopf.index(GROUP, VERSION, SNAPSHOTS)
def snapshots(namespace: Any, name: str, spec: Any, status: Any, **_: Any) -> dict[tuple[str, str], Any]:
    """(namespace, name) -> spec and status of every MilvusSnapshot (restores wait on them)."""
    return {(namespace, name): {"spec": copy.deepcopy(dict(spec)), "status": copy.deepcopy(dict(status))}}


@kopf.index(GROUP, VERSION, SNAPSHOTS, labels={SCHEDULE_LABEL: kopf.PRESENT})
def schedule_children(
    namespace: Any, name: str, meta: Any, status: Any, **_: Any
) -> dict[tuple[str, str], dict[str, Any]]:
    """(namespace, schedule) -> what schedules (retention) and scheduleRef restores need of each child."""
    annotations, error = meta.get("annotations") or {}, status.get("error") or {}
    return {
        (namespace, meta["labels"][SCHEDULE_LABEL]): {
            "name": name,
            "time": annotations.get(RUN_TIME_ANNOTATION) or meta.get("creationTimestamp"),
            "phase": status.get("phase"),
            "keep": (meta.get("labels") or {}).get(KEEP_LABEL) == "true",
            "deleting": bool(meta.get("deletionTimestamp")),
            "trigger": annotations.get(TRIGGER_ANNOTATION),
            "message": str(error.get("message") or ""),
        }
    }


@kopf.on.event("", "v1", "secrets")
def secret_changed(namespace: Any, name: str, memo: Any, **_: Any) -> None:
    runtime: Runtime = memo.runtime
    runtime.kube.forget_secret(namespace, name)
    runtime.bus.notify(key("Secret", namespace, name))


@kopf.on.event(GROUP, VERSION, CONNECTIONS)
def connection_changed(
    namespace: Any,
    name: str,
    meta: Any,
    status: Any,
    memo: Any,
    **kwargs: Any,
) -> None:
    runtime: Runtime = memo.runtime
    # Wake the resources using this connection only when something they depend on changed: it appeared or
    # went away, its spec changed, or its Ready condition changed (e.g. a fixed token). Not on every probe's
    # lastProbeTime patch, which would make every Ready snapshot re-check Milvus at once.
    ready: dict[str, Any] = next((c for c in (status or {}).get("conditions", []) if c.get("type") == "Ready"), {})
    fingerprint = (kwargs["type"] == "DELETED", meta.get("generation"), ready.get("status"), ready.get("reason"))
    if getattr(memo, "wake_fingerprint", None) != fingerprint:
        memo.wake_fingerprint = fingerprint
        runtime.bus.notify(key("MilvusConnection", namespace, name))
    generation = meta.get("generation")
    if getattr(memo, "seen_generation", None) != generation:  # spec changed: re-probe now
        memo.seen_generation = generation
        runtime.bus.notify(key("MilvusConnection", namespace, name) + "#spec")


@kopf.on.event(GROUP, VERSION, SNAPSHOTS)
def snapshot_changed(namespace: Any, name: str, labels: Any, memo: Any, **_: Any) -> None:
    runtime: Runtime = memo.runtime
    runtime.bus.notify(key("MilvusSnapshot", namespace, name))
    runtime.bus.notify(key("MilvusSnapshot", namespace, "*"))  # restores waiting for a snapshot by Milvus name
    if SCHEDULE_LABEL in labels:  # a schedule's child changed: its retention and status may change
        runtime.bus.notify(key(SCHEDULE, namespace, labels[SCHEDULE_LABEL]))


@kopf.on.event(GROUP, VERSION, SCHEDULES)
def schedule_changed(namespace: Any, name: str, memo: Any, **_: Any) -> None:
    """Spec, suspend or the trigger annotation changed: the schedule's daemon re-plans at once."""
    runtime: Runtime = memo.runtime
    runtime.bus.notify(key(SCHEDULE, namespace, name))
