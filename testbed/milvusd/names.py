"""Milvus proxy `validateName` (internal/proxy/util.go), with its exact error texts.

Defaults assumed: `proxy.maxNameLength` = 255 and `proxy.nameValidationAllowedChars` = "$".
"""

from __future__ import annotations

from .errors import invalid

MAX_NAME_LENGTH = 255
ALLOWED_CHARS = "$"


def _is_alpha(c: int) -> bool:
    return 65 <= c <= 90 or 97 <= c <= 122


def _is_digit(c: int) -> bool:
    return 48 <= c <= 57


def validate_name(entity: str, name_type: str) -> None:
    """Raise MilvusError(1100) unless `entity` is a valid Milvus name; checks bytes like the Go code."""
    trimmed = entity.strip().encode()
    if not trimmed:
        raise invalid(f"{name_type} should be not empty", "[expected=not empty][actual=]")
    if len(trimmed) > MAX_NAME_LENGTH:
        raise invalid(
            f"the length of {name_type} must be not greater than limit",
            f"[{len(trimmed)} out of range 0 <= value <= {MAX_NAME_LENGTH}]",
        )
    first = trimmed[0]
    if first != ord("_") and not _is_alpha(first):
        raise invalid(
            f"the first character of {name_type} must be an underscore or letter",
            f"[expected={ord('_')}][actual={first}]",
        )
    for i in range(1, len(trimmed)):
        c = trimmed[i]
        if c != ord("_") and not _is_alpha(c) and not _is_digit(c) and chr(c) not in ALLOWED_CHARS:
            raise invalid(
                f"{name_type} can only contain numbers, letters, underscores, and allowed characters "
                f"({ALLOWED_CHARS}), found {chr(c)} at {i}"
            )
