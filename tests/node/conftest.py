"""The node tier: the operator image (built from the Dockerfile) installed with the chart on a real kubelet.

One control plane + node per session (testbed/node.py), the images imported into its containerd. Missing
pieces skip locally, naming the command to run; with CI=true they fail. Teardown must leave the machine as it
found it: anything the node changed and did not undo fails the session.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed import images
from testbed.controlplane import ControlPlane, ControlPlaneError
from testbed.node import Node, unavailable
from testbed.processes import REPO, MilvusServer
from testbed.tools import find_tools, missing_report
from tests.chart.release import Release
from tests.e2e.operator_fixtures import TOKEN, Kube, books  # noqa: F401

from .pods import FIGURES, RESTRICTED, NodeEnv, delete_custom_resources, finish

IN_CI = os.environ.get("CI") == "true"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the node tier must not be skipped)", pytrace=False)
    pytest.skip(f"{reason}; then: make image && make test")


@pytest.fixture(autouse=True)
def _node_tier_figures(request: pytest.FixtureRequest) -> Iterator[None]:
    """Hands the tier's figures (start-up, image, memory) to the run's summary (tests/conftest.py)."""
    yield
    while FIGURES:
        request.node.user_properties.append(("figure: node tier figures", FIGURES.pop(0)))


@pytest.fixture(scope="session")
def operator_image() -> images.OperatorImage:
    """The image from the Dockerfile (cached: `make image` normally built it)."""
    for problem in (unavailable(), images.Buildah.available()):
        if problem:
            _unavailable(problem)
    buildah = images.Buildah.default()
    try:
        image, _ = images.build_all(buildah)
    except images.ImageError as e:
        _unavailable(f"cannot build the operator image: {e}")
    FIGURES.append(f"image {image.name}: {image.size / 2**20:.0f} MiB uncompressed")
    return image


@pytest.fixture(scope="session")
def node_env(tmp_path_factory: pytest.TempPathFactory, operator_image: images.OperatorImage) -> Iterator[NodeEnv]:
    tools = find_tools()
    if problem := missing_report("etcd", "kube_apiserver", "kube_controller_manager", "kubelet", "kube_scheduler",
                                 "kubectl", "helm", tools=tools):  # fmt: skip
        _unavailable(problem)
    image = operator_image
    work = tmp_path_factory.mktemp("node-tier")
    cp = ControlPlane(work / "cp", tools=tools, for_node=True)
    node: Node | None = None
    try:
        cp.start()
        node = Node(cp, work / "node")
        node.start()
        started = time.monotonic()
        node.import_image(image.archive)
        upgrade = f"{image.name}-upgrade"  # a new tag of the same image: what `helm upgrade` rolls to
        node.tag_image(image.name, upgrade)
        FIGURES.append(f"control plane {cp.start_seconds:.1f}s, node Ready {node.start_seconds:.1f}s, "
                       f"image imported {time.monotonic() - started:.1f}s")  # fmt: skip
    except ControlPlaneError as e:  # NodeError included
        if node is not None:
            node.stop()
        cp.stop()
        _unavailable(f"the node did not start: {e}")
    assert node is not None
    cluster = cp.cluster()
    cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(REPO / "crds"))
    env = NodeEnv(cluster, node, image, upgrade, cp.ports["apiserver"], Path(work))
    try:
        yield env
    finally:
        node.stop()
        left = node.leftovers()
        cp.stop()
        if left:
            pytest.fail("the node's teardown left host changes behind:\n" + "\n".join(left), pytrace=False)


@pytest.fixture
def release(node_env: NodeEnv) -> Iterator[Release]:
    """A release in its own namespace that enforces Pod Security `restricted`; install it in the test."""
    rel = Release(node_env.cluster, node_env.namespace("t-mso", RESTRICTED))
    yield rel
    finish(node_env, rel)


@pytest.fixture
def milvus(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[MilvusServer]:
    """The Milvus test server of tests/e2e; a module's MILVUS_RESTORE_SECONDS sets how long restore jobs run."""
    duration = getattr(request.module, "MILVUS_RESTORE_SECONDS", 1.5)
    server = MilvusServer(
        tmp_path / "milvus", "--user", TOKEN, "--restore-tick", "0.5", "--restore-duration", str(duration)
    ).start()
    yield server
    server.stop()


@pytest.fixture
def user(node_env: NodeEnv, release: Release, milvus: MilvusServer) -> Iterator[Kube]:
    """A namespace for the user's resources; they are deleted while the operator and Milvus still run."""
    kube = Kube(node_env.cluster, node_env.namespace("t-user"))
    yield kube
    try:
        if release.installed:
            delete_custom_resources(kube)
    finally:
        kube.cluster.kubectl("delete", "namespace", kube.namespace, "--wait=false", "--ignore-not-found")
