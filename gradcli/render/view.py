"""The answer-first view, gradcli's default output.

When the backends agree, each result is shown once (the most exact backend's numbers,
with the formula in its header), then a short verdict block: who agrees, the largest
difference with where and what was allowed there, the laws on one line, and what more
there is to see. When something differs, the first lines say so (which quantity, which
backend, how many entries and trials, the pattern, the worst entry against the
expected value); then the differing result beside the expected one, and a grid of
`yours − expected` with `·` where an entry is within tolerance. `--detail` is
:mod:`gradcli.render.table`. Every line fits `width`: matrices show fewer columns,
never clipped cells.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text

from gradcli.render import findings, inputs_view, references_view, words
from gradcli.render.blocks import Format, formatter
from gradcli.render.failure_view import failure_body, failure_head, failure_tail
from gradcli.render.grid import (
    Column,
    LazyColumns,
    as_matrix,
    fit_columns,
    index_column,
    lines,
    wrap,
)
from gradcli.render.view_parts import (
    SEPARATOR,
    beside,
    first_input,
    label_of,
    matrix_lines,
    shape_text,
    shown_value,
)
from gradcli.report import Report

BODIES = 2  # failures shown beside their expected values; the rest are named
MAX_VECTOR_ROWS = 12  # a vector shown as a column: longer ones as a row of columns


def view_lines(
    report: Report, *, width: int = 80, precision: int = 6, rerun: str | None = None
) -> list[Text]:
    """Everything the default view prints, line by line."""
    fmt = formatter(precision)
    found = findings.failures(report)
    out: list[Text] = headline_lines(report, width)  # the verdict first, in every view
    for title in report.title.splitlines():
        out += wrap(title, width, style="bold")
    out += inputs_view.lines(report, width, fmt, found)
    if found:
        for failure in found[:BODIES]:
            out += failure_body(report, failure, width, fmt)
        if len(found) > BODIES:
            rest = ", ".join(str(f.base) for f in found[BODIES:])
            out += wrap(f"also differing: {rest} (every table with --detail)", width, "    ")
    else:
        out += _results_once(report, width, fmt)
    out += inputs_view.sections(report, width, fmt)
    if report.explanation is not None:
        target = report.explanation.target
        heading = {
            "softmax": f"{target}, step by step",
            "check": f"{target}, trial by trial",
        }.get(report.command, f"Chain rule for {target}")
        out.append(Text(heading, style="bold"))
        for line in report.explanation.lines:
            out += wrap(line, width, indent="      ")
    for note in report.notes:
        out += wrap("note: " + note, width, style="yellow")
    for kink in report.kinks[1:] if report.ok else report.kinks:  # the first is in the verdict
        out += wrap("note: kink: " + words.kink(kink), width, style="yellow")
    return out + tail_lines(report, width, found, rerun)


def tail_lines(
    report: Report,
    width: int,
    found: list[findings.Failure],
    rerun: str | None,
    heatmap: bool = False,
) -> list[Text]:
    """The view's last lines: a pass's references, laws and hints (`heatmap`: the hints
    of the heatmap view, which is itself no more to see); a failure's rerun."""
    if report.ok:
        return _pass_tail(report, width, heatmap)
    return failure_tail(report, found, width, rerun)


def headline_lines(report: Report, width: int) -> list[Text]:
    """The verdict's first line, the same words in every view, and the worst entry."""
    if not report.ok:
        return failure_head(report, findings.failures(report), width)
    out = wrap(words.status_line(report, spelled=True), width, style="bold green")
    for line in report.verdict.details:  # a rule's decision: what it excused
        out += wrap("  " + line, width, "    ")
    if report.worst is not None:
        out += wrap("  " + words.worst_line(report.worst), width, "    ")
    return out


def _results_once(report: Report, width: int, fmt: Format) -> list[Text]:
    """Each quantity once, grouped: scalars on a line, vectors of one length in one
    table, matrices each in their own."""
    if report.command == "graph":
        return []  # the graph's inputs view shows gradients and a table of variables
    shapes: dict[str, tuple[int, ...]] = {}
    for result in report.results.values():
        for q, a in result.arrays.items():
            shapes.setdefault(q, a.shape)
    out: list[Text] = []
    scalars = [q for q, s in shapes.items() if len(s) == 0]
    if scalars:
        parts = [f"{label_of(report, q)} = {fmt(float(shown_value(report, q)))}" for q in scalars]
        out += wrap(";  ".join(parts), width)
    groups: dict[int, list[str]] = {}
    trials = [t for q in shapes if (t := report.key(q).trial) is not None]
    for q, s in shapes.items():  # vectors of several trials: the first trial's, as matrices
        if len(s) == 1 and report.key(q).trial in (None, min(trials, default=None)):
            groups.setdefault(s[0], []).append(q)
    vectors = [_vector_block(report, g, n, width, fmt) for n, g in groups.items()]
    every = [q for q, s in shapes.items() if len(s) >= 2]
    # matrices of several trials: the first trial's (six 8×16 gradients would fill a
    # screen with numbers that agree); the others are in --detail
    first = min((t for q in every if (t := report.key(q).trial) is not None), default=None)
    shown = [q for q in every if report.key(q).trial in (None, first)]
    matrices = [
        (Text(f"{label_of(report, q)}   ({shape_text(shown_value(report, q))})", style="bold"), q)
        for q in shown
    ]
    if len(shown) < len(every):
        others = sorted({t for q in every if (t := report.key(q).trial) not in (None, first)})
        text = f"the results of trial {first} ({findings.trials_words(others)} with --detail)"
        out += wrap(text, width)
    if len(vectors) == 1 and len(matrices) == 1:  # softmax: s beside J, row i by row i
        title, q = matrices[0]
        matrix = matrix_lines(as_matrix(shown_value(report, q)), width, fmt)
        joined = beside(vectors[0], matrix, width)
        if joined:
            pad = max(len(t.plain) for t in vectors[0]) + len(SEPARATOR)
            if pad + len(title.plain) <= width:
                return [*out, Text(" " * pad) + title, *joined]
            return [*out, *wrap(title.plain, width, "    ", style="bold"), *joined]
    for block in vectors:
        out += block
    blocks = [
        [*wrap(title.plain, width, "    ", style="bold"), *_matrix(report, q, width, fmt)]
        for title, q in matrices
    ]
    row: list[Text] = []
    for block in blocks:  # matrices of as many rows side by side, while they fit
        depth = max(len(row), len(block))  # the shorter padded with blank lines
        blank = [Text("")] * depth
        joined = beside((row + blank)[:depth], (block + blank)[:depth], width) if row else None
        if joined is not None:
            row = joined
            continue
        out += row
        row = block
    return out + row


