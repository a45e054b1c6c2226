"""Numerical derivatives that report their own error: the references of every problem.

A reference is a Jacobian J (m outputs × n inputs) of a float64 function f at x, with a
per-element error estimate and the kinks it found. Every problem (and ``gradcli check``)
builds one through :class:`Differentiator` or the two one-call helpers:

    from gradcli import references

    d = references.central_differences(f, x)   # f: array shaped like x -> any array
    d.value        # (m, n) float64: J[i, j] = ∂f_i/∂x_j  (m = f(x).size, n = x.size)
    d.error.dense()  # (m, n): |J − d.value| is at most about this, element by element
    d.kinks        # Kink(i, j, left, right, infinite) where one-sided slopes differ

    d = references.complex_step(f, x)          # f must accept complex128 input (analytic)

A batched forward (a (k, n) batch of inputs to a (k, m) batch of outputs, one row each)
is faster: ``Differentiator(f_rows, x)``; its methods are the ladder of references, from
cheap to thorough, and each refines only the columns it is given:

1. ``cheap()``: central differences at one step h (2 evaluations per input). Its error
   estimate is the rounding bound ``ROUNDING·ε·(|f| + |x_j·∂f/∂x_j|)/h`` only (f's own
   rounding, and that of its argument x_j): the truncation error is
   *not* measured. The step is 1/4 of the balanced ∛ε step, so that for a function that
   varies on the step's scale the truncation (∝ h²) is below that bound. The estimate is
   conclusive only where a backend agrees with it within that bound (a wrong derivative
   equal to the truncated difference at this very step is not a risk worth paying for).
2. ``richardson(columns)``: central differences at h, 2h and 4h, extrapolated twice
   (order h⁴); the error estimate is the spread of the two extrapolations plus rounding.
   The same evaluations and f(x) give the one-sided slopes, extrapolated to h → 0: where
   they differ beyond their error the point is a kink, and the derivative there is the
   interval between them (a backend value inside it is a valid subgradient). A kink
   seen at h is checked once more at the smallest step that still sees its jump above
   rounding: it persists there when it is at x (a tie), and is gone when it was only
   within the step of x (relu at 1e-300), whose column then replaces it. Where the
   one-sided slopes agree and their own spread is smaller than the
   central one (x·|x| at 0, where f'' jumps), their mean is the value. A one-sided
   slope that grows as h shrinks is an infinite derivative (sqrt at 0). Where the error
   is still large, the step is moved up and down by factors of 8 (``ADAPTIVE_FACTORS``)
   and the step with the smallest estimated error is kept.
3. ``complex_step(columns)``: ``Im f(x + i·h·e_j) / h`` with h = 1e-20 of the step's scale,
   for f that is analytic (no abs, relu, max, comparisons) and written so that complex
   input flows through it. No subtraction, so J is accurate to a few ulp of the column's
   magnitude: the error estimate is ``COMPLEX_ULPS·ε·max_i |J_ij|`` per column.

Why hand-written rather than scipy.differentiate or numdifftools: see the README
("How the checks work"); measured, both are 30-300× slower on a full softmax Jacobian
because they evaluate f at many points per input and cannot refine only the columns a
comparison found inconclusive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcli import parallel

F64 = NDArray[np.float64]
Rows = Callable[[NDArray[Any]], NDArray[Any]]  # (k, n) inputs -> (k, m) outputs
# (cols, values) -> f_rows of x with x[cols[r]] = values[r] in row r, the same bits
Changed = Callable[[NDArray[np.intp], NDArray[np.float64]], NDArray[Any]]

EPS = float(np.finfo(np.float64).eps)
CBRT_EPS = float(np.cbrt(EPS))
CHEAP_STEP_FRACTION = 0.25  # of the balanced ∛ε step: truncation well below rounding
ROUNDING = 2.0  # ulp of |f| that each evaluation of f may be off by (softmax: measured ≤ 1)
COMPLEX_ULPS = 16.0
COMPLEX_H = 1e-20  # of the balanced step's scale: truncation (h/scale)² ≈ 1e-40
TINY = float(np.finfo(np.float64).tiny)  # Im parts below this (over h) underflow
KINK_FACTOR = 4.0  # one-sided slopes must differ by this many of their error estimates
GROWTH = 1.2  # a one-sided slope growing by this factor per halving step: infinite
ADAPTIVE_FACTORS = (1 / 8, 8.0, 1 / 64, 64.0)
KINK_RECHECK = 1000.0  # a kink's jump is this many ε·|f|/h above rounding at the recheck
ADAPTIVE_ABOVE = 1e-8  # relative error of a column above which other steps are tried
ELEMENTS_PER_BLOCK = 1 << 16  # perturbed input elements per call of the batched forward


@dataclass(frozen=True)
class Kink:
    """A point where the derivative J[i, j] is not a number but the interval between
    the one-sided slopes (left, right); `infinite`: a one-sided slope grows without
    bound (then left/right hold the largest slopes measured, ±inf for a side that
    is not defined)."""

    i: int  # output (row of J)
    j: int  # input (column of J)
    left: float
    right: float
    infinite: bool = False

    @property
    def low(self) -> float:
        return min(self.left, self.right)

    @property
    def high(self) -> float:
        return max(self.left, self.right)


@dataclass
class ErrorEstimate:
    """Per-element error of an (m, n) reference, stored factored: the cheap reference's
    error is the outer product ``rows[i]·cols[j]`` (no m×n array for a 4096² Jacobian);
    refined columns hold their own dense error."""

    rows: F64  # (m,)
    cols: F64  # (n,)
    refined: dict[int, F64] = field(default_factory=dict)  # column j -> (m,) error

    def block(self, start: int, stop: int) -> F64:
        """Rows start:stop of the (m, n) error."""
        out: F64 = np.multiply.outer(self.rows[start:stop], self.cols)
        for j, column in self.refined.items():
            out[:, j] = column[start:stop]
        return out

    def dense(self) -> F64:
        return self.block(0, self.rows.size)

    def max(self) -> float:
        """The largest error estimate of any element (inf if some element has none)."""
        cheap = [j for j in range(self.cols.size) if j not in self.refined]
        parts = [float(np.max(c)) for c in self.refined.values() if c.size]
        if cheap and self.rows.size:
            parts.append(float(np.max(self.rows)) * float(np.max(self.cols[cheap])))
        return max(parts, default=0.0)


@dataclass
class Derivative:
    """A reference Jacobian (m, n), its error estimate, its kinks and how it was made."""

    value: F64
    error: ErrorEstimate
    method: str
    kinks: list[Kink] = field(default_factory=list)
    methods_used: dict[str, int] = field(default_factory=dict)  # method -> columns


class Differentiator:
    """The reference ladder for one function at one point (see the module docstring).

    `f_rows` maps a (k, n) float64 batch to a (k, m) batch (complex128 in, complex128
    out for `complex_step`). `step` is the balanced step per input (default
    ∛ε·max(1, |x_j|)); `f_scale` the magnitude that f's rounding is relative to
    (default max|f(x)|, per output when given as an (m,) array). `bounded`: the caller
    knows that f_scale bounds |f| and |x_j·∂f/∂x_j| near x (softmax: s_i bounds both),
    so the cheap step need not measure them (three passes fewer over the Jacobian).
    `threads`: the cheap pass may spread its blocks over gradcli.parallel's threads; False
    for a function that must run on the calling thread (a user's forward, under check).
    `f_changed`: f_rows of x with one entry changed per row, given as (cols, values),
    bit for bit as f_rows computes it but faster (softmax's shared exponentials); the
    cheap pass uses it.
    """

    def __init__(
        self,
        f_rows: Rows,
        x: F64,
        step: F64 | None = None,
        f_scale: F64 | float | None = None,
        *,
        bounded: bool = False,
        threads: bool = True,
        f_changed: Changed | None = None,
    ) -> None:
        self.f_rows = f_rows
        self.f_changed = f_changed
        self.bounded = bounded
        self.threads = threads
        self.x = np.asarray(x, dtype=np.float64).reshape(-1)
        self.step = (
            CBRT_EPS * np.maximum(1.0, np.abs(self.x))
            if step is None
            else np.asarray(step, dtype=np.float64).reshape(-1)
        )
        with np.errstate(all="ignore"):
            self.f0 = np.asarray(f_rows(self.x[np.newaxis, :]), dtype=np.float64)[0]
        self.m = self.f0.size
        finite = np.where(np.isfinite(self.f0), np.abs(self.f0), 0.0)
        if f_scale is None:
            scale = np.full(self.m, max(float(finite.max(initial=0.0)), 1e-300))
        else:
            scale = np.maximum(
                np.broadcast_to(np.asarray(f_scale, dtype=np.float64), (self.m,)), 1e-300
            )
        self.f_scale: F64 = np.maximum(scale, finite)

    # --- 1. cheap ------------------------------------------------------------------
    def cheap(self, out: F64 | None = None) -> Derivative:
        """Central differences at CHEAP_STEP_FRACTION of the step; rounding bound only."""
        h = CHEAP_STEP_FRACTION * self.step
        upper, lower = self.x + h, self.x - h
        width = upper - lower  # what float64 really took, not the 2h asked for
        n = self.x.size
        jac = np.empty((self.m, n), dtype=np.float64) if out is None else out

        reach = np.ones(n)  # per column: how far |f±| went beyond f_scale (≥ 1)

        def block(span: tuple[int, int]) -> None:
            cols = np.arange(*span)
            with np.errstate(all="ignore"):
                f_plus, f_minus = self._at(cols, upper[cols]), self._at(cols, lower[cols])
                if not self.bounded:
                    reach[cols] = np.maximum(
                        _beyond(f_plus, self.f_scale), _beyond(f_minus, self.f_scale)
                    )
                np.subtract(f_plus, f_minus, out=f_plus)
                f_plus /= width[cols, np.newaxis]
                jac[:, span[0] : span[1]] = f_plus.T  # a slice: no fancy-index pass
                if not self.bounded:
                    # x_j's own rounding moves f by ε·|x_j·∂f/∂x_j| (sin(1000x): 1000x rounds)
                    np.abs(f_plus, out=f_plus)
                    f_plus *= np.abs(self.x[cols])[:, np.newaxis]
                    reach[cols] = np.maximum(reach[cols], _beyond(f_plus, self.f_scale))

        per_block = max(1, ELEMENTS_PER_BLOCK // max(n, self.m))
        spans = parallel.spans(n, per_block)
        if self.threads:
            parallel.map_chunks(block, spans)
        else:
            for span in spans:
                block(span)
        with np.errstate(divide="ignore"):
            error = ErrorEstimate(2 * ROUNDING * EPS * self.f_scale, reach / width)
        return Derivative(jac, error, "central differences", methods_used={"cheap": n})

    # --- 2. richardson, kinks, adaptive steps ---------------------------------------
    def richardson(self, derivative: Derivative, columns: Sequence[int]) -> None:
        """Replace `columns` of `derivative` by Richardson extrapolation, with kinks
        and the adaptive step where the error is still large (in place)."""
        for j in columns:
            step, found = self._near_zero(j, self._column(j, self.step[j]))
            value, error, kink_left, kink_right, infinite = found
            if _relative_error(value, error) > ADAPTIVE_ABOVE and not np.any(
                _differ(kink_left, kink_right)
            ):
                # the same column at every step: the smallest absolute error wins (a
                # relative one would prefer a rounding-noise value to an exact 0); a
                # step that sees a kink or an infinite slope the column did not see
                # has only reached past x (relu beside 0 at the step of 0's scale)
                best = float(np.max(error, initial=0.0))
                for factor in ADAPTIVE_FACTORS:
                    trial = self._column(j, step * factor)
                    score = float(np.max(trial[1], initial=0.0))
                    if score < best and _clean(trial, infinite):
                        best, (value, error, kink_left, kink_right, infinite) = score, trial
            elif np.any(_differ(kink_left, kink_right)) and not np.any(infinite):
                value, error, kink_left, kink_right, infinite = self._recheck_kink(
                    j, (value, error, kink_left, kink_right, infinite)
                )
            elif np.any(infinite):
                value, error, kink_left, kink_right, infinite = self._recheck_infinite(
                    j, step, (value, error, kink_left, kink_right, infinite)
                )
            derivative.value[:, j] = value
            derivative.error.refined[j] = error
            derivative.kinks = [k for k in derivative.kinks if k.j != j]
            for i in np.flatnonzero(_differ(kink_left, kink_right) | infinite):
                derivative.kinks.append(
                    Kink(
                        int(i), int(j), float(kink_left[i]), float(kink_right[i]), bool(infinite[i])
                    )
                )
        derivative.methods_used["richardson"] = derivative.methods_used.get("richardson", 0) + len(
            columns
        )

    def _near_zero(
        self, j: int, found: tuple[F64, F64, F64, F64, NDArray[np.bool_]]
    ) -> tuple[float, tuple[F64, F64, F64, F64, NDArray[np.bool_]]]:
        """The step's floor (∛ε·max(1, |x_j|)) is far larger than x_j near 0, where
        functions have their singularities and domain edges: x·log x at 1e-300 steps below
        0 (NaN), a cube root at 3e-7 differences across 0 (a slope of 7 where it is 7400).
        There the column at the balanced step of x_j's own scale (∛ε·|x_j|) replaces it
        when that one is clean (finite, no kink, no infinite slope) and the first was
        not (not finite, or a kink whose jump the new column resolves) or has the
        larger error: a reference that fails where f is finite at x is
        the reference's failure, not the derivative's. Returns the step kept and its
        column."""
        x = abs(float(self.x[j]))
        h = float(self.step[j])
        scaled = CBRT_EPS * x
        if not (x > 0 and 4 * h > x and scaled < h):
            return h, found
        trial = self._column(j, scaled)
        if not _clean(trial, np.zeros(self.m, dtype=bool), self.f0):
            return h, found
        value, error, left, right, grows = found
        lost = not bool(np.all(np.isfinite(value) | ~np.isfinite(self.f0)))
        # a kink or infinite slope at the balanced step is gone at x's scale only if that
        # column resolves its jump (relu(a) + 2 at a = 1e-300: 2 absorbs a step of 1e-305,
        # and the flat difference there says nothing)
        kinked = _differ(left, right) | grows
        with np.errstate(invalid="ignore"):
            jump = np.abs(right - left)[kinked]
            resolved = bool(np.any(kinked)) and bool(np.all(KINK_FACTOR * trial[1][kinked] < jump))
        better = float(np.max(trial[1], initial=0.0)) < float(np.max(error, initial=0.0))
        return (scaled, trial) if lost or resolved or better else (h, found)

    def _recheck_kink(
        self, j: int, found: tuple[F64, F64, F64, F64, NDArray[np.bool_]]
    ) -> tuple[F64, F64, F64, F64, NDArray[np.bool_]]:
        """A kink seen at steps h, 2h, 4h lies within 4h of x_j, not necessarily at it
        (relu at 1e-300: the step straddles 0). One column at the smallest step that
        would still see the jump above rounding (KINK_RECHECK·ε·|f_i|/jump, and at least
        a few ulp of x_j) decides: a kink at x_j persists there (a tie of first-argmax:
        slopes 0 and 1 at every step); one that is gone, with an error well below the
        jump, was only near x_j, and that column replaces it. There each output's
        rounding is taken relative to its own magnitude near x (relu's 1e-300), not to
        f_scale (the largest output's): at a step of 1e-313 nothing else would resolve."""
        _, _, left, right, _ = found
        at_kink = _differ(left, right)
        jump = float(np.min(np.abs(right - left)[at_kink]))
        own = np.maximum(np.where(np.isfinite(self.f0), np.abs(self.f0), 0.0), TINY)
        x = abs(float(self.x[j]))
        slope = np.maximum(np.abs(left), np.abs(right))[at_kink]  # x_j's rounding: ε·|x·f'|
        reach = float(np.max(np.maximum(own[at_kink], x * slope)))
        h = max(KINK_RECHECK * EPS * reach / jump, 4 * float(np.spacing(x)))
        if not h < float(self.step[j]) / 4:
            return found
        trial = self._column(j, h, own)
        gone = not np.any(_differ(trial[2], trial[3])) and not np.any(trial[4])
        precise = KINK_FACTOR * float(np.max(trial[1][at_kink], initial=0.0)) < jump
        return trial if gone and precise else found

    def _recheck_infinite(
        self, j: int, step: float, found: tuple[F64, F64, F64, F64, NDArray[np.bool_]]
    ) -> tuple[F64, F64, F64, F64, NDArray[np.bool_]]:
        """One-sided slopes that grew as the step halved, all of them finite, are an
        infinite derivative (√x at 0) or a function that varies on the step's scale
        (sin(1e5·x) at a step of 6e-6). A smaller step (ADAPTIVE_FACTORS below 1) whose
        column is clean (no kink, no growth) and resolves the spread of those slopes
        (KINK_FACTOR of its error below it) shows the derivative is finite there, and
        the one with the smallest error replaces it; √x at 0 keeps growing at every
        step."""
        _, _, left, right, infinite = found
        if not bool(np.all(np.isfinite(left[infinite]) & np.isfinite(right[infinite]))):
            return found
        spread = np.abs(right - left)[infinite]
        best, kept = np.inf, found
        for factor in (f for f in ADAPTIVE_FACTORS if f < 1):
            trial = self._column(j, step * factor)
            score = float(np.max(trial[1], initial=0.0))
            if (
                score < best
                and _clean(trial, np.zeros(self.m, dtype=bool), self.f0)
                and bool(np.all(KINK_FACTOR * trial[1][infinite] < spread))
            ):
                best, kept = score, trial
        return kept

    def one_sided(self, j: int) -> tuple[F64, F64]:
        """Column j's one-sided slopes (left, right) for every output: at steps h and 2h,
        extrapolated to h → 0 (first order). `check --explain` shows them; they differ
        beyond their error only at a kink."""
        h = float(self.step[j])
        points = self.x[j] + np.array([h, -h, 2 * h, -2 * h])  # _column's order
        rows = np.repeat(self.x[np.newaxis, :], len(points), axis=0)
        rows[:, j] = points
        with np.errstate(all="ignore"):
            right1, right2, left1, left2 = self._sides(self._eval(rows), points, j)
            return 2 * left1 - left2, 2 * right1 - right2

    def along(self, u: F64, h: float) -> tuple[F64, F64, F64]:
        """The one-sided slopes of every output along the direction u (left, right) at
        steps h and 2h, extrapolated to h → 0 (first order), and their error (the
        extrapolation's spread and f's rounding): a group of tied coordinates moved
        together (a max-pool window's equal maxima) has its own slope, which no
        coordinate's own interval shows."""
        points = np.array([h, -h, 2 * h, -2 * h])
        rows = self.x[np.newaxis, :] + points[:, np.newaxis] * u[np.newaxis, :]
        with np.errstate(all="ignore"):
            f = self._eval(rows)
            right1, left1 = (f[0] - self.f0) / h, (self.f0 - f[1]) / h
            right2, left2 = (f[2] - self.f0) / (2 * h), (self.f0 - f[3]) / (2 * h)
            reach = np.maximum(self.f_scale, np.max(np.abs(f), axis=0, initial=0.0))
            error = np.abs(right1 - right2) + np.abs(left1 - left2) + 8 * ROUNDING * EPS * reach / h
        return 2 * left1 - left2, 2 * right1 - right2, error

    def _sides(self, f: F64, points: F64, j: int) -> tuple[F64, F64, F64, F64]:
        """First-order one-sided slopes (right at h, right at 2h, left at h, left at 2h)
        from f at x_j + [h, −h, 2h, −2h, …] (rows of `f`, in that order)."""
        right1, right2 = ((f[k] - self.f0) / (points[k] - self.x[j]) for k in (0, 2))
        left1, left2 = ((self.f0 - f[k]) / (self.x[j] - points[k]) for k in (1, 3))
        return right1, right2, left1, left2

    def _column(
        self, j: int, h: float, f_scale: F64 | None = None
    ) -> tuple[F64, F64, F64, F64, NDArray[np.bool_]]:
        """Column j at steps h, 2h, 4h: (value, error, left, right, infinite); left and
        right differ only at a kink (elsewhere both are the value). `f_scale`: what f's
        rounding is relative to, if not self.f_scale."""
        offsets = np.array([h, -h, 2 * h, -2 * h, 4 * h, -4 * h])
        points = self.x[j] + offsets
        rows = np.repeat(self.x[np.newaxis, :], len(points), axis=0)
        rows[:, j] = points
        with np.errstate(all="ignore"):
            f = self._eval(rows)  # (6, m)
            widths = (points[0::2] - points[1::2])[:, np.newaxis]  # 2h, 4h, 8h as held
            d1, d2, d4 = (f[0::2] - f[1::2]) / widths
            r1 = (4 * d1 - d2) / 3  # order h⁴
            r2 = (4 * d2 - d4) / 3
            # f's rounding is relative to the largest |f| it was evaluated at
            reach = np.maximum(
                self.f_scale if f_scale is None else f_scale,
                np.max(np.abs(f), axis=0, where=np.isfinite(f), initial=0),
            )
            # and x_j's own rounding moves f by ε·|x_j·∂f/∂x_j|
            reach = np.maximum(reach, np.where(np.isfinite(d1), np.abs(self.x[j] * d1), 0.0))
            rounding = 2 * ROUNDING * EPS * reach / widths[0, 0]
            error = np.abs(r1 - r2) / 15 * 4 + 2 * rounding  # 4: safety on the h⁴ estimate
            value = r1
            # one-sided slopes at h and 2h, extrapolated to h -> 0 (first order)
            right1, right2, left1, left2 = self._sides(f, points, j)
            right4 = (f[4] - self.f0) / (points[4] - self.x[j])
            left4 = (self.f0 - f[5]) / (self.x[j] - points[5])
            right, left = 2 * right1 - right2, 2 * left1 - left2
            side_error = np.abs(right1 - right2) + np.abs(left1 - left2) + 8 * rounding + error
            jump = np.abs(right - left)
            kink = np.isfinite(jump) & (jump > KINK_FACTOR * side_error)
            infinite = _grows(right1, right2, right4) | _grows(left1, left2, left4)
            # where f'' jumps (x·|x| at 0) the central difference is only first order and
            # Richardson's h⁴ extrapolation fails; the one-sided slopes extrapolated from
            # h, 2h and from 2h, 4h are exact to O(h²) on each side: where they agree and
            # their spread is smaller, their mean is the better reference
            right_far, left_far = 2 * right2 - right4, 2 * left2 - left4
            one_sided_error = (
                np.abs(right - right_far) + np.abs(left - left_far) + jump + 16 * rounding
            )
            better = ~kink & ~infinite & np.isfinite(one_sided_error) & (one_sided_error < error)
            value = np.where(better, (left + right) / 2, value)
            error = np.where(better, one_sided_error, error)
        kink_left = np.where(kink, left, value)
        kink_right = np.where(kink, right, value)
        kink_left = np.where(infinite, np.where(np.isfinite(left1), left1, -np.inf), kink_left)
        kink_right = np.where(infinite, np.where(np.isfinite(right1), right1, np.inf), kink_right)
        error = np.where(np.isfinite(error), error, np.inf)
        return value, error, kink_left, kink_right, infinite

    # --- 3. complex step ------------------------------------------------------------
    def complex_step(self, derivative: Derivative | None, columns: Sequence[int]) -> Derivative:
        """Complex-step columns: into `derivative` (in place) or a new Derivative
        (columns not listed are NaN with infinite error). A column whose Im f underflows
        is refined by Richardson instead when `derivative` was given."""
        n = self.x.size
        fresh = derivative is None
        if derivative is None:
            value = np.full((self.m, n), np.nan)
            error = ErrorEstimate(np.ones(self.m), np.full(n, np.inf))
            derivative = Derivative(value, error, "complex step")
        cols = np.asarray(columns, dtype=np.intp)
        per_block = max(1, ELEMENTS_PER_BLOCK // max(n, self.m))
        underflowed: list[int] = []
        for start, stop in parallel.spans(cols.size, per_block):
            chunk = cols[start:stop]
            h = COMPLEX_H * self.step[chunk] / CBRT_EPS
            rows = np.repeat(self.x[np.newaxis, :].astype(np.complex128), chunk.size, axis=0)
            rows[np.arange(chunk.size), chunk] += 1j * h
            with np.errstate(all="ignore"):
                out = np.asarray(self.f_rows(rows))
                block = (out.imag / h[:, np.newaxis]).T  # (m, k)
            derivative.value[:, chunk] = block
            magnitude = np.max(np.where(np.isfinite(block), np.abs(block), 0.0), axis=0)
            for k, j in enumerate(chunk):
                floor = 4 * TINY / h[k]  # what underflows in Im f
                column_error = COMPLEX_ULPS * EPS * magnitude[k] + floor + np.zeros(self.m)
                column_error[~np.isfinite(block[:, k])] = np.inf
                derivative.error.refined[int(j)] = column_error
                if floor > COMPLEX_ULPS * EPS * magnitude[k]:
                    underflowed.append(int(j))
        derivative.methods_used["complex step"] = (
            derivative.methods_used.get("complex step", 0) + cols.size - len(underflowed)
        )
        if underflowed and not fresh:
            # Im f = h·f' underflowed (a derivative near 1e-300 at h = 1e-20): the complex
            # step resolves nothing there, and Richardson's differences do not underflow.
            # Where Richardson's steps reach a kink the complex step did not see (relu at
            # -5e-324, whose derivative is an exact 0), the complex step's column stays:
            # it was asked for because f is analytic at x
            held = {
                j: (derivative.value[:, j].copy(), derivative.error.refined[j]) for j in underflowed
            }
            self.richardson(derivative, underflowed)
            kinked = {k.j for k in derivative.kinks if k.j in held}
            for j in kinked:
                derivative.value[:, j], derivative.error.refined[j] = held[j]
            derivative.kinks = [k for k in derivative.kinks if k.j not in kinked]
        return derivative

    # --- helpers ----------------------------------------------------------------------
    def _perturbed(self, cols: NDArray[np.intp], values: F64) -> F64:
        rows: F64 = np.repeat(self.x[np.newaxis, :], cols.size, axis=0)
        rows[np.arange(cols.size), cols] = values
        return rows

    def _at(self, cols: NDArray[np.intp], values: F64) -> F64:
        """f at x with x[cols[r]] = values[r], one row each."""
        if self.f_changed is None:
            return self._eval(self._perturbed(cols, values))
        out = np.asarray(self.f_changed(cols, values), dtype=np.float64)
        return out.reshape(cols.size, self.m)

    def _eval(self, rows: NDArray[Any]) -> F64:
        return np.asarray(self.f_rows(rows), dtype=np.float64).reshape(rows.shape[0], self.m)


def _beyond(f: F64, scale: F64) -> F64:
    """Per row of a (k, m) batch: max_i |f_i| / scale_i, at least 1 (finite values only)."""
    with np.errstate(all="ignore"):
        ratio = np.abs(f) / scale
    out: F64 = np.max(ratio, axis=1, where=np.isfinite(ratio), initial=1.0)
    return out


def _differ(left: F64, right: F64) -> NDArray[np.bool_]:
    """Where one-sided slopes are two numbers that differ: a kink. A NaN is no slope (an
    infinite or undefined loss there: the report names it as not finite, never as a
    kink with NaN slopes)."""
    differ: NDArray[np.bool_] = (left != right) & ~np.isnan(left) & ~np.isnan(right)
    return differ


def _clean(
    column: tuple[F64, F64, F64, F64, NDArray[np.bool_]],
    infinite: NDArray[np.bool_],
    f0: F64 | None = None,
) -> bool:
    """A column with no kink and no infinite slope beyond those in `infinite`, finite
    wherever f(x) is (when f0 is given)."""
    value, _, left, right, grows = column
    finite = f0 is None or bool(np.all(np.isfinite(value) | ~np.isfinite(f0)))
    return finite and not np.any(_differ(left, right)) and not np.any(grows & ~infinite)


def _relative_error(value: F64, error: F64) -> float:
    """The column's largest error estimate relative to its largest derivative."""
    with np.errstate(all="ignore"):
        top = float(np.max(np.abs(value), initial=0.0))
        worst = float(np.max(error, initial=0.0))
    return worst / top if top > 0 else (0.0 if worst == 0 else np.inf)


def _grows(h1: F64, h2: F64, h4: F64) -> NDArray[np.bool_]:
    """A one-sided slope that keeps growing as the step halves (√x at 0: by √2 each
    time), or one that is not finite where the other side is."""
    with np.errstate(all="ignore"):
        growing = (np.abs(h1) > GROWTH * np.abs(h2)) & (np.abs(h2) > GROWTH * np.abs(h4))
        return growing & np.isfinite(h1) & (np.abs(h1) > 1.0)


def rows_of(f: Callable[[F64], NDArray[Any]], shape: tuple[int, ...]) -> Rows:
    """A batched forward from a plain one: each row of the batch, reshaped to `shape`,
    through f, flattened. For complex rows f must accept complex input."""

    def f_rows(rows: NDArray[Any]) -> NDArray[Any]:
        out = [np.asarray(f(row.reshape(shape))).reshape(-1) for row in rows]
        return np.stack(out) if out else np.zeros((0, 0))

    return f_rows


def central_differences(
    f: Callable[[F64], NDArray[Any]],
    x: NDArray[Any],
    *,
    step: F64 | None = None,
    f_scale: float | None = None,
) -> Derivative:
    """The Jacobian (f(x).size, x.size) of a plain f by Richardson-extrapolated central
    differences on every column, with error estimates and kinks (7 evaluations of f per
    element of x; more where the adaptive step is needed)."""
    x64 = np.asarray(x, dtype=np.float64)
    d = Differentiator(rows_of(f, x64.shape), x64, step, f_scale)
    derivative = d.cheap()
    d.richardson(derivative, range(x64.size))
    derivative.method = "central differences, Richardson"
    return derivative


def complex_step(f: Callable[[NDArray[Any]], NDArray[Any]], x: NDArray[Any]) -> Derivative:
    """The Jacobian (f(x).size, x.size) of an analytic f by the complex step: f is
    called with complex128 arrays shaped like x, one input element perturbed each."""
    x64 = np.asarray(x, dtype=np.float64)
    d = Differentiator(rows_of(f, x64.shape), x64)
    return d.complex_step(None, range(x64.size))
