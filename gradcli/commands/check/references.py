"""check's numerical reference on the shared machinery (gradcli.references): for each
quantity a Derivative that knows its own error, refinable by the core (Richardson with
kinks and adaptive steps, or the complex step where the forward is analytic).

- a VJP (and --grad, the VJP of the cotangent 1): the gradient of the scalar
  ⟨g, f(x)⟩ with respect to each input, element by element: a (1, n) Jacobian;
- a Jacobian block (output o, input x): f_o as a function of x: (m, n);
- directional (large inputs): φ(t) = Σ_k ⟨v_k, f(x + t_k·u_k)⟩ at t = 0, whose gradient
  is (v_kᵀ·J·u_k)_k: a (1, DIRECTIONS) Jacobian, each column one forward call per step.

The forward is the user's code, asked through an Evaluator a block of points at a time
(one request per block of the references' batches, never on the thread pool).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradcli import core, references
from gradcli.commands.check import analytic as check_analytic
from gradcli.commands.check.backends import Trial
from gradcli.commands.check.evaluator import Evaluator

Array = np.ndarray[Any, Any]
Made = tuple[Array, core.NumericalReference]


def _reference(
    key: str,
    f_rows: references.Rows,
    x: Array,
    describe: Callable[[tuple[int, ...]], str],
    *,
    factor: float = 1.0,
    step: Array | None = None,
    f_scale: float | Array | None = None,
    complex_input: bool = False,
) -> tuple[references.Derivative, core.NumericalReference]:
    flat = x.reshape(-1)
    if step is None:
        step = references.CBRT_EPS * np.maximum(1.0, np.abs(flat))
    # the cheap pass block after block on the calling thread (memory stays bounded by the
    # references' block size): the user's forward must not run on the pool's threads
    d = _Probed(f_rows, flat, step * factor, f_scale, threads=False)
    d.probe_step = step  # the inputs' scale, without the noise's step factor
    derivative = d.cheap()
    return derivative, core.NumericalReference("fd", key, derivative, d, complex_input, describe)


class _Probed(references.Differentiator):
    """The complex step only for a forward that carries it, probed once (check_analytic)
    when the core first asks for it: a check whose cheap reference is conclusive pays
    nothing. A forward that fails the probe is refined by Richardson instead."""

    _carries: bool | None = None
    probe_step: Array | None = None

    def complex_step(
        self, derivative: references.Derivative | None, columns: Sequence[int]
    ) -> references.Derivative:
        if self._carries is None:
            self._carries = check_analytic.carries_the_complex_step(
                self.f_rows, self.x, self.step if self.probe_step is None else self.probe_step
            )
        if self._carries or derivative is None:
            return super().complex_step(derivative, columns)
        self.richardson(derivative, columns)
        return derivative


def vjp(
    subject: Evaluator, trial: Trial, name: str, cotangents: tuple[Array, ...], key: str, label: str
) -> Made:
    """∂⟨g, f⟩/∂x for input `name`, shaped like it: the gradient of ⟨g, f(x) − f(x₀)⟩,
    whose differences are taken element by element before the sum, so that a tiny
    output (relu at 1e-300) is not lost in the rounding of the large ones. An output
    infinite at x₀ that stays the same infinity at a step (log-sum-exp over a fully
    masked row: −inf about x₀) is constant there: its difference is 0, where −inf −
    (−inf) would make every element NaN; one that does not (log at 0) stays NaN."""
    x = trial.values[name]
    infinite = [np.isinf(y0) for y0 in trial.outputs]

    def f_rows(rows: Array) -> Array:
        out = np.empty((rows.shape[0], 1), dtype=rows.dtype)
        points = [{**trial.values, name: row.reshape(x.shape)} for row in rows]
        with np.errstate(invalid="ignore"):
            for k, outputs in enumerate(_evaluate(subject, points)):
                out[k, 0] = sum(
                    np.sum(np.where(inf & (y == y0), 0, g * (y - y0)))
                    for g, y, y0, inf in zip(
                        cotangents, outputs, trial.outputs, infinite, strict=True
                    )
                )
        return out

    with np.errstate(all="ignore"):
        terms = sum(
            float(np.sum(np.abs(g) * m)) for g, m in zip(cotangents, _sizes(trial), strict=True)
        )
    derivative, reference = _reference(
        key,
        f_rows,
        x,
        _describe(label, x.shape),
        factor=trial.step_factor,
        f_scale=max(terms, 1e-300),
        complex_input=subject.facts.complex_capable,
    )
    return derivative.value.reshape(x.shape), reference


def jacobian(
    subject: Evaluator, trial: Trial, output: int, name: str, key: str, label: str
) -> Made:
    """The block ∂f_o/∂x of input `name`: (outputs, inputs)."""
    x = trial.values[name]

    def f_rows(rows: Array) -> Array:
        points = [{**trial.values, name: row.reshape(x.shape)} for row in rows]
        return np.stack([y[output].reshape(-1) for y in _evaluate(subject, points)])

    derivative, reference = _reference(
        key,
        f_rows,
        x,
        _describe(label, x.shape, jacobian=True),
        factor=trial.step_factor,
        f_scale=np.maximum(_sizes(trial)[output].reshape(-1), 1e-300),
        complex_input=subject.facts.complex_capable,
    )
    return derivative.value, reference


def directional(
    subject: Evaluator,
    trial: Trial,
    name: str,
    u: Array,
    v: list[tuple[Array, ...]],
    key: str,
    label: str,
) -> Made:
    """(v_kᵀ·J·u_k)_k for input `name` along the directions u[k] (cotangents v[k])."""
    x = trial.values[name]
    base = [
        sum(float(np.sum(vo * yo)) for vo, yo in zip(vk, trial.outputs, strict=True)) for vk in v
    ]

    def f_rows(rows: Array) -> Array:
        """φ at each row, every moved point of the block evaluated in one request."""
        moved = [(r, k) for r, row in enumerate(rows) for k, tk in enumerate(row) if tk != 0]
        points = [{**trial.values, name: x + rows[r, k] * u[k]} for r, k in moved]
        terms: list[list[Any]] = [list(base) for _ in rows]  # φ's terms, in k's order
        for (r, k), outputs in zip(moved, _evaluate(subject, points), strict=True):
            terms[r][k] = sum(np.sum(vo * yo) for vo, yo in zip(v[k], outputs, strict=True))
        totals = []
        for row in terms:
            total: Any = 0.0
            for term in row:
                total += term
            totals.append(total)
        return np.array([[t] for t in totals], dtype=rows.dtype)

    reach = np.array([max(float(np.abs(uk).max()), 1e-300) for uk in u])
    step = references.CBRT_EPS * max(1.0, float(np.abs(x).max())) / reach
    with np.errstate(all="ignore"):
        terms = sum(
            float(np.sum(np.abs(vo * yo)))
            for vk in v
            for vo, yo in zip(vk, trial.outputs, strict=True)
        )
    derivative, reference = _reference(
        key,
        f_rows,
        np.zeros(len(v)),
        lambda i: f"{label} along direction {i[-1]}",
        factor=trial.step_factor,
        step=step,
        f_scale=max(terms, 1e-300),
        complex_input=subject.facts.complex_capable,
    )
    return derivative.value.reshape(len(v)), reference


def _evaluate(subject: Evaluator, points: list[dict[str, Array]]) -> list[tuple[Array, ...]]:
    """The forward at a block of points, in float64, or in complex128 for the complex
    step (complex rows): a forward that returns real numbers there gives NaN, never a
    silent zero."""
    if not any(np.iscomplexobj(v) for p in points for v in p.values()):
        return subject.forward(points)
    complex_outputs = subject.forward_complex(points)
    if all(y is not None for y in complex_outputs):
        return [y for y in complex_outputs if y is not None]
    real = subject.forward([_real(p) for p in points])
    return [
        y if y is not None else tuple(np.full(o.shape, np.nan + 0j) for o in r)
        for y, r in zip(complex_outputs, real, strict=True)
    ]


def _real(values: dict[str, Array]) -> dict[str, Array]:
    return {k: np.real(v) for k, v in values.items()}


def _sizes(trial: Trial) -> tuple[Array, ...]:
    return trial.magnitudes or tuple(np.abs(y) for y in trial.outputs)


def _describe(
    label: str, shape: tuple[int, ...], *, jacobian: bool = False
) -> Callable[[tuple[int, ...]], str]:
    """Names an element for a kink: "x[2]" of a gradient, "∂y[0]/∂x[2]" of a Jacobian."""

    def at(index: tuple[int, ...]) -> str:
        if jacobian:
            i, j = index[0], index[-1]
            where = list(np.unravel_index(j, shape)) if shape else []
            return f"∂y[{i}]/∂{label}{[int(w) for w in where]}"
        return f"{label}{[int(k) for k in index]}"

    return at
