"""From comparisons to findings: which backend differs on which quantity, over how many
entries and trials, and the one worst entry (`worst`, defined here once). Called by
:func:`gradcli.core.judge` only; words are render's (gradcli.render.words).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from gradcli.findings import Differs, DiffersKind, NotFinite, Worst
from gradcli.keys import Entry, Key
from gradcli.report import BackendResult, Comparison, NonFinite

# The expected side of a failure: the most exact backend that is not the odd one out.
EXPECTED_FIRST = ("torch", "numpy", "fd", "yours")
# Ratios within a relative TIE of the largest are a tie: the last bits of
# |a − ref| / allowed are rounding that another machine's BLAS breaks the other way (a
# 1-ulp tie between numpy-vs-fd and torch-vs-fd). A tie goes to what was declared first:
# the pair first in compare.BACKEND_ORDER, then the quantity first declared.
TIE = 1e-6


def ratio(c: Comparison) -> float:
    """How far the comparison's worst entry is from its allowed error (> 1: outside)."""
    gap = abs(c.worst_values[0] - c.worst_values[1])
    if gap != gap:
        return float("inf")
    return gap / c.allowed if c.allowed > 0 else (float("inf") if gap else 0.0)


def worst(comparisons: Sequence[Comparison]) -> Comparison | None:
    """THE worst: the entry furthest beyond its allowed error (any pair outside
    tolerance first), or, when every entry is within, the entry closest to its allowed
    error; on a tie, the first declared (see TIE)."""
    if not comparisons:
        return None
    failing = [c for c in comparisons if not c.ok]
    pool = failing or list(comparisons)
    largest = max(ratio(c) for c in pool)
    return next(c for c in pool if ratio(c) >= largest * (1 - TIE))


def as_worst(c: Comparison, expected: str | None = None) -> Worst:
    """The comparison's worst entry, with `expected` (when it is one of the two) as the
    reference side."""
    (a, ref), (va, vr) = c.backends, c.worst_values
    if expected is not None and a == expected:
        a, ref, va, vr = ref, a, vr, va
    return Worst(
        Entry(c.key, c.worst_index), a, ref, va, vr, c.allowed, c.max_abs_error, c.max_rel_error
    )


def differs(comparisons: Sequence[Comparison]) -> list[Differs]:
    """One finding per quantity (over its trials) where some pair is outside tolerance
    beyond its non-finite entries (those are NotFinite findings)."""
    by_base: dict[Key, list[Comparison]] = {}
    for c in comparisons:
        by_base.setdefault(c.key.base, []).append(c)
    out = []
    for base, pairs in by_base.items():
        failed = [c for c in pairs if c.n_out_of_tolerance > c.n_non_finite]
        if not failed:
            continue
        names = list(dict.fromkeys(n for c in pairs for n in c.backends))
        odd = _odd_one_out(pairs, names)
        expected = next(
            (n for n in EXPECTED_FIRST if n in names and n != odd), failed[0].backends[1]
        )
        if odd is None and len(names) == 2:  # two backends: the reference is expected
            expected = failed[0].backends[1]
        side = odd
        if side is None:
            with_expected = [c for c in failed if expected in c.backends]
            side = next(n for n in (with_expected or failed)[0].backends if n != expected)
        ours = [c for c in pairs if set(c.backends) == {side, expected}] or failed
        chosen = worst(ours)
        assert chosen is not None
        trials = {c.key.trial for c in pairs} - {None}
        out.append(
            Differs(
                key=base,
                odd=odd,
                agreeing=tuple(n for n in names if n != odd),
                n_out=sum(c.n_out_of_tolerance for c in ours),
                size=sum(c.size for c in ours),
                trials_failed=tuple(
                    sorted({t for c in ours if not c.ok if (t := c.key.trial) is not None})
                ),
                n_trials=len(trials),
                worst=as_worst(chosen, expected),
                kind=_kind(pairs, names, odd),
            )
        )
    return out


def _odd_one_out(pairs: Sequence[Comparison], names: Sequence[str]) -> str | None:
    """The one backend in every failed pair while every pair without it passes."""
    failed = [c for c in pairs if not c.ok]
    odd = [
        name
        for name in names
        if all(name in c.backends for c in failed)
        and all(c.ok for c in pairs if name not in c.backends)
    ]
    if len(odd) == 1 and len(names) > 2:  # two candidates: each agrees with the third
        return odd[0]
    if len(names) == 2 and "yours" in names:
        return "yours"
    return None


def _kind(pairs: Sequence[Comparison], names: Sequence[str], odd: str | None) -> DiffersKind:
    if odd is not None and len(names) > 2:
        return "odd"
    if len(names) == 2:
        return "pair"
    return "each" if any(c.ok for c in pairs) else "all"


def leading(found: Sequence[Differs]) -> list[Differs]:
    """The findings in the order they are told: the one holding the worst entry first
    (among those that name an odd one out, when any does: in directional mode the full
    gradient has only numpy and torch, and fd arbitrates on its projection), then in
    declared order."""
    if not found:
        return []
    named = [f for f in found if f.odd is not None] or list(found)
    largest = max(f.worst.ratio for f in named)
    first = next(f for f in named if f.worst.ratio >= largest * (1 - TIE))
    return [first, *(f for f in found if f is not first)]


def not_finite(
    found: Iterable[NonFinite],
    results: Mapping[str, BackendResult],
    keys: Mapping[str, Key],
    order: Sequence[str],
) -> list[NotFinite]:
    """Per quantity, the backends whose values are not finite; `alike` when every
    backend that computed the quantity (two at least) is not finite at the same entries
    (log(0) = −inf on numpy, torch and fd: the function, not a backend; fd's NaN beside
    autograd's inf there is the same point)."""
    position = {q: i for i, q in enumerate(order)}
    grouped: dict[str, list[NonFinite]] = {}
    for nf in sorted(found, key=lambda nf: position.get(nf.quantity, len(position))):
        grouped.setdefault(nf.quantity, []).append(nf)
    out = []
    for quantity, records in grouped.items():
        having = [r.arrays[quantity] for r in results.values() if quantity in r.arrays]
        masks = [~np.isfinite(a) for a in having]
        alike = (
            len(having) > 1
            and len(records) == len(having)
            and all(np.array_equal(m, masks[0]) for m in masks)
        )
        out.append(
            NotFinite(
                keys.get(quantity, Key(quantity)),
                tuple(nf.backend for nf in records),
                records[0].count,
                records[0].first_index,
                alike,
            )
        )
    return out
