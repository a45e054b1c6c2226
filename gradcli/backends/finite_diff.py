"""Central finite differences: a numerical check that trusts neither formula nor autograd.

Always float64. The caller chooses the step per coordinate; this module only evaluates

    J[:, j] ≈ (f(x + h_j e_j) − f(x − h_j e_j)) / (2 h_j)

with the division by the distance between the two points that float64 really holds,
``(x + h) − (x − h)``, not by the 2h that was asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcli import parallel

F64 = NDArray[np.float64]

# Perturbed inputs evaluated per call of the batched forward: bounds the work arrays
# to about ELEMENTS_PER_BLOCK float64 each, whatever n is.
ELEMENTS_PER_BLOCK = 1 << 16


def cube_root_step(scale: F64) -> F64:
    """The step ∛ε · max(1, |scale|) that balances truncation (h²) and rounding (ε/h)."""
    step: F64 = np.cbrt(np.finfo(np.float64).eps) * np.maximum(1.0, np.abs(scale))
    return step


def central_jacobian(
    forward_rows: Callable[[F64], NDArray[Any]], x: F64, step: F64, out: F64 | None = None
) -> F64:
    """The Jacobian of f at x by central differences.

    `forward_rows` maps a (k, n) batch of inputs to the (k, m) batch of outputs, one row
    each, so that a block of perturbed inputs costs one vectorised call. The result is
    (m, n): column j is the derivative along e_j; it is written into `out` if given.
    """
    with np.errstate(all="ignore"):  # a non-finite result is reported, not warned about
        return _central_jacobian(forward_rows, np.asarray(x, dtype=np.float64), step, out)


def _central_jacobian(
    forward_rows: Callable[[F64], NDArray[Any]], x: F64, step: F64, out: F64 | None
) -> F64:
    n = x.size
    upper, lower = x + step, x - step
    width = upper - lower  # what float64 really took, not the 2h asked for
    m = forward_rows(x[np.newaxis, :]).shape[1]
    jac = np.empty((m, n), dtype=np.float64) if out is None else out

    def block(span: tuple[int, int]) -> None:  # columns span[0]:span[1], on their own thread
        cols = np.arange(*span)
        rows = np.arange(cols.size)
        plus = np.repeat(x[np.newaxis, :], cols.size, axis=0)
        minus = plus.copy()
        plus[rows, cols] = upper[cols]
        minus[rows, cols] = lower[cols]
        with np.errstate(all="ignore"):
            diff = forward_rows(plus) - forward_rows(minus)
            jac[:, cols] = (diff / width[cols, np.newaxis]).T

    parallel.map_chunks(block, parallel.spans(n, max(1, ELEMENTS_PER_BLOCK // max(n, m))))
    return jac
