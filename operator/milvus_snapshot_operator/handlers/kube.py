"""Reads Kopf does not make for us: referenced Secrets and milvus-operator `Milvus` resources.

The official client is synchronous, so calls run in a thread. Only the resource's own namespace is
ever read. Secret values are returned to the caller and never logged.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException


class KubeReader:
    def __init__(self) -> None:
        try:
            kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
        self._core = kubernetes.client.CoreV1Api()
        self._custom = kubernetes.client.CustomObjectsApi()

    async def secret_data(self, namespace: str, name: str) -> dict[str, bytes] | None:
        """Decoded data of a Secret, or None when it does not exist."""
        import base64

        try:
            secret = await asyncio.to_thread(self._core.read_namespaced_secret, name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}

    async def milvus_endpoint(self, namespace: str, name: str) -> tuple[bool, str | None]:
        """(exists, status.endpoint) of a milvus-operator Milvus resource."""
        try:
            obj: Any = await asyncio.to_thread(
                self._custom.get_namespaced_custom_object, "milvus.io", "v1beta1", namespace, "milvuses", name
            )
        except ApiException as exc:
            if exc.status == 404:
                return False, None
            raise
        endpoint = ((obj or {}).get("status") or {}).get("endpoint")
        return True, str(endpoint) if endpoint else None
