"""RFC 3339 strings from status to Unix seconds, as Prometheus timestamps are."""

from __future__ import annotations

from ..api.common import parse_rfc3339_or_none
from ..api.wire import WireValue


def epoch(value: WireValue) -> float | None:
    """Unix seconds of an RFC 3339 string; None for a missing or unreadable value (never an exception)."""
    moment = parse_rfc3339_or_none(value)
    return moment.timestamp() if moment is not None else None
