"""Processes the e2e tests and the demo run beside the control plane: the Milvus test server and the operator.

Each is a real separate process (so it can be SIGKILLed), logging to a file the tests can search.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from testbed.certs import ServingTls

from .ports import free_ports

REPO = Path(__file__).resolve().parents[1]
_READY = re.compile(r"milvusd ready on 127\.0\.0\.1:(\d+)")
_ADMIN = re.compile(r"milvusd admin on 127\.0\.0\.1:(\d+)")
EXAMPLE_URI = "http://127.0.0.1:19530"  # the Milvus examples/*.yaml name: the demo's fixed port


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(REPO / "operator"), str(REPO), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(paths).strip(os.pathsep)
    env.update(extra or {})
    return env


class MilvusServer:
    """`python -m testbed.milvusd` on a free loopback port, with its admin endpoint for faults and counters.

    With `tls` (see testbed.certs.ensure_serving_tls) it serves gRPC over TLS: `uri` is then https:// and
    clients trust `ca` (pymilvus: `secure=True, server_pem_path=server.ca`).
    """

    def __init__(
        self, data: Path, *args: str, port: int = 0, log: Path | None = None, tls: ServingTls | None = None
    ) -> None:
        self.data, self.args, self.requested_port, self.tls = data, list(args), port, tls
        self.log = log or data.with_suffix(".log")
        self.port = 0
        self.admin_port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca(self) -> Path | None:
        """The CA file a client must trust (None when serving plaintext)."""
        return self.tls.ca_crt if self.tls else None

    def manifest(self, text: str) -> str:
        """An example manifest pointed at this server (tests use free ports, never the demo's)."""
        return text.replace(EXAMPLE_URI, self.uri)

    def connection_manifest(self) -> str:
        """examples/connection.yaml (its Secret and MilvusConnection) pointed at this server."""
        return self.manifest((REPO / "examples" / "connection.yaml").read_text())

    def start(self, timeout: float = 60) -> MilvusServer:
        self.data.mkdir(parents=True, exist_ok=True)
        port = self.port or self.requested_port
        start_offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "testbed.milvusd",
                    "--port",
                    str(port),
                    "--data",
                    str(self.data),
                    "--admin-port",
                    str(self.admin_port),
                    *self._tls_args(),
                    *self.args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=child_env(),
                cwd=REPO,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            tail = text[start_offset:]
            ready, admin = _READY.findall(tail), _ADMIN.findall(tail)
            if ready and admin:
                self.port, self.admin_port = int(ready[-1]), int(admin[-1])
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"milvusd exited with {self.proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"milvusd not ready after {timeout}s:\n{self.log.read_text()[-3000:]}")

    def _tls_args(self) -> list[str]:
        if self.tls is None:
            return []
        return ["--tls-cert", str(self.tls.server_crt), "--tls-key", str(self.tls.server_key)]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> MilvusServer:
        """Same port, same data directory: a Milvus that went away and came back."""
        self.stop()
        return self.start()

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.admin_port}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def counters(self) -> dict[str, int]:
        return dict(self._admin("GET", "/counters"))

    def faults(self, **faults: Any) -> Any:
        return self._admin("POST", "/faults", faults)


class OperatorProcess:
    """`python -m milvus_snapshot_operator` watching one namespace, with its own kubeconfig and settings."""

    # What runs, before the options; benchmarks run the operator under a heap probe instead.
    command: tuple[str, ...] = (sys.executable, "-m", "milvus_snapshot_operator")

    def __init__(
        self,
        kubeconfig: Path,
        namespaces: list[str],
        log: Path,
        env: dict[str, str] | None = None,
        verbose: bool = True,
        metrics: bool = True,
    ) -> None:
        self.kubeconfig, self.namespaces, self.log, self.verbose = kubeconfig, namespaces, log, verbose
        # /metrics on a free loopback port (the operator's default, :9090 on all interfaces, would collide).
        self.metrics_port: int | None = free_ports(1)[0] if metrics else None
        self.extra_env = {
            "MSO_RESTORE_POLL_SECONDS": "0.5",
            "MSO_BACKOFF_MAX_SECONDS": "4",
            "MSO_DRIFT_CHECK_SECONDS": "3",
            "MSO_CONNECTION_PROBE_SECONDS": "30",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> OperatorProcess:
        args = [arg for ns in self.namespaces for arg in ("-n", ns)]
        args.append(f"--metrics-bind-address={f'127.0.0.1:{self.metrics_port}' if self.metrics_port else '0'}")
        env = child_env({"KUBECONFIG": str(self.kubeconfig), **self.extra_env})
        with self.log.open("ab") as out:
            out.write(f"\n===== operator start #{self.starts + 1} =====\n".encode())
            self.proc = subprocess.Popen(
                [*self.command, *args, *(["--verbose"] if self.verbose else [])],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
                start_new_session=True,
            )
        self.starts += 1
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, no final patches, exactly like an OOM kill or a node loss."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def scrape(self) -> str:
        """The operator's /metrics, as Prometheus would read it."""
        assert self.metrics_port, "started without metrics"
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as response:
            return str(response.read().decode())

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
