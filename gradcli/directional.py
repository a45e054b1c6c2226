"""Directional finite differences for large layers, as gradcheck's fast_mode does.

Full central differences cost two forward passes per parameter: O(params × forward),
2e12 multiply-adds for a 1000×1000 layer. Instead, for each gradient g = ∂L/∂θ, take K
random directions v_k and compare the directional derivative that fd measures,

    (L(θ + h v_k) − L(θ − h v_k)) / 2h,

with ⟨v_k, g⟩ from numpy's and torch's full gradients. A wrong entry of g shows up in
⟨v_k, g⟩ for every k with probability 1; K = 8 directions make an unlucky cancellation
practically impossible. The step moves z by about ∛ε, as the full mode's steps do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradcli import core, references
from gradcli.backends import analytic
from gradcli.report import Array

DIRECTIONS = 8
WITH_RESPECT_TO = {"dL_ds": "s", "dL_dz": "z", "dW": "W", "db": "b", "dx": "x"}


def projected_name(quantity: str) -> str:
    return f"{quantity}·v"


def directions(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, Array]:
    """K standard normal directions for each gradient, from their own generator."""
    rng = np.random.default_rng([seed, 0x6772_6164])  # independent of the layer's draws
    return {q: rng.standard_normal((DIRECTIONS, *shape)) for q, shape in shapes.items()}


def project(arrays: dict[str, Array], dirs: dict[str, Array]) -> dict[str, Array]:
    """⟨v_k, g⟩ for every direction k of every gradient g, in float64."""
    out = {}
    for q, v in dirs.items():
        g = np.asarray(arrays[q], dtype=np.float64).reshape(v.shape[1:])
        with np.errstate(all="ignore"):
            out[projected_name(q)] = np.tensordot(v, g, axes=g.ndim)
    return out


def fd_directional(
    w: Array, b: Array, x: Array, kind: str, target: Array, dirs: dict[str, Array]
) -> tuple[dict[str, Array], list[core.NumericalReference]]:
    """The directional derivatives of the float64 loss along every direction, as
    references: for each gradient g = ∂L/∂θ, the gradient of φ(t) = L(θ + Σ t_k v_k) at
    t = 0 is (⟨v_k, g⟩)_k, so the reference ladder (error estimates, complex step where
    a backend disagrees) applies as it does to full gradients."""
    z = analytic.linear(w, b, x)
    s = analytic.softmax(z)

    def of_params(w_: Array, b_: Array, x_: Array) -> Array:
        z_ = analytic.linear(w_, b_, x_)
        return analytic.loss(kind, z_, analytic.softmax(z_), target)

    losses: dict[str, Callable[[Array], Array]] = {
        "dL_ds": lambda s_: analytic.loss_from_s(kind, s_, target),
        "dL_dz": lambda z_: analytic.loss(kind, z_, analytic.softmax(z_), target),
        "dW": lambda w_: of_params(w_, b, x),
        "db": lambda b_: of_params(w, b_, x),
        "dx": lambda x_: of_params(w, b, x_),
    }
    values = {"s": s, "z": z, "W": w, "b": b, "x": x}
    with np.errstate(all="ignore"):
        f_scale = float(np.abs(of_params(w, b, x))) + float(np.abs(z).max())
    out, refs = {}, []
    for q, v in dirs.items():
        theta = values[WITH_RESPECT_TO[q]]
        flat_v = v.reshape(len(v), -1)

        def f_rows(t: Array, theta: Array = theta, flat_v: Array = flat_v, q: str = q) -> Array:
            moved = theta.reshape(-1) + t @ flat_v  # (k, N), one moved θ per row
            with np.errstate(all="ignore"):
                return np.asarray(losses[q](moved.reshape(-1, *theta.shape)))[:, np.newaxis]

        step = np.array([_step(q, d, w, x, s, kind, target) for d in v])
        d = references.Differentiator(f_rows, np.zeros(len(v)), step, f_scale)
        derivative = d.cheap()
        name = projected_name(q)
        out[name] = derivative.value.reshape(len(v))
        refs.append(core.NumericalReference("fd", name, derivative, d, analytic=True))
    return out, refs


def _step(q: str, v: Array, w: Array, x: Array, s: Array, kind: str, target: Any) -> float:
    """A step that moves z by about ∛ε (for s: ce's log curves on the scale of s_t)."""
    cbrt_eps = float(np.cbrt(np.finfo(np.float64).eps))
    if q == "dW":
        reach = float(np.abs(x @ v.T).max())
    elif q == "dx":
        reach = float(np.abs(v @ w.T).max())
    else:
        reach = float(np.abs(v).max())
    if q == "dL_ds" and kind == "ce":
        picked = s[np.arange(s.shape[0]), target]
        reach /= max(float(picked.min()), 1e-300)
    return cbrt_eps / reach if reach > 0 else cbrt_eps
