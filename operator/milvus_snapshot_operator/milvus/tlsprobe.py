"""Tell "the server speaks only TLS" from any other lost connection.

A plaintext gRPC client facing a TLS server sees only "Socket closed", the same as a server going away. When
a plaintext connection fails that way, one TLS handshake with the endpoint (no certificate check: it asks
only whether TLS is spoken there, and sends nothing else) turns it into a named reason, TLSMismatch.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import urllib.parse


async def speaks_tls(uri: str, seconds: float = 3.0) -> bool:
    """`uri` is a plaintext endpoint (http:// or tcp://; 19530 when it names no port)."""
    parsed = urllib.parse.urlsplit(uri)
    if not parsed.hostname:
        return False
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(parsed.hostname, parsed.port or 19530, ssl=context), timeout=seconds
        )
    except (TimeoutError, OSError, ssl.SSLError):
        return False
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError, asyncio.TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), timeout=seconds)
    return True
