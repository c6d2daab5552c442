"""MilvusSnapshotSchedule planner: which run to start, which children to prune, when to look again.

Pure: the handler supplies the clock, the trigger annotation and the schedule's children (from an index),
performs the returned creations and deletions, and persists the status. Bookkeeping lives in status only
(never spec). status.nextScheduleTime is the commitment: a run is due when the clock passes it, and after
downtime only the latest missed tick runs (once, and only within startingDeadlineSeconds). A spec change
(including un-suspending) recomputes it from now, so nothing fires on create, update or unpause unless
runOnCreate says so. Child names derive from the tick, so a run repeated after a crash is the same object.
"""

from __future__ import annotations

import dataclasses
import datetime
import zoneinfo

from ..api import (
    API_VERSION,
    GROUP,
    RUN_TIME_ANNOTATION,
    SCHEDULE_LABEL,
    SCHEDULE_UID_ANNOTATION,
    TRIGGER_ANNOTATION,
)
from ..api.common import ConditionStatus, parse_rfc3339_or_none, rfc3339
from ..api.schedule import KIND as SCHEDULE_KIND
from ..api.schedule import (
    ConcurrencyPolicy,
    MilvusSnapshotScheduleSpec,
    MilvusSnapshotScheduleStatus,
    RetentionStatus,
    SnapshotOwnerReference,
)
from ..api.snapshot import KIND as SNAPSHOT_KIND
from ..api.snapshot import SnapshotPhase
from . import cron, retention
from .outcome import Event
from .retention import Child

LAST_SUCCEEDED = "LastSnapshotSucceeded"
# Labels and annotations GitOps tools use to track what they applied: copying them to children would make
# Argo CD or Flux adopt (and prune) the snapshots. Our own keys are not copied either.
GITOPS_PREFIXES = (
    "argocd.argoproj.io/",
    "kustomize.toolkit.fluxcd.io/",
    "helm.toolkit.fluxcd.io/",
    "meta.helm.sh/",
    "helm.sh/",
    "kubectl.kubernetes.io/",
    f"{GROUP}/",
)
GITOPS_KEYS = frozenset({"app.kubernetes.io/instance", "app.kubernetes.io/managed-by"})


@dataclasses.dataclass
class ScheduleInputs:
    name: str
    uid: str
    generation: int | None
    spec: MilvusSnapshotScheduleSpec
    status: MilvusSnapshotScheduleStatus
    now: datetime.datetime
    created_at: datetime.datetime | None = None  # metadata.creationTimestamp: the runOnCreate run's time
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    trigger: str | None = None
    children: list[Child] = dataclasses.field(default_factory=list)  # every labelled one; ownership is checked
    retention_interval: datetime.timedelta = datetime.timedelta(hours=1)


@dataclasses.dataclass(frozen=True)
class NewChild:
    """A MilvusSnapshot to create for a run: its name, and the whole object as the API server takes it."""

    name: str
    body: dict[str, object]


@dataclasses.dataclass
class Plan:
    status: MilvusSnapshotScheduleStatus
    create: list[NewChild] = dataclasses.field(default_factory=list)
    delete: list[str] = dataclasses.field(default_factory=list)
    events: list[Event] = dataclasses.field(default_factory=list)
    wake_at: datetime.datetime | None = None  # None: only a change of the schedule or its children


def child_name(schedule: str, run_time: datetime.datetime) -> str:
    return f"{schedule}-{run_time.astimezone(datetime.UTC):%Y%m%d%H%M%S}"


def child_labels(schedule: str, labels: dict[str, str]) -> dict[str, str]:
    """The schedule's own labels minus GitOps tracking ones, plus the link to the schedule."""
    kept = {k: v for k, v in labels.items() if k not in GITOPS_KEYS and not k.startswith(GITOPS_PREFIXES)}
    return {**kept, SCHEDULE_LABEL: schedule}


def run_metadata(
    name: str,
    schedule: str,
    uid: str,
    schedule_labels: dict[str, str],
    run: datetime.datetime,
    owner_reference: bool,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, object]:
    """The metadata of a MilvusSnapshot that is one of a schedule's runs (retention, scheduleRef and the ownership
    check read it): the schedule's labels, the run time and schedule UID annotations, the controller reference
    when the schedule owns its runs, plus the object's own `labels` and `annotations`. Schedule runs and the
    inventory's imports that join a schedule both have it."""
    metadata: dict[str, object] = {
        "name": name,
        "labels": {**child_labels(schedule, schedule_labels), **(labels or {})},
        "annotations": {RUN_TIME_ANNOTATION: rfc3339(run), SCHEDULE_UID_ANNOTATION: uid, **(annotations or {})},
    }
    if owner_reference:
        metadata["ownerReferences"] = [
            {"apiVersion": API_VERSION, "kind": SCHEDULE_KIND, "name": schedule, "uid": uid, "controller": True}
        ]
    return metadata


