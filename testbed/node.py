"""A real node beside the control plane: containerd + runc + CNI from Debian, kubelet + kube-scheduler built
like the control plane. Pods really run: images from the local store, probes, security contexts, memory
limits, projected ServiceAccount tokens, `kubectl logs/exec`.

Every setting below was a failure first on this machine kind (root without CAP_SYS_RESOURCE, cgroup v1, no
systemd): see the README's "Node tier". Traffic stays on loopback and on the node's own pod bridge: the kubelet
listens on 127.0.0.1 and is dialled by hostname (which resolves to loopback), the node's InternalIP is the
bridge's gateway, and pods reach the loopback-only API server and Milvus through testbed/relay.py on that
gateway. One node per machine (a lock); host changes are recorded before start and undone on stop
(testbed/hostchanges.py), also after a run that was killed: the next start sweeps them first.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from testbed import hostchanges, podnet, procs
from testbed.cluster import Cluster
from testbed.controlplane import ControlPlane, ControlPlaneError, insecure_tls, probe
from testbed.images import PAUSE_IMAGE, Buildah, ensure_pause
from testbed.ports import free_ports

LOCK = Path("/run/lock/mso-testbed-node.lock")
# What a running node changed, for the sweep after a run that could not clean up (SIGKILL).
RECORD = Path("/run/lock/mso-testbed-node.json")
CNI_BIN = Path("/usr/lib/cni")
HOST_COMMANDS = ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "ip", "mount", "umount")
CNI_PLUGINS = ("bridge", "host-local", "loopback")
INSTALL = "testbed/install-tools.sh"


class NodeError(ControlPlaneError):
    """The node could not start; the message names the component, its log and its last lines."""


def unavailable() -> str | None:
    """Why a node cannot run here (with the command that fixes it), or None."""
    if os.geteuid() != 0:
        return "the node tier needs root (the kubelet manages cgroups, mounts and network namespaces)"
    missing = [cmd for cmd in HOST_COMMANDS if not shutil.which(cmd)]
    missing += [f"CNI plugin {p}" for p in CNI_PLUGINS if not (CNI_BIN / p).exists()]
    if missing:
        return f"missing {', '.join(missing)}; install with: {INSTALL}"
    return None


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Node:
    """containerd, kubelet, kube-scheduler and the relay, with their state under `workdir`."""

    def __init__(self, cp: ControlPlane, workdir: Path, *, log: Callable[[str], None] = _stderr) -> None:
        if not cp.for_node:
            raise NodeError("the control plane must be started with for_node=True")
        if problem := unavailable() or _tools_missing(cp):
            raise NodeError(problem)
        self.cp = cp
        self.workdir = workdir.resolve()
        self.name = socket.gethostname()  # resolves to loopback here; see the module docstring
        self._log = log
        self.socket = self.workdir / "containerd" / "containerd.sock"
        self.ports: dict[str, int] = {}
        self.processes: dict[str, procs.ProcRef] = {}
        self._popen: dict[str, subprocess.Popen[bytes]] = {}
        self._lock: IO[str] | None = None
        self.before: hostchanges.HostState | None = None  # the machine before start; None when not running
        self.stopped_from: hostchanges.HostState | None = None
        self.start_seconds: float | None = None
        self._t0 = 0.0

    # -- public API ------------------------------------------------------------------------------------

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._acquire_lock()
        atexit.register(self.stop)
        try:
            sweep(lock_held=True)
            self.before = hostchanges.take()
            self._record()
            self._start()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - self._t0
        self._progress(f"node {self.name} Ready in {self.start_seconds:.1f}s")

    def stop(self) -> list[str]:
        """Remove every pod, stop everything, undo every host change; return what teardown had to undo."""
        atexit.unregister(self.stop)
        actions: list[str] = []
        if self.before is None:
            self._release_lock()
            return actions
        try:
            if "kubelet" in self.processes and self.processes["kubelet"].alive():
                self._drain()
            for name in reversed(list(self.processes)):
                if name != "containerd":
                    self._log(f"node: {name} {procs.terminate(self.processes[name], proc=self._popen.get(name))}")
            actions += self._remove_containers()
            if "containerd" in self.processes:
                outcome = procs.terminate(self.processes["containerd"], proc=self._popen.get("containerd"))
                self._log(f"node: containerd {outcome}")
            actions += kill_shims(self.socket)
            actions += hostchanges.undo(self.before, [self.workdir])
            for action in actions:
                self._log(f"node: teardown: {action}")
        finally:
            self.processes.clear()
            self._popen.clear()
            RECORD.unlink(missing_ok=True)
            # Stopped: a second stop() must not touch what another node may have set up since.
            self.stopped_from, self.before = self.before, None
            self._release_lock()
        return actions

    def leftovers(self) -> list[str]:
        """What the node changed on this machine and did not put back (call after stop)."""
        return hostchanges.leftovers(self.stopped_from) if self.stopped_from else []

    def dead(self) -> list[str]:
        return [name for name, ref in self.processes.items() if not ref.alive()]

    def log_path(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    def ctr(self, *args: str, timeout: float = 300) -> str:
        argv = ["ctr", f"--address={self.socket}", "--namespace=k8s.io", *args]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode:
            raise NodeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def import_image(self, archive: Path) -> None:
        """A docker-archive into containerd's k8s.io namespace, where the kubelet finds it (no pull)."""
        start = time.monotonic()
        self.ctr("images", "import", "--no-unpack=false", str(archive), timeout=600)
        self._progress(f"imported {archive.name} in {time.monotonic() - start:.1f}s")

    def tag_image(self, source: str, target: str) -> None:
        """Another name for an imported image (a new tag to roll a Deployment to, without a second import)."""
        self.ctr("images", "tag", "--force", source, target)

    def relay(self, *ports: int) -> str:
        """Make 127.0.0.1:<port> reachable from pods as <gateway>:<port>; returns the gateway address."""
        name = f"relay-{'-'.join(map(str, ports))}"
        if name not in self.processes:
            argv = [sys.executable, "-m", "testbed.relay", "--listen", podnet.GATEWAY, *map(str, ports)]
            self._spawn(name, argv, env={"PYTHONPATH": str(Path(__file__).resolve().parents[1])})
            self._wait_log(name, "relay ready", 30)
            self._record()
        return podnet.GATEWAY

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "workdir": str(self.workdir),
            "ports": self.ports,
            "processes": {name: ref.to_json() for name, ref in self.processes.items()},
            "logs": {name: str(self.log_path(name)) for name in self.processes},
            "gateway": podnet.GATEWAY,
            "start_seconds": self.start_seconds,
        }

    # -- start-up steps --------------------------------------------------------------------------------

    def _start(self) -> None:
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self._bridge()
        self._start_containerd()
        self.import_image(ensure_pause(Buildah.default()))  # cached; built on first use
        kubelet, healthz, scheduler = free_ports(3)
        self.ports = {"kubelet": kubelet, "kubelet_healthz": healthz, "scheduler": scheduler}
        self._start_kubelet(kubelet, healthz)
        self._start_scheduler(scheduler)
        self.relay(self.cp.ports["apiserver"])
        self._wait_ready()

    def _bridge(self) -> None:
        """The pod bridge with its gateway address, made before containerd so the relay can listen at once.
        The CNI bridge plugin adopts it (isGateway false: it neither readdresses it nor turns on forwarding)."""
        subnet = ipaddress.ip_network(podnet.SUBNET)
        routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True, check=False).stdout
        for line in routes.splitlines():
            dest = line.split()[0]
            if dest != "default" and ipaddress.ip_network(dest, strict=False).overlaps(subnet):
                raise NodeError(f"pod subnet {podnet.SUBNET} overlaps an existing route: {line}")
        _ip("link", "add", podnet.BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{podnet.GATEWAY}/{podnet.PREFIX}", "dev", podnet.BRIDGE)
        _ip("link", "set", podnet.BRIDGE, "up")
        conf = self.workdir / "containerd" / "net.d"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "10-mso.conflist").write_text(json.dumps({
            "cniVersion": "1.0.0",
            "name": "mso-testbed",
            "plugins": [{
                "type": "bridge", "bridge": podnet.BRIDGE, "isGateway": False, "ipMasq": False,
                "hairpinMode": False,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": podnet.SUBNET, "gateway": podnet.GATEWAY}]],
                         "dataDir": str(self.workdir / "containerd" / "ipam")},
            }],
        }, indent=2))  # fmt: skip

    def _start_containerd(self) -> None:
        d = self.workdir / "containerd"
        config = d / "config.toml"
        config.write_text(CONTAINERD_CONFIG.format(dir=d, socket=self.socket, pause=PAUSE_IMAGE, cni_bin=CNI_BIN))
        self._spawn("containerd", ["containerd", f"--config={config}"])
        deadline = time.monotonic() + 60
        while True:
            self._check_alive("containerd")
            proc = subprocess.run(["ctr", f"--address={self.socket}", "plugins", "list"], capture_output=True,
                                  text=True, check=False)  # fmt: skip
            if proc.returncode == 0 and " cri " in proc.stdout:
                cri = [line for line in proc.stdout.splitlines() if " cri " in line]
                if not cri[0].rstrip().endswith("ok"):
                    self._fail("containerd", f"CRI plugin not ok: {cri[0]}")
                break
            if time.monotonic() > deadline:
                self._fail("containerd", "not ready after 60s")
            time.sleep(0.2)
        self._progress("containerd ready")

    def _start_kubelet(self, port: int, healthz: int) -> None:
        kubelet_dir = self.workdir / "kubelet"
        kubelet_dir.mkdir(parents=True, exist_ok=True)
        kubeconfig = self.workdir / "kubelet.kubeconfig"
        self.cp.write_kubeconfig(kubeconfig)
        config = self.workdir / "kubelet-config.json"
        config.write_text(json.dumps(kubelet_config(self, port, healthz), indent=2))
        self._spawn("kubelet", [
            str(self.cp.tools.kubelet), f"--config={config}", f"--kubeconfig={kubeconfig}",
            f"--root-dir={kubelet_dir}", f"--node-ip={podnet.GATEWAY}",
            # Root here lacks CAP_SYS_RESOURCE: lowering its own OOM score (default -999) fails the start.
            "--oom-score-adj=0",
            f"--volume-plugin-dir={self.workdir / 'volume-plugins'}", "--v=1",
        ])  # fmt: skip
        self._wait_http("kubelet", f"http://127.0.0.1:{healthz}/healthz", 120)

    def _start_scheduler(self, port: int) -> None:
        kubeconfig = self.workdir / "scheduler.kubeconfig"
        self.cp.write_kubeconfig(kubeconfig)
        self._spawn("kube-scheduler", [
            str(self.cp.tools.kube_scheduler), f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
            "--leader-elect=false", "--bind-address=127.0.0.1", f"--secure-port={port}", "--profiling=false",
        ])  # fmt: skip
        self._wait_http("kube-scheduler", f"https://127.0.0.1:{port}/healthz", 60)

    def _wait_ready(self, timeout: float = 120) -> None:
        cluster = self.cp.cluster()
        deadline = time.monotonic() + timeout
        last = "not registered"
        while time.monotonic() < deadline:
            for name in self.processes:
                self._check_alive(name)
            proc = cluster.kubectl("get", "node", self.name, "-o", "json", check=False)
            if proc.returncode == 0:
                node = json.loads(proc.stdout)
                conditions = {c["type"]: c for c in node["status"].get("conditions", [])}
                ready = conditions.get("Ready", {})
                taints = [t["key"] for t in node["spec"].get("taints", [])]
                last = f"Ready={ready.get('status')} ({ready.get('message', '')}); taints {taints}"
                if ready.get("status") == "True" and not taints:
                    return
            time.sleep(0.5)
        self._fail("kubelet", f"node {self.name} not Ready after {timeout:.0f}s: {last}")

    # -- teardown --------------------------------------------------------------------------------------

    def _drain(self, timeout: float = 90) -> None:
        """Delete every pod through the API (the kubelet stops them, unmounts volumes, tears down networks)."""
        cluster = self.cp.cluster()
        cluster.kubectl("cordon", self.name, check=False)
        for kind in ("deployments", "replicasets", "pods"):
            cluster.kubectl("delete", kind, "--all-namespaces", "--all", "--grace-period=5", "--wait=false",
                            check=False)  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._containers(cluster):
                return
            time.sleep(0.5)
        self._log(f"node: pods still present after {timeout:.0f}s: {self._containers(cluster)}")

    def _containers(self, cluster: Cluster) -> list[str]:
        pods = cluster.kubectl("get", "pods", "-A", "-o", "name", check=False).stdout.split()
        try:
            tasks = [line.split()[0] for line in self.ctr("tasks", "list", timeout=30).splitlines()[1:]]
        except (NodeError, subprocess.TimeoutExpired):
            tasks = []
        return pods + tasks

    def _remove_containers(self) -> list[str]:
        """Whatever the kubelet did not stop: kill its tasks, delete containers (their mounts go with them)."""
        actions: list[str] = []
        if "containerd" not in self.processes or not self.processes["containerd"].alive():
            return actions
        with contextlib.suppress(NodeError, subprocess.TimeoutExpired):
            for line in self.ctr("tasks", "list", timeout=30).splitlines()[1:]:
                task = line.split()[0]
                subprocess.run(["ctr", f"--address={self.socket}", "--namespace=k8s.io", "tasks", "kill", "-s",
                                "SIGKILL", task], capture_output=True, check=False, timeout=30)  # fmt: skip
                subprocess.run(["ctr", f"--address={self.socket}", "--namespace=k8s.io", "tasks", "delete", "-f",
                                task], capture_output=True, check=False, timeout=30)  # fmt: skip
                actions.append(f"killed task {task}")
            for container in self.ctr("containers", "list", "--quiet", timeout=30).split():
                subprocess.run(["ctr", f"--address={self.socket}", "--namespace=k8s.io", "containers", "delete",
                                container], capture_output=True, check=False, timeout=30)  # fmt: skip
        return actions

    # -- machine-wide lock and crash record --------------------------------------------------------------

    def _acquire_lock(self, timeout: float = float(os.environ.get("MSO_NODE_LOCK_TIMEOUT", "900"))) -> None:
        """One kubelet per machine: wait for another node (another test run) to finish."""
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        handle = LOCK.open("a+")
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise NodeError(
                        f"another node holds {LOCK} (one kubelet per machine) after {timeout:.0f}s"
                    ) from None
                if not announced:
                    self._progress(f"waiting for another node on this machine to stop ({LOCK})")
                    announced = True
                time.sleep(1)
        self._lock = handle

    def _release_lock(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def _record(self) -> None:
        assert self.before is not None
        state = asdict(self.before)
        record = {
            "workdir": str(self.workdir),
            "socket": str(self.socket),
            "processes": [ref.to_json() for ref in self.processes.values()],
            "before": {key: sorted(v) if isinstance(v, set) else v for key, v in state.items() if key != "iptables"}
            | {"iptables": {t: sorted(r) if r is not None else None for t, r in self.before.iptables.items()}},
        }
        tmp = RECORD.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(RECORD)

    # -- helpers ---------------------------------------------------------------------------------------

    def _progress(self, message: str) -> None:
        self._log(f"node: [{time.monotonic() - self._t0:5.1f}s] {message}")

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = self.log_path(name)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.unlink(missing_ok=True)
        self._popen[name], self.processes[name] = procs.spawn(name, argv, log, env=env)
        self._progress(f"started {name} (pid {self.processes[name].pid}, log {log})")
        if self.before is not None:
            self._record()

    def _check_alive(self, name: str) -> None:
        proc = self._popen.get(name)
        if proc is not None and proc.poll() is not None:
            self._fail(name, f"exited with code {proc.returncode}")

    def _wait_http(self, name: str, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            self._check_alive(name)
            ok, last = probe(url, insecure_tls() if url.startswith("https") else None)
            if ok:
                self._progress(f"{name} healthy ({url})")
                return
            time.sleep(0.2)
        self._fail(name, f"not healthy after {timeout:.0f}s ({url}: {last})")

    def _wait_log(self, name: str, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log_path(name).read_text(errors="replace"):
            self._check_alive(name)
            if time.monotonic() > deadline:
                self._fail(name, f"did not log {text!r} within {timeout:.0f}s")
            time.sleep(0.1)

    def _fail(self, name: str, reason: str) -> None:
        log = self.log_path(name)
        raise NodeError(f"{name} {reason}; log: {log}\n--- last 40 lines of {log} ---\n{procs.tail(log)}")


def _tools_missing(cp: ControlPlane) -> str | None:
    missing = cp.tools.missing("kubelet", "kube_scheduler")
    if not missing:
        return None
    paths = ", ".join(str(getattr(cp.tools, name)) for name in missing)
    return f"missing {paths}; build with: {INSTALL}"


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise NodeError(f"ip {' '.join(args)} failed: {proc.stderr.strip()}")


def kubelet_config(node: Node, port: int, healthz: int) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # Loopback only; the API server dials the node by hostname, which resolves to 127.0.0.1 here.
        "address": "127.0.0.1",
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(node.cp.certs.ca_crt)},
        },
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{node.socket}",
        # containerd 1.6 does not report its cgroup driver; cgroup v1 and swap are what this machine has.
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "failSwapOn": False,
        # No iptables chains (KUBE-FIREWALL, canaries): nothing here needs them.
        "makeIPTablesUtilChains": False,
        "podLogsDir": str(node.workdir / "pod-logs"),
        # A shared disk: evict only when it is really full; never garbage-collect the imported images.
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "maxPods": 30,
        "serializeImagePulls": False,
        "registerNode": True,
        "resolvConf": "/etc/resolv.conf",
    }


