"""The common case of `gradcli.blockstats`: every pair of a quantity at once, in
sub-blocks of `SUB_BLOCK` elements, with buffers reused from one sub-block to the next.

The reference's |ref|, its error band and the allowed band are made once per sub-block
for every pair that shares them (numpy–fd and torch–fd judge against the same fd block
with the same band), and the elements out of tolerance are counted only when the
largest |a − ref| / allowed reaches 1. A sub-block where anything is unusual (a kink in
its rows, a non-finite difference, allowed = 0) is handed to the definition,
`blockstats.general_stats`; tests/test_blockstats.py proves the two paths equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence

import numpy as np

from gradcli import references
from gradcli.blockstats import Pair, Stats, general_stats, merge
from gradcli.report import Array

# elements per sub-block (512 KiB of float64): the per-sub-block cost of the Python
# around a dozen numpy calls against the cache (docs/performance.md: 2¹⁵–2¹⁷ measured)
SUB_BLOCK = 1 << 16


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
