"""One pymilvus client per MilvusConnection, replaced when its endpoint or credentials change."""

from __future__ import annotations

import asyncio

from .pymilvus_gateway import Endpoint, PymilvusGateway


class GatewayPool:
    def __init__(self) -> None:
        self._gateways: dict[str, PymilvusGateway] = {}
        self._lock = asyncio.Lock()

    async def get(self, key: str, endpoint: Endpoint) -> PymilvusGateway:
        async with self._lock:
            current = self._gateways.get(key)
            if current is not None and current.endpoint == endpoint:
                return current
            if current is not None:  # rotated Secret or moved endpoint: never keep the old channel
                await current.close()
            gateway = PymilvusGateway(endpoint)
            self._gateways[key] = gateway
            return gateway

    async def close_all(self) -> None:
        async with self._lock:
            for gateway in self._gateways.values():
                await gateway.close()
            self._gateways.clear()
