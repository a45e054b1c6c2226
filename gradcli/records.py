"""The records a Report is made of: each backend's arrays, the comparisons between
backends, the laws, non-finite values, numerical references, kinks and --explain's
terms. Plain frozen data with its JSON (`to_dict`); gradcli.report holds them together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from gradcli.keys import Key

CRITERION = (
    "|a − ref| ≤ atol + rtol·|ref| + c·error(ref) for every element, all finite; "
    "at a kink, a inside [left, right] ± atol"
)

Array = NDArray[Any]
# who computed a result: a command's backends, check's `yours` (the derivative under
# test) and `against` (a library function, one more reference)
BackendName = Literal["yours", "numpy", "torch", "fd", "against"]
Precision = Literal["float64", "float32", "float16", "bfloat16", "fd"]
PRECISIONS: tuple[Precision, ...] = ("float64", "float32", "float16", "bfloat16", "fd")


def precision(name: str) -> Precision:
    """A dtype's name as a Precision (the options carry it as the user's text)."""
    for known in PRECISIONS:
        if name == known:
            return known
    raise ValueError(f"no precision {name!r}")


BACKEND_NAMES: tuple[BackendName, ...] = ("yours", "numpy", "torch", "fd", "against")


def backend_name(name: str) -> BackendName:
    """A backend's name as a BackendName (a command's loop carries it as text)."""
    for known in BACKEND_NAMES:
        if name == known:
            return known
    raise ValueError(f"no backend {name!r}")


@dataclass(frozen=True)
class BackendResult:
    """The named arrays that one backend computed, stored under their keys' `id`."""

    backend: BackendName
    method: str  # how, in words: "analytic formulas", "autograd", ...
    precision: Precision  # "fd": central differences in float64
    arrays: Mapping[str, Array]


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


@dataclass(frozen=True)
class Comparison:
    """One quantity compared between two backends; `backends[1]` is the reference."""

    quantity: str
    backends: tuple[str, str]
    shape: tuple[int, ...]
    tolerance: Tolerance
    max_abs_error: float
    max_rel_error: float  # inf where the reference is 0 and the other side is not
    worst_index: tuple[int, ...]  # the element furthest out of (or closest to) tolerance
    worst_values: tuple[float, float]
    allowed: float  # atol + rtol·|ref| at the worst element
    n_out_of_tolerance: int  # includes elements that are not finite on either side
    n_non_finite: int
    reference_error: float = 0.0  # the reference's own error estimate at the worst element
    # which elements are out of tolerance, as the core judged them (bool, the quantity's
    # shape); None when every element is within. Kept in memory for the grid and the
    # plot, not in the JSON.
    outside: Array | None = field(default=None, compare=False, repr=False)
    # the quantity by its parts (the core sets it; `quantity` is key.id)
    key: Key = field(default_factory=lambda: Key(""))

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def fraction_out_of_tolerance(self) -> float:
        return self.n_out_of_tolerance / self.size if self.size else 0.0

    @property
    def ok(self) -> bool:
        return self.n_out_of_tolerance == 0

    def to_dict(self) -> dict[str, object]:
        return {
            "quantity": self.key.name,  # as printed, as `worst` and --explain name it
            "trial": self.key.trial,
            "id": self.quantity,  # the stored array: its path in `results`
            "backends": list(self.backends),
            "reference": self.backends[1],
            "shape": list(self.shape),
            "rtol": self.tolerance.rtol,
            "atol": self.tolerance.atol,
            "max_abs_error": self.max_abs_error,
            "max_rel_error": self.max_rel_error,
            "worst_index": list(self.worst_index),
            "worst_values": list(self.worst_values),
            "allowed": self.allowed,
            "n_out_of_tolerance": self.n_out_of_tolerance,
            "fraction_out_of_tolerance": self.fraction_out_of_tolerance,
            "n_non_finite": self.n_non_finite,
            "reference_error": self.reference_error,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class LawCheck:
    """A law the exact result obeys (J symmetric, rows sum to 0), checked on one backend."""

    backend: BackendName
    law: str
    max_violation: float
    allowed: float  # at the element where the violation is largest relative to its bound
    ok: bool
    trial: int | None = None  # a law checked per trial (check's Taylor test)
    rate: float | None = None  # the Taylor test's measured rate (2: right, 1: wrong)

    def to_dict(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "law": self.law,
            "max_violation": self.max_violation,
            "allowed": self.allowed,
            "ok": self.ok,
            "trial": self.trial,
            "rate": self.rate,
        }


@dataclass(frozen=True)
class NonFinite:
    backend: str
    quantity: str
    count: int
    first_index: tuple[int, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "quantity": self.quantity,
            "count": self.count,
            "first_index": list(self.first_index),
        }


@dataclass(frozen=True)
class ReferenceInfo:
    """How a numerical reference made one quantity, and how precise it is."""

    backend: BackendName  # "fd"
    quantity: str
    method: str
    columns: Mapping[str, int]  # method -> inputs (columns of J) it computed
    max_error: float  # the largest per-element error estimate

    def to_dict(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "quantity": self.quantity,
            "method": self.method,
            "columns": dict(self.columns),
            "max_error": self.max_error,
        }


@dataclass(frozen=True)
class KinkInfo:
    """A point where the derivative is the interval between one-sided slopes (or is
    infinite), and what each backend took there."""

    quantity: str
    index: tuple[int, ...]
    at: str  # for people: "∂L/∂a[0]" or, from the problem, "relu at a[0] = 0"
    left: float
    right: float
    infinite: bool
    values: Mapping[str, float]  # backend -> its value at the kink
    ok: bool  # every backend inside [min, max] of the slopes (or infinite, if infinite)

    def to_dict(self) -> dict[str, object]:
        return {
            "quantity": self.quantity,
            "index": list(self.index),
            "at": self.at,
            "left": self.left,
            "right": self.right,
            "infinite": self.infinite,
            "values": dict(self.values),
            "ok": self.ok,
        }


@dataclass(frozen=True)
class Term:
    """One term of a chain-rule sum: ∂L/∂s_k · ∂s_k/∂z_i · ∂z_i/∂θ (for dx: ∂L/∂z_i · W_ij)."""

    row: int | None  # the batch row, None for a single vector
    k: int  # the summation index (k for s_k; i for x's sum over z_i)
    case: str  # which case of the softmax derivative: "k = i: s_i(1 − s_i)" or "k ≠ i: −s_k s_i"
    factors: tuple[float, ...]
    product: float

    def to_dict(self) -> dict[str, object]:
        return {
            "row": self.row,
            "k": self.k,
            "case": self.case,
            "factors": list(self.factors),
            "product": self.product,
        }


@dataclass(frozen=True)
class Explanation:
    """The chain rule for one entry of a gradient, term by term, with its numbers."""

    target: str  # as the user wrote it: W[0,0]
    formula: str  # ∂L/∂W_00 = Σ_k ∂L/∂s_k · ∂s_k/∂z_0 · ∂z_0/∂W_00
    factor_names: tuple[str, ...]
    terms: tuple[Term, ...]
    total: float  # the sum of the terms
    value: float  # the same entry of the backend's gradient
    backend: str
    lines: tuple[str, ...]  # the explanation for a person, line by line

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "formula": self.formula,
            "factor_names": list(self.factor_names),
            "terms": [t.to_dict() for t in self.terms],
            "total": self.total,
            "value": self.value,
            "backend": self.backend,
            "lines": list(self.lines),
        }
