"""The built image itself (its docker-archive, every layer): what the Dockerfile promises, and nothing of the
build's host access (pip configuration, the host's CA bundle) baked in."""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import yaml

from testbed import images
from tests.chart.chart import CHART

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("node")]  # one node per machine: one worker
PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n(.*?)-----END CERTIFICATE-----", re.S)


def certificates(data: bytes) -> set[bytes]:
    """The base64 bodies of the PEM certificates in `data`, whitespace removed."""
    return {re.sub(rb"\s", b"", body) for body in PEM.findall(data)}


def layers(archive: Path) -> Iterator[tuple[str, tarfile.TarFile, tarfile.TarInfo]]:
    """(layer, layer tar, member) for every file of every layer, the base's included."""
    with tarfile.open(archive) as outer:
        manifest = json.load(_extract(outer, "manifest.json"))
        for layer in manifest[0]["Layers"]:
            with tarfile.open(fileobj=_extract(outer, layer)) as inner:
                for member in inner:
                    yield layer, inner, member


def _extract(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    handle = tar.extractfile(name)
    assert handle is not None, name
    return handle


def image_config(archive: Path) -> Any:
    with tarfile.open(archive) as outer:
        manifest = json.load(_extract(outer, "manifest.json"))
        return json.load(_extract(outer, manifest[0]["Config"]))


def test_image_runs_the_operator_as_the_charts_user(operator_image: images.OperatorImage) -> None:
    config = image_config(operator_image.archive)["config"]
    values = yaml.safe_load((CHART / "values.yaml").read_text())["podSecurityContext"]
    assert config["User"] == f"{values['runAsUser']}:{values['runAsGroup']}"
    assert config["Entrypoint"] == ["python", "-m", "milvus_snapshot_operator"]
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert operator_image.tag.startswith(f"{app_version}-"), operator_image.tag
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert not [k for k in env if k.startswith(("PIP_", "REQUESTS_", "SSL_", "CURL_"))], env


def test_build_time_pip_config_and_host_ca_are_not_in_the_image(operator_image: images.OperatorImage) -> None:
    host_ca = images.host_ca_bundle()
    host_certs = certificates(host_ca.read_bytes()) if host_ca else set()
    image_bundle: set[bytes] = set()
    pip_configs, files = [], 0
    contents: list[tuple[str, bytes]] = []
    for layer, tar, member in layers(operator_image.archive):
        name = member.name.removeprefix("./")
        if Path(name).name in ("pip.conf", "pip.ini"):
            pip_configs.append(f"{layer}:{name}")
        if not member.isfile():
            continue
        files += 1
        data = _extract(tar, member.name).read()
        if b"-----BEGIN CERTIFICATE-----" in data:
            if name == "etc/ssl/certs/ca-certificates.crt":
                image_bundle |= certificates(data)
            contents.append((f"{layer[:12]}:{name}", data))
    assert files > 1000, "not the whole image"
    assert not pip_configs, f"pip configuration in the image: {pip_configs}"
    assert image_bundle, "the base's own CA bundle (Debian's ca-certificates) is missing"
    # The certificates only the host trusts (e.g. a TLS-inspecting proxy's CA) were used by the build, never kept.
    host_only = host_certs - image_bundle
    leaked = [where for where, data in contents for cert in host_only if cert in re.sub(rb"\s", b"", data)]
    assert not leaked, f"the host's CA certificates are in the image: {leaked}"
    if not host_only:
        pytest.skip("the host trusts no CA beyond Debian's: nothing to leak here (pip.conf was still checked)")
