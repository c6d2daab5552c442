"""Helpers of the node tier: test values for the chart, restricted namespaces, the release's pods, their
memory cgroups and the kubelet's own probe counters."""

from __future__ import annotations

import json
import re
import secrets
import ssl
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed import podnet
from testbed.cluster import Cluster
from testbed.images import OperatorImage
from testbed.node import Node
from testbed.processes import MilvusServer
from tests.chart.release import DENIAL, FAST, Release
from tests.e2e.operator_fixtures import KINDS, Kube

RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
}
MEMORY_CGROUP = Path("/sys/fs/cgroup/memory/kubepods")
# Figures printed at the end of the run (handed over by a fixture in conftest.py).
FIGURES: list[str] = []


@dataclass(frozen=True)
class NodeEnv:
    cluster: Cluster
    node: Node
    image: OperatorImage
    upgrade: str  # repository:tag, the same image under a new tag: what `helm upgrade` rolls to
    apiserver_port: int
    work: Path

    def values(self, image: str | None = None, **values: Any) -> dict[str, Any]:
        """Chart values for this node. Only two things differ from what users get: the image (from the local
        store) and where the API server is (the relay on the pod bridge: no kube-proxy, a loopback API server)."""
        repository, tag = (image or self.image.name).rsplit(":", 1)
        return {
            **FAST,
            "image": {"repository": repository, "tag": tag},
            "extraEnv": [
                {"name": "KUBERNETES_SERVICE_HOST", "value": podnet.GATEWAY},
                {"name": "KUBERNETES_SERVICE_PORT", "value": str(self.apiserver_port)},
            ],
            **values,
        }

    def namespace(self, prefix: str, labels: dict[str, str] | None = None) -> str:
        name = f"{prefix}-{secrets.token_hex(3)}"
        self.cluster.kubectl("create", "namespace", name)
        if labels:
            self.cluster.kubectl("label", "namespace", name, *(f"{k}={v}" for k, v in labels.items()))
        return name

    def milvus_uri(self, milvus: MilvusServer) -> str:
        """The Milvus test server as pods see it (relayed from the bridge's gateway to its loopback port)."""
        return f"http://{self.node.relay(milvus.port)}:{milvus.port}"

    def connection(self, milvus: MilvusServer) -> str:
        from testbed.processes import REPO

        text = (REPO / "examples" / "connection.yaml").read_text()
        return text.replace("http://127.0.0.1:19530", self.milvus_uri(milvus))

    def kubelet_metrics(self, path: str = "/metrics/probes") -> str:
        """The kubelet's own endpoint on loopback, as admin (the kubelet authorizes through the API server)."""
        certs = self.node.cp.certs
        ctx = ssl.create_default_context(cafile=None)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the kubelet's serving certificate is self-signed
        ctx.load_cert_chain(str(certs.admin_crt), str(certs.admin_key))
        url = f"https://127.0.0.1:{self.node.ports['kubelet']}{path}"
        with urllib.request.urlopen(url, context=ctx, timeout=10) as response:
            return str(response.read().decode())

    def probe_count(self, pod: str, namespace: str, probe_type: str, result: str = "successful") -> int:
        pattern = re.compile(r"^prober_probe_total\{([^}]*)\} (\d+)", re.MULTILINE)
        for labels, value in pattern.findall(self.kubelet_metrics()):
            fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            if (fields.get("pod"), fields.get("namespace"), fields.get("probe_type"), fields.get("result")) == (
                pod,
                namespace,
                probe_type,
                result,
            ):
                return int(value)
        return 0


