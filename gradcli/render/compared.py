"""The differing result against the expected one, and `yours − expected`, as tables a
reader can compare entry by entry at any width.

Small results stand side by side. When they do not fit, the three tables stand one
above the other on the same columns, each column as wide in all three, so that an
entry of yours sits straight above the expected one and its difference; a wide matrix
shows the same fewer columns in all three (the worst entry's column always among them)
and says which it left out; a tall one shows the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rich.text import Text

from gradcli.render.grid import ELLIPSIS, Column, fit_columns, lines, rows_shown, wrap
from gradcli.render.view_parts import MAX_MATRIX_ROWS, beside
from gradcli.report import Array

DOT = "·"  # an entry within tolerance in the grid of differences


@dataclass(frozen=True)
class Sides:
    """The two results of a failure as (m, n) float64 views, and the core's mask of the
    entries out of tolerance (same shape)."""

    mine: Array
    expected: Array
    outside: Array
    differing: str  # the backend that differs ("yours")
    reference: str  # the backend shown as expected ("torch")


def gap_cell(sides: Sides, i: int, j: int) -> str:
    """yours − expected where out of tolerance, `·` where within."""
    if not sides.outside[i, j]:
        return DOT
    with np.errstate(all="ignore"):
        gap = float(sides.mine[i, j] - sides.expected[i, j])
    return f"{gap:.3g}" if gap == gap else "nan"


def vector_lines(
    sides: Sides, width: int, fmt: Callable[[float], str], focus: int | None
) -> list[Text]:
    """A vector: one table of three rows (yours, expected, the difference) on the same
    columns, the worst entry's column always shown."""
    labels = Column("", [sides.differing, sides.reference, "difference"], left=True)
    columns = []
    for j in range(sides.mine.shape[1]):
        bad = "bold red" if sides.outside[0, j] else ""
        cells = [
            fmt(float(sides.mine[0, j])),
            fmt(float(sides.expected[0, j])),
            gap_cell(sides, 0, j),
        ]
        columns.append(Column(str(j), cells, styles=[bad, "", bad]))
    fitted = fit_columns([labels], columns, width, focus)
    return [*lines(fitted), *_left_out_note(fitted[1:], len(columns), width)]


def matrix_lines(
    sides: Sides,
    width: int,
    fmt: Callable[[float], str],
    focus: tuple[int, int] | None,
    caption: str,
) -> list[Text]:
    """Yours beside the expected matrix when both fit whole, else the two one above the
    other on the same columns; then `caption` and the grid of differences, on the same
    columns and rows."""
    rows = rows_shown(sides.mine.shape[0], MAX_MATRIX_ROWS, focus[0] if focus else None)
    n = sides.mine.shape[1]
    mine = _by_column(rows, n, lambda i, j: fmt(float(sides.mine[i, j])))
    expected = _by_column(rows, n, lambda i, j: fmt(float(sides.expected[i, j])))
    gaps = _by_column(rows, n, lambda i, j: gap_cell(sides, i, j))
    index = [ELLIPSIS if i is None else str(i) for i in rows]
    heads = (f"{sides.differing} i\\j", f"{sides.reference} i\\j", "i\\j")

    def bad(i: int | None, j: int) -> str:
        return "bold red" if i is not None and sides.outside[i, j] else ""

    marks = [[bad(i, j) for i in rows] for j in range(n)]
    grid_of = (mine, expected, gaps)
    side = [_table(heads[k], index, grid_of[k], None, marks if k != 1 else None) for k in (0, 1)]
    whole = beside(side[0], side[1], width)
    if whole is not None:  # both whole, side by side: the grid below on its own columns
        grid = _table(heads[2], index, gaps, None, marks)
        if max(len(t.plain) for t in grid) <= width:
            return [*whole, *wrap(caption, width, "    "), *grid]
    widths = [
        max(len(str(j)), *(len(c) for c in (*mine[j], *expected[j], *gaps[j]))) for j in range(n)
    ]
    index_width = max(len(h) for h in (*heads, *index))
    template = [Column(str(j), ["0" * w]) for j, w in enumerate(widths)]
    fitted = fit_columns(
        [Column("", ["0" * index_width])], template, width, focus[1] if focus else None
    )
    shown = [None if c.header == ELLIPSIS else int(c.header) for c in fitted[1:]]
    out: list[Text] = []
    for k in range(3):
        if k == 2:
            out += wrap(caption, width, "    ")
        out += _table(
            heads[k].rjust(index_width),
            [c.rjust(index_width) for c in index],
            grid_of[k],
            [(j, widths[j]) if j is not None else None for j in shown],
            marks if k != 1 else None,
        )
    return [*out, *_left_out_note(fitted[1:], n, width)]


def _by_column(
    rows: Sequence[int | None], n: int, cell: Callable[[int, int], str]
) -> list[list[str]]:
    """The cells of the rows shown, column by column ("…" for a left-out row)."""
    return [[ELLIPSIS if i is None else cell(i, j) for i in rows] for j in range(n)]


def _table(
    head: str,
    index: list[str],
    grid: list[list[str]],
    shown: list[tuple[int, int] | None] | None,
    marks: list[list[str]] | None,
) -> list[Text]:
    """One table: the index column, then the columns `shown` ((j, width) or None for
    "…"), every column when `shown` is None."""
    picked = [(j, 0) for j in range(len(grid))] if shown is None else shown
    columns = [Column(head, index)]
    for entry in picked:
        if entry is None:
            columns.append(Column(ELLIPSIS, [ELLIPSIS] * len(index)))
            continue
        j, w = entry
        styles = marks[j] if marks else ()
        columns.append(Column(str(j).rjust(w), [c.rjust(w) for c in grid[j]], styles=styles))
    return lines(columns)


def _left_out_note(fitted: Sequence[Column], n: int, width: int) -> list[Text]:
    """ "columns 4–9 of 12 left out at this width", when some were."""
    shown = {int(c.header) for c in fitted if c.header.strip() != ELLIPSIS}
    missing = [j for j in range(n) if j not in shown]
    if not missing:
        return []
    spans: list[list[int]] = []
    for j in missing:
        if spans and spans[-1][1] == j - 1:
            spans[-1][1] = j
        else:
            spans.append([j, j])
    words = ", ".join(f"{a}–{b}" if b > a else str(a) for a, b in spans)
    noun = "column" if len(missing) == 1 else "columns"
    text = f"({noun} {words} of {n} left out at this width)"
    return wrap(text, width, "    ", style="dim")
