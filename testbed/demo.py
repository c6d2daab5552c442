"""`make demo`: control plane + Milvus test server + operator + examples/, ending with a verified restore.

Everything runs on loopback and keeps running afterwards so you can try things; `make demo-down` (this module
with --down) stops it all. Re-running is safe: the demo namespace's resources are deleted through the
operator (so finalizers run), the demo collections are dropped and seeded again, and processes that are
still up are reused.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from testbed import procs, seed
from testbed.processes import REPO, child_env
from testbed.tools import find_tools, missing_report

WORKDIR = REPO / ".testbed"
DEMO = WORKDIR / "demo"
STATE = DEMO / "state.json"
NAMESPACE = "mso-demo"
PORT = 19530  # the URI in examples/connection.yaml
METRICS_PORT = 19090  # the operator's /metrics, on loopback
TOKEN = "root:Milvus"  # the demo server's root password, as in examples/connection.yaml
KINDS = ",".join(
    f"{plural}.snapshot.milvus.io"
    for plural in ("milvusrestores", "milvussnapshots", "milvussnapshotschedules", "milvusconnections")
)
COLLECTIONS = ("books", "books_restored", "books_restored_by_name", "books_serving")
ALIAS = "library"  # what applications query: examples/restore-cutover.yaml points it at the restored collection
TIMEOUT = 240.0


def say(message: str) -> None:
    print(f"demo {time.strftime('%H:%M:%S')}  {message}", flush=True)


class Demo:
    def __init__(self) -> None:
        tools = find_tools()
        if problem := missing_report("kubectl", "etcd", "kube_apiserver", "kube_controller_manager", tools=tools):
            raise SystemExit(f"demo: {problem}")
        self.kubectl_path = str(tools.kubectl)
        self.kubeconfig = ""
        self.state: dict[str, Any] = json.loads(STATE.read_text()) if STATE.exists() else {}

    # ---- processes -------------------------------------------------------------------------------------

    def control_plane(self) -> None:
        say("starting the Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager)")
        proc = subprocess.run(
            [sys.executable, "-m", "testbed", "up", "--workdir", str(WORKDIR)],
            cwd=REPO, env=child_env(), stdout=subprocess.PIPE, text=True, check=True,
        )  # fmt: skip
        self.kubeconfig = proc.stdout.strip().rsplit("export KUBECONFIG=", 1)[1].splitlines()[0]

    def background(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> procs.ProcRef:
        """Start (or reuse) a long-lived process that outlives this script; its identity goes to state.json."""
        known = self.state.get(name)
        if known and (ref := procs.ProcRef.from_json(known)).alive():
            say(f"{name} already running (pid {ref.pid}), reusing it")
            return ref
        log = DEMO / f"{name}.log"
        with log.open("ab") as out:
            child = subprocess.Popen(
                argv, cwd=REPO, env=child_env(env), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        ref = procs.ProcRef.of(name, child.pid)
        self.state[name] = ref.to_json()
        STATE.write_text(json.dumps(self.state, indent=2))
        say(f"{name} started (pid {ref.pid}, log {log.relative_to(REPO)})")
        return ref

    def milvus(self) -> None:
        if not self._alive("milvusd") and _port_busy(PORT):
            raise SystemExit(f"demo: 127.0.0.1:{PORT} is taken by another process; the examples expect Milvus there")
        self.background(
            "milvusd",
            [sys.executable, "-m", "testbed.milvusd", "--port", str(PORT), "--data", str(DEMO / "milvus"),
             "--user", TOKEN],
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not _port_busy(PORT):
            if time.monotonic() > deadline or not self._alive("milvusd"):
                raise SystemExit(f"demo: Milvus test server did not start; see {DEMO / 'milvusd.log'}")
            time.sleep(0.2)

    def operator(self) -> None:
        self.background(
            "operator",
            [
                sys.executable,
                "-m",
                "milvus_snapshot_operator",
                "-n",
                NAMESPACE,
                "--log-format",
                "plain",
                "--metrics-bind-address",
                f"127.0.0.1:{METRICS_PORT}",
            ],
            {"KUBECONFIG": self.kubeconfig, "MSO_RESTORE_POLL_SECONDS": "1"},
        )

    def _alive(self, name: str) -> bool:
        known = self.state.get(name)
        return known is not None and procs.ProcRef.from_json(known).alive()

    # ---- Kubernetes --------------------------------------------------------------------------------------

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [self.kubectl_path, "--kubeconfig", self.kubeconfig, *args]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if check and proc.returncode:
            raise SystemExit(f"demo: kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def prepare(self) -> None:
        self.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(REPO / "crds"))
        if self.kubectl("get", "namespace", NAMESPACE, check=False).returncode:
            self.kubectl("create", "namespace", NAMESPACE)
        elif self.kubectl("get", KINDS, "-n", NAMESPACE, "-o", "name").stdout.strip():
            say(f"removing the previous run's resources from namespace {NAMESPACE} (the operator runs finalizers)")
            self.kubectl("delete", KINDS, "--all", "-n", NAMESPACE, "--timeout=120s")

    def seed(self) -> Any:
        mc = seed.client(f"http://127.0.0.1:{PORT}", TOKEN)
        mc.drop_alias(ALIAS)  # a previous run's (Milvus refuses to drop an aliased collection)
        for name in COLLECTIONS:
            if mc.has_collection(name):
                mc.drop_collection(name)
        seed.create_books(mc)
        mc.create_alias("books", ALIAS)
        say(f"collection 'books': 300 rows of 8-dim vectors, flushed, indexed, loaded; alias {ALIAS!r} -> books")
        return mc

    def apply_examples(self) -> None:
        for path in sorted((REPO / "examples").glob("*.yaml")):
            out = self.kubectl("apply", "-n", NAMESPACE, "-f", str(path)).stdout.strip()
            for line in out.splitlines():
                say(f"kubectl apply -f examples/{path.name}: {line}")

    def watch(self) -> None:
        """Print every status change of the demo resources until the examples' documented end states."""
        seen: dict[str, str] = {}
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            items = json.loads(self.kubectl("get", KINDS, "-n", NAMESPACE, "-o", "json").stdout)["items"]
            done = bool(items)
            for item in items:
                key = f"{item['kind']}/{item['metadata']['name']}"
                line, finished = describe(item)
                if seen.get(key) != line:
                    seen[key] = line
                    say(f"{key:<44} {line}")
                done &= finished
                if item.get("status", {}).get("phase") == "Failed":
                    raise SystemExit(f"demo: {key} failed: {json.dumps(item['status'].get('error'))}")
            if done:
                return
            time.sleep(0.3)
        raise SystemExit(f"demo: not done after {TIMEOUT:.0f}s; see {DEMO / 'operator.log'}")

    def verify(self, mc: Any) -> None:
        expected_rows, expected_hits = seed.row_count(mc, "books"), seed.hits(mc, "books")
        for target in COLLECTIONS[1:3]:
            seed.load(mc, target)
            rows, hits = seed.row_count(mc, target), seed.hits(mc, target)
            if (rows, hits) != (expected_rows, expected_hits):
                raise SystemExit(f"demo: {target} differs from books: {rows} rows, hits {hits} vs {expected_hits}")
            say(f"VERIFIED {target}: {rows} rows and the same top-5 hits for 5 queries as 'books'")
        # What an application does: query the alias, never the collection (no load needed: the operator did it).
        serving = mc.describe_alias(ALIAS)["collection_name"]
        rows, hits = seed.row_count(mc, ALIAS), seed.hits(mc, ALIAS)
        if (serving, rows, hits) != ("books_serving", expected_rows, expected_hits):
            raise SystemExit(f"demo: alias {ALIAS} -> {serving}: {rows} rows, hits {hits}")
        say(f"SERVING through alias {ALIAS!r} -> {serving!r}: {rows} rows, the same top-5 hits as 'books'")


