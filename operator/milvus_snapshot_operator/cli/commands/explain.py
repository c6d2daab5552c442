"""`explain KIND/NAME`: gather the object, what it references, a schedule's runs and the events; then render."""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Callable
from typing import TextIO

from ...api import SCHEDULE_LABEL
from ..errors import UsageError
from ..evidence import Facts, Reference, references_of, render
from ..kinds import SCHEDULE, SNAPSHOT, UnknownKind, parse_ref
from ..kube import Kube


def run(args: argparse.Namespace, connect: Callable[[], Kube], out: TextIO) -> int:
    try:
        kind, name = parse_ref(args.resource, args.name)
    except UnknownKind as exc:
        raise UsageError(f"error: {exc}") from exc
    kube = connect()
    obj = kube.require(kind, name)
    facts = Facts(kind, obj)
    facts.references = [Reference(role, k, n, kube.get(k, n)) for role, k, n in references_of(kind, obj)]
    if kind == SCHEDULE:
        facts.children = kube.items(SNAPSHOT, kube.namespace, label_selector=f"{SCHEDULE_LABEL}={name}")
    facts.events = kube.events(obj)
    out.write("\n".join(render(facts, datetime.datetime.now(datetime.UTC))) + "\n")
    return 0
