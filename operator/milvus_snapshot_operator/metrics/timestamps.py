"""RFC 3339 strings from status to Unix seconds, as Prometheus timestamps are."""

from __future__ import annotations

from typing import Any

from ..api.common import parse_rfc3339


def epoch(value: Any) -> float | None:
    """Unix seconds of an RFC 3339 string; None for a missing or unreadable value (never an exception)."""
    if not value or not isinstance(value, str):
        return None
    try:
        return parse_rfc3339(value).timestamp()
    except ValueError:
        return None
