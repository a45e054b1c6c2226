"""What a failed `gradcli check` says beyond the numbers: the shape of the mistake
(wrong sign, transposed, diagonal only, a constant factor) and the worst entries, yours
beside the reference."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from gradcli.findings import Pattern
from gradcli.keys import Key
from gradcli.report import Array, BackendResult, Comparison, Tolerance

WORST_SHOWN = 5


def _failed_pairs(comparisons: Sequence[Comparison]) -> list[Comparison]:
    return [c for c in comparisons if c.backends[0] == "yours" and not c.ok]


def patterns(
    results: Mapping[str, BackendResult],
    comparisons: Sequence[Comparison],
    identity: Mapping[str, Callable[[], Array]] | None = None,
) -> tuple[Pattern, ...]:
    """Name the shape of a wrong derivative, when it has one, with the trials where it
    was seen (against any reference)."""
    first: dict[tuple[Key, str, int, int, str], Pattern] = {}
    trials: dict[tuple[Key, str, int, int, str], set[int]] = {}
    with np.errstate(all="ignore"):  # a non-finite element is named by the verdict already
        for c in _failed_pairs(comparisons):
            for p in _pattern(results, c, identity or {}):
                slot = (p.key, p.kind, p.wrong, p.of, f"{p.factor:.6g}")
                first.setdefault(slot, p)
                trials.setdefault(slot, set()).update(p.trials)
    return tuple(replace(p, trials=tuple(sorted(trials[k]))) for k, p in first.items())


def _pattern(
    results: Mapping[str, BackendResult], c: Comparison, identity: Mapping[str, Callable[[], Array]]
) -> list[Pattern]:
    """The patterns of one failed pair. `identity`: what an identity backward gives
    (the cotangent passed through), by quantity, where it means something."""
    yours = results["yours"].arrays[c.quantity].astype(np.float64)
    ref = results[c.backends[1]].arrays[c.quantity].astype(np.float64)
    tol = c.tolerance
    trials = (c.key.trial,) if c.key.trial is not None else ()
    base = c.key.base

    def close(a: Array, b: Array, tol: Tolerance = tol) -> bool:
        return bool(np.all(np.abs(a - b) <= tol.atol + tol.rtol * np.abs(b)))

    big = np.abs(ref) > 10 * tol.atol
    square = yours.ndim == 2 and yours.shape[0] == yours.shape[1]
    if not yours.any() and big.any():
        return [Pattern(base, "zero", trials)]
    same = identity.get(c.quantity)
    if same is not None and close(yours.ravel(), np.ravel(same())):
        return [Pattern(base, "identity", trials)]
    if close(yours, -ref):
        return [Pattern(base, "sign", trials)]
    if square and close(yours, ref.T):
        return [Pattern(base, "transpose", trials)]
    if square and close(np.diag(yours), np.diag(ref)):
        off = ~np.eye(yours.shape[0], dtype=bool)
        if c.outside is not None and c.outside.shape == yours.shape:
            wrong = c.outside & off  # the core's own judgement, element by element
        else:
            wrong = ~(np.abs(yours - ref) <= tol.atol + tol.rtol * np.abs(ref)) & off
        k, m = int(np.count_nonzero(wrong)), int(np.count_nonzero(off))
        return [Pattern(base, "diagonal", trials, k, m)]
    if big.any():
        ratio = yours[big] / ref[big]
        if np.ptp(ratio) <= 1e-6 * abs(float(ratio.mean())):
            return [Pattern(base, "factor", trials, factor=float(ratio.mean()))]
    return []


def describe(
    results: Mapping[str, BackendResult],
    comparisons: Sequence[Comparison],
    identity: Mapping[str, Callable[[], Array]] | None = None,
) -> tuple[tuple[Pattern, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """What check declares to the core (core.Describe, `identity` bound): the patterns
    and the worst entries of each failed quantity."""
    found = patterns(results, comparisons, identity)
    return found, tuple(worst_entries(results, comparisons))


def worst_entries(
    results: Mapping[str, BackendResult], comparisons: Sequence[Comparison]
) -> list[tuple[str, tuple[str, ...]]]:
    sections = []
    chosen: dict[str, Comparison] = {}
    for c in _failed_pairs(comparisons):  # one table per quantity, against fd if it ran
        if c.quantity not in chosen or c.backends[1] == "fd":
            chosen[c.quantity] = c
    for c in chosen.values():
        yours = results["yours"].arrays[c.quantity].astype(np.float64)
        ref = results[c.backends[1]].arrays[c.quantity].astype(np.float64)
        with np.errstate(all="ignore"):
            gap = np.nan_to_num(np.abs(yours - ref), nan=np.inf)
        order = np.argsort(gap, axis=None)[::-1][:WORST_SHOWN]
        lines = []
        for flat in order:
            index = tuple(int(i) for i in np.unravel_index(flat, gap.shape))
            lines.append(
                f"{list(index)}: yours {yours[index]:.8g}, {c.backends[1]} {ref[index]:.8g}, "
                f"difference {yours[index] - ref[index]:.3g}"
            )
        sections.append((f"Worst entries of {c.key}, yours vs {c.backends[1]}", tuple(lines)))
    return sections
