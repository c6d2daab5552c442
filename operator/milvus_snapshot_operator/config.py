"""Operator settings, read once from the environment (the Helm chart sets them)."""

from __future__ import annotations

import os

from pydantic import BaseModel, Field, ValidationError


class OperatorConfig(BaseModel):
    restore_poll_seconds: float = Field(default=2.0, gt=0, description="ListRestoreSnapshotJobs interval.")
    drift_check_seconds: float = Field(default=300.0, gt=0, description="How often Ready snapshots are verified.")
    connection_probe_seconds: float = Field(default=300.0, gt=0, description="MilvusConnection re-probe interval.")
    backoff_base_seconds: float = Field(default=1.0, gt=0, description="First retry after a transient error.")
    backoff_max_seconds: float = Field(default=60.0, gt=0, description="Cap of the exponential backoff.")
    slow_retry_seconds: float = Field(default=60.0, gt=0, description="Retry after authentication failures.")
    retention_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often each schedule's retention runs besides after every success."
    )
    dependency_wait_seconds: float = Field(
        default=30.0, gt=0, description="Longest wait for a missing reference before re-checking anyway."
    )
    allowed_endpoints: str = Field(
        default="",
        description=(
            "Comma-separated host patterns (shell-style, optional :port) and CIDRs the operator may connect "
            "to; empty allows every endpoint."
        ),
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> OperatorConfig:
        """MSO_<FIELD> variables, e.g. MSO_RESTORE_POLL_SECONDS=2."""
        env = os.environ if environ is None else environ
        values = {name: env[f"MSO_{name.upper()}"] for name in cls.model_fields if f"MSO_{name.upper()}" in env}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:  # name the variable the user set, not the field
            problems = [
                f"MSO_{str(error['loc'][0]).upper()}={error.get('input')!r}: {error['msg']}" for error in exc.errors()
            ]
            raise ValueError("; ".join(problems)) from None
