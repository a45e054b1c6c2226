"""Rich tables for people: the report laid out, and the tables of its values. Only the
render package imports rich (here, in checks.py, blocks.py and heatmap.py).

Colour and terminal detection are rich's (it honours NO_COLOR and colours only a
terminal). Large arrays are shown as a corner with their size, never thousands of rows.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from rich.console import Console, Group
from rich.text import Text

from gradcli import verdicts
from gradcli.render import checks
from gradcli.render.blocks import Format, Titled, cell, formatter, titled_table
from gradcli.report import Array, Comparison, Report

MAX_VECTOR_ROWS = 20  # longer vectors: the first VECTOR_HEAD rows, "…", the last one
VECTOR_HEAD = 10
MATRIX_CORNER = 6  # larger matrices and rows of vectors: the first 6 rows and columns


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # rich would exit with status 1 ("disagree"); let the CLI end it as a pipe tool does.
        self.quiet = True
        raise BrokenPipeError


def print_report(report: Report, *, precision: int = 6, heatmap: bool = False) -> None:
    """Print `report` to stdout: --detail; with `heatmap`, the default view drawn as
    grids (the same verdict and worst entry, the quantities it shows, as grids)."""
    console = _Console(highlight=False)
    if heatmap:
        for item in heatmap_view(report, console.width):
            console.print(item)
        return
    _render(console, report, precision)


def heatmap_view(report: Report, width: int) -> list[Any]:
    """--heatmap: the default view's verdict, title and tail around grids of what the
    default view shows (a failure's worst trials; on a pass, the first trial)."""
    from gradcli.render import findings
    from gradcli.render import heatmap as grids
    from gradcli.render.view import headline_lines, tail_lines

    found = findings.failures(report)
    if found:
        shown = [f.worst.quantity for f in found]
    else:
        trials = [t for c in report.comparisons if (t := c.key.trial) is not None]
        first = min(trials, default=None)
        shown = [q for q in report.keys if report.key(q).trial in (None, first)]
    out: list[Any] = [*headline_lines(report, width)]
    out += [Text(line, style="bold") for line in report.title.splitlines()]
    out += grids.renderables(report, shown)
    return out + tail_lines(report, width, found, None)


def print_view(report: Report, *, precision: int = 6, rerun: str | None = None) -> None:
    """The answer-first view (:mod:`gradcli.render.view`) at the terminal's width."""
    from gradcli.render.view import view_lines

    console = _Console(highlight=False)
    for line in view_lines(report, width=console.width, precision=precision, rerun=rerun):
        console.print(line, soft_wrap=True)


def render_view(
    report: Report, *, width: int = 80, precision: int = 6, rerun: str | None = None
) -> str:
    """The answer-first view as plain text at a fixed width (no colour), for tests."""
    from gradcli.render.view import view_lines

    return "".join(
        line.plain + "\n"
        for line in view_lines(report, width=width, precision=precision, rerun=rerun)
    )


def render_text(
    report: Report, *, width: int = 100, precision: int = 6, heatmap: bool = False
) -> str:
    """`report` as plain text at a fixed width (no colour): byte-stable, for tests."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False)
    _render(console, report, precision, heatmap)
    return buffer.getvalue()


def renderable(report: Report, *, precision: int = 6) -> Group:
    """The report as one rich renderable (what `Report.__rich__` returns)."""
    return Group(*(item for item, _ in _renderables(report, precision, 100)))


def render_html(report: Report, *, width: int = 100, precision: int = 6) -> str:
    """The report as HTML with inline styles (what Jupyter shows)."""
    console = Console(file=io.StringIO(), record=True, width=width, color_system="truecolor")
    _render(console, report, precision)
    return console.export_html(inline_styles=True)


def _render(console: Console, report: Report, precision: int, heatmap: bool = False) -> None:
    if heatmap:
        for item in heatmap_view(report, console.width):
            console.print(item)
        return
    for item, soft_wrap in _renderables(report, precision, console.width):
        console.print(item, soft_wrap=soft_wrap)


def _renderables(report: Report, precision: int, width: int) -> list[tuple[Any, bool]]:
    """Everything shown, in order; True where a long line should run on, not wrap."""
    from gradcli.render.view import headline_lines

    fmt = formatter(precision)
    # the verdict first, wrapped as the default view wraps it (the same lines)
    out: list[tuple[Any, bool]] = [(line, True) for line in headline_lines(report, width)]
    out.append((Text(_title(report), style="bold"), False))
    worst = _worst_elements(report.comparisons)
    scalars, vector_groups, matrices = _split_by_rank(report)
    tables: list[Any] = [_scalar_table(report, scalars, fmt)] if scalars else []
    for group in vector_groups:
        single = len(group) == 1
        tables.append((_vector_table if single else _vectors_by_row)(report, group, worst, fmt))
    tables += [_matrix_table(report, quantity, worst, fmt) for quantity in matrices]
    if report.comparisons:
        tables += [
            checks.comparison_table(report.comparisons),
            checks.worst_table(report.comparisons, fmt),
        ]
    if report.laws:
        tables.append(checks.law_table(report, fmt))
    if getattr(report, "references", ()):
        tables.append(checks.reference_table(report))
    out += [(table, False) for table in tables]
    if report.explanation is not None:
        out.append((Text(f"Chain rule for {report.explanation.target}", style="bold"), False))
        out += [(Text(line), False) for line in report.explanation.lines]
    for title, lines in report.sections:
        out.append((Text(title, style="bold"), False))
        out += [(Text("  " + line), False) for line in lines]
    out += [(Text("note: " + note, style="yellow"), False) for note in report.notes]
    return out


def _title(report: Report) -> str:
    backends = ", ".join(f"{n} ({r.method})" for n, r in report.results.items())
    return f"{report.title}\nbackends: {backends}"


def _label(report: Report, quantity: str) -> str:
    from gradcli.render.view_parts import label_of

    return label_of(report, quantity)


def _split_by_rank(report: Report) -> tuple[list[str], list[list[str]], list[str]]:
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


def _having(report: Report, quantity: str) -> list[tuple[str, Array]]:
    """(backend, array) for the backends that computed `quantity`."""
    return [(n, r.arrays[quantity]) for n, r in report.results.items() if quantity in r.arrays]


def _scalar_table(report: Report, quantities: list[str], fmt: Format) -> Titled:
    table = titled_table("Scalars")
    table.add_column("quantity")
    for name in report.results:
        table.add_column(name, justify="right")
    for q in quantities:
        cells = [fmt(float(r.arrays[q])) if q in r.arrays else "—" for r in report.results.values()]
        table.add_row(_label(report, q), *cells)
    return table


def _vectors_by_row(
    report: Report,
    quantities: list[str],
    worst: Mapping[str, tuple[tuple[int, ...], bool]],
    fmt: Format,
) -> Titled:
    """Several vectors of one length: a row per quantity and backend, a column per index."""
    length = _having(report, quantities[0])[0][1].size
    shown = _columns_shown(length)
    table = titled_table(f"Vectors of length {length}")
    table.droppable_from = 2  # the entries give way to a narrow terminal, not the names
    table.add_column("quantity")
    table.add_column("backend")
    for j in shown:
        table.add_column("…" if j is None else str(j), justify="right")
    for q in quantities:
        index, failed = worst.get(q, ((), False))
        having = _having(report, q)
        for n, (name, array) in enumerate(having):
            vector = array.reshape(-1)
            cells: list[Text | str] = [_label(report, q) if n == 0 else "", name]
            cells += [
                "…" if j is None else cell(float(vector[j]), index == (j,), failed, fmt)
                for j in shown
            ]
            table.add_row(*cells, end_section=n == len(having) - 1)
    if None in shown:
        table.note = f"showing {len(shown) - 1} of {length} entries; all with --json or --save"
    return table


def _columns_shown(n: int) -> list[int | None]:
    if n <= MATRIX_CORNER + 1:
        return list(range(n))
    return [*range(MATRIX_CORNER), None]


def _worst_elements(comparisons: Sequence[Comparison]) -> dict[str, tuple[tuple[int, ...], bool]]:
    """Per quantity, the element to mark, and whether its pair failed."""
    marks = {}
    for quantity in dict.fromkeys(c.quantity for c in comparisons):
        worst = verdicts.worst([c for c in comparisons if c.quantity == quantity])
        if worst is not None:
            marks[quantity] = (worst.worst_index, not worst.ok)
    return marks


def _rows_shown(n: int) -> list[int | None]:
    """Indices to show of n rows; None marks the "…" row."""
    if n <= MAX_VECTOR_ROWS:
        return list(range(n))
    return [*range(VECTOR_HEAD), None, n - 1]


def _vector_table(
    report: Report,
    quantities: list[str],
    worst: Mapping[str, tuple[tuple[int, ...], bool]],
    fmt: Format,
) -> Titled:
    length = _having(report, quantities[0])[0][1].size
    inputs = {
        k: v for k, v in report.inputs.items() if isinstance(v, np.ndarray) and v.shape == (length,)
    }
    table = titled_table(", ".join(_label(report, q) for q in quantities))
    table.add_column("i", justify="right", style="dim")
    for key in inputs:
        table.add_column(f"{key}_i", justify="right")
    for q in quantities:
        for name, _ in _having(report, q):
            table.add_column(f"{q}\n{name}" if len(quantities) > 1 else name, justify="right")
    for i in _rows_shown(length):
        if i is None:
            n_columns = len(inputs) + sum(len(_having(report, q)) for q in quantities)
            table.add_row("…", *["…"] * n_columns)
            continue
        cells: list[Text | str] = [str(i)]
        cells += [fmt(float(v[i])) for v in inputs.values()]
        for q in quantities:
            index, failed = worst.get(q, ((), False))
            for _, array in _having(report, q):
                value = float(array.reshape(-1)[i])
                cells.append(cell(value, index == (i,), failed, fmt))
        table.add_row(*cells)
    if length > MAX_VECTOR_ROWS:
        table.note = f"showing {VECTOR_HEAD + 1} of {length} rows; all with --json or --save"
    return table


def _matrix_table(
    report: Report,
    quantity: str,
    worst: Mapping[str, tuple[tuple[int, ...], bool]],
    fmt: Format,
) -> Titled:
    """One matrix quantity: a block of rows per backend, the top-left corner if large."""
    full_shape = _having(report, quantity)[0][1].shape
    having = [
        (n, a.reshape(a.size // max(a.shape[-1], 1), a.shape[-1]))
        for n, a in _having(report, quantity)
    ]
    rows, cols = having[0][1].shape
    row_ids, col_ids = _columns_shown(rows), _columns_shown(cols)
    index, failed = worst.get(quantity, ((), False))
    table = titled_table(_label(report, quantity))
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
