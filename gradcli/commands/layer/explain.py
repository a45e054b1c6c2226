"""--explain: the chain rule for one entry of dW, db or dx, term by term, with numbers.

    ∂L/∂W_ij = Σ_r Σ_k ∂L/∂s_rk · ∂s_rk/∂z_ri · ∂z_ri/∂W_ij,   ∂z_ri/∂W_ij = x_rj
    ∂L/∂b_i  = Σ_r Σ_k ∂L/∂s_rk · ∂s_rk/∂z_ri · 1
    ∂L/∂x_rj = Σ_i ∂L/∂z_ri · W_ij,   ∂L/∂z_ri = Σ_k ∂L/∂s_rk · ∂s_rk/∂z_ri

with ∂s_k/∂z_i = s_i(1 − s_i) when k = i and −s_k s_i when k ≠ i.
"""

from __future__ import annotations

import difflib
import re

import numpy as np

from gradcli.errors import InputError
from gradcli.report import Array, BackendResult, Explanation, Term
from gradcli.spec import LayerSpec

TARGET = re.compile(r"\s*(?:d|∂L/∂)?([Wbx])\s*\[\s*(\d+)\s*(?:,\s*(\d+)\s*)?\]\s*\Z")
ROWS_SHOWN = 4  # a batch with more rows shows each row's subtotal, not its terms
TERMS_SHOWN = 12  # per row; the rest are summed in one line
MAX_TERMS = 4096  # kept in the JSON


def parse_target(text: str, spec: LayerSpec) -> tuple[str, int | None, int, int | None]:
    """(name, row, first index, second index) from 'dW[i,j]', 'db[i]', 'dx[j]' or
    'dx[r,j]' as the view prints them (or ∂L/∂W[i,j], as the tables' formulas, or W[i,j])."""
    match = TARGET.match(text)
    if not match:
        names = ["dW", "db", "dx"]
        close = difflib.get_close_matches(text.partition("[")[0].strip(), names, n=1, cutoff=0.3)
        hint = f"did you mean {close[0]}[…]? " if close else ""
        raise InputError(
            f"--explain {text!r}: {hint}write dW[i,j], db[i], dx[j] or dx[r,j] (for a batch)"
        )
    name, first, second = match.group(1), int(match.group(2)), match.group(3)
    out_features, in_features = spec.w.shape
    batched = spec.x.ndim == 2
    if name == "W":
        if second is None:
            raise InputError(f"--explain {text!r}: dW takes two indices, dW[i,j]")
        _check(text, "i", first, out_features)
        _check(text, "j", int(second), in_features)
        return name, None, first, int(second)
    if name == "b":
        if second is not None:
            raise InputError(f"--explain {text!r}: db takes one index, db[i]")
        _check(text, "i", first, out_features)
        return name, None, first, None
    if batched and second is None:
        raise InputError(f"--explain {text!r}: x is (batch, in) here: write dx[r,j]")
    if not batched and second is not None:
        raise InputError(f"--explain {text!r}: x is a vector here: write dx[j]")
    if batched:
        assert second is not None
        _check(text, "r", first, spec.x.shape[0])
        _check(text, "j", int(second), in_features)
        return name, first, int(second), None
    _check(text, "j", first, in_features)
    return name, None, first, None


def canonical(name: str, row: int | None, first: int, second: int | None) -> str:
    """The entry as the view prints it: dW[0,1], db[2], dx[1] or dx[0,1]."""
    where = [i for i in (row, first, second) if i is not None]
    return f"d{name}[{','.join(map(str, where))}]"


def _check(text: str, what: str, value: int, size: int) -> None:
    if not 0 <= value < size:
        raise InputError(f"--explain {text!r}: {what} = {value} is out of range 0..{size - 1}")


