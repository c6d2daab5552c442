"""Keep pymilvus from flooding the log with ERROR tracebacks for errors we expect and handle.

pymilvus logs every failed RPC at ERROR with a full traceback on its own handler (propagate=False).
We cut the traceback, downgrade the record to DEBUG and route pymilvus through the operator's handlers;
the raised exception still carries code and message, which the operator reports in status and events.
"""

from __future__ import annotations

import logging


class _QuietRpcErrors(logging.Filter):
    """Failed RPCs and failed reconnects (e.g. "Async connection recovery failed" with exc_info) become
    one DEBUG line naming the exception: the operator reports the error itself, once, in status."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.funcName == "_log_rpc_error" or "Traceback" in str(record.msg) or record.exc_info:
            message = record.getMessage().split("\nTraceback", 1)[0]
            if record.exc_info and record.exc_info[1] is not None:
                message = f"{message}: {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            record.msg, record.args = message, None
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.exc_info = record.exc_text = None
        return True


def quiet_pymilvus(debug: bool | None = None) -> None:
    """`debug`: whether the operator logs at DEBUG (default: the root logger's level says)."""
    import pymilvus  # noqa: F401 - importing runs pymilvus's own dictConfig, which we then override

    root = logging.getLogger("pymilvus")
    root.handlers.clear()
    root.propagate = True
    # Filters are per logger (a parent's filter does not see its children's records): cover every
    # pymilvus logger that importing pymilvus created, e.g. pymilvus.client.connection_manager.
    names = {"pymilvus", "pymilvus.decorators"} | {
        name for name in logging.root.manager.loggerDict if name.startswith("pymilvus.")
    }
    for name in sorted(names):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _QuietRpcErrors) for f in logger.filters):
            logger.addFilter(_QuietRpcErrors())
    # pymilvus formats a traceback for every failed RPC when its logger is enabled for ERROR, before any
    # filter sees the record: ~4% of the operator's CPU in a burst of new snapshots (each "not found yet"
    # is a failed DescribeSnapshot). Unless we log at DEBUG, where the demoted record would show, skip it.
    if debug is None:
        debug = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    logging.getLogger("pymilvus.decorators").setLevel(logging.NOTSET if debug else logging.CRITICAL)
