"""Benchmarks (figures and ratios, not pass/fail tests): `make bench` or `python benchmarks/run.py [--only ...]`.

  cp    control plane warm start (etcd + kube-apiserver + kube-controller-manager to /readyz)  target <= 20 s
  a     N MilvusSnapshots applied at once -> all Ready, vs. a plain pymilvus flush+create+describe loop
                                                                                   target ratio <= 2.0
  b     M concurrent restores: restore-state RPCs per poll interval      target <= (connection, db) pairs = 1
  c     status PATCHes per snapshot lifecycle (create -> Ready), from the operator's own patch log  target <= 3
  d     operator RSS idle and with K resources                                          target <= 200 MB
  sched S MilvusSnapshotSchedules with retention (one manual run each), then idle: CPU and RSS
  secrets  operator RSS before/after 2,000 unrelated 8 KB Secrets in another namespace, cluster-wide mode
                                                                                   target growth < 5 MB
  m     operator RSS with K resources with /metrics off and on (scraped), alternating; scrape time and size
  e     MilvusSnapshots over 50 collections, grown to 1k, 2k, 5k, 10k: time to Ready, Kubernetes writes per
        snapshot, RSS at each step (drawn to benchmarks/rss.png); settled: idle CPU, Milvus RPCs per drift
        interval                                     targets: RSS <= 350 MB, CPU <= 2 %, writes <= 3
  f     (after e) operator restart with those resources: time until each was looked at once, Milvus RPCs and
        status writes in the first minute
  test  `make test` wall time (warm: binaries built, venv installed)                     target <= 10 min

Everything runs on loopback: a fresh control plane, a fresh Milvus test server and the operator process.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "operator"), str(REPO)]

from testbed import seed  # noqa: E402
from testbed.cluster import Cluster  # noqa: E402
from testbed.controlplane import ControlPlane  # noqa: E402
from testbed.processes import MilvusServer, OperatorProcess  # noqa: E402

NS = "bench"
FLOOR_NS = "bench-floor"  # no operator watches it
# Production defaults (the e2e tests shorten these).
OPERATOR_ENV = {"MSO_RESTORE_POLL_SECONDS": "2", "MSO_DRIFT_CHECK_SECONDS": "300", "MSO_BACKOFF_MAX_SECONDS": "60"}
TOKEN = "root:Milvus"
SNAPSHOTS = "milvussnapshots.snapshot.milvus.io"
RESTORES = "milvusrestores.snapshot.milvus.io"
SCHEDULES = "milvussnapshotschedules.snapshot.milvus.io"


def report(name: str, value: str, target: str = "") -> None:
    print(f"{name:<58} {value:>18}   {target}", flush=True)


def quiet(_: str) -> None:
    pass


def bench_control_plane(work: Path, runs: int) -> None:
    times = []
    for i in range(runs):
        cp = ControlPlane(work / f"cp-{i}", log=quiet, controller_manager=True)
        cp.start()
        assert cp.start_seconds is not None
        times.append(cp.start_seconds)
        cp.stop()
    report(f"cp: control plane warm start, median of {runs}", f"{statistics.median(times):.2f} s", "target <= 20 s")
    report("cp: min / max", f"{min(times):.2f} / {max(times):.2f} s")


class Bench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.cp = ControlPlane(work / "cp", log=quiet, controller_manager=True)
        self.cp.start()
        self.cluster: Cluster = self.cp.cluster()
        self.cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
        self.cluster.kubectl("wait", "--for=condition=Established", "-f", str(REPO / "crds"))
        self.cluster.kubectl("create", "namespace", NS)
        self.milvus = MilvusServer(work / "milvus", "--user", TOKEN, "--restore-tick", "0.5").start()
        self.mc = seed.client(self.milvus.uri, TOKEN)
        seed.create_books(self.mc)
        self.operator: OperatorProcess | None = None

    def close(self) -> None:
        if self.operator:
            self.operator.stop()
        self.mc.close()
        self.milvus.stop()
        self.cp.stop()

    def start_operator(
        self, verbose: bool = False, metrics: bool = True, env: dict[str, str] | None = None, heap: bool = False
    ) -> OperatorProcess:
        log = self.work / f"operator-{time.monotonic_ns()}.log"
        kind = HeapProbeOperator if heap else OperatorProcess
        self.operator = kind(self.cp.kubeconfig, [NS], log, {**OPERATOR_ENV, **(env or {})}, verbose, metrics).start()
        self.apply(self.milvus.connection_manifest())
        self.wait(lambda: self._all_ready("milvusconnections.snapshot.milvus.io", 1), 60, "connection")
        return self.operator

    def apply(self, text: str) -> None:
        self.cluster.kubectl("apply", "-f", "-", namespace=NS, input=text)

    def apply_objects(self, objects: list[dict[str, Any]], namespace: str = NS) -> None:
        """Server-side apply, as Argo CD and Flux do: one request per object, no client-side GET first."""
        for i in range(0, len(objects), 200):
            items = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects[i : i + 200]})
            self.cluster.kubectl("apply", "--server-side", "-f", "-", namespace=namespace, input=items)

    def items(self, kinds: str) -> list[dict[str, Any]]:
        return list(json.loads(self.cluster.kubectl("get", kinds, "-o", "json", namespace=NS).stdout)["items"])

    def _all_ready(self, kinds: str, count: int) -> bool:
        items = self.items(kinds)
        for item in items:
            if (item.get("status") or {}).get("phase") == "Failed":
                raise RuntimeError(f"{item['metadata']['name']} failed: {item['status'].get('error')}")
        ready = [
            i
            for i in items
            if any(
                c["type"] == "Ready" and c["status"] == "True" for c in (i.get("status") or {}).get("conditions", [])
            )
        ]
        return len(ready) >= count

    @staticmethod
    def wait(check: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(what)
            time.sleep(0.5)

    def watch_ready(self, plural: str, count: int, timeout: float) -> None:
        """Block until `count` objects are Ready=True, from one watch: polling LISTs would load the API server
        and distort the measurement."""
        from kubernetes import client, config, watch

        api = client.CustomObjectsApi(config.new_client_from_config(str(self.cp.kubeconfig)))  # type: ignore[no-untyped-call]
        ready: set[str] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # a watch the server ends early (it may) is opened again
            stream = watch.Watch()  # type: ignore[no-untyped-call]
            for event in stream.stream(  # type: ignore[no-untyped-call]
                api.list_namespaced_custom_object,
                "snapshot.milvus.io",
                "v1alpha1",
                NS,
                plural,
                timeout_seconds=int(max(1, min(600, deadline - time.monotonic()))),
            ):
                obj = event["object"]
                conditions = (obj.get("status") or {}).get("conditions", [])
                if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                    ready.add(obj["metadata"]["name"])
                if len(ready) >= count:
                    stream.stop()  # type: ignore[no-untyped-call]
                    return
        raise TimeoutError(f"{len(ready)}/{count} {plural} Ready after {timeout:.0f}s")

    def delete_all(self, kinds: str) -> None:
        self.cluster.kubectl("delete", kinds, "--all", "--timeout=900s", namespace=NS, timeout=960)


class HeapProbeOperator(OperatorProcess):
    """The operator under benchmarks/heapprobe.py: tracemalloc on, `heap_report()` on demand (SIGUSR1)."""

    command = (sys.executable, str(REPO / "benchmarks" / "heapprobe.py"))

    @property
    def report(self) -> Path:
        return self.log.with_suffix(".heap.txt")

    def start(self) -> OperatorProcess:
        self.extra_env["MSO_HEAP_REPORT"] = str(self.report)  # where heap_report() reads it
        return super().start()

    def heap_report(self, timeout: float = 300) -> str:
        assert self.proc is not None
        self.report.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while not self.report.exists() and time.monotonic() < deadline:
            time.sleep(1)
        time.sleep(1)
        return self.report.read_text() if self.report.exists() else "(no heap report)"


def snapshot(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "snapshot.milvus.io/v1alpha1",
        "kind": "MilvusSnapshot",
        "metadata": {"name": name},
        "spec": {"connectionRef": {"name": "milvus"}, "collectionName": "books", "deletionPolicy": "Retain", **spec},
    }


def bench_snapshots(b: Bench, n: int, rounds: int = 3) -> None:
    """Rounds alternate the plain loop and the operator, so both see the same (shared, noisy) machine. Each
    side of each round snapshots a fresh collection: Milvus Lite's snapshot calls slow down as snapshots of
    one collection accumulate, which would favour whichever side runs first. The ratio is the median of
    the per-round ratios."""
    op = b.start_operator()
    assert op.proc is not None
    pids = {"kube-apiserver": b.cp.processes["kube-apiserver"].pid, "operator": op.proc.pid}
    if b.milvus.proc is not None:
        pids["milvusd"] = b.milvus.proc.pid
    plain, total, applied, floor = [], [], [], []
    cpu = dict.fromkeys(pids, 0.0)
    b.cluster.kubectl("create", "namespace", FLOOR_NS)
    for r in range(rounds):
        seed.create_books(b.mc, f"plain{r}")
        seed.create_books(b.mc, f"op{r}")
        t0 = time.monotonic()
        for i in range(n):
            b.mc.flush(f"plain{r}")
            b.mc.create_snapshot(f"plain_{i}", collection_name=f"plain{r}")
            b.mc.describe_snapshot(f"plain_{i}", collection_name=f"plain{r}")
        plain.append(time.monotonic() - t0)
        t0 = time.monotonic()  # the floor: the same objects where no operator looks (API server only)
        b.apply_objects([snapshot(f"snap-{r}-{i}", collectionName=f"op{r}") for i in range(n)], FLOOR_NS)
        floor.append(time.monotonic() - t0)
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        t0 = time.monotonic()
        b.apply_objects([snapshot(f"snap-{r}-{i}", collectionName=f"op{r}") for i in range(n)])
        applied.append(time.monotonic() - t0)
        b.watch_ready("milvussnapshots", n * (r + 1), 1800)
        total.append(time.monotonic() - t0)
        for name, pid in pids.items():
            cpu[name] += (cpu_seconds(pid) - cpu0[name]) / rounds
    assert b._all_ready(SNAPSHOTS, n * rounds)
    med = statistics.median
    report(f"a: plain pymilvus flush+create+describe x{n}, median of {rounds}", f"{med(plain):.1f} s",
           f"min {min(plain):.1f}, max {max(plain):.1f}")  # fmt: skip
    report(f"a: {n} MilvusSnapshots applied at once -> all Ready, median", f"{med(total):.1f} s",
           f"min {min(total):.1f}, max {max(total):.1f}")  # fmt: skip
    report("a: of which kubectl apply --server-side returned after", f"{med(applied):.1f} s")
    report(f"a: floor: the same {n} applied with no operator running, median", f"{med(floor):.1f} s",
           ", ".join(f"{x:.1f}" for x in floor))  # fmt: skip
    ratios = [t / p for t, p in zip(total, plain, strict=True)]
    report("a: ratio operator / plain pymilvus, median of rounds", f"{med(ratios):.2f}", "target <= 2.0")
    report("a: ratio per round", ", ".join(f"{x:.2f}" for x in ratios))
    report("a: CPU per round", ", ".join(f"{name} {sec:.1f} s" for name, sec in cpu.items()))


def bench_restores(b: Bench, m: int, poll: float) -> None:
    b.apply(json.dumps(snapshot("restore-src")))
    b.wait(lambda: b._all_ready(SNAPSHOTS, len(b.items(SNAPSHOTS))), 120, "source snapshot")
    b.milvus.faults(restore_duration=20)
    b.milvus._admin("POST", "/counters/reset")
    t0 = time.monotonic()
    restores = [
        {
            "apiVersion": "snapshot.milvus.io/v1alpha1",
            "kind": "MilvusRestore",
            "metadata": {"name": f"restore-{i}"},
            "spec": {"source": {"snapshotRef": {"name": "restore-src"}}, "target": {"collectionName": f"r_{i}"}},
        }
        for i in range(m)
    ]
    b.apply_objects(restores)
    b.wait(lambda: all(r.get("status", {}).get("jobId") for r in b.items(RESTORES)) and len(b.items(RESTORES)) == m,
           600, "all restores started")  # fmt: skip
    started = time.monotonic()
    before = b.milvus.counters()
    time.sleep(min(15.0, 10 * poll))  # a window in which all M jobs run and are being polled
    after = b.milvus.counters()
    window = time.monotonic() - started
    state_rpcs = sum(after.get(k, 0) - before.get(k, 0) for k in ("ListRestoreSnapshotJobs", "GetRestoreSnapshotState"))
    b.wait(lambda: all(r.get("status", {}).get("phase") == "Completed" for r in b.items(RESTORES)), 900, "completed")
    total = time.monotonic() - t0
    report(f"b: {m} restores, state RPCs per {poll:g} s poll interval", f"{state_rpcs / (window / poll):.2f}",
           "target <= 1 (one connection, one database)")  # fmt: skip
    report(f"b: {m} restores applied -> all Completed", f"{total:.1f} s")
    report(f"b: RestoreSnapshot calls for {m} restores", str(b.milvus.counters().get("RestoreSnapshot", 0)))


def bench_patches(b: Bench, n: int = 20) -> None:
    """Count the operator's status patches per MilvusSnapshot from its verbose log (Kopf logs each one)."""
    if b.operator:
        b.operator.stop()
    op = b.start_operator(verbose=True)
    b.apply_objects([snapshot(f"patch-{i}") for i in range(n)])
    b.wait(lambda: b._all_ready(SNAPSHOTS, len(b.items(SNAPSHOTS))), 600, "patch snapshots Ready")
    time.sleep(3)  # let trailing patches (if any) land in the log
    counts = []
    for i in range(n):
        pattern = re.compile(rf"\[{NS}/patch-{i}\] .*[Pp]atching the status with")
        counts.append(sum(1 for line in op.text().splitlines() if pattern.search(line)))
    report(f"c: status PATCHes per snapshot lifecycle (max of {n})", str(max(counts)), "target <= 3")
    report("c: mean", f"{statistics.mean(counts):.2f}")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def bench_rss(b: Bench, k: int) -> None:
    if b.operator:
        b.operator.stop()
    op = b.start_operator()
    time.sleep(5)
    assert op.proc is not None
    existing = len(b.items(f"{SNAPSHOTS},{RESTORES}"))
    report(f"d: operator RSS with {existing + 1} resources (just started)", f"{rss_mb(op.proc.pid):.0f} MB")
    b.apply_objects([snapshot(f"rss-{i}") for i in range(max(0, k - existing - 1))])
    b.wait(lambda: b._all_ready(SNAPSHOTS, len(b.items(SNAPSHOTS))), 3600, "rss snapshots Ready")
    total = len(b.items(f"{SNAPSHOTS},{RESTORES}")) + 1
    time.sleep(5)
    report(f"d: operator RSS with {total} resources, just all Ready", f"{rss_mb(op.proc.pid):.0f} MB")
    time.sleep(40)  # the operator trims its heap every 30 s
    report(f"d: operator RSS with {total} resources, settled", f"{rss_mb(op.proc.pid):.0f} MB",
           "target <= 200 MB")  # fmt: skip
    report("d: operator peak RSS (VmHWM) during the burst", f"{rss_mb(op.proc.pid, 'VmHWM'):.0f} MB")


