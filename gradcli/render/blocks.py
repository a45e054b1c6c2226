"""Pieces every rich table of gradcli shares: the titled table, a number's cell."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text


def formatter(precision: int) -> Any:
    def fmt(value: float) -> str:
        if value != value:
            return "nan"
        return f"{value + 0.0:.{precision}g}"  # + 0.0 turns -0.0 into 0

    return fmt


class Titled(Table):
    """A table whose title and note are printed as lines of their own: rich would wrap
    a title or caption to the table's width, and the tables of numbers are narrow."""

    def __init__(self, title: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.heading = title
        self.note = ""

    def __rich_console__(self, console: Console, options: Any) -> Any:
        yield Text(self.heading, style="bold")
        yield from super().__rich_console__(console, options)
        if self.note:
            yield Text(self.note, style="dim")


def titled_table(title: str) -> Titled:
    return Titled(
        title,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )


def cell(value: float, marked: bool, failed: bool, fmt: Any) -> Text:
    style = ("bold red" if failed else "bold") if marked else ""
    return Text(fmt(value), style=style)
