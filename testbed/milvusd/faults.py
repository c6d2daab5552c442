"""Runtime-tunable fault injection and timing knobs, plus per-RPC call counters.

Shared by the gRPC gate (latency, unavailability, lost replies), the restore jobs (tick, duration,
retention, forced failures, lost rows, skipped indexes), the load state machine (latency, failures) and
the admin endpoint, which reads and updates them as JSON.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

DEFAULT_RESTORE_TICK = 2.0
DEFAULT_RESTORE_DURATION = 4.0
DEFAULT_JOB_RETENTION = 10800.0
DEFAULT_RESTORE_PIN_TTL = 86400.0
DEFAULT_FAIL_REASON = "1/1 tasks failed"
DEFAULT_LOAD_FAIL_REASON = "segment load failed"

_FLOAT_KEYS = ("restore_tick", "restore_duration", "job_retention", "restore_pin_ttl", "load_latency")
_COUNT_KEYS = ("fail_restores", "pending_progress", "restore_skip_indexes", "load_fail_next")
_TEXT_KEYS = ("fail_reason", "load_fail_reason")


class Faults:
    """Thread-safe settings. JSON keys (GET/POST /faults):

    latency           {"<RpcName>"|"*": seconds} added before each RPC (a POST replaces the map)
    unavailable_for   seconds from now during which every RPC fails with gRPC UNAVAILABLE
    fail_restores     the next K restore jobs end Failed with `fail_reason`
    fail_reason       reason of those failed jobs (default "1/1 tasks failed")
    restore_tick      seconds between restore-checker passes (Milvus CopySegmentCheckInterval, 2 s)
    restore_duration  seconds a job spends Executing before its copy finishes
    job_retention     seconds a terminal job stays queryable (Milvus CopySegmentTaskRetention, 3 h)
    restore_pin_ttl   TTL of a restore's implicit pin on the source snapshot (24 h)
    pending_progress  progress reported while Pending (0; real Milvus may report 100, see README)
    restore_drop_rows {"restores": K, "rows": N}: the next K restores complete but the restored
                      collection lacks N of the snapshot's rows (a row-count verification fails)
    restore_skip_indexes  the next K restores complete without indexes on the target (list_indexes is
                      empty, describe_index fails, and a load fails for want of a vector index)
    load_latency      seconds a load takes: LoadCollection answers at once, GetLoadState says Loading
                      with progress growing until then, searches answer "not fully loaded" (103)
    load_fail_next    the next K loads fail when they end (after load_latency): GetLoadingProgress, so
                      pymilvus's load_collection, answers 101 "<load_fail_reason>: collection not
                      loaded[collection=<id>]" and the collection stays NotLoad
    load_fail_collections  names of collections (any database) whose every load fails that way
    load_fail_reason  the reason of those failures (default "segment load failed")
    lose_reply        {"<RpcName>": K}: the next K calls of that RPC execute, then answer gRPC UNAVAILABLE
                      instead of their reply (a reply lost on the way; pymilvus re-sends on UNAVAILABLE);
                      a POST replaces the map
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latency: dict[str, float] = {}
        self.unavailable_until = 0.0  # time.monotonic()
        self.fail_restores = 0
        self.fail_reason = DEFAULT_FAIL_REASON
        self.restore_tick = DEFAULT_RESTORE_TICK
        self.restore_duration = DEFAULT_RESTORE_DURATION
        self.job_retention = DEFAULT_JOB_RETENTION
        self.restore_pin_ttl = DEFAULT_RESTORE_PIN_TTL
        self.pending_progress = 0
        self.restore_drop_rows: dict[str, int] = {"restores": 0, "rows": 0}
        self.restore_skip_indexes = 0
        self.load_latency = 0.0
        self.load_fail_next = 0
        self.load_fail_collections: list[str] = []
        self.load_fail_reason = DEFAULT_LOAD_FAIL_REASON
        self.lose_reply: dict[str, int] = {}

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "latency": dict(self.latency),
                "unavailable_for": max(0.0, round(self.unavailable_until - time.monotonic(), 3)),
                "fail_restores": self.fail_restores,
                "fail_reason": self.fail_reason,
                "restore_tick": self.restore_tick,
                "restore_duration": self.restore_duration,
                "job_retention": self.job_retention,
                "restore_pin_ttl": self.restore_pin_ttl,
                "pending_progress": self.pending_progress,
                "restore_drop_rows": dict(self.restore_drop_rows),
                "restore_skip_indexes": self.restore_skip_indexes,
                "load_latency": self.load_latency,
                "load_fail_next": self.load_fail_next,
                "load_fail_collections": list(self.load_fail_collections),
                "load_fail_reason": self.load_fail_reason,
                "lose_reply": dict(self.lose_reply),
            }

    def update(self, values: dict[str, Any]) -> None:
        """Apply a partial update; raise ValueError (and change nothing) on an unknown key or bad value."""
        parsed: dict[str, Any] = {}
        for key, value in values.items():
            if key == "latency":
                if not isinstance(value, dict):
                    raise ValueError("latency must be an object of RPC name -> seconds")
                parsed[key] = {str(k): _non_negative(k, v) for k, v in value.items()}
            elif key in _FLOAT_KEYS or key == "unavailable_for":
                parsed[key] = _non_negative(key, value)
            elif key in _COUNT_KEYS:
                parsed[key] = _count(key, value)
            elif key in _TEXT_KEYS:
                if not isinstance(value, str):
                    raise ValueError(f"{key} must be a string")
                parsed[key] = value
            elif key == "restore_drop_rows":
                if not isinstance(value, dict) or set(value) != {"restores", "rows"}:
                    raise ValueError('restore_drop_rows must be {"restores": K, "rows": N}')
                parsed[key] = {k: _count(f"restore_drop_rows.{k}", v) for k, v in value.items()}
            elif key == "load_fail_collections":
                if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                    raise ValueError("load_fail_collections must be a list of collection names")
                parsed[key] = list(value)
            elif key == "lose_reply":
                if not isinstance(value, dict):
                    raise ValueError("lose_reply must be an object of RPC name -> count")
                parsed[key] = {str(k): _count(f"lose_reply.{k}", v) for k, v in value.items()}
            else:
                raise ValueError(f"unknown fault key {key!r}")
        with self._lock:
            for key, value in parsed.items():
                if key == "unavailable_for":
                    self.unavailable_until = time.monotonic() + value
                else:
                    setattr(self, key, value)

    def latency_for(self, method: str) -> float:
        with self._lock:
            return self.latency.get(method, self.latency.get("*", 0.0))

    def unavailable(self) -> bool:
        return time.monotonic() < self.unavailable_until

    def take_restore_failure(self) -> str | None:
        """Consume one forced restore failure, returning its reason, or None if none is pending."""
        with self._lock:
            if self.fail_restores <= 0:
                return None
            self.fail_restores -= 1
            return self.fail_reason

    def take_restore_row_loss(self) -> int:
        """Consume one restore that loses rows, returning how many (0 if none is pending)."""
        with self._lock:
            if self.restore_drop_rows["restores"] <= 0:
                return 0
            self.restore_drop_rows["restores"] -= 1
            return self.restore_drop_rows["rows"]

    def take_restore_index_skip(self) -> bool:
        with self._lock:
            if self.restore_skip_indexes <= 0:
                return False
            self.restore_skip_indexes -= 1
            return True

    def take_load_failure(self, collection: str) -> str | None:
        """The reason the load of `collection` that starts now will fail with, or None if it succeeds."""
        with self._lock:
            if collection in self.load_fail_collections:
                return self.load_fail_reason
            if self.load_fail_next <= 0:
                return None
            self.load_fail_next -= 1
            return self.load_fail_reason

    def take_lost_reply(self, method: str) -> bool:
        """True if this call's reply is to be lost (consumes one)."""
        with self._lock:
            left = self.lose_reply.get(method, 0)
            if left <= 0:
                return False
            self.lose_reply[method] = left - 1
            return True


def _count(key: object, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a non-negative integer")
    return value


def _non_negative(key: object, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{key} must be a non-negative number of seconds")
    return float(value)


class Counters:
    """Calls received per RPC name, counted before auth and faults are applied."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def incr(self, method: str) -> None:
        with self._lock:
            self._counts[method] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
