"""Operations that move, reduce or mix elements: .T, transpose, reshape, indexing, sum,
mean, max, softmax, log_softmax and matmul. Backward rules follow torch's formulas;
forwards accept complex input (for the complex step), softmax shifting by the real
part's maximum, a constant that softmax ignores."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcli.ops.record import (
    MAX_DIMS,
    MULTIPLY_ADDS,
    Array,
    Op,
    Param,
    Params,
    Shape,
    axes,
    broadcast,
    elements,
    expand_back,
    index_key,
    transcendental,
    unbroadcast,
)

# --- moving elements ----------------------------------------------------------------------


def t_shape(shapes: Sequence[Shape], p: Params) -> Shape:
    if len(shapes[0]) > 2:
        raise ValueError(
            f".T needs a tensor of at most 2 dims, got {len(shapes[0])}; use transpose()"
        )
    return shapes[0][::-1]


def t_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # d(Aᵀ) = (dA)ᵀ
    return [g.T]


def transpose_shape(shapes: Sequence[Shape], p: Params) -> Shape:
    a = shapes[0]
    d0, d1 = (axes((d,), len(a)) for d in p)  # checked even for a 0-d tensor (0 or -1)
    if not a:
        return a
    swapped = list(a)
    swapped[d0[0]], swapped[d1[0]] = a[d1[0]], a[d0[0]]
    return tuple(swapped)


def transpose_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # swapping two axes is its own inverse: the gradient swaps them back
    return [np.swapaxes(g, p[0], p[1]) if g.ndim else g]


MAX_BYTES = 2**63 - 1  # the largest array size in bytes numpy and torch can address


def reshape_shape(shapes: Sequence[Shape], p: Params) -> Shape:
    a, shape = shapes[0], tuple(p[0])
    size = math.prod(a)
    if len(shape) > MAX_DIMS:
        raise ValueError(f"reshape to {len(shape)} dims: at most {MAX_DIMS}")
    if shape.count(-1) > 1 or any(n < -1 for n in shape):
        raise ValueError(f"reshape to {shape}: only one -1, no other negative size")
    known = math.prod(n for n in shape if n != -1)
    if -1 in shape:
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape {a} ({size} elements) to {shape}")
        return tuple(size // known if n == -1 else n for n in shape)
    if known != size:
        raise ValueError(f"cannot reshape {a} ({size} elements) to {shape}")
    if math.prod(max(n, 1) for n in shape) > MAX_BYTES // 8:  # (2**62, 0) holds 0 elements,
        # yet no array of that shape can exist: numpy and torch refuse its strides
        raise ValueError(f"reshape to {shape}: no array has an axis that long")
    return shape


def reshape_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # reshaping keeps the elements in order: the gradient takes the old shape back
    return [g.reshape(x[0].shape)]


def index_shape(shapes: Sequence[Shape], p: Params) -> Shape:
    a = shapes[0]
    dummy = np.lib.stride_tricks.as_strided(np.zeros(1), shape=a, strides=(0,) * len(a))
    return tuple(dummy[index_key(p[0])].shape)


def index_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # basic indexing picks each element at most once: the gradient lands where it came from
    grad = np.zeros(x[0].shape, dtype=g.dtype)
    grad[index_key(p[0])] = g
    return [grad]


# --- reductions -------------------------------------------------------------------------


def reduce_shape(shapes: Sequence[Shape], p: Params) -> Shape:
    a = shapes[0]
    reduced = axes(p[0], len(a))
    return tuple(1 if i in reduced else n for i, n in enumerate(a) if p[1] or i not in reduced)


def sum_forward(x: Sequence[Array], p: Params) -> Array:
    return np.asarray(np.sum(x[0], axis=axes(p[0], x[0].ndim), keepdims=p[1]))


def sum_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # d Σ_axes a = the gradient repeated over the summed axes
    return [expand_back(g, x[0].shape, axes(p[0], x[0].ndim), p[1]).copy()]


def _count(x: Array, p: Params) -> int:
    return math.prod(x.shape[a] for a in axes(p[0], x.ndim))


def mean_forward(x: Sequence[Array], p: Params) -> Array:
    # the sum over the count: the mean of nothing is 0/0 = NaN, as in torch, with no warning
    return sum_forward(x, p) / _count(x[0], p)


def mean_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # d mean = the gradient repeated over the axes, divided by how many were averaged
    reduced = axes(p[0], x[0].ndim)
    return [expand_back(g, x[0].shape, reduced, p[1]) / _count(x[0], p)]


def max_shape(shapes: Sequence[Shape], p: Params) -> Shape:
    a = shapes[0]
    if 0 in [a[i] for i in axes(p[0], len(a))]:
        raise ValueError("max over an empty dimension has no value (torch refuses it too)")
    return reduce_shape(shapes, p)


def max_forward(x: Sequence[Array], p: Params) -> Array:
    return np.asarray(np.amax(x[0], axis=axes(p[0], x[0].ndim), keepdims=p[1]))


def _is_peak(x: Sequence[Array], o: Array, p: Params) -> tuple[Array, tuple[int, ...]]:
    reduced = axes(p[0], x[0].ndim)
    return x[0] == expand_back(o, x[0].shape, reduced, p[1]), reduced


def max_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # amax: the gradient goes to the maximal elements, shared equally among ties (torch:
    # grad / count · mask, the count of ties in each reduced slice)
    peak, reduced = _is_peak(x, o, p)
    mask = peak.astype(g.dtype)
    ties = mask.sum(axis=reduced, keepdims=True)
    return [expand_back(g, x[0].shape, reduced, p[1]) / ties * mask]


def max_kinks(x: Sequence[Array], o: Array, p: Params) -> list[tuple[int, Array, str]]:
    peak, reduced = _is_peak(x, o, p)
    ties = peak.sum(axis=reduced, keepdims=True)
    return [(0, peak & (ties > 1), "tie")]


# --- softmax and log_softmax along dim ----------------------------------------------------


def softmax_shape(shapes: Sequence[Shape], p: Params) -> Shape:
    if not shapes[0]:
        raise ValueError("softmax needs a tensor of at least 1 dim")
    axes((p[0],), len(shapes[0]))
    return shapes[0]


def _shifted(a: Array, dim: int) -> Array:
    # softmax ignores a shift; the real part's maximum keeps exp from overflowing
    if a.size == 0:
        return a.copy()
    shifted: Array = a - np.max(a.real, axis=dim, keepdims=True)
    return shifted


def softmax_forward(x: Sequence[Array], p: Params) -> Array:
    e = np.exp(_shifted(x[0], p[0]))
    out: Array = e / e.sum(axis=p[0], keepdims=True)
    return out


def softmax_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # ∂s_i/∂z_j = s_i(δ_ij − s_j), so Jᵀg = s ⊙ (g − Σ_dim g⊙s)
    return [o * (g - (g * o).sum(axis=p[0], keepdims=True))]


def log_softmax_forward(x: Sequence[Array], p: Params) -> Array:
    shifted = _shifted(x[0], p[0])
    out: Array = shifted - np.log(np.exp(shifted).sum(axis=p[0], keepdims=True))
    return out


def log_softmax_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # ∂(log s_i)/∂z_j = δ_ij − s_j, so Jᵀg = g − softmax ⊙ Σ_dim g  (softmax = exp(out))
    return [g - np.exp(o) * g.sum(axis=p[0], keepdims=True)]


# --- matmul -------------------------------------------------------------------------------


def matmul_shape(shapes: Sequence[Shape], p: Params) -> Shape:
    # A's last axis meets B's second-to-last (its only one if 1-D); a 1-D side adds no
    # axis to C; the axes before the last two broadcast
    a, b = shapes
    if not a or not b:
        raise ValueError("matmul needs tensors of at least 1 dim")
    inner = b[-2] if len(b) > 1 else b[0]
    if a[-1] != inner:
        raise ValueError(f"matmul: inner sizes differ ({a[-1]} and {inner})")
    return broadcast(a[:-2], b[:-2]) + a[-2:-1] + b[-1:] * (len(b) > 1)


def matmul_cost(shapes: Sequence[Shape], out: Shape, p: Params) -> int:
    # (elements of C)·(inner size) multiply-adds, MULTIPLY_ADDS per element operation
    return max(math.prod(out), 1) * shapes[0][-1] // MULTIPLY_ADDS + elements(shapes, out, p)


def matmul_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # C = A·B:  dA = G·Bᵀ, dB = Aᵀ·G. A 1-D A is a row and a 1-D B a column (whose axis C
    # drops, so G gets it back); batch axes that broadcast are summed back.
    a, b = x
    a2 = a[np.newaxis, :] if a.ndim == 1 else a
    b2 = b[:, np.newaxis] if b.ndim == 1 else b
    g2 = np.expand_dims(g, -1) if b.ndim == 1 else g
    g2 = np.expand_dims(g2, -2) if a.ndim == 1 else g2
    da = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
    db = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
    return [da, db]


def reduce_twin(reduce: Any, x: Sequence[Any], p: Params) -> Any:
    """torch's reduction `reduce` with dim (None: all) and keepdim."""
    dims = p[0] if p[0] is not None else tuple(range(x[0].ndim))
    return reduce(x[0], dim=dims, keepdim=p[1])


