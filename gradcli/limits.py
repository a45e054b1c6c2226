"""Size limits, a memory estimate made before any large allocation, and where large
results are allocated (in memory, or in the --save file)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from gradcli.errors import InputError

# Where a large result is allocated: given its key as --save names it ("numpy.jacobian"),
# its shape and dtype, an empty array. In memory by default; with --save the CLI passes
# NpzWriter.empty, and the backend computes straight into the file.
Allocate = Callable[[str, tuple[int, ...], DTypeLike], NDArray[Any]]


def in_memory(key: str, shape: tuple[int, ...], dtype: DTypeLike) -> NDArray[Any]:
    """The default Allocate: np.empty."""
    return np.empty(shape, dtype=dtype)


# Largest n for which `gradcli softmax` builds dense n×n Jacobians: 8192² float64 is
# 512 MiB per backend. Beyond it the answer would not fit the tool's purpose (reading a
# Jacobian) and would take minutes; it is refused with a message, never an OOM kill.
MAX_DENSE_N = 8192

# Refuse work whose estimated peak exceeds this share of the memory the OS reports
# as available: the rest is left for the interpreter, torch and the page cache.
MEMORY_SHARE = 0.7


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo, in bytes; None where it cannot be read."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.3g} GiB"


def check_memory(n_bytes: int, what: str, advice: str) -> None:
    """Raise InputError if `n_bytes` would not fit in the memory available now."""
    available = available_memory()
    if available is not None and n_bytes > MEMORY_SHARE * available:
        raise InputError(
            f"{what} would need about {gib(n_bytes)} of memory but {gib(available)} is "
            f"available; {advice}"
        )
