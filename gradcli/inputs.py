"""Strict readers for numbers: command-line tokens, stdin text, JSON, .npy, .txt/.csv.

A token is a number only if it is a finite decimal number. Python's ``float()`` is not
the parser: it also accepts ``nan``, ``inf``, ``infinity`` and ``1_000``, and turns
``1e999`` into ``inf``. ``json.loads`` is made strict too: it accepts ``NaN`` and
``Infinity`` by default. Every failure raises :class:`InputError` naming the source and
the bad piece.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from gradcli.errors import InputError
from gradcli.tokens import parse_number

# Text inputs larger than this are refused before they are read whole.
MAX_TEXT_BYTES = 64 * 1024 * 1024
SUFFIXES = (".npy", ".json", ".txt", ".csv")

FloatArray = NDArray[np.float64]


def parse_tokens(tokens: list[str], source: str, item: str = "item") -> FloatArray:
    """Numbers from a list of tokens; `source` and `item` name where each came from."""
    if not tokens:
        raise InputError(f"{source}: no numbers given (the vector is empty)")
    values = [parse_number(t, f"{source}, {item} {i + 1}") for i, t in enumerate(tokens)]
    return np.array(values, dtype=np.float64)


def parse_text(text: str, source: str) -> FloatArray:
    """One flat list of numbers: a JSON list, or numbers separated by spaces, commas, newlines."""
    stripped = text.strip()
    if stripped.startswith("["):
        return flat_vector(parse_json(stripped, source), source)
    tokens = [t for t in re.split(r"[\s,]+", stripped) if t]
    return parse_tokens(tokens, source)


def _reject_constant(name: str) -> float:
    raise InputError(f"{name} is not a finite number")


# A JSON integer longer than this is refused before int() sees it: beyond 309 digits it
# overflows float64 anyway, and Python's int() raises ValueError past 4300 digits.
MAX_INT_DIGITS = 400


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise InputError(f"an integer of {len(text.lstrip('-'))} digits overflows float64")
    return int(text)


def parse_json(text: str, source: str) -> Any:
    """Parse strict JSON: `NaN`, `Infinity` and `-Infinity` are errors, as in RFC 8259;
    so are integers too long to be numbers. Nesting is limited by to_array (64 levels)."""
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: invalid JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"{source}: JSON nested too deeply") from None


MAX_DIMS = 64  # numpy's limit; graph inputs are held to torch's 32


def to_array(obj: Any, source: str, max_dims: int = MAX_DIMS) -> FloatArray:
    """A rectangular float64 array from nested JSON lists of finite numbers, at most
    `max_dims` deep (counted while descending: a 900-deep list never recurses 900 times)."""
    shape = _shape_of(obj, source, "", max_dims)
    flat: list[float] = []
    _flatten(obj, flat, source, "")
    return np.array(flat, dtype=np.float64).reshape(shape)


def flat_vector(obj: Any, source: str) -> FloatArray:
    """A non-empty 1-D vector from a JSON list of numbers."""
    if not isinstance(obj, list):
        raise InputError(f"{source}: expected a JSON list of numbers, got {_json_type(obj)}")
    array = to_array(obj, source)
    if array.ndim != 1:
        raise InputError(f"{source}: expected a flat list of numbers, got shape {array.shape}")
    if array.size == 0:
        raise InputError(f"{source}: no numbers given (the vector is empty)")
    return array


def _shape_of(obj: Any, source: str, path: str, levels: int) -> tuple[int, ...]:
    if not isinstance(obj, list):
        _check_number(obj, source, path)
        return ()
    if levels == 0:
        raise InputError(f"{source}: nested more deeply than {path.count('[')} levels (the limit)")
    if not obj:
        return (0,)
    inner = [_shape_of(item, source, f"{path}[{i}]", levels - 1) for i, item in enumerate(obj)]
    for i, shape in enumerate(inner):
        if shape != inner[0]:
            raise InputError(
                f"{source}: ragged nesting: {path}[0] has shape {inner[0]} "
                f"but {path}[{i}] has shape {shape}"
            )
    return (len(obj), *inner[0])


def _flatten(obj: Any, out: list[float], source: str, path: str) -> None:
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            _flatten(item, out, source, f"{path}[{i}]")
    else:
        out.append(_check_number(obj, source, path))


def _check_number(obj: Any, source: str, path: str) -> float:
    where = f"{source}{path}" if path else source
    # bool is an int in Python, but `true` is not a number in JSON.
    if isinstance(obj, bool) or not isinstance(obj, (int, float)):
        raise InputError(f"{where}: expected a number, got {_json_type(obj)}")
    try:
        value = float(obj)
    except OverflowError:
        raise InputError(f"{where}: {obj} overflows float64") from None
    if not math.isfinite(value):
        raise InputError(f"{where}: {obj!r} is not a finite number")
    return value


def _json_type(obj: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if obj is None:
        return "null"
    return names.get(type(obj), type(obj).__name__)


def read_vector_file(path: str) -> FloatArray:
    """A non-empty finite 1-D vector from .npy, .json, .txt or .csv (chosen by suffix)."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(
            f"{path}: unknown file type {suffix or '(none)'!r}; use one of {', '.join(SUFFIXES)}"
        )
    if suffix == ".npy":
        return _vector_from_npy(path)
    return parse_text(read_text_file(path), path)


