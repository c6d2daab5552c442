"""One pymilvus client per MilvusConnection, replaced when its endpoint or credentials change, closed when the
connection is deleted (its channel and token do not outlive it)."""

from __future__ import annotations

import asyncio

from .pymilvus_gateway import Endpoint, PymilvusGateway


class GatewayPool:
    def __init__(self) -> None:
        self._gateways: dict[str, PymilvusGateway] = {}
        self._lock = asyncio.Lock()

    async def get(self, key: str, endpoint: Endpoint) -> PymilvusGateway:
        """Raises MilvusError(INVALID_ENDPOINT) when pymilvus refuses the endpoint."""
        async with self._lock:
            current = self._gateways.get(key)
            if current is not None and current.endpoint == endpoint:
                return current
            gateway = PymilvusGateway(endpoint)
            if current is not None:  # rotated Secret or moved endpoint: never keep the old channel
                await current.close()
            self._gateways[key] = gateway
            return gateway

    def last(self, key: str) -> PymilvusGateway | None:
        """The client last built for `key`, with the credentials it was built with (for finalizers whose
        Secret is already gone, e.g. while the namespace is deleted); None after a restart or eviction."""
        return self._gateways.get(key)

    async def evict(self, key: str) -> None:
        async with self._lock:
            gateway = self._gateways.pop(key, None)
            if gateway is not None:
                await gateway.close()

    def __len__(self) -> int:
        return len(self._gateways)

    async def close_all(self) -> None:
        async with self._lock:
            for gateway in self._gateways.values():
                await gateway.close()
            self._gateways.clear()
