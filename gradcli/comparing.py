"""The core's comparisons: every pair of backends on every quantity both have, the
reference of a pair fd when present, else torch; where some backend is outside, the
numerical reference refined on those columns (within REFINE_BUDGET) and every pair
compared again. Called by gradcli.core.judge only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import combinations

import numpy as np

from gradcli import compare
from gradcli.declaration import NumericalReference, Quantity
from gradcli.report import (
    Array,
    BackendResult,
    Comparison,
)
from gradcli.spec import RunOptions

# Refinement is paid for only where the cheap reference was inconclusive, and at most
# this many element-evaluations of f (columns × 7 evaluations × n inputs) per quantity.
REFINE_BUDGET = 4e7
ROUNDING_FACTOR = 8.0  # of a Quantity's measured rounding noise (the max of a few samples)


def compare_all(
    results: Mapping[str, BackendResult],
    quantities: Sequence[Quantity],
    refs: dict[tuple[str, str], NumericalReference],
    options: RunOptions,
    refine: bool,
) -> tuple[Comparison, ...]:
    names = [b for b in compare.BACKEND_ORDER if b in results] + [
        b for b in results if b not in compare.BACKEND_ORDER
    ]
    out: list[Comparison] = []
    for q in quantities:
        pairs = [
            compare.reference_order(x, y)
            for x, y in combinations(names, 2)
            if q.name in results[x].arrays and q.name in results[y].arrays
        ]
        numerical = next((refs[(r, q.name)] for _, r in pairs if (r, q.name) in refs), None)
        done = compare_quantity(results, q, pairs, refs, options)
        noise = None
        rounding = q.rounding if options.atol is None else None  # --atol replaces it
        if rounding is not None and any(c.n_out_of_tolerance > c.n_non_finite for c, _ in done):
            noise = ROUNDING_FACTOR * rounding()
            done = compare_quantity(results, q, pairs, refs, options, noise)
        if refine and numerical is not None and numerical.differentiator is not None:
            # every pair's failing columns: where two backends disagree, fd arbitrates
            # only if it is precise there
            n = numerical.derivative.value.shape[1]
            failing = failing_columns(done, n)
            if q.ulps is not None:
                failing |= unresolved(results, q, pairs, refs, options, noise, n)
            if failing.any() and refine_columns(numerical, np.flatnonzero(failing)):
                done = compare_quantity(results, q, pairs, refs, options, noise)
        out.extend(c for c, _ in done)
    return tuple(out)


def unresolved(
    results: Mapping[str, BackendResult],
    q: Quantity,
    pairs: list[tuple[str, str]],
    refs: dict[tuple[str, str], NumericalReference],
    options: RunOptions,
    noise: Array | None,
    n: int,
) -> Array:
    """The columns where some pair agrees only thanks to the reference's own error: the
    reference cannot tell there (a cheap fd good to 2e-10 does not see a relative error
    of 1e-10; one good to 1.5 % sees nothing), so it is refined there, not trusted."""
    done = compare_quantity(results, q, pairs, refs, options, noise, with_error=False)
    return failing_columns(done, n)


def failing_columns(done: Sequence[tuple[Comparison, Array]], n: int) -> Array:
    """The reference's columns (of n) where some pair of `done` failed."""
    columns = np.zeros(n, dtype=bool)
    for _, cols in done:
        columns |= cols
    return columns


def compare_quantity(
    results: Mapping[str, BackendResult],
    q: Quantity,
    pairs: list[tuple[str, str]],
    refs: dict[tuple[str, str], NumericalReference],
    options: RunOptions,
    noise: Array | None = None,
    *,
    with_error: bool = True,
) -> list[tuple[Comparison, Array]]:
    of_quantity = next((r for (_, name), r in refs.items() if name == q.name), None)
    kinks = tuple(of_quantity.derivative.kinks) if of_quantity else ()
    view = q.view
    if of_quantity is not None:  # the reference's (m, n): its kinks and columns index it
        rows, cols = of_quantity.derivative.value.shape
        view = (rows, cols)
    bands: dict[tuple[str, int], compare.Allowed] = {}

    def band(precision: str, numerical: NumericalReference | None) -> compare.Allowed:
        # one Allowed object per precision and reference error: the pairs that judge
        # against the same reference array with it share one band (compare_views)
        key = (precision, id(numerical))
        if key not in bands:
            bands[key] = compare.allowed_for(
                precision,
                q.scale,
                q.n_terms,
                options.rtol,
                options.atol,
                error=numerical.derivative.error if numerical is not None and with_error else None,
                kinks=kinks,
                floor_scale=q.floor_scale,
                condition=q.condition,
                ulps=q.ulps,
            )
            if noise is not None:  # the computation's own rounding, on every pair's atol
                bands[key] = replace(bands[key], atol=bands[key].atol + noise)
        return bands[key]

    jobs = []
    for a_name, ref_name in pairs:
        a, ref = results[a_name], results[ref_name]
        numerical = refs.get((ref_name, q.name))
        allowed = band(a.precision, numerical)
        if numerical is None and ref.precision != "fd":
            # two backends, neither a numerical reference: the looser precision of the two
            other = band(ref.precision, None)
            if other.rtol > allowed.rtol:
                allowed = compare.Allowed(other.rtol, other.atol, None, allowed.c, kinks)
            if of_quantity is not None and q.ulps is None:
                # a difference between two backends below the numerical reference's own
                # resolution is not a verdict: fd arbitrates there, and where it is
                # refined (complex step) its error is a few ulp. A quantity whose bands
                # are measured (`ulps`) is judged on them: fd that cannot resolve the
                # difference (a forward in float32 inside) arbitrates nothing
                error = of_quantity.derivative.error if with_error else None
                allowed = compare.Allowed(allowed.rtol, allowed.atol, error, allowed.c, kinks)
        jobs.append(((a_name, ref_name), a.arrays[q.name], ref.arrays[q.name], allowed))
    return compare.compare_views(q.name, jobs, view)


def refine_columns(numerical: NumericalReference, columns: Array) -> bool:
    """Refine the columns that some backend found inconclusive; False if none could be."""
    d = numerical.differentiator
    assert d is not None
    per_column = 7 * max(d.x.size, 1)
    fresh = [int(j) for j in columns if int(j) not in numerical.derivative.error.refined]
    fresh = fresh[: max(1, int(REFINE_BUDGET // per_column))]
    if not fresh:
        return False
    if numerical.analytic:
        d.complex_step(numerical.derivative, fresh)
    else:
        d.richardson(numerical.derivative, fresh)
    return True
