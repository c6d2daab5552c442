"""A handle on a running cluster (ours or an existing one) that runs the pinned kubectl against it."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class KubectlError(subprocess.CalledProcessError):
    """CalledProcessError whose message includes kubectl's output, so test failures explain themselves."""

    def __str__(self) -> str:
        err, out = (self.stderr or "").strip(), (self.output or "").strip()
        return f"{super().__str__()}\nstderr: {err}\nstdout: {out}"


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    server: str
    kubectl_path: Path
    cache_dir: Path | None = None  # kubectl's discovery cache; default ~/.kube/cache
    # True when no kube-controller-manager runs: namespaces never finish deleting, no GC, no default SA.
    degraded: bool = False

    def kubectl(
        self,
        *args: str,
        namespace: str | None = None,
        input: str | None = None,  # noqa: A002  (mirrors subprocess.run)
        check: bool = True,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl with our kubeconfig; raise KubectlError on a non-zero exit when `check`."""
        argv = [str(self.kubectl_path), f"--kubeconfig={self.kubeconfig}"]
        if self.cache_dir is not None:
            argv.append(f"--cache-dir={self.cache_dir}")
        if namespace is not None:
            argv.append(f"--namespace={namespace}")
        argv += args
        proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode:
            raise KubectlError(proc.returncode, argv, proc.stdout, proc.stderr)
        return proc

    def get_json(self, *args: str, namespace: str | None = None) -> Any:
        """`kubectl get ARGS -o json`, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json", namespace=namespace).stdout)

    def as_token(self, token: str, kubeconfig: Path) -> Cluster:
        """The same cluster seen with a bearer token (e.g. from `kubectl create token`), via a new kubeconfig.

        The admin client certificate is dropped, not just shadowed: with both, the apiserver would
        authenticate the certificate first and the request would still run as admin.
        """
        config = json.loads(self.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
        config["users"] = [{"name": "token", "user": {"token": token}}]
        config["contexts"][0]["context"]["user"] = "token"
        kubeconfig.write_text(json.dumps(config, indent=2) + "\n")
        kubeconfig.chmod(0o600)
        return replace(self, kubeconfig=kubeconfig)

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path, kubectl_path: Path) -> Cluster:
        """Wrap an existing cluster; the server URL comes from the kubeconfig's current context."""
        probe = cls(kubeconfig, "", kubectl_path)
        server = probe.kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
        return cls(kubeconfig, server.stdout.strip(), kubectl_path)


def wait_until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.25) -> T:
    """Poll `check` until it returns something truthy and return that; AssertionError after `timeout`.

    Controllers are eventually consistent, so e2e assertions poll instead of sleeping a fixed time.
    """
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
    return result
