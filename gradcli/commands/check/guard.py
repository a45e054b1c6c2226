"""The fence around the user's code under `gradcli check`: it is untrusted, so whatever
it does cannot forge a verdict.

- Every call goes through `call`: any exception, SystemExit (sys.exit), GeneratorExit
  included, becomes one InputError line naming the function (exit 2); only
  KeyboardInterrupt passes (Ctrl-C is the user's, and stays 130).
- While it runs (`user_stdout`), its prints go to stderr, so they corrupt neither --json
  nor the tables; a closed stderr drops them rather than failing the user's code.
- What it returns is read by `as_array` / `as_jacobian`: complex numbers, meta tensors,
  objects whose __float__ raises, ints too large for a float, None and wrong shapes are
  one clear line each, never a traceback.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from typing import Any

import numpy as np

from gradcli.errors import InputError

Array = np.ndarray[Any, Any]


class _ToStderr:
    """A stdout for the user's code: writes go to stderr, and are dropped if stderr
    cannot take them (a closed pipe is gradcli's business, not an error of the forward)."""

    encoding = "utf-8"
    errors = "replace"

    def write(self, text: str) -> int:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.write(text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.flush()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def user_stdout() -> Iterator[None]:
    """Run a block with sys.stdout pointing at stderr (the user's prints are not output)."""
    with contextlib.redirect_stdout(_ToStderr()):  # type: ignore[type-var, unused-ignore]
        yield


def call(
    function: Any,
    args: tuple[Any, ...],
    what: str,
    *,
    kwargs: dict[str, Any] | None = None,
    debug: bool = False,
) -> Any:
    """function(*args, **kwargs) on private copies of its arrays and tensors (code that
    changes its input in place cannot change what the next call, or the report, sees:
    a forward doing `x += 1` before a derivative read the moved x checked the derivative
    at the wrong point and passed); anything it raises becomes one line naming `what`."""
    args = tuple(_private(a) for a in args)
    kwargs = {k: _private(v) for k, v in (kwargs or {}).items()}
    try:
        with user_stdout():
            return function(*args, **kwargs)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit and GeneratorExit too: untrusted code
        raise InputError(failure(f"{what} raised", exc, debug)) from None


RESOLUTION = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23}


def repeatable(what: str, first: tuple[Array, ...], again: tuple[Array, ...], dtype: str) -> None:
    """Refuse a forward whose two calls at the same input differ beyond its dtype's
    rounding (random numbers, dropout in training mode, state kept between calls): fd's
    differences of it would be noise with a huge error bound, against which any
    derivative "agrees" (a forward adding N(0, 1) noise passed a derivative of zeros)."""
    resolution = RESOLUTION.get(dtype, 2.0**-52)
    if len(first) != len(again):
        raise InputError(f"{what} returned {len(first)} outputs, then {len(again)}")
    for a, b in zip(first, again, strict=True):
        scale = float(np.max(np.abs(a), initial=0.0, where=np.isfinite(a)))
        with np.errstate(all="ignore"):
            apart = a.shape != b.shape or np.any(
                (np.abs(a - b) > 64 * resolution * max(scale, np.finfo(np.float64).tiny))
                & (np.isfinite(a) | np.isfinite(b))
            )
        if apart:
            raise InputError(
                f"{what} returned different values for the same input (random numbers, "
                "dropout in training mode, or state kept between calls): finite "
                "differences need a function; fix its randomness to check it"
            )


def _private(value: Any) -> Any:
    """A copy of an array or tensor (a tensor's clone stays in autograd's graph)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return value.clone()
    return value


def failure(prefix: str, exc: BaseException, debug: bool, hint: str = "") -> str:
    """`prefix` and the exception, as one line (the traceback on stderr with --debug),
    with `hint` (what to do about it) after the exception."""
    if debug:
        traceback.print_exception(exc)
    if isinstance(exc, SystemExit):
        detail = f"SystemExit (it called sys.exit({exc.code!r}))"
    else:
        text = " ".join(safe_str(exc).split())
        detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if len(detail) > 300:
        detail = detail[:297] + "..."
    hint = f"; {hint}" if hint else ""
    return f"{prefix} {detail}{hint}" + ("" if debug else " (--debug shows the traceback)")


def safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # an exception whose __str__ raises: its type says enough
        return ""


def as_array(value: Any, what: str, shape: tuple[int, ...] | None = None) -> Array:
    """The user's result as a float64 array (of `shape`, if given), or one clear line."""
    if value is None:
        expected = f" (expected an array of shape {shape})" if shape is not None else ""
        raise InputError(f"{what} returned None{expected}")
    if hasattr(value, "detach") and hasattr(value, "dtype"):  # a torch tensor
        value = _tensor_values(value, what)
    elif not isinstance(value, (np.ndarray, np.generic, list, tuple, float, int)) or isinstance(
        value, bool
    ):
        raise InputError(f"{what} returned {type(value).__name__}, not an array")
    array = _real_float64(value, what)
    if shape is not None and array.shape != shape:
        raise InputError(f"{what} returned shape {array.shape}, expected {shape}")
    return array


def _tensor_values(tensor: Any, what: str) -> Array:
    if tensor.is_complex():
        raise InputError(f"{what} returned a complex tensor; gradients here are real")
    if str(tensor.device) == "meta":
        raise InputError(f"{what} returned a tensor on the meta device, which has no values")
    try:
        import torch

        values: Array = tensor.detach().to("cpu", torch.float64).numpy()
    except (RuntimeError, TypeError, ValueError) as exc:
        raise InputError(f"{what} returned a tensor gradcli cannot read: {exc}") from None
    return values


def _real_float64(value: Any, what: str) -> Array:
    source = np.asarray(value) if isinstance(value, (np.ndarray, np.generic)) else None
    if source is not None and source.dtype.kind == "c":
        raise InputError(f"{what} returned complex numbers; gradients here are real")
    if source is not None and source.dtype.kind not in "fiuO":
        raise InputError(f"{what} returned an array of {source.dtype}, not of numbers")
    try:
        with user_stdout():  # an object's __float__ is user code too
            array = np.array(value, dtype=np.float64)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        if isinstance(exc, OverflowError):
            raise InputError(f"{what} returned a number too large for a float") from None
        if _has_complex(value):
            raise InputError(f"{what} returned complex numbers; gradients here are real") from None
        raise InputError(
            failure(f"{what} returned something that is not an array of real numbers:", exc, False)
        ) from None
    return array


def _has_complex(value: Any) -> bool:
    if isinstance(value, complex):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_complex(v) for v in value[:1000])
    return False


