"""Small helpers shared by the per-kind handlers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import Callable, Mapping
from typing import TypeVar

import kopf
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")


def by_name(fn: Callable[..., R]) -> Callable[..., R]:
    """Kopf passes handler arguments by name, our indexes among them, which its callback protocols cannot
    name: registering through this lets a handler declare exactly the arguments it uses, typed, and mypy
    checks its body against them."""
    return fn


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def parse(model: type[M], data: Mapping[str, object] | None) -> M:
    """Parse a spec/status mapping, ignoring fields unknown to this version (a newer status writer)."""
    raw = dict(data or {})
    try:
        return model.model_validate(raw)
    except ValidationError:
        known = {f.alias or n for n, f in model.model_fields.items()}
        return model.model_validate({k: v for k, v in raw.items() if k in known})


def mapping(value: object) -> Mapping[str, object]:
    """A body's part as a mapping: an absent or malformed one reads as empty."""
    return value if isinstance(value, Mapping) else {}


async def stop_task(memo: kopf.Memo, key: str) -> None:
    """Cancel an operator-level task a startup handler kept in the memo, and wait until it has ended."""
    task = memo.get(key)
    if isinstance(task, asyncio.Task):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