def bench_idle_rss(work: Path) -> None:
    cp = ControlPlane(work / "cp-idle", log=quiet, controller_manager=True)
    cp.start()
    try:
        cp.cluster().kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
        cp.cluster().kubectl("create", "namespace", NS)
        op = OperatorProcess(cp.kubeconfig, [NS], work / "idle.log", OPERATOR_ENV, verbose=False).start()
        time.sleep(8)
        assert op.proc is not None
        report("d: operator RSS idle (no resources)", f"{rss_mb(op.proc.pid):.0f} MB", "target <= 200 MB")
        op.stop()
    finally:
        cp.stop()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (clock ticks)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_schedules(b: Bench, s: int, idle_seconds: float = 60) -> None:
    """S hourly schedules with GFS retention, each run once (trigger annotation), then an idle window."""
    if b.operator:
        b.delete_all(f"{RESTORES},{SNAPSHOTS}")  # while the operator runs: it releases the finalizers
        b.operator.stop()
    op = b.start_operator()
    assert op.proc is not None
    time.sleep(5)  # as in d: settled after start
    rss_before = rss_mb(op.proc.pid)
    schedules = [
        {
            "apiVersion": "snapshot.milvus.io/v1alpha1",
            "kind": "MilvusSnapshotSchedule",
            "metadata": {"name": f"sched-{i}", "annotations": {"snapshot.milvus.io/trigger": "bench"}},
            "spec": {
                "schedule": "@yearly",  # no tick during the measurement: runs come from the trigger
                "template": {"connectionRef": {"name": "milvus"}, "collectionName": "books"},
                "retention": {"keepLast": 3, "keepDaily": 7, "keepWeekly": 4, "keepMonthly": 12},
            },
        }
        for i in range(s)
    ]
    t0 = time.monotonic()
    b.apply_objects(schedules)
    b.watch_ready("milvussnapshots", s, 1800)
    report(f"sched: {s} schedules applied with a trigger -> {s} snapshots Ready", f"{time.monotonic() - t0:.1f} s")
    b.wait(lambda: b._all_ready(SCHEDULES, s), 300, "schedules Ready")
    time.sleep(5)  # let the last status patches and retention runs land
    cpu0, t_idle = cpu_seconds(op.proc.pid), time.monotonic()
    time.sleep(idle_seconds)
    cpu = (cpu_seconds(op.proc.pid) - cpu0) / (time.monotonic() - t_idle)
    report(f"sched: operator CPU idle with {s} schedules + {s} snapshots", f"{cpu * 100:.2f} %", "of one core")
    report("sched: operator RSS before / after", f"{rss_before:.0f} / {rss_mb(op.proc.pid):.0f} MB")
    b.delete_all(SCHEDULES)


