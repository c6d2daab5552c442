"""`python -m testbed.milvusd --port N --data DIR [options]`: run milvusd until SIGTERM/SIGINT.

Prints `milvusd admin on 127.0.0.1:M` (if --admin-port) and then `milvusd ready on 127.0.0.1:N` once
serving; port 0 picks a free port and the printed line carries the real one.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType
from typing import Any

from .faults import (
    DEFAULT_JOB_RETENTION,
    DEFAULT_RESTORE_DURATION,
    DEFAULT_RESTORE_PIN_TTL,
    DEFAULT_RESTORE_TICK,
)
from .server import HOST, ServerOptions, serve


def _latency(spec: str) -> tuple[str, float]:
    """`RpcName=seconds`, or bare `seconds` for every RPC."""
    name, _, secs = spec.rpartition("=")
    try:
        return name or "*", float(secs)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad latency {spec!r}; want RpcName=seconds or seconds") from None


def _counts(spec: str) -> tuple[str, int]:
    """`RpcName=K`."""
    name, _, count = spec.rpartition("=")
    try:
        if name and int(count) >= 0:
            return name, int(count)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"bad count {spec!r}; want RpcName=K") from None


def _rows(spec: str) -> dict[str, int]:
    """`K:N`: K restores each lose N rows."""
    restores, _, rows = spec.partition(":")
    try:
        return {"restores": int(restores), "rows": int(rows)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad row loss {spec!r}; want K:N (K restores lose N rows each)") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m testbed.milvusd", description=__doc__)
    p.add_argument("--port", type=int, required=True, help="gRPC port on 127.0.0.1 (0 = any free port)")
    p.add_argument("--data", required=True, help="data directory (persists across restarts)")
    p.add_argument("--admin-port", type=int, help="JSON admin endpoint port on 127.0.0.1 (0 = any free)")
    p.add_argument("--token", action="append", default=[], help="accepted token (API key); repeatable")
    p.add_argument("--user", action="append", default=[], help="accepted USER:PASSWORD; repeatable")
    p.add_argument("--tls-cert", help="serve gRPC over TLS with this PEM certificate (needs --tls-key)")
    p.add_argument("--tls-key", help="PEM private key of --tls-cert")
    p.add_argument("--latency", action="append", default=[], type=_latency, help="RpcName=seconds | seconds")
    p.add_argument("--unavailable-for", type=float, help="answer UNAVAILABLE for this many seconds at start")
    p.add_argument("--fail-restores", type=int, help="the next K restore jobs end Failed")
    p.add_argument("--fail-reason", help='reason for those failures (default "1/1 tasks failed")')
    p.add_argument("--restore-drop-rows", type=_rows, metavar="K:N", help="the next K restores each lose N rows")
    p.add_argument("--restore-skip-indexes", type=int, metavar="K", help="the next K restores copy no index")
    p.add_argument("--load-latency", type=float, help="seconds each load takes (Loading with progress meanwhile)")
    p.add_argument("--load-fail-next", type=int, metavar="K", help="the next K loads fail")
    p.add_argument(
        "--load-fail-collection", action="append", default=[], metavar="NAME", help="loads of NAME fail; repeatable"
    )
    p.add_argument("--load-fail-reason", help='reason of failed loads (default "segment load failed")')
    p.add_argument(
        "--lose-reply", action="append", default=[], type=_counts, metavar="RPC=K",
        help="the next K calls of RPC run but answer UNAVAILABLE; repeatable",
    )  # fmt: skip
    p.add_argument("--restore-tick", type=float, default=DEFAULT_RESTORE_TICK, help="checker interval, s")
    p.add_argument("--restore-duration", type=float, default=DEFAULT_RESTORE_DURATION, help="Executing phase length, s")
    p.add_argument("--job-retention", type=float, default=DEFAULT_JOB_RETENTION, help="terminal job TTL, s")
    p.add_argument("--restore-pin-ttl", type=float, default=DEFAULT_RESTORE_PIN_TTL, help="restore pin TTL, s")
    p.add_argument("--max-workers", type=int, default=16, help="gRPC worker threads")
    p.add_argument("--log-level", default="WARNING")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    faults: dict[str, Any] = {
        "restore_tick": args.restore_tick,
        "restore_duration": args.restore_duration,
        "job_retention": args.job_retention,
        "restore_pin_ttl": args.restore_pin_ttl,
    }
    if args.latency:
        faults["latency"] = dict(args.latency)
    if args.fail_restores is not None:
        faults["fail_restores"] = args.fail_restores
    if args.fail_reason is not None:
        faults["fail_reason"] = args.fail_reason
    if args.unavailable_for is not None:
        faults["unavailable_for"] = args.unavailable_for
    optional = {
        "restore_drop_rows": args.restore_drop_rows,
        "restore_skip_indexes": args.restore_skip_indexes,
        "load_latency": args.load_latency,
        "load_fail_next": args.load_fail_next,
        "load_fail_reason": args.load_fail_reason,
        "load_fail_collections": args.load_fail_collection or None,
        "lose_reply": dict(args.lose_reply) or None,
    }
    faults.update({key: value for key, value in optional.items() if value is not None})
    options = ServerOptions(
        credentials=[*args.token, *args.user],
        admin_port=args.admin_port,
        faults=faults,
        max_workers=args.max_workers,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    handle = serve(args.port, args.data, options)
    if handle.admin_port is not None:
        print(f"milvusd admin on {HOST}:{handle.admin_port}", flush=True)
    print(f"milvusd ready on {HOST}:{handle.port}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
