"""Pieces the answer-first view and its failure part share: the formulas in headers,
short names of entries, a matrix fitted to the width, two tables side by side."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.text import Text

from gradcli.render import findings
from gradcli.render.findings import split_trial
from gradcli.render.grid import fit_columns, index_column, lines, matrix_columns, rows_shown
from gradcli.report import Report

MAX_MATRIX_ROWS = 6  # rows of a matrix in the default view: the first 4, "…", the last
FORMULAS = {
    ("softmax", "jacobian"): "J_ij = s_i(δ_ij − s_j)",
    ("softmax", "softmax"): "s_i = exp(z_i/T) / Σ_k exp(z_k/T)",
}
SHORT = {("softmax", "jacobian"): "J", ("softmax", "softmax"): "s", ("check", "jacobian"): "J"}


def label_of(report: Report, quantity: str) -> str:
    label = report.labels.get(quantity, quantity)
    formula = FORMULAS.get((report.command, quantity))
    temperature = report.inputs.get("temperature", 1.0) if report.command == "softmax" else 1
    if formula and quantity == "jacobian" and temperature != 1:
        formula = formula.replace("s_i(δ_ij − s_j)", "s_i(δ_ij − s_j)/T")
    return f"{label}: {formula}" if formula and formula not in label else label


def shape_text(array: Any) -> str:
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


def shown_value(report: Report, quantity: str) -> Any:
    return report.results[findings.shown_backend(report, quantity)].arrays[quantity]


def matrix_lines(
    matrix: Any,
    width: int,
    fmt: Any,
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
    trial, base = split_trial(quantity)
    kind, _, variable = base.partition(".")
    if report.command == "graph" and variable:
        base = f"{variable}.grad" if kind == "grads" else variable
    name = SHORT.get((report.command, base), base)
    where = f"{name}[{','.join(map(str, index))}]" if index else name
    return f"{where} in trial {trial}" if trial is not None else where
