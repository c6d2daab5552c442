"""Run-wide hooks. Figures that tests measure (a user property named "figure: <section>") are printed at the
end of the run, so CI logs keep them; they travel with the test reports, which is also how they reach the
terminal when pytest-xdist ran the tests in worker processes (`make test`)."""

from __future__ import annotations

import pytest

FIGURE = "figure: "
_figures: dict[str, list[str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "teardown":  # each phase's report carries the properties so far: read them once
        return
    for name, value in report.user_properties:
        if name.startswith(FIGURE):
            _figures.setdefault(name.removeprefix(FIGURE), []).append(str(value))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for section, lines in _figures.items():
        terminalreporter.section(section)
        for line in lines:
            terminalreporter.write_line(line)
