"""Durations as kubectl prints them (apimachinery's duration.HumanDuration: 45s, 3m20s, 5h, 2d3h, 40d)."""

from __future__ import annotations

import datetime

from ..api.common import parse_rfc3339
from ..api.wire import Wire

EPOCH = datetime.datetime.fromtimestamp(0, datetime.UTC)


def human_duration(seconds: float) -> str:
    """kubectl's AGE: about two significant figures, exact thresholds of apimachinery's HumanDuration."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return f"{minutes}m" if whole % 60 == 0 else f"{minutes}m{whole % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, (hours // 24) % 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def age(timestamp: str | None, now: datetime.datetime) -> str:
    """How long ago an RFC 3339 timestamp was; `-` when there is none (as kubectl prints <none>)."""
    if not timestamp:
        return "-"
    return human_duration((now - parse_rfc3339(timestamp)).total_seconds())


def relative(timestamp: str | None, now: datetime.datetime) -> str:
    """`5m ago` for the past, `in 5m` for the future (a schedule's next run), `-` for nothing."""
    if not timestamp:
        return "-"
    delta = (now - parse_rfc3339(timestamp)).total_seconds()
    if delta >= -1:
        return f"{human_duration(delta)} ago"
    return f"in {human_duration(-delta)}"


def event_time(event: Wire) -> datetime.datetime:
    """When an event last happened: the latest of its timestamps (core lastTimestamp has second precision,
    eventTime microseconds; client-go series carry lastObservedTime)."""
    stamps = [
        event.get("lastTimestamp"),
        event.get("eventTime"),
        (event.get("series") or {}).get("lastObservedTime"),
        event.get("metadata", {}).get("creationTimestamp"),
    ]
    return max((parse_rfc3339(s) for s in stamps if s), default=EPOCH)
