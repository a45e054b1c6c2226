"""The inputs of a run as the default view shows them, and each command's own sections:
layer's W, b and x; where each of graph's inputs came from, its inputs' gradients and a
table of every variable; a failing check's trial input x."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.text import Text

from gradcli.render.blocks import Format
from gradcli.render.findings import Failure, shown_backend, trial_position
from gradcli.render.grid import (
    ELLIPSIS,
    Column,
    LazyColumns,
    as_matrix,
    fit_columns,
    index_column,
    matrix_columns,
    rows_shown,
    wrap,
)
from gradcli.render.grid import (
    lines as table_lines,
)
from gradcli.render.view_parts import label_of
from gradcli.report import Report

MAX_ROWS = 6
MAX_INLINE = 24  # values of a failing trial's x written on its line(s)


def lines(report: Report, width: int, fmt: Format, found: list[Failure]) -> list[Text]:
    command = report.command
    if command == "layer":
        return _layer(report, width, fmt)
    if command == "graph":
        return _graph(report, width, fmt, {f.base.id for f in found})
    if command == "check" and found:
        return _check(report, width, fmt, found[0])
    if command == "softmax" and found:
        return _row("z", np.asarray(report.inputs["z"]), width, fmt)
    return []


def _row(name: str, vector: Any, width: int, fmt: Format) -> list[Text]:
    """A 1-D input as a table of one row (fewer columns when wide)."""
    vector = np.asarray(vector, dtype=np.float64).reshape(-1)
    columns = LazyColumns(vector.size, lambda j: Column(str(j), [fmt(float(vector[j]))]))
    return table_lines(fit_columns([Column("", [name], left=True)], columns, width))


def _matrix(
    name: str, array: Any, width: int, fmt: Format, extra: list[Column] | None = None
) -> list[Text]:
    matrix = as_matrix(np.asarray(array, dtype=np.float64))
    rows = rows_shown(matrix.shape[0], MAX_ROWS)
    columns = matrix_columns(matrix, fmt, rows)
    fitted = fit_columns(
        [index_column(rows, name if "\\" in name else f"{name} i\\j".strip())],
        columns,
        width - sum(c.width + 2 for c in extra or []),
    )
    return table_lines([*fitted, *(extra or [])])


def _layer(report: Report, width: int, fmt: Format) -> list[Text]:
    """W with b beside it (both indexed by the output i), then x."""
    w, b, x = (np.asarray(report.inputs[k], dtype=np.float64) for k in ("W", "b", "x"))
    rows = rows_shown(w.shape[0], MAX_ROWS)
    if x.ndim == 1:  # x_j under W's columns j, as one more row
        cells = [
            [ELLIPSIS if i is None else fmt(float(w[i, j])) for i in rows]
            for j in range(w.shape[1])
        ]
        columns = [
            Column(str(j), [*cells[j], fmt(float(x[j]))], styles=[*[""] * len(rows), "bold"])
            for j in range(w.shape[1])
        ]
        index = Column("W i\\j", [*(ELLIPSIS if i is None else str(i) for i in rows), "x_j"])
        b_column = Column("b_i", [*(ELLIPSIS if i is None else fmt(float(b[i])) for i in rows), ""])
        fitted = fit_columns([index], columns, width - b_column.width - 2)
        return table_lines([*fitted, b_column])
    b_column = Column("b_i", [ELLIPSIS if i is None else fmt(float(b[i])) for i in rows])
    return _matrix("W", w, width, fmt, [b_column]) + _matrix("x r\\j", x, width, fmt)


def _graph(report: Report, width: int, fmt: Format, failing: set[str]) -> list[Text]:
    """Where each input came from, each input's gradient, and every variable."""
    inputs = report.inputs
    values = inputs.get("values", {})
    drawn = [r.partition("=")[0] for r in inputs.get("rand", [])]
    dtype = inputs.get("dtype", "float64")
    out: list[Text] = []
    if drawn:
        text = (
            f"inputs {', '.join(drawn)}: torch.rand after torch.manual_seed({inputs.get('seed')})"
            f", drawn in float32; computed in {dtype}"
        )
        if dtype != "float32":
            text += " (--dtype float32 prints what your PyTorch script prints)"
        out += wrap(text, width)
    given = [n for n in values if n not in drawn]
    if given:
        out += wrap(f"inputs {', '.join(given)}: given with --var, computed in {dtype}", width)
    graph = report.extra.get("graph", [])
    # every named variable's gradient as numbers (a corner of each), as retain_grad prints
    for name in [node["name"] for node in graph]:
        quantity = f"grads.{name}"
        having = [r for r in report.results.values() if quantity in r.arrays]
        if not having or quantity in failing:  # a failing gradient is shown beside expected
            continue
        if not np.size(report.results[shown_backend(report, quantity)].arrays[quantity]):
            continue  # an empty tensor: its row in the table of variables says so
        array = report.results[shown_backend(report, quantity)].arrays[quantity]
        title = label_of(report, quantity)
        if np.ndim(array) == 0:
            out += wrap(f"{name}.grad = {fmt(float(array))}", width)
            continue
        if np.ndim(array) <= 1:  # a vector: one row beside its name
            out += _row(f"{name}.grad", array, width, fmt)
            continue
        shape = "×".join(map(str, np.shape(array))) or "scalar"
        out += wrap(f"{title}   ({shape})", width, "    ", style="bold")
        matrix = as_matrix(np.asarray(array, dtype=np.float64))
        rows = rows_shown(matrix.shape[0], MAX_ROWS)
        columns = matrix_columns(matrix, fmt, rows)
        out += table_lines(fit_columns([index_column(rows)], columns, width))
    out += _variables(report, graph, width, fmt)
    return out


