"""Kinks of several coordinates at once: the slope along tied coordinates moved
together, as a law every side's derivative must obey.

Each kink's own interval [left, right] holds a valid subgradient of that coordinate
alone; that is not a subgradient check for coordinates that are tied (a max-pool
window's equal maxima). Moving the kinked coordinates of a row together along
u = Σ e_j, a function that is separable there (relu at several zeros) has the sum of
their one-sided slopes; one whose kinks are one event (a tie) does not (the max of two
equal entries moved together rises with slope 1, not 2). Where the slopes along u are
not the sums, the side's Σ_j a[i, j] must lie between them: a backward that gives the
whole gradient to every tied maximum predicts 2g where the function has g.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradcli import core
from gradcli.report import BackendResult, LawCheck, backend_name

Array = np.ndarray[Any, Any]
SLACK = 4.0  # times the slopes' own error estimate
TIE = 0.25  # the slopes along u differ from the sums by this fraction of the sums: a tie


def tied_laws(
    references: Sequence[core.NumericalReference], results: Mapping[str, BackendResult]
) -> list[LawCheck]:
    """One law per side and quantity with tied kinks (after the core's refinement
    found them); none where every kink is a coordinate's own."""
    laws = []
    for ref in references:
        d = ref.differentiator
        kinks = [k for k in ref.derivative.kinks if not k.infinite]
        if d is None or len(kinks) < 2:
            continue
        m, n = ref.derivative.value.shape
        for i in sorted({k.i for k in kinks}):
            group = [k for k in kinks if k.i == i]
            if len(group) < 2:
                continue
            law = _group_law(ref, d, group, results, i, m, n)
            laws.extend(law)
    return laws


def _group_law(
    ref: core.NumericalReference,
    d: Any,
    group: list[Any],
    results: Mapping[str, BackendResult],
    i: int,
    m: int,
    n: int,
) -> list[LawCheck]:
    columns = [k.j for k in group]
    u = np.zeros(n)
    u[columns] = 1.0
    h = float(min(d.step[j] for j in columns))
    left, right, error = d.along(u, h)
    low, high = sorted((float(left[i]), float(right[i])))
    sums = sorted((sum(k.left for k in group), sum(k.right for k in group)))
    spread = max(abs(sums[0]), abs(sums[1]), 1e-300)
    if abs(low - sums[0]) + abs(high - sums[1]) <= TIE * spread:
        return []  # separable: each coordinate's own interval says it all
    slack = SLACK * float(error[i])
    where = ", ".join(ref.describe((i, j)) if ref.describe else f"[{i}, {j}]" for j in columns)
    slope = f"{low:.6g}" if low == high else f"between {low:.6g} and {high:.6g}"
    out = []
    for backend, result in results.items():
        if backend == ref.backend or ref.quantity not in result.arrays:
            continue
        value = float(result.arrays[ref.quantity].reshape(m, n)[i, columns].sum())
        violation = max(low - value, value - high, 0.0)
        out.append(
            LawCheck(
                backend_name(backend),
                f"{ref.quantity}: moving the tied {where} together has slope {slope}; "
                f"{backend} gives them {value:.6g} in all",
                violation,
                slack,
                bool(violation <= slack),
            )
        )
    return out
