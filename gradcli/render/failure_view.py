"""The first lines and the body of a failure in the answer-first view: what differs,
in how many entries and trials, the pattern, the worst entry; then the differing result
beside the expected one and the grid of `yours − expected` (`·` within tolerance)."""

from __future__ import annotations

import numpy as np
from rich.text import Text

from gradcli.render import compared, findings, words
from gradcli.render.blocks import Format
from gradcli.render.findings import Failure
from gradcli.render.grid import as_matrix, wrap
from gradcli.render.view_parts import label_of
from gradcli.report import Report


def failure_head(report: Report, found: list[Failure], width: int) -> list[Text]:
    """The first lines of a failure: the verdict's first line (the same words as the
    JSON's summary and --quiet), the pattern, the worst entry, the other failures."""
    status = words.status_line(report, spelled=True)
    out = wrap(status, width, indent="    ", style="bold red")
    first = found[0] if found else None
    if first is not None and first.pattern:
        out += wrap(f"  pattern: {first.pattern}", width, indent="    ")
    if report.worst is not None and first is not None:
        out += wrap("  " + words.worst_line(report.worst), width, indent="    ")
    for line in words.failures(report.verdict.failures())[1:]:
        out += wrap("  also " + line, width, indent="    ", style="red")
    agreed = words.agreed_line(report)
    if agreed:  # what did agree: the other gradients of a multi-input check
        out += wrap("  " + agreed, width, indent="    ", style="green")
    return out


def failure_body(report: Report, f: Failure, width: int, fmt: Format) -> list[Text]:
    """The differing result beside (or above) the expected one, then yours − expected
    with `·` where the core judged an entry within tolerance."""
    raw = f.values(report)
    mine, expected = (as_matrix(a).astype(np.float64) for a in raw)
    sides = compared.Sides(
        mine,
        expected,
        findings.ratios(mine, expected, f.worst)[1],  # the core's own mask
        f.differing,
        f.expected,
    )
    within = "· within tolerance"
    # every block titled with its quantity and trial (two 3×3 blocks of vjp.x and vjp.W
    # one after the other are otherwise told apart by nothing)
    heading = f"{label_of(report, f.worst.key)}: {f.differing}, expected ({f.expected})"
    if np.ndim(raw[0]) <= 1:  # a vector: three rows of one table
        heading += f", the difference ({within})"
        focus = f.worst.worst_index[-1] if f.worst.worst_index else None
        return [
            *wrap(heading, width, "    ", style="bold"),
            *compared.vector_lines(sides, width, fmt, focus),
        ]
    # the tables' own headers name both sides ("yours i\\j", "torch i\\j")
    focus2 = _as_matrix_index(f.worst.worst_index, np.shape(raw[0]))
    caption = f"{f.differing} − expected  ({within})"
    return [
        *wrap(heading, width, "    ", style="bold"),
        *compared.matrix_lines(sides, width, fmt, focus2, caption),
    ]


def _as_matrix_index(index: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, int] | None:
    """Where an entry lands in the 2-D view (leading dimensions flattened into rows)."""
    if len(index) != len(shape) or len(shape) < 2:
        return None
    row = int(np.ravel_multi_index(index[:-1], shape[:-1]))
    return row, int(index[-1])


def failure_tail(report: Report, found: list[Failure], width: int, rerun: str | None) -> list[Text]:
    out: list[Text] = []
    if not found:
        return out
    trial = found[0].trial
    if rerun and trial is not None and found[0].n_trials > 1:
        out += command_lines("rerun this trial: ", f"{rerun} --trial {trial}", width)
    out += wrap(
        "more: --detail (every backend, pair and tolerance) · --plot FILE.png", width, "    "
    )
    return out


def command_lines(prefix: str, command: str, width: int) -> list[Text]:
    """A command to copy: on one line when it fits, else on lines continued with ` \\`
    (the shell's line continuation), never wrapped in the middle of a word."""
    if len(prefix) + len(command) <= width:
        return [Text(prefix + command)]
    import shlex

    out, line, indent = [Text(prefix.rstrip())], "   ", "   "
    try:  # whole arguments ('y = log(a)' is one), quoted as the shell reads them
        words_ = [shlex.quote(w) for w in shlex.split(command)]
    except ValueError:
        words_ = command.split(" ")
    for word in words_:
        if len(line) + 1 + len(word) + 2 > width and line.strip():
            out.append(Text(line + " \\"))
            line = indent
        line += " " + word
    return [*out, Text(line)]