def _variables(report: Report, graph: list[dict[str, Any]], width: int, fmt: Format) -> list[Text]:
    """A row per variable: shape, the range of its value and of its gradient, its source."""
    if not graph:
        return []
    sources = _statements(report)
    names, shapes, value_ranges, grad_ranges, defined = [], [], [], [], []
    for node in graph:
        name = node["name"]
        names.append(name)
        shapes.append("×".join(map(str, node.get("shape", []))) or "()")
        value_ranges.append(_range(report, f"values.{name}", fmt))
        grad_ranges.append(_range(report, f"grads.{name}", fmt))
        defined.append("input" if node.get("op") == "input" else sources.get(name, ""))
    columns = [
        Column("variable", names, left=True),
        Column("shape", shapes, left=True),
        Column("value [min, max]", value_ranges, left=True),
        Column("∂L/∂· [min, max]", grad_ranges, left=True),
    ]
    with_source = [*columns, Column("defined as", defined, left=True)]
    if sum(c.width + 2 for c in with_source) - 2 <= width:
        return table_lines(with_source)
    program = str(report.inputs.get("program", ""))
    tail = wrap(f"program: {program}", width, indent="    ")
    if sum(c.width + 2 for c in columns) - 2 <= width:
        return table_lines(columns) + tail
    out: list[Text] = []  # too narrow for the columns: a record per variable, values whole
    for row in zip(names, shapes, value_ranges, grad_ranges, defined, strict=True):
        out += wrap(f"{row[0]}  ({row[1]})  {row[4]}".rstrip(), width, "    ", style="bold")
        out += wrap(f"  value [min, max]: {row[2]}", width, "    ")
        out += wrap(f"  ∂L/∂· [min, max]: {row[3]}", width, "    ")
    return out + tail


def _statements(report: Report) -> dict[str, str]:
    program = str(report.inputs.get("program", ""))
    found = {}
    for statement in program.replace("\n", ";").split(";"):
        name, sep, expression = statement.partition("=")
        if sep and name.strip().isidentifier():
            found[name.strip()] = expression.strip()
    return found


