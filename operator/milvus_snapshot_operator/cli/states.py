"""Reading a resource's state from its status: finished, failed or still going, and why (pure)."""

from __future__ import annotations

import dataclasses

from ..api import wire
from ..api.wire import Wire

Obj = Wire  # a resource as the API server returns it

SUCCESS_PHASES = frozenset({"Ready", "Completed"})  # MilvusSnapshot, MilvusRestore


@dataclasses.dataclass(frozen=True)
class State:
    finished: bool  # nothing more will happen without a change: succeeded or failed
    failed: bool
    reason: str
    message: str

    def why(self) -> str:
        return f"{self.reason}: {self.message}" if self.message else self.reason


def status_of(obj: Obj) -> Obj:
    return dict(obj.get("status") or {})


def condition(obj: Obj, type_: str) -> Obj | None:
    return dict(wire.condition(status_of(obj), type_)) or None


def is_true(obj: Obj, type_: str) -> bool:
    found = condition(obj, type_)
    return found is not None and found.get("status") == "True"


def observed(obj: Obj) -> bool:
    """Status speaks for the current spec (observedGeneration caught up with metadata.generation)."""
    generation = obj.get("metadata", {}).get("generation")
    seen = status_of(obj).get("observedGeneration")
    return generation is None or seen is None or seen >= generation


def state(obj: Obj) -> State:
    """kstatus's reading, plus the phases: Failed phase or Stalled=True fails; Ready=True or a success phase
    succeeds; anything else (Ready Unknown or False: progressing, waiting, retrying) is still going."""
    status = status_of(obj)
    phase = status.get("phase")
    ready, stalled = condition(obj, "Ready"), condition(obj, "Stalled")
    error = status.get("error") or {}
    if phase == "Failed" or (stalled is not None and stalled.get("status") == "True"):
        source = error or stalled or ready or {}
        message = str(source.get("message") or "")
        if error.get("code") is not None:
            message = f"{message} (Milvus code {error['code']})"
        return State(True, True, str(source.get("reason") or "Failed"), message)
    if observed(obj) and ((ready is not None and ready.get("status") == "True") or phase in SUCCESS_PHASES):
        return State(True, False, str((ready or {}).get("reason") or phase), str((ready or {}).get("message") or ""))
    if ready is not None and observed(obj):
        return State(False, False, str(ready.get("reason") or ""), str(ready.get("message") or ""))
    return State(False, False, "NotObserved", "the operator has not handled this resource yet")
