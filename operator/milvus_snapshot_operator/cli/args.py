"""The command line: global kubectl-style flags (accepted before or after the command) and five commands."""

from __future__ import annotations

import argparse
import re

from .. import __version__

PROG = "kubectl milvus-snapshot"
DEFAULT_TIMEOUT = "10m"
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def duration(text: str) -> float:
    """A timeout as kubectl takes it: `90s`, `10m`, `1h30m`, or plain seconds; more than zero."""
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    else:
        match = _DURATION.match(text)
        if not match or not text:
            raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use e.g. 90s, 10m or 1h30m")
        hours, minutes, secs = (float(part) if part else 0.0 for part in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: must be more than zero")
    return seconds


def _connection_flags(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """--kubeconfig, --context, -n on the top parser and on each command (`status -n x` and `-n x status`)."""
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("cluster (as kubectl)")
    group.add_argument("--kubeconfig", default=default, help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    group.add_argument("--context", default=default, help="kubeconfig context to use")
    group.add_argument("-n", "--namespace", default=default, help="namespace (default: the context's, else default)")


def _wait_flags(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"follow the resource until {what} (default); --no-wait returns once it is created",
    )
    parser.add_argument(
        "--timeout",
        type=duration,
        default=duration(DEFAULT_TIMEOUT),
        help=f"give up waiting after this long, exit code 3 (default {DEFAULT_TIMEOUT})",
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=PROG,
        description="Snapshot, restore and inspect Milvus collections managed by milvus-snapshot-operator.",
        epilog="Exit codes: 0 success, 1 the resource failed (its reason is printed) or the API refused, "
        "2 usage or configuration error, 3 timeout.",
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _connection_flags(top, suppress=False)
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        _connection_flags(sub, suppress=True)
        return sub

    status = command("status", "connections, schedules, snapshots and restores as a tree")
    status.add_argument("namespace_arg", nargs="?", metavar="NAMESPACE", help="namespace (same as -n)")
    status.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    status.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")

    snapshot = command("snapshot", "snapshot a collection now: create a MilvusSnapshot and wait until Ready")
    snapshot.add_argument("collection", metavar="COLLECTION", help="the Milvus collection")
    snapshot.add_argument("--connection", required=True, help="the MilvusConnection to use")
    snapshot.add_argument("--db", help="database of the collection (default: the connection's)")
    snapshot.add_argument("--name", help="name of the MilvusSnapshot (default: COLLECTION-<UTC yyyymmddhhmmss>)")
    snapshot.add_argument("--dry-run", action="store_true", help="print the manifest instead of creating it")
    _wait_flags(snapshot, "it is Ready or Failed")

    restore = command("restore", "restore a snapshot into a new collection: create a MilvusRestore and follow its job")
    source = restore.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-schedule", metavar="SCHEDULE", help="the newest Ready snapshot of this schedule")
    source.add_argument("--from-snapshot", metavar="MSNAP", help="this MilvusSnapshot")
    restore.add_argument("--to", required=True, metavar="TARGET", help="the new collection to restore into")
    restore.add_argument("--target-db", help="database of the new collection (default: the source's)")
    restore.add_argument("--alias", help="point this Milvus alias at the restored collection when it is done")
    restore.add_argument("--name", help="name of the MilvusRestore (default: TARGET-<UTC yyyymmddhhmmss>)")
    restore.add_argument("--dry-run", action="store_true", help="print the manifest instead of creating it")
    _wait_flags(restore, "the restore completed or failed")

    trigger = command("trigger", "run a schedule now (sets its snapshot.milvus.io/trigger annotation)")
    trigger.add_argument("schedule", metavar="SCHEDULE", help="the MilvusSnapshotSchedule")
    trigger.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="--wait: follow the run's snapshot until Ready; --no-wait: return at once "
        "(default: return when the run's MilvusSnapshot exists)",
    )
    trigger.add_argument(
        "--timeout", type=duration, default=duration(DEFAULT_TIMEOUT), help="exit code 3 after this long"
    )

    explain = command("explain", "why a resource is where it is: conditions, error, Milvus job, references, events")
    explain.add_argument("resource", metavar="KIND/NAME", help="e.g. msnap/books-1, mrestore restore-1, mconn/milvus")
    explain.add_argument("name", nargs="?", metavar="NAME", help="the name, when KIND is given on its own")
    return top


def parse(argv: list[str]) -> argparse.Namespace:
    args = parser().parse_args(argv)
    if args.command == "status" and args.namespace_arg:
        args.namespace = args.namespace_arg
    return args
