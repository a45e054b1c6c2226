"""softmax --explain 'J[i,j]': one entry of the softmax Jacobian, with its numbers.

    J_ij = ∂s_i/∂z_j = s_i(δ_ij − s_j)/T
         = s_i(1 − s_i)/T   when i = j
         = −s_i·s_j/T       when i ≠ j

It reads a finished Report (the softmax each backend computed, the Jacobian entry each
backend gives), so the explanation's sum is checked against every backend.
"""

from __future__ import annotations

import re

from gradcli.errors import InputError
from gradcli.report import Explanation, Report, Term

TARGET = re.compile(r"\s*J\s*\[\s*(\d+)\s*,\s*(\d+)\s*\]\s*\Z")
FIRST = ("numpy", "torch", "fd")  # whose s the explanation multiplies


def parse_target(text: str, n: int) -> tuple[int, int]:
    match = TARGET.match(text)
    if not match:
        raise InputError(f"--explain {text!r}: write J[i,j], an entry of the Jacobian")
    i, j = int(match.group(1)), int(match.group(2))
    for name, value in (("i", i), ("j", j)):
        if not 0 <= value < n:
            raise InputError(f"--explain {text!r}: {name} = {value} is out of range 0..{n - 1}")
    return i, j


def explain(report: Report, text: str) -> Explanation:
    s_of = {n: r.arrays["softmax"] for n, r in report.results.items() if "softmax" in r.arrays}
    backend = next(n for n in (*FIRST, *s_of) if n in s_of)
    s = s_of[backend].astype(float)
    i, j = parse_target(text, s.size)
    t = float(report.inputs.get("temperature", 1.0))
    over_t = "" if t == 1 else "/T"
    si, sj = float(s[i]), float(s[j])
    if i == j:
        case = f"i = j: J_{i}{i} = s_{i}(1 − s_{i}){over_t}"
        factors = (si, 1 - si)
        product = si * (1 - si) / t
        numbers = f"{si:.6g} × (1 − {si:.6g}){_t(t)} = {product:.6g}"
    else:
        case = f"i ≠ j: δ_{i}{j} = 0, so J_{i}{j} = s_{i}(0 − s_{j}){over_t} = −s_{i}·s_{j}{over_t}"
        factors = (si, -sj)
        product = -si * sj / t
        numbers = f"−{si:.6g} × {sj:.6g}{_t(t)} = {product:.6g}"
    lines = [
        f"J_ij = ∂s_i/∂z_j = s_i(δ_ij − s_j){over_t}, at i = {i}, j = {j}",
        f"  {case}",
        f"  s_{i} = {si:.6g}" + ("" if i == j else f", s_{j} = {sj:.6g}") + _t_value(t),
        f"  {numbers}",
    ]
    given = [
        f"{name} {float(r.arrays['jacobian'][i, j]):.6g}"
        for name, r in report.results.items()
        if "jacobian" in r.arrays
    ]
    lines.append(f"  J[{i},{j}] from " + ", ".join(given))
    value = float(report.results[backend].arrays["jacobian"][i, j])
    term = Term(None, j, case.split(":")[0], factors, product)
    return Explanation(
        f"J[{i},{j}]",
        f"J_{i}{j} = s_{i}(δ_{i}{j} − s_{j}){over_t}",
        (f"s_{i}", f"δ_{i}{j} − s_{j}"),
        (term,),
        product,
        value,
        backend,
        tuple(lines),
    )


def _t(t: float) -> str:
    return "" if t == 1 else f" / {t:.6g}"


def _t_value(t: float) -> str:
    return "" if t == 1 else f", T = {t:.6g}"
