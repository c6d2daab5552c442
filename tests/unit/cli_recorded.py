"""Real objects recorded from the testbed (data/cli_recorded.json) for the kubectl plugin's rendering tests."""

from __future__ import annotations

import datetime
import json
import pathlib
from typing import Any

from milvus_snapshot_operator.api.common import parse_rfc3339

DATA = json.loads((pathlib.Path(__file__).parent / "data" / "cli_recorded.json").read_text())
RECORDED_AT: datetime.datetime = parse_rfc3339(DATA["recordedAt"])


def obj(name: str) -> dict[str, Any]:
    return next(o for o in DATA["objects"] if o["metadata"]["name"] == name)


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [o for o in DATA["objects"] if o["kind"] == kind]


def sequence(kind: str) -> list[dict[str, Any]]:
    """Every version a waiting plugin saw of one resource, from creation to its end."""
    return list(DATA["sequences"][kind])


def events(name: str) -> list[dict[str, Any]]:
    return list(DATA["events"].get(name, []))
