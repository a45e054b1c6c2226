"""What a failed `gradcli check` says beyond the numbers: the shape of the mistake
(wrong sign, transposed, diagonal only, a constant factor) and the worst entries, yours
beside the reference."""

from __future__ import annotations

import numpy as np

from gradcli.report import Array, BackendResult, Comparison, Tolerance

WORST_SHOWN = 5


def _failed_pairs(comparisons: tuple[Comparison, ...]) -> list[Comparison]:
    return [c for c in comparisons if c.backends[0] == "yours" and not c.ok]


def patterns(results: dict[str, BackendResult], comparisons: tuple[Comparison, ...]) -> list[str]:
    """Name the shape of a wrong derivative, when it has one."""
    found: list[str] = []
    with np.errstate(all="ignore"):  # a non-finite element is named by the verdict already
        for c in _failed_pairs(comparisons):
            found += _pattern(results, c)
    return list(dict.fromkeys(found))


def _pattern(results: dict[str, BackendResult], c: Comparison) -> list[str]:
    """The patterns of one failed pair."""
    found: list[str] = []
    yours = results["yours"].arrays[c.quantity].astype(np.float64)
    ref = results[c.backends[1]].arrays[c.quantity].astype(np.float64)
    tol = c.tolerance

    def close(a: Array, b: Array, tol: Tolerance = tol) -> bool:
        return bool(np.all(np.abs(a - b) <= tol.atol + tol.rtol * np.abs(b)))

    big = np.abs(ref) > 10 * tol.atol
    if not yours.any() and big.any():
        found.append(f"{c.quantity}: yours is zero where the reference is not (a term dropped)")
    elif close(yours, -ref):
        found.append(f"{c.quantity}: yours has the wrong sign")
    elif yours.ndim == 2 and yours.shape[0] == yours.shape[1] and close(yours, ref.T):
        found.append(f"{c.quantity}: yours is the transpose of the Jacobian")
    elif (
        yours.ndim == 2 and yours.shape[0] == yours.shape[1] and close(np.diag(yours), np.diag(ref))
    ):
        off = ~np.eye(yours.shape[0], dtype=bool)
        if c.outside is not None and c.outside.shape == yours.shape:
            wrong = c.outside & off  # the core's own judgement, element by element
        else:
            wrong = ~(np.abs(yours - ref) <= tol.atol + tol.rtol * np.abs(ref)) & off
        k, m = int(np.count_nonzero(wrong)), int(np.count_nonzero(off))
        which = "off-diagonal entries wrong" if k == m else f"{k} of {m} off-diagonal entries wrong"
        found.append(f"{c.quantity}: diagonal right, {which}")
    elif big.any():
        ratio = yours[big] / ref[big]
        if np.ptp(ratio) <= 1e-6 * abs(float(ratio.mean())):
            found.append(f"{c.quantity}: wrong by a constant factor {_factor(ratio)}")
    return found


def worst_entries(
    results: dict[str, BackendResult], comparisons: tuple[Comparison, ...]
) -> list[tuple[str, tuple[str, ...]]]:
    sections = []
    chosen: dict[str, Comparison] = {}
    for c in _failed_pairs(comparisons):  # one table per quantity, against fd if it ran
        if c.quantity not in chosen or c.backends[1] == "fd":
            chosen[c.quantity] = c
    for c in chosen.values():
        yours = results["yours"].arrays[c.quantity].astype(np.float64)
        ref = results[c.backends[1]].arrays[c.quantity].astype(np.float64)
        with np.errstate(all="ignore"):
            gap = np.nan_to_num(np.abs(yours - ref), nan=np.inf)
        order = np.argsort(gap, axis=None)[::-1][:WORST_SHOWN]
        lines = []
        for flat in order:
            index = tuple(int(i) for i in np.unravel_index(flat, gap.shape))
            lines.append(
                f"{list(index)}: yours {yours[index]:.8g}, {c.backends[1]} {ref[index]:.8g}, "
                f"difference {yours[index] - ref[index]:.3g}"
            )
        sections.append((f"Worst entries of {c.quantity}, yours vs {c.backends[1]}", tuple(lines)))
    return sections


def _factor(ratio: Array) -> str:
    """The factor, with the digits that tell it from 1: 0.125, or 1 + 1e-08 (a factor
    printed as a bare 1 would say nothing is wrong)."""
    mean = float(ratio.mean())
    if f"{mean:.6g}" != "1":
        return f"{mean:.6g}"
    return f"1 {'+' if mean >= 1 else '−'} {abs(mean - 1):.2g}"
