"""The layer's tolerances and laws: each quantity's scale (from the inputs and the
float64 shadow, never the side under test) and the identities every backend's result
obeys (s sums to 1, ∂L/∂z sums to 0, the chain rule's last step).
"""

from __future__ import annotations

import numpy as np

from gradcli import compare
from gradcli.backends import analytic
from gradcli.laws import equal_law, sum_law
from gradcli.report import (
    Array,
    BackendResult,
    LawCheck,
    Tolerance,
)
from gradcli.spec import LayerSpec


def scales_of(
    spec: LayerSpec, shadow: dict[str, Array], target: Array, notes: list[str]
) -> dict[str, float | Array]:
    """Each quantity's magnitude, element by element, from the inputs and the float64
    forward (never from a backend's gradients): atol is relative to it.

    A float32 gradient element is a sum of products; its rounding is relative to the sum
    of their magnitudes, not to the largest element of the whole gradient. With
    u ≥ |∂L/∂s| (ce: [k = t]/(B·s_t); mse: 2|s − y|/(B·out); sum: 1/B; output: [k = i]/B)
    and m_z = s ⊙ (u + Σ_k u_k s_k) ≥ |∂L/∂z| (Jᵀu without cancellation):
    dW ≤ m_zᵀ·|x|, db ≤ Σ_rows m_z, dx ≤ m_z·|W|. A loss whose gradients are exactly
    zero (sum) is judged on these magnitudes and against the reference's own error.
    """
    w, x = spec.w, spec.x.reshape(-1, spec.w.shape[1])
    batch = x.shape[0]
    loss = float(np.abs(shadow["loss"]))
    s = shadow["s"]
    kind = spec.loss.kind
    with np.errstate(all="ignore"):
        s_checked = s.astype(spec.options.dtype).astype(np.float64)  # float32 underflows first
        u = np.abs(analytic.loss_grad_s(kind, s_checked, target))
        if kind == "mse":  # 2(s − y)/(B·out) cancels: its rounding is on |s| + |y|
            u = 2 * (np.abs(s_checked) + np.abs(target)) / (batch * s.shape[-1])
        m_z = s * (u + (u * s).sum(axis=-1, keepdims=True))
        if kind == "ce":  # the fused s − onehot(t): |·| ≤ (s + onehot)/B
            m_z = np.abs(analytic.ce_grad_z(s, target)) + 2 * s / batch
    single = spec.x.ndim == 1
    scales: dict[str, float | Array] = {
        "z": max(float((np.abs(x) @ np.abs(w).T + np.abs(spec.b)).max()), 1e-300),
        "s": 1.0,
        "loss": max(1.0, loss if np.isfinite(loss) else 0.0),
        "dL_ds": u.reshape(-1) if single else u,
        "dL_dz": m_z.reshape(-1) if single else m_z,
        "dW": m_z.T @ np.abs(x),
        "db": m_z.sum(axis=0),
        "dx": (m_z @ np.abs(w)).reshape(spec.x.shape),
    }
    if not np.isfinite(u).all():
        del scales["dL_ds"]
        notes.append(
            "∂L/∂s = −1/(B·s_t) is not finite: s_t underflowed to 0. It is shown, not compared; "
            "numpy's fused ∂L/∂z = (s − onehot(t))/B stays finite."
        )
    if kind == "sum":
        notes.append(
            "L = Σ s = 1 for every input, so every gradient is exactly zero (a classic trap): "
            "the numbers are rounding, and agreeing on zero is agreement."
        )
    return scales


def laws_of(
    spec: LayerSpec,
    results: dict[str, BackendResult],
    scales: dict[str, float | Array],
    n_terms: int,
) -> tuple[LawCheck, ...]:
    """Per backend: s sums to 1 and ∂L/∂z sums to 0 in each row (Σ_i (Jᵀv)_i = 0);
    for torch also the chain rule's last step (db, dW, dx from its ∂L/∂z);
    for numpy with ce, that the fused ∂L/∂z equals Jᵀ·∂L/∂s where that is finite."""
    laws = []
    # The W and x that the backends really used: cast to the checked dtype (fd's float64
    # shadow holds the same values).
    dtype = spec.options.dtype
    x = spec.x.reshape(-1, spec.w.shape[1]).astype(dtype).astype(np.float64)
    w = spec.w.astype(dtype).astype(np.float64)
    for name, r in results.items():

        def tol(quantity: str, precision: str = r.precision, row_sum: bool = False) -> Tolerance:
            # an identity: the largest magnitude is its scale; a row sum: the largest sum
            # of its terms' magnitudes (the rounding of a sum grows with them)
            magnitude = np.atleast_2d(np.asarray(scales.get(quantity, 1.0), dtype=np.float64))
            scale = float(np.max(magnitude.sum(axis=-1) if row_sum else magnitude))
            return compare.tolerance_for(
                (precision,), scale, n_terms, spec.options.rtol, spec.options.atol
            )

        a = r.arrays
        laws.append(sum_law(r.backend, "s sums to 1", a["s"], 1.0, tol("s", row_sum=False)))
        if "dL_dz" not in a or name == "fd":  # fd's gradients carry their own error estimate
            continue
        dl_dz = a["dL_dz"].reshape(-1, spec.w.shape[0]).astype(np.float64)
        laws.append(
            sum_law(r.backend, "∂L/∂z sums to 0", a["dL_dz"], 0.0, tol("dL_dz", row_sum=True))
        )
        # torch's chain rule's last step (fd's consistency is its own error estimate: a
        # law between two of its quantities would judge it on scales that are not its own)
        if name == "torch":
            chain = {
                "db": ("db = Σ_rows ∂L/∂z", a["db"], dl_dz.sum(axis=0)),
                "dW": ("dW = (∂L/∂z)ᵀ·x", a["dW"], dl_dz.T @ x),
                "dx": ("dx = ∂L/∂z·W", a["dx"].reshape(x.shape), dl_dz @ w),
            }
            for quantity, (law, value, expected) in chain.items():
                laws.append(equal_law(r.backend, law, value, expected, tol(quantity)))
        elif spec.loss.kind == "ce":
            s = a["s"].reshape(dl_dz.shape).astype(np.float64)
            with np.errstate(all="ignore"):
                chained = analytic.softmax_vjp(s, a["dL_ds"].reshape(s.shape).astype(np.float64))
            finite = np.isfinite(chained)
            laws.append(
                equal_law(
                    r.backend,
                    "fused s − onehot(t) = Jᵀ·∂L/∂s",
                    dl_dz[finite],
                    chained[finite],
                    tol("dL_dz"),
                )
            )
    return tuple(laws)