def explain(spec: LayerSpec, result: BackendResult) -> Explanation:
    assert spec.explain is not None
    name, row, first, second = parse_target(spec.explain, spec)
    out_features = spec.w.shape[0]
    a = {q: np.asarray(v, dtype=np.float64) for q, v in result.arrays.items()}
    s, dl_ds, dl_dz = (a[q].reshape(-1, out_features) for q in ("s", "dL_ds", "dL_dz"))
    x = spec.x.reshape(-1, spec.w.shape[1]).astype(np.float64)
    target = canonical(name, row, first, second)
    if name == "x":
        return _explain_x(spec, result.backend, row or 0, first, dl_dz, a["dx"], target)
    i, j = first, second
    param = f"W_{i}{j}" if name == "W" else f"b_{i}"
    dz_name = f"x_{j}" if name == "W" else "1"
    formula = f"∂L/∂{param} = Σ_k ∂L/∂s_k · ∂s_k/∂z_{i} · ∂z_{i}/∂{param}"
    batched = spec.x.ndim == 2
    if batched:
        formula = formula.replace("Σ_k", "Σ_r Σ_k")
    lines = [formula + f",   ∂z_{i}/∂{param} = {dz_name}"]
    terms: list[Term] = []
    for r in range(s.shape[0]):
        dz = float(x[r, j]) if name == "W" else 1.0
        row_terms = _row_terms(r if batched else None, i, s[r], dl_ds[r], dz)
        if not all(np.isfinite(t.product) for t in row_terms):
            # ce where s_t underflowed: ∂L/∂s_t = −inf meets ∂s_t/∂z_i = 0. The fused
            # ∂L/∂z_i = (s_i − [i = t])/B is the same sum, computed without the inf.
            row_terms = [
                Term(
                    r if batched else None,
                    i,
                    "fused: (s_i − [i = t])/B",
                    (float(dl_dz[r, i]), dz),
                    float(dl_dz[r, i]) * dz,
                )
            ]
        terms += row_terms
        if batched and s.shape[0] > ROWS_SHOWN:
            if r < ROWS_SHOWN:
                subtotal = sum(t.product for t in row_terms)
                product = f"{dl_dz[r, i]:.6g} × {dz:.6g} = {subtotal:.6g}"
                lines.append(f"  row {r}: ∂L/∂z_{r}{i} · {dz_name} = {product}")
            continue
        if batched:
            lines.append(f"  row {r}:")
        lines += _term_lines(row_terms, dz_name)
    if batched and s.shape[0] > ROWS_SHOWN:
        lines.append(f"  … {s.shape[0] - ROWS_SHOWN} more rows")
    grad = float(a["dW"][i, j] if name == "W" else a["db"][i])
    return _finish(
        target,
        formula,
        ("∂L/∂s_k", f"∂s_k/∂z_{i}", f"∂z_{i}/∂{param}"),
        terms,
        grad,
        result.backend,
        lines,
    )


def _row_terms(row: int | None, i: int, s: Array, dl_ds: Array, dz: float) -> list[Term]:
    terms = []
    for k in range(s.size):
        if k == i:
            case, ds_dz = f"k = i: s_{i}(1 − s_{i})", s[i] * (1.0 - s[i])
        else:
            case, ds_dz = f"k ≠ i: −s_{k} s_{i}", -s[k] * s[i]
        with np.errstate(all="ignore"):
            product = float(dl_ds[k] * ds_dz * dz) + 0.0  # no -0 in the output
        terms.append(Term(row, k, case, (float(dl_ds[k]), float(ds_dz), float(dz)), product))
    return terms


def _term_lines(terms: list[Term], dz_name: str) -> list[str]:
    shown = (
        terms
        if len(terms) <= TERMS_SHOWN
        else sorted(terms, key=lambda t: -abs(t.product))[:TERMS_SHOWN]
    )
    lines = []
    for t in sorted(shown, key=lambda t: t.k):
        factors = " × ".join(f"{f:.6g}" for f in t.factors)
        lines.append(f"    k = {t.k} ({t.case}): {factors} = {t.product:.6g}")
    if len(terms) > len(shown):
        rest = sum(t.product for t in terms if t not in shown)
        lines.append(f"    … {len(terms) - len(shown)} smaller terms, together {rest:.6g}")
    return lines


def _explain_x(
    spec: LayerSpec, backend: str, row: int, j: int, dl_dz: Array, dx: Array, target: str
) -> Explanation:
    batched = spec.x.ndim == 2
    name = f"x_{row}{j}" if batched else f"x_{j}"
    formula = f"∂L/∂{name} = Σ_i ∂L/∂z_i · ∂z_i/∂{name},   ∂z_i/∂{name} = W_i{j}"
    lines = [formula, "  where each ∂L/∂z_i = Σ_k ∂L/∂s_k · ∂s_k/∂z_i (the chain through softmax)"]
    terms = [
        Term(
            row if batched else None,
            i,
            "",
            (float(dl_dz[row, i]), float(spec.w[i, j])),
            float(dl_dz[row, i] * spec.w[i, j]),
        )
        for i in range(spec.w.shape[0])
    ]
    lines += [line.replace("k = ", "i = ").replace(" ()", "") for line in _term_lines(terms, "")]
    value = dx[row, j] if batched else dx[j]
    return _finish(target, formula, ("∂L/∂z_i", f"W_i{j}"), terms, value, backend, lines)


def _finish(
    target: str,
    formula: str,
    factor_names: tuple[str, ...],
    terms: list[Term],
    value: float,
    backend: str,
    lines: list[str],
) -> Explanation:
    total = float(sum(t.product for t in terms))
    lines.append(f"  sum = {total:.6g};  {target} from {backend} = {float(value):.6g}")
    return Explanation(
        target,
        formula,
        factor_names,
        tuple(terms[:MAX_TERMS]),
        total,
        float(value),
        backend,
        tuple(lines),
    )
