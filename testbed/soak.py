"""Chaos soak: snapshot -> restore -> delete lifecycles while the operator is SIGKILLed, the Milvus test server
restarted and kube-apiserver restarted once, then invariants checked from Milvus and from Kubernetes.

`python -m testbed.soak [--lifecycles N] [--seed S]` (`make soak`: 100 lifecycles); tests/e2e/test_soak.py runs
a short one in `make test`. Seeded: the seed is printed first and re-running with it replays the same
choices (the timing of a shared machine still varies). Exits non-zero on any violated invariant. Everything
runs on loopback: its own control plane, Milvus test server and operator process.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import random
import secrets
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import seed
from .cluster import Cluster, wait_until
from .controlplane import ControlPlane
from .processes import REPO, MilvusServer, OperatorProcess

NS = "soak"
GROUP, VERSION = "snapshot.milvus.io", "v1alpha1"
SNAPSHOTS, RESTORES, SCHEDULES = "milvussnapshots", "milvusrestores", "milvussnapshotschedules"
TOKEN = "root:Milvus"
ROWS = 300
OPERATOR_ENV = {"MSO_DRIFT_CHECK_SECONDS": "5"}  # on top of OperatorProcess's test settings


@dataclasses.dataclass
class Report:
    seed: int
    lifecycles: int = 0
    completed: int = 0
    operator_kills: int = 0
    milvus_restarts: int = 0
    apiserver_restarts: int = 0
    triggers: int = 0
    seconds: float = 0.0
    lifecycle_seconds: list[float] = dataclasses.field(default_factory=list)
    rpcs: dict[str, int] = dataclasses.field(default_factory=dict)
    violations: list[str] = dataclasses.field(default_factory=list)

    def lines(self) -> list[str]:
        spans = sorted(self.lifecycle_seconds) or [0.0]
        return [
            f"soak: seed {self.seed}: {self.completed}/{self.lifecycles} lifecycles in {self.seconds:.0f} s",
            f"soak: lifecycle seconds median {spans[len(spans) // 2]:.1f}, max {spans[-1]:.1f}",
            f"soak: chaos: {self.operator_kills} operator SIGKILLs, {self.milvus_restarts} Milvus restarts, "
            f"{self.apiserver_restarts} kube-apiserver restart(s), {self.triggers} schedule triggers",
            "soak: Milvus RPCs received (since its last restart): "
            + ", ".join(f"{k}={v}" for k, v in sorted(self.rpcs.items()) if k.endswith(("Snapshot", "Jobs"))),
            f"soak: {len(self.violations)} invariant violation(s)",
            *(f"soak: VIOLATION {v}" for v in self.violations),
        ]


class Soak:
    def __init__(self, work: Path, seed_value: int, log: Callable[[str], None]) -> None:
        self.work, self.rng, self.log = work, random.Random(seed_value), log
        self.report = Report(seed=seed_value)
        self.lock = threading.Lock()  # chaos and lifecycles share the processes
        self.cp = ControlPlane(work / "cp", controller_manager=True, log=lambda _: None)
        self.milvus = MilvusServer(
            work / "milvus", "--user", TOKEN, "--restore-tick", "0.2", "--restore-duration", "0.6"
        )
        self.operator: OperatorProcess | None = None
        self.cluster: Cluster | None = None
        self._api: Any = None
        self.done = threading.Event()  # the lifecycles are over: no more chaos after the first four actions
        self.calm = threading.Event()  # the chaos thread has stopped acting
        self.aborting = False
        # The chaos thread restarts kube-apiserver, and a child started from a thread gets SIGTERM when that
        # thread ends (procs.spawn's death signal): it lives until the control plane is stopped.
        self.closing = threading.Event()
        self.chaos_thread: threading.Thread | None = None

    # ---- plumbing -------------------------------------------------------------------------------------
    # The official client, not kubectl: five workers polling through kubectl processes were most of the
    # machine's CPU, and the soak must measure the operator, not process start-up.

    def api(self) -> Any:
        from kubernetes import client, config

        if self._api is None:
            api_client = config.new_client_from_config(str(self.cp.kubeconfig))  # type: ignore[no-untyped-call]
            self._api = client.CustomObjectsApi(api_client)
        return self._api

    def call(self, what: str, fn: Callable[[], object], deadline: float = 120) -> object:
        """Retried while the API server is away (its restart is chaos too); a 404 is an answer (None)."""
        from kubernetes.client.exceptions import ApiException

        until = time.monotonic() + deadline
        while True:
            try:
                return fn()
            except ApiException as exc:
                if exc.status == 404:
                    return None
                if exc.status == 409 and what.startswith("create"):
                    return None
                error: Exception = exc
            except Exception as exc:  # connection refused, reset, timeouts while it restarts
                error = exc
            if time.monotonic() > until:
                raise TimeoutError(f"{what}: API server unavailable for {deadline:.0f}s: {error}")
            time.sleep(0.5)

    def objects(self, method: str, *args: object) -> Any:
        """CustomObjectsApi.<method>_namespaced_custom_object for our group in the soak namespace, retried."""
        fn = getattr(self.api(), f"{method}_namespaced_custom_object")
        return self.call(f"{method} {args[:2]}", lambda: fn(GROUP, VERSION, NS, *args))

    def create(self, plural: str, body: dict[str, Any]) -> None:
        self.objects("create", plural, body)

    def delete(self, plural: str, name: str) -> None:
        self.objects("delete", plural, name)

    def get(self, plural: str, name: str) -> dict[str, Any] | None:
        found = self.objects("get", plural, name)
        return found if isinstance(found, dict) else None

    def items(self, plural: str) -> list[dict[str, Any]]:
        """Every object of a kind; raises rather than ever answering "none" because the server was away."""
        found = self.objects("list", plural)
        if not isinstance(found, dict):
            raise RuntimeError(f"list {plural}: no answer")
        return list(found["items"])

    def phase(self, plural: str, name: str) -> str | None:
        obj = self.get(plural, name)
        return None if obj is None else (obj.get("status") or {}).get("phase")

    def note(self, message: str) -> None:
        self.log(f"soak: {time.strftime('%H:%M:%S')} {message}")

    # ---- the run ----------------------------------------------------------------------------------------

    def setup(self) -> None:
        self.cp.start()
        self.cluster = self.cp.cluster()
        self.cluster.kubectl("apply", "-f", str(REPO / "crds"))
        self.cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(REPO / "crds"))
        self.cluster.kubectl("create", "namespace", NS)
        self.milvus.start()
        client = seed.client(self.milvus.uri, TOKEN)
        seed.create_books(client, rows=ROWS)
        client.close()
        self.operator = OperatorProcess(self.cp.kubeconfig, [NS], self.work / "operator.log", OPERATOR_ENV).start()
        self.cluster.kubectl("apply", "-f", "-", namespace=NS, input=self.milvus.connection_manifest())
        schedule = {
            "apiVersion": "snapshot.milvus.io/v1alpha1",
            "kind": "MilvusSnapshotSchedule",
            "metadata": {"name": "books-soak"},
            "spec": {
                "schedule": "* * * * *",
                "template": {"connectionRef": {"name": "milvus"}, "collectionName": "books"},
                "concurrencyPolicy": "Forbid",
                "retention": {"keepLast": 2},
            },
        }
        self.create(SCHEDULES, schedule)

    def lifecycle(self, i: int) -> None:
        started = time.monotonic()
        snap, restore, target = f"life-{i}", f"life-{i}-restore", f"restored_{i}"
        body = {
            "apiVersion": "snapshot.milvus.io/v1alpha1",
            "kind": "MilvusSnapshot",
            "metadata": {"name": snap},
            "spec": {"connectionRef": {"name": "milvus"}, "collectionName": "books", "deletionPolicy": "Delete"},
        }
        self.create(SNAPSHOTS, body)
        wait_until(lambda: self.phase(SNAPSHOTS, snap) in ("Ready", "Failed"), 240, f"{snap} done", interval=0.5)
        restore_body = {
            "apiVersion": "snapshot.milvus.io/v1alpha1",
            "kind": "MilvusRestore",
            "metadata": {"name": restore},
            "spec": {"source": {"snapshotRef": {"name": snap}}, "target": {"collectionName": target}},
        }
        self.create(RESTORES, restore_body)
        wait_until(
            lambda: self.phase(RESTORES, restore) in ("Completed", "Failed"), 300, f"{restore} done", interval=0.5
        )
        if self.phase(RESTORES, restore) == "Completed" and self.phase(SNAPSHOTS, snap) == "Ready":
            with self.lock:
                self.report.completed += 1
                self.report.lifecycle_seconds.append(time.monotonic() - started)
        # The restore stays (its job and target are checked at the end); the snapshot goes (Delete policy).
        self.delete(SNAPSHOTS, snap)

    def chaos(self) -> None:
        """Until the lifecycles are done, every 1-5 s: SIGKILL the operator (restarted 0-2 s later), restart
        Milvus, or trigger the schedule. The first four actions are one of each, kube-apiserver's restart
        among them (its only one), in an order the seed picks: a short run gets every kind of chaos, even when its
        lifecycles end first (the remaining first actions then run a second apart)."""
        actions = ["kill", "apiserver", "milvus", "trigger"]
        self.rng.shuffle(actions)
        while not self.done.wait(self.rng.uniform(1.0, 5.0)) or (actions and not self.aborting):
            if self.done.is_set():
                time.sleep(1.0)
            action = actions.pop(0) if actions else self.rng.choices(["kill", "milvus", "trigger"], [6, 3, 1])[0]
            if action == "apiserver":
                self.note(f"kube-apiserver killed, back after {self.cp.restart_apiserver():.1f}s")
                self.report.apiserver_restarts += 1
            elif action == "kill" and self.operator is not None:
                self.operator.kill()
                self.report.operator_kills += 1
                pause = self.rng.uniform(0.0, 2.0)
                time.sleep(pause)
                self.operator.start()
                self.note(f"operator SIGKILLed, restarted {pause:.1f}s later")
            elif action == "milvus":
                self.milvus.restart()
                self.report.milvus_restarts += 1
                self.note("Milvus test server restarted")
            else:
                patch = {"metadata": {"annotations": {"snapshot.milvus.io/trigger": str(time.time_ns())}}}
                self.objects("patch", SCHEDULES, "books-soak", patch)
                self.report.triggers += 1
                self.note("schedule triggered")
        self.calm.set()
        self.closing.wait()

    def run(self, lifecycles: int, concurrency: int) -> Report:
        t0 = time.monotonic()
        self.report.lifecycles = lifecycles
        queue = collections.deque(range(lifecycles))
        errors: list[str] = []

        def worker() -> None:
            while True:
                with self.lock:
                    if not queue:
                        return
                    i = queue.popleft()
                try:
                    self.lifecycle(i)
                except Exception as exc:  # a lifecycle that never finished is a violation, not a crash
                    errors.append(f"lifecycle {i}: {type(exc).__name__}: {exc}")

        self.chaos_thread = threading.Thread(target=self.chaos, daemon=True)
        self.chaos_thread.start()
        workers = [threading.Thread(target=worker) for _ in range(concurrency)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        self.done.set()
        self.calm.wait()
        if self.operator is not None and not self.operator.alive():
            self.operator.start()
        self.report.violations.extend(errors)
        self.settle()
        self.check()
        self.report.seconds = time.monotonic() - t0
        self.report.rpcs = self.milvus.counters()
        return self.report

    def settle(self, timeout: float = 240) -> None:
        """After the chaos: everything reaches an end state (deletions included) before anything is judged."""

        def everything() -> list[dict[str, Any]]:
            return [*self.items(SCHEDULES), *self.items(RESTORES), *self.items(SNAPSHOTS)]

        def quiet() -> bool:
            items = everything()
            return all(
                not i["metadata"].get("deletionTimestamp")
                and (
                    (i.get("status") or {}).get("phase") in ("Ready", "Failed", "Completed")
                    or i["kind"].endswith("Schedule")
                )
                for i in items
            )

        try:
            wait_until(quiet, timeout, "resources settle", interval=0.5)
        except AssertionError:  # wait_until's time-out
            stuck = [
                f"{i['kind']}/{i['metadata']['name']} phase={(i.get('status') or {}).get('phase')}"
                f" deleting={bool(i['metadata'].get('deletionTimestamp'))}"
                for i in everything()
            ]
            self.report.violations.append(f"not settled after {timeout:.0f}s: {stuck}")

    def check(self) -> None:
        """The invariants, from Kubernetes and from Milvus."""
        violations = self.report.violations
        client = seed.client(self.milvus.uri, TOKEN)
        try:
            snapshots = self.items(SNAPSHOTS)
            restores = self.items(RESTORES)
            if not self.items(SCHEDULES):
                violations.append("the schedule is gone: the lists cannot be trusted")
            for item in [*snapshots, *restores]:
                status = item.get("status") or {}
                if status.get("phase") == "Failed":
                    error = status.get("error") or {}
                    what = f"{item['kind']}/{item['metadata']['name']}"
                    violations.append(f"{what} Failed: {error.get('reason')}: {error.get('message')}")
            in_milvus = set(client.list_snapshots(collection_name="books"))
            owned = {(s.get("status") or {}).get("snapshotName") for s in snapshots}
            for orphan in sorted(in_milvus - owned):
                violations.append(f"Milvus snapshot {orphan!r} has no MilvusSnapshot (an orphan)")
            for item in snapshots:
                status = item.get("status") or {}
                if status.get("phase") == "Ready" and status.get("snapshotName") not in in_milvus:
                    violations.append(f"MilvusSnapshot/{item['metadata']['name']} is Ready but missing in Milvus")
            jobs = collections.Counter(job.collection_name for job in client.list_restore_snapshot_jobs())
            for item in restores:
                target = item["spec"]["target"]["collectionName"]
                if jobs[target] > 1:
                    violations.append(
                        f"MilvusRestore/{item['metadata']['name']}: {jobs[target]} restore jobs into {target}"
                    )
                if (item.get("status") or {}).get("phase") == "Completed":
                    rows = int(client.get_collection_stats(target)["row_count"])
                    if rows != ROWS:
                        violations.append(f"{target}: {rows} rows restored, the source had {ROWS}")
        finally:
            client.close()

    def close(self) -> None:
        self.aborting = True  # an early close (a failed setup or run): no chaos left to finish
        self.done.set()
        if self.chaos_thread is not None:
            self.calm.wait()
        if self.operator is not None:
            self.operator.stop()
        self.milvus.stop()
        self.cp.stop()
        self.closing.set()
        if self.chaos_thread is not None:
            self.chaos_thread.join()


def run(
    work: Path, lifecycles: int, seed_value: int | None = None, concurrency: int = 5, log: Callable[[str], None] = print
) -> Report:
    chosen = seed_value if seed_value is not None else secrets.randbelow(2**31)
    log(f"soak: seed {chosen} (replay with --seed {chosen}), {lifecycles} lifecycles, {concurrency} at a time")
    soak = Soak(work, chosen, log)
    try:
        soak.setup()
        report = soak.run(lifecycles, concurrency)
    finally:
        soak.close()
    for line in report.lines():
        log(line)
    return report


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m testbed.soak", description=__doc__)
    parser.add_argument("--lifecycles", type=int, default=100)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mso-soak-") as tmp:
        report = run(Path(tmp), args.lifecycles, args.seed, args.concurrency)
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
