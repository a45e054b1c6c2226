"""--detail's tables of what each backend computed: scalars in one table, vectors side by
side (several of one length as rows), matrices as a block of rows per backend; large
ones show a corner. The worst element of each quantity is marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from rich.text import Text

from gradcli import verdicts
from gradcli.render.blocks import Format, Titled, cell, titled_table
from gradcli.report import Array, Comparison, Report

MAX_VECTOR_ROWS = 20  # longer vectors: the first VECTOR_HEAD rows, "…", the last one
VECTOR_HEAD = 10
MATRIX_CORNER = 6  # larger matrices and rows of vectors: the first 6 rows and columns


def label_for(report: Report, quantity: str) -> str:
    from gradcli.render.view_parts import label_of

    return label_of(report, quantity)


def split_by_rank(report: Report) -> tuple[list[str], list[list[str]], list[str]]:
    """Scalars, vectors grouped by length, and matrices, in the order of the results
    (a quantity that some backends lack, as fd's gradients of intermediates, too)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for result in report.results.values():
        for q, a in result.arrays.items():
            shapes.setdefault(q, a.shape)
    scalars = [q for q, s in shapes.items() if len(s) == 0]
    groups: dict[int, list[str]] = {}
    for q, s in shapes.items():
        if len(s) == 1:
            groups.setdefault(s[0], []).append(q)
    matrices = [q for q, s in shapes.items() if len(s) >= 2]
    return scalars, list(groups.values()), matrices


def arrays_of(report: Report, quantity: str) -> list[tuple[str, Array]]:
    """(backend, array) for the backends that computed `quantity`."""
    return [(n, r.arrays[quantity]) for n, r in report.results.items() if quantity in r.arrays]


def scalar_table(report: Report, quantities: list[str], fmt: Format) -> Titled:
    table = titled_table("Scalars")
    table.add_column("quantity")
    for name in report.results:
        table.add_column(name, justify="right")
    for q in quantities:
        cells = [fmt(float(r.arrays[q])) if q in r.arrays else "—" for r in report.results.values()]
        table.add_row(label_for(report, q), *cells)
    return table


def vectors_by_row(
    report: Report,
    quantities: list[str],
    worst: Mapping[str, tuple[tuple[int, ...], bool]],
    fmt: Format,
) -> Titled:
    """Several vectors of one length: a row per quantity and backend, a column per index."""
    length = arrays_of(report, quantities[0])[0][1].size
    shown = columns_shown(length)
    table = titled_table(f"Vectors of length {length}")
    table.droppable_from = 2  # the entries give way to a narrow terminal, not the names
    table.add_column("quantity")
    table.add_column("backend")
    for j in shown:
        table.add_column("…" if j is None else str(j), justify="right")
    for q in quantities:
        index, failed = worst.get(q, ((), False))
        having = arrays_of(report, q)
        for n, (name, array) in enumerate(having):
            vector = array.reshape(-1)
            cells: list[Text | str] = [label_for(report, q) if n == 0 else "", name]
            cells += [
                "…" if j is None else cell(float(vector[j]), index == (j,), failed, fmt)
                for j in shown
            ]
            table.add_row(*cells, end_section=n == len(having) - 1)
    if None in shown:
        table.note = f"showing {len(shown) - 1} of {length} entries; all with --json or --save"
    return table


def columns_shown(n: int) -> list[int | None]:
    if n <= MATRIX_CORNER + 1:
        return list(range(n))
    return [*range(MATRIX_CORNER), None]


def worst_elements(comparisons: Sequence[Comparison]) -> dict[str, tuple[tuple[int, ...], bool]]:
    """Per quantity, the element to mark, and whether its pair failed."""
    marks = {}
    for quantity in dict.fromkeys(c.quantity for c in comparisons):
        worst = verdicts.worst([c for c in comparisons if c.quantity == quantity])
        if worst is not None:
            marks[quantity] = (worst.worst_index, not worst.ok)
    return marks


def rows_shown(n: int) -> list[int | None]:
    """Indices to show of n rows; None marks the "…" row."""
    if n <= MAX_VECTOR_ROWS:
        return list(range(n))
    return [*range(VECTOR_HEAD), None, n - 1]


def vector_table(
    report: Report,
    quantities: list[str],
    worst: Mapping[str, tuple[tuple[int, ...], bool]],
    fmt: Format,
) -> Titled:
    length = arrays_of(report, quantities[0])[0][1].size
    inputs = {
        k: v for k, v in report.inputs.items() if isinstance(v, np.ndarray) and v.shape == (length,)
    }
    table = titled_table(", ".join(label_for(report, q) for q in quantities))
    table.add_column("i", justify="right", style="dim")
    for key in inputs:
        table.add_column(f"{key}_i", justify="right")
    for q in quantities:
        for name, _ in arrays_of(report, q):
            table.add_column(f"{q}\n{name}" if len(quantities) > 1 else name, justify="right")
    for i in rows_shown(length):
        if i is None:
            n_columns = len(inputs) + sum(len(arrays_of(report, q)) for q in quantities)
            table.add_row("…", *["…"] * n_columns)
            continue
        cells: list[Text | str] = [str(i)]
        cells += [fmt(float(v[i])) for v in inputs.values()]
        for q in quantities:
            index, failed = worst.get(q, ((), False))
            for _, array in arrays_of(report, q):
                value = float(array.reshape(-1)[i])
                cells.append(cell(value, index == (i,), failed, fmt))
        table.add_row(*cells)
    if length > MAX_VECTOR_ROWS:
        table.note = f"showing {VECTOR_HEAD + 1} of {length} rows; all with --json or --save"
    return table


def matrix_table(
    report: Report,
    quantity: str,
    worst: Mapping[str, tuple[tuple[int, ...], bool]],
    fmt: Format,
) -> Titled:
    """One matrix quantity: a block of rows per backend, the top-left corner if large."""
    full_shape = arrays_of(report, quantity)[0][1].shape
    having = [
        (n, a.reshape(a.size // max(a.shape[-1], 1), a.shape[-1]))
        for n, a in arrays_of(report, quantity)
    ]
    rows, cols = having[0][1].shape
    row_ids, col_ids = columns_shown(rows), columns_shown(cols)
    index, failed = worst.get(quantity, ((), False))
    table = titled_table(label_for(report, quantity))
    table.droppable_from = 2  # the columns give way to a narrow terminal, not the cells
    table.add_column("backend")
    table.add_column("i\\j", justify="right", style="dim")
    for j in col_ids:
        table.add_column("…" if j is None else str(j), justify="right")
    for name, matrix in having:
        for n, i in enumerate(row_ids):
            label = name if n == 0 else ""
            if i is None:
                table.add_row(label, "…", *["…"] * len(col_ids))
                continue
            cells: list[Text | str] = [label, str(i)]
            cells += [
                "…" if j is None else cell(float(matrix[i, j]), index == (i, j), failed, fmt)
                for j in col_ids
            ]
            table.add_row(*cells)
        table.add_section()
    if None in row_ids or None in col_ids:
        shown_rows = len(row_ids) - (None in row_ids)
        shown_cols = len(col_ids) - (None in col_ids)
        table.note = (
            f"showing the {shown_rows}×{shown_cols} corner of {rows}×{cols}; "
            "all with --json or --save"
        )
    if len(full_shape) > 2:
        flattened = f"shape {full_shape}, its leading dims flattened into rows"
        table.note = f"{flattened}; {table.note}" if table.note else flattened
    return table
