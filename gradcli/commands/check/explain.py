"""check --explain ENTRY: the entry in every trial, yours beside each reference."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import numpy as np

from gradcli.entries import parse_target
from gradcli.errors import InputError
from gradcli.report import Explanation, Report, Term

ALIASES = {"jacobian": "J"}  # the quantity's name for its printed one


def entry_index(report: Report, text: str) -> tuple[int, ...]:
    """The index of check's --explain ENTRY ('jacobian[0,1]', 'vjp.W[2,0]')."""
    return _target(report, text)[1]


def _target(report: Report, text: str) -> tuple[str, tuple[int, ...]]:
    """(the quantity's printed name, the index) of an entry as the view prints it:
    every name a table, the verdict or the JSON shows is taken ("vjp.W[0,1]"); another
    is refused with the names there are, the closest first ("did you mean")."""
    names = list(dict.fromkeys(c.key.name for c in report.comparisons))
    typed = text.split(" in trial ")[0].strip()  # "vjp.W[0,1] in trial 2", as printed
    base, bracket, rest = typed.partition("[")
    base = ALIASES.get(base.strip(), base.strip()) if base.strip() not in names else base.strip()
    if base not in names:
        close = [n for n in names if n.lower() == base.lower()]  # vjp.w for vjp.W
        close = close or difflib.get_close_matches(base, names, n=1, cutoff=0.3)
        hint = f"did you mean {close[0]}[…]? " if close else ""
        raise InputError(f"--explain {text!r}: {hint}the quantities are {', '.join(names)}")
    _, index = parse_target(f"x{bracket}{rest}", ["x"])
    if index is None:
        example = f"{names[0]}[{','.join('0' * len(report.comparisons[0].shape))}]"
        raise InputError(f"--explain {text!r}: give an entry, such as {example}")
    return base, tuple(index)


def explain_check(
    report: Report, text: str, slopes: Mapping[str, tuple[float, float]] | None = None
) -> Explanation:
    """check --explain 'J[i,j]' (or 'vjp[i]', 'grad[i]'): the entry in every trial, yours
    beside each reference, and fd's one-sided slopes there (`slopes`, by quantity)."""
    base, index = _target(report, text)
    quantities = list(dict.fromkeys(c.quantity for c in report.comparisons if c.key.name == base))
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
        lines.append(f"  trial {report.key(quantity).trial}: {values}")
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