def plan_schedule(inp: ScheduleInputs) -> Plan:
    status = inp.status.model_copy(deep=True)
    plan = Plan(status)
    gen, now = inp.generation, inp.now
    try:
        schedule = cron.parse(inp.spec.schedule, inp.spec.time_zone)
    except cron.CronError as exc:
        status.next_schedule_time = None
        status.mark_stalled("InvalidSchedule", str(exc), gen, now)
        if inp.status.error is None or inp.status.error.message != str(exc):
            plan.events.append(Event("Warning", "InvalidSchedule", str(exc)))
        return plan
    spec_changed = status.observed_generation != gen
    created = status.observed_generation is None and status.last_schedule_time is None
    owned = [c for c in inp.children if c.owned_by(inp.uid)]
    live = [c for c in owned if not c.deleting]
    # An import adopting old history is not a run in progress: it never holds back (Forbid) or replaces a run.
    active = [c for c in live if not c.finished and not c.imported]
    waiting = [
        c for c in active if c.phase == SnapshotPhase.PENDING
    ]  # blocked on a reference, e.g. a broken connection
    _observe_children(status, live, gen, now)
    trigger = inp.trigger if inp.trigger and inp.trigger != status.last_trigger else None

    run: datetime.datetime | None = None
    manual = False
    if inp.spec.suspend:
        status.next_schedule_time = None
        if trigger is not None:
            status.last_trigger = trigger
            _skip(plan, now, "Suspended", f"trigger {trigger!r} ignored: the schedule is suspended")
    else:
        due = parse_rfc3339_or_none(status.next_schedule_time)
        if created and inp.spec.run_on_create:
            run = inp.created_at or now
        elif trigger is not None:
            if any(c.trigger == trigger for c in inp.children):  # started before a crash: just record it
                status.last_trigger = trigger
            else:
                run, manual = now, True
        elif due is not None and not spec_changed and now >= due:
            latest = schedule.latest_at_or_before(now)
            deadline = inp.spec.starting_deadline_seconds
            late = (now - latest).total_seconds()
            if deadline is not None and late > deadline:
                _skip(plan, now, "DeadlineMissed", f"run due at {rfc3339(latest)} missed by {late:.0f}s (deadline)")
            else:
                run = latest
        repeated = run is not None and any(c.name == child_name(inp.name, run) for c in inp.children)
        if run is not None and active and not repeated:  # a repeated run is the same run, not a second one
            policy = inp.spec.concurrency_policy
            if policy == ConcurrencyPolicy.REPLACE:
                plan.delete.extend(c.name for c in active)
            elif policy == ConcurrencyPolicy.FORBID:
                names = ", ".join(c.name for c in active)
                if manual:  # a manual run waits for the active one instead of being lost
                    run = None
                else:
                    _skip(plan, now, "ConcurrencyForbid", f"run skipped: {names} still in progress")
                    run = None
            elif waiting:  # Allow: another run would wait for the same thing; they would pile up unbounded
                names = ", ".join(c.name for c in waiting)
                if not manual:
                    _skip(plan, now, "PreviousRunPending", f"run skipped: {names} still Pending (not started)")
                run = None
        if run is not None:
            _start(inp, plan, run, trigger if manual else None)
        if due is None or spec_changed or now >= due:
            status.next_schedule_time = rfc3339(schedule.next_after(now))
        plan.wake_at = parse_rfc3339_or_none(status.next_schedule_time)

    _retain(inp, plan, owned, schedule.zone)
    status.active = sorted({c.name for c in active} - set(plan.delete) | {c.name for c in plan.create})
    if inp.spec.suspend:
        status.mark_ready("Suspended", "suspended: no runs until spec.suspend is false", gen, now)
    else:
        status.mark_ready("Scheduled", f"next run at {status.next_schedule_time}", gen, now)
    return plan


