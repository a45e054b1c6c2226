"""What the answer-first view says, read off a Report: for each quantity the one result
to show, and for each failure which backend differs, in how many entries and trials,
the named pattern and the worst entry against the expected value.

No rich here: this is the view's model, shared by the terminal view, --quiet and the
pictures. It reads the Report only (render never feeds back into problems).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gradcli.report import Array, Comparison, Report

# Whose numbers a result is shown with when the backends agree: the derivative under
# test first (check), then the most exact backend.
SHOWN_FIRST = ("yours", "numpy", "torch", "fd")
# The expected side of a failure: the most exact backend that is not the odd one out.
EXPECTED_FIRST = ("torch", "numpy", "fd", "yours")
TRIAL = re.compile(r"\Atrial(\d+)\.(.+)\Z")


def split_trial(quantity: str) -> tuple[int | None, str]:
    """(trial, base): "trial2.jacobian" → (2, "jacobian"); "dW" → (None, "dW")."""
    match = TRIAL.match(quantity)
    return (int(match.group(1)), match.group(2)) if match else (None, quantity)


def ratio(c: Comparison) -> float:
    """How far the comparison's worst entry is from its allowed error (> 1: outside)."""
    gap = abs(c.worst_values[0] - c.worst_values[1])
    if gap != gap:
        return float("inf")
    return gap / c.allowed if c.allowed > 0 else (float("inf") if gap else 0.0)


@dataclass(frozen=True)
class Failure:
    """One quantity (over all its trials) on which a backend differs."""

    base: str  # the quantity without its trial prefix: "jacobian", "dW", "grads.a"
    odd: str | None  # the backend that differs; None when no single one does
    expected: str  # the backend whose values are shown as expected
    agreeing: tuple[str, ...]  # the other backends, which agree with each other
    worst: Comparison  # odd vs expected, where the difference is largest against allowed
    n_out: int  # entries out of tolerance, over every trial
    size: int
    trials_failed: tuple[int, ...]
    n_trials: int
    pattern: str | None

    @property
    def trial(self) -> int | None:
        return split_trial(self.worst.quantity)[0]

    @property
    def differing(self) -> str:
        return self.odd or self.worst.backends[0]

    def values(self, report: Report) -> tuple[Array, Array]:
        """(differing, expected) arrays of the worst trial."""
        q = self.worst.quantity
        return report.results[self.differing].arrays[q], report.results[self.expected].arrays[q]


def trial_position(report: Report, trial: int) -> int:
    """Where trial K's input is in the report's list (a --trial rerun holds only K)."""
    trials = sorted(
        {t for c in report.comparisons if (t := split_trial(c.quantity)[0]) is not None}
    )
    return trials.index(trial) if trial in trials else trial


def failing_inputs(report: Report) -> dict[str, Any]:
    """The worst failing trial's inputs: its number, x and (in vjp modes) the cotangent g.
    Empty when nothing failed or the report has no trials."""
    found = failures(report)
    if not found or found[0].trial is None:
        return {}
    trial = found[0].trial
    position = trial_position(report, trial)
    xs = report.inputs.get("x")
    out: dict[str, Any] = {"trial": trial}
    if isinstance(xs, list) and position < len(xs):
        out["x"] = xs[position]
    cotangents = report.extra.get("cotangents")
    if isinstance(cotangents, list) and position < len(cotangents):
        out["g"] = cotangents[position]
    return out


def shown_backend(report: Report, quantity: str) -> str:
    having = [n for n in report.results if quantity in report.results[n].arrays]
    return next((n for n in SHOWN_FIRST if n in having), having[0])


def failures(report: Report) -> list[Failure]:
    out = []
    bases = dict.fromkeys(split_trial(c.quantity)[1] for c in report.comparisons)
    patterns = _patterns(report)
    for base in bases:
        pairs = [c for c in report.comparisons if split_trial(c.quantity)[1] == base]
        # only non-finite elements out: said as "not finite" by the verdict, not as "differ"
        failed = [c for c in pairs if c.n_out_of_tolerance > c.n_non_finite]
        if not failed:
            continue
        odd = _odd_one_out(pairs)
        names = list(dict.fromkeys(n for c in pairs for n in c.backends))
        expected = next(
            (n for n in EXPECTED_FIRST if n in names and n != odd),
            failed[0].backends[1],
        )
        odd_side: str | None = None
        if odd is None:
            odd_side = failed[0].backends[0] if failed[0].backends[1] == expected else None
            candidates = [c for c in failed if expected in c.backends]
            odd_side = odd_side or (candidates[0].backends[0] if candidates else None)
        ours = [c for c in pairs if set(c.backends) == {odd or odd_side, expected}]
        ours = ours or failed
        worst = max(ours, key=lambda c: (not c.ok, ratio(c)))
        if worst.backends[1] != expected and expected in worst.backends:
            worst = _swap(worst)
        trials = {split_trial(c.quantity)[0] for c in pairs}
        failed_trials = sorted(
            {t for c in ours if not c.ok if (t := split_trial(c.quantity)[0]) is not None}
        )
        out.append(
            Failure(
                base=base,
                odd=odd,
                expected=worst.backends[1],
                agreeing=tuple(n for n in names if n != odd),
                worst=worst,
                n_out=sum(c.n_out_of_tolerance for c in ours),
                size=sum(c.size for c in ours),
                trials_failed=tuple(failed_trials),
                n_trials=len(trials - {None}),
                pattern=patterns.get(base),
            )
        )
    return out


