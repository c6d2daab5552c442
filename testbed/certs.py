"""The testbed PKI, made with the openssl CLI so the testbed needs no Python crypto dependency.

One CA signs the apiserver's serving cert and the admin client cert (client-cert authn, as envtest does);
the RSA pair signs and verifies ServiceAccount tokens (TokenRequest lets tests act as a chart's SA).
`ensure_serving_tls` makes a separate CA and serving cert for the Milvus test server, plus an unrelated CA
for "wrong CA" tests. TLS keys are EC P-256: much faster to generate than RSA, and every client involved
accepts them.
"""

from __future__ import annotations

import secrets
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from testbed.podnet import GATEWAY

DAYS = "365"
# A serving cert valid for the loopback address and name every test server listens on.
_SERVING = (
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost"
)
# The API server's also names the node's pod-bridge gateway, where pods reach it through the relay.
_APISERVER = _SERVING + f",IP:{GATEWAY}"


@dataclass(frozen=True)
class Certs:
    dir: Path
    ca_crt: Path
    ca_key: Path
    server_crt: Path
    server_key: Path
    admin_crt: Path
    admin_key: Path
    sa_key: Path
    sa_pub: Path

    @classmethod
    def in_dir(cls, d: Path) -> Certs:
        names = (
            "ca.crt",
            "ca.key",
            "apiserver.crt",
            "apiserver.key",
            "admin.crt",
            "admin.key",
            "sa.key",
            "sa.pub",
        )
        return cls(d, *(d / name for name in names))

    def files(self) -> list[Path]:
        return [p for name, p in vars(self).items() if name != "dir"]


def _openssl(*args: str | Path, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"openssl {args[0]} failed ({proc.returncode}): {proc.stderr.strip()}")


def _ec_key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path, cwd=path.parent)


def _ca(d: Path, name: str, subject: str) -> None:
    """A self-signed CA `<name>.crt` / `<name>.key` in `d`."""
    _ec_key(d / f"{name}.key")
    (d / f"{name}.cnf").write_text(
        "[req]\ndistinguished_name=dn\n[dn]\n[v3]\nbasicConstraints=critical,CA:TRUE\n"
        "keyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
    )
    _openssl("req", "-x509", "-new", "-key", f"{name}.key", "-subj", subject, "-days", DAYS, "-sha256",
             "-config", f"{name}.cnf", "-extensions", "v3", "-out", f"{name}.crt", cwd=d)  # fmt: skip
    (d / f"{name}.cnf").unlink()


def _signed_cert(d: Path, name: str, subject: str, extensions: str) -> None:
    """Key + CSR + signature by `ca.crt` in `d`; extensions go through a file because `x509 -req` has no -addext."""
    _ec_key(d / f"{name}.key")
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=d)
    (d / f"{name}.ext").write_text(f"[v3]\n{extensions}\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-set_serial", f"0x{secrets.token_hex(16)}", "-days", DAYS, "-sha256",
             "-extfile", f"{name}.ext", "-extensions", "v3", "-out", f"{name}.crt", cwd=d)  # fmt: skip
    for suffix in (".csr", ".ext"):
        (d / f"{name}{suffix}").unlink()


def ensure_certs(directory: Path) -> Certs:
    """Create the PKI in `directory` unless complete already (a restart keeps the CA, so old kubeconfigs stay valid)."""
    certs = Certs.in_dir(directory)
    if all(p.exists() for p in certs.files()):
        if not _names_gateway(certs):  # made before the node existed: re-sign the serving cert only
            _server_cert(certs)
        return certs
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    _ca(directory, "ca", "/CN=testbed-ca")
    _server_cert(certs)
    _signed_cert(directory, "admin", "/O=system:masters/CN=admin",
                 "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                 "extendedKeyUsage=clientAuth")  # fmt: skip
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key", cwd=directory)
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=directory)
    for key in (certs.ca_key, certs.server_key, certs.admin_key, certs.sa_key):
        key.chmod(0o600)
    return certs


def _server_cert(certs: Certs) -> None:
    _signed_cert(certs.dir, "apiserver", "/CN=kube-apiserver", _APISERVER)
    certs.server_key.chmod(0o600)


def _names_gateway(certs: Certs) -> bool:
    proc = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", str(certs.server_crt)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    return f"IP Address:{GATEWAY}" in proc.stdout


def admin_tls(certs: Certs) -> ssl.SSLContext:
    """TLS context that trusts our CA and authenticates as the admin (for /readyz polling)."""
    ctx = ssl.create_default_context(cafile=str(certs.ca_crt))
    ctx.load_cert_chain(str(certs.admin_crt), str(certs.admin_key))
    return ctx


@dataclass(frozen=True)
class ServingTls:
    """A CA, a serving cert it signed for 127.0.0.1/localhost, and an unrelated CA (for "wrong CA" tests)."""

    dir: Path
    ca_crt: Path
    server_crt: Path
    server_key: Path
    other_ca_crt: Path

    @classmethod
    def in_dir(cls, d: Path) -> ServingTls:
        return cls(d, d / "ca.crt", d / "server.crt", d / "server.key", d / "other-ca.crt")

    def files(self) -> list[Path]:
        return [self.ca_crt, self.server_crt, self.server_key, self.other_ca_crt]


def ensure_serving_tls(directory: Path, subject: str = "/CN=milvusd") -> ServingTls:
    """Create (unless complete already) a serving PKI in `directory`; its own CA, not the control plane's."""
    tls = ServingTls.in_dir(directory)
    if all(p.exists() for p in tls.files()):
        return tls
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    _ca(directory, "ca", "/CN=testbed-serving-ca")
    _signed_cert(directory, "server", subject, _SERVING)
    _ca(directory, "other-ca", "/CN=testbed-unrelated-ca")
    for key in ("ca.key", "server.key", "other-ca.key"):
        (directory / key).chmod(0o600)
    return tls
