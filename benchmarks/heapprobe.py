"""Run the operator through its own `python -m milvus_snapshot_operator` start-up (runpy), with tracemalloc on;
on SIGUSR1 write where the Python heap is to $MSO_HEAP_REPORT: by type (objects the garbage collector tracks,
shallow sizes), by source line (tracemalloc), and the live asyncio tasks by coroutine. For benchmarks only
(tracemalloc slows the process and adds its own memory): `benchmarks/run.py --only e --heap`.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import os
import runpy
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

TOP = 30


def report() -> str:
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    traced, peak = tracemalloc.get_traced_memory()
    lines = [f"tracemalloc: {traced / 2**20:.1f} MB traced now, peak {peak / 2**20:.1f} MB"]
    by_type: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for obj in gc.get_objects():  # containers only (dicts, lists, instances, frames, ...)
        entry = by_type[type(obj).__qualname__]
        entry[0] += 1
        entry[1] += sys.getsizeof(obj)
    lines.append("\nby type (gc-tracked objects, shallow size):")
    for name, (count, size) in sorted(by_type.items(), key=lambda kv: -kv[1][1])[:TOP]:
        lines.append(f"  {size / 2**20:8.2f} MB  {count:>9}  {name}")
    lines.append("\nby source line (tracemalloc):")
    for stat in snapshot.statistics("lineno")[:TOP]:
        frame = stat.traceback[0]
        where = "/".join(Path(frame.filename).parts[-3:])
        lines.append(f"  {stat.size / 2**20:8.2f} MB  {stat.count:>9}  {where}:{frame.lineno}")
    lines.append("\nby file (tracemalloc):")
    for stat in snapshot.statistics("filename")[:TOP]:
        where = "/".join(Path(stat.traceback[0].filename).parts[-3:])
        lines.append(f"  {stat.size / 2**20:8.2f} MB  {stat.count:>9}  {where}")
    lines.extend(_holders())
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:
        tasks = set()
    names = collections.Counter(getattr(t.get_coro(), "__qualname__", "?") for t in tasks)
    lines.append(f"\nasyncio tasks: {len(tasks)}")
    lines.extend(f"  {count:>9}  {name}" for name, count in names.most_common(TOP))
    return "\n".join(lines) + "\n"


def _holders(kinds: tuple[str, ...] = ("Body", "Patch", "LocalObjectLogger", "DaemonCause", "State")) -> list[str]:
    """For a few Kopf types that should not outlive their event: how many are alive, and what holds one."""
    found: dict[str, list[object]] = collections.defaultdict(list)
    for obj in gc.get_objects():
        name = type(obj).__name__
        if name in kinds:
            found[name].append(obj)
    lines = ["\nalive (and what holds the last one, 3 levels up):"]
    for name in kinds:
        objs = found.get(name, [])
        lines.append(f"  {len(objs):>9}  {name}")
        chain, current = [], objs[-1] if objs else None
        for _ in range(3):
            if current is None:
                break
            holders = [r for r in gc.get_referrers(current) if r is not objs and not isinstance(r, FrameType)]
            if not holders:
                break
            current = holders[0]
            chain.append(type(current).__qualname__)
        if chain:
            lines.append("             <- " + " <- ".join(chain))
    return lines


def dump(_signum: int, _frame: FrameType | None) -> None:
    Path(os.environ.get("MSO_HEAP_REPORT", "heap-report.txt")).write_text(report())


tracemalloc.start(1)
signal.signal(signal.SIGUSR1, dump)
runpy.run_module("milvus_snapshot_operator", run_name="__main__")  # its own start-up order, then main()
