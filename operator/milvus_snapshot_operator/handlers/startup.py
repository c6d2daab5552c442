"""Operator-wide Kopf settings and shared state (client pool, job cache, wake-up bus, Secret watches)."""

from __future__ import annotations

import asyncio
import gc
import os
import socket

import kopf

from ..api import FINALIZER, GROUP
from ..config import OperatorConfig
from ..memory import trim
from ..milvus.logs import quiet_pymilvus
from .common import stop_task
from .kopf_quirks import NoDiffBase, quiet_kopf, release_bodies_of_finished_daemons, wait_for_indexes_without_a_herd
from .runtime import Runtime
from .state import runtime_of

HEAP_TRIM_SECONDS = 30.0
# Young-generation collections since the last full one that mean "a burst": each is ~10,000 net allocations
# (memory.settle_gc's threshold), so 10 are a few hundred resources' worth of work.
BURST_YOUNG_COLLECTIONS = 10


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: object) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.posting.reporting_component = "milvus-snapshot-operator"
    settings.posting.reporting_instance = os.environ.get("POD_NAME", socket.gethostname())
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    quiet_pymilvus()
    quiet_kopf()
    wait_for_indexes_without_a_herd()  # thousands of objects at startup (Benchmarks f)
    release_bodies_of_finished_daemons()  # a settled snapshot keeps neither a task nor its body in Kopf
    config = memo.get("config")
    assert isinstance(config, OperatorConfig), "main() reads and checks the MSO_* settings before Kopf starts"
    memo["runtime"] = Runtime.create(config)
    memo["heap_trimmer"] = asyncio.create_task(trim_heap_every(HEAP_TRIM_SECONDS))


async def trim_heap_every(seconds: float) -> None:
    """After a burst (hundreds of resources created at once) glibc keeps the freed heap mapped; a
    malloc_trim every half minute gives it back (milliseconds of work). After a burst, a full collection first:
    it leaves cyclic garbage (finished daemons' tasks, frames, exceptions) that the oldest generation would
    collect only much later, and that pins whole pymalloc arenas meanwhile. Not when idle: a full collection
    over 10,000 objects' state every half minute was most of an idle operator's CPU (1 % of a core)."""
    young_collections = _young_collections()
    while True:
        await asyncio.sleep(seconds)
        if _young_collections() - young_collections >= BURST_YOUNG_COLLECTIONS:
            gc.collect()
            young_collections = _young_collections()
        trim()


def _young_collections() -> int:
    return int(gc.get_stats()[0]["collections"])


@kopf.on.cleanup()
async def close_clients(memo: kopf.Memo, **_: object) -> None:
    await stop_task(memo, "heap_trimmer")
    if "runtime" in memo:
        runtime = runtime_of(memo)
        await runtime.secrets.close()
        await runtime.pool.close_all()
