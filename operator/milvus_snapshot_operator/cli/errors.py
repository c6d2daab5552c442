"""What ends a command early, and the exit code each case maps to (0 success)."""

from __future__ import annotations

FAILED = 1  # the resource failed, or the API server refused the request
USAGE = 2  # bad arguments or configuration: nothing was sent
TIMEOUT = 3  # --timeout passed before the resource finished


class CliError(Exception):
    """A message for stderr and an exit code; raised anywhere, printed once by main()."""

    code = FAILED

    def __init__(self, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status  # the API server's answer, when it refused the request (404, 409, 410, ...)


class UsageError(CliError):
    code = USAGE


class TimedOut(CliError):
    code = TIMEOUT
