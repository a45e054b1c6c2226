"""The hand-derived formulas, written in numpy.

Each derivative sits beside its forward, with the math in a comment.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcli import parallel

Array = NDArray[Any]


def softmax(z: Array, temperature: float = 1.0) -> Array:
    """s = softmax(z / T) along the last axis, in the dtype of `z`.

    Stable: the largest entry is subtracted first (softmax ignores shifts), so exp never
    overflows. The shift comes before the division by T: ``z − max z`` is exact for
    nearby values, while ``z / T`` would round 1000/3 in float32 and move s by 1e-5.
    """
    e: Array = z - z.max(axis=-1, keepdims=True)
    if temperature != 1.0:  # x / 1 is x: a pass over a batch of fd's rows saved
        e /= temperature
    np.exp(e, out=e)  # in place: fd calls this on blocks of perturbed rows
    e /= e.sum(axis=-1, keepdims=True)
    return e


def softmax_changed(x: Array, cols: Array, values: Array, temperature: float = 1.0) -> Array:
    """`softmax` of k rows, row r being x with x[cols[r]] = values[r]: the same bits as
    ``softmax(rows, temperature)`` of those rows (fd's perturbed inputs), in fewer passes.

    Where a row's largest entry is still max x (its changed entry is not above it, nor
    was it the maximum), its shifted exponentials are those of x but one: exp((x − max
    x) / T) is computed once and copied to every row, and only the changed entry's is
    computed again, elementwise by the same operations (both on contiguous arrays, as
    `softmax` computes them). The row sums and the division are `softmax`'s own, on the
    same (k, n) array. The other rows (a changed maximum) go through `softmax`.
    """
    x = np.asarray(x, dtype=np.float64)
    cols = np.asarray(cols, dtype=np.intp)
    values = np.asarray(values, dtype=np.float64)
    top = x.max()
    shared = x - top
    changed = values - top
    if temperature != 1.0:
        shared /= temperature
        changed /= temperature
    np.exp(shared, out=shared)
    e: Array = np.empty((cols.size, x.size), dtype=np.float64)
    e[:] = shared
    with np.errstate(over="ignore", invalid="ignore"):  # only in rows replaced below
        np.exp(changed, out=changed)
        e[np.arange(cols.size), cols] = changed
        e /= e.sum(axis=-1, keepdims=True)
    moved = np.flatnonzero((values > top) | (x[cols] == top))
    if moved.size:  # the row's maximum is another number: the definition
        rows = np.repeat(x[np.newaxis, :], moved.size, axis=0)
        rows[np.arange(moved.size), cols[moved]] = values[moved]
        e[moved] = softmax(rows, temperature)
    return e


def softmax_jacobian(s: Array, temperature: float = 1.0, out: Array | None = None) -> Array:
    """J[i, j] = ∂s_i/∂z_j for s = softmax(z / T), from s alone.

    # dS_i/dz_j = S_i(δ_ij − S_j) / T, i.e. J = (diag(s) − s sᵀ) / T
    Written into one n×n buffer, a block of rows at a time on every core (outer product,
    negated, divided in place), then the diagonal added: no other n×n temporary. `out`,
    if given, is that buffer (n×n, the dtype of s).
    """
    n = s.size
    jac: Array = np.empty((n, n), dtype=s.dtype) if out is None else out

    def rows(span: tuple[int, int]) -> None:  # a block of rows per thread (first touch too)
        block = jac[span[0] : span[1]]
        np.multiply.outer(s[span[0] : span[1]], s, out=block)
        np.negative(block, out=block)
        if temperature != 1.0:
            block /= temperature

    parallel.map_chunks(rows, parallel.spans(n, max(1, (1 << 18) // max(n, 1))))
    jac.flat[:: n + 1] += s / temperature
    return jac


# --- A softmax layer: z = x Wᵀ + b, s = softmax(z), a loss L(s) -------------------
# Rows are samples: x is (B, in), z and s are (B, out); W is (out, in) as in
# torch.nn.Linear. Every function also takes leading batch dimensions (…, B, ·), so
# that finite differences can evaluate many perturbed layers in one call.
LOSSES = ("ce", "mse", "sum", "output")


def linear(w: Array, b: Array, x: Array) -> Array:
    """z = x Wᵀ + b.      # ∂z_i/∂W_ij = x_j,  ∂z_i/∂b_i = 1,  ∂z_i/∂x_j = W_ij"""
    z: Array = x @ np.swapaxes(w, -1, -2) + b[..., np.newaxis, :]
    return z


