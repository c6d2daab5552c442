"""memory: heap trimming (glibc), arena cap and GC settings of the operator process."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from milvus_snapshot_operator import memory

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc malloc only")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@glibc_only
def test_trim_returns_freed_heap_that_free_alone_keeps() -> None:
    # 2 KB blocks come from malloc (not pymalloc); keeping the last one pins the top of the heap, so
    # free() alone cannot shrink it: the 40 MB stay resident until trimmed.
    blocks = [bytearray(2048) for _ in range(20_000)]
    pin = blocks[-1]
    del blocks[:-1]
    before = rss_mb()
    assert memory.trim()
    after = rss_mb()
    assert before - after > 20, (before, after)
    assert pin


@glibc_only
def test_arena_limit_is_accepted() -> None:
    assert memory.limit_arenas(2)


def test_settle_gc_freezes_what_exists_and_collects_the_young_less_often() -> None:
    import gc

    threshold = gc.get_threshold()
    try:
        memory.settle_gc()
        assert gc.get_freeze_count() > 10_000  # this process's imports
        assert gc.get_threshold()[0] == memory.GC_YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
