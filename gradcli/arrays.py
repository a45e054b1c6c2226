"""The rule for an array given through the Python API (the CLI's readers in inputs.py
end in the same checks): real, finite, at most so many dimensions, converted to float64.

`np.asarray(value, dtype=float64)` alone is not the rule: it turns the string "1.5"
into 1.5, drops the imaginary part of a complex array, raises OverflowError on
10**400 and RuntimeError on a tensor that requires grad.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcli.errors import InputError
from gradcli.params import shown

MAX_DIMS = 64  # numpy's own limit; graph inputs are held to torch's 32
MAX_ELEMENTS = 100_000_000  # as a .npy input: 800 MB in float64


def real_array(value: Any, name: str, max_dims: int = MAX_DIMS) -> NDArray[np.float64]:
    """`value` (array-like: numbers, nested lists, numpy arrays, CPU tensors) as a new
    finite float64 array, or InputError naming `name`."""
    if isinstance(value, (str, bytes, dict)) or value is None:
        raise InputError(f"{name}: expected an array of numbers, got {shown(value)}")
    if _requires_grad(value):
        raise InputError(f"{name}: a tensor that requires grad; pass tensor.detach()")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
        raise InputError(f"{name}: not an array of numbers ({shown(str(exc), 80)})") from None
    if raw.ndim > max_dims:
        raise InputError(f"{name}: {raw.ndim} dimensions; the limit is {max_dims}")
    if raw.size > MAX_ELEMENTS:
        raise InputError(f"{name}: {raw.size} elements; the limit is {MAX_ELEMENTS}")
    if raw.dtype.kind == "c":
        raise InputError(f"{name}: complex values; gradcli checks real derivatives")
    if raw.dtype.kind == "O":  # Python ints too large for int64, or mixed objects
        return _from_objects(raw, name)
    if raw.dtype.kind not in "iuf":
        raise InputError(f"{name}: expected numbers, got an array of {raw.dtype}")
    array = raw.astype(np.float64)
    _check_finite(array, name)
    return array


def _requires_grad(value: Any) -> bool:
    return bool(getattr(value, "requires_grad", False)) and hasattr(value, "detach")


def _from_objects(raw: NDArray[Any], name: str) -> NDArray[np.float64]:
    out = np.empty(raw.shape, dtype=np.float64)
    for index, item in np.ndenumerate(raw):
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, float, np.number)):
            raise InputError(f"{name}{list(index)}: expected a number, got {shown(item)}")
        if isinstance(item, (complex, np.complexfloating)):
            raise InputError(f"{name}{list(index)}: complex values; gradcli checks real ones")
        try:
            out[index] = float(item)
        except OverflowError:
            raise InputError(f"{name}{list(index)}: {shown(item)} overflows float64") from None
    _check_finite(out, name)
    return out


def _check_finite(array: NDArray[np.float64], name: str) -> None:
    if not np.isfinite(array).all():
        index = [int(i) for i in np.argwhere(~np.isfinite(array))[0]]
        raise InputError(f"{name}{index}: holds values that are not finite")
