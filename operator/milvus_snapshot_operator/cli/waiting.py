"""Follow a resource to its end (snapshot, restore, a triggered run), showing each state as it comes."""

from __future__ import annotations

import time
from typing import TextIO

from .ages import human_duration
from .errors import CliError, TimedOut
from .kinds import Kind
from .kube import Kube
from .progress import Display, progress_line
from .states import Obj, state, status_of


def follow(kube: Kube, kind: Kind, name: str, deadline: float, out: TextIO, timeout: float) -> Obj:
    """Until the resource succeeds (returned), fails (CliError with its reason, exit 1) or the deadline passes
    (TimedOut naming where it was stuck, exit 3)."""
    display = Display(out)
    last: Obj | None = None
    try:
        for obj in kube.follow(kind, name, deadline):
            last = obj
            display.show(progress_line(kind, obj, named=not display.tty), key=(str(status_of(obj).get("phase")),))
            now = state(obj)
            if now.finished:
                display.close()
                if now.failed:
                    raise CliError(f"error: {kind.short}/{name} failed: {now.why()}")
                return obj
    except TimedOut:
        display.close()
        where = f": still {status_of(last).get('phase') or 'unhandled'}, {state(last).why()}" if last else ""
        raise TimedOut(
            f"error: timed out after {human_duration(timeout)} waiting for {kind.short}/{name}{where}"
        ) from None
    finally:
        display.close()
    raise AssertionError("unreachable: follow() ends by deadline or by the object's deletion")


def deadline_after(timeout: float) -> float:
    return time.monotonic() + timeout
