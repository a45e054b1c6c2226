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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gradcli import parallel, references
from gradcli.report import Array, BackendResult, Comparison, LawCheck, NonFinite, Tolerance, Verdict

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
    A user's rtol/atol replace the defaults (atol absolute); the reference's error is
    added whatever the user chose.
    """
    base = DEFAULT_TOLERANCE["float64" if precision == "fd" else precision]
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


@dataclass(frozen=True)
class Allowed:
    """The allowed error of each element: ``atol + rtol·|ref| + c·error``.

    `atol` is a number or an array broadcastable to the quantity's shape (a per-row
    magnitude of a Jacobian as an (m, 1) column); `error` is the reference's own estimate;
    at a `kinks` element the reference is the interval [low, high] (a backend value
    inside it is a valid subgradient), and at an infinite one any infinite value agrees.
    """

    rtol: float
    atol: float | Array
    error: references.ErrorEstimate | None = None
    c: float = 2.0
    kinks: tuple[references.Kink, ...] = ()


def compare_view(
    quantity: str,
    names: tuple[str, str],
    a: Array,
    ref: Array,
    tol: Tolerance | Allowed,
    view: tuple[int, int] | None = None,
) -> tuple[Comparison, Array]:
    """The Comparison, and which columns of the (m, n) view hold an element out of
    tolerance (what a reference would refine). Row blocks of the view go to the cores;
    no n² temporary is made."""
    if a.shape != ref.shape:
        raise ValueError(f"{quantity}: shapes differ: {a.shape} vs {ref.shape}")
    allowed = tol if isinstance(tol, Allowed) else Allowed(tol.rtol, tol.atol)
    m, n = view or ((a.shape[0], a.size // a.shape[0]) if a.ndim >= 2 and a.size else (1, a.size))
    a2, ref2 = a.reshape(m, n), ref.reshape(m, n)
    atol = np.asarray(allowed.atol, dtype=np.float64)
    # atol: a number, or per element broadcastable to the quantity's shape (a per-row
    # (m, 1) column of a Jacobian stays a broadcast view: no n² copy)
    atol2 = atol if atol.ndim == 0 else np.broadcast_to(atol, a.shape).reshape(m, n)
    per_block = max(1, CHUNK // max(n, 1))
    stats = parallel.map_chunks(
        lambda span: _block_stats(a2, ref2, atol2, allowed, span),
        parallel.spans(m, per_block),
    )
    failing = np.zeros(n, dtype=bool)
    for st in stats:
        failing |= st.failing
    outside = None
    if any(st.outside is not None for st in stats):
        outside = np.zeros((m, n), dtype=bool)
        for st in stats:
            if st.outside is not None:
                outside[st.span[0] : st.span[1]] = st.outside
        outside = outside.reshape(a.shape)
    worst = max(stats, key=lambda st: st.worst_ratio) if stats else None
    flat = worst.worst if worst else 0
    size = a.size
    index = tuple(int(k) for k in np.unravel_index(flat, a.shape)) if size else ()
    worst_a = worst.worst_a if worst else 0.0
    worst_ref = worst.worst_ref if worst else 0.0
    reported = Tolerance(
        allowed.rtol, float(worst.worst_atol) if worst else float(atol.max(initial=0))
    )
    return (
        Comparison(
            quantity=quantity,
            backends=names,
            shape=tuple(a.shape),
            tolerance=reported,
            max_abs_error=max((st.max_abs for st in stats), default=0.0),
            max_rel_error=max((st.max_rel for st in stats), default=0.0),
            worst_index=index,
            worst_values=(worst_a, worst_ref) if size else (0.0, 0.0),
            allowed=worst.worst_allowed if worst else 0.0,
            n_out_of_tolerance=sum(st.n_out for st in stats),
            n_non_finite=sum(st.n_non_finite for st in stats),
            reference_error=worst.worst_error if worst else 0.0,
            outside=outside,
        ),
        failing,
    )


@dataclass(frozen=True)
class _Stats:
    max_abs: float
    max_rel: float
    n_out: int
    n_non_finite: int
    worst_ratio: float  # |a − ref| / allowed at `worst`; inf for a non-finite element
    worst: int  # flat index into the whole array
    worst_a: float
    worst_ref: float
    worst_allowed: float
    worst_atol: float
    worst_error: float
    failing: Array  # (n,) bool: a column with an element out of tolerance
    span: tuple[int, int]  # the rows of the view
    outside: Array | None  # (rows, n) bool where out of tolerance; None if all within


def _block_stats(
    a2: Array, ref2: Array, atol2: Array, tol: Allowed, span: tuple[int, int]
) -> _Stats:
    """The statistics of rows span[0]:span[1] of the (m, n) view."""
    r0, r1 = span
    n = a2.shape[1]
    a, ref = a2[r0:r1], ref2[r0:r1]
    kinks = [k for k in tol.kinks if r0 <= k.i < r1]
    if kinks:  # at a kink the reference is the nearest point of [low, high]
        a, ref = a.copy(), ref.copy()
        for k in kinks:
            value = float(a[k.i - r0, k.j])
            if k.infinite and np.isinf(value):
                a[k.i - r0, k.j] = ref[k.i - r0, k.j] = 0.0  # an infinite derivative agrees
            elif not k.infinite and np.isfinite(value) and k.low <= ref[k.i - r0, k.j] <= k.high:
                # the reference side is in the subdifferential (fd's midpoint, or a
                # backend's valid choice): `a` is judged by its distance to the interval
                ref[k.i - r0, k.j] = min(max(value, k.low), k.high)
    with np.errstate(all="ignore"):
        diff = np.subtract(a, ref, dtype=np.float64)
        np.abs(diff, out=diff)
        ref_abs = np.abs(ref, dtype=np.float64)
        allowed = np.multiply(ref_abs, tol.rtol)
        atol = atol2 if atol2.ndim == 0 else atol2[r0:r1]
        allowed += atol
        error = tol.error.block(r0, r1) if tol.error is not None else None
        if error is not None:
            allowed += tol.c * error
        within = diff <= allowed  # False where anything is NaN
        n_within = int(np.count_nonzero(within))
        n_out = diff.size - n_within
        failing = np.zeros(n, dtype=bool)
        outside = None
        if n_out:
            outside = np.logical_not(within)
            outside.any(axis=0, out=failing)
        max_abs = float(diff.max()) if diff.size else 0.0
        finite = np.isfinite(diff) if not np.isfinite(max_abs) else None
        if finite is not None:
            first = int(np.argmin(finite.reshape(-1)))
            kept = diff[finite]
            rel = np.divide(kept, ref_abs[finite], out=np.zeros_like(kept), where=kept > 0)
            worst, ratio = first, float("inf")
            n_bad = diff.size - int(np.count_nonzero(finite))
            max_abs = float(kept.max()) if kept.size else 0.0
            max_rel = float(rel.max()) if rel.size else 0.0
        else:
            ratio_all = np.divide(diff, allowed, out=np.zeros_like(diff), where=diff > 0)
            worst = int(np.argmax(ratio_all)) if ratio_all.size else 0
            ratio = float(ratio_all.reshape(-1)[worst]) if ratio_all.size else -1.0
            # where diff = 0 the ratio buffer already holds 0
            rel = np.divide(diff, ref_abs, out=ratio_all, where=diff > 0)
            n_bad = 0
            max_rel = float(rel.max()) if rel.size else 0.0
    wi, wj = divmod(worst, n) if n else (0, 0)
    size = diff.size
    return _Stats(
        max_abs=max_abs,
        max_rel=max_rel,
        n_out=n_out,
        n_non_finite=n_bad,
        worst_ratio=ratio,
        worst=(r0 + wi) * n + wj,
        worst_a=float(a[wi, wj]) if size else 0.0,
        worst_ref=float(ref[wi, wj]) if size else 0.0,
        worst_allowed=float(allowed[wi, wj]) if size else 0.0,
        worst_atol=float(atol if np.ndim(atol) == 0 else np.broadcast_to(atol, diff.shape)[wi, wj])
        if size
        else 0.0,
        worst_error=float(error[wi, wj]) if error is not None and size else 0.0,
        failing=failing,
        span=span,
        outside=outside,
    )


def find_non_finite(results: Mapping[str, BackendResult]) -> tuple[NonFinite, ...]:
    found = []
    for name, result in results.items():
        for quantity, array in result.arrays.items():
            with np.errstate(all="ignore"):
                if np.isfinite(np.sum(array)):  # one pass; an inf or NaN anywhere shows here
                    continue
            bad = ~np.isfinite(array)
            if bad.any():
                first = tuple(int(k) for k in np.argwhere(bad)[0])
                found.append(NonFinite(name, quantity, int(bad.sum()), first))
    return tuple(found)


def verdict(
    backends: Sequence[str],
    comparisons: Iterable[Comparison],
    laws: Iterable[LawCheck],
    non_finite: Iterable[NonFinite],
) -> Verdict:
    """One line for a person, and one detail line per failed quantity or law."""
    comparisons, laws, non_finite = list(comparisons), list(laws), list(non_finite)
    quantities = list(dict.fromkeys(c.quantity for c in comparisons))
    order = {q: i for i, q in enumerate(quantities)}
    by_quantity: dict[str, list[NonFinite]] = {}
    for nf in sorted(non_finite, key=lambda nf: order.get(nf.quantity, len(order))):
        by_quantity.setdefault(nf.quantity, []).append(nf)
    details = [
        f"{quantity} is not finite on {_join([nf.backend for nf in found])}: "
        f"{found[0].count} element(s), first at {list(found[0].first_index)}"
        for quantity, found in by_quantity.items()
    ]
    for quantity in quantities:
        pairs = [c for c in comparisons if c.quantity == quantity]
        # a failure that is only the non-finite elements is said above, not as "differ"
        if any(c.n_out_of_tolerance > c.n_non_finite for c in pairs):
            details.append(
                f"{quantity}: {odd_one_out([c for c in pairs if c.n_non_finite == 0 or not c.ok])}"
            )
    details += [
        f"law broken on {law.backend}: {law.law} (violation {law.max_violation:.3g} > "
        f"allowed {law.allowed:.3g})"
        for law in laws
        if not law.ok
    ]
    if details:
        return Verdict(False, "DISAGREE: " + details[0], tuple(details))
    if len(quantities) > 8:
        what = f"all {len(quantities)} quantities"
    else:
        what = _join(quantities) if quantities else "the results"
    names = _join(list(backends))
    laws_hold = "; every law holds" if laws else ""
    if len(backends) == 1:
        summary = f"OK: only {names} ran, so nothing was compared{laws_hold}"
    else:
        summary = f"OK: {names} agree on {what} within tolerance{laws_hold}"
    return Verdict(True, summary)


def worst_comparison(comparisons: Iterable[Comparison], quantity: str) -> Comparison | None:
    """The comparison of `quantity` that failed, or else came nearest to failing."""
    pairs = [c for c in comparisons if c.quantity == quantity]
    if not pairs:
        return None
    return max(pairs, key=lambda c: (not c.ok, c.max_abs_error / c.allowed if c.allowed else 0.0))


def odd_one_out(pairs: Sequence[Comparison]) -> str:
    """Say which backend differs ("numpy and fd agree, torch differs"), not only that one does."""
    names = list(dict.fromkeys(n for c in pairs for n in c.backends))
    agreeing = [c.backends for c in pairs if c.ok]
    failing = [c for c in pairs if not c.ok] or list(pairs)
    worst = max(failing, key=lambda c: c.max_abs_error)
    a, ref = worst.backends
    va, vr = worst.worst_values
    where = (
        f"worst at {list(worst.worst_index)}: {a} {va:.6g} vs {ref} {vr:.6g} "
        f"(max abs error {worst.max_abs_error:.3g})"
    )
    if len(names) == 2:
        return f"{names[0]} and {names[1]} disagree, {where}"
    if len(agreeing) == 1:
        odd = next(n for n in names if n not in agreeing[0])
        return f"{agreeing[0][0]} and {agreeing[0][1]} agree, {odd} differs, {where}"
    if not agreeing:
        return f"all three backends differ, {where}"
    x, y = failing[0].backends
    third = next(n for n in names if n not in (x, y))
    return f"{x} and {y} differ from each other although each agrees with {third}, {where}"


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
