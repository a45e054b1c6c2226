"""Pieces every rich table of gradcli shares: the titled table, a number's cell."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

LABEL_MIN = 8  # a name column folds down to this width before anything else gives way
ELLIPSIS = "…"


# how a number is written in a table: formatter(precision)
Format = Callable[[float], str]


def formatter(precision: int) -> Format:
    def fmt(value: float) -> str:
        if value != value:
            return "nan"
        return f"{value + 0.0:.{precision}g}"  # + 0.0 turns -0.0 into 0

    return fmt


class Titled(Table):
    """A table whose title and note are printed as lines of their own: rich would wrap
    a title or caption to the table's width, and the tables of numbers are narrow.

    It is fitted to the width it is given by one rule (rich alone would crop cells to
    "0.00…" and "FA…"): numbers and statuses (right-justified columns) never wrap and
    never shrink; names (left-justified) fold onto more lines, down to LABEL_MIN; then
    the columns from `droppable_from` on (a matrix's or a vector's entries) give way
    from the right, leaving a "…" column; a table that still does not fit is printed
    as records, one "header: value" line per cell."""

    def __init__(self, title: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.heading = title
        self.note = ""
        self.droppable_from: int | None = None

    def __rich_console__(self, console: Console, options: Any) -> Any:
        width = options.max_width
        yield from wrapped(self.heading, width, "bold")
        fitted, dropped = fit(self, console, options, width)
        yield fitted
        note = self.note
        if dropped:
            hidden = f"{dropped} more column{'s' if dropped > 1 else ''} at a wider terminal"
            note = f"{note}; {hidden}" if note else hidden
        if note:
            yield from wrapped(note, width, "dim")


class Prose:
    """Prose wrapped at the width it is printed at (`wrapped`)."""

    def __init__(self, text: str, style: str = "") -> None:
        self.text, self.style = text, style

    def __rich_console__(self, console: Console, options: Any) -> Any:
        yield from wrapped(self.text, options.max_width, self.style)


def wrapped(text: str, width: int, style: str = "") -> list[Text]:
    """A title or note as lines of `width` at most, broken between words with no space
    left at a line's end (rich's own wrapping keeps it), each line of it as given."""
    import textwrap

    out: list[Text] = []
    for line in text.splitlines() or [""]:
        pieces = textwrap.wrap(line, width=max(width, 1), break_on_hyphens=False)
        out += [Text(piece, style=style) for piece in pieces or [""]]
    return out


def _is_label(column: Column) -> bool:
    return column.justify in ("left", "default") and column.header != ELLIPSIS


def _copy(table: Table, keep: list[int], ellipsis: bool) -> Table:
    """A plain table with the columns `keep` of `table` (and a "…" column at the end)."""
    out = Table(
        box=table.box,
        pad_edge=table.pad_edge,
        collapse_padding=table.collapse_padding,
        show_header=table.show_header,
    )
    columns = [table.columns[i] for i in keep]
    for column in columns:
        label = _is_label(column)
        out.add_column(
            column.header,
            justify=column.justify,
            style=column.style,
            no_wrap=not label,
            overflow="fold",
            min_width=column.min_width,
        )
    if ellipsis:
        out.add_column(ELLIPSIS, justify="right", no_wrap=True)
    for r, row in enumerate(table.rows):
        cells: list[Any] = [list(column.cells)[r] for column in columns]
        blank = all(not str(getattr(c, "plain", c)).strip() for c in cells[len(columns) - 1 :])
        if ellipsis:
            cells.append("" if blank else ELLIPSIS)
        out.add_row(*cells, style=row.style, end_section=row.end_section)
    return out


def _width(console: Console, options: Any, table: Table) -> int:
    return Measurement.get(console, options.update_width(10_000), table).maximum


def _fold_labels(console: Console, options: Any, table: Table, width: int) -> bool:
    """Narrow the name columns (widest first, not below LABEL_MIN) until `table` fits."""
    excess = _width(console, options, table) - width
    if excess <= 0:
        return True
    labels = [c for c in table.columns if _is_label(c)]
    natural = {
        id(c): max(Measurement.get(console, options, x).maximum for x in [c.header, *c.cells])
        for c in labels
    }
    widths = dict(natural)
    # first down to each column's longest word ("yours vs / torch" wraps between words),
    # widest first; only then through words ("trial0.jac / obian"), down to LABEL_MIN
    words = {
        id(c): max([LABEL_MIN, *(_longest_word(x) for x in [c.header, *c.cells])]) for c in labels
    }
    for floor in (words, dict.fromkeys(words, LABEL_MIN)):
        while excess > 0:
            room = [c for c in labels if widths[id(c)] > floor[id(c)]]
            if not room:
                break
            widest = max(room, key=lambda c: widths[id(c)])
            widths[id(widest)] -= 1
            excess -= 1
    if excess > 0:
        return False
    for column in labels:
        if widths[id(column)] < natural[id(column)]:
            column.max_width = widths[id(column)]
    return _width(console, options, table) <= width


def _longest_word(cell: Any) -> int:
    return max((len(w) for w in str(getattr(cell, "plain", cell)).split()), default=0)


def fit(table: Titled, console: Console, options: Any, width: int) -> tuple[Any, int]:
    """`table` as it fits `width`, and how many of its columns were left out."""
    n = len(table.columns)
    has_ellipsis = bool(n) and table.columns[-1].header == ELLIPSIS
    data_end = n - 1 if has_ellipsis else n
    start = table.droppable_from
    keep_until = data_end
    while True:
        dropped = data_end - keep_until
        keep = [*range(keep_until), *range(data_end, n)]
        candidate = _copy(table, keep, ellipsis=dropped > 0 and not has_ellipsis)
        # before any name folds: the outer edge (a blank column each side, a blank line
        # above and below), then one of the two spaces between columns
        if _width(console, options, candidate) > width:
            candidate.show_edge = False
        if _width(console, options, candidate) > width:
            candidate.padding = (0, 0)
        if _fold_labels(console, options, candidate, width):
            return candidate, dropped
        if start is None or keep_until <= start + 1:
            return _records(table, width), 0
        keep_until -= 1


def _records(table: Table, width: int) -> Group:
    """The table as lines "header: value", a row's first cell as the heading of its
    record: a table too wide for the terminal still shows every value whole."""
    lines: list[Text] = []
    columns = table.columns
    for r in range(table.row_count):
        cells = [list(c.cells)[r] for c in columns]
        texts = [c if isinstance(c, Text) else Text(str(c)) for c in cells]
        if texts and texts[0].plain.strip():
            lines.append(Text(texts[0].plain))
        for column, text in zip(columns[1:], texts[1:], strict=True):
            if not text.plain.strip():
                continue
            line = Text(f"  {column.header}: " if str(column.header) else "  ")
            line.append_text(text)
            lines.append(line)
    return Group(*lines)


def titled_table(title: str) -> Titled:
    return Titled(
        title,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )


def cell(value: float, marked: bool, failed: bool, fmt: Format) -> Text:
    style = ("bold red" if failed else "bold") if marked else ""
    return Text(fmt(value), style=style)