def bench_secrets(work: Path, count: int = 2000) -> None:
    """Unrelated Secrets must cost the operator nothing: it watches only the Secrets connections reference."""
    cp = ControlPlane(work / "cp-secrets", log=quiet, controller_manager=True)
    cp.start()
    milvus = MilvusServer(work / "milvus-secrets", "--user", TOKEN).start()
    try:
        cluster = cp.cluster()
        cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
        for namespace in (NS, "unrelated"):
            cluster.kubectl("create", "namespace", namespace)
        op = OperatorProcess(cp.kubeconfig, [], work / "secrets.log", OPERATOR_ENV, verbose=False).start()
        cluster.kubectl("apply", "-f", "-", namespace=NS, input=milvus.connection_manifest())
        time.sleep(45)  # started, connected, heap trimmed (every 30 s)
        assert op.proc is not None
        before = rss_mb(op.proc.pid)
        payload = "x" * 8192
        for start in range(0, count, 200):
            items = [
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s-{i}"}, "stringData": {"blob": payload}}
                for i in range(start, min(start + 200, count))
            ]
            body = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
            cluster.kubectl("apply", "--server-side", "-f", "-", namespace="unrelated", input=body)
        time.sleep(45)
        after = rss_mb(op.proc.pid)
        report(f"secrets: operator RSS, cluster-wide, before {count} unrelated 8 KB Secrets", f"{before:.0f} MB")
        report("secrets: ... after them", f"{after:.0f} MB", f"growth {after - before:+.1f} MB, target < 5 MB")
        op.stop()
    finally:
        milvus.stop()
        cp.stop()


