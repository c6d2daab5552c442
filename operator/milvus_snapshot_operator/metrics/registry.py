"""The process's registry: event metrics, state gauges (fed by the handlers) and process/Python metrics.

Its own CollectorRegistry, not prometheus_client's global one, so that importing this module twice (tests)
or a library registering its own metrics can never clash ("Duplicated timeseries").
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

from ..api.wire import WireView
from .events import EventMetrics
from .state import StateCollector

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series per counter child: half the series, nothing any rule reads

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # process_resident_memory_bytes, process_cpu_seconds_total, ...
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)
STATE = StateCollector()
REGISTRY.register(STATE)  # first: a scrape pre-initialises the counters of new schedules before they are read
EVENTS = EventMetrics(REGISTRY)
STATE.events = EVENTS


def observe_status_change(
    kind: str | None,
    namespace: str | None,
    labels: Mapping[str, str],
    old: WireView,
    new: WireView,
) -> None:
    """Called wherever a status is written: counts snapshot and restore outcomes from phase transitions."""
    EVENTS.observe_status_change(str(kind), str(namespace or ""), labels, old, new)


def rpc(method: str) -> contextlib.AbstractContextManager[None]:
    """`with metrics.rpc("describe_snapshot"): ...` around one Milvus call."""
    return EVENTS.rpc(method)


def reconcile_error(kind: str) -> None:
    """An unexpected exception escaped a reconcile step of a `kind` resource."""
    EVENTS.reconcile_error(kind)
