"""Shapes shared by every kind: references, conditions, errors, Milvus name rules."""

from __future__ import annotations

import datetime
import enum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Milvus validates collection, database and snapshot names the same way (validateName in the proxy):
# first character a letter or `_`, then letters, digits or `_`, at most 255 characters.
MILVUS_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
MILVUS_NAME_MAX = 255


def milvus_name(description: str) -> Any:
    """A field holding a Milvus object name, validated exactly as Milvus would."""
    return Field(pattern=MILVUS_NAME_PATTERN, min_length=1, max_length=MILVUS_NAME_MAX, description=description)


MilvusName = Annotated[str, Field(pattern=MILVUS_NAME_PATTERN, min_length=1, max_length=MILVUS_NAME_MAX)]


class Model(BaseModel):
    """Base for all CRD shapes: camelCase on the wire, unknown fields kept out, names usable in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", use_enum_values=True)

    def to_wire(self) -> dict[str, Any]:
        """Serialise as Kubernetes expects: camelCase, no nulls."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class LocalObjectReference(Model):
    """A reference to an object of a known kind in the same namespace."""

    name: str = Field(
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="Name of the referenced object, in the same namespace.",
    )


class ConditionStatus(enum.StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(Model):
    """A metav1.Condition: read by kstatus, `kubectl wait` and Argo CD."""

    type: str = Field(description="Condition type: Ready, Reconciling or Stalled.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="Machine-readable UpperCamelCase reason.")
    message: str = Field(default="", description="Human-readable details.")
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this condition was computed for."
    )
    last_transition_time: str = Field(description="When the status last changed (RFC 3339).")


class ErrorInfo(Model):
    """The last error that decided the phase, as Milvus or the operator reported it."""

    reason: str = Field(description="Machine-readable reason, the same as the Ready condition's.")
    message: str = Field(description="The message, verbatim from Milvus where it came from Milvus.")
    code: int | None = Field(default=None, description="Milvus error code, when Milvus returned one.")
    time: str = Field(description="When the error was observed (RFC 3339).")


def rfc3339(moment: datetime.datetime) -> str:
    """RFC 3339 in UTC with a Z suffix, second precision, as Kubernetes writes timestamps."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: str) -> datetime.datetime:
    """The inverse of rfc3339 (also reads offsets and fractions): an aware datetime in UTC."""
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(datetime.UTC)
