"""Keep pymilvus from flooding the log with ERROR tracebacks for errors we expect and handle.

pymilvus logs every failed RPC at ERROR with a full traceback on its own handler (propagate=False).
We cut the traceback, downgrade the record to DEBUG and route pymilvus through the operator's handlers;
the raised exception still carries code and message, which the operator reports in status and events.
"""

from __future__ import annotations

import logging


class _QuietRpcErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.funcName == "_log_rpc_error" or "Traceback" in str(record.msg):
            message = record.getMessage().split("\nTraceback", 1)[0]
            record.msg, record.args = message, None
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.exc_info = record.exc_text = None
        return True


def quiet_pymilvus() -> None:
    import pymilvus  # noqa: F401 - importing runs pymilvus's own dictConfig, which we then override

    root = logging.getLogger("pymilvus")
    root.handlers.clear()
    root.propagate = True
    for name in ("pymilvus", "pymilvus.decorators"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _QuietRpcErrors) for f in logger.filters):
            logger.addFilter(_QuietRpcErrors())
