"""Serves /metrics on Kopf's own event loop, on its own port, and feeds the state gauges from Kopf indexes.

Kopf has no metrics server (nolar/kopf#990) and its liveness server serves one path only, hence a second
aiohttp server (aiohttp is Kopf's own dependency). Running on the event loop, a scrape reads the indexes
without any locking. The indexes hold a small summary per object (metrics/state.py `Resource`), refreshed
by every watch event, so a scrape costs no API call. `--metrics-bind-address` (main.py) sets the address;
"0" turns it off. Without that setting in the memo (handlers started by tests) nothing is served.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Mapping

import kopf
from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from .. import metrics
from ..api import GROUP, VERSION
from ..api.connection import KIND as CONNECTION
from ..api.connection import PLURAL as CONNECTIONS
from ..api.restore import KIND as RESTORE
from ..api.restore import PLURAL as RESTORES
from ..api.schedule import KIND as SCHEDULE
from ..api.schedule import PLURAL as SCHEDULES
from ..api.snapshot import KIND as SNAPSHOT
from ..api.snapshot import PLURAL as SNAPSHOTS
from ..metrics.state import Resource, summarize

DEFAULT_BIND_ADDRESS = ":9090"
DISABLED = "0"
INDEXES = ("metrics_connections", "metrics_snapshots", "metrics_restores", "metrics_schedules")
logger = logging.getLogger(__name__)


def _summary(  # the index functions are async: Kopf runs sync ones in its thread pool, one hop per watch event
    kind: str, namespace: str | None, name: str, meta: kopf.Meta, spec: kopf.Spec, status: kopf.Status
) -> dict[str, Resource]:
    return {str(namespace): summarize(kind, str(namespace), name, meta, spec, status)}


@kopf.index(GROUP, VERSION, CONNECTIONS)
async def metrics_connections(
    namespace: str | None, name: str, meta: kopf.Meta, spec: kopf.Spec, status: kopf.Status, **_: object
) -> dict[str, Resource]:
    return _summary(CONNECTION, namespace, name, meta, spec, status)


@kopf.index(GROUP, VERSION, SNAPSHOTS)
async def metrics_snapshots(
    namespace: str | None, name: str, meta: kopf.Meta, spec: kopf.Spec, status: kopf.Status, **_: object
) -> dict[str, Resource]:
    return _summary(SNAPSHOT, namespace, name, meta, spec, status)


@kopf.index(GROUP, VERSION, RESTORES)
async def metrics_restores(
    namespace: str | None, name: str, meta: kopf.Meta, spec: kopf.Spec, status: kopf.Status, **_: object
) -> dict[str, Resource]:
    return _summary(RESTORE, namespace, name, meta, spec, status)


@kopf.index(GROUP, VERSION, SCHEDULES)
async def metrics_schedules(
    namespace: str | None, name: str, meta: kopf.Meta, spec: kopf.Spec, status: kopf.Status, **_: object
) -> dict[str, Resource]:
    return _summary(SCHEDULE, namespace, name, meta, spec, status)


def parse_bind_address(value: str) -> tuple[str, int] | None:
    """controller-runtime's convention: "HOST:PORT" or ":PORT" (all interfaces); "0" disables."""
    if value.strip() == DISABLED:
        return None
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--metrics-bind-address: expected HOST:PORT, :PORT or 0, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # all interfaces: a pod port (the chart can restrict it)


@kopf.on.startup()
async def serve_metrics(memo: kopf.Memo, **kwargs: object) -> None:
    address = parse_bind_address(str(memo.get("metrics_bind_address", DISABLED)))
    if address is None:
        return
    # Kopf passes every index to every handler, by name; an activity's signature cannot name them (its
    # protocol, ActivityFn, has no such parameters), hence the lookup.
    indexes: list[Mapping[str, Iterable[Resource]]] = []  # a kopf.Index is this Mapping of stores
    for name in INDEXES:
        index = kwargs[name]
        assert isinstance(index, Mapping), f"Kopf passes the {name} index to every handler"
        indexes.append(index)

    def resources() -> Iterator[Resource]:
        return itertools.chain.from_iterable(store for index in indexes for store in index.values())

    metrics.STATE.source = resources
    app = web.Application()
    app.router.add_get("/metrics", make_aiohttp_handler(metrics.REGISTRY))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, *address)
    await site.start()  # a port in use fails the startup: a misconfiguration must be seen
    memo.metrics_runner = runner
    bound = ", ".join(f"http://{host}:{port}/metrics" for host, port, *_ in runner.addresses)
    logger.info("serving Prometheus metrics on %s", bound)


@kopf.on.cleanup()
async def stop_metrics(memo: kopf.Memo, **_: object) -> None:
    runner = memo.get("metrics_runner")
    if isinstance(runner, web.AppRunner):
        metrics.STATE.source = None
        await runner.cleanup()
