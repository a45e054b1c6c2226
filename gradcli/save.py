"""--save and --plot: checked paths, and files that appear whole or not at all.

The .npz itself is written by `gradcli.npz.NpzWriter`, in place.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from gradcli.errors import InputError, OutputError


def check_save_path(path: str) -> None:
    """Refuse a --save path that cannot work, before anything is computed."""
    target = Path(path)
    if target.suffix != ".npz":
        raise InputError(f"--save {path}: the file name must end in .npz")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"--save {path}: folder {str(parent)!r} does not exist")
    if target.is_dir():
        raise InputError(f"--save {path}: is a folder")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str, write: Callable[[BinaryIO], None], option: str) -> None:
    """Call `write` on a temporary file in `path`'s folder, then rename it to `path`: an
    interrupted or failed write never leaves a partial file under `path`. A write error
    (disk full …) is an OutputError (exit status 74) naming `option`."""
    target = Path(path)
    fd, temporary = temporary_beside(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        publish(temporary, target)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        PENDING.discard(temporary)
        if isinstance(exc, OSError):
            raise OutputError(f"{option} {path}: {exc.strerror or exc}") from None
        raise


# Every temporary that exists or is about to: a name is added *before* its file is
# created, so that a signal at any moment between the two cannot leave an orphan
# (remove_pending, called as the CLI ends, removes what is left).
PENDING: set[str] = set()


def temporary_beside(target: Path) -> tuple[int, str]:
    """A new hidden file in `target`'s folder (so that renaming it is atomic): fd, path."""
    while True:
        path = str(target.parent / f".{target.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
        PENDING.add(path)
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600), path
        except FileExistsError:
            PENDING.discard(path)
        except BaseException:
            # a signal lands between bytecodes: after os.open has made the file and
            # before it is returned. Remove it (if it is there) before forgetting it.
            with contextlib.suppress(OSError):
                os.unlink(path)
            PENDING.discard(path)
            raise


def remove_pending() -> None:
    """Remove every temporary not yet published or discarded."""
    for path in list(PENDING):
        with contextlib.suppress(OSError):
            os.unlink(path)
        PENDING.discard(path)


def publish(temporary: str | Path, target: Path) -> None:
    """Give the finished temporary file the mode open() would, and put it at `target`
    with os.replace: one atomic step, so that `target` is at every moment either the
    old file or the new one, never missing. (Unlinking first, as gradcli once did to
    spare ext4's auto_da_alloc flush of a file renamed over another, left a moment
    with neither.) A result file is not worth an fsync: a system crash just after a run
    can leave it empty, and np.load then fails; it never reads wrong numbers, since
    every member has a CRC.
    """
    os.chmod(temporary, 0o666 & ~_umask())  # temporaries are made 0600
    os.replace(temporary, target)
    PENDING.discard(str(temporary))
