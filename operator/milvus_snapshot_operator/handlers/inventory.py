"""A MilvusConnection's inventory pass: run by the connection's daemon when due (it is the one writer of the
connection's status), it lists Milvus, lets reconcile/inventory.py decide, and creates the imports with the
operator's field manager (so that a joined schedule's retention treats them as its own runs).

What represents a snapshot comes from the snapshots index (every namespace the operator watches), the
schedules from the `inventory_schedules` index below: no list calls to the API server.
"""

from __future__ import annotations

import dataclasses
import datetime
import time

import kopf
from kubernetes.client.exceptions import ApiException

from ..api import GROUP, VERSION
from ..api.connection import ALL_COLLECTIONS, Inventory, InventoryStatus, MilvusConnectionSpec, MilvusConnectionStatus
from ..api.schedule import PLURAL as SCHEDULES
from ..api.schedule import MilvusSnapshotScheduleSpec, SnapshotOwnerReference
from ..api.snapshot import DeletionPolicy, SnapshotPhase
from ..milvus.gateway import ErrorKind, MilvusError, MilvusGateway
from ..reconcile import inventory
from ..reconcile.claims import snapshots_needed
from ..reconcile.endpoints import EndpointError, parse_uri
from ..reconcile.entries import ConnectionEntry, RestoreEntry, ScheduleEntry, SnapshotEntry
from ..reconcile.inventory import Identity, InventoryInputs, Listing
from ..reconcile.outcome import Event, Outcome
from ..reconcile.refs import Connected
from ..reconcile.retention import Child
from .common import by_name, parse
from .indexes import in_namespace
from .runtime import Runtime

Key = tuple[str, str]
# How long a pass remembers what it created, for passes of other namespaces: the watch shows a new object
# within seconds; this only has to outlast that.
RECENT_IMPORT_SECONDS = 600.0
WAKE_MARGIN_SECONDS = 0.05  # wake just after a pass is due, never just before it


@dataclasses.dataclass(frozen=True)
class Indexes:
    """The Kopf indexes a pass reads (the connection daemon receives them by name)."""

    snapshots: kopf.Index[Key, SnapshotEntry]
    schedule_children: kopf.Index[Key, Child]
    restores: kopf.Index[Key, RestoreEntry]
    connections: kopf.Index[Key, ConnectionEntry]
    schedules: kopf.Index[str, ScheduleEntry]


@kopf.index(GROUP, VERSION, SCHEDULES)
@by_name
async def inventory_schedules(
    namespace: str, name: str, uid: str, spec: kopf.Spec, meta: kopf.Meta, **_: object
) -> dict[str, ScheduleEntry]:
    """namespace -> its schedules: which Milvus snapshots may join one of them."""
    model = parse(MilvusSnapshotScheduleSpec, spec)
    template = model.template
    return {
        namespace: ScheduleEntry(
            name=name,
            uid=uid,
            connection=template.connection_ref.name,
            collection=template.collection_name,
            db=template.db_name,
            time_zone=model.time_zone,
            retention=model.retention,
            deletion_policy=DeletionPolicy(template.effective_deletion_policy()),
            owner_reference=model.snapshot_owner_reference == SnapshotOwnerReference.SCHEDULE,
            labels=dict(meta.get("labels") or {}),
        )
    }


async def pass_if_due(
    runtime: Runtime,
    namespace: str,
    name: str,
    generation: int | None,
    spec: MilvusConnectionSpec,
    conn: Connected,
    outcome: Outcome[MilvusConnectionStatus],
    now: datetime.datetime,
    indexes: Indexes,
) -> None:
    """Run the pass into the probe's outcome if one is due, then have the daemon wake for the next one (or
    for the next probe, if that is sooner)."""
    assert spec.inventory is not None
    status = outcome.status
    due = inventory.due_at(spec.inventory, status.inventory, generation)
    if due is None or due <= now:
        status.inventory, events = await run_pass(
            runtime, namespace, name, generation, spec, status.inventory, conn, now, indexes
        )
        outcome.events.extend(events)
        due = inventory.due_at(spec.inventory, status.inventory, generation)
    wait = max((due - now).total_seconds(), 0.0) + WAKE_MARGIN_SECONDS if due else 0.0
    outcome.within = datetime.timedelta(seconds=min(wait, runtime.config.connection_probe_seconds))


