"""Compare backends pairwise, find non-finite results, and give the verdict (with the
laws of `gradcli.laws`). `gradcli.core.judge` drives it for every problem.

Pass criterion, element by element: ``|a − ref| ≤ atol + rtol·|ref| + c·error(ref)``,
every element finite (a NaN checked against a NaN verifies nothing). `error(ref)` is
the numerical reference's own estimate (gradcli.references); at a kink the reference is
the interval between the one-sided slopes. The reference of a pair is fd when fd is in
it, else torch.

Default tolerances follow the precision of the side under test (`allowed_for`): atol on
the quantity's scale, which the problem supplies from its inputs or from the reference
side, never from the side under test (softmax's Jacobian: the per-row s_i/T). Sums over
n terms accumulated in 8 SIMD lanes (torch's float32 softmax) lose up to n/8 roundings:
measured, torch float32 on z = [0, −40, …, −40], T = 3, n = 8192 is off by 2.4e-5 of the
scale, while n·ε/8 = 1.2e-4.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np

from gradcli import blockstats, parallel, references, sweep
from gradcli.blockstats import Allowed as Allowed  # re-exported: problems build bands
from gradcli.report import Array, BackendResult, Comparison, NonFinite, Tolerance

# rtol, and atol as a fraction of the quantity's scale, by the precision of a side.
#  float64: a few ulp (ε ≈ 2.2e-16) of rounding, grown by sums over n terms: 1e-9 leaves
#           a margin of 10⁵ and still sees any wrong formula.
#  fd:      central differences in float64 are good to about ε^(2/3) ≈ 4e-11 of the
#           scale (truncation h² against rounding ε/h); 1e-6 leaves a margin of 10⁴.
#  float32: ε ≈ 1.2e-7, and sums over thousands of terms lose a few more bits; 1e-4
#           does not fail correct float32 code (as gradcheck's float64 defaults would)
#           and still catches a factor of 1.001.
DEFAULT_TOLERANCE = {
    "float64": Tolerance(rtol=1e-9, atol=1e-12),
    "fd": Tolerance(rtol=1e-6, atol=1e-8),
    "float32": Tolerance(rtol=1e-4, atol=1e-6),
    # check --dtype float16/bfloat16: 2ε of the dtype (a right mixed-precision result is
    # rounded once, ε/2; measured ≤ 0.23 of this on a bf16 linear backward)
    "float16": Tolerance(rtol=2 * 2.0**-10, atol=2 * 2.0**-10),
    "bfloat16": Tolerance(rtol=2 * 2.0**-7, atol=2 * 2.0**-7),
}
EPSILON = {"float64": 2.0**-52, "float32": 2.0**-23, "fd": 2.0**-52}
EPSILON |= {"float16": 2.0**-10, "bfloat16": 2.0**-7}
TINY = {"float64": 2.0**-1022, "float32": 2.0**-126, "fd": 2.0**-1022}
TINY |= {"float16": 2.0**-14, "bfloat16": 2.0**-126}
SIMD_LANES = 8
ERROR_FACTOR = 2.0  # c in atol + rtol·|ref| + c·error: the estimate is an estimate
BACKEND_ORDER = ("yours", "numpy", "torch", "fd")  # "yours": gradcli check's derivative
CHUNK = 1 << 18  # elements per step (2 MiB of float64): no n² temporary, and cache-sized


def tolerance_for(
    precisions: Sequence[str],
    scale: float,
    n_terms: int = 1,
    rtol: float | None = None,
    atol: float | None = None,
) -> Tolerance:
    """The looser default of the precisions involved, unless the user gave rtol/atol.

    A user's atol is absolute; the default is (atol + n·ε/8) times the quantity's scale.
    """
    default_rtol = max(DEFAULT_TOLERANCE[p].rtol for p in precisions)
    default_atol = max(
        DEFAULT_TOLERANCE[p].atol + n_terms * EPSILON[p] / SIMD_LANES for p in precisions
    )
    return Tolerance(
        rtol=rtol if rtol is not None else default_rtol,
        atol=atol if atol is not None else default_atol * scale,
    )


def allowed_for(
    precision: str,
    scale: float | Array,
    n_terms: int = 1,
    rtol: float | None = None,
    atol: float | None = None,
    error: references.ErrorEstimate | None = None,
    kinks: tuple[references.Kink, ...] = (),
    floor_scale: float = 1.0,
    condition: float = 0.0,
    ulps: float | None = None,
) -> Allowed:
    """What a side of `precision` may be off from a reference: its own rounding, on the
    quantity's `scale` (a number, or a per-row (m, 1) column from the reference side:
    never from the side under test), plus `ERROR_FACTOR` times the reference's own
    error estimate. Sums over n terms, accumulated in 8 SIMD lanes (torch's float32),
    lose up to n/8 roundings: that growth is relative, so it enters rtol, and atol only
    on the per-row scale. `floor_scale` times the dtype's smallest normal number is added
    to atol: below it a value holds no relative precision (J = s/T: floor_scale 1/T).
    `condition` adds condition·ε to rtol and to atol's factor: a quantity computed
    through exp(z − max z) carries the rounding of z − max z, ε·|z|, as a relative
    error of each of its terms.
    `ulps`: the quantity's scale carries its computation's measured rounding (check:
    autograd of the same forward in float32 and in the dtype under test against
    float64, over ε), so the fixed table's margins give way to `measured_band`.
    A user's rtol/atol replace the defaults (atol absolute); the reference's error is
    added whatever the user chose.
    """
    base = (
        DEFAULT_TOLERANCE["float64" if precision == "fd" else precision]
        if ulps is None
        else measured_band(precision, ulps)
    )
    growth = n_terms * EPSILON[precision] / SIMD_LANES
    scale_array = np.asarray(scale, dtype=np.float64)
    with np.errstate(all="ignore"):
        finite_scale = np.where(np.isfinite(scale_array), scale_array, 0.0)  # no NaN in a scale
    # below the dtype's smallest normal number a value holds no relative precision
    factor = base.atol + growth + condition * EPSILON[precision]
    default_atol = factor * finite_scale + TINY[precision] * floor_scale
    return Allowed(
        rtol=rtol if rtol is not None else base.rtol + growth + condition * EPSILON[precision],
        atol=atol
        if atol is not None
        else (float(default_atol) if default_atol.ndim == 0 else default_atol),
        error=error,
        c=ERROR_FACTOR,
        kinks=kinks,
    )


def measured_band(precision: str, ulps: float) -> Tolerance:
    """`ulps` of the precision's ε, relative and of the scale: no margin beyond a few
    roundings, because the scale it multiplies is the measured noise (its rounding in
    units of ε), not a guess. (float64 judged this way sees a relative error of 1e-10;
    the fixed table's 1e-9 did not.)"""
    eps = EPSILON["float64" if precision == "fd" else precision]
    return Tolerance(rtol=ulps * eps, atol=ulps * eps)


def reference_order(x: str, y: str) -> tuple[str, str]:
    """(other, reference): fd is the reference when present, else torch."""
    for ref in ("fd", "torch"):
        if ref in (x, y):
            return (y, x) if x == ref else (x, y)
    return (x, y)


def compare_arrays(
    quantity: str,
    names: tuple[str, str],
    a: Array,
    ref: Array,
    tol: Tolerance | Allowed,
    view: tuple[int, int] | None = None,
) -> Comparison:
    """Compare `a` with the reference `ref` element by element (see `compare_view`)."""
    return compare_view(quantity, names, a, ref, tol, view)[0]


def compare_view(
    quantity: str,
    names: tuple[str, str],
    a: Array,
    ref: Array,
    tol: Tolerance | Allowed,
    view: tuple[int, int] | None = None,
) -> tuple[Comparison, Array]:
    """The Comparison, and which columns of the (m, n) view hold an element out of
    tolerance (what a reference would refine)."""
    return compare_views(quantity, [(names, a, ref, tol)], view)[0]


def compare_views(
    quantity: str,
    pairs: Sequence[tuple[tuple[str, str], Array, Array, Tolerance | Allowed]],
    view: tuple[int, int] | None = None,
) -> list[tuple[Comparison, Array]]:
    """`compare_view` of several pairs of one quantity (the same shape) in one sweep:
    row blocks of the view go to the cores, and each block is compared for every pair
    while it is in cache, sharing |ref| and the allowed band between pairs with the same
    reference and tolerance (pass the same arrays and Allowed objects to share them).
    No n² temporary is made."""
    if not pairs:
        return []
    first = pairs[0][1]
    shape = first.shape
    for _, a, ref, _ in pairs:
        if a.shape != ref.shape or a.shape != shape:
            raise ValueError(f"{quantity}: shapes differ: {a.shape} vs {ref.shape}")
    size = first.size
    m, n = view or ((shape[0], size // shape[0]) if first.ndim >= 2 and size else (1, size))
    views: dict[int, Array] = {}  # one (m, n) view per array: pairs share it by identity

    def as_view(array: Array) -> Array:
        if id(array) not in views:
            views[id(array)] = array.reshape(m, n)
        return views[id(array)]

    atols: dict[int, Array] = {}

    def atol_view(atol: float | Array) -> Array:
        # a number, or per element broadcastable to the quantity's shape; a per-row
        # (m, 1) column of a Jacobian stays a column (no n² copy)
        if id(atol) not in atols:
            array = np.asarray(atol, dtype=np.float64)
            if array.ndim:
                array = np.broadcast_to(array, shape).reshape(m, n)
                if array.strides[1] == 0:
                    array = array[:, :1]
            atols[id(atol)] = array
        return atols[id(atol)]

    jobs = []
    for _, a, ref, tol in pairs:
        allowed = tol if isinstance(tol, Allowed) else Allowed(tol.rtol, tol.atol)
        jobs.append(blockstats.Pair(as_view(a), as_view(ref), atol_view(allowed.atol), allowed))
    per_task = max(1, 4 * CHUNK // max(n, 1))
    chunks = parallel.map_chunks(
        lambda span: sweep.chunk_stats(jobs, span), parallel.spans(m, per_task)
    )
    out = []
    for p, ((names, a, _, _), job) in enumerate(zip(pairs, jobs, strict=True)):
        parts = [chunk[p] for chunk in chunks]
        stats = blockstats.merge(parts, n) if parts else None
        out.append(_comparison(quantity, names, a.shape, job, stats, m, n))
    return out


def _comparison(
    quantity: str,
    names: tuple[str, str],
    shape: tuple[int, ...],
    job: blockstats.Pair,
    stats: blockstats.Stats | None,
    m: int,
    n: int,
) -> tuple[Comparison, Array]:
    size = int(np.prod(shape, dtype=np.int64))
    failing = np.zeros(n, dtype=bool)
    outside = None
    if stats is not None and stats.failing is not None:
        failing |= stats.failing
    if stats is not None and stats.outside:
        outside = np.zeros((m, n), dtype=bool)
        for (r0, r1), mask in stats.outside:
            outside[r0:r1] = mask
        outside = outside.reshape(shape)
    index = tuple(int(k) for k in np.unravel_index(stats.worst, shape)) if stats and size else ()
    reported = Tolerance(
        job.allowed.rtol,
        float(stats.worst_atol) if stats else float(job.atol.max(initial=0)),
    )
    return (
        Comparison(
            quantity=quantity,
            backends=names,
            shape=tuple(shape),
            tolerance=reported,
            max_abs_error=stats.max_abs if stats else 0.0,
            max_rel_error=stats.max_rel if stats else 0.0,
            worst_index=index,
            worst_values=(stats.worst_a, stats.worst_ref) if stats and size else (0.0, 0.0),
            allowed=stats.worst_allowed if stats else 0.0,
            n_out_of_tolerance=stats.n_out if stats else 0,
            n_non_finite=stats.n_non_finite if stats else 0,
            reference_error=stats.worst_error if stats else 0.0,
            outside=outside,
        ),
        failing,
    )


def compared_finite(
    comparisons: Sequence[Comparison], excluded: Collection[str] = ()
) -> set[tuple[str, str]]:
    """(backend, quantity) of every array compared whole with every difference finite:
    both sides of a finite difference are finite. Not for the `excluded` quantities (one
    with an infinite kink: a comparison takes its infinite values as agreeing)."""
    return {
        (backend, c.quantity)
        for c in comparisons
        if c.n_non_finite == 0 and np.isfinite(c.max_abs_error) and c.quantity not in excluded
        for backend in c.backends
    }


def find_non_finite(
    results: Mapping[str, BackendResult], known_finite: Collection[tuple[str, str]] = ()
) -> tuple[NonFinite, ...]:
    """Every array with an inf or NaN, except the `known_finite` (`compared_finite`),
    which are not read again (a 4096² Jacobian is a pass over 128 MiB)."""
    found = []
    for name, result in results.items():
        for quantity, array in result.arrays.items():
            if (name, quantity) in known_finite:
                continue
            with np.errstate(all="ignore"):
                if np.isfinite(np.sum(array)):  # one pass; an inf or NaN anywhere shows here
                    continue
            bad = ~np.isfinite(array)
            if bad.any():
                first = tuple(int(k) for k in np.argwhere(bad)[0])
                found.append(NonFinite(name, quantity, int(bad.sum()), first))
    return tuple(found)