def bench_metrics_rss(b: Bench, k: int, rounds: int = 3) -> None:
    """RSS added by /metrics with K resources: the same objects, the operator restarted with metrics off and on
    (alternating, `rounds` each), each settled after the heap trim; with metrics on, scraped every 2 s meanwhile
    as a Prometheus with an aggressive interval would."""
    if b.operator:
        b.operator.stop()
    existing = len(b.items(SNAPSHOTS))
    if existing < k - 1:
        b.start_operator()
        b.apply_objects([snapshot(f"m-{i}") for i in range(k - 1 - existing)])
        b.wait(lambda: b._all_ready(SNAPSHOTS, k - 1), 3600, "metrics bench snapshots Ready")
        assert b.operator is not None
        b.operator.stop()
    live = b.items(f"{SNAPSHOTS},{RESTORES},{SCHEDULES},milvusconnections.snapshot.milvus.io")
    total = len(live)
    report(f"m: Python heap of the metrics index entries for {total} resources", f"{index_heap_kb(live):.0f} KB",
           "tracemalloc, in this process")  # fmt: skip
    rss: dict[bool, list[float]] = {False: [], True: []}
    scrapes: list[float] = []
    body = ""
    for _ in range(rounds):
        for metrics in (False, True):
            op = b.start_operator(metrics=metrics)
            assert op.proc is not None
            deadline = time.monotonic() + 45  # past the 30 s heap trim, as bench d
            while time.monotonic() < deadline:
                if metrics:
                    t0 = time.monotonic()
                    try:
                        body = op.scrape()
                        scrapes.append(time.monotonic() - t0)
                    except OSError:
                        pass  # not serving yet
                time.sleep(2)
            rss[metrics].append(rss_mb(op.proc.pid))
            op.stop()
            b.operator = None
    off, on = statistics.median(rss[False]), statistics.median(rss[True])
    series = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
    report(f"m: operator RSS with {total} resources, /metrics off (median of {rounds})", f"{off:.0f} MB",
           " / ".join(f"{v:.0f}" for v in rss[False]))  # fmt: skip
    report(f"m: operator RSS with {total} resources, /metrics on and scraped", f"{on:.0f} MB",
           " / ".join(f"{v:.0f}" for v in rss[True]))  # fmt: skip
    report("m: RSS added by metrics", f"{on - off:+.1f} MB")
    if scrapes:
        report(
            "m: scrape time, median / max", f"{statistics.median(scrapes) * 1000:.0f} / {max(scrapes) * 1000:.0f} ms"
        )
    report("m: scrape size / series", f"{len(body.encode()) / 1024:.0f} KB / {series}")


