"""--save, --plot and --dot: checked paths, and files that appear whole or not at all.

A path is followed to what it names (`destination`): a regular file (or none yet) is
replaced atomically, by a temporary beside the symlink's *target* renamed over it; a
device, a FIFO or a terminal (/dev/null, /dev/stdout, a symlink to /proc/self/fd/1) is
written through, never replaced or deleted. The .npz itself is written by
`gradcli.npz.NpzWriter`, in place.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gradcli.errors import InputError, OutputError

MAX_NAME = 255  # bytes of one file name (ext4, xfs, btrfs, tmpfs)


@dataclass(frozen=True)
class Destination:
    path: Path  # the regular file to replace (a symlink's target), or the node itself
    through: bool  # not a regular file: written through, in place


def destination(path: str, option: str) -> Destination:
    """Where `path` leads; a folder, a symlink loop or an empty name is one line."""
    if not path:
        raise InputError(f"{option} '': give a file name")
    try:
        status: os.stat_result | None = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        status = None  # a new file (or a dangling symlink's target, made)
    except OSError as exc:  # a symlink loop, a name too long, no permission
        raise InputError(f"{option} {path}: {exc.strerror or exc}") from None
    if status is not None and stat.S_ISDIR(status.st_mode):
        raise InputError(f"{option} {path}: is a folder")
    if status is not None and not stat.S_ISREG(status.st_mode):
        return Destination(Path(path), through=True)
    return Destination(Path(os.path.realpath(path)), through=False)


def check_distinct(paths: dict[str, str | None]) -> None:
    """Refuse two outputs that name one file (--dot X --plot X): one would be lost; and
    an empty name (`--dot ''`), which was once ignored."""
    seen: dict[str, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        where = destination(path, option)
        key = str(where.path) if not where.through else os.path.realpath(path)
        if key in seen:
            raise InputError(f"{seen[key]} and {option} name the same file {path}: give two")
        seen[key] = option


def check_save_path(path: str) -> None:
    """Refuse a --save path that cannot work, before anything is computed."""
    destination(path, "--save")
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
    """Call `write` on a temporary file in the folder of `path`'s target, then rename it
    there: an interrupted or failed write never leaves a partial file. A device or a
    FIFO is written through (made in memory first, so that `write` may seek). A write
    error (disk full …) is an OutputError (exit status 74) naming `option`."""
    where = destination(path, option)
    if where.through:
        buffer = io.BytesIO()
        write(buffer)
        try:
            with open(where.path, "wb") as handle:
                handle.write(buffer.getvalue())
        except OSError as exc:
            raise OutputError(f"{option} {path}: {exc.strerror or exc}") from None
        return
    try:
        fd, temporary = temporary_beside(where.path)
    except OSError as exc:
        raise OutputError(f"{option} {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        publish(temporary, where.path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        PENDING.discard(temporary)
        if isinstance(exc, OSError):
            raise OutputError(f"{option} {path}: {exc.strerror or exc}") from None
        raise


def deliver(temporary: str, where: Destination) -> None:
    """A finished temporary to its destination: renamed over a regular file, copied
    into a device or FIFO (then removed)."""
    if not where.through:
        publish(temporary, where.path)
        return
    try:
        with open(temporary, "rb") as source, open(where.path, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
    finally:
        Path(temporary).unlink(missing_ok=True)
        PENDING.discard(temporary)


def temporary_folder(where: Destination) -> Path:
    """A file in the folder a temporary for `where` is made in: beside a regular file
    (so that renaming is atomic), in the temporary folder for a device or FIFO."""
    return Path(tempfile.gettempdir()) / "gradcli" if where.through else where.path


# Every temporary that exists or is about to: a name is added *before* its file is
# created, so that a signal at any moment between the two cannot leave an orphan
# (remove_pending, called as the CLI ends, removes what is left).
PENDING: set[str] = set()


def temporary_beside(target: Path) -> tuple[int, str]:
    """A new hidden file in `target`'s folder (so that renaming it is atomic): fd, path."""
    while True:
        tail = f".{os.getpid()}.{os.urandom(6).hex()}.tmp"
        room = MAX_NAME - 1 - len(tail.encode())  # a 240-byte name still fits
        stem = target.name.encode()[:room].decode("utf-8", "ignore")
        path = str(target.parent / f".{stem}{tail}")
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
