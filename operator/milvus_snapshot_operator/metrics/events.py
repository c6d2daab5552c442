"""Counters and histograms of what this process saw happen: snapshot and restore outcomes, Milvus RPCs, errors.

Outcomes are derived from phase transitions of the status the operator writes (old -> new), so a restart,
which re-reads the stored status, never counts the same outcome twice. Labels are bounded: namespace,
schedule (a user-created object; "" for snapshots made by hand), reasons and RPC outcomes from fixed
vocabularies, pymilvus method names. Never a snapshot, restore or job name.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram

from ..api import SCHEDULE_LABEL, wire
from ..api.common import READY
from ..api.restore import KIND as RESTORE
from ..api.restore import RestorePhase
from ..api.snapshot import KIND as SNAPSHOT
from ..api.snapshot import SnapshotPhase
from ..api.wire import WireView
from .timestamps import epoch

PREFIX = "milvus_snapshot"
# Restores run for seconds (small collections) to hours (large ones).
RESTORE_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400)
RPC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Phases that end a snapshot's or restore's work; unknown new phases count as "still working".
SNAPSHOT_READY, SNAPSHOT_FAILED = SnapshotPhase.READY, SnapshotPhase.FAILED
RESTORE_DONE, RESTORE_FAILED = RestorePhase.COMPLETED, RestorePhase.FAILED


class EventMetrics:
    """The event metric families, registered in `registry` (inject a fresh one per test)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
            return Counter(f"{PREFIX}_{name}", doc, labels, registry=registry)

        ns_sched = ("namespace", "schedule")
        self.snapshot_attempts = counter(
            "snapshot_attempts", "MilvusSnapshots this operator started working on.", ns_sched
        )
        self.snapshot_successes = counter("snapshot_successes", "MilvusSnapshots that became Ready.", ns_sched)
        self.snapshot_failures = counter(
            "snapshot_failures", "MilvusSnapshots that failed, by the reason in their status.", (*ns_sched, "reason")
        )
        self.restore_attempts = counter("restore_attempts", "MilvusRestores this operator started.", ("namespace",))
        self.restore_successes = counter("restore_successes", "MilvusRestores that Completed.", ("namespace",))
        self.restore_failures = counter(
            "restore_failures", "MilvusRestores that failed, by the reason in their status.", ("namespace", "reason")
        )
        self.restore_duration = Histogram(
            f"{PREFIX}_restore_duration_seconds",
            "Duration of finished restore jobs (status.startTime to completionTime).",
            ("namespace", "result"),
            buckets=RESTORE_BUCKETS,
            registry=registry,
        )
        self.rpc_duration = Histogram(
            f"{PREFIX}_milvus_rpc_duration_seconds",
            "Milvus RPCs made by the operator, by pymilvus method and outcome (ok or the error kind).",
            ("method", "outcome"),
            buckets=RPC_BUCKETS,
            registry=registry,
        )
        self.reconcile_errors = counter(
            "operator_reconcile_errors", "Unexpected exceptions in reconcile steps, by kind.", ("kind",)
        )
        self._schedules: set[tuple[str, str]] = set()
        self._failure_reasons: dict[tuple[str, str], set[str]] = {}
        self._namespaces: set[str] = set()

    # ---- outcomes from status transitions -------------------------------------------------------------------

    def observe_status_change(
        self, kind: str, namespace: str, labels: Mapping[str, str], old: WireView, new: WireView
    ) -> None:
        """Count what a status write means. Cheap when the phase did not change (most writes)."""
        before, after = old.get("phase"), new.get("phase")
        if before == after:
            return
        if kind == SNAPSHOT:
            schedule = str(labels.get(SCHEDULE_LABEL, ""))
            self.init_schedule(namespace, schedule)
            if before is None:
                self.snapshot_attempts.labels(namespace, schedule).inc()
            # A snapshot that was Ready once (e.g. SnapshotMissing, then back) is not a new success or failure.
            if after == SNAPSHOT_READY and not old.get("creationTime"):
                self.snapshot_successes.labels(namespace, schedule).inc()
            elif after == SNAPSHOT_FAILED and before != SNAPSHOT_READY:
                reason = _reason(new)
                self._failure_reasons.setdefault((namespace, schedule), set()).add(reason)
                self.snapshot_failures.labels(namespace, schedule, reason).inc()
        elif kind == RESTORE:
            self.init_namespace(namespace)
            if before is None:
                self.restore_attempts.labels(namespace).inc()
            if after in (RESTORE_DONE, RESTORE_FAILED) and before not in (RESTORE_DONE, RESTORE_FAILED):
                if after == RESTORE_DONE:
                    self.restore_successes.labels(namespace).inc()
                else:
                    self.restore_failures.labels(namespace, _reason(new)).inc()
                start, end = epoch(new.get("startTime")), epoch(new.get("completionTime"))
                if start is not None and end is not None and end >= start:
                    result = "succeeded" if after == RESTORE_DONE else "failed"
                    self.restore_duration.labels(namespace, result).observe(end - start)

    # ---- pre-initialised series (Prometheus "avoid missing metrics") ----------------------------------------

    def init_schedule(self, namespace: str, schedule: str) -> None:
        """Attempts and successes at 0, so that increase() sees a schedule's first run."""
        if (namespace, schedule) not in self._schedules:
            self._schedules.add((namespace, schedule))
            self.snapshot_attempts.labels(namespace, schedule)
            self.snapshot_successes.labels(namespace, schedule)

    def init_namespace(self, namespace: str) -> None:
        if namespace not in self._namespaces:
            self._namespaces.add(namespace)
            self.restore_attempts.labels(namespace)
            self.restore_successes.labels(namespace)

    def keep_schedules(self, live: Iterable[tuple[str, str]]) -> None:
        """Drop the series of schedules that no longer exist (Velero #1333 kept them until a restart)."""
        keep = set(live)
        for namespace, schedule in [s for s in self._schedules if s[1] and s not in keep]:
            self._schedules.discard((namespace, schedule))
            for family in (self.snapshot_attempts, self.snapshot_successes):
                with contextlib.suppress(KeyError):
                    family.remove(namespace, schedule)
            for reason in self._failure_reasons.pop((namespace, schedule), set()):
                with contextlib.suppress(KeyError):
                    self.snapshot_failures.remove(namespace, schedule, reason)
        for namespace, schedule in keep:
            self.init_schedule(namespace, schedule)

    # ---- RPCs and errors --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def rpc(self, method: str) -> Iterator[None]:
        """Time one Milvus call; the outcome is "ok" or the `kind` of the (classified) error it raised."""
        start = time.perf_counter()
        outcome = "ok"
        try:
            yield
        except BaseException as exc:
            kind = getattr(exc, "kind", None)
            outcome = (
                str(kind) if kind is not None else "cancelled" if isinstance(exc, asyncio.CancelledError) else "error"
            )
            raise
        finally:
            self.rpc_duration.labels(method, outcome).observe(time.perf_counter() - start)

    def reconcile_error(self, kind: str) -> None:
        self.reconcile_errors.labels(kind).inc()


def _reason(status: WireView) -> str:
    """The failure's reason: status.error.reason, else the Ready condition's reason."""
    error = status.get("error") or {}
    if error.get("reason"):
        return str(error["reason"])
    return str(wire.condition(status, READY).get("reason") or "Unknown")