def _range(report: Report, quantity: str, fmt: Format) -> str:
    having = [r for r in report.results.values() if quantity in r.arrays]
    if not having:
        return ""
    array = np.asarray(report.results[shown_backend(report, quantity)].arrays[quantity])
    if array.size == 0:
        return "empty"
    if array.size == 1:
        return str(fmt(float(array.reshape(-1)[0])))
    # ±inf are part of the range (log at 0 reaches -inf); NaN has no place in it: counted
    nan = np.isnan(array)
    n_nan = int(np.count_nonzero(nan))
    ordered = array[~nan] if n_nan else array
    if not ordered.size:
        return "NaN"
    low, high = float(ordered.min()), float(ordered.max())
    text = fmt(low) if low == high else f"[{fmt(low)}, {fmt(high)}]"
    return f"{text}, {n_nan} NaN" if n_nan else text


def _check(report: Report, width: int, fmt: Format, failure: Failure) -> list[Text]:
    """The failing trial's input x (and the cotangent g of a VJP check, when given)."""
    trial = failure.trial or 0
    position = trial_position(report, trial)
    xs = report.inputs.get("x", [])
    if not isinstance(xs, list) or position >= len(xs):
        return []
    if isinstance(xs[position], dict):  # several named inputs
        out: list[Text] = []
        for name, value in xs[position].items():
            out += _input_block(f"{name} (trial {trial})", value, width, fmt)
        return out
    x = np.asarray(xs[position], dtype=np.float64)
    cotangents = report.extra.get("cotangents")
    g = None
    if isinstance(cotangents, list) and position < len(cotangents):
        g = np.asarray(cotangents[position], dtype=np.float64)
    if x.ndim == 1 and g is not None and g.shape == x.shape:  # one table, a row each
        names = Column(
            "", [f"x (trial {trial})", "g (the vector your VJP multiplies, gᵀJ)"], left=True
        )
        columns = [Column(str(j), [fmt(float(x[j])), fmt(float(g[j]))]) for j in range(x.size)]
        return table_lines(fit_columns([names], columns, width))
    if x.ndim == 1:  # one line, wrapped: the numbers to type into a test
        shown = ", ".join(fmt(float(v)) for v in x[:MAX_INLINE])
        more = f", … ({x.size} values)" if x.size > MAX_INLINE else ""
        out = wrap(f"x (trial {trial}) = [{shown}{more}]", width, indent="    ")
    else:
        out = _input_block(f"x (trial {trial})", x, width, fmt)
    if g is not None:
        out += _input_block(
            f"g (the vector your VJP multiplies, gᵀJ; trial {trial})", g, width, fmt
        )
    return out


def _input_block(name: str, array: Any, width: int, fmt: Format) -> list[Text]:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 0:
        return wrap(f"{name} = {fmt(float(array))}", width, indent="    ")
    if array.ndim == 1:
        return _row(name, array, width, fmt)
    return [Text(name, style="bold"), *_matrix("", array, width, fmt)]


def sections(report: Report, width: int, fmt: Format) -> list[Text]:
    """The problem's own sections, condensed: graph's paths; check's worst entries are
    already in the difference grid, and the graph text is in the variables table."""
    if report.command != "graph":
        return []
    out: list[Text] = []
    for name, path in (report.extra.get("paths") or {}).items():
        uses = path["uses"]
        if np.size(path["total"]) == 0:  # an empty variable's gradient has no first entry
            continue
        first = tuple([0] * np.ndim(path["total"]))
        at = f"[{','.join(map(str, first))}]" if first else ""
        shares = " + ".join(
            f"{fmt(float(np.asarray(use['grad'])[first]))} (via {use['statement']})" for use in uses
        )
        total = fmt(float(np.asarray(path["total"])[first]))
        text = f"{name}.grad sums its {len(uses)} uses: {name}.grad{at} = {shares} = {total}"
        out += wrap(text, width, indent="    ")
    return out
