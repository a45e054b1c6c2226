"""The graph's numerical reference: the gradient of the loss with respect to each input
(or its derivatives along random directions, for large inputs), as references that know
their own error.

Full mode differentiates L(x) element by element; directional mode differentiates
φ(t) = L(x + Σ_k t_k v_k) at t = 0, whose gradient is (⟨v_k, ∂L/∂x⟩)_k. Both start
with the cheap central difference and are refined by the core where a backend
disagrees: by the complex step when every operation of the program is analytic (the op
registry says so, the engine then runs in complex128, and no operation sits at a point
without a derivative), else by Richardson with kink detection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradcli import core, ops, references
from gradcli import directional as directional_fd
from gradcli.backends import engine
from gradcli.commands.graph import rounding as graph_rounding
from gradcli.report import Array
from gradcli.spec import GraphSpec, Program

KINK_SEARCH_ELEMENTS = 256  # inputs up to this size get Richardson and kinks everywhere


def complex_step_exact(program: Program, shadow: dict[str, Array]) -> bool:
    """Whether the complex step is exact for this program at these inputs: no argument
    of any op at a point without a derivative (relu at 0, a tie of max, sqrt at 0), per
    the op registry. relu, abs and max keep their real branch for complex input, so
    away from those points they are as good as analytic: relu at 1e-300 or at the
    smallest subnormal has slope 1, which no real step that straddles 0 would see."""
    return not kink_points(program, shadow)


def kink_points(program: Program, shadow: dict[str, Array]) -> list[ops.KinkPoint]:
    """The op registry's points without a derivative at these inputs (relu at 0, sqrt
    at 0, max at a tie, ...)."""
    return ops.kink_points(program, engine.forward(program, shadow, "float64"))


def loss_rounding_scale(program: Program, shadow: dict[str, Array]) -> float:
    """What the loss's rounding is relative to: the largest magnitude the float64 forward
    meets on the way (a − mean(a) at a ≈ 1e4 rounds by ε·1e4 however small the loss),
    and the sum of the output's magnitudes (a loss that sums to 0 still rounds its terms)."""
    values = engine.forward(program, shadow, "float64")
    with np.errstate(all="ignore"):
        largest = [float(np.max(np.abs(v[np.isfinite(v)]), initial=0.0)) for v in values]
        out = values[program.output]
        terms = float(np.sum(np.abs(out[np.isfinite(out)])))
    return max([terms, *largest, 1e-300])


def evaluation_scale(program: Program, shadow: dict[str, Array]) -> float:
    """What fd's rounding bound is relative to: `loss_rounding_scale`, or the loss's
    measured rounding noise over ε where the program amplifies rounding (1/√v in layer
    norm at a tiny spread: the loss is off by ~1e-10, not by ε·max|a|)."""
    measured = graph_rounding.loss_noise(program, shadow) / references.EPS
    return max(loss_rounding_scale(program, shadow), measured)


def loss_rows(spec: GraphSpec, shadow: dict[str, Array], name: str) -> references.Rows:
    """A batched loss of input `name`: each row of the batch is that input, flattened;
    complex rows run the engine in complex128 (for the complex step)."""
    program, shape = spec.program, shadow[name].shape

    def f_rows(rows: Array) -> Array:
        complex_rows = np.iscomplexobj(rows)
        dtype = "complex128" if complex_rows else "float64"
        out = np.empty((rows.shape[0], 1), dtype=np.complex128 if complex_rows else np.float64)
        for k, row in enumerate(rows):
            values = engine.forward(program, {**shadow, name: row.reshape(shape)}, dtype)
            out[k, 0] = engine.loss_of(values[program.output])
        return out

    return f_rows


def full(
    spec: GraphSpec, shadow: dict[str, Array], describe: Callable[[str], Any]
) -> tuple[dict[str, Array], list[core.NumericalReference]]:
    """∂L/∂x for every input x by central differences, step ∛ε·max(1, |x_j|)."""
    arrays, refs = {}, []
    f_scale = evaluation_scale(spec.program, shadow)
    # the complex step is exact except at the points where an op has no derivative (relu
    # at 0, sqrt at 0): there Richardson finds the kink or the infinity
    is_analytic = complex_step_exact(spec.program, shadow)
    for name, x in shadow.items():
        flat = x.reshape(-1)
        d = references.Differentiator(loss_rows(spec, shadow, name), flat, f_scale=f_scale)
        derivative = d.cheap()
        if not is_analytic and flat.size <= KINK_SEARCH_ELEMENTS:
            # an op at a kink (relu at 0, a tie of max): look for kinks everywhere (7
            # passes per element instead of 2), so that each is named even where
            # backends agree
            d.richardson(derivative, range(flat.size))
            away = _kinks_away_from_points(spec, shadow, name, derivative)
            if away:  # relu(a) at a = [0, 5e-324]: a[1]'s step straddles 0, a[1] does not
                d.complex_step(derivative, away)
                derivative.kinks = [k for k in derivative.kinks if k.j not in away]
        arrays[f"grads.{name}"] = derivative.value.reshape(x.shape)  # a view: refined in place
        refs.append(
            core.NumericalReference(
                "fd", f"grads.{name}", derivative, d, is_analytic, describe(name)
            )
        )
    return arrays, refs


