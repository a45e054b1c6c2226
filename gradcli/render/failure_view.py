"""The first lines and the body of a failure in the answer-first view: what differs,
in how many entries and trials, the pattern, the worst entry; then the differing result
beside the expected one and the grid of `yours − expected` (`·` within tolerance)."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.text import Text

from gradcli.render import findings
from gradcli.render.findings import Failure, plural, split_trial
from gradcli.render.grid import (
    Column,
    as_matrix,
    fit_columns,
    index_column,
    lines,
    rows_shown,
    wrap,
)
from gradcli.render.view_parts import MAX_MATRIX_ROWS, beside, entry_name, label_of, matrix_lines
from gradcli.report import Report


def failure_head(report: Report, found: list[Failure], width: int) -> list[Text]:
    """The first lines of a failure: what differs, how much, the pattern, the worst entry."""
    out: list[Text] = []
    for n, f in enumerate(found):
        who = f"{f.odd} differs" if f.odd else f"{f.worst.backends[0]} and {f.expected} disagree"
        counts = f"in {f.n_out} of {f.size} entries"
        if f.n_trials > 1:
            counts += f", {len(f.trials_failed)} of {plural(f.n_trials, 'trial')}"
        if n:  # the first failure in full; the others on a line each
            out += wrap(f"  also {f.base}: {who} {counts}", width, indent="    ", style="red")
            continue
        out += wrap(f"DISAGREE: {f.base}: {who} {counts}", width, indent=" " * 12, style="bold red")
        agree = f"{' and '.join(f.agreeing)} agree" if f.odd and len(f.agreeing) > 1 else ""
        second = "; ".join(p for p in (f"pattern: {f.pattern}" if f.pattern else "", agree) if p)
        if second:
            out += wrap(f"  {second}", width, indent="    ")
        c = f.worst
        worst = f"  worst: {entry_name(report, c.quantity, c.worst_index)}: {c.backends[0]} "
        digits = next(
            (
                d
                for d in (6, 9, 12, 17)
                if f"{c.worst_values[0]:.{d}g}" != f"{c.worst_values[1]:.{d}g}"
            ),
            17,
        )
        worst += f"{c.worst_values[0]:.{digits}g}, {f.expected} {c.worst_values[1]:.{digits}g}, "
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


def failure_body(report: Report, f: Failure, width: int, fmt: Any) -> list[Text]:
    """The differing result beside the expected one, then yours − expected."""
    mine, expected = (as_matrix(a).astype(np.float64) for a in f.values(report))
    tol = f.worst.tolerance
    with np.errstate(all="ignore"):
        gap = mine - expected
    outside = findings.ratios(mine, expected, f.worst)[1]  # as many as the core counted
    trial = f" (trial {f.trial})" if f.trial is not None else ""
    label = label_of(report, f.base)

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
            *wrap(heading, width, "    ", style="bold"),
            *lines(fit_columns([labels], columns, width)),
            *wrap(f"  ({tolerance})", width, "    ", style="dim"),
        ]
    # the tables' own headers name both sides ("yours i\\j", "torch i\\j")
    focus = _as_matrix_index(f.worst.worst_index, np.shape(f.values(report)[0]))
    left = matrix_lines(mine, width, fmt, bad, header=f"{f.differing} i\\j", focus=focus)
    right = matrix_lines(expected, width, fmt, header=f"{f.expected} i\\j", focus=focus)
    out: list[Text] = beside(left, right, width) or [*left, *right]
    out += wrap(f"{f.differing} − expected  ({tolerance})", width, "    ")
    rows = rows_shown(gap.shape[0], MAX_MATRIX_ROWS, focus[0] if focus else None)
    columns = []
    for j in range(gap.shape[1]):
        cells = ["…" if i is None else (f"{gap[i, j]:.3g}" if outside[i, j] else "·") for i in rows]
        styles = ["" if i is None else bad(i, j) for i in rows]
        columns.append(Column(str(j), cells, styles=styles))
    out += lines(fit_columns([index_column(rows)], columns, width, focus[1] if focus else None))
    return out


def _as_matrix_index(index: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, int] | None:
    """Where an entry lands in the 2-D view (leading dimensions flattened into rows)."""
    if len(index) != len(shape) or len(shape) < 2:
        return None
    row = int(np.ravel_multi_index(index[:-1], shape[:-1]))
    return row, int(index[-1])


def failure_tail(report: Report, found: list[Failure], width: int, rerun: str | None) -> list[Text]:
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