def as_complex(value: Any) -> Array | None:
    """The forward's result at complex input as a complex128 array, or None if it is not
    a numpy array or a torch tensor of complex numbers (the forward did not carry the
    imaginary part)."""
    if hasattr(value, "detach") and hasattr(value, "is_complex"):  # a torch tensor
        try:
            if not value.is_complex() or str(value.device) == "meta":
                return None
            import torch

            tensor = value.detach().to("cpu", torch.complex128).resolve_conj()
            return np.array(tensor.numpy(), dtype=np.complex128)
        except Exception:  # a tensor subclass that cannot give its values: no complex step
            return None
    if (
        not isinstance(value, (np.ndarray, np.complexfloating))
        or np.asarray(value).dtype.kind != "c"
    ):
        return None
    return np.asarray(value, dtype=np.complex128)


def as_jacobian(value: Any, what: str, y_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> Array:
    """A Jacobian block of shape (outputs, inputs) or y.shape + x.shape, as (outputs,
    inputs). (inputs, outputs) is named as transposed; any other shape is an error: a
    silent reshape could hide a wrong layout."""
    n_out, n_in = int(np.prod(y_shape)), int(np.prod(x_shape))
    array = as_array(value, what)
    if array.shape in ((n_out, n_in), (*y_shape, *x_shape)):
        return array.reshape(n_out, n_in)
    expected = f"({n_out}, {n_in}) = (outputs, inputs)"
    if (*y_shape, *x_shape) != (n_out, n_in):
        expected += f" or y.shape + x.shape = {(*y_shape, *x_shape)}"
    if array.shape in ((n_in, n_out), (*x_shape, *y_shape)):
        raise InputError(
            f"{what} returned shape {array.shape} = (inputs, outputs): it is transposed; "
            f"expected {expected}"
        )
    raise InputError(f"{what} returned shape {array.shape}, expected {expected}")


def as_arrays(value: Any, what: str, count: int) -> tuple[Any, ...]:
    """`count` results: a tuple/list of them, or the one result itself if count is 1."""
    if count == 1 and not (isinstance(value, tuple) and len(value) == 1):
        return (value,)
    if not isinstance(value, (tuple, list)):
        raise InputError(
            f"{what} returned one {type(value).__name__}, expected a tuple of {count} "
            "(one per input)"
        )
    if len(value) != count:
        raise InputError(f"{what} returned {len(value)} results, expected {count} (one per input)")
    return tuple(value)
