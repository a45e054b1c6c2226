"""Import a module on a background thread while work that needs none of it goes on.

`import torch` takes most of a 4096-logit `gradcli softmax` (0.9 s of 1.4 s, measured on
an idle machine) on one core while the other is idle, and the numpy Jacobian, fd and
their laws need no torch. `start("torch")` runs the import on a daemon thread; whoever
needs torch later simply imports it, and Python's module lock makes that import wait
for the thread's. A failed import can leave half a module behind (torch under ulimit -v:
its submodules loaded, `torch` itself not, and a second import then fails another way),
so whoever needs the module calls `finish(name)` first, which raises the thread's own
error. Nothing else depends on the thread: without it the import happens where it is used.

The GIL: the importer runs Python bytecode much of the time, and the numpy work gives
the GIL up inside each large loop; every time the work wants it back it would wait up
to the switch interval (5 ms) for the importer to yield, hundreds of times (fd's blocks).
`overlapping()` lowers the interval while both run (`SWITCH_INTERVAL`), so that the work
gets the GIL back within 0.1 ms; the default is restored when the block ends.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SWITCH_INTERVAL = 1e-4  # s: see the module docstring
_threads: dict[str, threading.Thread] = {}
_failures: dict[str, BaseException] = {}


def start(name: str) -> None:
    """Begin importing `name` on a daemon thread, unless it is imported or under way."""
    if name in sys.modules or name in _threads:
        return
    thread = threading.Thread(target=_import, args=(name,), name=f"import {name}", daemon=True)
    _threads[name] = thread
    thread.start()


def pending() -> bool:
    """Whether an import started here is still running (a process that ends now must not
    run Python's finalization under it: see gradcli.__main__.leave)."""
    return any(thread.is_alive() for thread in _threads.values())


@contextmanager
def overlapping() -> Iterator[None]:
    """Work that runs while an import started here may still be running: the GIL
    changes hands within SWITCH_INTERVAL meanwhile."""
    if not pending():
        yield
        return
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def finish(name: str) -> None:
    """Wait for an import started here; raise its error if it failed."""
    thread = _threads.get(name)
    if thread is not None:
        thread.join()
    failure = _failures.pop(name, None)
    if failure is not None:
        raise failure


def _import(name: str) -> None:
    try:
        importlib.import_module(name)
    except BaseException as exc:  # raised again by finish(), in the thread that needs it
        _failures[name] = exc
