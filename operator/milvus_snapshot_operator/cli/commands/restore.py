"""`restore --from-schedule S | --from-snapshot M --to TARGET`: create a MilvusRestore, follow its job."""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Callable
from typing import TextIO

from ..kinds import RESTORE
from ..kube import Kube
from ..manifests import restore_manifest, timestamped_name
from ..waiting import deadline_after, follow
from .create import create, dry_run


def run(args: argparse.Namespace, connect: Callable[[], Kube], out: TextIO) -> int:
    name = args.name or timestamped_name(args.to, datetime.datetime.now(datetime.UTC))
    body = restore_manifest(name, args.to, args.from_schedule, args.from_snapshot, args.alias, args.target_db)
    if args.dry_run:
        return dry_run(body, args.namespace, out)
    kube = connect()
    deadline = deadline_after(args.timeout)
    name = create(kube, RESTORE, body, bool(args.name), out)
    if args.wait:
        follow(kube, RESTORE, name, deadline, out, args.timeout)
    return 0
