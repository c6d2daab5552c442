"""Where the testbed's binaries live, and what to run when some are missing.

Paths mirror testbed/install-tools.sh, testbed/build-k8s.sh and testbed/build-gotools.sh; keep them in step.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, fields
from pathlib import Path

TESTBED_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTBED_DIR.parent
K8S_VERSION = (TESTBED_DIR / "k8s" / "K8S_VERSION").read_text().strip()
INSTALL_COMMAND = "testbed/install-tools.sh"


def cache_dir() -> Path:
    """The per-user binary cache; outside the repo so clones and worktrees share one build."""
    if env := os.environ.get("TESTBED_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "milvus-snapshot-operator"


@dataclass(frozen=True)
class Tools:
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kubectl: Path
    helm: Path
    promtool: Path
    luahealth: Path
    kstatus: Path
    kubelet: Path
    kube_scheduler: Path

    def missing(self, *names: str) -> list[str]:
        """Names (field names; default: all) whose binary is absent or not executable."""
        wanted = names or tuple(f.name for f in fields(self))
        return [name for name in wanted if not os.access(getattr(self, name), os.X_OK)]


def find_tools() -> Tools:
    """Resolve every binary. kubectl/helm are the pinned ones, never whatever is on PATH (1.32 is too old)."""
    cache = cache_dir()
    k8s = cache / "k8s" / K8S_VERSION
    etcd = os.environ.get("TESTBED_ETCD") or shutil.which("etcd") or "/usr/bin/etcd"
    return Tools(
        etcd=Path(etcd),
        kube_apiserver=k8s / "kube-apiserver",
        kube_controller_manager=k8s / "kube-controller-manager",
        kubectl=cache / "bin" / "kubectl",
        helm=cache / "bin" / "helm",
        promtool=cache / "bin" / "promtool",
        luahealth=gotool("luahealth"),
        kstatus=gotool("kstatus"),
        kubelet=k8s / "kubelet",
        kube_scheduler=k8s / "kube-scheduler",
    )


def gotool(name: str) -> Path:
    """The build of testbed/gotools/<name> for its current sources (the hash build-gotools.sh computes)."""
    source = TESTBED_DIR / "gotools" / name
    files = [source / "go.mod", source / "go.sum", *sorted(source.glob("*.go"), key=lambda p: p.name.encode())]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in files)).hexdigest()[:12]
    return cache_dir() / "gotools" / f"{name}-{digest}" / name


def missing_report(*names: str, tools: Tools | None = None) -> str | None:
    """One line naming the missing binaries and the install command, or None when all are present."""
    tools = tools or find_tools()
    missing = tools.missing(*names)
    if not missing:
        return None
    paths = ", ".join(f"{name.replace('_', '-')} ({getattr(tools, name)})" for name in missing)
    return f"missing testbed binaries: {paths}; install with: {INSTALL_COMMAND}"
