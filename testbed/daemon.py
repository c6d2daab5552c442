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
    """Component processes in stop order (the reverse of start order)."""
    return [procs.ProcRef.from_json(p) for p in reversed(list(state["processes"].values()))]


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
    workdir: Path, controller_manager: bool | None, on_ready: Callable[[ControlPlane], None], out: TextIO
) -> int:
    """Run the control plane until SIGTERM/SIGINT or until a component dies; return the exit code."""
    workdir.mkdir(parents=True, exist_ok=True)
    with _exclusive(workdir) as mine:
        if not mine:
            print(f"testbed: another supervisor already runs in {workdir}", file=out, flush=True)
            return EXIT_ALREADY_RUNNING
        signal.signal(signal.SIGTERM, _raise_stop)
        signal.signal(signal.SIGHUP, _raise_stop)
        cp = ControlPlane(workdir, controller_manager=controller_manager)
        try:
            cp.start()
            state = {"supervisor": procs.ProcRef.of("supervisor", os.getpid()).to_json(), **cp.describe()}
            tmp = state_path(workdir).with_suffix(".tmp")
            tmp.write_text(json.dumps(state, indent=2) + "\n")
            tmp.replace(state_path(workdir))
            on_ready(cp)
            while not (dead := cp.dead()):
                time.sleep(1)
            for name in dead:
                print(f"testbed: {name} exited unexpectedly; last lines of its log:\n"
                      f"{procs.tail(cp.log_path(name))}", file=out, flush=True)  # fmt: skip
            return 1
        except (_Stop, KeyboardInterrupt) as e:
            print(f"testbed: stopping ({str(e) or 'SIGINT'})", file=out, flush=True)
            return 0
        finally:
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not abandon the shutdown
            cp.stop()
            state_path(workdir).unlink(missing_ok=True)


def cleanup(workdir: Path, state: dict[str, Any], out: TextIO, timeout: float = 30.0) -> None:
    """Stop the supervisor (it stops its components), then anything still left, and drop the state."""
    sup = supervisor(state)
    print(f"testbed: supervisor (pid {sup.pid}) {procs.terminate(sup, timeout=timeout)}", file=out)
    for ref in components(state):
        if ref.alive():
            print(f"testbed: {ref.name} (pid {ref.pid}) {procs.terminate(ref)}", file=out)
    if state.get("etcd_data_dir") not in (None, "None"):
        shutil.rmtree(state["etcd_data_dir"], ignore_errors=True)
    state_path(workdir).unlink(missing_ok=True)
