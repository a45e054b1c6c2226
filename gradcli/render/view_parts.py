"""Pieces the answer-first view and its failure part share: the formulas in headers,
short names of entries, a matrix fitted to the width, two tables side by side."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.text import Text

from gradcli.keys import Entry, Key
from gradcli.render import findings
from gradcli.render.blocks import Format
from gradcli.render.grid import fit_columns, index_column, lines, matrix_columns, rows_shown
from gradcli.report import Array, Report

MAX_MATRIX_ROWS = 6  # rows of a matrix in the default view: the first 4, "…", the last
FORMULAS = {
    ("softmax", "jacobian"): "J_ij = s_i(δ_ij − s_j)",
    ("softmax", "softmax"): "s_i = exp(z_i/T) / Σ_k exp(z_k/T)",
}


def label_of(report: Report, quantity: str | Key) -> str:
    """The quantity's one name (str(key)), then what it is when the command says so:
    "dW: ∂L/∂W = (∂L/∂z)ᵀ·x", "vjp.W in trial 2"."""
    key = quantity if isinstance(quantity, Key) else report.key(quantity)
    name = str(key)
    label = report.labels.get(key.id, "")
    if label and label != key.name:
        name = label if label.startswith(f"{key.name} = ") else f"{name}: {label}"
    formula = FORMULAS.get((report.command, key.id))
    temperature = report.inputs.get("temperature", 1.0) if report.command == "softmax" else 1
    if formula and key.id == "jacobian" and temperature != 1:
        formula = formula.replace("s_i(δ_ij − s_j)", "s_i(δ_ij − s_j)/T")
    return f"{name}: {formula}" if formula and formula not in name else name


def shape_text(array: Array) -> str:
    return "×".join(map(str, np.shape(array))) or "scalar"


SEPARATOR = "  │  "


def beside(left: list[Text], right: list[Text], width: int) -> list[Text] | None:
    """Two tables of the same rows side by side, if they fit in `width`."""
    if len(left) != len(right):
        return None
    pad = max(len(t.plain) for t in left)
    if pad + len(SEPARATOR) + max(len(t.plain) for t in right) > width:
        return None
    out = []
    for a, b in zip(left, right, strict=True):
        line = Text.assemble(a, " " * (pad - len(a.plain)), (SEPARATOR, "dim"), b)
        line.rstrip()  # a blank right side leaves no trailing spaces
        out.append(line)
    return out


def shown_value(report: Report, quantity: str) -> Array:
    return report.results[findings.shown_backend(report, quantity)].arrays[quantity]


def matrix_lines(
    matrix: Any,
    width: int,
    fmt: Format,
    style: Any = None,
    limit: int = MAX_MATRIX_ROWS,
    header: str = "i\\j",
    focus: tuple[int, int] | None = None,
) -> list[Text]:
    """A 2-D array's lines; `focus` (row, column) is always shown."""
    rows = rows_shown(matrix.shape[0], limit, focus[0] if focus else None)
    columns = matrix_columns(matrix, fmt, rows, style)
    return lines(
        fit_columns([index_column(rows, header)], columns, width, focus[1] if focus else None)
    )


def first_input(report: Report) -> str:
    graph = report.extra.get("graph", [])
    return next((node["name"] for node in graph if node.get("op") == "input"), "NAME")


def entry_name(report: Report, quantity: str, index: tuple[int, ...]) -> str:
    return str(Entry(report.key(quantity), index))
