"""What the operator keeps per resource between Kopf invocations, in one typed place (Kopf's per-object memo).

Kopf gives every object its own shallow copy of the operator's memo; the daemon, the finalizer and the watch
handlers of one object all see the same copy, so this is where they coordinate.
"""

from __future__ import annotations

import asyncio
import dataclasses

import kopf

from .runtime import Runtime

JsonDict = dict[str, object]


@dataclasses.dataclass(slots=True)  # one per object: thousands
class ResourceState:
    # A daemon step and the finalizer of one object never run at once: a deletion that starts while a
    # create or restore call is in flight waits for its outcome instead of finding nothing and leaving an
    # orphan behind.
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    failures: int = 0  # consecutive transient failures (backoff)
    expected_status: JsonDict | None = None  # our last status patch, until the watch shows it (catch-up)
    latest_status: JsonDict | None = None  # the last status we wrote (fresher than a finalizer's body)
    pending_wait: tuple[asyncio.Event, float] | None = None  # the next attempt waits on these wake-ups first
    recorded_intent: str | None = None  # time of an intent this process recorded and has not acted on yet
    wake_fingerprint: tuple[object, ...] | None = None  # connection watch: what dependents last saw
    seen_generation: int | None = None  # connection watch: the spec generation last probed
    waiting_logged: bool = False  # a finalizer's "waiting" event was posted (once per deletion)


def state_of(memo: kopf.Memo) -> ResourceState:
    found = memo.get("state")
    if isinstance(found, ResourceState):
        return found
    created = ResourceState()
    memo["state"] = created
    return created


def runtime_of(memo: kopf.Memo) -> Runtime:
    found = memo.get("runtime")
    assert isinstance(found, Runtime), "set by the startup handler before any resource is handled"
    return found
