"""Metrics: outcomes from status transitions, scrape-time state gauges, cron intervals, the /metrics server."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

import aiohttp
import kopf
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from milvus_snapshot_operator.handlers import metrics as metrics_handlers
from milvus_snapshot_operator.metrics import EventMetrics
from milvus_snapshot_operator.metrics.interval import interval_seconds
from milvus_snapshot_operator.metrics.state import Resource, StateCollector, summarize
from milvus_snapshot_operator.milvus.gateway import ErrorKind, MilvusError

NOW = datetime.datetime(2026, 3, 3, 12, 0, tzinfo=datetime.UTC)  # a Tuesday
SCHED = {"snapshot.milvus.io/schedule": "nightly"}


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, parsed from the exposition text as Prometheus reads it."""
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return samples(registry).get((name, tuple(sorted(labels.items()))))


def ready(status: str, reason: str, since: str = "2026-03-03T10:00:00Z") -> dict[str, Any]:
    return {"type": "Ready", "status": status, "reason": reason, "lastTransitionTime": since}


# ---- outcomes --------------------------------------------------------------------------------------------------


def test_a_snapshot_lifecycle_counts_one_attempt_and_one_success_even_across_a_restart() -> None:
    reg = CollectorRegistry()
    events = EventMetrics(reg)
    steps = [
        {},
        {"phase": "Pending"},
        {"phase": "Creating"},
        {"phase": "Ready", "creationTime": "2026-03-03T11:00:00Z"},
    ]
    for old, new in itertools.pairwise(steps):
        events.observe_status_change("MilvusSnapshot", "ns", SCHED, old, new)
    # a restarted operator re-reads the stored status: writing the same phase again counts nothing
    events.observe_status_change("MilvusSnapshot", "ns", SCHED, steps[-1], {**steps[-1], "lastVerifiedTime": "x"})
    assert value(reg, "milvus_snapshot_snapshot_attempts_total", namespace="ns", schedule="nightly") == 1
    assert value(reg, "milvus_snapshot_snapshot_successes_total", namespace="ns", schedule="nightly") == 1
    assert not any(name == "milvus_snapshot_snapshot_failures_total" for name, _ in samples(reg))


def test_failures_count_by_reason_but_a_vanished_ready_snapshot_is_not_a_failed_attempt() -> None:
    reg = CollectorRegistry()
    events = EventMetrics(reg)
    failed = {"phase": "Failed", "error": {"reason": "CollectionNotFound", "message": "m", "time": "t"}}
    events.observe_status_change("MilvusSnapshot", "ns", {}, {}, failed)
    ready_ = {"phase": "Ready", "creationTime": "2026-03-03T11:00:00Z"}
    missing = {**ready_, "phase": "Failed", "conditions": [ready("False", "SnapshotMissing")]}
    events.observe_status_change("MilvusSnapshot", "ns", {}, ready_, missing)
    events.observe_status_change("MilvusSnapshot", "ns", {}, missing, ready_)  # found again: not a new success
    assert (
        value(reg, "milvus_snapshot_snapshot_failures_total", namespace="ns", schedule="", reason="CollectionNotFound")
        == 1
    )
    assert (
        value(reg, "milvus_snapshot_snapshot_failures_total", namespace="ns", schedule="", reason="SnapshotMissing")
        is None
    )
    assert value(reg, "milvus_snapshot_snapshot_successes_total", namespace="ns", schedule="") == 0  # pre-initialised
    assert value(reg, "milvus_snapshot_snapshot_attempts_total", namespace="ns", schedule="") == 1


