"""Strict JSON for pipes, written by orjson (numpy arrays directly, NaN and ±inf as null:
there are never NaN or Infinity tokens; the report lists them under "non_finite")."""

from __future__ import annotations

import orjson

from gradcli.report import JSON_MAX_ELEMENTS, Report


def dumps(report: Report, *, indent: bool = False, max_elements: int = JSON_MAX_ELEMENTS) -> bytes:
    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
    if indent:
        option |= orjson.OPT_INDENT_2
    return orjson.dumps(report.to_dict(max_elements), option=option)
