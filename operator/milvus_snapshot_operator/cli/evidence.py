"""What `explain` shows: why a resource is where it is (pure rendering of what the command gathered).

A verdict first (the state and its reason), then the evidence: conditions with their ages, the error the
operator recorded, the Milvus restore job, each referenced object with its own Ready state (a snapshot waiting
for its connection shows the connection's reason, or that it does not exist), and the latest events.
"""

from __future__ import annotations

import dataclasses
import datetime

from ..api import SCHEDULE_LABEL
from ..api.wire import Wire
from . import ages
from .ages import event_time
from .columns import columns
from .kinds import CONNECTION, RESTORE, SCHEDULE, SNAPSHOT, Kind
from .progress import bar
from .states import Obj, condition, state, status_of

EVENTS_SHOWN = 10


@dataclasses.dataclass(frozen=True)
class Reference:
    role: str  # what the object is to the one explained: "connection", "source snapshot", ...
    kind: Kind
    name: str
    obj: Obj | None  # None: it does not exist


@dataclasses.dataclass
class Facts:
    kind: Kind
    obj: Obj
    references: list[Reference] = dataclasses.field(default_factory=list)
    events: list[Obj] = dataclasses.field(default_factory=list)
    children: list[Obj] = dataclasses.field(default_factory=list)  # a schedule's snapshots


def references_of(kind: Kind, obj: Obj) -> list[tuple[str, Kind, str]]:
    """(role, kind, name) of every object `obj` depends on or belongs to."""
    spec, status = dict(obj.get("spec") or {}), status_of(obj)
    refs: list[tuple[str, Kind, str]] = []
    if kind == SNAPSHOT:
        refs.append(("connection", CONNECTION, (spec.get("connectionRef") or {}).get("name", "")))
        owner = (obj["metadata"].get("labels") or {}).get(SCHEDULE_LABEL)
        if owner:
            refs.append(("created by schedule", SCHEDULE, owner))
    elif kind == RESTORE:
        source, resolved = dict(spec.get("source") or {}), dict(status.get("source") or {})
        if (source.get("scheduleRef") or {}).get("name"):
            refs.append(("source schedule", SCHEDULE, source["scheduleRef"]["name"]))
        snapshot = (source.get("snapshotRef") or {}).get("name") or resolved.get("snapshotRef")
        if snapshot:
            refs.append(("source snapshot", SNAPSHOT, snapshot))
        connection = (source.get("connectionRef") or {}).get("name") or resolved.get("connection")
        if connection:
            refs.append(("connection", CONNECTION, connection))
    elif kind == SCHEDULE:
        template = dict(spec.get("template") or {})
        refs.append(("connection", CONNECTION, (template.get("connectionRef") or {}).get("name", "")))
    return [ref for ref in refs if ref[2]]


def verdict(obj: Obj) -> str:
    now = state(obj)
    if obj["metadata"].get("deletionTimestamp"):
        return f"Deleting: {now.why()}"
    if now.failed:
        return f"Failed: {now.why()}"
    if now.finished:
        return f"Ready: {now.why()}"
    ready = (condition(obj, "Ready") or {}).get("status")
    word = "Waiting" if ready == "False" else "In progress"
    return f"{word}: {now.why()}"


def _reference_line(ref: Reference) -> str:
    head = f"{ref.role}: {ref.kind.short}/{ref.name}"
    if ref.obj is None:
        return f"{head}  NotFound: {ref.kind.kind} {ref.name!r} does not exist in this namespace"
    status = status_of(ref.obj)
    ready = condition(ref.obj, "Ready") or {}
    parts = [head]
    if status.get("phase"):
        parts.append(str(status["phase"]))
    if ready:
        parts.append(f"Ready={ready.get('status')} {ready.get('reason')}")
        if ready.get("status") != "True" and ready.get("message"):
            parts.append(str(ready["message"]))
    else:
        parts.append("not handled by the operator yet")
    return "  ".join(parts)


def _job_lines(status: Wire, now: datetime.datetime) -> list[str]:
    if status.get("jobId") is None and status.get("state") is None:
        return ["Milvus job:   none started yet"]
    progress = f"  {bar(int(status['progress']))}" if status.get("progress") is not None else ""
    lines = [f"Milvus job:   {status.get('jobId', '-')}  {status.get('state') or '-'}{progress}"]
    if status.get("reason"):
        lines.append(f"  reason:     {status['reason']}")
    timing = []
    if status.get("startTime"):
        timing.append(f"started {ages.relative(status['startTime'], now)}")
    if status.get("completionTime"):
        timing.append(f"completed {ages.relative(status['completionTime'], now)}")
    if status.get("timeCostMs") is not None:
        timing.append(f"took {status['timeCostMs']} ms")
    if status.get("targetRowCount") is not None:
        timing.append(f"target has {status['targetRowCount']} rows")
    if timing:
        lines.append("  " + ", ".join(timing))
    return lines