def _kinks_away_from_points(
    spec: GraphSpec, shadow: dict[str, Array], name: str, derivative: references.Derivative
) -> list[int]:
    """The columns of input `name` where Richardson saw a kink although no point of the
    op registry's `kink_points` depends on that input element (its step straddled a
    kink that the element itself does not sit at): a complex forward with that element
    moved by i·h leaves the imaginary part of every such point at 0."""
    program = spec.program
    points = kink_points(program, shadow)
    x = shadow[name].reshape(-1)
    away = []
    for j in sorted({k.j for k in derivative.kinks if not k.infinite}):
        moved = x.astype(np.complex128)
        moved[j] += 1j * references.COMPLEX_H * max(1.0, abs(float(x[j])))
        values = engine.forward(
            program, {**shadow, name: moved.reshape(shadow[name].shape)}, "complex128"
        )
        reached = any(
            np.imag(values[program.nodes[p.node].args[p.argument]][index]) != 0
            for p in points
            for index in p.indices
        )
        if not reached:
            away.append(j)
    return away


def along(
    spec: GraphSpec, shadow: dict[str, Array], dirs: dict[str, Array]
) -> tuple[dict[str, Array], list[core.NumericalReference]]:
    """⟨v_k, ∂L/∂x⟩ for each input x and direction v_k: the gradient of
    φ(t) = L(x + Σ t_k v_k) at t = 0, the step moving x by about ∛ε·max(1, |x|)."""
    arrays, refs = {}, []
    f_scale = loss_rounding_scale(spec.program, shadow)  # no measured noise: large inputs
    is_analytic = complex_step_exact(spec.program, shadow)
    for name, x in shadow.items():
        v = dirs[f"grads.{name}"]
        inner = loss_rows(spec, shadow, name)

        def f_rows(t: Array, x: Array = x, v: Array = v, inner: Any = inner) -> Array:
            # one moved x at a time: all rows of t @ v at once held 2·rows copies of x
            # (16 of a 9e6-element input: 1.1 GiB, beyond limits.graph_peak's model)
            flat_x, flat_v = x.reshape(-1), v.reshape(len(v), -1)
            return np.concatenate([np.asarray(inner((flat_x + r @ flat_v)[None])) for r in t])

        scale = max(1.0, float(np.abs(x).max()) if x.size else 1.0)
        reach = float(np.abs(v).reshape(len(v), -1).max(axis=1).max())
        step = np.full(len(v), references.CBRT_EPS * scale / max(reach, 1e-300))
        d = references.Differentiator(f_rows, np.zeros(len(v)), step, f_scale)
        derivative = d.cheap()
        quantity = directional_fd.projected_name(f"grads.{name}")
        arrays[quantity] = derivative.value.reshape(len(v))
        refs.append(core.NumericalReference("fd", quantity, derivative, d, is_analytic))
    return arrays, refs


def kink_describer(
    program: Program, values: list[Array], shadow: dict[str, Array]
) -> Callable[[str], Callable[[tuple[int, ...]], str]]:
    """Names a kink of ∂L/∂x at x[i]: "relu(a) at a[0] = 0" from the op registry's
    points without a derivative at these values, else "∂L/∂a at a[0] = 0"."""
    names = sorted({f"{p.op}({p.argument_text})" for p in ops.kink_points(program, values)})
    where = " or ".join(names)

    def for_input(name: str) -> Callable[[tuple[int, ...]], str]:
        def describe(index: tuple[int, ...]) -> str:
            value = float(shadow[name][index]) if shadow[name].ndim else float(shadow[name])
            at = f"{name}{list(index)} = {value:.6g}"
            return f"{where} at {at}" if where else f"∂L/∂{name} at {at}"

        return describe

    return for_input