def test_restores_count_outcomes_and_observe_the_job_duration_from_status_times() -> None:
    reg = CollectorRegistry()
    events = EventMetrics(reg)
    running = {"phase": "Restoring", "startTime": "2026-03-03T10:00:00Z"}
    events.observe_status_change("MilvusRestore", "ns", {}, {}, {"phase": "Pending"})
    events.observe_status_change("MilvusRestore", "ns", {}, {"phase": "Pending"}, running)
    done = {**running, "phase": "Completed", "completionTime": "2026-03-03T11:30:00Z"}
    events.observe_status_change("MilvusRestore", "ns", {}, running, done)
    events.observe_status_change("MilvusRestore", "ns", {}, done, done)
    failed = {"phase": "Failed", "conditions": [ready("False", "RestoreFailed")]}
    events.observe_status_change("MilvusRestore", "ns", {}, {}, failed)  # failed before any job: no duration
    assert value(reg, "milvus_snapshot_restore_attempts_total", namespace="ns") == 2
    assert value(reg, "milvus_snapshot_restore_successes_total", namespace="ns") == 1
    assert value(reg, "milvus_snapshot_restore_failures_total", namespace="ns", reason="RestoreFailed") == 1
    labels = {"namespace": "ns", "result": "succeeded"}
    assert value(reg, "milvus_snapshot_restore_duration_seconds_sum", **labels) == 5400
    assert value(reg, "milvus_snapshot_restore_duration_seconds_bucket", **labels, le="3600.0") == 0
    assert value(reg, "milvus_snapshot_restore_duration_seconds_bucket", **labels, le="7200.0") == 1
    assert value(reg, "milvus_snapshot_restore_duration_seconds_count", namespace="ns", result="failed") is None


def test_rpc_outcomes_are_ok_or_the_error_kind() -> None:
    reg = CollectorRegistry()
    events = EventMetrics(reg)
    with events.rpc("describe_snapshot"):
        pass
    with pytest.raises(MilvusError), events.rpc("describe_snapshot"):
        raise MilvusError(ErrorKind.NOT_FOUND, "no such snapshot")
    with pytest.raises(RuntimeError), events.rpc("flush"):
        raise RuntimeError("unclassified")
    count = "milvus_snapshot_milvus_rpc_duration_seconds_count"
    assert value(reg, count, method="describe_snapshot", outcome="ok") == 1
    assert value(reg, count, method="describe_snapshot", outcome="NotFound") == 1
    assert value(reg, count, method="flush", outcome="error") == 1


# ---- scrape-time state -----------------------------------------------------------------------------------------


def snapshot(name: str, collection: str, status: dict[str, Any], labels: dict[str, str] | None = None) -> Resource:
    meta = {"labels": labels or {}, "creationTimestamp": "2026-03-01T00:00:00Z"}
    spec = {"connectionRef": {"name": "milvus"}, "collectionName": collection}
    return summarize("MilvusSnapshot", "ns", name, meta, spec, status)


def schedule(name: str, status: dict[str, Any], **spec: Any) -> Resource:
    body = {"schedule": "0 2 * * 1-5", "template": {"connectionRef": {"name": "milvus"}, "collectionName": "books"}}
    return summarize("MilvusSnapshotSchedule", "ns", name, {"creationTimestamp": "2026-03-01T00:00:00Z"},
                     {**body, **spec}, status)  # fmt: skip


def state(resources: list[Resource], events: EventMetrics | None = None) -> CollectorRegistry:
    reg = CollectorRegistry()
    reg.register(StateCollector(lambda: resources, events, clock=lambda: NOW))
    return reg


def test_collections_show_the_newest_ready_snapshot_the_newest_failure_and_missing_ones() -> None:
    conn = summarize(
        "MilvusConnection", "ns", "milvus", {}, {"dbName": "prod"}, {"conditions": [ready("True", "Connected")]}
    )
    resources = [
        conn,
        snapshot("a", "books", {"phase": "Ready", "creationTime": "2026-03-03T01:00:00Z", "conditions": [ready("True", "SnapshotReady")]}),
        snapshot("b", "books", {"phase": "Ready", "creationTime": "2026-03-03T02:00:00Z", "conditions": [ready("True", "SnapshotReady")]}),
        snapshot("c", "books", {"phase": "Failed", "error": {"reason": "X", "message": "m", "time": "2026-03-03T03:00:00Z"}, "conditions": [ready("False", "X")]}),
        snapshot("d", "books", {"phase": "Ready", "creationTime": "2026-03-03T04:00:00Z", "conditions": [ready("False", "SnapshotMissing")]}),
        snapshot("e", "books", {"phase": "Creating", "conditions": [ready("Unknown", "Progressing")]}),
    ]  # fmt: skip
    reg = state(resources)
    labels = {"namespace": "ns", "connection": "milvus", "database": "prod", "collection": "books"}
    ok = datetime.datetime(2026, 3, 3, 2, tzinfo=datetime.UTC).timestamp()
    bad = datetime.datetime(2026, 3, 3, 3, tzinfo=datetime.UTC).timestamp()
    assert value(reg, "milvus_snapshot_collection_last_success_timestamp_seconds", **labels) == ok
    assert value(reg, "milvus_snapshot_collection_last_failure_timestamp_seconds", **labels) == bad
    assert value(reg, "milvus_snapshot_collection_snapshots_missing", **labels) == 1
    assert value(reg, "milvus_snapshot_resources", kind="MilvusSnapshot", namespace="ns", phase="Ready") == 3
    ready_ = {"kind": "MilvusSnapshot", "namespace": "ns", "status": "False", "reason": "SnapshotMissing"}
    assert value(reg, "milvus_snapshot_ready_conditions", **ready_) == 1
    assert value(reg, "milvus_snapshot_connection_ready", namespace="ns", connection="milvus") == 1
    # gone from the index, gone from the scrape
    assert value(state(resources[:1]), "milvus_snapshot_collection_last_success_timestamp_seconds", **labels) is None


