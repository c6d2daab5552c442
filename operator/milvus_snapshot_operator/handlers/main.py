"""Command line: `python -m milvus_snapshot_operator [-n NS ...|-A] [--peering NAME] [--liveness URL]`."""

from __future__ import annotations

import argparse
import os
import secrets

import kopf

from . import __name__ as _handlers  # noqa: F401 - registers every handler
from . import metrics
from .runtime import settings_from_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="milvus_snapshot_operator", description="Milvus snapshot operator")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", action="append", default=[], help="watch this namespace (repeatable)")
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch all namespaces")
    parser.add_argument("--peering", default=None, help="Kopf peering name for HA (default: standalone)")
    parser.add_argument(
        "--priority",
        type=int,
        default=None,
        help="peering priority; the highest live one acts (default with --peering: random, so replicas differ)",
    )
    parser.add_argument("--liveness", default=None, help="health endpoint, e.g. http://0.0.0.0:8080/healthz")
    parser.add_argument(
        "--metrics-bind-address",
        default=os.environ.get("MSO_METRICS_BIND_ADDRESS", metrics.DEFAULT_BIND_ADDRESS),
        help="Prometheus /metrics on HOST:PORT or :PORT; 0 disables (default: $MSO_METRICS_BIND_ADDRESS or :9090)",
    )
    parser.add_argument("--verbose", action="store_true", help="log at DEBUG")
    parser.add_argument("--log-format", choices=["plain", "full", "json"], default="full")
    args = parser.parse_args(argv)
    try:
        metrics.parse_bind_address(args.metrics_bind_address)
        config = settings_from_env()
    except ValueError as exc:  # pydantic's ValidationError is one too
        parser.error(str(exc))  # exit 2 before Kopf starts: a startup handler's error would only be retried
    namespaces = args.namespace or [n for n in os.environ.get("WATCH_NAMESPACES", "").split(",") if n]
    # log_prefix=None: text lines start with [namespace/name]; JSON lines carry it under "object".
    log_format = kopf.LogFormat[args.log_format.upper()]
    kopf.configure(verbose=args.verbose, log_format=log_format, log_prefix=None, log_refkey="object")
    settings = kopf.OperatorSettings()
    # Exact namespaces: serve just those, without Kopf's cluster-scoped list/watch of namespaces and CRDs, so
    # per-namespace Roles suffice (otherwise Kopf retries 403s for about a minute before falling back).
    settings.scanning.disabled = bool(namespaces) and not any(c in ns for ns in namespaces for c in "!*?,")
    # Kopf peering is not leader election: peers of equal priority all pause. Distinct priorities let the
    # highest live replica act while the others stand by.
    priority = args.priority if args.priority is not None else (secrets.randbelow(2**31 - 1) + 1 if args.peering else 0)
    kopf.run(
        settings=settings,
        standalone=args.peering is None,
        peering_name=args.peering,
        priority=priority,
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=args.liveness,
        memo=kopf.Memo(metrics_bind_address=args.metrics_bind_address, config=config),
    )
    return 0