def _swap(c: Comparison) -> Comparison:
    """The same comparison with its sides named the other way round (for display)."""
    from dataclasses import replace

    return replace(c, backends=c.backends[::-1], worst_values=c.worst_values[::-1])


def _odd_one_out(pairs: Sequence[Comparison]) -> str | None:
    """The one backend in every failed pair while every pair without it passes."""
    names = list(dict.fromkeys(n for c in pairs for n in c.backends))
    failed = [c for c in pairs if not c.ok]
    for name in names:
        in_all_failed = all(name in c.backends for c in failed)
        others_pass = all(c.ok for c in pairs if name not in c.backends)
        if in_all_failed and others_pass and len(names) > 2:
            return name
    if len(names) == 2 and "yours" in names:
        return "yours"
    return None


def _patterns(report: Report) -> dict[str, str]:
    """The named pattern of a failure per base quantity, with the trials it was seen in.

    Read from a structured field when the problem gives one, else from the verdict's
    detail lines of the form "<quantity>: <pattern>" that are not odd-one-out lines."""
    given = report.extra.get("patterns") if isinstance(report.extra, dict) else None
    found: dict[str, dict[str, list[int]]] = {}
    lines: list[tuple[str, str]] = []
    if isinstance(given, list):
        lines = [(str(p.get("quantity", "")), str(p.get("pattern", ""))) for p in given]
    else:
        quantities = {c.quantity for c in report.comparisons}
        for detail in report.verdict.details:
            quantity, sep, text = detail.partition(": ")
            if sep and quantity in quantities and not re.search(r"agree|differ", text):
                lines.append((quantity, text))
    for quantity, text in lines:
        trial, base = split_trial(quantity)
        found.setdefault(base, {}).setdefault(text, []).append(-1 if trial is None else trial)
    named = {}
    for base, texts in found.items():
        parts = []
        for text, trials in texts.items():
            real = [t for t in trials if t >= 0]
            every = len(real) == len({t for ts in texts.values() for t in ts})
            parts.append(f"{text} ({trials_words(real)})" if real and not every else text)
        named[base] = "; ".join(parts)
    return named


def trials_words(trials: Sequence[int]) -> str:
    if len(trials) == 1:
        return f"trial {trials[0]}"
    return "trials " + ", ".join(map(str, trials))


def told_apart(a: float, b: float, least: int = 6) -> tuple[str, str]:
    """Two values with the fewest significant digits (at least `least`) that tell them
    apart: not "-0.000889145 vs -0.000889145"; -0.0 reads 0."""
    a, b = a + 0.0, b + 0.0
    digits = next((d for d in (least, 9, 12, 17) if f"{a:.{d}g}" != f"{b:.{d}g}"), 17)
    return f"{a:.{digits}g}", f"{b:.{digits}g}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


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
    """The comparison nearest its tolerance (the "largest difference" of a pass). Ratios
    within TIE of the largest are a tie, won by the first in the report's order (numpy's
    pair before torch's): numpy and torch often sit an ulp apart against the same fd,
    and which one is an ulp further must not decide what the view names."""
    if not report.comparisons:
        return None
    largest = max(ratio(c) for c in report.comparisons)
    return next(c for c in report.comparisons if ratio(c) >= largest * (1 - TIE))


TIE = 1e-6  # relative: two ratios this close name the same gap


def quiet_line(report: Report) -> str:
    """--quiet: one line that keeps the counts and the pattern."""
    if report.ok:
        return report.verdict.summary
    found = failures(report)
    if not found:
        return report.verdict.summary
    parts = []
    for f in found:
        who = f"{f.odd} differs" if f.odd else f"{f.worst.backends[0]} and {f.expected} disagree"
        trials = ""
        if f.n_trials > 1:
            trials = f", {len(f.trials_failed)} of {plural(f.n_trials, 'trial')}"
        text = f"{f.base}: {who} in {f.n_out} of {f.size} entries{trials}"
        if f.pattern:
            text += f"; pattern: {f.pattern}"
        parts.append(text)
    extra = [d for d in report.verdict.details if d.startswith("law broken")]
    return "DISAGREE: " + "; ".join(parts + extra)
