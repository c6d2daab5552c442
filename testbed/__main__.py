"""CLI: `python -m testbed up|down|status [--workdir DIR] [--foreground] [--node]`, run from the repo root.

`up` prints `export KUBECONFIG=...` on stdout (progress goes to stderr), so `eval "$(python -m testbed up)"`
works. Without --foreground it leaves a supervisor process running in the background; `down` stops it.
`up --node` adds a real node (kubelet, containerd; needs root) with the image of `make image` imported.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from testbed import daemon, procs
from testbed.certs import Certs, admin_tls
from testbed.controlplane import ControlPlane, ControlPlaneError, insecure_tls, probe
from testbed.tools import REPO_ROOT

DEFAULT_WORKDIR = REPO_ROOT / ".testbed"
UP_TIMEOUT = 180.0


def _export(kubeconfig: str | Path) -> None:
    print(f"export KUBECONFIG={kubeconfig}", flush=True)


def _kcm_flag(args: argparse.Namespace) -> bool | None:
    return False if args.no_controller_manager else None


def cmd_up(args: argparse.Namespace) -> int:
    workdir: Path = args.workdir
    if args.foreground:

        def ready(cp: ControlPlane) -> None:
            print("testbed: up; stop with Ctrl-C or `python -m testbed down`", file=sys.stderr, flush=True)
            _export(cp.kubeconfig)

        try:
            return daemon.supervise(workdir, _kcm_flag(args), ready, sys.stderr, with_node=args.node)
        except ControlPlaneError as e:
            print(f"testbed: start failed: {e}", file=sys.stderr)
            return 1

    state = daemon.read_state(workdir)
    if state and daemon.supervisor(state).alive():
        print(f"testbed: already up (supervisor pid {daemon.supervisor(state).pid}) at {state['server']}",
              file=sys.stderr)  # fmt: skip
        _export(state["kubeconfig"])
        return 0
    if state:
        print("testbed: cleaning up after a supervisor that died", file=sys.stderr)
        daemon.cleanup(workdir, state, sys.stderr)
    return _spawn_supervisor(args)


def _spawn_supervisor(args: argparse.Namespace) -> int:
    """Start `up --foreground` detached (own session, output to testbed.log) and relay its log until ready."""
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "testbed.log"
    argv = [sys.executable, "-m", "testbed", "up", "--foreground", "--workdir", str(workdir)]
    argv += ["--no-controller-manager"] if args.no_controller_manager else []
    argv += ["--node"] if args.node else []
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    with log_path.open("w") as log:
        child = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + UP_TIMEOUT
    with log_path.open() as log:
        while True:
            for line in log:
                if not line.startswith("export "):
                    sys.stderr.write(line)
            state = daemon.read_state(workdir)
            if state and state["supervisor"]["pid"] == child.pid:
                print(
                    f"testbed: up in the background (supervisor pid {child.pid}, log {log_path})",
                    file=sys.stderr,
                )
                _export(state["kubeconfig"])
                return 0
            if (rc := child.poll()) is not None:
                sys.stderr.write(log.read())
                if rc == daemon.EXIT_ALREADY_RUNNING:
                    return 0
                print(f"testbed: supervisor exited with code {rc}; see {log_path}", file=sys.stderr)
                return 1
            if time.monotonic() > deadline:
                print(f"testbed: not up after {UP_TIMEOUT:.0f}s; stopping it (see {log_path})", file=sys.stderr)
                procs.terminate(procs.ProcRef.of("supervisor", child.pid), proc=child)
                return 1
            time.sleep(0.2)


def cmd_down(args: argparse.Namespace) -> int:
    state = daemon.read_state(args.workdir)
    if state is None:
        print(f"testbed: not running (no state in {args.workdir})")
        return 0
    daemon.cleanup(args.workdir, state, sys.stdout)
    print("testbed: down")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = daemon.read_state(args.workdir)
    if state is None:
        print(f"testbed: not running (no state in {args.workdir})")
        return 1
    sup = daemon.supervisor(state)
    healthy = sup.alive()
    print(f"testbed: supervisor pid {sup.pid} {'running' if healthy else 'DEAD'}; server {state['server']}"
          f"{' (DEGRADED: no controller-manager)' if state['degraded'] else ''}")  # fmt: skip
    for ref in reversed(daemon.components(state)):
        alive = ref.alive()
        healthy &= alive
        health = _health(ref.name, state, args.workdir) if ref.name in state["processes"] else ""
        print(f"  {ref.name:<24} pid {ref.pid:<8} {'running' if alive else 'DEAD':<8} {health}")
    if node := state.get("node"):
        print(f"  node {node['name']}: pods on {node['gateway']}/24, relay to loopback; logs {node['workdir']}/logs")
    print(f"  logs: {Path(state['logs']['etcd']).parent}")
    print(f"export KUBECONFIG={state['kubeconfig']}")
    return 0 if healthy else 1


def _health(name: str, state: dict[str, Any], workdir: Path) -> str:
    ports = state["ports"]
    if name == "etcd":
        url, ctx, port = f"http://127.0.0.1:{ports['etcd']}/health", None, ports["etcd"]
    elif name == "kube-apiserver":
        url, ctx, port = (
            state["server"] + "/readyz",
            admin_tls(Certs.in_dir(workdir / "pki")),
            ports["apiserver"],
        )
    else:
        port = ports["controller_manager"]
        url, ctx = f"https://127.0.0.1:{port}/healthz", insecure_tls()
    return f"port {port:<6} {url.rsplit('/', 1)[1]}: {probe(url, ctx)[1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help=f"state, logs, certs (default {DEFAULT_WORKDIR})",
    )
    parser.add_argument("--foreground", action="store_true", help="up: run attached until Ctrl-C")
    parser.add_argument("--no-controller-manager", action="store_true", help="up: envtest-like, no KCM")
    parser.add_argument("--node", action="store_true", help="up: also a real node (kubelet, containerd; root)")
    args = parser.parse_args(argv)
    args.workdir = args.workdir.resolve()
    return {"up": cmd_up, "down": cmd_down, "status": cmd_status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