def index_heap_kb(items: list[dict[str, Any]]) -> float:
    """What the operator's metrics indexes hold per object (metrics/state.py summaries), measured exactly."""
    import tracemalloc

    from milvus_snapshot_operator.metrics.state import summarize

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [
        summarize(
            i["kind"],
            i["metadata"]["namespace"],
            i["metadata"]["name"],
            i["metadata"],
            i.get("spec") or {},
            i.get("status") or {},
        )
        for i in items
    ]
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(kept) == len(items)
    return used / 1024


SCALE_COUNTS = (1000, 2000, 5000, 10000)
SCALE_COLLECTIONS = 50
SCALE_DRIFT_SECONDS = 60  # shorter than production's 300 s, so that a settled interval is seen in minutes
_REQUEST = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$", re.M)


def api_writes(b: Bench) -> dict[str, float]:
    """The API server's own count of write requests, by resource/subresource and verb."""
    text = b.cluster.kubectl("get", "--raw", "/metrics").stdout
    found: dict[str, float] = {}
    for match in _REQUEST.finditer(text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        if labels.get("verb") not in ("POST", "PATCH", "PUT", "DELETE", "APPLY"):
            continue
        sub = f"/{labels['subresource']}" if labels.get("subresource") else ""
        name = f"{labels['verb']} {labels.get('resource')}{sub}"
        found[name] = found.get(name, 0) + float(match["value"])
    return found


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def snapshots_indexed(op: OperatorProcess) -> int:
    """MilvusSnapshots in the operator's metrics index: every one Kopf has processed at least once."""
    try:
        text = op.scrape()
    except OSError:
        return 0
    found = re.findall(r'^\w+_resources\{kind="MilvusSnapshot"[^}]*\} (\S+)$', text, re.M)
    return int(sum(float(v) for v in found))


def bench_scale(b: Bench, counts: tuple[int, ...], heap: bool, restart: bool, curve: Path) -> None:
    """e: snapshots over 50 collections, grown step by step; f: a restart with all of them."""
    if b.operator:
        b.delete_all(f"{RESTORES},{SNAPSHOTS}")
        b.operator.stop()
    for c in range(SCALE_COLLECTIONS):
        seed.create_books(b.mc, f"scale{c}", rows=50)
    env = {"MSO_DRIFT_CHECK_SECONDS": str(SCALE_DRIFT_SECONDS)}
    op = b.start_operator(env=env, heap=heap)
    assert op.proc is not None
    time.sleep(40)
    points = [{"resources": 1, "rss_mb": rss_mb(op.proc.pid)}]
    report("e: operator RSS, 1 connection, settled", f"{points[0]['rss_mb']:.0f} MB")
    made = 0
    for count in counts:
        objects = [snapshot(f"s-{i}", collectionName=f"scale{i % SCALE_COLLECTIONS}") for i in range(made, count)]
        writes0 = api_writes(b)
        t0 = time.monotonic()
        b.apply_objects(objects)
        applied = time.monotonic() - t0
        b.watch_ready("milvussnapshots", count, 7200)
        took = time.monotonic() - t0
        time.sleep(10)  # trailing writes (events) land
        writes = delta(api_writes(b), writes0)
        operator_writes = sum(writes.values()) - len(objects)  # minus the benchmark's own apply (one PATCH each)
        time.sleep(35)  # past the 30 s heap trim
        rss = rss_mb(op.proc.pid)
        points.append({"resources": count + 1, "rss_mb": rss, "seconds": took})
        report(f"e: +{len(objects)} snapshots -> {count} Ready", f"{took:.0f} s", f"apply {applied:.0f} s, "
               f"{len(objects) / took:.0f}/s")  # fmt: skip
        report(f"e: Kubernetes writes per snapshot ({len(objects)} new)", f"{operator_writes / len(objects):.2f}",
               "target <= 3; " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(writes.items())))  # fmt: skip
        report(f"e: operator RSS with {count + 1} resources, settled", f"{rss:.0f} MB",
               f"peak {rss_mb(op.proc.pid, 'VmHWM'):.0f} MB; target <= 350 MB at 10k")  # fmt: skip
        made = count
        curve.write_text(json.dumps(points, indent=1) + "\n")  # kept step by step: a long run may be cut short
        if heap and isinstance(op, HeapProbeOperator):
            print(op.heap_report(), flush=True)
    cpu0, t_idle, rpc0, writes0 = cpu_seconds(op.proc.pid), time.monotonic(), b.milvus.counters(), api_writes(b)
    time.sleep(2 * SCALE_DRIFT_SECONDS)
    idle = time.monotonic() - t_idle
    cpu = (cpu_seconds(op.proc.pid) - cpu0) / idle
    rpcs = delta({k: float(v) for k, v in b.milvus.counters().items()}, {k: float(v) for k, v in rpc0.items()})
    intervals = idle / SCALE_DRIFT_SECONDS
    report(f"e: operator CPU idle with {made} snapshots (drift every {SCALE_DRIFT_SECONDS} s)", f"{cpu * 100:.2f} %",
           "of one core; target <= 2 %")  # fmt: skip
    report("e: Milvus RPCs per drift interval, settled", f"{sum(rpcs.values()) / intervals:.0f}",
           ", ".join(f"{k} {v / intervals:.0f}" for k, v in sorted(rpcs.items())))  # fmt: skip
    report("e: Kubernetes writes per drift interval, settled",
           f"{sum(delta(api_writes(b), writes0).values()) / intervals:.0f}")  # fmt: skip
    if curve == RSS_JSON:
        draw_rss_curve(points)
    if not restart:
        return
    op.stop()
    time.sleep(5)
    rpc0, writes0 = b.milvus.counters(), api_writes(b)
    op = b.start_operator(env=env, heap=heap)
    t0 = time.monotonic()
    seen_at: float | None = None
    swept_at: float | None = None
    first_minute: tuple[dict[str, float], dict[str, float], float] | None = None
    sweep = re.compile(rf"drift sweep: {made} snapshots, (\d+) listings")
    while time.monotonic() - t0 < 1800 and (seen_at is None or swept_at is None or first_minute is None):
        if seen_at is None and snapshots_indexed(op) >= made:
            seen_at = time.monotonic() - t0
        if swept_at is None and sweep.search(op.text()):
            swept_at = time.monotonic() - t0
        if first_minute is None and time.monotonic() - t0 >= 60:
            counters = {k: float(v) for k, v in b.milvus.counters().items()}
            assert op.proc is not None
            first_minute = (
                delta(counters, {k: float(v) for k, v in rpc0.items()}),
                delta(api_writes(b), writes0),
                rss_mb(op.proc.pid),
            )
        time.sleep(1)
    report(f"f: restart with {made} snapshots: all in the operator's indexes after",
           f"{seen_at:.0f} s" if seen_at is not None else "> 30 min")  # fmt: skip
    report("f: ... every one of them drift-checked once after",
           f"{swept_at:.0f} s" if swept_at is not None else "> 30 min")  # fmt: skip
    rpcs, writes, rss_first = first_minute or ({}, {}, 0.0)
    report("f: Milvus RPCs in the first minute", f"{sum(rpcs.values()):.0f}",
           ", ".join(f"{k} {v:.0f}" for k, v in sorted(rpcs.items())))  # fmt: skip
    report("f: Kubernetes writes in the first minute", f"{sum(writes.values()):.0f}",
           ", ".join(f"{k} {v:.0f}" for k, v in sorted(writes.items())))  # fmt: skip
    report("f: operator RSS after the first minute", f"{rss_first:.0f} MB")
    assert op.proc is not None
    report("f: operator RSS once all were looked at", f"{rss_mb(op.proc.pid):.0f} MB",
           f"peak {rss_mb(op.proc.pid, 'VmHWM'):.0f} MB")  # fmt: skip
    if heap and isinstance(op, HeapProbeOperator):
        time.sleep(35)  # past a heap trim
        print(op.heap_report(), flush=True)


