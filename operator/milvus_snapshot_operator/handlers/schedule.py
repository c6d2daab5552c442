"""MilvusSnapshotSchedule: a daemon plans each run and retention pass, then creates and deletes the children.

It sleeps until the next tick or retention pass, and wakes early when the schedule (spec, trigger annotation)
or one of its children changes. Children come from the `schedule_children` index: no list calls.
"""

from __future__ import annotations

import datetime
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException

from ..api import GROUP, VERSION
from ..api.common import parse_rfc3339
from ..api.schedule import KIND, PLURAL, MilvusSnapshotScheduleSpec, MilvusSnapshotScheduleStatus
from ..reconcile.outcome import Event, Outcome, Retry
from ..reconcile.retention import Child
from ..reconcile.schedule import TRIGGER_ANNOTATION, ScheduleInputs, plan_schedule
from . import engine
from .bus import key
from .common import now, parse
from .runtime import Runtime

IDLE_SECONDS = 3600.0  # nothing scheduled (suspended, no retention): re-plan hourly anyway
WAKE_MARGIN_SECONDS = 0.05  # wake just after a tick, never just before it


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=30)
@engine.daemon_step
async def schedule_daemon(
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
    clock = now()
    inputs = ScheduleInputs(
        name=name,
        uid=meta["uid"],
        generation=meta.get("generation"),
        spec=parse(MilvusSnapshotScheduleSpec, spec),
        status=parse(MilvusSnapshotScheduleStatus, status),
        now=clock,
        created_at=parse_rfc3339(meta["creationTimestamp"]) if meta.get("creationTimestamp") else None,
        labels=dict(meta.get("labels") or {}),
        trigger=(meta.get("annotations") or {}).get(TRIGGER_ANNOTATION),
        children=[_child(entry) for entry in kwargs["schedule_children"].get((namespace, name), ())],
        retention_interval=datetime.timedelta(seconds=runtime.config.retention_interval_seconds),
    )
    plan = plan_schedule(inputs)
    errors = []
    for child in plan.delete:
        try:
            await runtime.kube.delete_snapshot(namespace, child)
        except ApiException as exc:
            errors.append(f"{child}: {exc.status} {exc.reason}")
    if errors and plan.status.retention is not None:
        plan.status.retention.errors = errors
        plan.events.append(Event("Warning", "RetentionFailed", "; ".join(errors)))
    for child_body in plan.create:
        try:
            await runtime.kube.create_snapshot(namespace, child_body)
        except ApiException as exc:
            # Nothing recorded: the same run (same child name) is retried after the backoff.
            message = f"could not create MilvusSnapshot {child_body['metadata']['name']!r}: {exc.status} {exc.reason}"
            kopf.event(body, type="Warning", reason="RunFailed", message=message)
            memo.failures = getattr(memo, "failures", 0) + 1
            raise engine.Requeue(runtime.delay(Retry.BACKOFF, memo.failures)) from None
    memo.failures = 0
    engine.apply(Outcome(plan.status, None, plan.events), body, patch, memo)
    timeout = IDLE_SECONDS
    if plan.wake_at is not None:
        timeout = min(max((plan.wake_at - clock).total_seconds(), 0.0) + WAKE_MARGIN_SECONDS, IDLE_SECONDS)
    engine.wait_next(memo, [key(KIND, namespace, name)], timeout)
    raise engine.Requeue(0)


def _child(entry: Any) -> Child:
    return Child(
        name=entry["name"],
        time=parse_rfc3339(entry["time"]) if entry["time"] else datetime.datetime.min.replace(tzinfo=datetime.UTC),
        phase=entry["phase"],
        keep=entry["keep"],
        deleting=entry["deleting"],
        trigger=entry["trigger"],
        message=entry["message"],
    )
