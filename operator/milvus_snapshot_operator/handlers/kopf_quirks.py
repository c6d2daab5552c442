"""Where the operator depends on Kopf's internals rather than its API, in one place, tested against the pinned
Kopf (tests/unit/test_kopf_quirks.py): the text of Kopf's log lines, and the diff-base storage hook."""

from __future__ import annotations

import logging

import kopf

# Requeue (handlers/engine.py) is a kopf.TemporaryError whose message starts with this.
REQUEUE_MARK = "requeue in "


class QuietRequeues(logging.Filter):
    """Kopf logs every TemporaryError at ERROR ("Handler ... failed temporarily: <message>") and every timer
    success at INFO; a Requeue is routine, so both go to DEBUG. Matched on Kopf 1.45's wording."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if f"failed temporarily: {REQUEUE_MARK}" in message or (
            record.levelno == logging.INFO and message.endswith(" succeeded.") and "Timer" in message
        ):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


class NoDiffBase(kopf.DiffBaseStorage):
    """Keep no last-handled configuration: nothing here reacts to spec diffs.

    Kopf stores the diff base only for on.create/on.update handlers; ours are daemons and on.delete, which
    Kopf selects by deletionTimestamp, not by diff. Storing it cost one PATCH per new object (a fifth of the
    API writes of a snapshot's lifecycle) plus a deep copy of every body on every event.
    """

    def build(self, *, body: kopf.Body, extra_fields: object = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def quiet_kopf() -> None:
    for name in ("kopf", "kopf.objects"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, QuietRequeues) for f in logger.filters):
            logger.addFilter(QuietRequeues())
