"""Where matplotlib may keep its configuration and font cache, chosen before its import.

matplotlib wants a writable ``$MPLCONFIGDIR`` or ``~/.config/matplotlib``. Where neither
can be written (a read-only HOME, a container's missing one) it prints two warnings and
leaves a ``/tmp/matplotlib-*`` folder behind on every run. gradcli gives it a temporary
folder of its own instead, removed when the run ends (the CLI leaves with os._exit once
torch is loaded, which runs no atexit hook: it calls :func:`remove`; the API, at exit).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

FOLDERS: list[str] = []  # made by prepare(), not yet removed


def prepare() -> None:
    """Call before the first ``import matplotlib``; a no-op where its home is writable or
    the user chose one (``MPLCONFIGDIR``: then matplotlib's own words are theirs)."""
    if "MPLCONFIGDIR" in os.environ:
        return
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    home = os.path.join(base, "matplotlib")
    try:
        os.makedirs(home, exist_ok=True)  # what matplotlib itself would do first
        writable = os.access(home, os.W_OK | os.X_OK)
    except OSError:
        writable = False
    if writable:
        return
    folder = tempfile.mkdtemp(prefix="gradcli-matplotlib-")
    if not FOLDERS:
        atexit.register(remove)
    FOLDERS.append(folder)
    os.environ["MPLCONFIGDIR"] = folder


def remove() -> None:
    """Remove the folders prepare() made (matplotlib reads them at import only)."""
    while FOLDERS:
        shutil.rmtree(FOLDERS.pop(), ignore_errors=True)