DIMS = (Param("dim", "dims", None), Param("keepdim", "bool", False))

T = Op(
    "T", 1, (), t_shape, lambda x, p: x[0].T, t_vjp,
    lambda t, x, p: x[0] if x[0].ndim < 2 else x[0].transpose(0, 1), analytic=True,
    function=False, symbol=".T", rounding="exact",
)  # fmt: skip
TRANSPOSE = Op(
    "transpose", 1, (Param("dim0", "int"), Param("dim1", "int")), transpose_shape,
    lambda x, p: np.swapaxes(x[0], p[0], p[1]) if x[0].ndim else x[0], transpose_vjp,
    lambda t, x, p: t.transpose(x[0], p[0], p[1]), analytic=True, example="transpose(a, 0, 1)",
    rounding="exact",
)  # fmt: skip
RESHAPE = Op(
    "reshape", 1, (Param("shape", "shape"),), reshape_shape,
    lambda x, p: x[0].reshape(p[0]), reshape_vjp, lambda t, x, p: x[0].reshape(p[0]),
    analytic=True, example="reshape(a, 2, 5)", rounding="exact",
)  # fmt: skip
INDEX = Op(
    "index", 1, (), index_shape, lambda x, p: x[0][index_key(p[0])], index_vjp,
    lambda t, x, p: x[0][index_key(p[0])], analytic=True, function=False, symbol="[]",
    rounding="exact",
)  # fmt: skip
SUM = Op(
    "sum", 1, DIMS, reduce_shape, sum_forward, sum_vjp,
    lambda t, x, p: reduce_twin(t.sum, x, p), analytic=True, example="sum(a, dim=0)",
    rounding="terms",
)  # fmt: skip
MEAN = Op(
    "mean", 1, DIMS, reduce_shape, mean_forward, mean_vjp,
    lambda t, x, p: reduce_twin(t.mean, x, p), analytic=True, example="mean(a, dim=0)",
    rounding="terms",
)  # fmt: skip
MAX = Op(
    "max", 1, DIMS, max_shape, max_forward, max_vjp,
    lambda t, x, p: reduce_twin(t.amax, x, p), analytic=False,
    kinks="ties: several elements share the maximum (torch shares the gradient equally)",
    kink_points=max_kinks, example="max(a, dim=0)", rounding="exact",
)  # fmt: skip
SOFTMAX = Op(
    "softmax", 1, (Param("dim", "int"),), softmax_shape, softmax_forward, softmax_vjp,
    lambda t, x, p: t.softmax(x[0], dim=p[0]), analytic=True, cost=transcendental,
    example="softmax(a, dim=-1)",
)  # fmt: skip
LOG_SOFTMAX = Op(
    "log_softmax", 1, (Param("dim", "int"),), softmax_shape, log_softmax_forward,
    log_softmax_vjp, lambda t, x, p: t.log_softmax(x[0], dim=p[0]), analytic=True,
    cost=transcendental, example="log_softmax(a, dim=-1)",
)  # fmt: skip
MATMUL = Op(
    "matmul", 2, (), matmul_shape, lambda x, p: np.matmul(x[0], x[1]), matmul_vjp,
    lambda t, x, p: t.matmul(x[0], x[1]), analytic=True, cost=matmul_cost,
    operator="MatMult", symbol="@", example="matmul(a, b)", rounding="terms",
)  # fmt: skip

OPS = (T, TRANSPOSE, RESHAPE, INDEX, SUM, MEAN, MAX, SOFTMAX, LOG_SOFTMAX, MATMUL)
