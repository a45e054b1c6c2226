"""Chunked numpy work on every core.

numpy releases the GIL inside its loops on large arrays, so threads that each take a
chunk of an n×n array run in parallel. Small inputs run in the calling thread: a pool
would cost more than it saves.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

WORKERS = max(1, min(8, os.cpu_count() or 1))
MIN_PARALLEL_ITEMS = 2  # fewer chunks than this run inline


def map_chunks(function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """[function(item) for item in items], in order, on up to WORKERS threads."""
    if WORKERS == 1 or len(items) < MIN_PARALLEL_ITEMS:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(function, items))


def spans(total: int, size: int) -> list[tuple[int, int]]:
    """[(start, stop), …] covering range(total) in pieces of at most `size`."""
    return [(start, min(start + size, total)) for start in range(0, total, max(1, size))]
