"""The answer-first view, gradcli's default output.

When the backends agree, each result is shown once (the most exact backend's numbers,
with the formula in its header), then a short verdict block: who agrees, the largest
difference with where and what was allowed there, the laws on one line, and what more
there is to see. When something differs, the first lines say so (which quantity, which
backend, how many entries and trials, the pattern, the worst entry against the
expected value); then the differing result beside the expected one, and a grid of
`yours − expected` with `·` where an entry is within tolerance. `--detail` is
:mod:`gradcli.render.table`. Every line fits `width`: matrices show fewer columns,
never clipped cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.text import Text

from gradcli.render import findings, inputs_view
from gradcli.render.blocks import formatter
from gradcli.render.findings import Failure, plural, ratio, split_trial
from gradcli.render.grid import (
    Column,
    as_matrix,
    fit_columns,
    index_column,
    lines,
    matrix_columns,
    rows_shown,
    wrap,
)
from gradcli.report import Report

MAX_MATRIX_ROWS = 6  # rows of a matrix in the default view: the first 4, "…", the last
MAX_VECTOR_ROWS = 12  # a vector shown as a column: longer ones as a row of columns
FORMULAS = {
    ("softmax", "jacobian"): "J_ij = s_i(δ_ij − s_j)",
    ("softmax", "softmax"): "s_i = exp(z_i/T) / Σ_k exp(z_k/T)",
}
SHORT = {("softmax", "jacobian"): "J", ("softmax", "softmax"): "s", ("check", "jacobian"): "J"}


def view_lines(
    report: Report, *, width: int = 80, precision: int = 6, rerun: str | None = None
) -> list[Text]:
    """Everything the default view prints, line by line."""
    fmt = formatter(precision)
    found = findings.failures(report)
    out: list[Text] = []
    if not report.ok:
        out += _failure_head(report, found, width)
    for title in report.title.splitlines():
        out += wrap(title, width, style="bold")
    out += inputs_view.lines(report, width, fmt, found)
    failing = {split_trial(f.worst.quantity)[1] for f in found}
    if found:
        for failure in found:
            out += _failure_body(report, failure, width, fmt)
    else:
        out += _results_once(report, width, fmt, skip=failing)
    out += inputs_view.sections(report, width, fmt)
    if report.explanation is not None:
        target = report.explanation.target
        heading = {
            "softmax": f"{target}, step by step",
            "check": f"{target}, trial by trial",
        }.get(report.command, f"Chain rule for {target}")
        out.append(Text(heading, style="bold"))
        for line in report.explanation.lines:
            out += wrap(line, width, indent="      ")
    for note in report.notes:
        if note in report.verdict.summary:
            continue  # said in the verdict already
        out += wrap("note: " + note, width, style="yellow")
    out += (
        _verdict_block(report, width) if report.ok else _failure_tail(report, found, width, rerun)
    )
    return out


def _label(report: Report, quantity: str) -> str:
    label = report.labels.get(quantity, quantity)
    formula = FORMULAS.get((report.command, quantity))
    temperature = report.inputs.get("temperature", 1.0) if report.command == "softmax" else 1
    if formula and quantity == "jacobian" and temperature != 1:
        formula = formula.replace("s_i(δ_ij − s_j)", "s_i(δ_ij − s_j)/T")
    return f"{label}: {formula}" if formula and formula not in label else label


def _shape(array: Any) -> str:
    return "×".join(map(str, np.shape(array))) or "scalar"


def _results_once(report: Report, width: int, fmt: Any, skip: set[str]) -> list[Text]:
    """Each quantity once, grouped: scalars on a line, vectors of one length in one
    table, matrices each in their own."""
    if report.command == "graph":
        return []  # the graph's inputs view shows gradients and a table of variables
    shapes: dict[str, tuple[int, ...]] = {}
    for result in report.results.values():
        for q, a in result.arrays.items():
            if split_trial(q)[1] not in skip:
                shapes.setdefault(q, a.shape)
    out: list[Text] = []
    scalars = [q for q, s in shapes.items() if len(s) == 0]
    if scalars:
        parts = [f"{_label(report, q)} = {fmt(float(_value(report, q)))}" for q in scalars]
        out += wrap(";  ".join(parts), width)
    groups: dict[int, list[str]] = {}
    for q, s in shapes.items():
        if len(s) == 1:
            groups.setdefault(s[0], []).append(q)
    vectors = [_vector_block(report, g, n, width, fmt) for n, g in groups.items()]
    matrices = [
        (Text(f"{_label(report, q)}   ({_shape(_value(report, q))})", style="bold"), q)
        for q, s in shapes.items()
        if len(s) >= 2
    ]
    if len(vectors) == 1 and len(matrices) == 1:  # softmax: s beside J, row i by row i
        title, q = matrices[0]
        beside = _beside(vectors[0], _matrix(as_matrix(_value(report, q)), width, fmt), width)
        if beside:
            pad = max(len(t.plain) for t in vectors[0]) + len(SEPARATOR)
            return [*out, Text(" " * pad) + title, *beside]
    for block in vectors:
        out += block
    for title, q in matrices:
        out.append(title)
        out += _matrix(as_matrix(_value(report, q)), width, fmt)
    return out


SEPARATOR = "  │  "


def _beside(left: list[Text], right: list[Text], width: int) -> list[Text] | None:
    """Two tables of the same rows side by side, if they fit in `width`."""
    if len(left) != len(right):
        return None
    pad = max(len(t.plain) for t in left)
    if pad + len(SEPARATOR) + max(len(t.plain) for t in right) > width:
        return None
    return [
        Text.assemble(a, " " * (pad - len(a.plain)), (SEPARATOR, "dim"), b)
        for a, b in zip(left, right, strict=True)
    ]


def _value(report: Report, quantity: str) -> Any:
    return report.results[findings.shown_backend(report, quantity)].arrays[quantity]


def _vector_block(
    report: Report, group: list[str], length: int, width: int, fmt: Any
) -> list[Text]:
    """Vectors of one length: as columns beside their index (and the inputs of that
    length) when short, else a row per quantity."""
    same_length = {
        k: v
        for k, v in report.inputs.items()
        if isinstance(v, np.ndarray) and v.shape == (length,) and report.command == "softmax"
    }
    if length <= MAX_VECTOR_ROWS and len(group) == 1:
        rows = list(range(length))
        columns = [index_column(rows, "i")]
        columns += [
            Column(f"{k}_i", [fmt(float(v[i])) for i in rows]) for k, v in same_length.items()
        ]
        q = group[0]
        values = np.asarray(_value(report, q))
        name = SHORT.get((report.command, q))
        header = f"{name}_i" if name else _label(report, q)
        columns.append(Column(header, [fmt(float(values[i])) for i in rows]))
        if columns[-1].width + sum(c.width + 2 for c in columns[:-1]) <= width:
            return lines(columns)
    labels = [*same_length, *(SHORT.get((report.command, q)) or _label(report, q) for q in group)]
    label_column = Column("", labels, left=True)
    data = np.stack(
        [np.asarray(v, dtype=np.float64) for v in same_length.values()]
        + [np.asarray(_value(report, q), dtype=np.float64) for q in group]
    )
    columns = [
        Column(str(j), [fmt(float(data[r, j])) for r in range(len(labels))]) for j in range(length)
    ]
    return lines(fit_columns([label_column], columns, width))


def _matrix(
    matrix: Any,
    width: int,
    fmt: Any,
    style: Any = None,
    limit: int = MAX_MATRIX_ROWS,
    header: str = "i\\j",
) -> list[Text]:
    rows = rows_shown(matrix.shape[0], limit)
    columns = matrix_columns(matrix, fmt, rows, style)
    return lines(fit_columns([index_column(rows, header)], columns, width))


def headline(report: Report, width: int = 80) -> list[str]:
    """The verdict in a few plain lines: the first lines of a failure, or the OK block."""
    if report.ok:
        return [t.plain for t in _verdict_block(report, width)[:2]]
    return [t.plain for t in _failure_head(report, findings.failures(report), width)]


def _verdict_block(report: Report, width: int) -> list[Text]:
    out = wrap(report.verdict.summary, width, style="bold green")
    closest = findings.closest_pair(report)
    if closest is not None and ratio(closest) == 0:
        out += wrap("  every difference is exactly 0", width)
    elif closest is not None:
        a, ref = closest.backends
        where = _entry(report, closest.quantity, closest.worst_index)
        out += wrap(
            f"  largest difference {abs(closest.worst_values[0] - closest.worst_values[1]):.3g} "
            f"at {where} ({a} vs {ref}), allowed {closest.allowed:.3g}",
            width,
        )
    out += _references(report, width)
    if report.laws:
        names = list(dict.fromkeys(law.law for law in report.laws))
        out += wrap("  laws hold on every backend: " + " · ".join(names), width, "    ")
    more = ["--detail", "--heatmap", "--plot FILE.png", _explain_hint(report)]
    out += wrap("  more: " + " · ".join(m for m in more if m), width, "    ", style="dim")
    return out


def _references(report: Report, width: int) -> list[Text]:
    """Which numerical references ran, how, and how precise they were."""
    parts = []
    for ref in getattr(report, "references", ()):
        columns = ", ".join(f"{method} {n}" for method, n in ref.columns.items())
        name = SHORT.get((report.command, ref.quantity), ref.quantity)
        how = f"{ref.method} ({columns})" if columns else ref.method
        parts.append(f"{ref.backend} for {name}: {how}, error ≤ {ref.max_error:.2g}")
    if not parts:
        return []
    return wrap("  references: " + "; ".join(parts), width, "    ")


def _explain_hint(report: Report) -> str:
    hints = {
        "softmax": "--explain 'J[0,1]'",
        "layer": "--explain 'W[0,0]'",
        "graph": f"--explain {_first_input(report)}",
        "check": "--explain 'J[i,j]'",
    }
    return hints.get(report.command, "")


def _first_input(report: Report) -> str:
    graph = report.extra.get("graph", [])
    return next((node["name"] for node in graph if node.get("op") == "input"), "NAME")


def _entry(report: Report, quantity: str, index: tuple[int, ...]) -> str:
    trial, base = split_trial(quantity)
    kind, _, variable = base.partition(".")
    if report.command == "graph" and variable:
        base = f"{variable}.grad" if kind == "grads" else variable
    name = SHORT.get((report.command, base), base)
    where = f"{name}[{','.join(map(str, index))}]" if index else name
    return f"{where} in trial {trial}" if trial is not None else where


def _failure_head(report: Report, found: list[Failure], width: int) -> list[Text]:
    """The first lines of a failure: what differs, how much, the pattern, the worst entry."""
    out: list[Text] = []
    for n, f in enumerate(found):
        who = f"{f.odd} differs" if f.odd else f"{f.worst.backends[0]} and {f.expected} disagree"
        counts = f"in {f.n_out} of {f.size} entries"
        if f.n_trials > 1:
            counts += f", {len(f.trials_failed)} of {plural(f.n_trials, 'trial')}"
        prefix = "DISAGREE: " if n == 0 else "          "
        out += wrap(f"{prefix}{f.base}: {who} {counts}", width, indent=" " * 12, style="bold red")
        agree = f"{' and '.join(f.agreeing)} agree" if f.odd and len(f.agreeing) > 1 else ""
        second = "; ".join(p for p in (f"pattern: {f.pattern}" if f.pattern else "", agree) if p)
        if second:
            out += wrap(f"  {second}", width, indent="    ")
        c = f.worst
        worst = f"  worst: {_entry(report, c.quantity, c.worst_index)}: {c.backends[0]} "
        worst += f"{c.worst_values[0]:.6g}, {f.expected} {c.worst_values[1]:.6g}, "
        worst += f"allowed ±{c.allowed:.2g}"
        out += wrap(worst, width, indent=" " * 9)
    listed = {f.base for f in found}
    for detail in report.verdict.details:
        head = split_trial(detail.partition(": ")[0])[1]
        if head not in listed and not out:
            out += wrap("DISAGREE: " + detail, width, indent="    ", style="bold red")
        elif head not in listed and (detail.startswith("law") or "not finite" in detail):
            out += wrap("  " + detail, width, indent="    ", style="red")
    return out


def _failure_body(report: Report, f: Failure, width: int, fmt: Any) -> list[Text]:
    """The differing result beside the expected one, then yours − expected."""
    mine, expected = (as_matrix(a).astype(np.float64) for a in f.values(report))
    tol = f.worst.tolerance
    with np.errstate(all="ignore"):
        gap = mine - expected
    outside = findings.ratios(mine, expected, f.worst)[1]  # as many as the core counted
    trial = f" (trial {f.trial})" if f.trial is not None else ""
    label = _label(report, f.base)

    def bad(i: int, j: int) -> str:
        return "bold red" if outside[i, j] else ""

    tolerance = f"· within ±{tol.atol:.2g} + {tol.rtol:.2g}·|expected|"
    if np.ndim(f.values(report)[0]) <= 1:  # a vector: three rows of one table
        heading = f"{label}{trial}: {f.differing}, expected ({f.expected}), the difference"
        labels = Column("", [f.differing, f.expected, "difference"], left=True)
        columns = [
            Column(
                str(j),
                [
                    fmt(mine[0, j]),
                    fmt(expected[0, j]),
                    f"{gap[0, j]:.3g}" if outside[0, j] else "·",
                ],
                styles=[bad(0, j), "", bad(0, j)],
            )
            for j in range(mine.shape[1])
        ]
        return [
            Text(heading, style="bold"),
            *lines(fit_columns([labels], columns, width)),
            Text(f"  ({tolerance})", style="dim"),
        ]
    # the tables' own headers name both sides ("yours i\\j", "torch i\\j")
    left = _matrix(mine, width, fmt, bad, header=f"{f.differing} i\\j")
    right = _matrix(expected, width, fmt, header=f"{f.expected} i\\j")
    out: list[Text] = _beside(left, right, width) or [*left, *right]
    out.append(Text(f"{f.differing} − expected  ({tolerance})"))
    rows = rows_shown(gap.shape[0], MAX_MATRIX_ROWS)
    columns = []
    for j in range(gap.shape[1]):
        cells = ["…" if i is None else (f"{gap[i, j]:.3g}" if outside[i, j] else "·") for i in rows]
        styles = ["" if i is None else bad(i, j) for i in rows]
        columns.append(Column(str(j), cells, styles=styles))
    out += lines(fit_columns([index_column(rows)], columns, width))
    return out


def _failure_tail(
    report: Report, found: list[Failure], width: int, rerun: str | None
) -> list[Text]:
    out: list[Text] = []
    if not found:
        return wrap(report.verdict.summary, width, style="bold red")
    trial = found[0].trial
    if rerun and trial is not None and found[0].n_trials > 1:
        out += wrap(f"rerun this trial: {rerun} --trial {trial}", width, "    ")
    out += wrap(
        "more: --detail (every backend, pair and tolerance) · --plot FILE.png", width, "    "
    )
    return out


def closest_ratio(report: Report) -> float:
    c = findings.closest_pair(report)
    return ratio(c) if c is not None else 0.0
