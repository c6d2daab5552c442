"""Operator-wide Kopf settings and shared state (client pool, job cache, wake-up bus)."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import kopf

from ..api import GROUP
from ..config import OperatorConfig
from ..milvus.logs import quiet_pymilvus
from .engine import QuietRequeues
from .runtime import Runtime


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.reporting_component = "milvus-snapshot-operator"
    settings.posting.reporting_instance = os.environ.get("POD_NAME", socket.gethostname())
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    quiet_pymilvus()
    for name in ("kopf", "kopf.objects"):
        logging.getLogger(name).addFilter(QuietRequeues())
    memo.runtime = Runtime.create(OperatorConfig.from_env())


@kopf.on.cleanup()
async def close_clients(memo: Any, **_: Any) -> None:
    runtime: Runtime | None = getattr(memo, "runtime", None)
    if runtime is not None:
        await runtime.pool.close_all()
