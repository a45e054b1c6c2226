"""The statistics of comparisons, a block of rows at a time: what `compare.compare_views`
turns into Comparisons (largest absolute and relative error, the worst element by
|a − ref| / allowed, the elements and the columns out of tolerance).

Two paths, with the same results (tests/test_blockstats.py proves them equal):

- `general_stats` here, the definition, for any block: kinks, non-finite values, a
  zero or negative allowed band; with the records both paths return (`Stats`, `merge`).
- `gradcli.sweep.chunk_stats`, the common case, for every pair of a quantity at once, a
  sub-block at a time; a sub-block where anything is unusual is handed to
  `general_stats`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gradcli import references
from gradcli.report import Array


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


@dataclass(frozen=True)
class Pair:
    """One comparison on the (m, n) view: `atol` is 0-d or broadcastable to (m, n)."""

    a: Array
    ref: Array
    atol: Array
    allowed: Allowed

    @property
    def common(self) -> bool:
        """Whether the common-case path may take this pair's blocks: no allowed band is
        negative or NaN (then ratio < 1 means within), and each element's error is its
        row's times its column's (or a refined column's)."""
        tol, err = self.allowed, self.allowed.error
        bands = [np.asarray(self.atol)] + ([] if err is None else [err.rows, err.cols])
        bands += [] if err is None else list(err.refined.values())
        with np.errstate(all="ignore"):
            return (
                tol.rtol >= 0
                and tol.c >= 0
                and all(bool(np.all(b >= 0)) for b in bands)
                and not (err is not None and err.rows.size != self.a.shape[0])
            )


@dataclass(frozen=True)
class Stats:
    max_abs: float
    max_rel: float
    n_out: int
    n_non_finite: int
    worst_ratio: float  # |a − ref| / allowed at `worst`; inf for a non-finite element
    worst: int  # flat index into the whole (m, n) view
    worst_a: float
    worst_ref: float
    worst_allowed: float
    worst_atol: float
    worst_error: float
    failing: Array | None  # (n,) bool: a column with an element out of tolerance
    outside: tuple[tuple[tuple[int, int], Array], ...]  # (rows, (rows, n) bool) if any


def merge(parts: Sequence[Stats], n: int) -> Stats:
    """The statistics of consecutive blocks as one: the worst element is the first of the
    largest ratio (as np.argmax over the whole would pick)."""
    worst = max(parts, key=lambda st: st.worst_ratio)
    failing = None
    for st in parts:
        if st.failing is not None:
            failing = st.failing.copy() if failing is None else failing | st.failing
    return Stats(
        max_abs=max(st.max_abs for st in parts),
        max_rel=max(st.max_rel for st in parts),
        n_out=sum(st.n_out for st in parts),
        n_non_finite=sum(st.n_non_finite for st in parts),
        worst_ratio=worst.worst_ratio,
        worst=worst.worst,
        worst_a=worst.worst_a,
        worst_ref=worst.worst_ref,
        worst_allowed=worst.worst_allowed,
        worst_atol=worst.worst_atol,
        worst_error=worst.worst_error,
        failing=failing,
        outside=tuple(piece for st in parts for piece in st.outside),
    )


def general_stats(pair: Pair, span: tuple[int, int]) -> Stats:
    """The statistics of rows span[0]:span[1], by the definition."""
    r0, r1 = span
    n = pair.a.shape[1]
    tol, atol2 = pair.allowed, pair.atol
    a, ref = pair.a[r0:r1], pair.ref[r0:r1]
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
        failing = None
        outside: tuple[tuple[tuple[int, int], Array], ...] = ()
        if n_out:
            mask = np.logical_not(within)
            failing = np.asarray(mask.any(axis=0))
            outside = ((span, mask),)
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
    return Stats(
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
        outside=outside,
    )