def describe(item: dict[str, Any]) -> tuple[str, bool]:
    """One line for a resource's status, and whether it reached its end state."""
    status = item.get("status") or {}
    ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), None)
    cond = f"Ready={ready['status']} ({ready['reason']})" if ready else "Ready=?"
    parts = [f"phase={status['phase']}"] if "phase" in status else []
    if item["kind"] == "MilvusRestore" and "jobId" in status:
        parts += [f"job={status['jobId']}", f"state={status.get('state')}", f"progress={status.get('progress')}%"]
    if item["kind"] == "MilvusSnapshot" and status.get("snapshotName"):
        parts += [f"milvus={status['snapshotName']}"]
    if item["kind"] == "MilvusSnapshotSchedule" and status.get("nextScheduleTime"):
        parts += [f"next={status['nextScheduleTime']}"]
    if item["kind"] == "MilvusConnection" and status.get("serverVersion"):
        parts += [f"server={status['serverVersion']}"]
    finished = status.get("phase") == "Completed" if item["kind"] == "MilvusRestore" else cond.startswith("Ready=True")
    return " ".join([*parts, cond]), finished


def _port_busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def up() -> int:
    DEMO.mkdir(parents=True, exist_ok=True)
    demo = Demo()
    demo.control_plane()
    demo.milvus()
    demo.operator()
    demo.prepare()
    mc = demo.seed()
    demo.apply_examples()
    demo.watch()
    demo.verify(mc)
    mc.close()
    print(
        f"""
The demo is still running. Try:
  export KUBECONFIG={demo.kubeconfig} PATH={Path(demo.kubectl_path).parent}:$PATH
  kubectl get milvus-snapshots -n {NAMESPACE}              # every kind in the milvus-snapshots category
  kubectl describe milvusrestore books-restore -n {NAMESPACE}   # status, conditions and events
  kubectl annotate --overwrite mrestore books-serving -n {NAMESPACE} snapshot.milvus.io/rollback=now  # alias back
  kubectl explain milvussnapshot.spec
  kubectl delete milvussnapshot books-nightly -n {NAMESPACE}    # drops books_nightly in Milvus
  kubectl annotate --overwrite msched books-daily -n {NAMESPACE} snapshot.milvus.io/trigger="$(date +%s)"  # run now
  curl -s 127.0.0.1:{METRICS_PORT}/metrics | grep ^milvus_snapshot_      # the operator's Prometheus metrics
  tail -f {DEMO.relative_to(REPO)}/operator.log
Stop everything with: make demo-down""",
        flush=True,
    )
    return 0


def down() -> int:
    state: dict[str, Any] = json.loads(STATE.read_text()) if STATE.exists() else {}
    for name in ("operator", "milvusd"):
        if name in state:
            say(f"{name}: {procs.terminate(procs.ProcRef.from_json(state[name]))}")
    STATE.unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "testbed", "down", "--workdir", str(WORKDIR)], cwd=REPO, env=child_env())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--down", action="store_true", help="stop the operator, Milvus and the control plane")
    args = parser.parse_args(argv)
    return down() if args.down else up()


if __name__ == "__main__":
    sys.exit(main())
