"""Which cluster, user and namespace, resolved the way kubectl resolves them.

--kubeconfig (one file, must exist), else $KUBECONFIG (a path list; missing entries are skipped), else
~/.kube/config, else the in-cluster service account. Files merge as in client-go: the first file to define a
context wins, and so does the first non-empty current-context. --context picks another context; the namespace
is -n, else the context's namespace, else "default".
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from ..api.wire import Wire
from .errors import UsageError

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclasses.dataclass(frozen=True)
class Target:
    files: tuple[str, ...]  # empty: in-cluster
    context: str | None
    namespace: str


def kubeconfig_files(flag: str | None, environ: Mapping[str, str]) -> tuple[str, ...]:
    if flag:
        if not Path(flag).expanduser().is_file():
            raise UsageError(f"error: stat {flag}: no such file or directory")
        return (str(Path(flag).expanduser()),)
    if environ.get("KUBECONFIG"):
        listed = [Path(p).expanduser() for p in environ["KUBECONFIG"].split(os.pathsep) if p]
        return tuple(dict.fromkeys(str(p) for p in listed if p.is_file()))
    default = Path(environ.get("HOME", "~")).expanduser() / ".kube" / "config"
    return (str(default),) if default.is_file() else ()


def _load(path: str) -> Wire:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"error: loading config file {path!r}: {exc}") from exc
    return data if isinstance(data, dict) else {}


def resolve(
    kubeconfig: str | None, context: str | None, namespace: str | None, environ: Mapping[str, str] = os.environ
) -> Target:
    files = kubeconfig_files(kubeconfig, environ)
    if not files:
        if context:
            raise UsageError(f"Error in configuration: context was not found for specified context: {context}")
        if environ.get("KUBERNETES_SERVICE_HOST"):
            default = SERVICE_ACCOUNT_NAMESPACE.read_text().strip() if SERVICE_ACCOUNT_NAMESPACE.is_file() else ""
            return Target((), None, namespace or default or "default")
        raise UsageError(
            "error: no kubeconfig found (--kubeconfig, KUBECONFIG, ~/.kube/config) and not running in a cluster"
        )
    contexts: dict[str, Wire] = {}
    current = ""
    for path in files:
        config = _load(path)
        for entry in config.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name"):
                contexts.setdefault(str(entry["name"]), dict(entry.get("context") or {}))
        current = current or str(config.get("current-context") or "")
    chosen = context or current
    if not chosen:
        raise UsageError("Error in configuration: no current-context is set; pass --context")
    if chosen not in contexts:
        raise UsageError(f"Error in configuration: context was not found for specified context: {chosen}")
    return Target(files, chosen, namespace or str(contexts[chosen].get("namespace") or "") or "default")
