"""A corpus of derivatives, correct, with planted bugs, and at kinks, each with its label
and the independent reference that checks the label (mpmath at 50 digits for elementwise
functions, float64 autograd of plain torch operations for the rest).

Bugs are planted at the edge of what each dtype resolves: a relative 1e-10 in float64,
30 ulps in float32, and 8 ulps in float16/bfloat16 (a few times their rounding of ε/2).
tests/test_corpus.py runs gradcli on every case; scripts/corpus_counts.py counts false
alarms and misses for gradcli and for torch.autograd.gradcheck on the same cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Label = Literal["correct", "bug", "kink"]
EPS = {"float64": 2.0**-52, "float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}
PLANTED = {"float64": 1e-10, "float32": 30 * EPS["float32"]}
PLANTED |= {"float16": 8 * EPS["float16"], "bfloat16": 8 * EPS["bfloat16"]}


@dataclass(frozen=True)
class Case:
    name: str
    label: Label
    forward: Callable[..., Any]  # numpy or torch in, same out
    mode: Literal["grad", "vjp", "jacobian"]
    derivative: Callable[..., Any]  # numpy, in the dtype it is given
    x: np.ndarray[Any, Any]
    dtype: str = "float64"
    # the derivative exactly, in float64 (mpmath or autograd): the label's evidence
    mp: Callable[[Any], Any] | None = None  # elementwise f' for mpmath
    planted: float = 0.0  # the relative size of a planted bug (0: none, or not a factor)


def _lib(x: Any) -> Any:
    import torch

    return torch if isinstance(x, torch.Tensor) else np


def square(x: Any) -> Any:
    return x * x


def sin3(x: Any) -> Any:
    return _lib(x).sin(3 * x)


def tanh(x: Any) -> Any:
    return _lib(x).tanh(x)


def xlogx(x: Any) -> Any:
    return x * _lib(x).log(x)


def softmax(z: Any) -> Any:
    lib = _lib(z)
    if lib is np:
        e = np.exp(z - z.max())
        return e / e.sum()
    return lib.softmax(z, dim=-1)


def softmax_jacobian(z: Any) -> Any:
    s = softmax(z)
    return np.diag(s) - np.outer(s, s)


def layer_norm(x: Any) -> Any:
    keep = {"keepdims": True} if isinstance(x, np.ndarray) else {"keepdim": True}
    d = x - x.mean(-1, **keep)
    return d / ((d * d).mean(-1, **keep) + 1e-5) ** 0.5


def layer_norm_vjp(x: Any, g: Any, eps: float = 1e-5) -> Any:
    n = x.shape[-1]
    d = x - x.mean(-1, keepdims=True)
    inv = 1 / np.sqrt((d * d).sum(-1, keepdims=True) / n + eps)
    xhat = d * inv
    return inv * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))


def logsumexp(x: Any) -> Any:
    if _lib(x) is not np:
        return _lib(x).logsumexp(x, dim=-1)
    m = x.max(-1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(-1, keepdims=True)))[..., 0]


def logsumexp_vjp(x: Any, g: Any) -> Any:
    e = np.exp(x - x.max(-1, keepdims=True))
    return g[..., None] * e / e.sum(-1, keepdims=True)


def relu(x: Any) -> Any:
    return x * (x > 0)


def hinge(x: Any) -> Any:
    lib = _lib(x)
    return (lib.maximum(1 - x, 0 * x)).sum()


def maxpool(x: Any) -> Any:
    """max over each row of 4 (a max-pool window)."""
    lib = _lib(x)
    return x.max(-1)[0] if lib is not np else x.max(-1)


def maxpool_vjp_first(x: Any, g: Any) -> Any:
    """Right: the gradient to the first maximum of each window (any one of them is a
    valid subgradient)."""
    out = np.zeros_like(x)
    out[np.arange(x.shape[0]), x.argmax(-1)] = g
    return out


def maxpool_vjp_all_ties(x: Any, g: Any) -> Any:
    """The bug: the whole gradient to every tied maximum (along the direction that moves
    the tied entries together the slope is g; this predicts 2g for two ties)."""
    return (x == x.max(-1, keepdims=True)) * g[:, None]


def cbrt(x: Any) -> Any:
    lib = _lib(x)
    return lib.sign(x) * lib.abs(x) ** (1 / 3) if lib is not np else np.cbrt(x)


def cbrt_grad(x: Any) -> Any:
    return 1 / (3 * np.cbrt(x) ** 2)


def in_float32(x: Any) -> Any:
    """A forward that computes in float32 whatever it is given."""
    return 2 * (x.float() if _lib(x) is not np else np.asarray(x, np.float32))


def twice_identity(x: Any) -> Any:
    return 2 * np.eye(x.size, dtype=x.dtype)


def no_eps(x: Any, g: Any) -> Any:
    """The realistic bug: a layer norm backward that forgets eps."""
    return layer_norm_vjp(x, g, 0.0)


def relu_step(x: Any) -> Any:
    return (x > 0).astype(x.dtype)


def two_at_0(x: Any) -> Any:
    """Wrong at a kink: 2 at relu's 0, outside its interval [0, 1]."""
    return np.where(x == 0, 2.0, x > 0).astype(x.dtype)


def hinge_vjp(x: Any, g: Any) -> Any:
    """−1 below the margin, 0 from it on: at the zero margin 0 lies in [−1, 0]."""
    return -g * (x < 1).astype(x.dtype)


def norm(x: Any) -> Any:
    return (x * x).sum() ** 0.5


