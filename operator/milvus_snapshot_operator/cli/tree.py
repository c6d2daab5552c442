"""The `status` tree: connections, and under each the schedules, snapshots and restores that use it (pure).

Restores hang under what they restore from (a snapshot, or a schedule for scheduleRef); a schedule's own
snapshots are summarised on its line (count, running, failed, newest Ready) rather than listed. References to
objects that do not exist get a line of their own saying so, so nothing that exists is left out.
"""

from __future__ import annotations

import dataclasses
import datetime

from ..api import SCHEDULE_LABEL
from . import ages
from .columns import columns
from .evidence import references_of
from .kinds import CONNECTION, RESTORE, SCHEDULE, SNAPSHOT, Kind
from .progress import bar
from .states import Obj, condition, state, status_of


@dataclasses.dataclass
class Node:
    kind: Kind
    name: str
    namespace: str
    ready: str  # the Ready condition's status, "-" without one
    status: str  # phase, or the Ready reason for kinds without phases, or NotFound
    created: str | None  # metadata.creationTimestamp
    details: str
    children: list[Node] = dataclasses.field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.kind.short}/{self.name}"

    def to_json(self, now: datetime.datetime) -> Obj:
        return {
            "kind": self.kind.kind,
            "name": self.name,
            "namespace": self.namespace,
            "ready": self.ready,
            "status": self.status,
            "age": ages.age(self.created, now) if self.created else None,
            "details": self.details,
            "children": [child.to_json(now) for child in self.children],
        }


def _name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def _spec(obj: Obj) -> Obj:
    return dict(obj.get("spec") or {})


def _ready(obj: Obj) -> str:
    return str((condition(obj, "Ready") or {}).get("status") or "-")


def _node(kind: Kind, obj: Obj, status: str, details: str) -> Node:
    meta = obj["metadata"]
    return Node(
        kind, meta["name"], meta.get("namespace", ""), _ready(obj), status, meta.get("creationTimestamp"), details
    )


def _missing(kind: Kind, name: str, namespace: str, who: str) -> Node:
    return Node(kind, name, namespace, "-", "NotFound", None, f"referenced by {who}, does not exist")


def _unless_ok(obj: Obj) -> str:
    """The reason and message when the resource is not (yet) fine; nothing when it is."""
    now = state(obj)
    return "" if now.finished and not now.failed else now.why()


def connection_node(obj: Obj) -> Node:
    spec, status = _spec(obj), status_of(obj)
    ready = condition(obj, "Ready") or {}
    endpoint = status.get("endpoint") or spec.get("uri") or f"milvusRef {(spec.get('milvusRef') or {}).get('name')}"
    details = str(endpoint)
    if status.get("serverVersion"):
        details += f" (Milvus {status['serverVersion']})"
    if spec.get("dbName") not in (None, "default"):
        details += f", database {spec['dbName']}"
    inventory = status.get("inventory")
    if isinstance(inventory, dict) and inventory.get("lastPassTime"):
        details += (
            f", inventory {inventory.get('snapshots', 0)} snapshots, {inventory.get('unrepresented', 0)} unrepresented"
        )
        details += f", {inventory['pending']} to import" if inventory.get("pending") else ""
    if ready.get("status") != "True" and ready.get("message"):
        details += f"; {ready['message']}"
    return _node(CONNECTION, obj, str(ready.get("reason") or "-"), details)


def schedule_node(obj: Obj, children: list[Obj], now: datetime.datetime) -> Node:
    spec, status = _spec(obj), status_of(obj)
    label = "Suspended" if spec.get("suspend") else str((condition(obj, "Ready") or {}).get("reason") or "-")
    parts = [f'"{spec.get("schedule")}" {spec.get("timeZone") or "UTC"}']
    if not spec.get("suspend") and status.get("nextScheduleTime"):
        parts.append(f"next run {ages.relative(status.get('nextScheduleTime'), now)}")
    success = status.get("lastSuccessfulTime")
    parts.append(f"last success {ages.relative(success, now)}" if success else "no successful run yet")
    phases = [str(status_of(child).get("phase") or "Pending") for child in children]
    counts = [
        f"{n} {what}"
        for what, n in (("running", len(status.get("active") or [])), ("failed", phases.count("Failed")))
        if n
    ]
    parts.append(
        f"{len(children)} snapshot{'s' * (len(children) != 1)}" + (f" ({', '.join(counts)})" if counts else "")
    )
    ready_children = [c for c in children if status_of(c).get("phase") == "Ready"]
    if ready_children:
        newest = max(
            ready_children,
            key=lambda c: str(status_of(c).get("creationTime") or c["metadata"].get("creationTimestamp")),
        )
        parts.append(f"newest Ready {_name(newest)}")
    last = condition(obj, "LastSnapshotSucceeded") or {}
    if last.get("status") == "False":
        parts.append(f"last run failed: {last.get('message') or last.get('reason')}")
    if problem := _unless_ok(obj):
        parts.append(problem)
    return _node(SCHEDULE, obj, label, ", ".join(parts))


def snapshot_node(obj: Obj) -> Node:
    spec, status = _spec(obj), status_of(obj)
    details = f"{spec.get('collectionName')}"
    if spec.get("dbName"):
        details = f"{spec['dbName']}.{details}"
    if status.get("snapshotName"):
        details += f" -> {status['snapshotName']}"
    if status.get("sourceRowCount") is not None:
        details += f", {status['sourceRowCount']} rows"
    if problem := _unless_ok(obj):
        details += f"; {problem}"
    return _node(SNAPSHOT, obj, str(status.get("phase") or "-"), details)


