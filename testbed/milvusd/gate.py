"""A gRPC server interceptor in front of every MilvusService RPC: count, fault, authenticate, delay.

Order matters: calls are counted on arrival; an injected outage answers UNAVAILABLE before anything
else (like a down server); then authentication; then the injected latency; then the call runs, and an
injected lost reply replaces its answer with UNAVAILABLE (the work is done, the client never hears).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc

from .auth import Authenticator
from .faults import Counters, Faults

_KINDS = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}


class Gate(grpc.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, faults: Faults, counters: Counters, auth: Authenticator) -> None:
        self._faults = faults
        self._counters = counters
        self._auth = auth

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        method = str(details.method).rsplit("/", 1)[-1]
        self._counters.incr(method)
        handler = continuation(details)
        if handler is None:
            return None
        for kind, factory in _KINDS.items():
            behavior = getattr(handler, kind)
            if behavior is not None:
                return factory(
                    self._guard(method, behavior),
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        return handler

    def _guard(self, method: str, behavior: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def guarded(request: Any, context: Any) -> Any:
            if self._faults.unavailable():
                context.abort(grpc.StatusCode.UNAVAILABLE, "milvusd: injected unavailability")
            denied = self._auth.check(context.invocation_metadata())
            if denied is not None:
                context.abort(grpc.StatusCode.UNAUTHENTICATED, denied)
            delay = self._faults.latency_for(method)
            if delay > 0:
                time.sleep(delay)
            reply = behavior(request, context)
            if self._faults.take_lost_reply(method):
                context.abort(grpc.StatusCode.UNAVAILABLE, "milvusd: injected lost reply")
            return reply

        return guarded
