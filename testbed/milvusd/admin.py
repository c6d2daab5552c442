"""Loopback JSON admin endpoint, so tests in another process can inject faults and read counters.

GET  /faults          current fault settings (see faults.Faults)
POST /faults          partial update, JSON object body; answers the new settings (400 on bad input)
GET  /counters        {"<RpcName>": calls, ...}
POST /counters/reset  zero the counters
GET  /healthz         {"ok": true}
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .faults import Counters, Faults

logger = logging.getLogger(__name__)


class AdminServer:
    def __init__(self, faults: Faults, counters: Counters, port: int = 0) -> None:
        handler = _handler_class(faults, counters)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="milvusd-admin", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler_class(faults: Faults, counters: Counters) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/faults":
                self._reply(200, faults.to_json())
            elif self.path == "/counters":
                self._reply(200, counters.snapshot())
            elif self.path == "/healthz":
                self._reply(200, {"ok": True})
            else:
                self._reply(404, {"error": f"no such endpoint {self.path}"})

        def do_POST(self) -> None:
            if self.path == "/counters/reset":
                counters.reset()
                self._reply(200, {})
            elif self.path == "/faults":
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = json.loads(self.rfile.read(length) or b"{}")
                    if not isinstance(body, dict):
                        raise ValueError("body must be a JSON object")
                    faults.update(body)
                except ValueError as e:  # json.JSONDecodeError is a ValueError
                    self._reply(400, {"error": str(e)})
                    return
                self._reply(200, faults.to_json())
            else:
                self._reply(404, {"error": f"no such endpoint {self.path}"})

        def _reply(self, code: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt: str, *args: Any) -> None:
            logger.debug("admin: " + fmt, *args)

    return Handler
