"""Laws a result must obey whatever backend made it: sums, identities, symmetry.

Each law is checked element by element against ``atol + rtol·|value|`` and reports its
worst element; large arrays are checked in cache-sized blocks spread over the cores.

Where the tolerance is positive (atol ≥ FLOOR, rtol ≥ 0) and the law holds, a block is
screened (`_screen`) rather than divided through: allowed ≥ atol everywhere, so an
element whose violation is below L·atol (L: the ratio of the largest violation, a lower
bound of the worst ratio) cannot be the worst, and only the few elements above that are
divided by their allowed band. A block where the screen cannot decide (a non-finite
violation, a ratio ≥ 1, a threshold out of float64's normal range) takes the definition.
tests/test_laws_paths.py proves both paths equal.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

import numpy as np

from gradcli import parallel
from gradcli.compare import CHUNK
from gradcli.report import Array, BackendName, LawCheck, Tolerance


def sum_law(
    backend: BackendName, law: str, terms: Array, target: float, tol: Tolerance
) -> LawCheck:
    """Each row of `terms` sums to `target`: |Σ t − target| ≤ atol + rtol·Σ|t|, per row,
    summed in float64 a block of rows at a time."""
    rows = terms.reshape(-1, terms.shape[-1])

    screen = _positive(tol) and rows.dtype == np.float64  # no cast: the same row sums

    def block(span: tuple[int, int]) -> LawCheck:
        part = rows[span[0] : span[1]]
        with np.errstate(all="ignore"):
            violation = np.abs(part.sum(axis=1, dtype=np.float64) - target)
            if screen:  # Σ|t| of the rows that may be the worst only

                def allowed_at(at: Array) -> Array:
                    sums: Array = np.abs(part[at]).sum(axis=1, dtype=np.float64)
                    return tol.atol + tol.rtol * sums

                found = _screen(backend, law, violation, allowed_at, tol.atol)
                if found is not None:
                    return found
            allowed = tol.atol + tol.rtol * np.abs(part).sum(axis=1, dtype=np.float64)
        return _law(backend, law, violation, allowed)

    per_block = max(1, CHUNK // max(rows.shape[1], 1))
    return _worst_law(
        backend, law, parallel.map_chunks(block, parallel.spans(len(rows), per_block))
    )


def equal_law(
    backend: BackendName, law: str, value: Array, expected: Array, tol: Tolerance
) -> LawCheck:
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
PAD = 8  # elements after each row of the copied tile (see `_copied`)
CONFLICT_STRIDE = 4096  # bytes: a row stride that is a multiple of it is copied


def symmetry_law(backend: BackendName, matrix: Array, tol: Tolerance) -> LawCheck:
    """|J_ij − J_ji| ≤ atol + rtol·|J_ij|, over the tiles on and above the diagonal."""
    n = matrix.shape[0]
    tiles = [(i, j) for i in range(0, n, TILE) for j in range(i, n, TILE)]
    positive = _positive(tol)  # then allowed ≥ FLOOR everywhere
    copies: dict[int, Array] = {}  # each thread's padded tile, reused (see `_copied`)
    # a row stride of a whole number of 4 KiB puts a column's elements in one cache set
    conflicting = matrix.ndim == 2 and matrix.strides[0] % CONFLICT_STRIDE == 0

    def tile(pair: tuple[int, int]) -> LawCheck:
        i, j = pair
        upper = matrix[i : i + TILE, j : j + TILE]
        lower = matrix[j : j + TILE, i : i + TILE]
        lower = (_copied(lower, copies) if conflicting else lower).T
        with np.errstate(all="ignore"):
            violation = np.subtract(upper, lower, dtype=np.float64)
            np.abs(violation, out=violation)
            if positive:
                columns = upper.shape[1]

                def allowed_at(at: Array) -> Array:
                    values: Array = np.abs(upper[at // columns, at % columns], dtype=np.float64)
                    return values * tol.rtol + tol.atol

                found = _screen(backend, "J symmetric", violation.ravel(), allowed_at, tol.atol)
                if found is not None:
                    return found
            allowed = np.abs(upper, dtype=np.float64)
            allowed *= tol.rtol
            allowed += tol.atol
        return _law(backend, "J symmetric", violation.ravel(), allowed.ravel(), positive)

    return _worst_law(backend, "J symmetric", parallel.map_chunks(tile, tiles))


def _copied(block: Array, copies: dict[int, Array]) -> Array:
    """`block` copied row by row into rows PAD elements longer than its own, in the
    calling thread's buffer of `copies` (a fresh 0.5 MiB per tile costs more than the
    copy saves: its pages are faulted in each time).

    Read transposed where it lies, a tile's column is TILE elements a row apart: with
    n = 4096 that is 32 KiB, a multiple of 4 KiB, so every element of the column falls
    in the same L1 cache set and evicts the one before it. The copy reads the rows in
    order, and in its padded rows a column's elements fall in different sets. Measured
    at n = 4096, the tiles' subtraction alone (one thread, median of 9): 41.7 ms read
    in place, 26.7 ms copied first (45.1 ms copied without the padding), 22.7 ms for
    the same tiles untransposed. Two whole symmetry laws, one thread, median of 9
    (load 4–5): n = 4096 95 → 69 ms CPU, 3072 64 → 47, 2048 29 → 23; but 3000 34 → 38
    and 4000 59 → 72 (strides of 24000 and 32000 bytes spread over the sets): so only a
    stride of a multiple of CONFLICT_STRIDE is copied.
    """
    rows, cols = block.shape
    buffer = copies.get(threading.get_ident())
    if buffer is None or buffer.dtype != block.dtype:
        buffer = copies[threading.get_ident()] = np.empty((TILE, TILE + PAD), block.dtype)
    out = buffer[:rows, :cols]
    np.copyto(out, block)
    return out


def _worst_law(backend: BackendName, law: str, parts: Sequence[LawCheck]) -> LawCheck:
    if not parts:
        return LawCheck(backend, law, 0.0, 0.0, True)
    worst = max(parts, key=lambda p: (not p.ok, p.max_violation / p.allowed if p.allowed else 0))
    return LawCheck(backend, law, worst.max_violation, worst.allowed, all(p.ok for p in parts))


FLOOR = 1e-300  # allowed is floored here before dividing by it
EPS = float(np.finfo(np.float64).eps)
NORMAL = float(np.finfo(np.float64).tiny)


def _positive(tol: Tolerance) -> bool:
    return tol.atol >= FLOOR and tol.rtol >= 0


def _screen(
    backend: BackendName,
    law: str,
    violation: Array,
    allowed_at: Callable[[Array], Array],
    atol: float,
) -> LawCheck | None:
    """`_law`'s result for a law that holds, from the allowed band of a few elements:
    `allowed_at(indices)` is atol + rtol·|value| there (≥ atol: rounding is monotone),
    as the definition computes it. None where the definition must decide.

    L = violation / allowed at the largest violation is at most the worst ratio. An
    element of ratio ≥ L has fl(v / atol) ≥ L, so v ≥ L·atol·(1 − ε): the threshold,
    L·atol·(1 − 8ε) as rounded, lies below that while it is a normal number. The worst
    element is the first largest ratio among the elements at or above it (flat order,
    as np.argmax picks)."""
    top = int(np.argmax(violation))
    largest = float(violation[top])
    if not math.isfinite(largest):
        return None
    if largest == 0.0:  # every violation is 0 (an exactly symmetric J): the first element
        return LawCheck(backend, law, 0.0, float(allowed_at(np.zeros(1, np.intp))[0]), True)
    bound = largest / float(allowed_at(np.array([top]))[0])
    threshold = bound * atol * (1.0 - 8.0 * EPS)
    if not NORMAL <= threshold < math.inf:
        return None
    candidates = np.flatnonzero(violation >= threshold)
    allowed = allowed_at(candidates)
    ratios = violation[candidates] / allowed
    k = int(np.argmax(ratios))
    if not float(ratios[k]) < 1.0:  # out of tolerance (or NaN): the definition says how
        return None
    return LawCheck(backend, law, float(violation[candidates[k]]), float(allowed[k]), True)


def _law(
    backend: BackendName, law: str, violation: Array, allowed: Array, positive: bool = False
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
