"""A Helm release of the chart on a real API server, and what the chart e2e and node tiers share about it."""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path
from typing import Any

import yaml

from testbed.cluster import Cluster
from testbed.processes import REPO, MilvusServer
from tests.e2e.operator_fixtures import Kube, manifest, wait_ready

from .chart import CHART, helm, values_file

# Short timings, as the e2e operator fixture uses; passed through the chart's own values.
FAST = {
    "operator": {
        "restorePollSeconds": 0.5,
        "backoffMaxSeconds": 4,
        "driftCheckSeconds": 3,
        "connectionProbeSeconds": 30,
    }
}
# What the chart installs that outlives a release (helm keeps crds/ on uninstall).
CRDS = [
    "milvusconnections.snapshot.milvus.io",
    "milvussnapshots.snapshot.milvus.io",
    "milvusrestores.snapshot.milvus.io",
    "milvussnapshotschedules.snapshot.milvus.io",
    "clusterkopfpeerings.kopf.dev",
    "kopfpeerings.kopf.dev",
]
DENIAL = re.compile(r"\bForbidden\b|HTTP/1\.1\" 403 |Not enough permissions")


class Release:
    """A Helm release of the chart in the test namespace, installed as the testbed's admin."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster, self.namespace = cluster, namespace
        self.name = f"mso-{secrets.token_hex(3)}"
        self.installed = False

    def helm(self, *args: str, values: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        path = values_file(values) if values is not None else None
        try:
            extra = ["-f", str(path)] if path else []
            return helm(*args, "--namespace", self.namespace, *extra, kubeconfig=self.cluster.kubeconfig)
        finally:
            if path:
                path.unlink()

    def install(self, values: dict[str, Any]) -> str:
        out = self.helm("install", self.name, str(CHART), "--no-hooks", values=values).stdout
        self.installed = True
        return out

    def upgrade(self, values: dict[str, Any]) -> str:
        return self.helm("upgrade", self.name, str(CHART), "--no-hooks", "--reset-values", values=values).stdout

    def uninstall(self) -> None:
        self.helm("uninstall", self.name, "--no-hooks")
        self.installed = False

    def objects(self) -> list[Any]:
        return [d for d in yaml.safe_load_all(self.helm("get", "manifest", self.name).stdout) if d]

    def deployment(self) -> Any:
        (found,) = [d for d in self.objects() if d["kind"] == "Deployment"]
        return found

    def service_account(self) -> str:
        return str(self.deployment()["spec"]["template"]["spec"]["serviceAccountName"])

    def as_service_account(self, path: Path) -> Cluster:
        """The cluster seen with a fresh token of the chart's ServiceAccount."""
        sa = self.service_account()
        token = self.cluster.kubectl("create", "token", sa, "--duration=1h", namespace=self.namespace).stdout.strip()
        return self.cluster.as_token(token, path)

    def can_i(self, *args: str) -> bool:
        user = f"system:serviceaccount:{self.namespace}:{self.service_account()}"
        proc = self.cluster.kubectl("auth", "can-i", *args, f"--as={user}", check=False)
        answer = proc.stdout.strip()
        assert answer in ("yes", "no"), proc.stderr
        return answer == "yes"


def nightly_snapshot(kube: Kube, milvus: MilvusServer, timeout: float = 90) -> None:
    """The examples' connection (pointed at `milvus`) and snapshot applied; returns once books-nightly is Ready."""
    kube.apply(manifest((REPO / "examples" / "connection.yaml").read_text(), milvus))
    kube.apply((REPO / "examples" / "snapshot.yaml").read_text())
    wait_ready(kube, "MilvusSnapshot", "books-nightly", timeout)


def reported_by(kube: Kube, name: str, reason: str) -> set[str]:
    """The pods (the chart's POD_NAME: Kopf's reportingInstance) that posted `reason` Events about `name`."""
    events = kube.cluster.get_json("events", namespace=kube.namespace)["items"]
    return {
        e.get("reportingInstance", "") for e in events if e["involvedObject"]["name"] == name and e["reason"] == reason
    }
