"""The tables of the checks: differences between backends, worst elements, laws."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from gradcli.render.blocks import Format, Titled, cell, titled_table
from gradcli.report import CRITERION, Comparison, Report


def comparison_table(comparisons: Sequence[Comparison]) -> Titled:
    table = titled_table("Differences (the second backend is the reference)")
    headers = ("quantity", "a vs ref", "max abs", "max rel", "rtol", "atol", "out of tol", "")
    for header in headers:
        _column(table, header)
    for c in comparisons:
        table.add_row(
            str(c.key),  # the one printed name (the JSON's "quantity" is its id)
            f"{c.backends[0]} vs {c.backends[1]}",
            f"{c.max_abs_error:.3g}",
            f"{c.max_rel_error:.3g}",
            f"{c.tolerance.rtol:.2g}",
            f"{c.tolerance.atol:.2g}",
            _out_of_tolerance(c),
            _ok(c.ok),
        )
    table.note = f"pass: {CRITERION}"
    return table


def worst_table(comparisons: Sequence[Comparison], fmt: Format) -> Table:
    table = titled_table(
        "Worst element of each comparison (allowed = atol + rtol·|ref| + c·error, error: the "
        "reference's own error estimate)"
    )
    for header in ("quantity", "a vs ref", "at", "a", "ref", "allowed"):
        _column(table, header)
    for c in comparisons:
        table.add_row(
            str(c.key),  # the one printed name (the JSON's "quantity" is its id)
            f"{c.backends[0]} vs {c.backends[1]}",
            ",".join(map(str, c.worst_index)),
            cell(c.worst_values[0], True, not c.ok, fmt) if not c.ok else fmt(c.worst_values[0]),
            fmt(c.worst_values[1]),
            f"{c.allowed:.3g}",
        )
    return table


_LABELS = ("quantity", "a vs ref", "backend", "made by")


def _column(table: Table, header: str) -> None:
    """Names may fold onto a second line in a narrow terminal; numbers and statuses never
    shrink (rich would crop them to "FA…")."""
    if header in _LABELS:
        table.add_column(header, justify="left", overflow="fold")
    else:
        table.add_column(header, justify="right", no_wrap=True, min_width=len(header) or 4)


def _out_of_tolerance(c: Comparison) -> str:
    count = f"{c.n_out_of_tolerance}/{c.size}"
    return f"{count} ({100 * c.fraction_out_of_tolerance:.3g}%)" if c.n_out_of_tolerance else count


def _ok(ok: bool) -> Text:
    return Text("ok", style="green") if ok else Text("FAIL", style="bold red")


def law_table(report: Report, fmt: Format) -> Table:
    table = titled_table("Laws of the exact result, on each backend")
    for header in ("backend", "law", "max violation", "allowed", ""):
        table.add_column(header, justify="right" if header not in ("backend", "law") else "left")
    for law in report.laws:
        table.add_row(
            law.backend,
            law.law,
            f"{law.max_violation:.3g}",
            f"{law.allowed:.3g}",
            _ok(law.ok),
        )
    return table


def reference_table(report: Report) -> Table:
    """How each numerical reference was made, per quantity, and its largest error."""
    from gradcli.render import references_view

    table = titled_table("Numerical references (each element carries its own error estimate)")
    for header in ("backend", "quantity", "made by", "error ≤"):
        _column(table, header)
    for row in references_view.rows(report):
        table.add_row(*row)
    return table
