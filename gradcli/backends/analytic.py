"""The hand-derived formulas, written in numpy.

Each derivative sits beside its forward, with the math in a comment.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]


def softmax(z: Array, temperature: float = 1.0) -> Array:
    """s = softmax(z / T) along the last axis, in the dtype of `z`.

    Stable: the largest entry is subtracted first (softmax ignores shifts), so exp never
    overflows. The shift comes before the division by T: ``z − max z`` is exact for
    nearby values, while ``z / T`` would round 1000/3 in float32 and move s by 1e-5.
    """
    u = (z - z.max(axis=-1, keepdims=True)) / temperature
    e: Array = np.exp(u)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def softmax_jacobian(s: Array, temperature: float = 1.0) -> Array:
    """J[i, j] = ∂s_i/∂z_j for s = softmax(z / T), from s alone.

    # dS_i/dz_j = S_i(δ_ij − S_j) / T, i.e. J = (diag(s) − s sᵀ) / T
    Written into one n×n buffer (the outer product), then negated, the diagonal added
    and the division done in place: no other n×n temporary.
    """
    jac = np.multiply.outer(s, s)
    np.negative(jac, out=jac)
    jac.flat[:: s.size + 1] += s
    if temperature != 1.0:
        jac /= temperature
    return jac
