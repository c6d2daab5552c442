"""The `python -m testbed up` supervisor and its state file.

One supervisor process per workdir (an flock guarantees it) owns the control plane: it starts it, writes
`state.json`, watches the components and stops them on SIGTERM/SIGINT. `down` and `status` only read the
state file; the (pid, start time) pairs in it make sure they never signal a recycled PID.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from testbed import procs
from testbed.controlplane import ControlPlane
from testbed.node import Node, sweep

EXIT_ALREADY_RUNNING = 3


def state_path(workdir: Path) -> Path:
    return workdir / "state.json"


def read_state(workdir: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(state_path(workdir).read_text())
    except (OSError, ValueError):
        return None
    return data


def supervisor(state: dict[str, Any]) -> procs.ProcRef:
    return procs.ProcRef.from_json(state["supervisor"])


def components(state: dict[str, Any]) -> list[procs.ProcRef]:
    """Component processes in stop order (the reverse of start order): the node's first, if any."""
    node = list((state.get("node") or {}).get("processes", {}).values())
    return [procs.ProcRef.from_json(p) for p in reversed([*state["processes"].values(), *node])]


@contextlib.contextmanager
def _exclusive(workdir: Path) -> Iterator[bool]:
    """Hold the workdir's lock for the block; yields False if another supervisor holds it."""
    with (workdir / "testbed.lock").open("w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


class _Stop(Exception):
    """Raised from the SIGTERM handler so that `finally` blocks stop the control plane."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def supervise(
    workdir: Path,
    controller_manager: bool | None,
    on_ready: Callable[[ControlPlane], None],
    out: TextIO,
    with_node: bool = False,
) -> int:
    """Run the control plane (and the node) until SIGTERM/SIGINT or until a component dies; return the exit code."""
    workdir.mkdir(parents=True, exist_ok=True)
    with _exclusive(workdir) as mine:
        if not mine:
            print(f"testbed: another supervisor already runs in {workdir}", file=out, flush=True)
            return EXIT_ALREADY_RUNNING
        signal.signal(signal.SIGTERM, _raise_stop)
        signal.signal(signal.SIGHUP, _raise_stop)
        cp = ControlPlane(workdir, controller_manager=controller_manager, for_node=with_node)
        node: Node | None = None
        try:
            cp.start()
            if with_node:
                node = Node(cp, workdir / "node")
                node.start()
                import_operator_image(node, out)
            state = {"supervisor": procs.ProcRef.of("supervisor", os.getpid()).to_json(), **cp.describe()}
            state["node"] = node.describe() if node else None
            tmp = state_path(workdir).with_suffix(".tmp")
            tmp.write_text(json.dumps(state, indent=2) + "\n")
            tmp.replace(state_path(workdir))
            on_ready(cp)
            while not (dead := cp.dead() + (node.dead() if node else [])):
                time.sleep(1)
            for name in dead:
                log = cp.log_path(name) if name in cp.processes else node.log_path(name) if node else None
                print(f"testbed: {name} exited unexpectedly; last lines of its log:\n"
                      f"{procs.tail(log) if log else ''}", file=out, flush=True)  # fmt: skip
            return 1
        except (_Stop, KeyboardInterrupt) as e:
            print(f"testbed: stopping ({str(e) or 'SIGINT'})", file=out, flush=True)
            return 0
        finally:
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not abandon the shutdown
            if node is not None:
                node.stop()
                for left in node.leftovers():
                    print(f"testbed: WARNING: the node left {left}", file=out, flush=True)
            cp.stop()
            state_path(workdir).unlink(missing_ok=True)


def cleanup(workdir: Path, state: dict[str, Any], out: TextIO, timeout: float = 30.0) -> None:
    """Stop the supervisor (it stops its components), then anything still left, and drop the state."""
    sup = supervisor(state)
    print(f"testbed: supervisor (pid {sup.pid}) {procs.terminate(sup, timeout=timeout)}", file=out)
    for ref in components(state):
        if ref.alive():
            print(f"testbed: {ref.name} (pid {ref.pid}) {procs.terminate(ref)}", file=out)
    if state.get("node"):
        for action in sweep():  # what the node changed on the machine, from its own record
            print(f"testbed: {action}", file=out)
    if state.get("etcd_data_dir") not in (None, "None"):
        shutil.rmtree(state["etcd_data_dir"], ignore_errors=True)
    state_path(workdir).unlink(missing_ok=True)


def import_operator_image(node: Node, out: TextIO) -> None:
    """Put the image `make image` built last (if any) into the node's containerd, and write the chart values
    that install it there: that image, and the API server through the node's relay (no kube-proxy here)."""
    from testbed import images, podnet

    archives = sorted(images.images_dir().glob("operator-*.tar"), key=lambda p: p.stat().st_mtime)
    if not archives:
        print("testbed: no operator image built yet (`make image`); the node has none", file=out, flush=True)
        return
    node.import_image(archives[-1])
    tag = archives[-1].name.removeprefix("operator-").removesuffix(".tar")
    values = {
        "image": {"repository": images.REPOSITORY, "tag": tag},
        "extraEnv": [
            {"name": "KUBERNETES_SERVICE_HOST", "value": podnet.GATEWAY},
            {"name": "KUBERNETES_SERVICE_PORT", "value": str(node.cp.ports["apiserver"])},
        ],
    }
    path = node.workdir / "values.json"
    path.write_text(json.dumps(values, indent=2) + "\n")
    print(f"testbed: image {images.REPOSITORY}:{tag} imported into the node; chart values for it: {path}",
          file=out, flush=True)  # fmt: skip
