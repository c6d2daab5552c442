"""Container images for the node tier, built daemonless with buildah (no Docker, no registry).

- The Python base: Debian bookworm's own Python 3.11 from `debootstrap --variant=minbase`, since no container
  registry is reachable; the Dockerfile gets it through its `PYTHON_IMAGE` build argument, unchanged.
- The pause (sandbox) image: kubernetes' own build/pause/linux/pause.c, compiled static, from scratch.
- The operator image: the repository's Dockerfile. pip inside the build sees the host's CA bundle and index
  settings through read-only mounts of the build's RUN steps only; nothing of them reaches the final image.

Each image is cached (buildah storage and a docker-archive under <cache>/images) keyed by its inputs, so
`make image` rebuilds only when the Dockerfile, pyproject.toml or operator/ changed. The archives are what
the node's containerd imports (`ctr images import`).
`python -m testbed.images [--base-only]` builds what is missing and prints the image and its size.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from testbed.tools import REPO_ROOT, cache_dir

SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv", "python-is-python3")
MIRROR = os.environ.get("MSO_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Bump when the base recipe below changes, so cached bases are rebuilt.
BASE_RECIPE = "1"
PAUSE_VERSION = "3.10.1"
PAUSE_IMAGE = f"localhost/mso-testbed/pause:{PAUSE_VERSION}"
REPOSITORY = "localhost/milvus-snapshot-operator"
# What a minimal base does not need at run time (the official slim images drop the same).
BASE_TRIM = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt",
             "var/lib/apt/lists", "var/log")  # fmt: skip
# pip settings carried from the host into the build (never the file itself, never into the image).
PIP_KEYS = ("index-url", "extra-index-url", "trusted-host", "timeout", "default-timeout", "retries", "proxy")
BUILD_CA = "/etc/ssl/certs/ca-certificates.crt"


class ImageError(RuntimeError):
    """A build step failed; the message has the command and its output."""


def _log(message: str) -> None:
    print(f"images: {time.strftime('%H:%M:%S', time.gmtime())} {message}", file=sys.stderr, flush=True)


def _run(argv: list[str], *, cwd: Path | None = None, quiet: bool = True) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=quiet, text=True, check=False)
    if proc.returncode:
        detail = f"\n{proc.stderr[-4000:]}\n{proc.stdout[-2000:]}" if quiet else ""
        raise ImageError(f"{' '.join(argv)} failed ({proc.returncode}){detail}")
    return proc.stdout if quiet else ""


@dataclass(frozen=True)
class Buildah:
    """buildah with its own storage under the cache (vfs: works anywhere, no overlay or fuse needed)."""

    root: Path

    @classmethod
    def default(cls) -> Buildah:
        return cls(cache_dir() / "buildah")

    def argv(self, *args: str) -> list[str]:
        return ["buildah", f"--root={self.root / 'storage'}", f"--runroot={self.root / 'run'}",
                "--storage-driver=vfs", *args]  # fmt: skip

    def run(self, *args: str, quiet: bool = True, cwd: Path | None = None) -> str:
        return _run(self.argv(*args), quiet=quiet, cwd=cwd)

    def exists(self, image: str) -> bool:
        return (
            subprocess.run(self.argv("inspect", "--type=image", image), capture_output=True, check=False).returncode
            == 0
        )

    def export(self, image: str, archive: Path) -> Path:
        """A docker-archive of `image` (named inside, so `ctr images import` tags it)."""
        if archive.exists():
            return archive
        archive.parent.mkdir(parents=True, exist_ok=True)
        tmp = archive.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        self.run("push", "--quiet", image, f"docker-archive:{tmp}:{image}")
        tmp.replace(archive)
        return archive

    @staticmethod
    def available() -> str | None:
        """None when buildah and debootstrap are installed, else what is missing."""
        missing = [tool for tool in ("buildah", "debootstrap", "gcc") if not shutil.which(tool)]
        return f"missing {', '.join(missing)}; install with: testbed/install-tools.sh" if missing else None


def images_dir() -> Path:
    return cache_dir() / "images"


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:12]


# -- the Python base -------------------------------------------------------------------------------------------


def base_name() -> str:
    key = _digest(SUITE.encode(), " ".join(PACKAGES).encode(), MIRROR.encode(), BASE_RECIPE.encode())
    return f"localhost/mso-testbed/python:3.11-{SUITE}-{key}"


def ensure_base(b: Buildah) -> str:
    """The debootstrapped Python base image, built once per recipe."""
    name = base_name()
    if b.exists(name):
        _log(f"base {name} cached")
        return name
    _log(f"building base {name}: debootstrap {SUITE} minbase + {', '.join(PACKAGES)} (~1 min)")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mso-base-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), MIRROR])
        for rel in BASE_TRIM:
            target = rootfs / rel
            if target.is_dir():
                shutil.rmtree(target)
                target.mkdir()
        for special in ("dev", "proc", "sys", "run", "tmp"):  # the runtime provides these
            for child in (rootfs / special).glob("*"):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        container = b.run("from", "scratch").strip()
        try:
            mount = Path(b.run("mount", container).strip())
            _run(["cp", "-a", f"{rootfs}/.", f"{mount}/"])
            b.run("config", "--env=LANG=C.UTF-8", '--cmd=["python3"]',
                  f"--label=org.opencontainers.image.description=Debian {SUITE} minbase + {' '.join(PACKAGES)}",
                  container)  # fmt: skip
            b.run("commit", "--quiet", "--rm", container, name)
        except BaseException:
            subprocess.run(b.argv("rm", container), capture_output=True, check=False)
            raise
    _log(f"base {name} built in {time.monotonic() - start:.0f}s")
    return name


# -- the pause image -------------------------------------------------------------------------------------------


def _pause_source() -> Path:
    """pause.c from the kubernetes module the testbed builds (testbed/k8s/go.mod), so no extra download."""
    version = (REPO_ROOT / "testbed" / "k8s" / "K8S_VERSION").read_text().strip()
    gomodcache = _run(["go", "env", "GOMODCACHE"]).strip()
    source = Path(gomodcache) / f"k8s.io/kubernetes@{version}" / "build/pause/linux/pause.c"
    if not source.exists():
        env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}
        subprocess.run(["go", "mod", "download", "k8s.io/kubernetes"], cwd=REPO_ROOT / "testbed" / "k8s",
                       env=env, capture_output=True, check=False)  # fmt: skip
    if not source.exists():
        raise ImageError(f"{source} missing (run testbed/build-k8s.sh first)")
    return source


def ensure_pause(b: Buildah) -> Path:
    """The sandbox image containerd starts every pod with; from scratch: one static binary."""
    archive = images_dir() / f"pause-{PAUSE_VERSION}.tar"
    if archive.exists():
        return archive
    if not b.exists(PAUSE_IMAGE):
        with tempfile.TemporaryDirectory(prefix="mso-pause-") as tmp:
            binary = Path(tmp) / "pause"
            _run(["gcc", "-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{PAUSE_VERSION}-mso-testbed",
                  "-o", str(binary), str(_pause_source())])  # fmt: skip
            container = b.run("from", "scratch").strip()
            b.run("copy", "--chmod=0755", container, str(binary), "/pause")
            b.run("config", "--user=65535:65535", '--entrypoint=["/pause"]', container)
            b.run("commit", "--quiet", "--rm", container, PAUSE_IMAGE)
    _log(f"pause image {PAUSE_IMAGE} built")
    return b.export(PAUSE_IMAGE, archive)


# -- the operator image ----------------------------------------------------------------------------------------


def _context_files() -> Iterator[Path]:
    """What .dockerignore lets into the build context: pyproject.toml and operator/ (minus caches)."""
    yield REPO_ROOT / "pyproject.toml"
    for path in sorted((REPO_ROOT / "operator").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


def operator_tag(base: str) -> str:
    """<appVersion>-<hash of the Dockerfile, .dockerignore, the build context and the base image>."""
    version = re.search(r'^appVersion:\s*"?([^"\s]+)', (REPO_ROOT / "charts/milvus-snapshot-operator/Chart.yaml")
                        .read_text(), re.M)  # fmt: skip
    assert version, "Chart.yaml has no appVersion"
    parts = [base.encode()]
    for path in [REPO_ROOT / "Dockerfile", REPO_ROOT / ".dockerignore", *_context_files()]:
        parts += [path.relative_to(REPO_ROOT).as_posix().encode(), path.read_bytes()]
    return f"{version.group(1)}-{_digest(*parts)}"


def host_ca_bundle() -> Path | None:
    """The CA bundle the host's pip uses (this network may inspect TLS): PIP_CERT, pip's config, the system's."""
    candidates = [os.environ.get("PIP_CERT"), _pip_config().get("cert"), os.environ.get("SSL_CERT_FILE"),
                  os.environ.get("REQUESTS_CA_BUNDLE"), BUILD_CA]  # fmt: skip
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _pip_config() -> dict[str, str]:
    """The host's effective pip settings (files and PIP_* variables), as `pip config list` reports them."""
    proc = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                          check=False)  # fmt: skip
    settings: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            settings[key.rsplit(".", 1)[-1]] = value.strip().strip("'\"")
    return settings


