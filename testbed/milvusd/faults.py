"""Runtime-tunable fault injection and timing knobs, plus per-RPC call counters.

Shared by the gRPC gate (latency, unavailability), the restore jobs (tick, duration, retention,
forced failures) and the admin endpoint, which reads and updates them as JSON.
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

_FLOAT_KEYS = ("restore_tick", "restore_duration", "job_retention", "restore_pin_ttl")


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
            elif key in ("fail_restores", "pending_progress"):
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"{key} must be a non-negative integer")
                parsed[key] = value
            elif key == "fail_reason":
                if not isinstance(value, str):
                    raise ValueError("fail_reason must be a string")
                parsed[key] = value
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
