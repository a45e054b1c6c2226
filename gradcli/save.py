"""--save: every result array in one .npz, written atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcli.errors import InputError


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


def save_npz(path: str, arrays: Mapping[str, NDArray[Any]]) -> None:
    """Write `arrays` to `path` through a temporary file in the same folder, then rename:
    an interrupted or failed write never leaves a partial file under `path`."""
    target = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **dict(arrays))  # type: ignore[arg-type]  # keys are never "allow_pickle"
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        os.replace(temporary, target)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise InputError(f"--save {path}: {exc.strerror or exc}") from None
        raise
