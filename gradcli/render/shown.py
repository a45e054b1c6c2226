"""The render side of a Report: its verdict's words, and how rich and Jupyter show it.

Each command hands :data:`ADAPTER` to the core (`core.Declaration(shown=...)`), which
keeps it in the Report (`Report.shown`, typed by the `report.Shown` protocol). So
`rich.print(report)` and a notebook show gradcli's default view, and `report.py`
imports nothing above it. An adapter passed in, rather than one registered by render
into report (`report.SHOW = …`), because a registration is a rebinding of another
module's attribute whose effect depends on who imported render first; a value passed
in is visible in the signature of whoever builds the run.
"""

from __future__ import annotations

import io

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult

from gradcli.render import words
from gradcli.report import Report


class _DefaultView:
    """The default view at the console's width (what `rich.print(report)` shows)."""

    def __init__(self, report: Report) -> None:
        self.report = report

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from gradcli.render.view import view_lines

        yield from view_lines(self.report, width=options.max_width)


class Adapter:
    """report.Shown for gradcli's views."""

    def sentences(self, report: Report) -> tuple[str, tuple[str, ...]]:
        return words.sentences(report)

    def rich(self, report: Report) -> RenderableType:
        return _DefaultView(report)

    def html(self, report: Report) -> str:
        console = Console(file=io.StringIO(), record=True, width=100, color_system="truecolor")
        console.print(_DefaultView(report), soft_wrap=True)
        return console.export_html(inline_styles=True)


ADAPTER = Adapter()
