"""Proof that the chart's default memory limit holds: 1,000 resources handled by the operator in its pod, no
OOMKill, the container's own cgroup peak below the limit (the limit is enforced here: an allocation above it
is OOMKilled by the kernel). The figures are printed in the run's summary."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import yaml

from testbed.processes import MilvusServer
from tests.chart.chart import CHART
from tests.chart.release import Release
from tests.e2e.operator_fixtures import Kube, snapshot_manifest

from .pods import (
    FIGURES,
    NodeEnv,
    assert_clean_log,
    cgroup_int,
    last_state,
    logs,
    memory_cgroup,
    pods,
    process_status,
    strip_finalizers,
    wait_rollout,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("node")]  # one node per machine: one worker
RESOURCES = 1000
LIMIT = yaml.safe_load((CHART / "values.yaml").read_text())["resources"]["limits"]["memory"]


def test_a_thousand_resources_stay_within_the_default_memory_limit(
    node_env: NodeEnv, release: Release, user: Kube, milvus: MilvusServer, books: Any
) -> None:
    release.install(node_env.values(watchNamespaces=[user.namespace]))
    (pod,) = wait_rollout(release)
    cgroup = memory_cgroup(pod)
    limit = cgroup_int(cgroup, "memory.limit_in_bytes")
    assert LIMIT == "512Mi" and limit == 512 * 2**20, "the chart's default limit, applied to the container"
    user.apply(node_env.connection(milvus))
    user.wait(lambda: (user.condition("MilvusConnection", "milvus") or ("",))[0] == "True", 90, "connection Ready")
    start = time.monotonic()
    manifests = [json.loads(snapshot_manifest(f"mem-{i:04d}", deletionPolicy="Retain", flush=False))
                 for i in range(RESOURCES)]  # fmt: skip
    for i in range(0, RESOURCES, 250):
        items = {"apiVersion": "v1", "kind": "List", "items": manifests[i : i + 250]}
        user.run("apply", "--server-side", "-f", "-", input=json.dumps(items))

    def all_ready() -> bool:
        items = user.cluster.get_json("milvussnapshots", namespace=user.namespace)["items"]
        return sum(1 for i in items if (i.get("status") or {}).get("phase") == "Ready") == RESOURCES

    user.wait(all_ready, 900, f"{RESOURCES} MilvusSnapshots Ready", interval=3)
    ready_after = time.monotonic() - start
    time.sleep(5)
    (after,) = pods(release)
    assert after["metadata"]["uid"] == pod["metadata"]["uid"], "the pod was replaced"
    status = after["status"]["containerStatuses"][0]
    assert status["restartCount"] == 0 and "OOMKilled" not in json.dumps(last_state(after)), status
    assert cgroup_int(cgroup, "memory.failcnt") == 0, "the container's cgroup hit its limit"
    peak, now = cgroup_int(cgroup, "memory.max_usage_in_bytes"), cgroup_int(cgroup, "memory.usage_in_bytes")
    rss, hwm = process_status(cgroup, "VmRSS"), process_status(cgroup, "VmHWM")
    FIGURES.append(f"memory: {RESOURCES} MilvusSnapshots + 1 MilvusConnection Ready in {ready_after:.0f}s; container "
                   f"cgroup {now / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB of the {limit / 2**20:.0f} MiB limit; "
                   f"operator process RSS {rss / 1024:.0f} MiB, peak {hwm / 1024:.0f} MiB")  # fmt: skip
    assert peak < limit
    # Clean-up without the operator: deleting 1,000 objects through its finalizer takes minutes here (a figure
    # for benchmarks, not this proof). Their Milvus snapshots are Retain, so removing the finalizers loses nothing.
    name = pod["metadata"]["name"]
    assert_clean_log(logs(release, name), name)
    release.uninstall()
    strip_finalizers(user)
    # Gone before the next test: a cluster-wide operator there would otherwise see 1,000 objects being deleted.
    user.cluster.kubectl("delete", "namespace", user.namespace, "--timeout=300s", timeout=330)
