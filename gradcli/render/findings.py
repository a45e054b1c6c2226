"""What the answer-first view says, read off a Report: for each quantity the one result
to show, and for each failure which backend differs, in how many entries and trials,
the named pattern and the worst entry against the expected value.

No rich here: this is the view's model, shared by the terminal view, --quiet and the
pictures. It reads the Report only (render never feeds back into problems).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from gradcli.findings import Differs
from gradcli.keys import Key
from gradcli.render.words import patterns as pattern_text
from gradcli.render.words import plural as plural
from gradcli.render.words import told_apart as told_apart
from gradcli.render.words import trials_words as trials_words
from gradcli.report import Array, Comparison, Report
from gradcli.verdicts import ratio as ratio

# Whose numbers a result is shown with when the backends agree: the derivative under
# test first (check), then the most exact backend.
SHOWN_FIRST = ("yours", "numpy", "torch", "fd")


@dataclass(frozen=True)
class Failure:
    """The view of one Differs finding: the core's numbers, and the comparison of its
    worst entry (differing vs expected) whose tolerance and mask the grids draw."""

    finding: Differs
    worst: Comparison  # oriented: backends[0] differs, backends[1] is the expected side
    pattern: str

    @property
    def base(self) -> Key:
        return self.finding.key

    @property
    def odd(self) -> str | None:
        return self.finding.odd

    @property
    def agreeing(self) -> tuple[str, ...]:
        return self.finding.agreeing

    @property
    def expected(self) -> str:
        return self.finding.worst.reference

    @property
    def differing(self) -> str:
        return self.finding.worst.backend

    @property
    def n_out(self) -> int:
        return self.finding.n_out

    @property
    def size(self) -> int:
        return self.finding.size

    @property
    def n_trials(self) -> int:
        return self.finding.n_trials

    @property
    def trials_failed(self) -> tuple[int, ...]:
        return self.finding.trials_failed

    @property
    def trial(self) -> int | None:
        return self.finding.worst.entry.key.trial

    def values(self, report: Report) -> tuple[Array, Array]:
        """(differing, expected) arrays of the worst trial."""
        q = self.worst.quantity
        return report.results[self.differing].arrays[q], report.results[self.expected].arrays[q]


def trial_position(report: Report, trial: int) -> int:
    """Where trial K's input is in the report's list (a --trial rerun holds only K)."""
    trials = sorted({t for c in report.comparisons if (t := c.key.trial) is not None})
    return trials.index(trial) if trial in trials else trial


def shown_backend(report: Report, quantity: str) -> str:
    having = [n for n in report.results if quantity in report.results[n].arrays]
    return next((n for n in SHOWN_FIRST if n in having), having[0])


def failures(report: Report) -> list[Failure]:
    """The core's Differs findings, in the order the verdict tells them."""
    out = []
    for f in report.verdict.differs():
        w = f.worst
        pair = next(
            c
            for c in report.comparisons
            if c.key == w.entry.key and set(c.backends) == {w.backend, w.reference}
        )
        if pair.backends[0] != w.backend:
            pair = replace(pair, backends=pair.backends[::-1], worst_values=pair.worst_values[::-1])
        out.append(Failure(f, pair, pattern_text(report, f.key)))
    return out


def ratios(a: Array, ref: Array, c: Comparison) -> tuple[Array, Array]:
    """Per element: |a − ref| over the comparison's allowed error, and which elements are
    outside it, as the core judged them.

    The core's allowed error varies per element (per-row scales, the reference's own error
    estimate) and the Report keeps it at the worst element only, so the ratio here is
    on the worst element's atol (the plot's and the heatmap's colour), clipped to the
    core's judgement: the elements marked outside are the core's own
    (`Comparison.outside`), so that the picture never disagrees with the verdict
    (tests/test_outside.py: per-row scales, where ranking the ratios marked the wrong
    entry). Without that mask (a Report read back from elsewhere) they are the
    `n_out_of_tolerance` largest ratios (non-finite ones first)."""
    import numpy as np

    a64, ref64 = np.asarray(a, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    tol = c.tolerance
    with np.errstate(all="ignore"):
        gap = np.abs(a64 - ref64)
        ratio_ = np.where(gap == 0, 0.0, gap / (tol.atol + tol.rtol * np.abs(ref64)))
    if c.outside is not None and c.outside.size == ratio_.size:
        outside = np.asarray(c.outside, dtype=bool).reshape(ratio_.shape)
    else:
        ranked = np.where(np.isfinite(ratio_), ratio_, np.inf).reshape(-1)
        flat = np.zeros(ranked.size, dtype=bool)
        if c.n_out_of_tolerance:
            flat[np.argsort(-ranked, kind="stable")[: c.n_out_of_tolerance]] = True
        outside = flat.reshape(ratio_.shape)
    shown = np.where(outside, np.maximum(ratio_, 1.0 + 1e-9), np.minimum(ratio_, 1.0))
    return shown, outside


def closest_pair(report: Report) -> Comparison | None:
    """The comparison of the verdict's worst entry."""
    w = report.worst
    if w is None:
        return None
    return next(
        (
            c
            for c in report.comparisons
            if c.key == w.entry.key and set(c.backends) == {w.backend, w.reference}
        ),
        None,
    )


def failing_inputs(report: Report) -> dict[str, Any]:
    """The worst failing trial's inputs (Report.failing_trial)."""
    return report.failing_trial()


def quiet_line(report: Report) -> str:
    from gradcli.render.words import quiet_line as line

    return line(report)