def pods(release: Release) -> list[dict[str, Any]]:
    """The release's operator pods that are not being deleted."""
    items = release.cluster.get_json(
        "pods", "-l", f"app.kubernetes.io/instance={release.name}", namespace=release.namespace
    )["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def wait_rollout(release: Release, timeout: int = 180) -> list[dict[str, Any]]:
    """Wait until the Deployment is rolled out and every pod of it is Ready; return those pods."""
    deployment = release.deployment()["metadata"]["name"]
    release.cluster.kubectl(
        "rollout", "status", f"deployment/{deployment}", f"--timeout={timeout}s",
        namespace=release.namespace, timeout=timeout + 30,
    )  # fmt: skip
    kube = Kube(release.cluster, release.namespace)
    want = int(release.cluster.get_json("deployment", deployment, namespace=release.namespace)["spec"]["replicas"])
    return list(
        kube.wait(
            lambda: (found := pods(release)) and len(found) == want and all(ready(p) for p in found) and found,
            timeout,
            f"{want} Ready pods of {deployment}",
        )
    )


def logs(release: Release, pod: str, previous: bool = False) -> str:
    args = ["logs", pod, "--all-containers"] + (["--previous"] if previous else [])
    return str(release.cluster.kubectl(*args, namespace=release.namespace, check=False).stdout)


def assert_clean_log(text: str, pod: str) -> None:
    assert "Traceback" not in text, f"operator pod {pod} logged a traceback:\n{text[-5000:]}"
    # A 403 for writing into a namespace being deleted is the API server's NamespaceTerminating, not RBAC.
    denials = [line for line in text.splitlines() if DENIAL.search(line) and "NamespaceTerminating" not in line]
    assert not denials, f"operator pod {pod} hit RBAC denials:\n" + "\n".join(denials[:5])


def finish(node_env: NodeEnv, release: Release) -> None:
    """Release teardown: check the pods' logs, but uninstall and drop the namespace whatever they say (a release
    left behind would act on the next tests' resources)."""
    try:
        for pod in pods(release) if release.installed else []:
            assert_clean_log(logs(release, pod["metadata"]["name"]), pod["metadata"]["name"])
    finally:
        if release.installed:
            release.uninstall()
        node_env.cluster.kubectl("delete", "namespace", release.namespace, "--wait=false", "--ignore-not-found")


def peers(kube: Kube, peering: str) -> dict[str, Any]:
    """The status of Kopf's KopfPeering in `kube`'s namespace (a release watching that namespace): one entry per
    live replica, keyed by its POD_ID (the pod name)."""
    return dict((kube.get("kopfpeerings.kopf.dev", peering) or {}).get("status") or {})


def memory_cgroup(pod: dict[str, Any]) -> Path:
    """The container's memory cgroup (cgroup v1, cgroupfs driver: kubepods/<qos>/pod<uid>/<container id>)."""
    container_id = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    found = list(MEMORY_CGROUP.glob(f"**/pod{pod['metadata']['uid']}/{container_id}"))
    assert len(found) == 1, f"memory cgroup of {container_id}: {found}"
    return found[0]


def cgroup_int(cgroup: Path, name: str) -> int:
    return int((cgroup / name).read_text().split()[0])


def process_status(cgroup: Path, field: str) -> int:
    """`field` (e.g. VmRSS, VmHWM) in kB of the container's main process, from the host's /proc."""
    pids = [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
    assert pids, f"no process in {cgroup}"
    for line in Path(f"/proc/{min(pids)}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{min(pids)}/status")


def delete_custom_resources(kube: Kube, timeout: int = 300) -> None:
    """Delete the user's custom resources while the operator still runs (it removes its own finalizers)."""
    kube.cluster.kubectl("delete", KINDS, "--all", "--wait=true", f"--timeout={timeout}s", namespace=kube.namespace,
                         check=False, timeout=timeout + 30)  # fmt: skip
    left = kube.run("get", KINDS, "-o", "json", check=False).stdout
    items = json.loads(left or '{"items": []}')["items"]
    assert not items, "custom resources left after deletion (stuck finalizers?):\n" + "\n".join(
        f"{i['kind']}/{i['metadata']['name']} finalizers={i['metadata'].get('finalizers')} "
        f"status={json.dumps(i.get('status'))[:600]}"
        for i in items
    )


def last_state(pod: dict[str, Any]) -> dict[str, Any]:
    return dict(pod["status"]["containerStatuses"][0].get("lastState") or {})


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1)[:4000]


def strip_finalizers(kube: Kube) -> None:
    """Remove our finalizer from every custom resource in the namespace, for clean-up after the operator is gone.
    One PATCH each through the API (the official client: kubectl would start a process per object)."""
    from kubernetes import client, config

    api = client.CustomObjectsApi(config.new_client_from_config(str(kube.cluster.kubeconfig)))
    for plural in KINDS.split(","):
        resource, group = plural.split(".", 1)
        items = api.list_namespaced_custom_object(group, "v1alpha1", kube.namespace, resource)["items"]
        for item in items:
            if item["metadata"].get("finalizers"):
                api.patch_namespaced_custom_object(
                    group, "v1alpha1", kube.namespace, resource, item["metadata"]["name"],
                    {"metadata": {"finalizers": None}},
                )  # fmt: skip
