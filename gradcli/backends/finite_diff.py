"""The balanced central-difference step. The differences themselves, with their own error
estimates and refinement, are :mod:`gradcli.references`."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


def cube_root_step(scale: F64) -> F64:
    """The step ∛ε · max(1, |scale|) that balances truncation (h²) and rounding (ε/h)."""
    step: F64 = np.cbrt(np.finfo(np.float64).eps) * np.maximum(1.0, np.abs(scale))
    return step
