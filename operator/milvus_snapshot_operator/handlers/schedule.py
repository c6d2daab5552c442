"""MilvusSnapshotSchedule: a daemon plans each run and retention pass, then creates and deletes the children.

It sleeps until the next tick or retention pass, and wakes early when the schedule (spec, trigger annotation)
or one of its children changes. Children come from the `schedule_children` index: no list calls.
"""

from __future__ import annotations

import dataclasses
import datetime

import kopf
from kubernetes.client.exceptions import ApiException

from ..api import GROUP, TRIGGER_ANNOTATION, VERSION
from ..api.common import parse_rfc3339_or_none
from ..api.schedule import KIND, PLURAL, MilvusSnapshotScheduleSpec, MilvusSnapshotScheduleStatus
from ..reconcile.claims import snapshots_needed
from ..reconcile.entries import RestoreEntry
from ..reconcile.outcome import Outcome, Retry
from ..reconcile.retention import Child
from ..reconcile.schedule import ScheduleInputs, plan_schedule, record_prune_failures, run_failed
from . import engine
from .bus import key
from .common import now, parse
from .indexes import in_namespace
from .state import runtime_of, state_of

Key = tuple[str, str]
IDLE_SECONDS = 3600.0  # nothing scheduled (suspended, no retention): re-plan hourly anyway
WAKE_MARGIN_SECONDS = 0.05  # wake just after a tick, never just before it


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=30)
@engine.daemon_step
async def schedule_daemon(
    body: kopf.Body,
    spec: kopf.Spec,
    status: kopf.Status,
    name: str,
    namespace: str,
    uid: str,
    meta: kopf.Meta,
    patch: kopf.Patch,
    memo: kopf.Memo,
    schedule_children: kopf.Index[Key, Child],
    restores: kopf.Index[Key, RestoreEntry],
    **_: object,
) -> None:
    runtime, state = runtime_of(memo), state_of(memo)
    clock = now()
    needed = snapshots_needed(in_namespace(restores, namespace))
    children = [
        dataclasses.replace(child, referenced=child.name in needed)
        for child in schedule_children.get((namespace, name), ())
    ]
    annotations = meta.get("annotations") or {}
    inputs = ScheduleInputs(
        name=name,
        uid=uid,
        generation=meta.get("generation"),
        spec=parse(MilvusSnapshotScheduleSpec, spec),
        status=parse(MilvusSnapshotScheduleStatus, status),
        now=clock,
        created_at=parse_rfc3339_or_none(meta.get("creationTimestamp")),
        labels=dict(meta.get("labels") or {}),
        trigger=annotations.get(TRIGGER_ANNOTATION),
        children=children,
        retention_interval=datetime.timedelta(seconds=runtime.config.retention_interval_seconds),
    )
    plan = plan_schedule(inputs)
    errors = []
    for pruned in plan.delete:
        try:
            await runtime.kube.delete_snapshot(namespace, pruned)
        except ApiException as exc:
            errors.append(f"{pruned}: {exc.status} {exc.reason}")
    record_prune_failures(plan, errors, inputs.status.retention.errors if inputs.status.retention else [])
    for child in plan.create:
        try:
            await runtime.kube.create_snapshot(namespace, child.body)
        except ApiException as exc:
            if (event := run_failed(child, f"{exc.status} {exc.reason}", state.failures)) is not None:
                kopf.event(body, type=event.type, reason=event.reason, message=event.message)
            state.failures += 1
            raise engine.Requeue(runtime.delay(Retry.BACKOFF, state.failures)) from None
    state.failures = 0
    engine.apply(Outcome(plan.status, None, plan.events), body, patch, memo)
    timeout = IDLE_SECONDS
    if plan.wake_at is not None:
        timeout = min(max((plan.wake_at - clock).total_seconds(), 0.0) + WAKE_MARGIN_SECONDS, IDLE_SECONDS)
    engine.wait_next(memo, [key(KIND, namespace, name)], timeout)
    raise engine.Requeue(0)
