"""`snapshot COLLECTION --connection C`: create a MilvusSnapshot and wait until it is Ready."""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Callable
from typing import TextIO

from ..kinds import SNAPSHOT
from ..kube import Kube
from ..manifests import snapshot_manifest, timestamped_name
from ..waiting import deadline_after, follow
from .create import create, dry_run


def run(args: argparse.Namespace, connect: Callable[[], Kube], out: TextIO) -> int:
    name = args.name or timestamped_name(args.collection, datetime.datetime.now(datetime.UTC))
    body = snapshot_manifest(name, args.collection, args.connection, args.db)
    if args.dry_run:
        return dry_run(body, args.namespace, out)
    kube = connect()
    deadline = deadline_after(args.timeout)
    name = create(kube, SNAPSHOT, body, bool(args.name), out)
    if args.wait:
        follow(kube, SNAPSHOT, name, deadline, out, args.timeout)
    return 0