def log_softmax(z: Array) -> Array:
    """log s = z − max z − log Σ exp(z − max z): finite even where s underflows to 0."""
    shifted = z - z.max(axis=-1, keepdims=True)
    out: Array = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return out


def softmax_vjp(s: Array, v: Array) -> Array:
    """Jᵀv for J = diag(s) − s sᵀ (each row of a batch on its own), without forming J.

    # (Jᵀv)_i = Σ_k v_k ∂s_k/∂z_i = Σ_k v_k s_k(δ_ki − s_i) = s_i (v_i − Σ_k v_k s_k)
    """
    out: Array = s * (v - (v * s).sum(axis=-1, keepdims=True))
    return out


def loss(kind: str, z: Array, s: Array, target: Array) -> Array:
    """L, a mean over the batch (the rows of z and s); `target` depends on `kind`:
    ce: class per row (B,) ints · mse: y like s · sum: unused · output: index k (0-d).
    """
    batch = s.shape[-2]
    if kind == "ce":  # L = −(1/B) Σ_r log s[r, t_r], from log-softmax
        picked = np.take_along_axis(log_softmax(z), _column(target, s), axis=-1)
        out: Array = -picked.sum(axis=(-2, -1)) / batch
    elif kind == "mse":  # L = (1/(B·out)) Σ (s − y)²
        out = ((s - target) ** 2).mean(axis=(-2, -1))
    elif kind == "sum":  # L = (1/B) Σ_r Σ_k s[r, k] = 1 for every input
        out = s.sum(axis=(-2, -1)) / batch
    else:  # output: L = (1/B) Σ_r s[r, k]
        out = s[..., int(target)].sum(axis=-1) / batch
    return out


def loss_from_s(kind: str, s: Array, target: Array) -> Array:
    """L written as a function of s alone (ce: −(1/B) Σ_r log s[r, t_r]): what ∂L/∂s
    differentiates. Equal to `loss` wherever s_t has not underflowed."""
    if kind != "ce":
        return loss(kind, s, s, target)
    picked = np.take_along_axis(s, _column(target, s), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Array = -np.log(picked).sum(axis=(-2, -1)) / s.shape[-2]
    return out


def loss_grad_s(kind: str, s: Array, target: Array) -> Array:
    """∂L/∂s of `loss_from_s`, one entry per element of s."""
    batch = s.shape[-2]
    if kind == "ce":  # ∂L/∂s[r, k] = −[k = t_r] / (B s[r, k]): inf where s_t underflows
        grad = np.zeros_like(s)
        rows = np.arange(batch)
        with np.errstate(divide="ignore"):
            grad[..., rows, target] = -1.0 / (batch * s[..., rows, target])
        return grad
    if kind == "mse":  # ∂L/∂s = 2(s − y) / (B·out)
        out: Array = 2.0 * (s - target) / (batch * s.shape[-1])
        return out
    if kind == "sum":  # ∂L/∂s = 1/B
        return np.full_like(s, 1.0 / batch)
    grad = np.zeros_like(s)  # output: ∂L/∂s[r, j] = [j = k] / B
    grad[..., int(target)] = 1.0 / batch
    return grad


def ce_grad_z(s: Array, target: Array) -> Array:
    """The fused cross-entropy gradient ∂L/∂z = (s − onehot(t)) / B.

    # Jᵀ(−e_t / s_t) = −(s ⊙ (e_t − s_t 1)) / s_t = s − e_t. Finite where s_t underflows,
    # while the chain through ∂L/∂s = −1/s_t would give inf·0 = NaN there.
    """
    batch = s.shape[-2]
    grad: Array = s.copy()
    grad[..., np.arange(batch), target] -= 1.0
    grad /= batch
    return grad


def linear_vjp(dl_dz: Array, w: Array, x: Array) -> tuple[Array, Array, Array]:
    """dW, db, dx from ∂L/∂z, by the chain rule through z = x Wᵀ + b.

    # dW = (∂L/∂z)ᵀ·x      db = Σ_rows ∂L/∂z      dx = ∂L/∂z · W
    """
    dw: Array = np.swapaxes(dl_dz, -1, -2) @ x
    db: Array = dl_dz.sum(axis=-2)
    dx: Array = dl_dz @ w
    return dw, db, dx


def _column(target: Array, s: Array) -> Array:
    index: Array = np.broadcast_to(np.asarray(target)[:, np.newaxis], (*s.shape[:-1], 1))
    return index
