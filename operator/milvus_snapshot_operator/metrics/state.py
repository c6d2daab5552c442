"""State gauges computed at scrape time from the resources' stored status.

Each watched object is reduced to a small `Resource` (by a Kopf index in handlers/metrics.py); a scrape
aggregates them. Nothing is remembered between scrapes, so a restart loses nothing (the status is in the API
server; Velero #6809 lost its last-backup state) and a deleted object's series disappear with it (Velero
#1333). Only user-created objects (connections, schedules) get a per-object series; snapshots, which
schedules create without end, are aggregated per collection, and restores per namespace and phase.
"""

from __future__ import annotations

import dataclasses
import datetime
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from importlib import metadata

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..api import SCHEDULE_LABEL, wire
from ..api.common import READY
from ..api.connection import KIND as CONNECTION
from ..api.restore import KIND as RESTORE
from ..api.schedule import KIND as SCHEDULE
from ..api.snapshot import KIND as SNAPSHOT
from ..api.wire import Wire, WireView
from ..reconcile.snapshot import SNAPSHOT_MISSING  # a Ready snapshot that vanished from Milvus
from .events import PREFIX, EventMetrics
from .interval import interval_seconds
from .timestamps import epoch

KINDS = (CONNECTION, SNAPSHOT, RESTORE, SCHEDULE)
DEFAULT_DB = "default"


@dataclasses.dataclass(frozen=True, slots=True)
class Resource:
    """What the metrics need of one object; a few hundred bytes, held in a Kopf index."""

    kind: str
    namespace: str
    name: str
    phase: str = ""
    ready: str = ""  # the Ready condition's status: True, False, Unknown, or "" when there is none
    reason: str = ""  # the Ready condition's reason
    ready_since: float | None = None  # its lastTransitionTime
    deleting: bool = False
    connection: str = ""
    database: str = ""  # "" = the connection's database
    collection: str = ""
    schedule: str = ""  # a snapshot's schedule (label); "" when made by hand
    success_time: float | None = None  # snapshot: creationTime when Ready; schedule: lastSuccessfulTime
    failure_time: float | None = None  # snapshot: error.time when Failed; schedule: lastFailedTime
    suspended: bool = False
    cron: str = ""
    time_zone: str = ""
    next_run: float | None = None
    created: float | None = None


def _shared(value: object) -> str:
    """Interned: thousands of summaries share a few namespaces, phases, reasons, connections and collections."""
    return sys.intern(str(value or ""))


def summarize(
    kind: str,
    namespace: str,
    name: str,
    meta: WireView,
    spec: WireView,
    status: WireView,
) -> Resource:
    """Reduce an object (its wire form: camelCase keys) to what the gauges need."""
    ready = wire.condition(status, READY)
    common: Wire = {
        "kind": kind,
        "namespace": _shared(namespace),
        "name": name,
        "phase": _shared(status.get("phase")),
        "ready": _shared(ready.get("status")),
        "reason": _shared(ready.get("reason")),
        "ready_since": epoch(ready.get("lastTransitionTime")),
        "deleting": bool(meta.get("deletionTimestamp")),
        "created": epoch(meta.get("creationTimestamp")),
    }
    if kind == CONNECTION:
        return Resource(**common, database=str(spec.get("dbName") or ""))
    if kind == SNAPSHOT:
        ref = spec.get("connectionRef") or {}
        is_ready = common["phase"] == "Ready" and common["ready"] == "True"
        failed = common["phase"] == "Failed"
        error = status.get("error") or {}
        return Resource(
            **common,
            connection=_shared(ref.get("name")),
            database=_shared(status.get("dbName") or spec.get("dbName")),
            collection=_shared(status.get("collectionName") or spec.get("collectionName")),
            schedule=_shared((meta.get("labels") or {}).get(SCHEDULE_LABEL)),
            success_time=(epoch(status.get("creationTime")) or common["ready_since"]) if is_ready else None,
            failure_time=(epoch(error.get("time")) or common["ready_since"]) if failed else None,
        )
    if kind == SCHEDULE:
        template = spec.get("template") or {}
        return Resource(
            **common,
            connection=str((template.get("connectionRef") or {}).get("name") or ""),
            database=str(template.get("dbName") or ""),
            collection=str(template.get("collectionName") or ""),
            success_time=epoch(status.get("lastSuccessfulTime")),
            failure_time=epoch(status.get("lastFailedTime")),
            suspended=bool(spec.get("suspend")),
            cron=str(spec.get("schedule") or ""),
            time_zone=str(spec.get("timeZone") or "UTC"),
            next_run=epoch(status.get("nextScheduleTime")),
        )
    return Resource(**common)


