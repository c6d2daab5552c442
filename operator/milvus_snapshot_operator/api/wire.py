"""The wire form of objects read without a model: Kubernetes JSON as the API server sends it (camelCase keys),
a kubeconfig, a JSON schema. Used by the metrics summaries, the kubectl plugin and the CRD generator.

This is where the operator's `Any` lives, on purpose: these values are read with `.get` chains whose shape
the CRD schema (or the file's format) guarantees, and every reader tolerates a missing key. Spelling each
level as `object` would add an isinstance per key and check nothing the schema does not already.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Wire = dict[str, Any]  # a JSON object, built or read
WireView = Mapping[str, Any]  # a JSON object, read only (Kopf's body, spec, status and meta views are these)
WireValue = Any  # one JSON value of unknown shape (a field that may be missing or of the wrong type)


def condition(status: WireView, type_: str) -> WireView:
    """A condition of a status read off the wire (`{}` when there is none): models have `condition()` too."""
    found: WireView = next((c for c in status.get("conditions") or () if c.get("type") == type_), {})
    return found