async def run_pass(
    runtime: Runtime,
    namespace: str,
    name: str,
    generation: int | None,
    spec: MilvusConnectionSpec,
    previous: InventoryStatus | None,
    conn: Connected,
    now: datetime.datetime,
    indexes: Indexes,
) -> tuple[InventoryStatus, list[Event]]:
    """One pass: list, decide, create at most maxPerPass MilvusSnapshots; the new inventory status and events."""
    assert spec.inventory is not None
    listing = await list_milvus(conn.gateway, conn.db_name, spec.inventory)
    represented, taken = _represented(runtime, namespace, indexes.snapshots)
    ours = tuple(
        entry
        for entry in indexes.schedules.get(namespace, ())
        if _same_target(entry, namespace, name, spec, conn.db_name, indexes.connections)
    )
    plan = inventory.plan_inventory(
        InventoryInputs(
            namespace=namespace,
            connection=name,
            endpoint=conn.endpoint,
            db=conn.db_name,
            spec=spec.inventory,
            generation=generation,
            listing=listing,
            now=now,
            represented=represented,
            names_taken=taken,
            schedules=ours,
            children={s.name: list(indexes.schedule_children.get((namespace, s.name), ())) for s in ours},
            needed=snapshots_needed(in_namespace(indexes.restores, namespace)),
        )
    )
    created: list[str] = []
    existed: list[str] = []
    failed: list[str] = []
    for new in plan.create:
        try:
            made = await runtime.kube.create_snapshot(namespace, new.body)
        except ApiException as exc:
            # The rest waits for the next pass (pending): the API server refusing one is likely to refuse all.
            failed.append(f"creating MilvusSnapshot {new.name!r}: {exc.status} {exc.reason}")
            break
        if made:
            created.append(new.name)
            runtime.recent_imports[new.identity] = time.monotonic() + RECENT_IMPORT_SECONDS
        else:
            existed.append(new.name)
    events = inventory.record(plan, created, existed, failed)
    events.extend(inventory.failure_event(previous, plan.status))
    return plan.status, events


async def list_milvus(gateway: MilvusGateway, db: str, spec: Inventory) -> Listing:
    """ListCollections once for "*", then ListSnapshots per collection. An outage ends the listing (what was
    listed is still counted): the other collections would each wait for their own timeout."""
    if spec.collections == [ALL_COLLECTIONS]:
        try:
            collections = await gateway.list_collections(db)
        except MilvusError as exc:
            return Listing(error=str(exc))
    else:
        collections = list(spec.collections)
    found: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for collection in collections:
        try:
            found[collection] = await gateway.list_snapshots(collection, db)
        except MilvusError as exc:
            if exc.kind in (ErrorKind.UNAVAILABLE, ErrorKind.AUTH, ErrorKind.TLS, ErrorKind.TLS_MISMATCH):
                listed = len(found) + len(errors)
                return Listing(found, errors, f"stopped after {listed} of {len(collections)} collections: {exc}")
            errors[collection] = str(exc)
    return Listing(found, errors)


def _represented(
    runtime: Runtime, namespace: str, snapshots: kopf.Index[Key, SnapshotEntry]
) -> tuple[frozenset[Identity], frozenset[str]]:
    """Every snapshot some MilvusSnapshot represents (any namespace), and the names taken in ours."""
    represented: set[Identity] = set()
    taken: set[str] = set()
    for (ns, name), found in snapshots.items():
        if ns == namespace:
            taken.add(name)
        for entry in found:
            if entry.endpoint and entry.db_name and entry.snapshot_name and entry.phase != SnapshotPhase.FAILED:
                represented.add((entry.endpoint, entry.db_name, entry.collection_name, entry.snapshot_name))
            imported = inventory.parse_identity(entry.imported_from)
            if imported is not None:
                represented.add(imported)
    clock = time.monotonic()
    for identity, until in list(runtime.recent_imports.items()):
        if until < clock or identity in represented:
            del runtime.recent_imports[identity]  # the watch shows it now (or it is long gone)
        else:
            represented.add(identity)
    return frozenset(represented), frozenset(taken)


def _same_target(
    schedule: ScheduleEntry,
    namespace: str,
    name: str,
    spec: MilvusConnectionSpec,
    db: str,
    connections: kopf.Index[Key, ConnectionEntry],
) -> bool:
    """The schedule snapshots the same Milvus database: through this connection, or another one of the
    namespace pointing at the same endpoint (same milvusRef, or a URI with the same host and port)."""
    if schedule.connection == name:
        return (schedule.db or spec.db_name) == db
    found = list(connections.get((namespace, schedule.connection), ()))
    if not found:
        return False
    other = found[0].spec
    return (schedule.db or other.db_name) == db and same_milvus(spec, other)


def same_milvus(a: MilvusConnectionSpec, b: MilvusConnectionSpec) -> bool:
    if a.milvus_ref is not None or b.milvus_ref is not None:
        return a.milvus_ref is not None and b.milvus_ref is not None and a.milvus_ref.name == b.milvus_ref.name
    try:
        first = parse_uri(a.uri or "", "uri", tls=a.tls is not None)
        second = parse_uri(b.uri or "", "uri", tls=b.tls is not None)
    except EndpointError:
        return False
    return first.address == second.address
