"""Laws a result must obey whatever backend made it: sums, identities, symmetry.

Each law is checked element by element against ``atol + rtol·|value|`` and reports its
worst element; large arrays are checked in cache-sized blocks spread over the cores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from gradcli import parallel
from gradcli.compare import CHUNK
from gradcli.report import Array, LawCheck, Tolerance


def sum_law(backend: str, law: str, terms: Array, target: float, tol: Tolerance) -> LawCheck:
    """Each row of `terms` sums to `target`: |Σ t − target| ≤ atol + rtol·Σ|t|, per row,
    summed in float64 a block of rows at a time."""
    rows = terms.reshape(-1, terms.shape[-1])

    def block(span: tuple[int, int]) -> LawCheck:
        part = rows[span[0] : span[1]]
        with np.errstate(all="ignore"):
            violation = np.abs(part.sum(axis=1, dtype=np.float64) - target)
            allowed = tol.atol + tol.rtol * np.abs(part).sum(axis=1, dtype=np.float64)
        return _law(backend, law, violation, allowed)

    per_block = max(1, CHUNK // max(rows.shape[1], 1))
    return _worst_law(
        backend, law, parallel.map_chunks(block, parallel.spans(len(rows), per_block))
    )


def equal_law(backend: str, law: str, value: Array, expected: Array, tol: Tolerance) -> LawCheck:
    """An identity: |value − expected| ≤ atol + rtol·|expected| for every element."""
    value = np.asarray(value, dtype=np.float64).reshape(-1)
    expected = np.asarray(expected, dtype=np.float64).reshape(-1)
    if value.size == 0:
        return LawCheck(backend, law, 0.0, tol.atol, True)
    with np.errstate(all="ignore"):
        violation = np.abs(value - expected)
        allowed = tol.atol + tol.rtol * np.abs(expected)
    return _law(backend, law, violation, allowed)


TILE = 256  # symmetry is checked tile against transposed tile: both stay in cache


def symmetry_law(backend: str, matrix: Array, tol: Tolerance) -> LawCheck:
    """|J_ij − J_ji| ≤ atol + rtol·|J_ij|, over the tiles on and above the diagonal."""
    n = matrix.shape[0]
    tiles = [(i, j) for i in range(0, n, TILE) for j in range(i, n, TILE)]
    positive = tol.atol >= FLOOR and tol.rtol >= 0  # then allowed ≥ FLOOR everywhere

    def tile(pair: tuple[int, int]) -> LawCheck:
        i, j = pair
        upper = matrix[i : i + TILE, j : j + TILE]
        lower = matrix[j : j + TILE, i : i + TILE].T
        with np.errstate(all="ignore"):
            violation = np.subtract(upper, lower, dtype=np.float64)
            np.abs(violation, out=violation)
            allowed = np.abs(upper, dtype=np.float64)
            allowed *= tol.rtol
            allowed += tol.atol
        return _law(backend, "J symmetric", violation.ravel(), allowed.ravel(), positive)

    return _worst_law(backend, "J symmetric", parallel.map_chunks(tile, tiles))


def _worst_law(backend: str, law: str, parts: Sequence[LawCheck]) -> LawCheck:
    if not parts:
        return LawCheck(backend, law, 0.0, 0.0, True)
    worst = max(parts, key=lambda p: (not p.ok, p.max_violation / p.allowed if p.allowed else 0))
    return LawCheck(backend, law, worst.max_violation, worst.allowed, all(p.ok for p in parts))


FLOOR = 1e-300  # allowed is floored here before dividing by it


def _law(
    backend: str, law: str, violation: Array, allowed: Array, positive: bool = False
) -> LawCheck:
    """The worst element (largest violation / allowed; the first non-finite one if any).

    `positive`: the caller knows that allowed ≥ FLOOR (or is NaN) everywhere. Then the
    floor changes nothing and, where every ratio is finite and below 1, every violation
    is below its allowed (a rounded quotient of positive numbers is below 1 only if the
    numerator is below the denominator): two passes fewer, the same result.
    """
    with np.errstate(all="ignore"):
        if positive:
            ratio = np.divide(violation, allowed)
            i = int(np.argmax(ratio))
            worst = float(ratio[i])
            if math.isfinite(worst) and worst < 1.0:
                return LawCheck(backend, law, float(violation[i]), float(allowed[i]), True)
        if np.isfinite(violation.max()):  # the common case, in place
            ratio = np.maximum(allowed, FLOOR)
            np.divide(violation, ratio, out=ratio)
        else:
            ratio = np.where(np.isfinite(violation), violation / np.maximum(allowed, FLOOR), np.inf)
    i = int(np.argmax(ratio))
    ok = bool(np.all(violation <= allowed))
    return LawCheck(backend, law, float(violation[i]), float(allowed[i]), ok)