def restore_node(obj: Obj) -> Node:
    spec, status = _spec(obj), status_of(obj)
    target = dict(spec.get("target") or {})
    into = (
        f"{target['dbName']}.{target.get('collectionName')}" if target.get("dbName") else target.get("collectionName")
    )
    details = f"-> {into}"
    if spec.get("alias"):
        details += f" (alias {spec['alias']})"
    source = dict(status.get("source") or {})
    if source.get("snapshotName") and not (spec.get("source") or {}).get("snapshotRef"):
        details = f"{source['snapshotName']} {details}"
    if status.get("state"):
        details += f", {status['state']}"
    if status.get("progress") is not None:
        finished = state(obj).finished
        details += f" {status['progress']}%" if finished else f" {bar(int(status['progress']))}"
    if status.get("targetRowCount") is not None:
        details += f", {status['targetRowCount']} rows"
    if problem := _unless_ok(obj):
        details += f"; {problem}"
    return _node(RESTORE, obj, str(status.get("phase") or "-"), details)


def build(
    connections: list[Obj], schedules: list[Obj], snapshots: list[Obj], restores: list[Obj], now: datetime.datetime
) -> list[Node]:
    """The forest for one namespace, connections (and missing ones) at the roots, all sorted by name."""
    by_created = sorted(snapshots, key=lambda o: (str(o["metadata"].get("creationTimestamp")), _name(o)))
    roots: dict[str, Node] = {_name(c): connection_node(c) for c in sorted(connections, key=_name)}
    namespace = next(
        (o["metadata"].get("namespace", "") for o in [*connections, *schedules, *snapshots, *restores]), ""
    )

    def connection(name: str, who: str) -> Node:
        if name not in roots:
            roots[name] = _missing(CONNECTION, name, namespace, who)
        return roots[name]

    schedule_nodes: dict[str, Node] = {}
    children_of: dict[str, list[Obj]] = {}
    for snap in by_created:
        owner = (snap["metadata"].get("labels") or {}).get(SCHEDULE_LABEL)
        if owner:
            children_of.setdefault(owner, []).append(snap)
    for sched in sorted(schedules, key=_name):
        node = schedule_node(sched, children_of.get(_name(sched), []), now)
        schedule_nodes[node.name] = node
        connection(_reference(SCHEDULE, sched, CONNECTION), node.ref).children.append(node)
    snapshot_nodes: dict[str, Node] = {}
    for snap in by_created:
        owner = (snap["metadata"].get("labels") or {}).get(SCHEDULE_LABEL)
        if owner in schedule_nodes:
            snapshot_nodes[_name(snap)] = schedule_nodes[owner]  # summarised on the schedule's line
            continue
        node = snapshot_node(snap)
        snapshot_nodes[node.name] = node
        connection(_reference(SNAPSHOT, snap, CONNECTION), node.ref).children.append(node)
    orphans: list[Node] = []
    for restore in sorted(restores, key=lambda o: (str(o["metadata"].get("creationTimestamp")), _name(o))):
        node = restore_node(restore)
        snap_ref, sched_ref = _reference(RESTORE, restore, SNAPSHOT), _reference(RESTORE, restore, SCHEDULE)
        if sched_ref:
            parent = schedule_nodes.get(sched_ref) or _orphan(orphans, SCHEDULE, sched_ref, namespace, node.ref)
        elif snap_ref:
            parent = snapshot_nodes.get(snap_ref) or _orphan(orphans, SNAPSHOT, snap_ref, namespace, node.ref)
        else:
            parent = connection(_reference(RESTORE, restore, CONNECTION), node.ref)
        parent.children.append(node)
    return [roots[name] for name in sorted(roots)] + orphans


def _reference(kind: Kind, obj: Obj, of: Kind) -> str:
    """The name of the `of` object `obj` refers to (evidence.references_of reads the references), "" if none."""
    return next((name for _, ref_kind, name in references_of(kind, obj) if ref_kind == of), "")


def _orphan(orphans: list[Node], kind: Kind, name: str, namespace: str, who: str) -> Node:
    for node in orphans:
        if node.kind == kind and node.name == name:
            return node
    node = _missing(kind, name, namespace, who)
    orphans.append(node)
    return node


BRANCHES = {True: ("├─ ", "└─ ", "│  ", "   "), False: ("|- ", "`- ", "|  ", "   ")}
HEADER = ("NAME", "READY", "STATUS", "AGE", "DETAILS")


def render(forest: list[Node], now: datetime.datetime, unicode: bool = True) -> list[str]:
    """Aligned columns with the tree drawn in the NAME column; ASCII branches when the output cannot take UTF-8."""
    tee, last, pipe, blank = BRANCHES[unicode]
    rows: list[tuple[str, ...]] = [HEADER]

    def walk(node: Node, prefix: str, branch: str) -> None:
        age = ages.age(node.created, now) if node.created else "-"
        rows.append((prefix + branch + node.ref, node.ready, node.status, age, node.details))
        below = prefix + ("" if not branch else (blank if branch == last else pipe))
        for i, child in enumerate(node.children):
            walk(child, below, last if i == len(node.children) - 1 else tee)

    for root in forest:
        walk(root, "", "")
    return columns(rows)
