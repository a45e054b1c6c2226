"""Strict JSON for pipes, written by orjson (numpy arrays directly, NaN and ±inf as null:
there are never NaN or Infinity tokens; the report lists them under "non_finite")."""

from __future__ import annotations

import orjson

from gradcli.report import JSON_MAX_ELEMENTS, Report


def dumps(report: Report, *, indent: bool = False, max_elements: int = JSON_MAX_ELEMENTS) -> bytes:
    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
    if indent:
        option |= orjson.OPT_INDENT_2
    return orjson.dumps(report.to_dict(max_elements), option=option, default=_array)


def _array(value: object) -> object:
    """What orjson's numpy support leaves out: a 0-d array (the cotangent of a scalar
    loss, a scalar output) and non-contiguous ones, as their lists or numbers."""
    import numpy as np

    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")


def for_stream(data: bytes, encoding: str | None) -> bytes:
    """`data` as the stream can take it: unchanged on a UTF-8 stream; on one that cannot
    encode the math symbols (PYTHONIOENCODING=ascii, LC_ALL=C), every non-ASCII character
    as a JSON escape (the same document, "v\\u1d40Ju" for "vᵀJu"), never raw UTF-8 bytes."""
    try:
        "ᵀ−…".encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        text = data.decode("utf-8")  # non-ASCII appears only inside JSON strings
        return "".join(c if c.isascii() else _escape(c) for c in text).encode("ascii")
    return data


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # beyond the basic plane: a UTF-16 surrogate pair, as JSON spells it
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
