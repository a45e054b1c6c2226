"""--heatmap: Jacobians, gradients and differences as grids in the terminal.

Each cell is two characters: the sign (+ or −) and a shade (░▒▓█) for the magnitude
on a log scale over DECADES decades below the largest |value|, so the picture survives
NO_COLOR and pipes; on a colour terminal positive is blue and negative red. The
difference grid shades |a − ref| against the allowed error: "··" within tolerance, red
shades for the decades beyond it. The worst element keeps its own cell, underlined, and
is named in a line under the quantity's title (not when every difference is 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rich.table import Table
from rich.text import Text

from gradcli import verdicts
from gradcli.render.blocks import Prose
from gradcli.render.findings import told_apart
from gradcli.render.view_parts import label_of
from gradcli.report import Array, Comparison, Report

SHADES = "░▒▓█"
DECADES = 6
MAX_CELLS = 32  # rows and columns shown; larger arrays show their top-left corner


def renderables(report: Report, only: Sequence[str] | None = None) -> list[Any]:
    """A grid per backend, then one of |difference|, for each array quantity (of `only`)."""
    out: list[Any] = []
    quantities = dict.fromkeys(
        q
        for r in report.results.values()
        for q, a in r.arrays.items()
        if a.ndim and a.size and (only is None or q in only)
    )
    for quantity in quantities:
        worst = verdicts.worst([c for c in report.comparisons if c.quantity == quantity])
        # no worst element to point at when every difference is 0
        marked = worst.worst_index if worst is not None and worst.max_abs_error > 0 else None
        grids = [
            (name, _sign_grid(result.arrays[quantity], marked))
            for name, result in report.results.items()
            if quantity in result.arrays
        ]
        if worst is not None:
            a, ref = (report.results[n].arrays[quantity] for n in worst.backends)
            title = f"|{worst.backends[0]} − {worst.backends[1]}|"
            grids.append((title, _difference_grid(a, ref, worst, marked)))
        label = label_of(report, quantity)
        out.append(Text(f"{label}  {_shape(report, quantity)}", style="bold"))
        if worst is not None and marked is not None:
            a_value, ref_value = told_apart(*worst.worst_values)
            out.append(
                Text(
                    f"worst element (underlined): [{', '.join(map(str, marked))}], "
                    f"{worst.backends[0]} {a_value} vs {worst.backends[1]} {ref_value}",
                    style="dim",
                )
            )
        layout = Table.grid(padding=(0, 2))
        for _ in grids:
            layout.add_column()
        layout.add_row(*(Text(title, style="dim") for title, _ in grids))
        layout.add_row(*(grid for _, grid in grids))
        out.append(layout)
    legend = (
        f"cells: sign (+ −) and |value| in {DECADES} decades below the largest (░▒▓█); "
        "differences: ·· within tolerance, red beyond it; the worst element underlined"
    )
    out.append(Prose(legend, "dim"))
    return out


def _shape(report: Report, quantity: str) -> str:
    shape = next(r.arrays[quantity].shape for r in report.results.values() if quantity in r.arrays)
    shown = " (top-left corner)" if any(n > MAX_CELLS for n in shape[-2:]) else ""
    return "×".join(map(str, shape)) + shown


def _as_matrix(array: Array) -> Array:
    matrix = np.asarray(array, dtype=np.float64)
    matrix = matrix.reshape(1, -1) if matrix.ndim == 1 else matrix.reshape(-1, matrix.shape[-1])
    return matrix[:MAX_CELLS, :MAX_CELLS]


def _marked(index: tuple[int, ...] | None, i: int, j: int, ndim: int) -> bool:
    if index is None:
        return False
    return (index[-1] == j and i == 0) if ndim == 1 else tuple(index[-2:]) == (i, j)


def _sign_grid(array: Array, index: tuple[int, ...] | None) -> Text:
    matrix = _as_matrix(array)
    finite = np.abs(matrix[np.isfinite(matrix)])
    top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    text = Text()
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            mark = " underline bold" if _marked(index, i, j, np.ndim(array)) else ""
            if not np.isfinite(value):
                text.append("!!", style="bold magenta" + mark)
            elif value == 0:
                text.append(" ·", style="dim" + mark)
            else:
                shade = _shade(abs(value) / top)
                text.append(
                    ("+" if value > 0 else "−") + shade,
                    style=("blue" if value > 0 else "red") + mark,
                )
        text.append("\n")
    text.rstrip()
    return text


def _difference_grid(
    a: Array, ref: Array, comparison: Comparison, index: tuple[int, ...] | None
) -> Text:
    from gradcli.render.findings import ratios

    over = _as_matrix(ratios(a, ref, comparison)[0])
    text = Text()
    for i, row in enumerate(over):
        for j, ratio in enumerate(row):
            mark = " underline bold" if _marked(index, i, j, np.ndim(a)) else ""
            if not np.isfinite(ratio):
                text.append("!!", style="bold magenta" + mark)
            elif ratio <= 1:
                text.append("··", style="green" + mark)
            else:
                level = min(1.0, float(np.log10(ratio)) / DECADES)
                text.append(_shade(level, linear=True) * 2, style="red" + mark)
        text.append("\n")
    text.rstrip()
    return text


def _shade(fraction: float, *, linear: bool = False) -> str:
    """A shade for a magnitude: log scale over DECADES decades (linear: fraction as is)."""
    level = fraction if linear else 1 + np.log10(max(fraction, 10.0**-DECADES)) / DECADES
    return SHADES[min(len(SHADES) - 1, max(0, int(level * len(SHADES) - 1e-9)))]
