"""glibc heap settings for a long-running asyncio + gRPC process.

Without them RSS keeps the high-water mark of every burst: each thread that ever allocated (gRPC's
pollers, the kubernetes client's thread pool) gets its own malloc arena, and freed memory stays mapped.
Python's own objects are a small part of the operator's RSS (tracemalloc: ~25 MB with 400 resources).
No-ops where glibc is absent (musl, macOS).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

M_ARENA_MAX = -8


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


def limit_arenas(count: int = 2) -> bool:
    """Call before threads start: at most `count` malloc arenas."""
    return _LIBC is not None and bool(_LIBC.mallopt(M_ARENA_MAX, count))


def trim() -> bool:
    """Give freed heap pages back to the OS; True when some were released."""
    return _LIBC is not None and bool(_LIBC.malloc_trim(0))


GC_YOUNG_THRESHOLD = 10_000


def settle_gc() -> None:
    """Freeze what exists now (modules, classes: ~300k objects from kopf, kubernetes and pymilvus) out of
    the cyclic collector, and collect the young generation less often.

    Each full collection otherwise walks every imported object again; during a burst of events that was
    a visible share of the operator's CPU, attributed to whichever allocation triggered it.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
