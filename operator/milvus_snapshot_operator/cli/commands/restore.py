"""`restore --from-schedule S | --from-snapshot M --to TARGET`: create a MilvusRestore, follow its job."""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Callable
from typing import TextIO

from ..kinds import RESTORE
from ..kube import Kube
from ..manifests import restore_manifest, timestamped_name
from .create import create_and_follow


def run(args: argparse.Namespace, connect: Callable[[], Kube], out: TextIO) -> int:
    name = args.name or timestamped_name(args.to, datetime.datetime.now(datetime.UTC))
    body = restore_manifest(name, args.to, args.from_schedule, args.from_snapshot, args.alias, args.target_db)
    return create_and_follow(args, connect, RESTORE, body, out)
