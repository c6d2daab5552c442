"""Entry point of the console script `kubectl-milvus_snapshot` (kubectl runs it as `kubectl milvus-snapshot`)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from .args import parse
from .errors import CliError
from .kube import Kube, api_client
from .kubeconfig import resolve

INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)  # exits 2 on usage errors, as argparse does

    def connect() -> Kube:
        target = resolve(args.kubeconfig, args.context, args.namespace)
        return Kube(api_client(target), target.namespace)

    from .commands import explain, restore, snapshot, status, trigger

    commands: dict[str, Callable[..., int]] = {
        "status": status.run,
        "snapshot": snapshot.run,
        "restore": restore.run,
        "trigger": trigger.run,
        "explain": explain.run,
    }
    try:
        return commands[args.command](args, connect, sys.stdout)
    except CliError as exc:
        sys.stdout.flush()
        sys.stderr.write(exc.message + "\n")
        return exc.code
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
