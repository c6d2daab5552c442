"""Operator-wide Kopf settings and shared state (client pool, job cache, wake-up bus)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import Any

import kopf

from ..api import GROUP
from ..config import OperatorConfig
from ..memory import trim
from ..milvus.logs import quiet_pymilvus
from .engine import QuietRequeues
from .runtime import Runtime


class NoDiffBase(kopf.DiffBaseStorage):
    """Keep no last-handled configuration: nothing here reacts to spec diffs.

    Kopf stores the diff base only for on.create/on.update handlers; ours are daemons and on.delete, which
    Kopf selects by deletionTimestamp, not by diff. Storing it cost one PATCH per new object (a fifth of the
    API writes of a snapshot's lifecycle) plus a deep copy of every body on every event.
    """

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.posting.reporting_component = "milvus-snapshot-operator"
    settings.posting.reporting_instance = os.environ.get("POD_NAME", socket.gethostname())
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    quiet_pymilvus()
    for name in ("kopf", "kopf.objects"):
        logging.getLogger(name).addFilter(QuietRequeues())
    memo.runtime = Runtime.create(OperatorConfig.from_env())
    memo.heap_trimmer = asyncio.create_task(trim_heap_every(HEAP_TRIM_SECONDS))


HEAP_TRIM_SECONDS = 30.0


async def trim_heap_every(seconds: float) -> None:
    """After a burst (hundreds of resources created at once) glibc keeps the freed heap mapped; a
    malloc_trim every half minute gives it back (milliseconds of work)."""
    while True:
        await asyncio.sleep(seconds)
        trim()


@kopf.on.cleanup()
async def close_clients(memo: Any, **_: Any) -> None:
    trimmer: asyncio.Task[None] | None = getattr(memo, "heap_trimmer", None)
    if trimmer is not None:
        trimmer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await trimmer
    runtime: Runtime | None = getattr(memo, "runtime", None)
    if runtime is not None:
        await runtime.pool.close_all()
