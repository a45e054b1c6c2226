"""How the numerical references were made, in words: which quantities each reference
computed, by which rung of gradcli.references' ladder, over how many inputs, and how
precise they are ("fd: J by central differences over 3 inputs, error ≤ 2.6e-10"). The
default view writes one line of it; --detail a row per quantity.

The rungs, as `ReferenceInfo.columns` names them: "cheap" (central differences at one
step, error the rounding bound), "richardson" (central differences at h, 2h and 4h,
extrapolated twice, with kinks), "complex step" (Im f(x + ih)/h, a few ulp).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gradcli.render.findings import plural
from gradcli.report import Report

REFINED = {
    "richardson": "Richardson extrapolation",
    "complex step": "the complex step (exact to a few ulp)",
}


def method_words(columns: Mapping[str, int], in_all: bool = False) -> str:
    """{"cheap": 3, "richardson": 2} → "central differences over 3 inputs, 2 of them
    refined by Richardson extrapolation"."""
    cheap = columns.get("cheap", 0)
    if cheap:
        text = f"central differences over {plural(cheap, 'input')}"
        text += " in all" if in_all else ""
        for how, n in columns.items():
            if how == "cheap" or not n:
                continue
            which = "every one" if n >= cheap else f"{n} of them"
            text += f", {which} refined by {REFINED.get(how, how)}"
        return text
    parts = [f"{REFINED.get(how, how)} over {plural(n, 'input')}" for how, n in columns.items()]
    return ", ".join(parts) or "no input"


def short_name(report: Report, quantity: str) -> str:
    """A quantity's one name without its trial: "J", "dW", "a.grad", "vjp.W"."""
    return report.key(quantity).name


def _names(report: Report, quantities: Sequence[str]) -> str:
    """The quantities' names, trials folded: "J in each of 3 trials", "∂L/∂s and ∂L/∂W"."""
    trials: dict[str, list[int | None]] = {}
    for q in quantities:
        trials.setdefault(short_name(report, q), []).append(report.key(q).trial)
    seen_sets = {tuple(seen) for seen in trials.values()}
    if len(trials) > 1 and len(seen_sets) == 1 and len(next(iter(seen_sets))) > 1:
        names = list(trials)  # every quantity in the same trials: said once, at the end
        joined = ", ".join(names[:-1]) + " and " + names[-1]
        return f"{joined} in each of {len(next(iter(seen_sets)))} trials"
    names = []
    for name, seen in trials.items():
        numbered = [t for t in seen if t is not None]
        if len(numbered) > 1:
            name += f" in each of {len(numbered)} trials"
        elif numbered:
            name += f" in trial {numbered[0]}"
        names.append(name)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def line(report: Report) -> str:
    """One sentence for the default view, "" when no numerical reference ran."""
    grouped: dict[tuple[str, tuple[str, ...]], list[Any]] = {}
    for ref in getattr(report, "references", ()):
        kinds = tuple(k for k, n in ref.columns.items() if n)
        grouped.setdefault((ref.backend, kinds), []).append(ref)
    parts = []
    for (backend, _), refs in grouped.items():
        names = _names(report, [r.quantity for r in refs])
        error = max(r.max_error for r in refs)
        same = {report.key(r.quantity).base for r in refs} == {report.key(refs[0].quantity).base}
        if same and all(r.columns == refs[0].columns for r in refs):  # each trial alike
            how = method_words(refs[0].columns)
        else:
            columns: dict[str, int] = {}
            for r in refs:
                for kind, n in r.columns.items():
                    columns[kind] = columns.get(kind, 0) + n
            how = method_words(columns, in_all=len(refs) > 1)
        parts.append(f"{backend}: {names} by {how}, error ≤ {error:.2g}")
    return "; ".join(parts)


def rows(report: Report) -> list[tuple[str, str, str, str]]:
    """--detail: (backend, quantity, how, error) for each reference and quantity."""
    return [
        (r.backend, str(report.key(r.quantity)), method_words(r.columns), f"{r.max_error:.2g}")
        for r in getattr(report, "references", ())
    ]
