"""Numbers laid out in columns that fit the terminal: a matrix shows fewer columns (the
first ones, "…", the last) rather than clipping a cell; long vectors and tall matrices
show their first rows, "…" and the last. Every line is a rich Text no wider than `width`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
from rich.text import Text

from gradcli.report import Array

GAP = 2  # spaces between columns
ELLIPSIS = "…"


@dataclass(frozen=True)
class Column:
    """One column of a table: a header and its cells (already formatted), right-aligned
    unless `left`. `styles` colours cells (same length as cells, "" for none)."""

    header: str
    cells: Sequence[str]
    left: bool = False
    styles: Sequence[str] = ()

    @property
    def width(self) -> int:
        return max([len(self.header), *(len(c) for c in self.cells)])


class LazyColumns(Sequence[Column]):
    """n columns, each built (formatted) only when `fit_columns` looks at it: a 4096-wide
    Jacobian shows about six columns at 80, and formatting all 4096 took 0.1 s of an
    n = 4096 run (measured)."""

    def __init__(self, n: int, build: Callable[[int], Column]) -> None:
        self._n = n
        self._build = build
        self._built: dict[int, Column] = {}

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> Column: ...
    @overload
    def __getitem__(self, index: slice) -> list[Column]: ...
    def __getitem__(self, index: int | slice) -> Column | list[Column]:
        if isinstance(index, slice):
            return [self[j] for j in range(*index.indices(self._n))]
        j = index + self._n if index < 0 else index
        if not 0 <= j < self._n:
            raise IndexError(index)
        if j not in self._built:
            self._built[j] = self._build(j)
        return self._built[j]


def rows_shown(n: int, limit: int, focus: int | None = None) -> list[int | None]:
    """Indices of n rows to show at most `limit` lines; None is the "…" row. The `focus`
    row (a failure's worst entry) is always among them."""
    if n <= limit:
        return list(range(n))
    default: list[int | None] = [*range(max(1, limit - 2)), None, n - 1]
    if focus is None or focus in default:
        return default
    if focus == n - 2:
        return [*range(max(1, limit - 3)), None, focus, n - 1]
    return [*range(max(1, limit - 4)), None, focus, None, n - 1]


def fit_columns(
    fixed: Sequence[Column], columns: Sequence[Column], width: int, focus: int | None = None
) -> list[Column]:
    """`fixed` and as many of `columns` as fit in `width`: the first ones, a "…" column
    and the last one, so that no cell is ever clipped; the `focus` column (a failure's
    worst entry) is always among them."""
    used = sum(c.width + GAP for c in fixed)
    total = used - GAP
    for column in columns:  # stops at the first column that does not fit (LazyColumns)
        total += column.width + GAP
        if total > width:
            break
    else:
        return [*fixed, *columns]
    tail = columns[-1]
    rows = len(tail.cells)
    dots = Column(ELLIPSIS, [ELLIPSIS] * rows)
    budget = width - used - (tail.width + GAP) - (dots.width + GAP) + GAP
    head: list[Column] = []
    for j in range(len(columns) - 1):
        column = columns[j]
        if column.width + GAP > budget:
            break
        head.append(column)
        budget -= column.width + GAP
    if focus is None or focus >= len(columns) - 1 or focus < len(head):
        return [*fixed, *head, dots, tail]
    wanted = columns[focus]
    between = [] if focus == len(columns) - 2 else [dots]
    need = wanted.width + GAP + sum(c.width + GAP for c in between)
    while head and budget < need:
        budget += head.pop().width + GAP
    return [*fixed, *head, dots, wanted, *between, tail]


def lines(columns: Sequence[Column], indent: int = 0) -> list[Text]:
    """The table's lines: a header line, then a line per row."""
    widths = [c.width for c in columns]
    out = []
    header = Text(" " * indent)
    for n, (c, w) in enumerate(zip(columns, widths, strict=True)):
        header.append(
            (" " * GAP if n else "") + (c.header.ljust(w) if c.left else c.header.rjust(w))
        )
    out.append(Text(header.plain.rstrip(), style="dim"))
    n_rows = max((len(c.cells) for c in columns), default=0)
    for r in range(n_rows):
        line = Text(" " * indent)
        for n, (c, w) in enumerate(zip(columns, widths, strict=True)):
            text = c.cells[r] if r < len(c.cells) else ""
            style = c.styles[r] if r < len(c.styles) else ""
            line.append(" " * GAP if n else "")
            line.append(text.ljust(w) if c.left else text.rjust(w), style=style)
        line.rstrip()
        out.append(line)
    return out


def matrix_columns(
    matrix: Array,
    fmt: Callable[[float], str],
    rows: Sequence[int | None],
    style: Callable[[int, int], str] | None = None,
) -> Sequence[Column]:
    """A column per j of a 2-D array, for the rows shown (each formatted when looked at)."""

    def column(j: int) -> Column:
        cells = [ELLIPSIS if i is None else fmt(float(matrix[i, j])) for i in rows]
        styles = ["" if i is None or style is None else style(i, j) for i in rows]
        return Column(str(j), cells, styles=styles)

    return LazyColumns(matrix.shape[1], column)


def index_column(rows: Sequence[int | None], header: str = "i\\j") -> Column:
    return Column(header, [ELLIPSIS if i is None else str(i) for i in rows])


def as_matrix(array: Array) -> Array:
    """A 2-D view: a vector as one row, leading dimensions flattened into rows."""
    matrix = np.asarray(array)
    if matrix.ndim == 0:
        return matrix.reshape(1, 1)
    if matrix.size == 0:  # an empty tensor: no rows (or no columns) to show
        rows = int(np.prod(matrix.shape[:-1])) if matrix.ndim > 1 else 1
        return np.zeros((rows, matrix.shape[-1]), dtype=matrix.dtype)
    return matrix.reshape(1, -1) if matrix.ndim == 1 else matrix.reshape(-1, matrix.shape[-1])


def wrap(text: str, width: int, indent: str = "  ", style: str = "") -> list[Text]:
    """A line of prose wrapped to `width`, continuation lines indented."""
    import textwrap

    pieces = textwrap.wrap(text, width=width, subsequent_indent=indent, break_on_hyphens=False) or [
        ""
    ]
    return [Text(piece, style=style) for piece in pieces]
