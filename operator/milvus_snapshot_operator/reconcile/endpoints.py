"""Where a MilvusConnection points, checked before any connection is opened.

Two checks, both pure: the URI is one pymilvus 3.0.2 accepts (http, https or tcp; a port urllib can parse),
so a bad URI is `InvalidURI` naming the field instead of a client that crashes on construction; and the
endpoint is one the cluster admin allows (the operator setting MSO_ALLOWED_ENDPOINTS / the chart's
`allowedEndpoints`), because whoever may create a MilvusConnection otherwise makes the operator open
connections to any host from its own network position.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import ipaddress
import urllib.parse

SCHEMES = ("http", "https", "tcp")
DEFAULT_PORTS = {"http": 19530, "tcp": 19530, "https": 443}


class EndpointError(ValueError):
    """The endpoint cannot be used; `reason` is the Ready reason, the message names the field."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclasses.dataclass(frozen=True)
class Endpoint:
    uri: str  # what the client is given
    host: str  # lower-case; IPv6 without brackets
    port: int
    secure: bool  # TLS

    @property
    def address(self) -> str:
        """host:port: where data lives, whatever the scheme (enabling TLS does not move a snapshot)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_uri(uri: str, field: str, *, tls: bool) -> Endpoint:
    """Validate like pymilvus would, and decide TLS: https://, or any scheme but http:// when tls is asked."""
    try:
        parsed = urllib.parse.urlsplit(uri)
        port = parsed.port  # raises ValueError when out of range or not a number
    except ValueError as exc:
        raise EndpointError("InvalidURI", f"{field}: {uri!r} is not a valid URI: {exc}") from None
    scheme = parsed.scheme.lower()
    if scheme not in SCHEMES:
        raise EndpointError("InvalidURI", f"{field}: {uri!r} must start with http://, https:// or tcp://")
    if not parsed.hostname:
        raise EndpointError("InvalidURI", f"{field}: {uri!r} has no host")
    if parsed.username or parsed.password:
        raise EndpointError("InvalidURI", f"{field}: credentials never go in the URI; use credentialsSecretRef")
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment:
        raise EndpointError("InvalidURI", f"{field}: {uri!r} must be scheme://host[:port] with nothing after it")
    if port == 0:
        raise EndpointError("InvalidURI", f"{field}: {uri!r}: the port must be between 1 and 65535")
    if tls and scheme == "http":
        raise EndpointError(
            "InvalidTLSConfig",
            f"{field}: {uri!r} is plaintext http:// but spec.tls is set; use https:// (TLS is never downgraded)",
        )
    return Endpoint(
        uri=uri,
        host=parsed.hostname.lower(),
        port=port or DEFAULT_PORTS[scheme],
        secure=tls or scheme == "https",
    )


def from_milvus_status(address: str, *, tls: bool) -> Endpoint:
    """A milvus-operator `status.endpoint` (usually host:port, no scheme): TLS exactly when asked for."""
    field = "status.endpoint of the referenced Milvus"
    if "://" not in address:
        address = f"{'https' if tls else 'http'}://{address}"
    elif tls and address.startswith("http://"):
        address = "https://" + address.removeprefix("http://")
    return parse_uri(address, field, tls=tls)


@dataclasses.dataclass(frozen=True)
class AllowedEndpoints:
    """Host patterns (shell-style, optional :port) and CIDRs; empty allows everything (the default)."""

    patterns: tuple[tuple[str, int | None], ...] = ()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, entries: list[str]) -> AllowedEndpoints:
        """Raises ValueError naming the bad entry (the operator refuses to start with it)."""
        patterns: list[tuple[str, int | None]] = []
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for raw in (e.strip() for e in entries):
            if not raw:
                continue
            if "/" in raw:
                try:
                    networks.append(ipaddress.ip_network(raw, strict=False))
                except ValueError as exc:
                    raise ValueError(f"allowed endpoint {raw!r}: {exc}") from None
                continue
            host, port = raw, None
            if raw.count(":") == 1:
                host, _, port_text = raw.partition(":")
                if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                    raise ValueError(f"allowed endpoint {raw!r}: the port must be 1-65535")
                port = int(port_text)
            patterns.append((host.lower().strip("[]"), port))
        return cls(tuple(patterns), tuple(networks))

    @property
    def everything(self) -> bool:
        return not self.patterns and not self.networks

    def check(self, endpoint: Endpoint) -> None:
        """Raise EndpointNotAllowed unless a rule matches. CIDRs match IP-literal hosts only: a host name is
        allowed by a name pattern, never by where DNS happens to resolve it today."""
        if self.everything:
            return
        for pattern, port in self.patterns:
            if fnmatch.fnmatchcase(endpoint.host, pattern) and port in (None, endpoint.port):
                return
        try:
            address = ipaddress.ip_address(endpoint.host)
        except ValueError:
            address = None
        if address is not None and any(address in network for network in self.networks):
            return
        raise EndpointError(
            "EndpointNotAllowed",
            f"{endpoint.host}:{endpoint.port} is not among the endpoints the operator may connect to "
            "(operator setting MSO_ALLOWED_ENDPOINTS, chart value allowedEndpoints); ask a cluster admin",
        )