CONTAINERD_CONFIG = """\
# Written by testbed/node.py: everything under {dir}.
version = 2
root = "{dir}/root"
state = "{dir}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{dir}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  # Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails ("can't get final child's PID").
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{dir}/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
"""


def kill_shims(socket_path: Path) -> list[str]:
    """containerd-shim processes of *this* containerd (they outlive it by design), by their -address flag."""
    actions = []
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            argv = (pid_dir / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"containerd-shim-runc-v2") and str(socket_path).encode() in argv:
            ref = procs.ProcRef.of("containerd-shim", int(pid_dir.name))
            actions.append(f"containerd-shim pid {ref.pid} {procs.terminate(ref, timeout=5)}")
    return actions


def sweep(lock_held: bool = False) -> list[str]:
    """Undo what a node that was killed (no teardown) left behind, from its record; no-op otherwise.
    Never while another node runs (it holds the lock and the record is its own)."""
    if not RECORD.exists():
        return []
    if not lock_held:
        with LOCK.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return [f"a node is running ({LOCK} is held): nothing swept"]
            try:
                return sweep(lock_held=True)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    try:
        record = json.loads(RECORD.read_text())
    except (OSError, ValueError):
        return []
    actions = []
    for data in reversed(record.get("processes", [])):
        ref = procs.ProcRef.from_json(data)
        if ref.alive():
            actions.append(f"{ref.name} (pid {ref.pid}) {procs.terminate(ref)}")
    actions += kill_shims(Path(record["socket"]))
    raw = record["before"]
    before = hostchanges.HostState(
        sysctls=raw["sysctls"],
        paths=set(raw["paths"]),
        cgroups=set(raw["cgroups"]),
        links=set(raw["links"]),
        mounts=set(raw["mounts"]),
        iptables={t: set(r) if r is not None else None for t, r in raw["iptables"].items()},
    )
    actions += hostchanges.undo(before, [Path(record["workdir"])])
    RECORD.unlink(missing_ok=True)
    for action in actions:
        _stderr(f"node: sweep of a node that was not stopped: {action}")
    return actions
