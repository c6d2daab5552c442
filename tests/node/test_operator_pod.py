"""The chart installed with its defaults into a namespace that enforces Pod Security `restricted`, the operator
running in a real pod from the image built from the Dockerfile: Ready, probed by the kubelet, non-root with the
chart's security context; the examples reach their end state with the operator in the pod."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from testbed import podnet
from testbed.processes import REPO, MilvusServer
from tests.chart.chart import CHART
from tests.chart.release import Release, reported_by
from tests.e2e.operator_fixtures import Kube
from tests.e2e.test_examples import expectations

from .pods import (
    RESTRICTED,
    NodeEnv,
    assert_clean_log,
    finish,
    logs,
    pods,
    wait_rollout,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("node")]  # one node per machine: one worker
DEFAULTS = yaml.safe_load((CHART / "values.yaml").read_text())


@pytest.fixture(scope="module")
def release(node_env: NodeEnv) -> Iterator[Release]:
    """One release for the module, with the chart's defaults (cluster-wide, one replica, 512Mi limit)."""
    rel = Release(node_env.cluster, node_env.namespace("t-mso", RESTRICTED))
    try:
        rel.install(node_env.values())
        yield rel
    finally:
        finish(node_env, rel)


def test_pod_is_ready_probed_non_root_and_restricted(node_env: NodeEnv, release: Release) -> None:
    (pod,) = wait_rollout(release)
    name, ns = pod["metadata"]["name"], release.namespace
    spec, (container,) = pod["spec"], pod["spec"]["containers"]
    # What users get: the chart's security settings and resources, on the pod network (no host networking).
    assert spec["securityContext"] == DEFAULTS["podSecurityContext"]
    assert container["securityContext"] == DEFAULTS["securityContext"]
    assert container["resources"] == DEFAULTS["resources"]
    assert container["image"] == node_env.image.name and container["imagePullPolicy"] == "IfNotPresent"
    assert not spec.get("hostNetwork") and spec["automountServiceAccountToken"]
    assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(podnet.SUBNET)
    # The namespace really enforces `restricted`: a pod without such settings is refused there.
    refused = node_env.cluster.kubectl("run", "unhardened", f"--image={node_env.image.name}", "--restart=Never",
                                       "--dry-run=server", namespace=ns, check=False)  # fmt: skip
    assert refused.returncode != 0 and "violates PodSecurity" in refused.stderr, refused.stderr
    # Inside the running container, as the kernel sees it.
    script = (
        "id -u; id -g; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/1/status; "
        "touch /probe 2>/dev/null && echo root-writable || echo root-read-only; "
        "touch /tmp/probe && echo tmp-writable; "
        "test -s /var/run/secrets/kubernetes.io/serviceaccount/token && echo token"
    )
    out = node_env.cluster.kubectl("exec", name, "--", "sh", "-c", script, namespace=ns).stdout.split("\n")
    status = dict(line.split(":\t", 1) for line in out if ":\t" in line)
    assert out[:2] == ["65532", "65532"], out
    assert status == {"CapEff": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2"}, status
    assert {"root-read-only", "tmp-writable", "token"} <= set(out), out
    projected = [v for v in spec["volumes"] if "projected" in v]
    assert projected and any("serviceAccountToken" in s for s in projected[0]["projected"]["sources"])
    # The kubelet probes the pod itself: its own counters show the liveness and readiness probes passing.
    kube = Kube(node_env.cluster, ns)
    kube.wait(lambda: node_env.probe_count(name, ns, "Liveness") >= 1, 90, "a successful liveness probe")
    assert node_env.probe_count(name, ns, "Readiness") >= 1
    assert node_env.probe_count(name, ns, "Liveness", "failed") == 0
    (pod,) = pods(release)
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    text = logs(release, name)
    assert "--all-namespaces" in " ".join(container["args"]) and text, "the operator logged nothing"
    assert_clean_log(text, name)


def test_examples_reach_their_end_state_with_the_operator_in_the_pod(
    node_env: NodeEnv, release: Release, user: Kube, milvus: MilvusServer, books: Any
) -> None:
    (pod,) = wait_rollout(release)
    for path in sorted((REPO / "examples").glob("*.yaml"), reverse=True):
        text = path.read_text()
        user.apply(node_env.connection(milvus) if path.name == "connection.yaml" else text)
    for kind, name, path, value in expectations():
        if path == "Ready":
            user.wait(lambda k=kind, n=name, v=value: (user.condition(k, n) or ("",))[0] == v, 120,
                      f"{kind}/{name} Ready={value}")  # fmt: skip
        else:
            jsonpath = "{" + path + "}"
            user.wait(lambda k=kind, n=name, j=jsonpath, v=value: user.run("get", k, n, "-o", f"jsonpath={j}").stdout
                      == v, 120, f"{kind}/{name} {path}={value}")  # fmt: skip
    restore = user.status("MilvusRestore", "books-restore")
    assert restore["state"] == "RestoreSnapshotCompleted" and restore["targetRowCount"] == 300
    restores = [doc for path in (REPO / "examples").glob("*.yaml") for doc in yaml.safe_load_all(path.read_text())
                if doc and doc["kind"] == "MilvusRestore"]  # fmt: skip
    assert milvus.counters()["RestoreSnapshot"] == len(restores), "one Milvus restore job per MilvusRestore"
    # It was the pod that acted (Kopf's reportingInstance is the chart's POD_NAME).
    assert reported_by(user, "books-nightly", "SnapshotCreated") == {pod["metadata"]["name"]}
