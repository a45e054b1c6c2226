"""A surrogate gradient the user declares (`--surrogate`): a backward that is meant not
to be the derivative.

A straight-through estimator's backward is the identity (the gradient passed through a
rounding as if it were not there); a gradient reversal layer's is −λ times the
derivative. Checked as derivatives, both honestly disagree. Declared, check holds yours
to the surrogate instead, as a law on every quantity it applies to, with the allowed
error of the comparison it replaces (the quantity's measured band against autograd, or
against fd with fd's own error where torch did not run; times |K| for a factor). The
verdict is OK only if yours *is* the declared surrogate, and it still says whether
torch and fd agree on the derivative. A backward that is the true derivative while a
surrogate is declared breaks the law: the suite that keeps a surrogate notices when
someone "fixes" it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from gradcli import compare
from gradcli.declaration import NumericalReference, Quantity
from gradcli.errors import InputError
from gradcli.findings import Differs, Failure, RuleName
from gradcli.report import Array, BackendResult, Comparison, LawCheck
from gradcli.spec import RunOptions

Surrogate = Literal["identity"] | float


def parse(value: object, where: str) -> Surrogate | None:
    """`identity`, `negated` (a factor of −1) or a finite nonzero factor K."""
    if value is None:
        return None
    given = value
    if isinstance(value, str):
        word = value.strip().lower()
        if word == "identity":
            return "identity"
        if word == "negated":
            return -1.0
        try:
            value = float(word)
        except ValueError:
            raise InputError(
                f"{where} {value!r}: expected identity, negated or a factor such as -0.5"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where} {given!r}: expected identity, negated or a factor such as -0.5")
    factor = float(value)
    if not np.isfinite(factor) or factor == 0:
        raise InputError(f"{where} {given!r}: a factor must be finite and not 0")
    return factor


def described(surrogate: Surrogate) -> str:
    if surrogate == "identity":
        return "the identity (the gradient passed through unchanged)"
    if surrogate == -1.0:
        return "the derivative negated"
    return f"{surrogate:g} × the derivative"


def laws(
    surrogate: Surrogate,
    results: Mapping[str, BackendResult],
    quantities: Sequence[Quantity],
    numerical: Sequence[NumericalReference],
    identities: Mapping[str, Callable[[], Array]],
    options: RunOptions,
) -> list[LawCheck]:
    """One law per quantity the surrogate applies to: yours is it, element by element,
    within the band the comparison with the reference allows (scaled by |K|)."""
    # autograd's float64 derivative where it ran (its own rounding only), else fd with
    # its error estimate
    reference = "torch" if "torch" in results else "fd"
    by_quantity = {r.quantity: r for r in numerical}
    out = []
    for q in quantities:
        if q.name not in results["yours"].arrays or q.name not in results[reference].arrays:
            continue
        if surrogate == "identity" and q.name not in identities:
            continue
        yours = np.asarray(results["yours"].arrays[q.name], dtype=np.float64)
        ref = np.asarray(results[reference].arrays[q.name], dtype=np.float64)
        shape = q.view or (1, ref.size)
        ref, yours = ref.reshape(shape), yours.reshape(shape)
        num = by_quantity.get(q.name)
        allowed = compare.allowed_for(
            results["yours"].precision,
            q.scale,
            q.n_terms,
            options.rtol,
            options.atol,
            floor_scale=q.floor_scale,
            condition=q.condition,
            ulps=q.ulps,
        )
        error: Array | float = 0.0
        if reference == "fd" and num is not None and num.derivative.value.shape == shape:
            error = num.derivative.error.dense()
        if surrogate == "identity":
            expected = np.asarray(identities[q.name](), dtype=np.float64).reshape(shape)
            k = 1.0
            error = 0.0  # the identity is exact
        else:
            k = abs(surrogate)
            expected = surrogate * ref
        # relative to what yours is meant to be (K·ref, or the identity's values where
        # the derivative is 0: a straight-through round)
        bound = k * (allowed.atol + allowed.c * error) + allowed.rtol * np.abs(expected)
        with np.errstate(all="ignore"):
            gap = np.abs(yours - expected)
            ratio = np.where(bound > 0, gap / bound, np.where(gap > 0, np.inf, 0.0))
        ratio = np.nan_to_num(ratio, nan=np.inf)
        at = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        out.append(
            LawCheck(
                "yours",
                f"{q.key or q.name}: yours is {described(surrogate)}, the declared surrogate",
                float(gap[at]),
                float(np.broadcast_to(bound, gap.shape)[at]),
                bool(np.all(ratio <= 1)),
                q.key.trial if q.key is not None else None,
            )
        )
    return out


def identities(
    mode: str,
    values: Mapping[str, Array],
    outputs: Sequence[Array],
    cotangents: Sequence[Array],
    quantities: Sequence[str],
) -> dict[str, Callable[[], Array]]:
    """What the identity backward gives for one trial's `quantities` (yours), where it
    can: the cotangent passed through (vjp), ones (an elementwise grad), I (a square
    Jacobian); none where the trial has several inputs or outputs, or the input and the
    output differ in shape (the identity means nothing there)."""
    if len(values) != 1 or len(outputs) != 1:
        return {}
    x = next(iter(values.values()))
    if outputs[0].shape != x.shape:
        return {}
    if mode == "jacobian":  # made when asked: n² elements in every full check otherwise
        return dict.fromkeys(quantities, lambda: np.eye(x.size))
    if mode == "grad":
        return dict.fromkeys(quantities, lambda: np.ones(x.shape))
    if cotangents:
        g = np.asarray(cotangents[0])
        return dict.fromkeys(quantities, lambda: g)
    return {}


@dataclass(frozen=True)
class SurrogateDeclared:
    """check's declared rule (core.Rule) under --surrogate: yours differs from the
    derivative, but only yours, and every surrogate law holds: as declared. `made`: the
    surrogate's laws, filled in when the core asks for the laws (after refinement)."""

    made: list[LawCheck] = field(default_factory=list)
    name: RuleName = "surrogate"

    def excuses(
        self,
        failures: Sequence[Failure],
        comparisons: Sequence[Comparison],
        laws: Sequence[LawCheck],
    ) -> bool:
        return (
            bool(self.made)
            and all(law.ok for law in laws)
            and all(isinstance(f, Differs) and f.odd == "yours" for f in failures)
        )
