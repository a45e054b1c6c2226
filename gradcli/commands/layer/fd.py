"""Finite differences for the layer: full central differences on every parameter, or
directional derivatives along random directions when the full check would cost more
than FD_FULL_BUDGET multiply-adds (as gradcheck's fast_mode)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli import core, limits, references
from gradcli import directional as directional_fd
from gradcli.backends import analytic
from gradcli.errors import InputError
from gradcli.report import Array, BackendResult
from gradcli.spec import LayerSpec

# Full central differences cost 2 forwards (B·out·in multiply-adds each) per parameter;
# above this many multiply-adds they are refused rather than left to run for minutes.
FD_FULL_BUDGET = 4e9
PROJECTION_SIGMAS = 6.0  # a 6σ normal deviate: exceeded with probability 2e-9
FD_FORCED_LIMIT = 1e12  # --fd-mode full: about two minutes here; beyond, refused


def fd_forward(w: Array, b: Array, x: Array, kind: str, target: Array) -> dict[str, Array]:
    with np.errstate(all="ignore"):
        z = analytic.linear(w, b, x)
        s = analytic.softmax(z)
        return {"z": z, "s": s, "loss": analytic.loss(kind, z, s, target)}


def fd(
    w: Array, b: Array, x: Array, kind: str, target: Array, dtype: str
) -> tuple[dict[str, Array], list[core.NumericalReference]]:
    """Central differences of the float64 loss, on the float64 shadow of the inputs: the
    arrays, and each gradient as a reference that knows its error (refined by the
    core, with the complex step: the layer is analytic, where a backend disagrees).

    The step of each parameter θ is ∛ε / |∂z/∂θ|, so that z moves by about ∛ε whatever
    the scale of x or W (z's own scale, since softmax ignores shifts): W_ij moves z by
    x_j, b_i by 1, x_j by W_ij. A parameter that z ignores gets ∛ε·max(1, |θ|). The
    loss's rounding is relative to |L| + max|z| (log-sum-exp of z rounds on z's scale).
    """
    w, b, x = (a.astype(dtype).astype(np.float64) for a in (w, b, x))
    t = target.astype(dtype).astype(np.float64) if kind == "mse" else target
    forward = fd_forward(w, b, x, kind, t)
    z, s = forward["z"], forward["s"]
    with np.errstate(all="ignore"):
        f_scale = float(np.abs(forward["loss"])) + float(np.abs(z).max())
    f_scale = f_scale if np.isfinite(f_scale) else 1.0

    def loss_of(w_: Array, b_: Array, x_: Array) -> Array:
        z_ = analytic.linear(w_, b_, x_)
        return analytic.loss(kind, z_, analytic.softmax(z_), t)[..., np.newaxis]

    refs: list[core.NumericalReference] = []

    def grad(quantity: str, f: Any, theta: Array, reach: Array) -> Array:
        step = central_step(theta, reach).reshape(-1)
        d = references.Differentiator(f, theta.reshape(-1), step, f_scale)
        derivative = d.cheap()
        refs.append(core.NumericalReference("fd", quantity, derivative, d, analytic=True))
        return derivative.value.reshape(theta.shape)  # a view: refinement shows in it

    k = (-1,)
    with np.errstate(all="ignore"):
        reach_w = np.broadcast_to(np.abs(x).max(axis=0), w.shape)
        reach_x = np.broadcast_to(np.abs(w).max(axis=0), x.shape)
        reach_s = 1 / np.maximum(np.abs(s), 1e-300) if kind == "ce" else np.ones_like(s)
        arrays = {
            **forward,
            # ce's −log s_t curves on the scale of s_t itself: step ∛ε·s_t. The other
            # losses are at most quadratic in s.
            "dL_ds": grad("dL_ds", loss_s(kind, s.shape, t), s, reach_s),
            "dL_dz": grad(
                "dL_dz", lambda r: loss_z(kind, r.reshape(k + z.shape), t), z, np.ones_like(z)
            ),
            "dW": grad("dW", lambda r: loss_of(r.reshape(k + w.shape), b, x), w, reach_w),
            "db": grad("db", lambda r: loss_of(w, r.reshape(k + b.shape), x), b, np.ones_like(b)),
            "dx": grad("dx", lambda r: loss_of(w, b, r.reshape(k + x.shape)), x, reach_x),
        }
    return arrays, refs


def loss_s(kind: str, shape: tuple[int, ...], target: Array) -> Any:
    def f(rows: Array) -> Array:
        return analytic.loss_from_s(kind, rows.reshape((-1, *shape)), target)[..., np.newaxis]

    return f


def loss_z(kind: str, z: Array, target: Array) -> Array:
    return analytic.loss(kind, z, analytic.softmax(z), target)[..., np.newaxis]


def central_step(theta: Array, reach: Array) -> Array:
    """∛ε/reach where θ moves z, ∛ε·max(1, |θ|) where it does not; never below 8ε|θ|."""
    cbrt_eps = np.cbrt(np.finfo(np.float64).eps)
    with np.errstate(divide="ignore"):
        step = np.where(reach > 0, cbrt_eps / reach, cbrt_eps * np.maximum(1.0, np.abs(theta)))
    floor: Array = 8 * np.finfo(np.float64).eps * np.abs(theta)
    result: Array = np.maximum(step, floor)
    return result


def full_fd_cost(spec: LayerSpec) -> float:
    """Multiply-adds of full central differences: two forward passes per parameter."""
    out_features, in_features = spec.w.shape
    batch = 1 if spec.x.ndim == 1 else spec.x.shape[0]
    params = spec.w.size + spec.b.size + spec.x.size
    return float(2.0 * params * batch * out_features * in_features)


def fd_mode(spec: LayerSpec) -> str:
    """full below FD_FULL_BUDGET multiply-adds, directional above (--fd-mode chooses);
    a forced full check is still refused beyond FD_FORCED_LIMIT."""
    out_features, in_features = spec.w.shape
    batch = 1 if spec.x.ndim == 1 else spec.x.shape[0]
    elements = spec.w.size + spec.b.size + spec.x.size + 2 * batch * out_features
    limits.check_memory(
        limits.layer_peak(elements, [], spec.options.backends, plot=False),  # test_memory.py
        f"a {out_features}×{in_features} layer with a batch of {batch}",
        "use a smaller layer",
    )
    cost = full_fd_cost(spec)
    if spec.fd_mode == "auto":
        return "full" if cost <= FD_FULL_BUDGET else "directional"
    if spec.fd_mode == "full" and "fd" in spec.options.backends and cost > FD_FORCED_LIMIT:
        raise InputError(
            f"full finite differences would take about {cost:.2g} multiply-adds (the limit is "
            f"{FD_FORCED_LIMIT:.2g}); use --fd-mode directional"
        )
    return spec.fd_mode


def directional_note(spec: LayerSpec) -> str:
    return (
        f"fd checked directional derivatives along {directional_fd.DIRECTIONS} random directions "
        f"per gradient (⟨v, g⟩ below), not every element: full central differences would take "
        f"about {full_fd_cost(spec):.2g} multiply-adds. --fd-mode full forces them."
    )


def gradient_shapes(w: Array, x2: Array) -> dict[str, tuple[int, ...]]:
    rows = (x2.shape[0], w.shape[0])
    return {"dL_ds": rows, "dL_dz": rows, "dW": w.shape, "db": (w.shape[0],), "dx": x2.shape}


def with_projections(result: BackendResult, dirs: dict[str, Array]) -> BackendResult:
    arrays = {**result.arrays, **directional_fd.project(dict(result.arrays), dirs)}
    return BackendResult(result.backend, result.method, result.precision, arrays)


def fd_directional(
    w: Array, b: Array, x: Array, kind: str, target: Array, dtype: str, dirs: dict[str, Array]
) -> tuple[BackendResult, list[core.NumericalReference]]:
    w64, b64, x64 = (a.astype(dtype).astype(np.float64) for a in (w, b, x))
    t = target.astype(dtype).astype(np.float64) if kind == "mse" else target
    forward = fd_forward(w64, b64, x64, kind, t)
    single = x.shape[0] == 1
    along, refs = directional_fd.fd_directional(w64, b64, x64, kind, t, dirs)
    arrays: dict[str, Array] = {
        "z": forward["z"].reshape(-1) if single else forward["z"],
        "s": forward["s"].reshape(-1) if single else forward["s"],
        "loss": np.asarray(forward["loss"]),
        **along,
    }
    method = f"central differences along {directional_fd.DIRECTIONS} random directions"
    return BackendResult("fd", method, "fd", arrays), refs


def projected_scales(
    scales: dict[str, float | Array], dirs: dict[str, Array]
) -> dict[str, float | Array]:
    """The scale of ⟨v, g⟩ for the rounding of g: each element g_i is off by about
    ε·scale_i at random, and v is drawn independently of those errors, so ⟨v, δg⟩ is
    normal with deviation ‖δg‖₂ ≤ ε·‖scale‖₂: PROJECTION_SIGMAS of it (the worst case
    Σ|v_i|·scale_i is about √N times looser, and lets real bugs through)."""
    out: dict[str, float | Array] = {}
    for q, v in dirs.items():
        if q in scales:
            per_element = np.broadcast_to(np.asarray(scales[q], dtype=np.float64), v.shape[1:])
            norm = float(np.sqrt(np.sum(per_element**2)))
            out[directional_fd.projected_name(q)] = PROJECTION_SIGMAS * norm
    return out
