"""How large the rounding of the user's forward is, measured, per output element: the
magnitude fd's error estimate and the tolerances' scale must cover.

Two measurements, both from the forward itself (never from the derivative under test):
- its value in float32 against float64, over float32's ε: the size of the terms it
  sums (the sum of layer-norm outputs is 0, its terms are not);
- its second difference D(δ) = f(x+δ) − 2f(x) + f(x−δ) at a step of a few float32
  ulps, less the smooth part (δ² and δ⁴ terms, from D(2δ) and D(4δ)), over 4·ε₆₄: a
  forward that computes in float32 inside, whatever dtype it is given, jumps by its
  ulps there, where a float64 one is smooth (its D(δ) is predicted by D(2δ) and D(4δ),
  and nothing is left). The first sets the magnitudes, the second also fd's step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.commands.check.evaluator import Evaluator
from gradcli.errors import InputError

Array = np.ndarray[Any, Any]
PROBES = 3  # random directions of the second difference
OFF_CENTRE = 0.3819660112501051  # of the step: the golden section, no multiple of an ulp
PROBE_STEP = 4 * 2.0**-23  # relative to each input element: a few float32 ulps
EPS32 = float(np.finfo(np.float32).eps)
NOISY = 1e6  # noise over 4ε₆₄ of the terms beyond which fd's step grows
EPS64 = float(np.finfo(np.float64).eps)
TINY = {"float32": 2.0**-126, "float16": 2.0**-14, "bfloat16": 2.0**-126}
EPS = {"float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}


def magnitudes(
    subject: Evaluator, values: dict[str, Array], outputs: tuple[Array, ...], seed: int
) -> tuple[tuple[Array, ...], float, tuple[Array, ...]]:
    """Per output element, max(|f|, float32 deviation / ε₃₂, second difference / 4ε₆₄);
    the factor fd's step grows by: ∛(noise / the terms' rounding), the balanced step
    for the noise measured (1 for a float64 forward, ~500 for one that is float32 inside);
    and the terms alone, max(|f|, float32 deviation / ε₃₂): the forward's own noise sizes
    fd's error, never the derivative's tolerance (a derivative of a forward that is
    float32 inside is no less exact for it)."""
    sizes = [np.abs(y) for y in outputs]
    with np.errstate(all="ignore"):
        for k, deviation in enumerate(_float32_deviation(subject, values, outputs)):
            sizes[k] = np.maximum(sizes[k], _finite(deviation) / EPS32)
        own = tuple(sizes)
        terms = max((float(np.max(m, initial=0.0)) for m in sizes), default=0.0)
        noise = max(
            (
                float(np.max(_finite(n), initial=0.0))
                for n in _second_difference(subject, values, outputs, seed)
            ),
            default=0.0,
        )
        for k in range(len(sizes)):
            sizes[k] = np.maximum(sizes[k], noise / (4 * EPS64))
        ratio = noise / (4 * EPS64 * terms) if terms > 0 else 0.0
    # only a forward clearly noisier than float64 (float32 inside: ratio ~1e8) moves the
    # step; below, the smooth part's leftovers (h⁶ terms at a shifted x) would move it
    factor = float(min(np.cbrt(ratio), 1e4)) if ratio > NOISY else 1.0
    return tuple(sizes), factor, own


def deviation(low: Any, high: Array, dtype: str = "float32") -> Array:
    """|low − high| where it is rounding: elementwise, 0 where either is not finite, and 0
    where both lie below `dtype`'s smallest normal number over its ε (underflow, not
    rounding: a forward near 1e-300 is 0 in float32, and reading that as noise sized
    every tolerance 10⁷ times too large, so that a 1 % error passed). A cancellation is
    kept: the sum of O(1) terms that is 1e-40 in float64 is ~1e-8 in float32."""
    low64 = np.asarray(low, dtype=np.float64)
    if low64.shape != high.shape:
        return np.zeros(high.shape)
    tiny = TINY[dtype] / EPS[dtype]
    with np.errstate(all="ignore"):
        out = np.abs(low64 - high)
        under = (np.abs(high) < tiny) & (np.abs(low64) < tiny)
        out = np.where(under, 0.0, out)
    return _finite(out)


def _finite(a: Array) -> Array:
    return np.nan_to_num(np.asarray(a, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)


def _float32_deviation(
    subject: Evaluator, values: dict[str, Array], outputs: tuple[Array, ...]
) -> list[Array]:
    try:
        (low64,) = subject.forward([values], "float32")
    except InputError:  # it does not run in float32: nothing measured
        return []
    return [deviation(a, y) for a, y in zip(low64, outputs, strict=False)]


TIMES = (1.0, 2.0, 4.0)  # D(δ), D(2δ), D(4δ)


def _second_difference(
    subject: Evaluator, values: dict[str, Array], outputs: tuple[Array, ...], seed: int
) -> list[Array]:
    """Every probe's points asked for in one block (one round trip to a worker)."""
    rng = np.random.default_rng([seed, 0x6E6F697365])
    noise = [np.zeros_like(y) for y in outputs]
    points = []
    for _ in range(PROBES):
        step = {
            # relative to each element: a step of the inputs' scale crosses 0 from an
            # element near it, where a cube root's curvature is no noise
            n: np.asarray(PROBE_STEP * np.abs(values[n]) * rng.standard_normal(values[n].shape))
            for n in subject.facts.names
        }
        # about a point off x by a fraction of the step: x in the user's float32 is a
        # float32 number, and a forward that rounds to float32 inside rounds x ± δ
        # symmetrically about it, so that its jumps cancel in D(δ) (measured: nothing
        # seen, fd's step stayed below float32's resolution, and fd read 2·I as 0)
        centre = {n: v + OFF_CENTRE * step[n] if n in step else v for n, v in values.items()}
        points.append(centre)
        for t in TIMES:
            for sign in (1.0, -1.0):
                points.append(
                    {n: v + sign * t * step[n] if n in step else v for n, v in centre.items()}
                )
    try:
        evaluated = subject.forward(points)
    except InputError:
        return []
    per_probe = 1 + 2 * len(TIMES)
    for p in range(PROBES):
        at, *ups_downs = evaluated[p * per_probe : (p + 1) * per_probe]
        near, middle, far = (
            [(a - 2 * y + b) / 2 for a, b, y in zip(up, down, at, strict=True)]
            for up, down in zip(ups_downs[::2], ups_downs[1::2], strict=True)
        )
        for k, (d1, d2, d4) in enumerate(zip(near, middle, far, strict=True)):
            # D(h) = a·h² + b·h⁴ + noise is predicted from D(2h), D(4h) as 5/16·D(2h) −
            # 1/64·D(4h) (exact for both terms): what is left is noise
            noise[k] = np.maximum(noise[k], np.abs(d1 - (5 / 16 * d2 - d4 / 64)))
    return noise
