"""check --explain ENTRY: the entry in every trial, yours beside each reference."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from gradcli.entries import parse_target
from gradcli.errors import InputError
from gradcli.report import Explanation, Report, Term


def entry_index(report: Report, text: str) -> tuple[int, ...]:
    """The index of check's --explain ENTRY ('J[0,1]', 'vjp[2]')."""
    _, index = parse_target(text, [text.partition("[")[0].strip()])
    if index is None:
        raise InputError(f"--explain {text!r}: give an entry, such as J[0,1] or vjp[0]")
    return tuple(index)


def explain_check(
    report: Report, text: str, slopes: Mapping[str, tuple[float, float]] | None = None
) -> Explanation:
    """check --explain 'J[i,j]' (or 'vjp[i]', 'grad[i]'): the entry in every trial, yours
    beside each reference, and fd's one-sided slopes there (`slopes`, by quantity)."""
    quantities = list(dict.fromkeys(c.quantity for c in report.comparisons))
    base = quantities[0].partition(".")[2] if quantities else ""
    index = entry_index(report, text)
    lines = [f"{base}{list(index)} in each trial, yours beside the references"]
    terms: list[Term] = []
    yours = report.results.get("yours")
    for quantity in quantities:
        arrays = {n: r.arrays[quantity] for n, r in report.results.items() if quantity in r.arrays}
        first = next(iter(arrays.values()))
        if len(index) != np.ndim(first) or not all(
            0 <= i < n for i, n in zip(index, np.shape(first), strict=True)
        ):
            raise InputError(f"--explain {text!r}: {base} has shape {np.shape(first)}")
        values = ", ".join(f"{n} {float(a[index]):.9g}" for n, a in arrays.items())
        lines.append(f"  {quantity.partition('.')[0]}: {values}")
        kinked = False
        for kink in report.kinks:  # a kink here: the derivative is an interval
            if kink.quantity == quantity and tuple(kink.index) == tuple(index):
                kinked = True
                lines.append(
                    f"    a kink: one-sided slopes {kink.left:.9g} and {kink.right:.9g}; "
                    "a value between them is a valid subgradient"
                )
        if not kinked and slopes and quantity in slopes:
            left, right = slopes[quantity]
            lines.append(f"    one-sided slopes (fd): left {left:.9g}, right {right:.9g}")
        if yours is not None:
            value = float(yours.arrays[quantity][index])
            terms.append(Term(None, len(terms), quantity, (value,), value))
    value = terms[0].product if terms else 0.0
    return Explanation(
        text.strip(),
        f"{base}{list(index)}",
        ("yours",),
        tuple(terms),
        value,
        value,
        "yours",
        tuple(lines),
    )
