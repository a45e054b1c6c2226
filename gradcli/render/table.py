"""Rich tables for people: the report laid out, and the tables of its values. Only the
render package imports rich (here, in checks.py, blocks.py and heatmap.py).

Colour and terminal detection are rich's (it honours NO_COLOR and colours only a
terminal). Large arrays are shown as a corner with their size, never thousands of rows.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, Group
from rich.text import Text

from gradcli.render import checks, result_tables
from gradcli.render.blocks import formatter, wrapped
from gradcli.report import Report


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
    return out + tail_lines(report, width, found, None, heatmap=True)


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
    out += [(line, False) for line in wrapped(_title(report), width, "bold")]
    worst = result_tables.worst_elements(report.comparisons)
    scalars, vector_groups, matrices = result_tables.split_by_rank(report)
    tables: list[Any] = [result_tables.scalar_table(report, scalars, fmt)] if scalars else []
    for group in vector_groups:
        single = len(group) == 1
        tables.append(
            (result_tables.vector_table if single else result_tables.vectors_by_row)(
                report, group, worst, fmt
            )
        )
    tables += [result_tables.matrix_table(report, quantity, worst, fmt) for quantity in matrices]
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
    out += [
        (line, False) for note in report.notes for line in wrapped("note: " + note, width, "yellow")
    ]
    return out


def _title(report: Report) -> str:
    backends = ", ".join(f"{n} ({r.method})" for n, r in report.results.items())
    return f"{report.title}\nbackends: {backends}"
