"""Fault in the pages of large result arrays on a background thread.

A 4096² float64 Jacobian is 128 MiB, 32 768 pages, and each page is zeroed (and, on a
virtual machine whose host has reclaimed the memory, backed again by the host) the first
time it is written. Measured here for 384 MiB of a fresh --save file: 0.26 s to 3.7 s of
page faults, depending on how recently the memory was in use. gradcli softmax spends
over a second importing torch on one core while the other is idle; a thread that asks
the kernel to fault the arrays in (madvise MADV_POPULATE_WRITE, Linux ≥ 5.14, through
ctypes, which releases the GIL for the call) moves that cost onto the idle core.
Nothing depends on it: where the call is not available the pages fault in as they are
written, as before.
"""

from __future__ import annotations

import mmap
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from numpy.typing import NDArray

MADV_POPULATE_WRITE = 23  # <linux/mman.h>, Linux 5.14
MIN_BYTES = 32 << 20  # below this the faults cost less than the thread


def populate(arrays: Sequence[NDArray[Any]]) -> Callable[[], None]:
    """Start faulting in the pages of `arrays` (C-contiguous, not yet written) on a
    daemon thread; return a function that waits for it to end."""
    if not sys.platform.startswith("linux") or sum(a.nbytes for a in arrays) < MIN_BYTES:
        return lambda: None
    regions = [_pages(a) for a in arrays if a.flags.c_contiguous]
    thread = threading.Thread(target=_advise, args=(regions,), daemon=True)
    thread.start()
    return thread.join


def _pages(array: NDArray[Any]) -> tuple[int, int]:
    """The whole pages inside the array's memory: (address, length)."""
    start = int(array.__array_interface__["data"][0])
    first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
    last = (start + array.nbytes) // mmap.PAGESIZE * mmap.PAGESIZE
    return first, max(0, last - first)


def _advise(regions: list[tuple[int, int]]) -> None:
    import ctypes  # here: `gradcli softmax 3 1 -3` never pays for it

    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    for address, length in regions:
        if length and madvise(address, length, MADV_POPULATE_WRITE) != 0:
            return  # an older kernel (EINVAL): the pages fault in as they are written
