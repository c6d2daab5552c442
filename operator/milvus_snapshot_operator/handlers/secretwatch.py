"""Watches of exactly the Secrets MilvusConnections reference, one field-selected watch each.

A watch of all Secrets (what Kopf would do) streams every Secret the operator may read, cluster-wide by
default, into the process: thousands of unrelated 8 KB Secrets cost memory and CPU and tell nothing. Here each
referenced Secret gets its own `fieldSelector=metadata.name=<name>` watch, started when some connection
references it and stopped when none does; a change drops the cached value and wakes whoever waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Callable, Iterable

import aiohttp
import kubernetes

logger = logging.getLogger(__name__)

SecretRef = tuple[str, str]  # (namespace, name)
WATCH_TIMEOUT_SECONDS = 300
RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)


class SecretWatches:
    def __init__(self, config: kubernetes.client.Configuration, on_change: Callable[[str, str], None]) -> None:
        self._config = config
        self._on_change = on_change
        self._tasks: dict[SecretRef, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None

    @property
    def watched(self) -> frozenset[SecretRef]:
        return frozenset(self._tasks)

    def sync(self, wanted: Iterable[SecretRef]) -> tuple[set[SecretRef], set[SecretRef]]:
        """Watch exactly `wanted`; returns (started, stopped)."""
        wanted = set(wanted)
        started, stopped = wanted - set(self._tasks), set(self._tasks) - wanted
        for ref in stopped:
            self._tasks.pop(ref).cancel()
        for ref in started:
            self._tasks[ref] = asyncio.create_task(self._watch(*ref), name=f"secret-watch {ref[0]}/{ref[1]}")
        return started, stopped

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            config = self._config
            context: ssl.SSLContext | bool = False
            if config.verify_ssl:
                context = ssl.create_default_context(cafile=config.ssl_ca_cert)
                if config.cert_file:
                    context.load_cert_chain(config.cert_file, config.key_file)
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
        return self._session

    def _headers(self) -> dict[str, str]:
        token = self._config.get_api_key_with_prefix("authorization")  # re-reads a rotated SA token
        return {"Authorization": token} if token else {}

    async def _watch(self, namespace: str, name: str) -> None:
        url = f"{self._config.host}/api/v1/namespaces/{namespace}/secrets"
        selector = f"metadata.name={name}"
        version: str | None = None
        failures = 0
        missed = False  # events may have been lost (an outage, a 410): tell the waiters after re-listing
        while True:
            try:
                if version is None:
                    params = {"fieldSelector": selector}
                    async with self._client().get(url, params=params, headers=self._headers()) as response:
                        response.raise_for_status()
                        listed = await response.json()
                    version = str(listed["metadata"]["resourceVersion"])
                    if missed:
                        missed = False
                        self._on_change(namespace, name)
                params = {
                    "fieldSelector": selector,
                    "watch": "true",
                    "allowWatchBookmarks": "true",
                    "resourceVersion": version,
                    "timeoutSeconds": str(WATCH_TIMEOUT_SECONDS),
                }
                timeout = aiohttp.ClientTimeout(total=None, sock_read=WATCH_TIMEOUT_SECONDS + 30)
                async with self._client().get(url, params=params, headers=self._headers(), timeout=timeout) as response:
                    response.raise_for_status()
                    failures = 0
                    async for line in response.content:
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        obj = event.get("object") or {}
                        if event.get("type") == "ERROR":  # e.g. 410 Gone: our resourceVersion is too old
                            version, missed = None, True
                            break
                        version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                        if event.get("type") != "BOOKMARK":
                            self._on_change(namespace, name)
            except asyncio.CancelledError:
                raise
            except (TimeoutError, aiohttp.ClientError, ValueError, KeyError) as exc:
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                version, missed = None, True
                logger.debug("watch of Secret %s/%s interrupted (%s); again in %.0fs", namespace, name, exc, delay)
                await asyncio.sleep(delay)