def build_pip_conf(ca_in_build: str | None) -> str:
    """A pip.conf for the build's RUN steps: the host's index settings, and the mounted CA bundle."""
    host = _pip_config()
    lines = ["[global]"] + [f"{key} = {host[key]}" for key in PIP_KEYS if key in host]
    if ca_in_build:
        lines.append(f"cert = {ca_in_build}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class OperatorImage:
    name: str  # repository:tag
    archive: Path
    built: bool  # False when it came from the cache

    @property
    def size(self) -> int:
        """Bytes of the docker-archive: the uncompressed layers, i.e. what the image occupies unpacked."""
        return self.archive.stat().st_size

    @property
    def tag(self) -> str:
        return self.name.rsplit(":", 1)[1]


def ensure_operator(b: Buildah, base: str) -> OperatorImage:
    """The repository's Dockerfile with PYTHON_IMAGE=<the debootstrapped base>, built when its inputs changed."""
    name = f"{REPOSITORY}:{operator_tag(base)}"
    archive = images_dir() / f"operator-{name.rsplit(':', 1)[1]}.tar"
    built = False
    if not b.exists(name):
        _log(f"building {name} from the Dockerfile (PYTHON_IMAGE={base})")
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="mso-build-") as tmp:
            ca = host_ca_bundle()
            pip_conf = Path(tmp) / "pip.conf"
            pip_conf.write_text(build_pip_conf(BUILD_CA if ca else None))
            mounts = [f"--volume={pip_conf}:/etc/pip.conf:ro"]
            if ca:
                mounts.append(f"--volume={ca}:{BUILD_CA}:ro")
            b.run("bud", "--network=host", "--pull=never", "--layers=false", f"--build-arg=PYTHON_IMAGE={base}",
                  *mounts, f"--tag={name}", "--file=Dockerfile", ".", quiet=False, cwd=REPO_ROOT)  # fmt: skip
        built = True
        _log(f"built {name} in {time.monotonic() - start:.0f}s")
    b.export(name, archive)
    os.utime(archive)  # most recently used: prune() keeps it
    return OperatorImage(name, archive, built)