def test_schedules_export_zero_for_never_their_interval_and_suspension() -> None:
    never = schedule("never", {"nextScheduleTime": "2026-03-04T02:00:00Z"})
    paused = schedule("paused", {"lastSuccessfulTime": "2026-03-02T02:00:00Z"}, suspend=True, schedule="@hourly")
    reg = state([never, paused])
    key = {"namespace": "ns", "schedule": "never"}
    assert value(reg, "milvus_snapshot_schedule_last_success_timestamp_seconds", **key) == 0
    assert value(reg, "milvus_snapshot_schedule_last_failure_timestamp_seconds", **key) == 0
    assert value(reg, "milvus_snapshot_schedule_suspended", **key) == 0
    assert value(reg, "milvus_snapshot_schedule_interval_seconds", **key) == 3 * 86400  # Friday -> Monday
    assert (
        value(reg, "milvus_snapshot_schedule_next_run_timestamp_seconds", **key)
        == datetime.datetime(2026, 3, 4, 2, tzinfo=datetime.UTC).timestamp()
    )
    created = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC).timestamp()
    assert value(reg, "milvus_snapshot_schedule_created_timestamp_seconds", **key) == created
    paused_key = {"namespace": "ns", "schedule": "paused"}
    assert value(reg, "milvus_snapshot_schedule_suspended", **paused_key) == 1
    assert value(reg, "milvus_snapshot_schedule_interval_seconds", **paused_key) == 3600
    assert value(reg, "milvus_snapshot_schedule_next_run_timestamp_seconds", **paused_key) is None
    info = {**key, "connection": "milvus", "database": "default", "collection": "books", "cron": "0 2 * * 1-5",
            "time_zone": "UTC"}  # fmt: skip
    assert value(reg, "milvus_snapshot_schedule_info", **info) == 1


def test_counters_of_schedules_are_pre_initialised_and_dropped_with_the_schedule() -> None:
    reg = CollectorRegistry()
    collector = StateCollector(lambda: live, clock=lambda: NOW)
    reg.register(collector)  # before the counters, as in the operator's registry
    collector.events = events = EventMetrics(reg)
    live = [schedule("nightly", {})]
    assert value(reg, "milvus_snapshot_snapshot_attempts_total", namespace="ns", schedule="nightly") == 0
    events.observe_status_change("MilvusSnapshot", "ns", SCHED, {}, {"phase": "Failed", "error": {"reason": "X"}})
    assert value(reg, "milvus_snapshot_snapshot_failures_total", namespace="ns", schedule="nightly", reason="X") == 1
    live = []
    remaining = [key for key in samples(reg) if ("schedule", "nightly") in key[1]]
    assert remaining == []


@pytest.mark.parametrize(
    ("expression", "zone", "seconds"),
    [
        ("@hourly", "UTC", 3600),
        ("*/15 * * * *", "UTC", 900),
        ("0 2 * * 1-5", "UTC", 3 * 86400),
        ("0 9-17 * * 1-5", "Europe/Berlin", 64 * 3600),  # Friday 17:00 -> Monday 09:00
        ("0 0 1 * *", "UTC", 30 * 86400),  # April 1 -> May 1: the two next runs
        ("0 2 * * *", "Europe/Berlin", 86400),
        ("not a cron", "UTC", None),
    ],
)
def test_interval_is_the_longest_gap_of_the_coming_week(expression: str, zone: str, seconds: float | None) -> None:
    assert interval_seconds(expression, zone, NOW) == seconds


