"""Plain frozen dataclasses that describe what to compute: the CLI builds them, the
problems read them. Nothing here computes anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class RunOptions:
    """How to check, whatever the problem."""

    backends: tuple[str, ...] = ("numpy", "torch", "fd")
    dtype: str = "float64"  # of numpy and torch; fd always works in float64
    rtol: float | None = None  # None: the default for the precisions compared
    atol: float | None = None  # None: the default, times the quantity's scale


@dataclass(frozen=True)
class SoftmaxSpec:
    """s = softmax(z / T) and its Jacobian ∂s/∂z."""

    z: NDArray[np.float64]  # the logits as given, before any cast to `options.dtype`
    temperature: float = 1.0
    options: RunOptions = RunOptions()
