"""Kopf's API session, with a cap on concurrent requests (watch streams excepted).

Kopf's own session uses an unlimited connection pool: every request made while the others are in flight
opens one more TLS connection, and each keeps ~300 KB (asyncio's 256 KB SSL read buffer plus OpenSSL's
state) until it has been idle for 15 s. 300 MilvusSnapshots created at once opened 550-630 connections,
nearly all of the operator's growth in memory; glibc keeps much of that heap after they close.

The same credentials as Kopf's default login (the kubernetes client's in-cluster config, else kubeconfig,
re-read on a 401), in an aiohttp session whose middleware lets at most API_CONCURRENCY requests talk to the
API server at once; the others wait their turn. Watch streams bypass the cap (each holds its connection
for minutes, so counting them could starve the requests), and a request's body is read before its slot
is freed, so its connection goes back to the pool at once and is reused by the next request.
"""

from __future__ import annotations

import asyncio
import warnings

import aiohttp
import kopf

API_CONCURRENCY = 16


class RequestLimiter:
    """aiohttp client middleware: at most `limit` non-watch requests in flight."""

    def __init__(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)

    async def __call__(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if request.url.query.get("watch") == "true":
            return await handler(request)
        async with self._slots:
            response: aiohttp.ClientResponse = await handler(request)
            try:
                await response.read()  # cached for Kopf's .json(); releases the connection now
            except BaseException:
                response.close()
                raise
            return response


def session_for(info: kopf.ConnectionInfo, limit: int = API_CONCURRENCY) -> aiohttp.ClientSession:
    """What Kopf builds for a ConnectionInfo, plus the request cap."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        auth = info.as_aiohttp_basic_auth()
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ssl=info.as_ssl_context()),
        headers=info.as_http_headers(),
        auth=auth,
        proxy=info.proxy_url,
        trust_env=info.trust_env,
        middlewares=(RequestLimiter(limit),),
    )


@kopf.on.login()
async def login(logger: kopf.Logger, settings: kopf.OperatorSettings, **_: object) -> kopf.AiohttpSession | None:
    info = kopf.login_via_client(logger=logger, settings=settings)
    if info is None:
        return None
    return kopf.AiohttpSession(
        server=info.server,
        default_namespace=info.default_namespace,
        priority=info.priority,
        expiration=info.expiration,
        aiohttp_session=session_for(info),
    )
