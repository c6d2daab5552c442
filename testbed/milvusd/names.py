"""Milvus proxy name checks (internal/proxy/util.go), with their exact error texts.

`validate_name` is `validateName` (snapshot names; defaults assumed: `proxy.maxNameLength` = 255 and
`proxy.nameValidationAllowedChars` = "$"); `validate_collection_name` is `validateCollectionNameOrAlias`,
which the alias RPCs apply to both the alias and the collection name.
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


def validate_collection_name(entity: str, kind: str) -> None:
    """`validateCollectionNameOrAlias(entity, kind)`, kind "name" or "alias"; no trimming, no "$"."""
    if not entity:
        raise invalid(f"collection {kind} should not be empty")
    prefix = f"Invalid collection {kind}: {entity}."
    raw = entity.encode()
    if len(raw) > MAX_NAME_LENGTH:
        raise invalid(f"{prefix} the length of a collection {kind} must be less than {MAX_NAME_LENGTH} characters")
    if raw[0] != ord("_") and not _is_alpha(raw[0]):
        raise invalid(f"{prefix} the first character of a collection {kind} must be an underscore or letter")
    if any(c != ord("_") and not _is_alpha(c) and not _is_digit(c) for c in raw[1:]):
        raise invalid(f"{prefix} collection {kind} can only contain numbers, letters and underscores")
