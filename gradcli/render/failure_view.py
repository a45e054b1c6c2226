"""The first lines and the body of a failure in the answer-first view: what differs,
in how many entries and trials, the pattern, the worst entry; then the differing result
beside the expected one and the grid of `yours − expected` (`·` within tolerance)."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.text import Text

from gradcli.render import compared, findings
from gradcli.render.findings import Failure, plural, split_trial
from gradcli.render.grid import as_matrix, wrap
from gradcli.render.view_parts import entry_name, label_of
from gradcli.report import Report


def failure_head(report: Report, found: list[Failure], width: int) -> list[Text]:
    """The first lines of a failure: what differs, how much, the pattern, the worst entry."""
    out: list[Text] = []
    for n, f in enumerate(found):
        who = f"{f.odd} differs" if f.odd else f"{f.worst.backends[0]} and {f.expected} disagree"
        counts = f"in {f.n_out} of {f.size} entries"
        if f.n_trials > 1:
            counts += f", {len(f.trials_failed)} of {plural(f.n_trials, 'trial')}"
        if n:  # the first failure in full; the others on a line each
            out += wrap(f"  also {f.base}: {who} {counts}", width, indent="    ", style="red")
            continue
        out += wrap(f"DISAGREE: {f.base}: {who} {counts}", width, indent=" " * 12, style="bold red")
        agree = f"{' and '.join(f.agreeing)} agree" if f.odd and len(f.agreeing) > 1 else ""
        second = "; ".join(p for p in (f"pattern: {f.pattern}" if f.pattern else "", agree) if p)
        if second:
            out += wrap(f"  {second}", width, indent="    ")
        c = f.worst
        worst = f"  worst: {entry_name(report, c.quantity, c.worst_index)}: {c.backends[0]} "
        mine, theirs = findings.told_apart(*c.worst_values)
        worst += f"{mine}, {f.expected} {theirs}, "
        worst += f"allowed ±{c.allowed:.2g}"
        out += wrap(worst, width, indent=" " * 9)
    listed = {f.base for f in found}
    for detail in report.verdict.details:
        head = split_trial(detail.partition(": ")[0])[1]
        if head not in listed and not out:
            out += wrap("DISAGREE: " + detail, width, indent="    ", style="bold red")
        elif head not in listed and (detail.startswith("law") or "not finite" in detail):
            out += wrap("  " + detail, width, indent="    ", style="red")
    return out


def failure_body(report: Report, f: Failure, width: int, fmt: Any) -> list[Text]:
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
    trial = f" (trial {f.trial})" if f.trial is not None else ""
    within = "· within tolerance"
    if np.ndim(raw[0]) <= 1:  # a vector: three rows of one table
        heading = f"{label_of(report, f.base)}{trial}: {f.differing}, expected ({f.expected}), "
        heading += f"the difference ({within})"
        focus = f.worst.worst_index[-1] if f.worst.worst_index else None
        return [
            *wrap(heading, width, "    ", style="bold"),
            *compared.vector_lines(sides, width, fmt, focus),
        ]
    # the tables' own headers name both sides ("yours i\\j", "torch i\\j")
    focus2 = _as_matrix_index(f.worst.worst_index, np.shape(raw[0]))
    caption = f"{f.differing} − expected  ({within})"
    return compared.matrix_lines(sides, width, fmt, focus2, caption)


def _as_matrix_index(index: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, int] | None:
    """Where an entry lands in the 2-D view (leading dimensions flattened into rows)."""
    if len(index) != len(shape) or len(shape) < 2:
        return None
    row = int(np.ravel_multi_index(index[:-1], shape[:-1]))
    return row, int(index[-1])


def failure_tail(report: Report, found: list[Failure], width: int, rerun: str | None) -> list[Text]:
    out: list[Text] = []
    if not found:
        return wrap(report.verdict.summary, width, style="bold red")
    trial = found[0].trial
    if rerun and trial is not None and found[0].n_trials > 1:
        out += wrap(f"rerun this trial: {rerun} --trial {trial}", width, "    ")
    out += wrap(
        "more: --detail (every backend, pair and tolerance) · --plot FILE.png", width, "    "
    )
    return out