RSS_JSON = REPO / "benchmarks" / "rss.json"
RSS_PNG = REPO / "benchmarks" / "rss.png"


def draw_rss_curve(points: list[dict[str, float]]) -> None:
    """Draw this run's RSS curve, with the one recorded before the change (rss-before.json) if there is one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    before = REPO / "benchmarks" / "rss-before.json"
    if before.exists():
        old = json.loads(before.read_text())
        ax.plot([p["resources"] for p in old["points"]], [p["rss_mb"] for p in old["points"]], "o--", color="grey",
                label=old["label"])  # fmt: skip
    ax.plot([p["resources"] for p in points], [p["rss_mb"] for p in points], "o-", color="C0", label="now")
    ax.axhline(350, color="C3", linestyle=":", label="target at 10k: 350 MB")
    ax.set_xlabel("MilvusSnapshots (50 collections)")
    ax.set_ylabel("operator RSS, settled (MB)")
    if before.exists():  # the before curve is 5x higher: a log scale keeps both readable
        ax.set_yscale("log")
        ax.set_ylim(80, 2500)
        ax.set_yticks([100, 200, 350, 500, 1000, 2000], ["100", "200", "350", "500", "1000", "2000"])
    else:
        ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(RSS_PNG)
    plt.close(fig)
    print(f"RSS curve: {RSS_PNG.relative_to(REPO)}", flush=True)


def bench_make_test() -> None:
    t0 = time.monotonic()
    proc = subprocess.run(["make", "test"], cwd=REPO, capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    summary = (proc.stdout.strip().splitlines() or ["?"])[-1]
    report("test: `make test` warm", f"{elapsed / 60:.1f} min", f"target <= 10 min ({summary})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--only", default="cp,a,b,c,d,sched,m,secrets,e,f", help="comma-separated: cp,a,b,c,d,sched,m,secrets,e,f,test"
    )
    parser.add_argument("--snapshots", type=int, default=200)
    parser.add_argument("--restores", type=int, default=100)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--schedules", type=int, default=100)
    parser.add_argument("--cp-runs", type=int, default=3)
    parser.add_argument("--scale", default=",".join(map(str, SCALE_COUNTS)), help="e: snapshot counts, ascending")
    parser.add_argument("--heap", action="store_true", help="e: operator under tracemalloc, heap report per step")
    parser.add_argument("--operator-env", action="append", default=[], help="KEY=VALUE for the operator (experiments)")
    parser.add_argument("--work", type=Path, default=None, help="keep logs and state here (default: a temp dir)")
    parser.add_argument("--rss-json", type=Path, default=RSS_JSON, help="e: where the RSS curve is recorded")
    args = parser.parse_args()
    only = set(args.only.split(","))
    OPERATOR_ENV.update(dict(kv.split("=", 1) for kv in args.operator_env))
    with tempfile.TemporaryDirectory(prefix="mso-bench-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if "cp" in only:
            bench_control_plane(work, args.cp_runs)
        if "d" in only:
            bench_idle_rss(work)
        if only & {"a", "b", "c", "d", "sched", "m", "e"}:
            b = Bench(work)
            try:
                if "a" in only:
                    bench_snapshots(b, args.snapshots)
                elif b.operator is None:
                    b.start_operator()
                if "b" in only:
                    bench_restores(b, args.restores, poll=2.0)
                if "c" in only:
                    bench_patches(b)
                if "d" in only:
                    bench_rss(b, args.resources)
                if "sched" in only:
                    bench_schedules(b, args.schedules)
                if "m" in only:
                    bench_metrics_rss(b, args.resources)
                if "e" in only:
                    counts = tuple(int(c) for c in args.scale.split(","))
                    bench_scale(b, counts, heap=args.heap, restart="f" in only, curve=args.rss_json)
            finally:
                b.close()
        if "secrets" in only:
            bench_secrets(work)
    if "test" in only:
        bench_make_test()
    return 0


if __name__ == "__main__":
    sys.exit(main())
