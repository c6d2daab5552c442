"""Shapes shared by every kind: references, conditions, errors, intents, Milvus name rules, and the status
transitions every kind uses (Ready / Reconciling / Stalled, as kstatus, `kubectl wait` and Argo CD read them).
"""

from __future__ import annotations

import datetime
import enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Milvus validates collection, database and snapshot names the same way (validateName in the proxy):
# first character a letter or `_`, then letters, digits or `_`, at most 255 characters.
MILVUS_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
MILVUS_NAME_MAX = 255
# A Kubernetes object name (RFC 1123 subdomain), as the API server validates metadata.name.
DNS1123_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"

MilvusName = Annotated[str, Field(pattern=MILVUS_NAME_PATTERN, min_length=1, max_length=MILVUS_NAME_MAX)]
ObjectName = Annotated[str, Field(pattern=DNS1123_PATTERN, min_length=1, max_length=253)]

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"


class Model(BaseModel):
    """Base for all CRD shapes: camelCase on the wire, unknown fields kept out, names usable in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", use_enum_values=True)

    def to_wire(self) -> dict[str, object]:
        """Serialise as Kubernetes expects: camelCase, no nulls."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class LocalObjectReference(Model):
    """A reference to an object of a known kind in the same namespace."""

    name: ObjectName = Field(description="Name of the referenced object, in the same namespace.")


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


class Intent(Model):
    """A side-effecting Milvus call about to be made; written to status before the call (crash safety)."""

    operation: str = Field(description="The Milvus operation: CreateSnapshot, RestoreSnapshot or AlterAlias.")
    time: str = Field(description="When the intent was recorded (RFC 3339).")
    attempt_time: str | None = Field(
        default=None,
        description="When the call last ended without a known outcome (timeout, lost reply), RFC 3339.",
    )

    def last_attempt(self) -> datetime.datetime | None:
        """When the call was last made (recorded, or last retried after an unknown outcome): what it may still
        be doing in Milvus is measured from here."""
        times = [parse_rfc3339_or_none(self.time), parse_rfc3339_or_none(self.attempt_time)]
        return max((t for t in times if t is not None), default=None)


def rfc3339(moment: datetime.datetime) -> str:
    """RFC 3339 in UTC with a Z suffix, second precision, as Kubernetes writes timestamps."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: str) -> datetime.datetime:
    """The inverse of rfc3339 (also reads offsets and fractions): an aware datetime in UTC.

    Raises ValueError on anything else, naming the value.
    """
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise ValueError(f"not an RFC 3339 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"RFC 3339 time without an offset: {value!r}")
    return parsed.astimezone(datetime.UTC)


def parse_rfc3339_or_none(value: str | None) -> datetime.datetime | None:
    """For optional status fields: None when unset or not a time (a status is never trusted blindly)."""
    if not value:
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        return None


class ConditionedStatus(Model):
    """What every kind's status has, and the transitions between its states.

    One place decides what "progressing", "ready", "retrying" and "failed" mean for the conditions:
    work in progress is Ready=Unknown + Reconciling=True (kstatus InProgress), done is Ready=True, a
    transient problem is Ready=False without Stalled (never Failed), a terminal one is Stalled=True with
    Ready=False and the same reason (kstatus Failed). lastTransitionTime moves only when a status does.
    """

    observed_generation: int | None = Field(default=None, description="Last metadata.generation handled.")
    error: ErrorInfo | None = Field(default=None, description="The last error, when not Ready.")
    conditions: list[Condition] = Field(default_factory=list, description="Ready, Reconciling, Stalled.")

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def set_condition(
        self,
        type_: str,
        status: ConditionStatus,
        reason: str,
        message: str,
        generation: int | None,
        now: datetime.datetime,
    ) -> None:
        """Upsert a condition; lastTransitionTime changes only when its status does."""
        previous = self.condition(type_)
        since = previous.last_transition_time if previous and previous.status == status else rfc3339(now)
        kept = [c for c in self.conditions if c.type != type_]
        kept.append(
            Condition(
                type=type_,
                status=status,
                reason=reason,
                message=message,
                observed_generation=generation,
                last_transition_time=since,
            )
        )
        self.conditions = sorted(kept, key=lambda c: (c.type != READY, c.type))

    def remove_condition(self, type_: str) -> None:
        self.conditions = [c for c in self.conditions if c.type != type_]

    def mark_progressing(self, reason: str, message: str, generation: int | None, now: datetime.datetime) -> None:
        """Work in progress: Ready=Unknown, Reconciling=True (kstatus InProgress, Argo Progressing)."""
        self.observed_generation = generation
        self.error = None
        self.set_condition(READY, ConditionStatus.UNKNOWN, "Progressing", message, generation, now)
        self.set_condition(RECONCILING, ConditionStatus.TRUE, reason, message, generation, now)
        self.remove_condition(STALLED)

    def mark_ready(self, reason: str, message: str, generation: int | None, now: datetime.datetime) -> None:
        self.observed_generation = generation
        self.error = None
        self.set_condition(READY, ConditionStatus.TRUE, reason, message, generation, now)
        self.remove_condition(RECONCILING)
        self.remove_condition(STALLED)

    def mark_retrying(
        self,
        reason: str,
        message: str,
        generation: int | None,
        now: datetime.datetime,
        code: int | None = None,
    ) -> bool:
        """Transient trouble: Ready=False without Stalled (kstatus InProgress; never Failed).

        True when this is a new reason (the caller posts an event on transitions only).
        """
        first = self.error is None or self.error.reason != reason
        self.observed_generation = generation
        self._record_error(reason, message, code, now)
        self.set_condition(READY, ConditionStatus.FALSE, reason, message, generation, now)
        self.set_condition(RECONCILING, ConditionStatus.TRUE, reason, message, generation, now)
        self.remove_condition(STALLED)
        return first

    def mark_stalled(
        self,
        reason: str,
        message: str,
        generation: int | None,
        now: datetime.datetime,
        code: int | None = None,
    ) -> None:
        """Terminal failure: Stalled=True with Ready=False and the same reason (kstatus Failed)."""
        self.observed_generation = generation
        self._record_error(reason, message, code, now)
        self.set_condition(READY, ConditionStatus.FALSE, reason, message, generation, now)
        self.set_condition(STALLED, ConditionStatus.TRUE, reason, message, generation, now)
        self.remove_condition(RECONCILING)

    def _record_error(self, reason: str, message: str, code: int | None, now: datetime.datetime) -> None:
        same = self.error is not None and self.error.reason == reason and self.error.message == message
        if not same:
            self.error = ErrorInfo(reason=reason, message=message, code=code, time=rfc3339(now))


class TerminalStatus(ConditionedStatus):
    """A status that can end Failed (snapshots, restores): `fail` is the one way there."""

    def fail(
        self, reason: str, message: str, generation: int | None, now: datetime.datetime, code: int | None = None
    ) -> None:
        """Terminal failure; kinds with a phase override this to set it as well."""
        self.mark_stalled(reason, message, generation, now, code)
