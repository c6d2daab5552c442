"""Where the operator leans on Kopf's internals (handlers/kopf_quirks.py), checked against the pinned Kopf:
a Kopf upgrade that changes them fails here, not silently in production logs."""

from __future__ import annotations

import inspect
import logging

import kopf
from kopf._core.actions import execution

from milvus_snapshot_operator.handlers import engine
from milvus_snapshot_operator.handlers.kopf_quirks import REQUEUE_MARK, NoDiffBase, QuietRequeues


def record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("kopf.objects", level, __file__, 1, message, None, None)


def test_kopf_still_logs_temporary_errors_with_the_words_we_match() -> None:
    source = inspect.getsource(execution)
    assert "failed temporarily: {str(e) or repr(e)}" in source
    message = f"Handler 'snapshot_daemon' failed temporarily: {engine.Requeue(1.5)}"
    assert str(engine.Requeue(1.5)).startswith(REQUEUE_MARK)
    quieted = record(logging.ERROR, message)
    assert QuietRequeues().filter(quieted) and quieted.levelno == logging.DEBUG
    real = record(logging.ERROR, "Handler 'snapshot_daemon' failed temporarily: connection refused")
    assert QuietRequeues().filter(real) and real.levelno == logging.ERROR  # a real failure stays loud


def test_no_diff_base_fits_kopfs_storage_interface() -> None:
    storage = NoDiffBase()
    assert isinstance(storage, kopf.DiffBaseStorage)
    body = kopf.Body({"metadata": {"name": "x"}, "spec": {"a": 1}})
    assert storage.build(body=body) == {} and storage.fetch(body=body) is None
    abstract = getattr(kopf.DiffBaseStorage, "__abstractmethods__", frozenset())
    assert abstract <= {"build", "fetch", "store"}, abstract
