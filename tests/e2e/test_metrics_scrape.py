"""/metrics of the real operator process during an e2e run: the last-good-snapshot timestamps move when a
schedule runs, counters count the runs, Milvus RPCs are timed, and the series survive an operator restart."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from testbed.processes import MilvusServer, OperatorProcess

from .operator_fixtures import Kube, connection_manifest
from .test_schedules import SCHEDULE, run_once, schedule_manifest

pytestmark = pytest.mark.e2e


def scrape(operator: OperatorProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, parsed as Prometheus parses the exposition format."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(operator.scrape())
        for s in family.samples
    }


def sample(operator: OperatorProcess, name: str, **labels: str) -> float | None:
    return scrape(operator).get((name, tuple(sorted(labels.items()))))


def test_last_good_snapshot_timestamp_moves_when_a_schedule_runs(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    kube.apply(connection_manifest(milvus))
    kube.apply(schedule_manifest("nightly"))
    kube.wait(lambda: kube.condition(SCHEDULE, "nightly") == ("True", "Scheduled"), 30, "schedule Ready")
    ns = kube.namespace
    sched = {"namespace": ns, "schedule": "nightly"}
    collection = {"namespace": ns, "connection": "milvus", "database": "default", "collection": "books"}
    last = "milvus_snapshot_schedule_last_success_timestamp_seconds"
    kube.wait(lambda: sample(operator, last, **sched) == 0, 30, "a never-run schedule scraped as 0")
    assert sample(operator, "milvus_snapshot_snapshot_attempts_total", **sched) == 0  # pre-initialised
    assert sample(operator, "milvus_snapshot_schedule_suspended", **sched) == 0
    assert sample(operator, "milvus_snapshot_schedule_interval_seconds", **sched) in (365 * 86400, 366 * 86400)
    assert sample(operator, "milvus_snapshot_collection_last_success_timestamp_seconds", **collection) is None
    assert sample(operator, "milvus_snapshot_connection_ready", namespace=ns, connection="milvus") == 1

    timestamps = []
    for run in ("first", "second"):
        name = run_once(kube, "nightly", run)
        status = kube.status(SCHEDULE, "nightly")
        previous = timestamps[-1] if timestamps else 0.0
        kube.wait(lambda p=previous: (sample(operator, last, **sched) or 0) > p, 30, f"{last} moves after {name}")
        timestamps.append(sample(operator, last, **sched) or 0.0)
        assert status["lastSuccessfulTime"]
    assert timestamps[1] > timestamps[0] > 0
    assert (sample(operator, "milvus_snapshot_collection_last_success_timestamp_seconds", **collection) or 0) > 0
    assert sample(operator, "milvus_snapshot_snapshot_attempts_total", **sched) == 2
    assert sample(operator, "milvus_snapshot_snapshot_successes_total", **sched) == 2
    rpc = {"method": "create_snapshot", "outcome": "ok"}
    assert (sample(operator, "milvus_snapshot_milvus_rpc_duration_seconds_count", **rpc) or 0) >= 2
    snapshots = json.loads(kube.run("get", "milvussnapshots", "-o", "json").stdout)["items"]
    ready = {"kind": "MilvusSnapshot", "namespace": ns, "phase": "Ready"}
    assert sample(operator, "milvus_snapshot_resources", **ready) == len(snapshots) == 2
    # no series is labelled with a per-run object name
    names = {item["metadata"]["name"] for item in snapshots}
    assert not [key for key in scrape(operator) if names & {value for _, value in key[1]}]

    # state comes from status: a restarted operator reports the same timestamp at once (no run needed)
    operator.stop()
    operator.start()
    kube.wait(lambda: _scrapable(operator) and sample(operator, last, **sched) == timestamps[1], 60, "after restart")


def _scrapable(operator: OperatorProcess) -> bool:
    try:
        operator.scrape()
    except OSError:
        return False
    return True