def _observe_children(
    status: MilvusSnapshotScheduleStatus, live: list[Child], gen: int | None, now: datetime.datetime
) -> None:
    """lastSuccessfulTime / lastFailedTime and the "are we protected?" condition."""
    for phase, field in ((SnapshotPhase.READY, "last_successful_time"), (SnapshotPhase.FAILED, "last_failed_time")):
        times = [c.time for c in live if c.phase == phase]
        known = parse_rfc3339_or_none(getattr(status, field))
        newest = max([*times, *([known] if known else [])], default=None)
        setattr(status, field, rfc3339(newest) if newest else None)
    success = parse_rfc3339_or_none(status.last_successful_time)
    failure = parse_rfc3339_or_none(status.last_failed_time)
    if failure is not None and (success is None or failure > success):
        failed = max((c for c in live if c.phase == SnapshotPhase.FAILED), key=lambda c: c.time, default=None)
        why = f"{failed.name}: {failed.message}" if failed else "the last scheduled snapshot failed"
        status.set_condition(LAST_SUCCEEDED, ConditionStatus.FALSE, "SnapshotFailed", why, gen, now)
    elif success is not None:
        message = f"newest Ready snapshot taken for {status.last_successful_time}"
        status.set_condition(LAST_SUCCEEDED, ConditionStatus.TRUE, "SnapshotSucceeded", message, gen, now)
    else:
        status.set_condition(LAST_SUCCEEDED, ConditionStatus.UNKNOWN, "NoSnapshotYet", "no run finished yet", gen, now)


def _skip(plan: Plan, now: datetime.datetime, reason: str, message: str) -> None:
    plan.status.last_skipped_time = rfc3339(now)
    plan.status.last_skip_reason = reason
    plan.events.append(Event("Warning" if reason == "DeadlineMissed" else "Normal", "RunSkipped", message))


def _start(inp: ScheduleInputs, plan: Plan, run: datetime.datetime, trigger: str | None) -> None:
    name = child_name(inp.name, run)
    plan.status.last_schedule_time = rfc3339(inp.now)
    if trigger is not None:
        plan.status.last_trigger = trigger
    if any(c.name == name for c in inp.children):
        return  # created before a crash; the status patch was what got lost
    owned = inp.spec.snapshot_owner_reference == SnapshotOwnerReference.SCHEDULE
    triggered = {TRIGGER_ANNOTATION: trigger} if trigger is not None else None
    body: dict[str, object] = {
        "apiVersion": API_VERSION,
        "kind": SNAPSHOT_KIND,
        "metadata": run_metadata(name, inp.name, inp.uid, inp.labels, run, owned, annotations=triggered),
        "spec": inp.spec.template.to_wire(),
    }
    plan.create.append(NewChild(name, body))
    how = f"trigger {trigger!r}" if trigger is not None else f"the run due at {rfc3339(run)}"
    plan.events.append(Event("Normal", "RunStarted", f"created MilvusSnapshot {name!r} for {how}"))


def _retain(inp: ScheduleInputs, plan: Plan, owned: list[Child], zone: zoneinfo.ZoneInfo) -> None:
    rules = inp.spec.retention
    if rules is None:
        plan.status.retention = None
        return
    children = [c for c in owned if c.name not in plan.delete]
    chosen = retention.select(children, rules, zone)
    previous = plan.status.retention
    last = parse_rfc3339_or_none(previous.last_run_time) if previous else None
    success = parse_rfc3339_or_none(plan.status.last_successful_time)
    due = last is None or inp.now - last >= inp.retention_interval or (success is not None and success > last)
    if chosen.prune or due:
        plan.delete.extend(chosen.prune)
        plan.status.retention = RetentionStatus(
            last_run_time=rfc3339(inp.now), kept=len(chosen.keep), pruned=chosen.prune, errors=[]
        )
        if chosen.prune:
            message = f"pruned {len(chosen.prune)} snapshot(s): {', '.join(chosen.prune)}"
            plan.events.append(Event("Normal", "RetentionPruned", message))
        last = inp.now
    assert last is not None
    next_run = last + inp.retention_interval
    plan.wake_at = next_run if plan.wake_at is None else min(plan.wake_at, next_run)


def record_prune_failures(plan: Plan, errors: list[str], previous: list[str]) -> None:
    """Deletions the handler could not make (API errors, one line each): in status, and a Warning when they
    differ from the last recorded ones (`previous`): the same failure re-planned is not posted again."""
    if errors and plan.status.retention is not None:
        plan.status.retention.errors = errors
        if errors != previous:
            plan.events.append(Event("Warning", "RetentionFailed", "; ".join(errors)))


def run_failed(child: NewChild, error: str, earlier_failures: int) -> Event | None:
    """A run's MilvusSnapshot could not be created: nothing is recorded, the same run is retried with backoff.
    One Warning when a streak of failures begins (`earlier_failures` == 0), not one per retry."""
    if earlier_failures:
        return None
    return Event("Warning", "RunFailed", f"could not create MilvusSnapshot {child.name!r}: {error}")
