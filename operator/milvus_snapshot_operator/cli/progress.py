"""One line per state of a resource being waited for: phase, Milvus job state, a progress bar, the reason.

On a terminal the line redraws in place while only the job's progress moves, and a new line starts when the
phase changes; otherwise (pipes, CI logs, tests) every change is printed as its own line.
"""

from __future__ import annotations

import shutil
from typing import TextIO

from .kinds import Kind
from .states import Obj, state, status_of

BAR_WIDTH = 20


def bar(percent: int) -> str:
    """`[#####---------------]  25%`: plain ASCII, so it survives any terminal, log or pipe."""
    percent = max(0, min(100, percent))
    filled = percent * BAR_WIDTH // 100
    return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {percent:3d}%"


def progress_line(kind: Kind, obj: Obj, named: bool = True) -> str:
    """What is going on with `obj` now, on one line (without its name on a terminal, where width is scarce and
    the name was printed just above)."""
    status = status_of(obj)
    now = state(obj)
    parts = [f"{kind.short}/{obj['metadata']['name']}"] if named else []
    parts.append(str(status.get("phase") or "-"))
    if status.get("state"):
        parts.append(str(status["state"]))
    if status.get("progress") is not None:
        parts.append(bar(int(status["progress"])))
    if now.finished:
        parts.append(now.why())
        rows = status.get("targetRowCount", status.get("sourceRowCount")) if not now.failed else None
        if rows is not None:
            parts.append(f"{rows} rows")
    elif not (status.get("state") and str(status["state"]) in now.why()):
        parts.append(now.why())  # unless it only repeats the job state (the operator's "restore job N: <state> 40%")
    return "  ".join(part for part in parts if part)


class Display:
    """Prints progress lines: redrawn in place on a terminal, one per change elsewhere."""

    def __init__(self, out: TextIO, tty: bool | None = None) -> None:
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self.last = ""
        self.last_key: tuple[str, ...] = ()
        self.open = False  # a redrawable line is on screen without its newline

    def show(self, line: str, key: tuple[str, ...] = ()) -> None:
        """Show `line`; on a terminal, a line with the same `key` (e.g. the phase) replaces the previous one."""
        if line == self.last:
            return
        if not self.tty:
            self.out.write(line + "\n")
        else:
            if self.open and key != self.last_key:
                self.out.write("\n")
            width = shutil.get_terminal_size().columns
            shown = line if len(line) < width else line[: max(1, width - 4)] + "..."
            self.out.write("\r\x1b[K" + shown)
            self.open = True
        self.out.flush()
        self.last, self.last_key = line, key

    def close(self) -> None:
        """End the redrawn line (a terminal keeps the last state on screen), printing it in full."""
        if self.tty and self.open:
            self.out.write("\r\x1b[K" + self.last + "\n")
            self.out.flush()
        self.open = False