def norm_vjp(x: Any, g: Any) -> Any:
    """x/|x|, and 0 at the origin (inside fd's interval [−1, 1] of each coordinate)."""
    size = float(np.sqrt((x * x).sum()))
    return g * (x / size if size > 0 else np.zeros_like(x))


def _scaled(d: Callable[..., Any], by: float) -> Callable[..., Any]:
    def wrong(*args: Any) -> Any:
        value = d(*args)
        if isinstance(value, np.ndarray):
            return value * np.asarray(1 + by, dtype=value.dtype)
        return value * (1 + by)  # a tensor: rounded to its dtype

    return wrong


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, 0xC0])


def cases() -> list[Case]:
    import mpmath

    out: list[Case] = []
    x5 = _rng(1).standard_normal(5)
    elementwise: list[tuple[str, Callable[..., Any], Callable[..., Any], Any, Any]] = [
        ("x²", square, lambda x: 2 * x, lambda t: 2 * t, x5),
        ("sin 3x", sin3, lambda x: 3 * np.cos(3 * x), lambda t: 3 * mpmath.cos(3 * t), x5),
        ("tanh", tanh, lambda x: 1 - _lib(x).tanh(x) ** 2, lambda t: mpmath.sech(t) ** 2, x5),
        (
            "x·log x",
            xlogx,
            lambda x: np.log(x) + 1,
            lambda t: mpmath.log(t) + 1,
            0.5 + np.abs(x5),
        ),
    ]
    for dtype in ("float64", "float32", "float16", "bfloat16"):
        for name, f, d, mp, x in elementwise:
            if dtype in ("float16", "bfloat16") and name != "tanh":
                continue
            out.append(Case(f"{name} {dtype}", "correct", f, "grad", d, x, dtype, mp))
            bug = _scaled(d, PLANTED[dtype])
            out.append(
                Case(f"{name} {dtype} bug", "bug", f, "grad", bug, x, dtype, mp, PLANTED[dtype])
            )
    z = _rng(2).standard_normal(6)
    xs = _rng(3).standard_normal((3, 8))
    for dtype in ("float64", "float32"):
        vector = [
            ("softmax", softmax, "jacobian", softmax_jacobian, z),
            ("layer norm", layer_norm, "vjp", layer_norm_vjp, xs),
            ("logsumexp", logsumexp, "vjp", logsumexp_vjp, xs),
        ]
        for name, f, mode, d, x in vector:
            out.append(Case(f"{name} {dtype}", "correct", f, mode, d, x, dtype))  # type: ignore[arg-type]
            bug = _scaled(d, PLANTED[dtype])
            out.append(
                Case(f"{name} {dtype} bug", "bug", f, mode, bug, x, dtype, None, PLANTED[dtype])  # type: ignore[arg-type]
            )
    out.append(Case("layer norm float32 no eps", "bug", layer_norm, "vjp", no_eps, xs, "float32"))
    shifted = 30 + np.random.default_rng(0).standard_normal((4, 16))  # issue 20's false alarm
    out.append(
        Case(
            "layer norm float16 x=30+N",
            "correct",
            layer_norm,
            "vjp",
            layer_norm_vjp,
            shifted,
            "float16",
        )
    )
    # near singularities and domain edges: fd's step must shrink to x's scale
    edge = np.array([1e-300, 3e-300, 0.5])
    xlogx_grad = elementwise[3][2]
    xlogx_mp = elementwise[3][3]
    out.append(Case("x·log x at 1e-300", "correct", xlogx, "grad", xlogx_grad, edge, mp=xlogx_mp))
    wrong = _scaled(xlogx_grad, 1e-2)
    out.append(
        Case("x·log x at 1e-300 bug", "bug", xlogx, "grad", wrong, edge, mp=xlogx_mp, planted=1e-2)
    )
    near = np.array([1e-6, -2e-6, 3e-7, 1.0])
    cbrt_mp = lambda t: 1 / (3 * mpmath.cbrt(abs(t)) ** 2)  # noqa: E731
    out.append(Case("cbrt near 0", "correct", cbrt, "grad", cbrt_grad, near, mp=cbrt_mp))
    wrong = _scaled(cbrt_grad, 1e-2)
    out.append(Case("cbrt near 0 bug", "bug", cbrt, "grad", wrong, near, mp=cbrt_mp, planted=1e-2))
    x4 = _rng(5).standard_normal(4)
    out.append(
        Case("float32 inside", "correct", in_float32, "jacobian", twice_identity, x4, "float32")
    )
    wrong = _scaled(twice_identity, PLANTED["float32"])
    out.append(
        Case(
            "float32 inside bug",
            "bug",
            in_float32,
            "jacobian",
            wrong,
            x4,
            "float32",
            None,
            PLANTED["float32"],
        )
    )
    # kinks: valid subgradients pass, a tied max-pool's all-ties backward does not
    at_zero = np.array([-1.0, 0.0, 0.5, 0.0])
    out.append(Case("relu at 0", "kink", relu, "grad", relu_step, at_zero))
    out.append(Case("relu at 0 outside [0, 1]", "bug", relu, "grad", two_at_0, at_zero))
    margin = np.array([1.0, 0.5, 2.0])
    out.append(Case("hinge at zero margin", "kink", hinge, "vjp", hinge_vjp, margin))
    ties = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, -1.0, 0.5, 0.0]])
    out.append(Case("max-pool ties", "kink", maxpool, "vjp", maxpool_vjp_first, ties))
    out.append(Case("max-pool ties all", "bug", maxpool, "vjp", maxpool_vjp_all_ties, ties))
    origin = np.zeros(3)
    out.append(Case("norm at the origin", "kink", norm, "vjp", norm_vjp, origin))
    return out
