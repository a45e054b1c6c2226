"""The verdict in words, made from the core's typed findings (gradcli.findings): the one
place its sentences are made. Every view, --quiet, the JSON's `verdict.summary` and the
pytest helper say the verdict with these functions, so they say it the same way; nothing
reads these sentences back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gradcli.findings import (
    Differs,
    Excused,
    Failure,
    KinkOutside,
    LawBroken,
    NotFinite,
    Pattern,
    Worst,
)
from gradcli.keys import Key
from gradcli.report import KinkInfo, Report

FD = "fd (finite differences)"  # what "fd" is, said where it first appears


def join(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


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


def who(f: Differs) -> str:
    """Which backend differs from which: "torch and fd agree, yours differs"."""
    w = f.worst
    if f.kind == "odd" and f.odd is not None:
        return f"{join(f.agreeing)} agree, {f.odd} differs"
    if f.kind == "pair" and f.odd is not None:
        return f"{f.odd} differs from {w.reference}"
    if f.kind == "pair":
        return f"{join(f.agreeing)} disagree"
    if f.kind == "all":
        return "all three backends differ"
    third = next((n for n in f.agreeing if n not in (w.backend, w.reference)), "the third")
    return f"{w.backend} and {w.reference} differ from each other although each agrees with {third}"


def counts(f: Differs) -> str:
    text = f"in {f.n_out} of {f.size} entries"
    if f.n_trials > 1:
        text += f", {len(f.trials_failed)} of {plural(f.n_trials, 'trial')}"
    return text


def worst_line(w: Worst) -> str:
    """THE worst entry, said once for every view: where, both values, what was allowed,
    and assert_allclose's max abs and max rel difference of that pair beside it."""
    mine, theirs = told_apart(w.value, w.expected)
    how = "furthest beyond its allowed error" if w.outside else "closest to its allowed error"
    if w.difference == 0 and w.max_abs == 0:
        return f"worst: none, every difference is exactly 0 ({w.backend} vs {w.reference})"
    return (
        f"worst ({how}): {w.entry}: {w.backend} {mine} vs {w.reference} {theirs}, "
        f"allowed ±{w.allowed:.2g}; max abs diff {w.max_abs:.3g}, max rel diff {w.max_rel:.3g}"
    )


def pattern_words(p: Pattern, every: bool = True) -> str:
    text = {
        "zero": "yours is zero where the reference is not (a term dropped)",
        "sign": "yours has the wrong sign",
        "transpose": "yours is the transpose of the Jacobian",
        "diagonal": "diagonal right, "
        + (
            "off-diagonal entries wrong"
            if p.wrong == p.of
            else f"{p.wrong} of {p.of} off-diagonal entries wrong"
        ),
        "factor": f"wrong by a constant factor {_factor(p.factor)}"
        + (
            f" (negated: a gradient reversal layer's? --surrogate {p.factor:.6g} declares it)"
            if p.factor < 0
            else ""
        ),
        "identity": "yours passes the gradient through unchanged, an identity backward "
        "(a straight-through estimator's? --surrogate identity declares it)",
    }[p.kind]
    return text if every or not p.trials else f"{text} ({trials_words(p.trials)})"


def _factor(mean: float) -> str:
    """The factor with the digits that tell it from 1: 0.125, or 1 + 1e-08 (a factor
    printed as a bare 1 would say nothing is wrong)."""
    if f"{mean:.6g}" != "1":
        return f"{mean:.6g}"
    return f"1 {'+' if mean >= 1 else '−'} {abs(mean - 1):.2g}"


def patterns(report: Report, key: Key) -> str:
    """The named patterns of one quantity, with the trials each was seen in (when not
    all of them)."""
    found = report.verdict.patterns(key)
    trials = {t for p in found for t in p.trials}
    return "; ".join(pattern_words(p, set(p.trials) == trials) for p in found)


def not_finite(f: NotFinite) -> str:
    alike = " alike" if f.alike else ""
    return (
        f"{f.key}: {plural(f.count, 'element')} not finite on {join(f.backends)}{alike}, "
        f"first at {list(f.first_index)}"
    )


def kink(k: KinkInfo | KinkOutside) -> str:
    values = k.values.items() if isinstance(k, KinkInfo) else k.values
    takers: dict[str, list[str]] = {}
    for name, v in values:
        takers.setdefault(f"{v:.6g}", []).append(name)
    took = "; ".join(
        f"{join(names)} {'takes' if len(names) == 1 else 'take'} {v}" for v, names in takers.items()
    )
    if isinstance(k, KinkInfo) and k.infinite:
        return f"{k.at}: the derivative is infinite; {took}"
    return f"{k.at}: one-sided slopes {k.left:.6g} and {k.right:.6g}; {took}"


