"""Deterministic Milvus names for Kubernetes objects.

Kubernetes names allow '-' and '.', Milvus names only letters, digits and '_' (first a letter or '_'),
so the default snapshot name is metadata.name with '-' and '.' mapped to '_'. It is a pure function
of the name, so a restarted operator finds the snapshot it made before a crash.
"""

from __future__ import annotations

import hashlib
import re

from ..api.common import MILVUS_NAME_MAX

_INVALID = re.compile(r"[^A-Za-z0-9_]")


def snapshot_name_for(resource_name: str) -> str:
    """The default Milvus snapshot name of a MilvusSnapshot called `resource_name`."""
    name = _INVALID.sub("_", resource_name)
    if not name or not (name[0].isalpha() or name[0] == "_"):
        name = f"s_{name}"
    if len(name) > MILVUS_NAME_MAX:
        digest = hashlib.sha256(resource_name.encode()).hexdigest()[:12]
        name = f"{name[: MILVUS_NAME_MAX - 13]}_{digest}"
    return name
