"""What a kubelet + containerd change on the machine, recorded before the node starts and undone after.

The kubelet tunes sysctls, creates /kubepods in every cgroup v1 hierarchy and a few fixed directories
(/var/lib/kubelet/device-plugins, /var/log/containers), containerd's shims put sockets under
/run/containerd, the CNI plugins a cache under /var/lib/cni, and the node's bridge is a network link. Most
other state is kept under the node's work directory by configuration (see node.py). `undo` puts back what
`take` saw; `leftovers` lists what still differs, so a test can prove teardown left nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

# Set by the kubelet (KernelTunableModify), and ip_forward in case a CNI plugin turns it on.
SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "net.ipv4.ip_forward",
)
# Fixed paths the kubelet, containerd's shims and CNI create whatever their configured directories.
PATHS = (
    "/var/lib/kubelet",
    "/var/log/pods",
    "/var/log/containers",
    "/usr/libexec/kubernetes",
    "/run/containerd",
    "/var/lib/cni",
    "/var/run/netns",
    "/run/netns",
)
CGROUP_ROOT = Path("/sys/fs/cgroup")
KUBEPODS = "kubepods"
IPTABLES_TABLES = ("filter", "nat", "mangle")


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _cgroup_hierarchies() -> list[Path]:
    if not CGROUP_ROOT.is_dir():
        return []
    return sorted(p for p in CGROUP_ROOT.iterdir() if p.is_dir() and not p.is_symlink())


def _links() -> set[str]:
    try:
        return set(os.listdir("/sys/class/net"))
    except OSError:
        return set()


def mount_points() -> list[str]:
    """Mount points in mount order (the last ones are the innermost)."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            points.append(line.split()[4].replace("\\040", " "))
    return points


def _iptables(table: str) -> set[str] | None:
    """`iptables -S` rules of a table, or None where iptables is unusable."""
    if not shutil.which("iptables"):
        return None
    proc = subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True, check=False)
    return set(proc.stdout.splitlines()) if proc.returncode == 0 else None


@dataclass
class HostState:
    sysctls: dict[str, str | None] = field(default_factory=dict)
    paths: set[str] = field(default_factory=set)  # those of PATHS that existed
    cgroups: set[str] = field(default_factory=set)  # hierarchies that already had a kubepods cgroup
    links: set[str] = field(default_factory=set)
    mounts: set[str] = field(default_factory=set)
    iptables: dict[str, set[str] | None] = field(default_factory=dict)


def take() -> HostState:
    return HostState(
        sysctls={name: _read(_sysctl_path(name)) for name in SYSCTLS},
        paths={p for p in PATHS if os.path.lexists(p)},
        cgroups={h.name for h in _cgroup_hierarchies() if (h / KUBEPODS).is_dir()},
        links=_links(),
        mounts=set(mount_points()),
        iptables={table: _iptables(table) for table in IPTABLES_TABLES},
    )


def unmount_under(roots: list[Path]) -> list[str]:
    """Unmount everything mounted at or below `roots`, innermost first (lazily if busy)."""
    done = []
    prefixes = [str(r).rstrip("/") for r in roots]
    for point in reversed(mount_points()):
        if any(point == p or point.startswith(p + "/") for p in prefixes):
            proc = subprocess.run(["umount", point], capture_output=True, check=False)
            if proc.returncode:
                subprocess.run(["umount", "-l", point], capture_output=True, check=False)
            done.append(point)
    return done


def _cgroup_pids(path: Path) -> set[int]:
    pids: set[int] = set()
    for procs_file in path.rglob("cgroup.procs"):
        with contextlib.suppress(OSError, ValueError):
            pids |= {int(line) for line in procs_file.read_text().split()}
    return pids


def _remove_cgroup_tree(path: Path) -> str:
    """Kill what still runs in the tree (container processes whose runtime is gone), then rmdir it children
    first (cgroup files cannot be deleted, only empty directories)."""
    deadline = time.monotonic() + 10
    killed: set[int] = set()
    while (pids := _cgroup_pids(path)) and time.monotonic() < deadline:
        killed |= pids
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    for child in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            child.rmdir()
    try:
        path.rmdir()
    except OSError as e:
        return f"could not remove cgroup {path}: {e} (processes {sorted(_cgroup_pids(path))})"
    return f"removed cgroup {path}" + (f" after killing {sorted(killed)}" if killed else "")


def undo(before: HostState, owned_mount_roots: list[Path]) -> list[str]:
    """Put the machine back as `before` found it; return what was done (for the log)."""
    actions = []
    for point in unmount_under([*owned_mount_roots, *(Path(p) for p in PATHS if p not in before.paths)]):
        actions.append(f"unmounted {point}")
    for name, value in before.sysctls.items():
        if value is not None and _read(_sysctl_path(name)) != value:
            try:
                _sysctl_path(name).write_text(value)
                actions.append(f"sysctl {name}={value}")
            except OSError as e:
                actions.append(f"sysctl {name}={value} FAILED: {e}")
    for hierarchy in _cgroup_hierarchies():
        if hierarchy.name not in before.cgroups and (hierarchy / KUBEPODS).is_dir():
            actions.append(_remove_cgroup_tree(hierarchy / KUBEPODS))
    for link in sorted(_links() - before.links):
        subprocess.run(["ip", "link", "delete", link], capture_output=True, check=False)
        actions.append(f"deleted link {link}")
    for path in PATHS:
        if path not in before.paths and os.path.lexists(path):
            shutil.rmtree(path, ignore_errors=True)
            actions.append(f"removed {path}")
    for table, rules in before.iptables.items():
        now = _iptables(table)
        if rules is None or now is None:
            continue
        for rule in sorted(now - rules, key=lambda r: r.startswith("-N")):  # rules first, then their chains
            argv = rule.split()
            if argv[0] == "-A":
                subprocess.run(["iptables", "-w", "-t", table, "-D", *argv[1:]], capture_output=True, check=False)
            elif argv[0] == "-N":
                subprocess.run(["iptables", "-w", "-t", table, "-X", argv[1]], capture_output=True, check=False)
            actions.append(f"iptables -t {table}: removed {rule}")
    return actions


def leftovers(before: HostState) -> list[str]:
    """What differs from `before` now; empty means the machine is as the node found it."""
    now = take()
    found = [f"sysctl {n}={now.sysctls[n]} (was {v})" for n, v in before.sysctls.items() if now.sysctls[n] != v]
    found += [f"path {p}" for p in sorted(now.paths - before.paths)]
    found += [f"cgroup {CGROUP_ROOT / h / KUBEPODS}" for h in sorted(now.cgroups - before.cgroups)]
    found += [f"link {link}" for link in sorted(now.links - before.links)]
    found += [f"mount {m}" for m in sorted(now.mounts - before.mounts)]
    for table, rules in before.iptables.items():
        if rules is not None and (current := now.iptables.get(table)) is not None:
            found += [f"iptables -t {table} {rule}" for rule in sorted(current - rules)]
    return found
