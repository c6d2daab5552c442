"""`snapshot COLLECTION --connection C`: create a MilvusSnapshot and wait until it is Ready."""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Callable
from typing import TextIO

from ..kinds import SNAPSHOT
from ..kube import Kube
from ..manifests import snapshot_manifest, timestamped_name
from .create import create_and_follow


def run(args: argparse.Namespace, connect: Callable[[], Kube], out: TextIO) -> int:
    name = args.name or timestamped_name(args.collection, datetime.datetime.now(datetime.UTC))
    body = snapshot_manifest(name, args.collection, args.connection, args.db)
    return create_and_follow(args, connect, SNAPSHOT, body, out)
