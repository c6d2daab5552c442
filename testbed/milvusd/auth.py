"""Token authentication the way the Milvus proxy's AuthenticationInterceptor does it.

pymilvus sends `authorization: base64(token)` where token is an API key or "user:password". Failures
are gRPC UNAUTHENTICATED with Milvus's texts: pymilvus does not retry that code and raises at once.
Credentials are compared in constant time and never logged.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable, Sequence


class Authenticator:
    def __init__(self, credentials: Iterable[str]) -> None:
        self._credentials = [c.encode() for c in credentials]

    @property
    def enabled(self) -> bool:
        return bool(self._credentials)

    def check(self, metadata: Sequence[tuple[str, str | bytes]]) -> str | None:
        """Return None if the call is authenticated, else the UNAUTHENTICATED detail to answer with."""
        if not self._credentials:
            return None
        values = [v for k, v in metadata if k.lower() == "authorization"]
        if not values:
            return "missing authorization in header"
        value = values[0]
        try:
            raw = base64.b64decode(value if isinstance(value, bytes) else value.encode(), validate=True)
        except (binascii.Error, ValueError):
            return "invalid token format"
        matched = False
        for cred in self._credentials:
            matched |= hmac.compare_digest(raw, cred)
        if matched:
            return None
        if b":" in raw:
            return "auth check failure, please check username and password are correct"
        return "auth check failure, please check api key is correct"