# ---- serving ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [(":9090", ("0.0.0.0", 9090)), ("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:9", ("::1", 9)), ("0", None)],
)
def test_bind_address(text: str, parsed: tuple[str, int] | None) -> None:
    assert metrics_handlers.parse_bind_address(text) == parsed


@pytest.mark.parametrize("text", ["9090", "host:", ":http", ":70000"])
def test_bad_bind_address(text: str) -> None:
    with pytest.raises(ValueError, match="--metrics-bind-address"):
        metrics_handlers.parse_bind_address(text)


async def test_metrics_are_served_from_the_indexes_on_the_event_loop() -> None:
    conn = summarize("MilvusConnection", "ns", "milvus", {}, {}, {"conditions": [ready("False", "Unreachable")]})
    indexes: dict[str, Any] = {name: {} for name in metrics_handlers.INDEXES}
    indexes["metrics_connections"] = {"ns": [conn]}
    memo = kopf.Memo(metrics_bind_address="127.0.0.1:0")
    await metrics_handlers.serve_metrics(memo=memo, **indexes)
    try:
        host, port = memo.metrics_runner.addresses[0][:2]
        async with aiohttp.ClientSession() as session, session.get(f"http://{host}:{port}/metrics") as response:
            text = await response.text()
        assert response.status == 200
        assert 'milvus_snapshot_connection_ready{connection="milvus",namespace="ns"} 0.0' in text
        assert "milvus_snapshot_operator_build_info{" in text and "process_resident_memory_bytes" in text
    finally:
        await metrics_handlers.stop_metrics(memo=memo)
    assert memo.metrics_runner.addresses == []


async def test_nothing_is_served_without_a_bind_address() -> None:
    memo = kopf.Memo()
    await metrics_handlers.serve_metrics(memo=memo)
    assert not hasattr(memo, "metrics_runner")


# ---- the wiring in handlers/engine.py (where every status write and every daemon step passes) -------------------


def test_engine_apply_counts_outcomes_of_the_status_it_writes() -> None:
    from milvus_snapshot_operator import metrics
    from milvus_snapshot_operator.api.snapshot import MilvusSnapshotStatus
    from milvus_snapshot_operator.handlers import engine
    from milvus_snapshot_operator.reconcile.outcome import Outcome

    labels = {"namespace": "wired", "schedule": "nightly"}
    before = value(metrics.REGISTRY, "milvus_snapshot_snapshot_successes_total", **labels) or 0
    body = {
        "kind": "MilvusSnapshot",
        "metadata": {"namespace": "wired", "labels": SCHED},
        "status": {"phase": "Creating"},
    }
    ready = MilvusSnapshotStatus(phase="Ready", creation_time="2026-03-03T11:00:00Z")
    patch: dict[str, Any] = {}
    assert engine.apply(Outcome(ready, None, []), body, patch)
    assert value(metrics.REGISTRY, "milvus_snapshot_snapshot_successes_total", **labels) == before + 1
    engine.apply(Outcome(ready, None, []), {**body, "status": patch["status"]}, {})  # no change: nothing counted
    assert value(metrics.REGISTRY, "milvus_snapshot_snapshot_successes_total", **labels) == before + 1


async def test_daemon_step_counts_unexpected_errors_but_not_requeues() -> None:
    from kopf._cogs.aiokits.aioenums import AsyncFlagWaiter, FlagSetter

    from milvus_snapshot_operator import metrics
    from milvus_snapshot_operator.handlers import engine

    errors = "milvus_snapshot_operator_reconcile_errors_total"
    before = value(metrics.REGISTRY, errors, kind="MilvusRestore") or 0

    @engine.daemon_step
    async def broken(**_: Any) -> None:
        raise RuntimeError("a bug")

    @engine.daemon_step
    async def requeued(**_: Any) -> None:
        raise engine.Requeue(1)

    def kwargs() -> dict[str, Any]:
        return {"memo": kopf.Memo(), "stopped": AsyncFlagWaiter(FlagSetter()), "body": {"kind": "MilvusRestore"}}

    with pytest.raises(RuntimeError):
        await broken(**kwargs())
    with pytest.raises(engine.Requeue):
        await requeued(**kwargs())
    assert value(metrics.REGISTRY, errors, kind="MilvusRestore") == before + 1
