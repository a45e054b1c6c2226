"""Whether the user's forward carries the complex step (issue 12): called with complex128
input x + i·h·u it must return complex numbers whose imaginary part, over h, is the
directional derivative J·u that real central differences measure.

The forward is untrusted and may be non-analytic (abs, max, comparisons, `.real`): then
Im f(x + i·h·u)/h is not J·u (|x + ih| = |x| + O(h²) drops the imaginary part; x·|x|
gives |x|·u instead of 2|x|·u). One probe along a random direction catches these: if the
forward raises, returns real numbers, or its complex step disagrees grossly (beyond
PROBE_RTOL) with central differences at every one of a few steps, the complex step is
not used and the reference refines by Richardson as for any other forward.

The steps go down from the reference's own by factors of 4: a function steep on a scale
far below its shift (tanh((x + 1000)/1e-3)) is resolved by the smaller ones, where the
reference's step is too coarse to agree with anything.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli import references
from gradcli.errors import InputError

Array = np.ndarray[Any, Any]

PROBE_RTOL = 1e-3  # the complex step and fd agree to this, relative, when f is analytic
PROBE_STEPS = 6  # central differences at the reference's step / 4^k, k < PROBE_STEPS
PROBE_SEED = 12  # a fixed direction: the same answer for the same forward and input


def carries_the_complex_step(f_rows: references.Rows, x: Array, step: Array) -> bool:
    """True if Im f(x + i·h·u)/h agrees with central differences along u (at one of
    PROBE_STEPS steps) for a random direction u scaled like the reference's step."""
    scale = np.asarray(step, dtype=np.float64) / references.CBRT_EPS  # the inputs' scales
    rng = np.random.default_rng(PROBE_SEED)
    u = scale * rng.choice([-1.0, 1.0], x.size) * rng.uniform(0.5, 1.0, x.size)
    h = references.COMPLEX_H
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(f_rows((x + 1j * h * u)[np.newaxis, :].astype(np.complex128)))
            if out.dtype.kind != "c":
                return False
            along = out.imag.reshape(-1) / h
            if not np.all(np.isfinite(along)):
                return False
            for k in range(PROBE_STEPS):
                t = references.CBRT_EPS * 0.25**k
                sides = np.asarray(f_rows(np.stack([x + t * u, x - t * u])), dtype=np.float64)
                f_plus, f_minus = sides.reshape(2, -1)
                fd = (f_plus - f_minus) / (2 * t)
                rounding = 8 * references.EPS * np.max(np.abs(sides), initial=0.0) / t
                size = max(float(np.max(np.abs(along), initial=0.0)), float(np.max(np.abs(fd))))
                if float(np.max(np.abs(along - fd))) <= PROBE_RTOL * size + rounding:
                    return True
    except (InputError, TypeError, ValueError, FloatingPointError):
        return False  # the forward cannot be called this way: no complex step
    return False
