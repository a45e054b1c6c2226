"""The statistics of comparisons, a block of rows at a time: what `compare.compare_views`
turns into Comparisons (largest absolute and relative error, the worst element by
|a − ref| / allowed, the elements and the columns out of tolerance).

Two paths, with the same results (tests/test_blockstats.py proves them equal):

- `general_stats`, the definition, for any block: kinks, non-finite values, a zero or
  negative allowed band.
- `chunk_stats`, the common case, for every pair of a quantity at once: sub-blocks of
  `SUB_BLOCK` elements, so that the dozen passes over each stay in the core's L2 cache
  (1 MiB here; the 2 MiB blocks of one pass at a time each went to L3), with buffers
  reused from one sub-block to the next; the reference's |ref|, its error band and the
  allowed band are made once per sub-block for every pair that shares them (numpy–fd and
  torch–fd judge against the same fd block with the same band); and the elements out of
  tolerance are counted only when the largest |a − ref| / allowed reaches 1. A
  sub-block where anything is unusual (a kink in its rows, a non-finite difference,
  allowed = 0) is handed to `general_stats`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from gradcli import references
from gradcli.report import Array

SUB_BLOCK = 1 << 16  # elements (512 KiB of float64; see docs/performance.md for 2¹⁵–2¹⁷)


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


def chunk_stats(pairs: Sequence[Pair], span: tuple[int, int]) -> list[Stats]:
    """Every pair's statistics of rows span[0]:span[1] (all pairs share the view's
    shape), a sub-block of rows at a time."""
    r0, r1 = span
    n = pairs[0].a.shape[1]
    rows = max(1, min(r1 - r0, SUB_BLOCK // max(n, 1)))
    block = _Block(pairs, span, rows)
    parts: list[list[Stats]] = [[] for _ in pairs]
    with np.errstate(all="ignore"):  # once per chunk: a sub-block's own costs ~20 µs
        for s0 in range(r0, r1, rows):
            sub = (s0, min(s0 + rows, r1))
            block.start(sub)
            for pair, found in zip(pairs, parts, strict=True):
                common = block.common(pair) if n else None
                found.append(common if common is not None else general_stats(pair, sub))
    return [merge(found, n) for found in parts]


class _Block:
    """The buffers of one chunk of rows, reused by each of its sub-blocks, and what the
    pairs of the current sub-block share (|ref|, the error band, the allowed band)."""

    def __init__(self, pairs: Sequence[Pair], span: tuple[int, int], rows: int) -> None:
        self.n = pairs[0].a.shape[1]
        self.rows = rows
        self.span = span
        self.buffers: dict[Hashable, Array] = {}
        self.shared: dict[Hashable, Array] = {}
        self.sub = span
        self.usable = {id(p): p.common for p in pairs}
        # kinks by row, and each error's refined columns for this chunk's rows at once
        # (a loop over the refined columns once per chunk, not once per sub-block)
        self.kink_rows = {
            id(p): np.sort([k.i for k in p.allowed.kinks]) for p in pairs if p.allowed.kinks
        }
        self.keys = {id(p): _band_keys(p) for p in pairs}
        self.refined: dict[int, tuple[Array, Array]] = {}
        for p in pairs:
            err = p.allowed.error
            if err is not None and err.refined and id(err) not in self.refined:
                cols = np.fromiter(err.refined, dtype=np.intp, count=len(err.refined))
                values = np.stack([c[span[0] : span[1]] for c in err.refined.values()], axis=1)
                self.refined[id(err)] = (cols, values)

    def start(self, sub: tuple[int, int]) -> None:
        self.sub = sub
        self.shared.clear()

    def _buffer(self, key: Hashable) -> Array:
        if key not in self.buffers:
            self.buffers[key] = np.empty((self.rows, self.n), dtype=np.float64)
        return self.buffers[key][: self.sub[1] - self.sub[0]]

    def _once(self, key: Hashable, fill: Callable[[Array], None]) -> Array:
        if key not in self.shared:
            out = self._buffer(key)
            fill(out)
            self.shared[key] = out
        return self.shared[key]

    def common(self, pair: Pair) -> Stats | None:
        """The sub-block's statistics by the common-case path, or None where the
        definition must decide (`general_stats`)."""
        s0, s1 = self.sub
        if not self.usable[id(pair)]:
            return None
        kink_rows = self.kink_rows.get(id(pair))
        if kink_rows is not None:
            at = int(np.searchsorted(kink_rows, s0))
            if at < kink_rows.size and kink_rows[at] < s1:
                return None
        a, ref = pair.a[s0:s1], pair.ref[s0:s1]
        with np.errstate(all="ignore"):  # (chunk_stats sets it too; here for any caller)
            diff = self._buffer("diff")
            np.subtract(a, ref, out=diff, dtype=np.float64)
            np.abs(diff, out=diff)
            max_abs = float(diff.max())
            if not math.isfinite(max_abs):
                return None
            ref_abs, allowed = self._band(pair)
            ratio = self._buffer("ratio")
            np.divide(diff, allowed, out=ratio)
            worst = int(ratio.argmax())
            worst_ratio = float(ratio.reshape(-1)[worst])
            if math.isnan(worst_ratio):  # 0 / 0 where nothing is allowed
                return None
            # |a − ref| / |ref|; 0 / 0 (both exactly 0) is NaN here, 0 in the definition:
            # fmax skips it, and every other ratio is ≥ 0
            np.divide(diff, ref_abs, out=ratio)
            max_rel = float(np.fmax.reduce(ratio, axis=None))
            failing = None
            outside: tuple[tuple[tuple[int, int], Array], ...] = ()
            n_out = 0
            # with allowed ≥ 0, a rounded diff/allowed below 1 means diff < allowed
            if worst_ratio >= 1.0:
                within = np.less_equal(diff, allowed)
                n_out = within.size - int(np.count_nonzero(within))
                if n_out:
                    mask = np.logical_not(within)
                    failing = np.asarray(mask.any(axis=0))
                    outside = ((self.sub, mask),)
        wi, wj = divmod(worst, self.n)
        return Stats(
            max_abs=max_abs,
            max_rel=0.0 if math.isnan(max_rel) else max_rel,
            n_out=n_out,
            n_non_finite=0,
            worst_ratio=worst_ratio,
            worst=(s0 + wi) * self.n + wj,
            worst_a=float(a[wi, wj]),
            worst_ref=float(ref[wi, wj]),
            worst_allowed=float(allowed[wi, wj]),
            worst_atol=_at(pair.atol, s0 + wi, wj),
            worst_error=self._error_at(pair.allowed.error, s0 + wi, wj),
            failing=failing,
            outside=outside,
        )

    def _band(self, pair: Pair) -> tuple[Array, Array]:
        """|ref| and atol + rtol·|ref| + c·error on the sub-block, once per distinct
        (reference, tolerance): in the definition's order of operations."""
        s0, s1 = self.sub
        tol = pair.allowed

        def absolute(out: Array) -> None:
            np.abs(pair.ref[s0:s1], out=out, dtype=np.float64)

        abs_key, key, error_key = self.keys[id(pair)]
        ref_abs = self._once(abs_key, absolute)
        error = tol.error

        def fill(out: Array) -> None:
            np.multiply(ref_abs, tol.rtol, out=out)
            out += pair.atol if pair.atol.ndim == 0 else pair.atol[s0:s1]
            if error is not None:
                out += self._once(error_key, lambda e: self._error(error, tol.c, e))

        return ref_abs, self._once(key, fill)

    def _error(self, error: references.ErrorEstimate, c: float, out: Array) -> None:
        """c·error on the sub-block, as ErrorEstimate.block and the definition make it."""
        s0, s1 = self.sub
        np.multiply.outer(error.rows[s0:s1], error.cols, out=out)
        if id(error) in self.refined:
            cols, values = self.refined[id(error)]
            out[:, cols] = values[s0 - self.span[0] : s1 - self.span[0]]
        out *= c

    def _error_at(self, error: references.ErrorEstimate | None, i: int, j: int) -> float:
        if error is None:
            return 0.0
        if j in error.refined:
            return float(error.refined[j][i])
        return float(error.rows[i] * error.cols[j])


def _band_keys(pair: Pair) -> tuple[Hashable, Hashable, Hashable]:
    """What `_Block._band` shares between pairs: |ref| by reference, the allowed band by
    (reference, atol, rtol, error, c), c·error by (error, c)."""
    tol = pair.allowed
    return (
        ("abs", id(pair.ref)),
        ("allowed", id(pair.ref), _key(pair.atol), tol.rtol, _key(tol.error), tol.c),
        ("error", id(tol.error), tol.c),
    )


def _at(atol: Array, i: int, j: int) -> float:
    """Element (i, j) of an atol broadcastable to the (m, n) view: 0-d, (m, 1) or (m, n)."""
    if atol.ndim == 0:
        return float(atol)
    row = atol[i] if atol.shape[0] > 1 else atol[0]
    return float(row[j] if row.shape[0] > 1 else row[0])


def _key(value: object) -> Hashable:
    """A scalar by value, an array (or an estimate) by identity: equal keys, equal bands."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return float(value)
    return id(value)
