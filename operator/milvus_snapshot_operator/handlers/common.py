"""Small helpers shared by the per-kind handlers."""

from __future__ import annotations

import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def parse(model: type[M], data: Any) -> M:
    """Parse a spec/status mapping, ignoring fields unknown to this version (a newer status writer)."""
    raw = dict(data or {})
    try:
        return model.model_validate(raw)
    except ValidationError:
        known = {f.alias or n for n, f in model.model_fields.items()}
        return model.model_validate({k: v for k, v in raw.items() if k in known})
