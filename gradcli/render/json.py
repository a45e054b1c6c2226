"""Strict JSON for pipes, written by orjson (numpy arrays directly, NaN and ±inf as null:
there are never NaN or Infinity tokens; the report lists them under "non_finite")."""

from __future__ import annotations

import orjson

from gradcli.render.findings import failing_inputs
from gradcli.report import JSON_MAX_ELEMENTS, Report


def dumps(report: Report, *, indent: bool = False, max_elements: int = JSON_MAX_ELEMENTS) -> bytes:
    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
    if indent:
        option |= orjson.OPT_INDENT_2
    document = report.to_dict(max_elements)
    failing = failing_inputs(report)
    if failing:  # what reproduces the failure: --trial K reruns it alone
        document = {**document, "failing_trial": failing}
        document["ok"] = document.pop("ok")  # "ok" stays the last key
    return orjson.dumps(document, option=option)