def _kind_lines(facts: Facts, now: datetime.datetime) -> list[str]:
    """What is specific to each kind: endpoint, snapshot, restore source and job, schedule runs."""
    spec, status = dict(facts.obj.get("spec") or {}), status_of(facts.obj)
    lines: list[str] = []
    if facts.kind == CONNECTION:
        where = spec.get("uri") or f"milvusRef {(spec.get('milvusRef') or {}).get('name')}"
        lines.append(f"Endpoint:     {status.get('endpoint') or where}  database {spec.get('dbName', 'default')}")
        if spec.get("credentialsSecretRef"):
            lines.append(f"Credentials:  Secret {spec['credentialsSecretRef']['name']}")
        if status.get("serverVersion") or status.get("lastProbeTime"):
            probe = ages.relative(status.get("lastProbeTime"), now)
            lines.append(f"Server:       Milvus {status.get('serverVersion') or '-'}, last probed {probe}")
    elif facts.kind == SNAPSHOT:
        db = status.get("dbName") or spec.get("dbName") or "(connection's)"
        lines.append(f"Collection:   {spec.get('collectionName')}  database {db}")
        if status.get("snapshotName"):
            taken = f", taken {ages.relative(status.get('creationTime'), now)}" if status.get("creationTime") else ""
            rows = f", {status['sourceRowCount']} rows" if status.get("sourceRowCount") is not None else ""
            lines.append(f"Snapshot:     {status['snapshotName']}{rows}{taken}")
    elif facts.kind == RESTORE:
        source, target = dict(status.get("source") or {}), dict(spec.get("target") or {})
        if source:
            lines.append(
                f"Source:       snapshot {source.get('snapshotName')} of {source.get('dbName')}."
                f"{source.get('collectionName')} via mconn/{source.get('connection')}"
            )
        database = target.get("dbName") or status.get("targetDbName") or "(source database)"
        into = f"{database}.{target.get('collectionName')}"
        alias = f"  alias {spec['alias']}" if spec.get("alias") else ""
        lines.append(f"Target:       {into}{alias}")
        lines += _job_lines(status, now)
    elif facts.kind == SCHEDULE:
        lines.append(
            f'Schedule:     "{spec.get("schedule")}" {spec.get("timeZone", "UTC")}, '
            f"concurrency {spec.get('concurrencyPolicy', 'Forbid')}{', SUSPENDED' if spec.get('suspend') else ''}"
        )
        runs = [
            f"{label} {ages.relative(status.get(field), now)}"
            for label, field in (
                ("last run", "lastScheduleTime"),
                ("next run", "nextScheduleTime"),
                ("last success", "lastSuccessfulTime"),
                ("last failure", "lastFailedTime"),
            )
            if status.get(field)
        ]
        if status.get("lastSkippedTime"):
            runs.append(
                f"last skipped {ages.relative(status['lastSkippedTime'], now)} ({status.get('lastSkipReason')})"
            )
        lines.append(f"Runs:         {', '.join(runs) or 'none yet'}")
        phases = [str(status_of(c).get("phase") or "Pending") for c in facts.children]
        summary = ", ".join(f"{phases.count(p)} {p}" for p in sorted(set(phases)))
        lines.append(f"Snapshots:    {len(facts.children)}{f' ({summary})' if summary else ''}")
        if status.get("active"):
            lines.append(f"  running:    {', '.join(status['active'])}")
        retention = dict(status.get("retention") or {})
        if retention:
            pruned = ", ".join(retention.get("pruned") or []) or "none"
            lines.append(
                f"Retention:    ran {ages.relative(retention.get('lastRunTime'), now)}, kept {retention.get('kept')}, "
                f"pruned {pruned}" + (f", errors: {'; '.join(retention['errors'])}" if retention.get("errors") else "")
            )
    return lines


def render(facts: Facts, now: datetime.datetime) -> list[str]:
    meta, status = facts.obj["metadata"], status_of(facts.obj)
    generation = f"generation {meta.get('generation', '-')} (observed {status.get('observedGeneration', '-')})"
    phase = f"Phase:        {status['phase']}   " if status.get("phase") else "Age:          "
    lines = [
        f"{facts.kind.kind} {meta['namespace']}/{meta['name']}",
        f"Verdict:      {verdict(facts.obj)}",
        f"{phase}{'age ' if status.get('phase') else ''}{ages.age(meta.get('creationTimestamp'), now)}   {generation}",
    ]
    lines += _kind_lines(facts, now)
    conditions = status.get("conditions") or []
    if conditions:
        lines.append("Conditions:")
        rows: list[tuple[str, ...]] = [("TYPE", "STATUS", "REASON", "AGE", "MESSAGE")]
        rows += [
            (
                str(c.get("type")),
                str(c.get("status")),
                str(c.get("reason")),
                ages.age(c.get("lastTransitionTime"), now),
                str(c.get("message") or ""),
            )
            for c in conditions
        ]
        lines += columns(rows, indent="  ")
    else:
        lines.append("Conditions:   none (the operator has not handled this resource yet: is it running?)")
    error = status.get("error")
    if error:
        code = f", Milvus code {error['code']}" if error.get("code") is not None else ""
        when = ages.relative(error.get("time"), now)
        lines.append(f"Error:        {error.get('reason')} ({when}{code}): {error.get('message')}")
    if facts.references:
        lines.append("References:")
        lines += [f"  {_reference_line(ref)}" for ref in facts.references]
    shown = facts.events[-EVENTS_SHOWN:]
    if shown:
        lines.append(
            f"Events (last {len(shown)} of {len(facts.events)}):" if len(facts.events) > len(shown) else "Events:"
        )
        events: list[tuple[str, ...]] = [("AGE", "TYPE", "REASON", "MESSAGE")]
        events += [
            (
                ages.human_duration((now - event_time(e)).total_seconds()),
                str(e.get("type") or ""),
                str(e.get("reason") or ""),
                str(e.get("message") or ""),
            )
            for e in shown
        ]
        lines += columns(events, indent="  ")
    else:
        lines.append("Events:       none")
    return lines
