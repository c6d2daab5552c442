"""Creating a resource with a generated name, printed the way `kubectl create` prints it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TextIO

import yaml

from ...api import GROUP
from ..errors import CliError
from ..kinds import Kind
from ..kube import Kube
from ..states import Obj
from ..waiting import deadline_after, follow


def dry_run(body: Obj, namespace: str | None, out: TextIO) -> int:
    if namespace:
        body["metadata"]["namespace"] = namespace
    out.write(yaml.safe_dump(body, sort_keys=False))
    return 0


def create(kube: Kube, kind: Kind, body: Obj, name_given: bool, out: TextIO) -> str:
    """Create `body`; a generated name already taken (two runs in one second) falls back to generateName."""
    try:
        made = kube.create(kind, body)
    except CliError as exc:
        taken = exc.http_status == 409
        if name_given or not taken:
            raise
        meta = body["metadata"]
        meta["generateName"] = f"{meta.pop('name')}-"
        made = kube.create(kind, body)
    name = str(made["metadata"]["name"])
    out.write(f"{kind.singular}.{GROUP}/{name} created\n")
    out.flush()
    return name


def create_and_follow(args: argparse.Namespace, connect: Callable[[], Kube], kind: Kind, body: Obj, out: TextIO) -> int:
    """What `snapshot` and `restore` share: --dry-run, create (generated name), then follow unless --no-wait."""
    if args.dry_run:
        return dry_run(body, args.namespace, out)
    kube = connect()
    deadline = deadline_after(args.timeout)
    name = create(kube, kind, body, bool(args.name), out)
    if args.wait:
        follow(kube, kind, name, deadline, out, args.timeout)
    return 0
