"""Reverse mode by hand, at tensor level: each operation's backward rule (its
vector-Jacobian product) sits beside its forward, with the math in a comment, as in
micrograd's engine.py. Broadcasting follows numpy (the same rules as PyTorch); a
gradient flowing into a broadcast argument is summed back to its shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcli.spec import Program

Array = NDArray[Any]
Params = tuple[Any, ...]


def unbroadcast(g: Array, shape: tuple[int, ...]) -> Array:
    """Sum g over the axes that broadcasting added or stretched, back to `shape`."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def axes(dims: tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    """Reduction axes, negatives counted from the end; None means all of them."""
    if dims is None:
        return tuple(range(ndim))
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise ValueError(f"dim {d} is out of range for a {ndim}-D tensor")
    return tuple(sorted({d % max(ndim, 1) for d in dims})) if ndim else ()


def expand_back(g: Array, shape: tuple[int, ...], reduced: tuple[int, ...], keepdim: bool) -> Array:
    """The gradient of a reduction, spread back over the reduced axes."""
    if not keepdim:
        for axis in reduced:
            g = np.expand_dims(g, axis)
    return np.broadcast_to(g, shape)


def index_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(slice(*k[1:]) if k[0] == "slice" else k[1] for k in key)


# --- forward and backward, side by side ------------------------------------------------
# vjp(g, args, out, params) returns one gradient per argument (None: no gradient).

Forward = Callable[[Sequence[Array], Params], Array]
Backward = Callable[[Array, Sequence[Array], Array, Params], list[Array | None]]
OPS: dict[str, tuple[Forward, Backward]] = {}


def op(name: str, forward: Forward, backward: Backward) -> None:
    OPS[name] = (forward, backward)


def _both(g: Array, a: Array, b: Array, ga: Array, gb: Array) -> list[Array | None]:
    return [unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)]


# y = a: dy = da
op("identity", lambda x, p: x[0], lambda g, x, o, p: [g])
# d(a + b) = da + db
op("add", lambda x, p: x[0] + x[1], lambda g, x, o, p: _both(g, x[0], x[1], g, g))
# d(a − b) = da − db
op("sub", lambda x, p: x[0] - x[1], lambda g, x, o, p: _both(g, x[0], x[1], g, -g))
# d(a·b) = b·da + a·db
op("mul", lambda x, p: x[0] * x[1], lambda g, x, o, p: _both(g, x[0], x[1], g * x[1], g * x[0]))
# d(a/b) = da/b − a/b²·db
op(
    "div",
    lambda x, p: x[0] / x[1],
    lambda g, x, o, p: _both(g, x[0], x[1], g / x[1], -g * x[0] / (x[1] * x[1])),
)
# d(aᵇ) = b·aᵇ⁻¹·da + aᵇ·log(a)·db
op(
    "pow",
    lambda x, p: x[0] ** x[1],
    lambda g, x, o, p: _both(g, x[0], x[1], g * x[1] * x[0] ** (x[1] - 1), g * o * np.log(x[0])),
)
# d(−a) = −da
op("neg", lambda x, p: -x[0], lambda g, x, o, p: [-g])
# d(eᵃ) = eᵃ·da
op("exp", lambda x, p: np.exp(x[0]), lambda g, x, o, p: [g * o])
# d(log a) = da/a
op("log", lambda x, p: np.log(x[0]), lambda g, x, o, p: [g / x[0]])
# d(√a) = da/(2√a)
op("sqrt", lambda x, p: np.sqrt(x[0]), lambda g, x, o, p: [g / (2 * o)])
# d|a| = sign(a)·da (0 at a = 0, as torch)
op("abs", lambda x, p: np.abs(x[0]), lambda g, x, o, p: [g * np.sign(x[0])])
# d tanh a = (1 − tanh²a)·da
op("tanh", lambda x, p: np.tanh(x[0]), lambda g, x, o, p: [g * (1 - o * o)])
# σ(a) = (1 + tanh(a/2))/2, stable for large |a|;  dσ = σ(1 − σ)·da
op("sigmoid", lambda x, p: 0.5 * (1 + np.tanh(0.5 * x[0])), lambda g, x, o, p: [g * o * (1 - o)])
# relu a = max(a, 0);  d relu = [a > 0]·da (0 at a = 0, as torch)
op("relu", lambda x, p: np.maximum(x[0], 0), lambda g, x, o, p: [g * (x[0] > 0)])
# Aᵀ for 2-D (a no-op below 2-D):  d(Aᵀ) = (dA)ᵀ
op("T", lambda x, p: _transpose2(x[0]), lambda g, x, o, p: [_transpose2(g)])
# swap two axes; the gradient swaps them back
op(
    "transpose",
    lambda x, p: np.swapaxes(x[0], p[0], p[1]),
    lambda g, x, o, p: [np.swapaxes(g, p[0], p[1])],
)
# reshape; the gradient takes the old shape back
op("reshape", lambda x, p: x[0].reshape(p[0]), lambda g, x, o, p: [g.reshape(x[0].shape)])


def _transpose2(a: Array) -> Array:
    if a.ndim > 2:
        raise ValueError(f".T needs a tensor of at most 2 dims, got {a.ndim}; use transpose()")
    return a.T


def _index_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array | None]:
    # basic indexing picks each element at most once: the gradient lands where it came from
    grad = np.zeros_like(x[0])
    grad[index_key(p[0])] = g
    return [grad]


op("index", lambda x, p: x[0][index_key(p[0])], _index_vjp)


def _sum(x: Sequence[Array], p: Params) -> Array:
    return np.asarray(np.sum(x[0], axis=axes(p[0], x[0].ndim), keepdims=p[1]))


# d Σ_axes a = the gradient repeated over the summed axes
op("sum", _sum, lambda g, x, o, p: [expand_back(g, x[0].shape, axes(p[0], x[0].ndim), p[1]).copy()])


def _mean(x: Sequence[Array], p: Params) -> Array:
    return np.asarray(np.mean(x[0], axis=axes(p[0], x[0].ndim), keepdims=p[1]))


def _mean_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array | None]:
    # d mean = the gradient repeated over the axes, divided by how many were averaged
    reduced = axes(p[0], x[0].ndim)
    count = int(np.prod([x[0].shape[a] for a in reduced], dtype=np.int64))
    return [expand_back(g, x[0].shape, reduced, p[1]) / count]


op("mean", _mean, _mean_vjp)


def _max(x: Sequence[Array], p: Params) -> Array:
    return np.asarray(np.amax(x[0], axis=axes(p[0], x[0].ndim), keepdims=p[1]))


def _max_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array | None]:
    # amax: the gradient goes to the maximal elements, shared equally among ties (as torch)
    reduced = axes(p[0], x[0].ndim)
    peak = expand_back(o, x[0].shape, reduced, p[1])
    is_max = (x[0] == peak).astype(x[0].dtype)
    ties = is_max.sum(axis=reduced, keepdims=True)
    return [expand_back(g, x[0].shape, reduced, p[1]) * is_max / ties]


op("max", _max, _max_vjp)


def _softmax(x: Sequence[Array], p: Params) -> Array:
    shifted = np.exp(x[0] - np.max(x[0], axis=p[0], keepdims=True))
    out: Array = shifted / shifted.sum(axis=p[0], keepdims=True)
    return out


# softmax along dim:  Jᵀg = s ⊙ (g − Σ_dim g⊙s)
op(
    "softmax",
    _softmax,
    lambda g, x, o, p: [o * (g - (g * o).sum(axis=p[0], keepdims=True))],
)


def _log_softmax(x: Sequence[Array], p: Params) -> Array:
    shifted = x[0] - np.max(x[0], axis=p[0], keepdims=True)
    out: Array = shifted - np.log(np.exp(shifted).sum(axis=p[0], keepdims=True))
    return out


# log_softmax along dim:  Jᵀg = g − softmax ⊙ Σ_dim g
op(
    "log_softmax",
    _log_softmax,
    lambda g, x, o, p: [g - np.exp(o) * g.sum(axis=p[0], keepdims=True)],
)


def _matmul_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array | None]:
    # C = A·B:  dA = G·Bᵀ, dB = Aᵀ·G; a 1-D side is a row (A) or a column (B) vector,
    # and batch axes that broadcast are summed back.
    a, b = x
    a2 = a[np.newaxis, :] if a.ndim == 1 else a
    b2 = b[:, np.newaxis] if b.ndim == 1 else b
    g2 = g  # put back the axes that a 1-D side dropped from C: b's column, then a's row
    if b.ndim == 1:
        g2 = np.expand_dims(g2, -1)
    if a.ndim == 1:
        g2 = np.expand_dims(g2, -2)
    da = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
    db = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
    return [da, db]


op("matmul", lambda x, p: np.matmul(x[0], x[1]), _matmul_vjp)


# --- running a program -----------------------------------------------------------------


class ProgramError(ValueError):
    """An operation failed on these shapes; `node` says which."""

    def __init__(self, node: int, reason: str) -> None:
        super().__init__(reason)
        self.node = node


def forward(program: Program, inputs: dict[str, Array], dtype: str) -> list[Array]:
    """The value of every node, in `dtype`."""
    values: list[Array] = []
    with np.errstate(all="ignore"):
        for number, node in enumerate(program.nodes):
            if node.op == "input":
                values.append(np.asarray(inputs[node.text], dtype=dtype))
            elif node.op == "const":
                values.append(np.asarray(node.params[0], dtype=dtype))
            else:
                args = [values[a] for a in node.args]
                try:
                    values.append(np.asarray(OPS[node.op][0](args, node.params), dtype=dtype))
                except (ValueError, IndexError, TypeError) as exc:
                    raise ProgramError(number, str(exc)) from None
    return values


def loss_of(out: Array) -> Array:
    """The loss: the sum of the last statement's value, or the value itself if 0-d."""
    return out if out.ndim == 0 else np.asarray(out.sum())


def backward(
    program: Program, values: list[Array]
) -> tuple[list[Array | None], dict[int, list[tuple[int, int, Array]]]]:
    """∂L/∂(every node), and each use's share: contributions[v] = [(consumer, arg, grad)].

    A node that the loss does not reach gets None.
    """
    grads: list[Array | None] = [None] * len(values)
    out = program.output
    grads[out] = np.ones_like(values[out])
    contributions: dict[int, list[tuple[int, int, Array]]] = {}
    with np.errstate(all="ignore"):
        for number in range(len(values) - 1, -1, -1):
            node, g = program.nodes[number], grads[number]
            if g is None or node.op in ("input", "const"):
                continue
            args = [values[a] for a in node.args]
            shares = OPS[node.op][1](g, args, values[number], node.params)
            for position, (arg, share) in enumerate(zip(node.args, shares, strict=True)):
                if share is None or program.nodes[arg].op == "const":
                    continue
                share = np.asarray(share, dtype=values[arg].dtype)
                contributions.setdefault(arg, []).append((number, position, share))
                previous = grads[arg]
                grads[arg] = share.copy() if previous is None else previous + share
    return grads, contributions
