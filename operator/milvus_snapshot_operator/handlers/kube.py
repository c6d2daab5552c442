"""API calls Kopf does not make for us: referenced Secrets, milvus-operator `Milvus` resources, whether a
namespace is being deleted, and the MilvusSnapshots that schedules create and prune.

The official client is synchronous, so calls run in a thread. Only the resource's own namespace is ever read.
Secret values are returned to the caller and never logged.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
from typing import cast

import kubernetes
from kubernetes.client import CoreV1Event
from kubernetes.client.exceptions import ApiException

from ..api import GROUP, VERSION
from ..api.snapshot import PLURAL as SNAPSHOTS

# The name recorded in managedFields for what the operator creates: retention prunes only snapshots whose
# creation the operator itself made (a copied manifest applied by kubectl is never pruned).
FIELD_MANAGER = "milvus-snapshot-operator"
SecretData = dict[str, bytes]
JsonDict = dict[str, object]
MERGE_PATCH = "application/merge-patch+json"


def load_config() -> kubernetes.client.Configuration:
    """In-cluster config, else the kubeconfig: the same credentials as Kopf's default login."""
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
    config: kubernetes.client.Configuration = kubernetes.client.Configuration.get_default_copy()
    return config


class KubeReader:
    def __init__(self, config: kubernetes.client.Configuration) -> None:
        client = kubernetes.client.ApiClient(config)
        self._core = kubernetes.client.CoreV1Api(client)
        self._custom = kubernetes.client.CustomObjectsApi(client)
        # Values of watched Secrets only (handlers/secretwatch.py drops an entry on every change and when its
        # watch ends), so a cached value is never older than its watch. Saves one GET per reconcile step.
        self._secrets: dict[tuple[str, str], SecretData | None] = {}
        self._versions: dict[tuple[str, str], int] = {}

    def forget_secret(self, namespace: str, name: str) -> None:
        """The Secret changed (or appeared, or went away): the next read goes to the API server."""
        ref = (namespace, name)
        self._secrets.pop(ref, None)
        if ref in self._versions:
            self._versions[ref] += 1

    def watching(self, namespace: str, name: str, watched: bool) -> None:
        """Only Secrets under watch are cached: an unwatched one is read afresh each time."""
        ref = (namespace, name)
        if watched:
            self._versions.setdefault(ref, 0)
        else:
            self._versions.pop(ref, None)
            self._secrets.pop(ref, None)

    async def secret_data(self, namespace: str, name: str) -> SecretData | None:
        """Decoded data of a Secret, or None when it does not exist."""
        ref = (namespace, name)
        if ref in self._secrets:
            return self._secrets[ref]
        version = self._versions.get(ref)
        try:
            secret = await asyncio.to_thread(self._core.read_namespaced_secret, name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            data = None
        else:
            data = {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}
        if version is not None and self._versions.get(ref) == version:  # watched, and no change while we read
            self._secrets[ref] = data
        return data

    async def namespace_terminating(self, namespace: str) -> bool:
        """True when the namespace is being deleted (or already gone): what is missing will not come back.

        Reading one's own namespace needs only a namespaced Role (RBAC treats GET namespaces/<ns> as inside
        <ns>), so this works in every install mode; without the permission it answers False (keep waiting).
        """
        try:
            found = await asyncio.to_thread(self._core.read_namespace, namespace)
        except ApiException as exc:
            return bool(exc.status == 404)
        metadata = getattr(found, "metadata", None)
        return bool(metadata is not None and metadata.deletion_timestamp)

    async def milvus_endpoint(self, namespace: str, name: str) -> tuple[bool, str | None]:
        """(exists, status.endpoint) of a milvus-operator Milvus resource."""
        try:
            obj: object = await asyncio.to_thread(
                self._custom.get_namespaced_custom_object, "milvus.io", "v1beta1", namespace, "milvuses", name
            )
        except ApiException as exc:
            if exc.status == 404:
                return False, None
            raise
        status = obj.get("status") if isinstance(obj, dict) else None
        endpoint = status.get("endpoint") if isinstance(status, dict) else None
        return True, str(endpoint) if endpoint else None

    async def create_snapshot(self, namespace: str, body: dict[str, object]) -> bool:
        """Create a MilvusSnapshot; False when one of that name exists already (a repeated run)."""
        try:
            await asyncio.to_thread(
                self._custom.create_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                SNAPSHOTS,
                body,
                field_manager=FIELD_MANAGER,
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

    async def get_snapshot(self, namespace: str, name: str) -> JsonDict | None:
        """A MilvusSnapshot as the API server has it now (None when gone): drift checks read only those whose
        status they are about to change."""
        # A list of one by field selector: the chart grants list/watch/patch on MilvusSnapshots, not get.
        listed: object = await asyncio.to_thread(
            self._custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            SNAPSHOTS,
            field_selector=f"metadata.name={name}",
        )
        items = listed.get("items") if isinstance(listed, dict) else None
        found = items[0] if isinstance(items, list) and items else None
        if not isinstance(found, dict):
            return None
        # A list's items carry no apiVersion/kind: the Events drift posts name them.
        return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "MilvusSnapshot", **found}

    async def patch_snapshot_status(
        self, namespace: str, name: str, status: JsonDict, resource_version: str | None = None
    ) -> bool:
        """Merge-patch a MilvusSnapshot's status (as Kopf does for handlers); False when the object is gone, or
        when `resource_version` is given and the object has changed since (409)."""
        body: JsonDict = {"status": status}
        if resource_version is not None:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            await asyncio.to_thread(
                self._custom.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                namespace,
                SNAPSHOTS,
                name,
                body,
                _content_type=MERGE_PATCH,
            )
        except ApiException as exc:
            if exc.status == 404 or (exc.status == 409 and resource_version is not None):
                return False
            raise
        return True

    async def post_event(
        self, involved: JsonDict, type_: str, reason: str, message: str, component: str, instance: str
    ) -> None:
        """An Event like the ones Kopf posts for handlers (same source, same object reference)."""
        now = datetime.datetime.now(datetime.UTC).isoformat()
        namespace = str(involved.get("namespace") or "default")
        body = {
            "metadata": {"namespace": namespace, "generateName": "kopf-event-"},
            "action": "Action?",
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "reportingComponent": component,
            "reportingInstance": instance,
            "source": {"component": component},
            "involvedObject": involved,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "eventTime": now,
        }
        # The client serializes a plain dict as it is (its typed models only add a conversion step).
        await asyncio.to_thread(self._core.create_namespaced_event, namespace, cast(CoreV1Event, body))
