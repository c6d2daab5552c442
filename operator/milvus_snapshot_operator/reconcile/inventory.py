"""A connection's inventory: which snapshots Milvus holds that no MilvusSnapshot represents, and what import
creates for them.

Pure: the handler lists Milvus (ListCollections once for "*", then ListSnapshots per collection), gathers
what represents each snapshot (from the snapshots index, cluster-wide) and the namespace's schedules, and
creates what the plan says with the operator's field manager. The rules (README, "Behaviour you can rely on"):

- A snapshot is (endpoint, database, collection, name). A MilvusSnapshot represents it when its status says
  so (unless it Failed: a SnapshotExists failure holds nothing), or when it is an import whose annotation
  names it (before its first step fills its status). Any namespace counts: one Milvus snapshot is never
  imported twice, whichever connections point at that Milvus.
- Names are deterministic, so a repeated pass is idempotent (409 = done): a schedule's
  `<schedule>-<yyyymmddhhmmss>`, else the snapshot name with `_` as `-` (what the MilvusSnapshot that made it
  was called, when the operator named it), else a readable prefix and a hash of the snapshot's identity.
- A snapshot named `<schedule>_<yyyymmddhhmmss>` (the schedule's name with `-` and `.` as `_`) for exactly
  one schedule of the namespace on the same collection, endpoint and database joins it as one of its runs.
  Its deletionPolicy is Delete only when both the import and the schedule's template say Delete.
- No loop: a joined snapshot that would be Retain and that the schedule's retention would prune at once is
  not imported (it is `outsideRetention`). Imported, it would be pruned (only the resource: Retain), found
  unrepresented again, and imported again, pass after pass. Retention keeps a snapshot only while nothing
  newer displaces it, so what it pruned stays pruned in every later pass.
- Bounded: at most maxPerPass creations per pass; the rest are `pending` and follow sooner than the interval.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import re
import zoneinfo

from ..api import (
    API_VERSION,
    IMPORTED_FROM_ANNOTATION,
    IMPORTED_LABEL,
)
from ..api.common import DNS1123_PATTERN, parse_rfc3339_or_none, rfc3339
from ..api.connection import MAX_INVENTORY_COLLECTIONS, CollectionInventory, Inventory, InventoryStatus
from ..api.snapshot import KIND as SNAPSHOT_KIND
from ..api.snapshot import DeletionPolicy, SnapshotPhase
from . import retention
from .entries import ScheduleEntry
from .naming import snapshot_name_for
from .outcome import Event
from .retention import Child
from .schedule import child_name, run_metadata

Identity = tuple[str, str, str, str]  # endpoint (host:port), database, collection, snapshot name
# A pass that left imports for later starts the next one after this long at most (bounded, never a burst).
CONTINUE_SECONDS = 30.0
MAX_ERRORS = 20  # entries of status.inventory.errors
MAX_NAMES_IN_EVENT = 10
NAME_MAX = 253
_DNS1123 = re.compile(DNS1123_PATTERN)
_RUN_SUFFIX = re.compile(r"_([0-9]{14})$")


def identity_text(identity: Identity) -> str:
    """The imported-from annotation: endpoint/db/collection/snapshot ('/' occurs in none of them)."""
    return "/".join(identity)


def parse_identity(text: str | None) -> Identity | None:
    parts = (text or "").rsplit("/", 3)
    if len(parts) != 4 or not all(parts):
        return None
    return parts[0], parts[1], parts[2], parts[3]


@dataclasses.dataclass(frozen=True)
class Listing:
    """What Milvus holds: snapshot names per collection that could be listed, and why others could not."""

    snapshots: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    errors: dict[str, str] = dataclasses.field(default_factory=dict)  # collection -> message
    error: str | None = None  # listing the collections themselves failed ("*")


@dataclasses.dataclass(frozen=True)
class InventoryInputs:
    namespace: str
    connection: str
    endpoint: str  # host:port the connection points at
    db: str
    spec: Inventory
    generation: int | None
    listing: Listing
    now: datetime.datetime
    represented: frozenset[Identity] = frozenset()  # by any MilvusSnapshot the operator sees, and recent imports
    names_taken: frozenset[str] = frozenset()  # MilvusSnapshot names in the namespace
    schedules: tuple[ScheduleEntry, ...] = ()  # of the namespace, on this endpoint and database
    children: dict[str, list[Child]] = dataclasses.field(default_factory=dict)  # schedule -> its labelled children
    needed: frozenset[str] = frozenset()  # MilvusSnapshot names that unfinished restores restore or wait for


@dataclasses.dataclass(frozen=True)
class NewImport:
    """A MilvusSnapshot to create: its name, what it represents, and the whole object."""

    name: str
    identity: Identity
    schedule: str | None
    body: dict[str, object]


@dataclasses.dataclass
class InventoryPlan:
    status: InventoryStatus
    create: list[NewImport] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class _Candidate:
    identity: Identity
    schedule: ScheduleEntry | None = None
    run_time: datetime.datetime | None = None

    @property
    def collection(self) -> str:
        return self.identity[2]

    @property
    def snapshot(self) -> str:
        return self.identity[3]


def due_at(spec: Inventory, status: InventoryStatus | None, generation: int | None) -> datetime.datetime | None:
    """When the next pass is due; None: now (never ran, or the connection's spec changed since)."""
    if status is None or status.observed_generation != generation:
        return None
    last = parse_rfc3339_or_none(status.last_pass_time)
    if last is None:
        return None
    seconds = float(spec.interval_seconds)
    if status.pending:
        seconds = min(seconds, CONTINUE_SECONDS)
    return last + datetime.timedelta(seconds=seconds)


def run_time(snapshot: str, schedule: str) -> datetime.datetime | None:
    """The run time of a snapshot the schedule's run named (`<schedule>_<yyyymmddhhmmss>`), else None."""
    found = _RUN_SUFFIX.search(snapshot)
    if found is None:
        return None
    try:
        moment = datetime.datetime.strptime(found.group(1), "%Y%m%d%H%M%S").replace(tzinfo=datetime.UTC)
    except ValueError:
        return None
    return moment if snapshot_name_for(child_name(schedule, moment)) == snapshot else None


def plain_name(snapshot: str) -> str | None:
    """The MilvusSnapshot name the snapshot's own name maps back to (`books_before_v2` -> `books-before-v2`),
    when that mapping is exact (no upper case) and a valid object name."""
    name = snapshot.replace("_", "-")
    if snapshot != snapshot.lower() or len(name) > NAME_MAX or not _DNS1123.match(name):
        return None
    return name if snapshot_name_for(name) == snapshot else None


def hashed_name(identity: Identity) -> str:
    """Unique per identity (endpoint included: two connections in one namespace may reach two clusters)."""
    digest = hashlib.sha256(identity_text(identity).encode()).hexdigest()[:10]
    base = re.sub(r"[^a-z0-9]+", "-", identity[3].lower()).strip("-")[:48].strip("-") or "snapshot"
    return f"{base}-{digest}"


def plan_inventory(inp: InventoryInputs) -> InventoryPlan:
    settings = inp.spec.import_
    importing = settings is not None and settings.enabled
    status = InventoryStatus(last_pass_time=rfc3339(inp.now), observed_generation=inp.generation, collections_listed=0)
    errors: list[str] = []
    if inp.listing.error is not None:
        errors.append(f"listing the collections of database {inp.db!r}: {inp.listing.error}")
    entries: list[CollectionInventory] = []
    candidates: list[_Candidate] = []
    for collection in sorted(set(inp.listing.snapshots) | set(inp.listing.errors)):
        if collection in inp.listing.errors:
            message = inp.listing.errors[collection]
            errors.append(f"listing the snapshots of {collection!r}: {message}")
            entries.append(
                CollectionInventory(name=collection, snapshots=0, represented=0, unrepresented=0, error=message)
            )
            continue
        names = sorted(set(inp.listing.snapshots[collection]))
        missing = [n for n in names if (inp.endpoint, inp.db, collection, n) not in inp.represented]
        candidates.extend(_joined((inp.endpoint, inp.db, collection, n), inp.schedules, errors) for n in missing)
        entries.append(
            CollectionInventory(
                name=collection,
                snapshots=len(names),
                represented=len(names) - len(missing),
                unrepresented=len(missing),
            )
        )
    status.collections_listed = len(inp.listing.snapshots)
    status.snapshots = sum(e.snapshots for e in entries)
    status.represented = sum(e.represented for e in entries)
    status.unrepresented = sum(e.unrepresented for e in entries)
    plan = InventoryPlan(status)
    if importing:
        assert settings is not None
        policy = DeletionPolicy(settings.deletion_policy)
        outside, late = _split(inp, candidates, policy)
        for entry in entries:
            if entry.error is None:
                entry.outside_retention = sum(1 for (_, _, c, _) in outside if c == entry.name)
        wanted = _order([c for c in candidates if c.identity not in outside], late, inp.now)
        taken = set(inp.names_taken)
        for candidate in wanted[: settings.max_per_pass]:
            new = _new_import(inp, candidate, taken, policy)
            taken.add(new.name)
            plan.create.append(new)
        status.pending = len(wanted) - len(plan.create)
    status.collections = sorted(entries, key=lambda e: (-e.unrepresented, e.name))[:MAX_INVENTORY_COLLECTIONS]
    status.errors = errors[:MAX_ERRORS]
    return plan


def _joined(identity: Identity, schedules: tuple[ScheduleEntry, ...], errors: list[str]) -> _Candidate:
    """The candidate, with the one schedule whose run named it (none when no schedule, or several, did)."""
    matches = [(s, t) for s in schedules if s.collection == identity[2] for t in [run_time(identity[3], s.name)] if t]
    if len(matches) == 1:
        return _Candidate(identity, matches[0][0], matches[0][1])
    if matches:
        names = ", ".join(sorted(s.name for s, _ in matches))
        errors.append(f"snapshot {identity[3]!r} matches the runs of several schedules ({names}): not joined")
    return _Candidate(identity)


def _policy(candidate: _Candidate, wanted: DeletionPolicy) -> DeletionPolicy:
    """Delete only with the user's word on the connection, and for a schedule's run also on the schedule."""
    if candidate.schedule is not None and candidate.schedule.deletion_policy != DeletionPolicy.DELETE:
        return DeletionPolicy.RETAIN
    return wanted


def _split(
    inp: InventoryInputs, candidates: list[_Candidate], wanted: DeletionPolicy
) -> tuple[set[Identity], set[Identity]]:
    """Joined candidates the schedule's retention would prune at once: (Retain: never imported, importing them
    would loop, see the module docstring; Delete: imported last, for retention to drop them)."""
    outside: set[Identity] = set()
    late: set[Identity] = set()
    for schedule in inp.schedules:
        joined = [c for c in candidates if c.schedule is schedule]
        if schedule.retention is None or not joined:
            continue
        pruned = _retention_prunes(inp, schedule, joined)
        (late if _policy(joined[0], wanted) == DeletionPolicy.DELETE else outside).update(pruned)
    return outside, late


def _retention_prunes(inp: InventoryInputs, schedule: ScheduleEntry, joined: list[_Candidate]) -> set[Identity]:
    """What the schedule's retention would prune with its own children and every joined candidate as a Ready
    run, as retention sees them once imported (a restore waiting for one keeps it, as it keeps a run)."""
    assert schedule.retention is not None
    try:
        zone = zoneinfo.ZoneInfo(schedule.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return set()  # the schedule is Stalled (InvalidSchedule): its retention does not run
    owned = [c for c in inp.children.get(schedule.name, []) if c.owned_by(schedule.uid)]
    keyed = {f"import:{c.snapshot}": c for c in joined}  # ':' is in no object name: no clash with children
    assumed = [
        Child(
            name=key,
            time=c.run_time or inp.now,
            phase=SnapshotPhase.READY,
            schedule_uid=schedule.uid,
            created_by_operator=True,
            referenced=c.run_time is not None and child_name(schedule.name, c.run_time) in inp.needed,
        )
        for key, c in keyed.items()
    ]
    chosen = retention.select([*owned, *assumed], schedule.retention, zone)
    return {keyed[name].identity for name in chosen.prune if name in keyed}


def _order(candidates: list[_Candidate], late: set[Identity], now: datetime.datetime) -> list[_Candidate]:
    """Schedules' history first (newest first: what restores and retention look at), then the others; last,
    runs imported only for their schedule's retention to drop them (Delete)."""

    def by_time(c: _Candidate) -> tuple[datetime.datetime, str]:
        return c.run_time or now, c.snapshot

    history = sorted(
        (c for c in candidates if c.schedule is not None and c.identity not in late), key=by_time, reverse=True
    )
    others = [c for c in candidates if c.schedule is None]
    return [*history, *others, *sorted((c for c in candidates if c.identity in late), key=by_time)]


def _new_import(inp: InventoryInputs, candidate: _Candidate, taken: set[str], wanted: DeletionPolicy) -> NewImport:
    _, db, collection, snapshot = candidate.identity
    schedule, run_time = candidate.schedule, candidate.run_time
    labels = {IMPORTED_LABEL: "true"}
    annotations = {IMPORTED_FROM_ANNOTATION: identity_text(candidate.identity)}
    metadata: dict[str, object]
    if schedule is not None and run_time is not None:  # a run of a schedule: it joins it
        name = _free(child_name(schedule.name, run_time), taken, candidate)
        metadata = run_metadata(
            name, schedule.name, schedule.uid, schedule.labels, run_time, schedule.owner_reference, labels, annotations
        )
        connection = schedule.connection
    else:
        name = _free(plain_name(snapshot), taken, candidate)
        metadata = {"name": name, "labels": labels, "annotations": annotations}
        connection = inp.connection
    spec: dict[str, object] = {
        "connectionRef": {"name": connection},
        "collectionName": collection,
        "dbName": db,
        "snapshotName": snapshot,
        "adopt": True,
        "deletionPolicy": str(_policy(candidate, wanted)),
    }
    body: dict[str, object] = {
        "apiVersion": API_VERSION,
        "kind": SNAPSHOT_KIND,
        "metadata": metadata,
        "spec": spec,
    }
    return NewImport(name, candidate.identity, schedule.name if schedule else None, body)


def _free(preferred: str | None, taken: set[str], candidate: _Candidate) -> str:
    """The preferred name unless there is none or it is taken; else one derived from the identity."""
    return preferred if preferred is not None and preferred not in taken else hashed_name(candidate.identity)


def record(plan: InventoryPlan, created: list[str], existed: list[str], failed: list[str]) -> list[Event]:
    """What the handler's creations came to: counts in status, and the events to post.

    `existed`: 409, a resource of that name exists (the same import made by an earlier pass whose status
    patch was lost, or another object: the next pass sees which). `failed`: messages of refused creations;
    what was not attempted after them stays pending."""
    status = plan.status
    status.imported = len(created)
    status.pending += len(plan.create) - len(created) - len(existed)
    status.errors = [*status.errors, *failed][:MAX_ERRORS]
    events = []
    if created:
        shown = ", ".join(created[:MAX_NAMES_IN_EVENT])
        more = f" and {len(created) - MAX_NAMES_IN_EVENT} more" if len(created) > MAX_NAMES_IN_EVENT else ""
        message = f"imported {len(created)} snapshot(s) from Milvus as MilvusSnapshots: {shown}{more}"
        events.append(Event("Normal", "SnapshotsImported", message))
    return events


def failure_event(previous: InventoryStatus | None, status: InventoryStatus) -> list[Event]:
    """One Warning when the pass's errors change (not every pass while they persist)."""
    if not status.errors or (previous is not None and previous.errors == status.errors):
        return []
    return [Event("Warning", "InventoryFailed", "; ".join(status.errors))]
