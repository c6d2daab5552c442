"""`status [NAMESPACE] [-A]`: every connection with what uses it, as a tree (or JSON)."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable
from typing import TextIO

from .. import tree
from ..kinds import CONNECTION, RESTORE, SCHEDULE, SNAPSHOT, Kind
from ..kube import Kube
from ..states import Obj


def _utf8(out: TextIO) -> bool:
    return "utf" in (getattr(out, "encoding", None) or "").lower()


def run(args: argparse.Namespace, connect: Callable[[], Kube], out: TextIO) -> int:
    kube = connect()
    scope = None if args.all_namespaces else kube.namespace
    listed = {kind: kube.items(kind, scope) for kind in (CONNECTION, SCHEDULE, SNAPSHOT, RESTORE)}
    now = datetime.datetime.now(datetime.UTC)
    namespaces = sorted({o["metadata"]["namespace"] for objs in listed.values() for o in objs})

    def forest(namespace: str) -> list[tree.Node]:
        def of(kind: Kind) -> list[Obj]:
            return [o for o in listed[kind] if o["metadata"]["namespace"] == namespace]

        return tree.build(of(CONNECTION), of(SCHEDULE), of(SNAPSHOT), of(RESTORE), now)

    forests = {namespace: forest(namespace) for namespace in namespaces}
    if args.output == "json":
        items = [node.to_json(now) for namespace in namespaces for node in forests[namespace]]
        out.write(json.dumps({"items": items}, indent=2) + "\n")
        return 0
    if not namespaces:
        where = "any namespace" if scope is None else f"{scope} namespace"
        sys.stderr.write(f"No resources found in {where}.\n")
        return 0
    for i, namespace in enumerate(namespaces):
        if scope is None:
            out.write(("\n" if i else "") + f"NAMESPACE {namespace}\n")
        out.write("\n".join(tree.render(forests[namespace], now, unicode=_utf8(out))) + "\n")
    return 0
