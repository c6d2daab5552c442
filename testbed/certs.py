"""The testbed PKI, made with the openssl CLI so the testbed needs no Python crypto dependency.

One CA signs the apiserver's serving cert and the admin client cert (client-cert authn, as envtest does);
the RSA pair signs and verifies ServiceAccount tokens (TokenRequest lets tests act as a chart's SA).
TLS keys are EC P-256: much faster to generate than RSA, and every client involved accepts them.
"""

from __future__ import annotations

import secrets
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from testbed.podnet import GATEWAY

DAYS = "365"
# The node's pods reach the API server through the relay on the pod bridge's gateway (testbed/node.py).
SERVER_SANS = f"IP:127.0.0.1,DNS:localhost,IP:{GATEWAY}"


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


def _signed_cert(certs: Certs, name: str, subject: str, extensions: str) -> None:
    """Key + CSR + CA signature; extensions go through a file because `x509 -req` has no -addext."""
    d = certs.dir
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
    _ec_key(certs.ca_key)
    (directory / "ca.ext").write_text(
        "[req]\ndistinguished_name=dn\n[dn]\n[v3]\nbasicConstraints=critical,CA:TRUE\n"
        "keyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
    )
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=testbed-ca", "-days", DAYS, "-sha256",
             "-config", "ca.ext", "-extensions", "v3", "-out", "ca.crt", cwd=directory)  # fmt: skip
    (directory / "ca.ext").unlink()
    _server_cert(certs)
    _signed_cert(certs, "admin", "/O=system:masters/CN=admin",
                 "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                 "extendedKeyUsage=clientAuth")  # fmt: skip
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key", cwd=directory)
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=directory)
    for key in (certs.ca_key, certs.server_key, certs.admin_key, certs.sa_key):
        key.chmod(0o600)
    return certs


def _server_cert(certs: Certs) -> None:
    _signed_cert(certs, "apiserver", "/CN=kube-apiserver",
                 "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                 f"extendedKeyUsage=serverAuth\nsubjectAltName={SERVER_SANS}")  # fmt: skip
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
