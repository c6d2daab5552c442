"""The plugin's only I/O: custom objects and events through the official client, errors worded like kubectl's."""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Iterator
from typing import Any, cast

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from .. import __version__
from ..api import GROUP, VERSION
from ..api.wire import Wire as Obj
from .ages import event_time
from .errors import CliError, TimedOut, UsageError
from .kinds import Kind
from .kubeconfig import Target

FIELD_MANAGER = "kubectl-milvus-snapshot"  # in managedFields, as kubectl writes "kubectl-create"
REQUEST_TIMEOUT = 30.0  # seconds, per API request (watches: the server closes them first)


def api_client(target: Target) -> client.ApiClient:
    configuration = client.Configuration()
    try:
        if target.files:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=os.pathsep.join(target.files),
                context=target.context,
                client_configuration=configuration,
                persist_config=False,
            )
        else:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except ConfigException as exc:
        raise UsageError(f"Error in configuration: {exc}") from exc
    configuration.retries = 1  # urllib3 would retry 3 times: a wrong address should fail as fast as kubectl does
    api = client.ApiClient(configuration)
    api.user_agent = f"{FIELD_MANAGER}/{__version__}"  # in audit logs, instead of the generator's default
    return api


def _server_message(exc: ApiException) -> str:
    """kubectl's `Error from server (Reason): message`, from the Status object the API server returns."""
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        body = {}
    reason = body.get("reason") or exc.reason or f"HTTP {exc.status}"
    return f"Error from server ({reason}): {body.get('message') or exc.reason}"


@contextlib.contextmanager
def _translated(host: str) -> Iterator[None]:
    try:
        yield
    except ApiException as exc:
        raise CliError(_server_message(exc), exc.status) from exc
    except urllib3.exceptions.HTTPError as exc:
        cause = getattr(exc, "reason", None) or exc
        if "Connection refused" in str(cause):
            address = host.split("://", 1)[-1]
            raise CliError(
                f"The connection to the server {address} was refused - did you specify the right host or port?"
            ) from exc
        raise CliError(f"Unable to connect to the server {host}: {cause}") from exc


class Kube:
    """Reads and writes in one namespace (or all, for lists) of the cluster the kubeconfig names."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.api, self.namespace = api, namespace
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.host = str(api.configuration.host)

    def get(self, kind: Kind, name: str, namespace: str | None = None) -> Obj | None:
        """The object, or None when it does not exist."""
        try:
            with _translated(self.host):
                found = self.custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace or self.namespace, kind.plural, name, _request_timeout=REQUEST_TIMEOUT
                )
        except CliError as exc:
            if exc.http_status == 404:
                return None
            raise
        return cast(Obj, found)

    def require(self, kind: Kind, name: str) -> Obj:
        found = self.get(kind, name)
        if found is None:
            raise CliError(f'Error from server (NotFound): {kind.plural}.{GROUP} "{name}" not found')
        return found

    def items(self, kind: Kind, namespace: str | None, label_selector: str | None = None) -> list[Obj]:
        """Objects of `kind` in `namespace`, or in every namespace when it is None."""
        with _translated(self.host):
            if namespace is None:
                listed = self.custom.list_cluster_custom_object(
                    GROUP, VERSION, kind.plural, label_selector=label_selector, _request_timeout=REQUEST_TIMEOUT
                )
            else:
                listed = self.custom.list_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    namespace,
                    kind.plural,
                    label_selector=label_selector,
                    _request_timeout=REQUEST_TIMEOUT,
                )
        return list(cast(Obj, listed).get("items") or [])

    def create(self, kind: Kind, body: Obj) -> Obj:
        with _translated(self.host):
            made = self.custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                self.namespace,
                kind.plural,
                body,
                field_manager=FIELD_MANAGER,
                field_validation="Strict",  # an unknown field (e.g. spec.alias on an older CRD) fails, not vanishes
                _request_timeout=REQUEST_TIMEOUT,
            )
        return cast(Obj, made)

    def merge_patch(self, kind: Kind, name: str, patch: Obj) -> Obj:
        with _translated(self.host):
            patched = self.custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                self.namespace,
                kind.plural,
                name,
                patch,
                field_manager=FIELD_MANAGER,
                field_validation="Strict",
                _content_type="application/merge-patch+json",
                _request_timeout=REQUEST_TIMEOUT,
            )
        return cast(Obj, patched)

    def events(self, obj: Obj) -> list[Obj]:
        """Core events about `obj` (by UID, so a deleted-and-recreated namesake's events are left out), oldest first."""
        meta = obj["metadata"]
        with _translated(self.host):
            # The raw reply (camelCase JSON like the custom objects), not the generated model: the method's
            # declared return type does not cover _preload_content=False.
            response: Any = self.core.list_namespaced_event(
                meta["namespace"],
                field_selector=f"involvedObject.uid={meta['uid']}",
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT,
            )
            items: list[Obj] = json.loads(response.data).get("items") or []
        return sorted(items, key=event_time)

    def follow(self, kind: Kind, name: str, deadline: float) -> Iterator[Obj]:
        """The object now, then again on every change (a watch), until the caller stops or `deadline` passes.

        Raises TimedOut at the deadline and CliError when the object is deleted meanwhile.
        """
        current = self.require(kind, name)
        yield current
        version = current["metadata"]["resourceVersion"]
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimedOut(f"timed out waiting for {kind.short}/{name}")
            stream = watch.Watch()  # type: ignore[no-untyped-call]
            try:
                with _translated(self.host):
                    for event in stream.stream(  # type: ignore[no-untyped-call]
                        self.custom.list_namespaced_custom_object,
                        GROUP,
                        VERSION,
                        self.namespace,
                        kind.plural,
                        field_selector=f"metadata.name={name}",
                        resource_version=version,
                        timeout_seconds=max(1, min(60, math.ceil(remaining))),
                        _request_timeout=REQUEST_TIMEOUT + 60,
                    ):
                        obj = cast(Obj, event["raw_object"])
                        if event["type"] == "DELETED":
                            raise CliError(f"{kind.short}/{name} was deleted while waiting for it")
                        if event["type"] in ("ADDED", "MODIFIED"):
                            version = obj["metadata"]["resourceVersion"]
                            yield obj
                        if time.monotonic() >= deadline:
                            break
            except CliError as exc:
                if exc.http_status != 410:
                    raise
                current = self.require(kind, name)  # the watch expired: start again from a fresh read
                version = current["metadata"]["resourceVersion"]
                yield current
            finally:
                stream.stop()  # type: ignore[no-untyped-call]
