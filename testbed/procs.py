"""Child processes that cannot outlive the testbed.

Each child gets its own session (so a Ctrl-C in the terminal reaches only the supervisor, which then stops
the children in order) and, through `setpriv --pdeathsig`, a SIGTERM from the kernel if its parent dies
without cleaning up (SIGKILL, OOM). A (pid, start time) pair identifies a process, so a PID recycled after
a crash is never signalled.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SETPRIV = shutil.which("setpriv")


@dataclass(frozen=True)
class ProcRef:
    name: str
    pid: int
    starttime: int  # field 22 of /proc/<pid>/stat, in clock ticks since boot

    def alive(self) -> bool:
        return _stat(self.pid) == (self.starttime, True)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcRef:
        return cls(str(data["name"]), int(data["pid"]), int(data["starttime"]))

    @classmethod
    def of(cls, name: str, pid: int) -> ProcRef:
        starttime, _ = _stat(pid) or (0, False)
        return cls(name, pid, starttime)


def _stat(pid: int) -> tuple[int, bool] | None:
    """(start time, running-and-not-a-zombie) of `pid`, or None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may contain spaces and parentheses
    return int(fields[19]), fields[0] not in ("Z", "X")


def spawn(
    name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], ProcRef]:
    """Start `argv` with stdout+stderr appended to `log_path` (and `env` added to the environment).

    The death signal fires when the *thread* that forked exits, so call this from a long-lived thread.
    """
    prefix = [SETPRIV, "--pdeathsig", "TERM", "--"] if SETPRIV else []
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            prefix + argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
    return proc, ProcRef.of(name, proc.pid)


def terminate(ref: ProcRef, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None) -> str:
    """SIGTERM `ref` (and its process group), SIGKILL after `timeout`; say what happened."""
    if not ref.alive():
        _reap(proc)
        return "not running"
    try:
        _signal(ref.pid, signal.SIGTERM)
    except ProcessLookupError:
        _reap(proc)
        return "stopped"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(proc)
        if not ref.alive():
            return "stopped"
        time.sleep(0.05)
    try:
        _signal(ref.pid, signal.SIGKILL)
    except ProcessLookupError:
        return "stopped"
    _reap(proc, block=True)
    return f"killed (no exit {timeout:.0f}s after SIGTERM)"


def _signal(pid: int, sig: int) -> None:
    """Signal the whole group when `pid` leads one (our spawns do), else just the process."""
    if os.getpgid(pid) == pid:
        os.killpg(pid, sig)
    else:
        os.kill(pid, sig)


def _reap(proc: subprocess.Popen[bytes] | None, block: bool = False) -> None:
    """Collect our own child's exit status, so it does not linger as a zombie."""
    if proc is not None:
        proc.wait(5) if block else proc.poll()


def tail(path: Path, lines: int = 40) -> str:
    try:
        with path.open(errors="replace") as f:
            return "".join(deque(f, maxlen=lines))
    except OSError as e:
        return f"(cannot read {path}: {e})"