def failure(f: Failure) -> str:
    """One failure in one line."""
    if isinstance(f, Differs):
        return f"{f.key}: {who(f)} {counts(f)}"
    if isinstance(f, NotFinite):
        return not_finite(f)
    if isinstance(f, LawBroken) and f.rate is not None:
        return (
            f"law broken on {f.backend}: {f.law} in trial {f.trial} "
            f"(rate {f.rate:.2f}; right: 2, wrong: 1)"
        )
    if isinstance(f, LawBroken):
        return (
            f"law broken on {f.backend}: {f.law} (violation {f.violation:.3g} > "
            f"allowed {f.allowed:.3g})"
        )
    return f"outside the derivative at a kink: {kink(f)}"


def status_line(report: Report, *, spelled: bool = False) -> str:
    """The verdict's first line: its status, first word of every view. `spelled`: with
    "fd" spelled out, as a view says it on first use."""
    v = report.verdict
    failures = v.failures()
    if failures:
        text = f"{v.status}: {failure(failures[0])}"
    elif (excused := v.excused()) is not None:
        text = (
            "OK: yours is the declared surrogate, not the derivative"
            if excused.rule == "surrogate"
            else "OK: the Taylor test passes in every trial"
        )
    else:
        text = _ok(report)
    return re.sub(r"\bfd\b", FD, text, count=1) if spelled else text


def _ok(report: Report) -> str:
    names = join(list(report.results)) or "no backend"
    quantities = list(dict.fromkeys(str(c.key.base) for c in report.comparisons))
    if len(quantities) > 8:
        what = f"all {len(quantities)} quantities"
    else:
        what = join(quantities) if quantities else "the results"
    laws = "; every law holds" if report.laws else ""
    if len(report.results) == 1:
        text = f"OK: only {names} ran, so nothing was compared{laws}"
    else:
        text = f"OK: {names} agree on {what} within tolerance{laws}"
    if report.kinks:
        more = f" (and {len(report.kinks) - 1} more kinks)" if len(report.kinks) > 1 else ""
        text += f"; kink: {kink(report.kinks[0])}{more}"
    return text


def details(report: Report) -> tuple[str, ...]:
    """One line per failure; a rule's decision says what it excused."""
    v = report.verdict
    excused = v.excused()
    if excused is not None:
        return tuple(excused_line(excused))
    return tuple(failures(v.failures(), report))


def failures(found: Sequence[Failure], report: Report | None = None) -> list[str]:
    """A line per failure; a law broken in several trials (the Taylor test) once. With
    the report, a difference's line ends with its named patterns."""
    out: list[str] = []
    trials: dict[tuple[str, str], list[LawBroken]] = {}
    for f in found:
        if isinstance(f, LawBroken) and f.rate is not None:
            if (f.backend, f.law) not in trials:
                out.append(f"law:{len(trials)}")  # its place, filled below
            trials.setdefault((f.backend, f.law), []).append(f)
        elif isinstance(f, Differs) and report is not None and (named := patterns(report, f.key)):
            out.append(f"{failure(f)}; pattern: {named}")
        else:
            out.append(failure(f))
    for n, ((backend, law), broken) in enumerate(trials.items()):
        rates = ", ".join(f"{b.rate:.2f}" for b in broken)
        which = trials_words([b.trial for b in broken if b.trial is not None])
        line = f"law broken on {backend}: {law} in {which} (rate {rates}; right: 2, wrong: 1)"
        out[out.index(f"law:{n}")] = line
    return out


def excused_line(e: Excused) -> list[str]:
    what = "; ".join(failure(f) for f in e.excused)
    if e.rule == "surrogate":
        return [f"as declared, yours is not the derivative ({what})"]
    return [
        "fd differs, but only fd, and the Taylor remainder falls as h² in every trial: "
        f"the Taylor test decides ({what})"
    ]


def sentences(report: Report) -> tuple[str, tuple[str, ...]]:
    return status_line(report), details(report)


def headline(report: Report) -> list[str]:
    """The verdict's first line, its pattern and the worst entry."""
    parts = [status_line(report)]
    first = next(iter(report.verdict.differs()), None)
    if first is not None and (named := patterns(report, first.key)):
        parts.append(f"pattern: {named}")
    if report.worst is not None:
        parts.append(worst_line(report.worst))
    agreed = agreed_line(report)
    if agreed:
        parts.append(agreed)
    return parts


def agreed_line(report: Report) -> str:
    """On a disagreement, what did agree: the quantities whose every comparison holds
    (the other gradients of a multi-input check); empty when nothing did, or on a pass."""
    if report.verdict.ok:
        return ""
    failed = {c.key.base for c in report.comparisons if not c.ok}  # every Differs' too
    agreed = list(dict.fromkeys(c.key.base for c in report.comparisons if c.key.base not in failed))
    if not agreed:
        return ""
    names = join([str(k) for k in agreed])
    return f"{names} {'agrees' if len(agreed) == 1 else 'agree'} on every backend"


def others(report: Report) -> list[str]:
    """The failures after the first, a line each (their patterns with them)."""
    return failures(report.verdict.failures(), report)[1:]


def quiet_line(report: Report) -> str:
    """--quiet: the verdict's first line, its pattern, the worst entry and the other
    failures, one line."""
    return "; ".join(headline(report) + others(report))
