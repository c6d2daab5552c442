"""API calls Kopf does not make for us: referenced Secrets, milvus-operator `Milvus` resources, and the
MilvusSnapshots that schedules create and prune.

The official client is synchronous, so calls run in a thread. Only the resource's own namespace is
ever read. Secret values are returned to the caller and never logged.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from ..api import GROUP, VERSION
from ..api.snapshot import PLURAL as SNAPSHOTS


class KubeReader:
    def __init__(self) -> None:
        try:
            kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
        self._core = kubernetes.client.CoreV1Api()
        self._custom = kubernetes.client.CustomObjectsApi()
        # Referenced Secrets only, dropped by forget_secret() on every watch event for them, so a cached
        # value is never older than the watch. Saves one GET per reconcile step.
        self._secrets: dict[tuple[str, str], dict[str, bytes] | None] = {}
        self._secret_versions: dict[tuple[str, str], int] = {}

    def forget_secret(self, namespace: str, name: str) -> None:
        """The Secret changed (or appeared, or went away): the next read goes to the API server."""
        ref = (namespace, name)
        self._secrets.pop(ref, None)
        self._secret_versions[ref] = self._secret_versions.get(ref, 0) + 1

    async def secret_data(self, namespace: str, name: str) -> dict[str, bytes] | None:
        """Decoded data of a Secret, or None when it does not exist."""
        import base64

        ref = (namespace, name)
        if ref in self._secrets:
            return self._secrets[ref]
        version = self._secret_versions.get(ref, 0)
        try:
            secret = await asyncio.to_thread(self._core.read_namespaced_secret, name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            data = None
        else:
            data = {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}
        if self._secret_versions.get(ref, 0) == version:  # no watch event while we read: safe to keep
            self._secrets[ref] = data
        return data

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

    async def create_snapshot(self, namespace: str, body: dict[str, Any]) -> bool:
        """Create a MilvusSnapshot; False when one of that name exists already (a repeated run)."""
        try:
            await asyncio.to_thread(
                self._custom.create_namespaced_custom_object, GROUP, VERSION, namespace, SNAPSHOTS, body
            )
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    async def delete_snapshot(self, namespace: str, name: str) -> None:
        """Delete a MilvusSnapshot (its finalizer then honours its deletionPolicy); gone already is fine."""
        try:
            await asyncio.to_thread(
                self._custom.delete_namespaced_custom_object, GROUP, VERSION, namespace, SNAPSHOTS, name
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