@dataclasses.dataclass(frozen=True)
class _Databases:
    """Each connection's database, read once per scrape: a snapshot's or schedule's own dbName, else its
    connection's, else Milvus's default."""

    by_connection: dict[tuple[str, str], str]

    def of(self, r: Resource) -> str:
        return r.database or self.by_connection.get((r.namespace, r.connection)) or DEFAULT_DB


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)


class StateCollector(Collector):
    """Yields the state gauges from `source()` (set by the handlers once Kopf's indexes exist)."""

    def __init__(
        self,
        source: Callable[[], Iterable[Resource]] | None = None,
        events: EventMetrics | None = None,
        clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
    ) -> None:
        self.source = source
        self.events = events
        self.clock = clock
        versions = {"version": "milvus-snapshot-operator", "kopf_version": "kopf", "pymilvus_version": "pymilvus"}
        self.build = {label: _version(dist) for label, dist in versions.items()}
        self.build["python_version"] = ".".join(map(str, sys.version_info[:3]))

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []  # computed at scrape time; nothing to check against other collectors

    def collect(self) -> Iterator[GaugeMetricFamily]:
        build = _gauge(
            "operator_build_info", "Versions of the operator and its main libraries (always 1).", list(self.build)
        )
        build.add_metric(list(self.build.values()), 1)
        yield build
        if self.source is None:
            return
        resources = list(self.source())
        databases = _Databases({(r.namespace, r.name): r.database for r in resources if r.kind == CONNECTION})
        yield from self._counts(resources)
        yield from self._collections(resources, databases)
        yield from self._schedules(resources, databases)
        yield from self._connections(resources)

    def _counts(self, resources: list[Resource]) -> Iterator[GaugeMetricFamily]:
        phases = Counter((r.kind, r.namespace, r.phase) for r in resources)
        family = _gauge(
            "resources",
            "Resources by kind, namespace and status.phase (empty for kinds without one).",
            ["kind", "namespace", "phase"],
        )
        for phase_key, count in sorted(phases.items()):
            family.add_metric(list(phase_key), count)
        yield family
        ready = Counter((r.kind, r.namespace, r.ready or "Unknown", r.reason) for r in resources)
        family = _gauge(
            "ready_conditions",
            "Resources by the status and reason of their Ready condition.",
            ["kind", "namespace", "status", "reason"],
        )
        for ready_key, count in sorted(ready.items()):
            family.add_metric(list(ready_key), count)
        yield family
        deleting = Counter((r.kind, r.namespace) for r in resources if r.deleting)
        family = _gauge(
            "resources_deleting", "Resources pending deletion (finalizer not yet released).", ["kind", "namespace"]
        )
        for deleting_key, count in sorted(deleting.items()):
            family.add_metric(list(deleting_key), count)
        yield family

    def _collections(self, resources: list[Resource], databases: _Databases) -> Iterator[GaugeMetricFamily]:
        labels = ["namespace", "connection", "database", "collection"]
        success = _gauge(
            "collection_last_success_timestamp_seconds",
            "Creation time of the newest Ready MilvusSnapshot of each collection (Unix seconds).",
            labels,
        )
        failure = _gauge(
            "collection_last_failure_timestamp_seconds",
            "When the newest Failed MilvusSnapshot of each collection failed (Unix seconds).",
            labels,
        )
        missing = _gauge(
            "collection_snapshots_missing",
            "MilvusSnapshots of each collection whose Milvus snapshot disappeared (Ready=False SnapshotMissing).",
            labels,
        )
        newest_ok: dict[tuple[str, str, str, str], float] = {}
        newest_bad: dict[tuple[str, str, str, str], float] = {}
        gone: Counter[tuple[str, str, str, str]] = Counter()
        for r in resources:
            if r.kind != SNAPSHOT or not r.collection:
                continue
            key = (r.namespace, r.connection, databases.of(r), r.collection)
            if r.success_time is not None and not r.deleting:
                newest_ok[key] = max(newest_ok.get(key, 0.0), r.success_time)
            if r.failure_time is not None and not r.deleting:
                newest_bad[key] = max(newest_bad.get(key, 0.0), r.failure_time)
            if r.reason == SNAPSHOT_MISSING and r.ready != "True":
                gone[key] += 1
        for coll in sorted(newest_ok.keys() | newest_bad.keys() | gone.keys()):
            if coll in newest_ok:
                success.add_metric(list(coll), newest_ok[coll])
            if coll in newest_bad:
                failure.add_metric(list(coll), newest_bad[coll])
            missing.add_metric(list(coll), gone.get(coll, 0))
        yield from (success, failure, missing)

    def _schedules(self, resources: list[Resource], databases: _Databases) -> Iterator[GaugeMetricFamily]:
        schedules = sorted((r for r in resources if r.kind == SCHEDULE), key=lambda r: (r.namespace, r.name))
        if self.events is not None:
            self.events.keep_schedules((r.namespace, r.name) for r in schedules)
        keys = ["namespace", "schedule"]
        info = _gauge(
            "schedule_info",
            "One per MilvusSnapshotSchedule (always 1): what it snapshots and when.",
            [*keys, "connection", "database", "collection", "cron", "time_zone"],
        )
        families = {
            "suspended": _gauge("schedule_suspended", "1 while spec.suspend is true.", keys),
            "created": _gauge("schedule_created_timestamp_seconds", "Creation time of the schedule.", keys),
            "success": _gauge(
                "schedule_last_success_timestamp_seconds",
                "status.lastSuccessfulTime: run time of the newest Ready snapshot; 0 = never.",
                keys,
            ),
            "failure": _gauge(
                "schedule_last_failure_timestamp_seconds",
                "status.lastFailedTime: run time of the newest Failed snapshot; 0 = never.",
                keys,
            ),
            "next": _gauge(
                "schedule_next_run_timestamp_seconds", "status.nextScheduleTime (absent while suspended).", keys
            ),
            "interval": _gauge(
                "schedule_interval_seconds", "Longest gap between the schedule's runs over the coming week.", keys
            ),
        }
        now = self.clock()
        for r in schedules:
            key = [r.namespace, r.name]
            info.add_metric([*key, r.connection, databases.of(r), r.collection, r.cron, r.time_zone], 1)
            families["suspended"].add_metric(key, int(r.suspended))
            if r.created is not None:
                families["created"].add_metric(key, r.created)
            families["success"].add_metric(key, r.success_time or 0.0)
            families["failure"].add_metric(key, r.failure_time or 0.0)
            if r.next_run is not None:
                families["next"].add_metric(key, r.next_run)
            interval = interval_seconds(r.cron, r.time_zone, now) if r.cron else None
            if interval is not None:
                families["interval"].add_metric(key, interval)
        yield info
        yield from families.values()

    def _connections(self, resources: list[Resource]) -> Iterator[GaugeMetricFamily]:
        keys = ["namespace", "connection"]
        ready = _gauge("connection_ready", "1 when the MilvusConnection's Ready condition is True, else 0.", keys)
        since = _gauge(
            "connection_ready_last_transition_timestamp_seconds",
            "lastTransitionTime of the connection's Ready condition (how long it has been Ready or not).",
            keys,
        )
        for r in sorted((r for r in resources if r.kind == CONNECTION), key=lambda r: (r.namespace, r.name)):
            if not r.ready:
                continue  # not probed yet
            ready.add_metric([r.namespace, r.name], int(r.ready == "True"))
            if r.ready_since is not None:
                since.add_metric([r.namespace, r.name], r.ready_since)
        yield from (ready, since)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"