def _matrix(report: Report, quantity: str, width: int, fmt: Format) -> list[Text]:
    return matrix_lines(as_matrix(shown_value(report, quantity)), width, fmt)


def _vector_block(
    report: Report, group: list[str], length: int, width: int, fmt: Format
) -> list[Text]:
    """Vectors of one length: as columns beside their index (and the inputs of that
    length) when short, else a row per quantity."""
    same_length = {
        k: v
        for k, v in report.inputs.items()
        if isinstance(v, np.ndarray) and v.shape == (length,) and report.command == "softmax"
    }
    if length <= MAX_VECTOR_ROWS and len(group) == 1:
        rows = list(range(length))
        columns = [index_column(rows, "i")]
        columns += [
            Column(f"{k}_i", [fmt(float(v[i])) for i in rows]) for k, v in same_length.items()
        ]
        q = group[0]
        values = np.asarray(shown_value(report, q))
        key = report.key(q)
        header = f"{key.symbol}_i" if key.symbol else label_of(report, q)
        columns.append(Column(header, [fmt(float(values[i])) for i in rows]))
        if columns[-1].width + sum(c.width + 2 for c in columns[:-1]) <= width:
            return lines(columns)
    labels = [*same_length, *(report.key(q).symbol or label_of(report, q) for q in group)]
    label_column = Column("", labels, left=True)
    data = np.stack(
        [np.asarray(v, dtype=np.float64) for v in same_length.values()]
        + [np.asarray(shown_value(report, q), dtype=np.float64) for q in group]
    )
    by_index = LazyColumns(
        length, lambda j: Column(str(j), [fmt(float(data[r, j])) for r in range(len(labels))])
    )
    return lines(fit_columns([label_column], by_index, width))


def headline(report: Report, width: int = 80) -> list[str]:
    """The verdict in a few plain lines, as every view opens."""
    return [t.plain for t in headline_lines(report, width)]


def _pass_tail(report: Report, width: int, heatmap: bool = False) -> list[Text]:
    """After a pass's tables: the references, the laws, what more there is to see."""
    out = _references(report, width)
    if report.laws:
        names = list(dict.fromkeys(law.law for law in report.laws))
        rates = [f"{law.rate:.2f}" for law in report.laws if law.rate is not None]
        if rates:  # the Taylor test's rate in each trial, on its one line (right: 2)
            names = [f"{n} (rate {', '.join(rates)}; right: 2, wrong: 1)" for n in names]
        # "; " between laws: their formulas use "·" themselves (Jᵀ·∂L/∂s)
        on = words.join(list(dict.fromkeys(law.backend for law in report.laws)))
        out += wrap(f"  laws hold on {on}: " + "; ".join(names), width, "    ")
    explain = "" if report.explanation is not None else _explain_hint(report)  # given
    if heatmap:  # what the grids leave out: every number, and how an entry is made
        more = ["--detail (every backend, pair and tolerance)", "--plot FILE.png", explain]
    else:
        more = ["--detail", "--heatmap", "--plot FILE.png", explain]
    out += wrap("  more: " + " · ".join(m for m in more if m), width, "    ", style="dim")
    return out


def _references(report: Report, width: int) -> list[Text]:
    """Which numerical references ran, how, and how precise they were."""
    sentence = references_view.line(report)
    return wrap("  references: " + sentence, width, "    ") if sentence else []


def _explain_hint(report: Report) -> str:
    hints = {
        "softmax": "--explain 'J[0,1]'",
        "layer": "--explain 'dW[0,0]'",
        "graph": f"--explain {first_input(report)}.grad",
        "check": _check_hint(report),
    }
    return hints.get(report.command, "")


def _check_hint(report: Report) -> str:
    """An entry check --explain takes as printed: the first quantity's first entry."""
    c = report.comparisons[0] if report.comparisons else None
    if c is None or not c.shape:
        return ""
    return f"--explain '{c.key.name}[{','.join('0' * len(c.shape))}]'"