def prune(b: Buildah, keep: int = 3) -> None:
    """Keep the `keep` newest operator images (worktrees of one machine share the cache and may build different
    sources); each build otherwise adds ~1 GB (image + archive)."""
    archives = sorted(images_dir().glob("operator-*.tar"), key=lambda p: p.stat().st_mtime, reverse=True)
    kept = {f"{REPOSITORY}:{a.name.removeprefix('operator-').removesuffix('.tar')}" for a in archives[:keep]}
    for archive in archives[keep:]:
        archive.unlink(missing_ok=True)
    for line in b.run("images", "--format={{.Name}}:{{.Tag}}").splitlines():
        if line.startswith(f"{REPOSITORY}:") and line not in kept:
            subprocess.run(b.argv("rmi", line), capture_output=True, check=False)


def build_all(b: Buildah | None = None) -> tuple[OperatorImage, Path]:
    """The operator image and the pause image archive; everything cached is reused."""
    b = b or Buildah.default()
    if problem := Buildah.available():
        raise ImageError(problem)
    base = ensure_base(b)
    pause = ensure_pause(b)
    image = ensure_operator(b, base)
    prune(b)
    return image, pause


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m testbed.images", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--base-only", action="store_true", help="build only the Python base and pause images")
    parser.add_argument(
        "--for-tests", action="store_true", help="where the node tier cannot run, say so and succeed (not with CI=true)"
    )
    args = parser.parse_args(argv)
    b = Buildah.default()
    if args.for_tests and os.environ.get("CI") != "true":
        from testbed.node import unavailable

        if problem := unavailable() or Buildah.available():
            print(f"images: not building the operator image: {problem}; the node tier will skip", file=sys.stderr)
            return 0
    try:
        if args.base_only:
            if problem := Buildah.available():
                raise ImageError(problem)
            base = ensure_base(b)
            ensure_pause(b)
            print(base)
            return 0
        image, _ = build_all(b)
    except ImageError as e:
        print(f"images: {e}", file=sys.stderr)
        return 1
    print(f"{image.name}: {image.size / 2**20:.0f} MiB uncompressed ({'built' if image.built else 'cached'}; "
          f"archive {image.archive})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