def read_text_file(path: str) -> str:
    """The text of `path`, refusing files that are missing, huge, or not UTF-8."""
    try:
        with open(path, "rb") as handle:
            return read_text(handle, path)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_text(stream: BinaryIO, source: str) -> str:
    """At most MAX_TEXT_BYTES of UTF-8 text from `stream` (a file, or stdin's buffer)."""
    data = stream.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        raise InputError(f"{source}: larger than {MAX_TEXT_BYTES // 2**20} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 text (byte {exc.start})") from None


def _vector_from_npy(path: str) -> FloatArray:
    array = load_npy(path)
    if array.ndim != 1:
        raise InputError(f"{path}: expected a 1-D array, got shape {array.shape}")
    if array.size == 0:
        raise InputError(f"{path}: the array is empty")
    return array


MAX_NPY_ELEMENTS = 100_000_000  # 800 MB in float64
NUMERIC_KINDS = "iuf"  # signed, unsigned, floating: the only .npy inputs


def _check_npy_header(path: str) -> None:
    """Read the header first: a huge or non-numeric array is refused before it is
    loaded. Counted in Python ints (a shape of (2**70,) does not wrap), in elements and
    in bytes (a <U100 or |V1000000000 dtype makes few elements enormous)."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, EOFError, SyntaxError, TypeError, OverflowError) as exc:
        raise InputError(f"{path}: not a valid .npy file ({str(exc)[:200]})") from None
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise InputError(f"{path}: not a valid .npy file (bad shape in the header)")
    if dtype.hasobject:
        raise InputError(
            f"{path}: holds Python objects; gradcli never unpickles (save a numeric array)"
        )
    if dtype.kind not in NUMERIC_KINDS or dtype.subdtype is not None:
        raise InputError(f"{path}: dtype {dtype} is not a real number type")
    size = math.prod(shape)
    if len(shape) > MAX_DIMS or size > MAX_NPY_ELEMENTS:
        raise InputError(
            f"{path}: shape {shape if len(str(shape)) < 80 else '(…)'} of {dtype}; the limit "
            f"is {MAX_NPY_ELEMENTS} elements in at most {MAX_DIMS} dimensions"
        )


def load_npy(path: str) -> FloatArray:
    """A finite float64 array from a .npy file. Pickled objects are never loaded."""
    _check_npy_header(path)
    try:
        array = np.load(path, allow_pickle=False)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise InputError(
                f"{path}: holds Python objects; gradcli never unpickles (save a numeric array)"
            ) from None
        raise InputError(f"{path}: not a valid .npy file ({exc})") from None
    except EOFError:
        raise InputError(f"{path}: not a valid .npy file (truncated)") from None
    if not isinstance(array, np.ndarray):
        raise InputError(f"{path}: not a .npy array file")
    if array.dtype.kind not in "iuf":
        raise InputError(f"{path}: dtype {array.dtype} is not a real number type")
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
        raise InputError(f"{path}: element {list(bad)} is not finite ({values[bad]})")
    return values


def check_fits_dtype(values: FloatArray, dtype: str, source: str) -> None:
    """Refuse values that overflow `dtype` (e.g. 1e39 in float32) instead of making them inf."""
    limit = float(np.finfo(np.dtype(dtype)).max)
    too_big = np.abs(values) > limit
    if too_big.any():
        index = tuple(int(i) for i in np.argwhere(too_big)[0])
        raise InputError(
            f"{source}: {values[index]:g} at {list(index)} overflows {dtype} "
            f"(largest is {limit:.8g})"
        )
