"""A real Kubernetes control plane on loopback, envtest-style: etcd, kube-apiserver, kube-controller-manager.

No kubelet, scheduler or workload controllers: objects are real (RBAC, admission, CRD schemas, status
subresources, finalizers, watches), Pods never run. Unlike envtest we also run a trimmed controller-manager,
so namespaces finish deleting, ownerReferences are garbage-collected and every namespace gets its
`default` ServiceAccount, which is what an operator's finalizers and owned objects depend on.
With `for_node=True` it also runs the controllers a Deployment needs, for testbed/node.py's kubelet.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testbed import procs
from testbed.certs import Certs, admin_tls, ensure_certs
from testbed.cluster import Cluster
from testbed.ports import free_ports
from testbed.tools import Tools, find_tools, missing_report

SHM = Path("/dev/shm")
SHM_PREFIX = "mso-testbed-etcd-"
SERVICE_CIDR = "10.0.0.0/24"
# Canonical 1.33 names of the controllers that make namespaces, ownerReferences and ServiceAccounts behave.
CONTROLLERS = ",".join(
    [
        "namespace-controller",
        "garbage-collector-controller",
        "serviceaccount-controller",
        "serviceaccount-token-controller",
    ]
)
# What a chart's Deployment needs on a real node: Deployments and ReplicaSets make pods, disruption serves the
# PDB, node-lifecycle lifts the not-ready taint, and root-ca-certificate-publisher writes the kube-root-ca.crt
# ConfigMap that every projected ServiceAccount token volume mounts.
NODE_CONTROLLERS = ",".join(
    [
        "deployment-controller",
        "replicaset-controller",
        "disruption-controller",
        "node-lifecycle-controller",
        "root-ca-certificate-publisher-controller",
    ]
)


class ControlPlaneError(RuntimeError):
    """Start-up failed; the message carries the failing component's log path and its last lines."""


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class ControlPlane:
    """Start/stop the control plane with all state under `workdir` (logs, certs, kubeconfig).

    controller_manager: True requires it, False never runs it, None (default) runs it when built and
    otherwise starts in a loudly logged degraded mode (namespaces never finish deleting, no GC).
    for_node: ready for a kubelet (testbed/node.py): requires the controller-manager and adds NODE_CONTROLLERS.
    """

    def __init__(
        self,
        workdir: Path | str,
        *,
        tools: Tools | None = None,
        controller_manager: bool | None = None,
        for_node: bool = False,
        ready_timeout: float = 90.0,
        log: Callable[[str], None] = _stderr,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.tools = tools or find_tools()
        self.ready_timeout = ready_timeout
        self._log = log
        self.for_node = for_node
        controller_manager = True if for_node else controller_manager
        required = ["etcd", "kube_apiserver"] + (["kube_controller_manager"] if controller_manager else [])
        if problem := missing_report(*required, tools=self.tools):
            raise ControlPlaneError(problem)
        self._kcm_disabled = controller_manager is False
        self.with_controller_manager = controller_manager is not False and not self.tools.missing(
            "kube_controller_manager"
        )
        self.certs: Certs = Certs.in_dir(self.workdir / "pki")
        self.kubeconfig = self.workdir / "kubeconfig"
        self.ports: dict[str, int] = {}
        self.processes: dict[str, procs.ProcRef] = {}
        self._popen: dict[str, subprocess.Popen[bytes]] = {}
        self.etcd_data_dir: Path | None = None
        self.start_seconds: float | None = None
        self._t0 = 0.0

    # -- public API ------------------------------------------------------------------------------------

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def degraded(self) -> bool:
        return not self.with_controller_manager

    def log_path(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    def cluster(self) -> Cluster:
        return Cluster(
            self.kubeconfig, self.server, self.tools.kubectl, self.workdir / "kubectl-cache", degraded=self.degraded
        )

    def start(self) -> None:
        """Start everything, or stop what was started and raise ControlPlaneError."""
        if self.processes:
            raise ControlPlaneError("already started")
        self._t0 = time.monotonic()
        atexit.register(self.stop)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - self._t0
        self._progress(f"control plane ready at {self.server} in {self.start_seconds:.1f}s")

    def stop(self) -> None:
        """Stop in reverse dependency order (SIGTERM, SIGKILL as fallback) and delete the tmpfs etcd data."""
        atexit.unregister(self.stop)
        for name in reversed(list(self.processes)):
            outcome = procs.terminate(self.processes[name], proc=self._popen.get(name))
            self._log(f"testbed: {name} (pid {self.processes[name].pid}) {outcome}")
        self.processes.clear()
        self._popen.clear()
        if self.etcd_data_dir is not None:
            shutil.rmtree(self.etcd_data_dir, ignore_errors=True)
            self.etcd_data_dir = None

    def restart_apiserver(self) -> float:
        """Stop kube-apiserver and start it again on the same port, as an upgrade or a crash would (etcd and
        the controller-manager stay). Returns the seconds it was away. Call it from a thread that outlives
        the control plane: the new process gets SIGTERM when the thread that started it ends."""
        t0 = time.monotonic()
        name = "kube-apiserver"
        # SIGKILL at once: a graceful stop waits up to a minute for open watches to drain.
        outcome = procs.terminate(self.processes.pop(name), timeout=0, proc=self._popen.pop(name, None))
        self._log(f"testbed: {name} {outcome} (restart)")
        self._start_apiserver(self.ports["apiserver"])
        return time.monotonic() - t0

    def dead(self) -> list[str]:
        """Components that exited on their own (the supervisor polls this)."""
        return [name for name, ref in self.processes.items() if not ref.alive()]

    def describe(self) -> dict[str, Any]:
        """JSON-able state for the CLI's state file."""
        return {
            "server": self.server,
            "kubeconfig": str(self.kubeconfig),
            "ports": self.ports,
            "processes": {name: ref.to_json() for name, ref in self.processes.items()},
            "logs": {name: str(self.log_path(name)) for name in self.processes},
            "etcd_data_dir": str(self.etcd_data_dir),
            "degraded": self.degraded,
            "start_seconds": self.start_seconds,
        }

    # -- start-up steps --------------------------------------------------------------------------------

    def _start(self) -> None:
        sweep_stale_etcd_dirs()
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        ensure_certs(self.certs.dir)
        self._progress("certificates ready")
        etcd, peer, apiserver, kcm = free_ports(4)
        self.ports = {"etcd": etcd, "etcd_peer": peer, "apiserver": apiserver}
        self._start_etcd(etcd, peer)
        self._start_apiserver(apiserver)
        self.write_kubeconfig(self.kubeconfig)
        if self.with_controller_manager:
            self.ports["controller_manager"] = kcm
            self._start_controller_manager(kcm)
        else:
            why = "disabled" if self._kcm_disabled else f"missing ({self.tools.kube_controller_manager})"
            self._progress(
                f"DEGRADED: kube-controller-manager {why}: no namespace deletion, garbage collection or "
                "default ServiceAccounts; build it with testbed/build-k8s.sh"
            )

    def _start_etcd(self, port: int, peer: int) -> None:
        # Debian's etcd 3.4 has no --unsafe-no-fsync, so put the data on tmpfs to make fsync free.
        base = SHM if SHM.is_dir() else self.workdir
        self.etcd_data_dir = base / f"{SHM_PREFIX}{os.getpid()}-{os.urandom(4).hex()}"
        client, peer_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{peer}"
        self._spawn("etcd", [
            str(self.tools.etcd), "--name=testbed", f"--data-dir={self.etcd_data_dir}",
            f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=testbed={peer_url}", "--logger=zap", "--log-outputs=stderr",
        ])  # fmt: skip
        self._wait("etcd", f"{client}/health", None, timeout=30)

    def _start_apiserver(self, port: int) -> None:
        c = self.certs
        # With the controller-manager present the ServiceAccount admission plugin stays on (as in a real
        # cluster, Pods get their SA token volume); envtest must disable it: nothing creates `default`.
        admission = [] if self.with_controller_manager else ["--disable-admission-plugins=ServiceAccount"]
        self._spawn("kube-apiserver", [
            str(self.tools.kube_apiserver),
            "--advertise-address=127.0.0.1", "--bind-address=127.0.0.1", f"--secure-port={port}",
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            f"--tls-cert-file={c.server_crt}", f"--tls-private-key-file={c.server_key}",
            f"--client-ca-file={c.ca_crt}",
            f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",  # no kubelets, so the Node authorizer would only add watches
            f"--service-account-issuer=https://127.0.0.1:{port}",
            f"--service-account-key-file={c.sa_pub}", f"--service-account-signing-key-file={c.sa_key}",
            # The `kubernetes` Service's Endpoints may not point at loopback: skip them instead of logging an
            # "Invalid value: 127.0.0.1" error every 10 s. The Service itself is still created.
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true", "--profiling=false", *admission,
            # `kubectl logs/exec` reach a kubelet as admin (the kubelet trusts our CA); nodes are dialled by
            # hostname first, which resolves to loopback (see node.py).
            f"--kubelet-client-certificate={c.admin_crt}", f"--kubelet-client-key={c.admin_key}",
        ])  # fmt: skip
        self._wait("kube-apiserver", f"{self.server}/readyz", admin_tls(self.certs), timeout=self.ready_timeout)

    def _start_controller_manager(self, port: int) -> None:
        # Its own kubeconfig file, so a user editing the admin one (e.g. `kubectl config set-context`)
        # cannot change what the controller-manager talks to.
        kcm_kubeconfig = self.workdir / "controller-manager.kubeconfig"
        self.write_kubeconfig(kcm_kubeconfig)
        self._spawn("kube-controller-manager", [
            str(self.tools.kube_controller_manager), f"--kubeconfig={kcm_kubeconfig}",
            f"--authentication-kubeconfig={kcm_kubeconfig}", f"--authorization-kubeconfig={kcm_kubeconfig}",
            f"--controllers={CONTROLLERS}{',' + NODE_CONTROLLERS if self.for_node else ''}",
            f"--service-account-private-key-file={self.certs.sa_key}", f"--root-ca-file={self.certs.ca_crt}",
            "--use-service-account-credentials=false",  # act as admin: no per-controller RBAC needed
            "--leader-elect=false", "--bind-address=127.0.0.1", f"--secure-port={port}",
            f"--cert-dir={self.workdir / 'controller-manager-certs'}", "--profiling=false",
        ])  # fmt: skip
        # It serves a self-signed cert; /healthz is on its always-allowed paths, so no client cert needed.
        self._wait("kube-controller-manager", f"https://127.0.0.1:{port}/healthz", insecure_tls(), timeout=30)

    # -- helpers ---------------------------------------------------------------------------------------

    def _progress(self, message: str) -> None:
        self._log(f"testbed: [{time.monotonic() - self._t0:5.1f}s] {message}")

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = self.log_path(name)
        log.unlink(missing_ok=True)
        self._popen[name], self.processes[name] = procs.spawn(name, argv, log)
        self._progress(f"started {name} (pid {self.processes[name].pid}, log {log})")

    def _wait(self, name: str, url: str, ctx: ssl.SSLContext | None, timeout: float) -> None:
        """Poll `url` until it answers 200, failing early (with the log tail) if the process exits."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while True:
            proc = self._popen[name]
            if proc.poll() is not None:
                self._fail(name, f"exited with code {proc.returncode} before becoming ready")
            ok, last = probe(url, ctx)
            if ok:
                self._progress(f"{name} ready ({url})")
                return
            if time.monotonic() > deadline:
                self._fail(name, f"not ready after {timeout:.0f}s ({url}: {last})")
            time.sleep(0.1)

    def _fail(self, name: str, reason: str) -> None:
        log = self.log_path(name)
        raise ControlPlaneError(f"{name} {reason}; log: {log}\n--- last 40 lines of {log} ---\n{procs.tail(log)}")

    def write_kubeconfig(self, path: Path) -> None:
        """Admin kubeconfig with embedded certs (JSON is valid YAML; kubectl, Kopf and client-go read it)."""

        def b64(p: Path) -> str:
            return base64.b64encode(p.read_bytes()).decode()

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "testbed",
                    "cluster": {"server": self.server, "certificate-authority-data": b64(self.certs.ca_crt)},
                }
            ],
            "users": [
                {
                    "name": "admin",
                    "user": {
                        "client-certificate-data": b64(self.certs.admin_crt),
                        "client-key-data": b64(self.certs.admin_key),
                    },
                }
            ],
            "contexts": [{"name": "testbed", "context": {"cluster": "testbed", "user": "admin"}}],
            "current-context": "testbed",
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(config, indent=2) + "\n")
        tmp.chmod(0o600)
        tmp.replace(path)


def probe(url: str, ctx: ssl.SSLContext | None, timeout: float = 2.0) -> tuple[bool, str]:
    """(answered 200, short description); used for readiness polling and `status`."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=ctx) as resp:
            return resp.status == 200, f"HTTP {resp.status}"
    except urllib.error.HTTPError as e:
        return False, f"HTTP {e.code}"
    except (OSError, ssl.SSLError) as e:
        return False, str(getattr(e, "reason", e))


def insecure_tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def sweep_stale_etcd_dirs() -> None:
    """Remove tmpfs etcd data left by testbeds whose owning process died without cleaning up (SIGKILL)."""
    if not SHM.is_dir():
        return
    for path in SHM.glob(f"{SHM_PREFIX}*"):
        pid = path.name[len(SHM_PREFIX) :].split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)
