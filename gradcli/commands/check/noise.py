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
PROBE_STEP = 4 * 2.0**-23  # relative to the inputs' scale: a few float32 ulps
EPS32 = float(np.finfo(np.float32).eps)
NOISY = 1e6  # noise over 4ε₆₄ of the terms beyond which fd's step grows
EPS64 = float(np.finfo(np.float64).eps)


def magnitudes(
    subject: Evaluator, values: dict[str, Array], outputs: tuple[Array, ...], seed: int
) -> tuple[tuple[Array, ...], float]:
    """Per output element, max(|f|, float32 deviation / ε₃₂, second difference / 4ε₆₄);
    and the factor fd's step grows by: ∛(noise / the terms' rounding), the balanced step
    for the noise measured (1 for a float64 forward, ~500 for one that is float32 inside)."""
    sizes = [np.abs(y) for y in outputs]
    with np.errstate(all="ignore"):
        for k, deviation in enumerate(_float32_deviation(subject, values, outputs)):
            sizes[k] = np.maximum(sizes[k], _finite(deviation) / EPS32)
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
    return tuple(sizes), factor


def _finite(a: Array) -> Array:
    return np.nan_to_num(np.asarray(a, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)


def _float32_deviation(
    subject: Evaluator, values: dict[str, Array], outputs: tuple[Array, ...]
) -> list[Array]:
    try:
        (low64,) = subject.forward([values], "float32")
    except InputError:  # it does not run in float32: nothing measured
        return []
    return [
        np.abs(a - y) if a.shape == y.shape else np.zeros_like(y)
        for a, y in zip(low64, outputs, strict=False)
    ]


def _second_difference(
    subject: Evaluator, values: dict[str, Array], outputs: tuple[Array, ...], seed: int
) -> list[Array]:
    """Every probe's points asked for in one block (one round trip to a worker)."""
    rng = np.random.default_rng([seed, 0x6E6F697365])
    scale = max(1.0, *(float(np.abs(v).max()) for v in values.values()))
    noise = [np.zeros_like(y) for y in outputs]
    times = (1.0, 2.0, 4.0)
    points = []
    for _ in range(PROBES):
        step = {
            n: np.asarray(PROBE_STEP * scale * rng.standard_normal(values[n].shape))
            for n in subject.facts.names
        }
        for t in times:
            for sign in (1.0, -1.0):
                points.append(
                    {n: v + sign * t * step[n] if n in step else v for n, v in values.items()}
                )
    try:
        evaluated = subject.forward(points)
    except InputError:
        return []
    per_probe = 2 * len(times)
    for p in range(PROBES):
        ups_downs = evaluated[p * per_probe : (p + 1) * per_probe]
        near, middle, far = (
            [(a - 2 * y + b) / 2 for a, b, y in zip(up, down, outputs, strict=True)]
            for up, down in zip(ups_downs[::2], ups_downs[1::2], strict=True)
        )
        for k, (d1, d2, d4) in enumerate(zip(near, middle, far, strict=True)):
            # D(h) = a·h² + b·h⁴ + noise is predicted from D(2h), D(4h) as 5/16·D(2h) −
            # 1/64·D(4h) (exact for both terms): what is left is noise
            noise[k] = np.maximum(noise[k], np.abs(d1 - (5 / 16 * d2 - d4 / 64)))
    return noise
