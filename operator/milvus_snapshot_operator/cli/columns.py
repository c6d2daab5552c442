"""Aligned text columns, as kubectl prints them: every column but the last padded to its widest cell."""

from __future__ import annotations

from collections.abc import Sequence


def columns(rows: Sequence[tuple[str, ...]], indent: str = "") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        (indent + "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "   " + row[-1]).rstrip()
        for row in rows
    ]
