"""What a run computed, how the backends compare, and the verdict.

:meth:`Report.to_dict` is the one definition of the JSON format. Arrays stay numpy
arrays there; :mod:`gradcli.render.json` writes them directly (orjson), non-finite
numbers as ``null`` with an entry in ``"non_finite"``.

JSON format versions (``"schema_version"``):
  1: first version: ``command``, ``inputs``, ``results``, ``comparisons``, ``laws``,
     ``criterion``, ``non_finite``, ``omitted``, ``notes``, ``verdict``, ``ok``; and
     ``explanation`` (layer --explain).
  2: references know their own error. Added: ``references`` (per numerical reference
     and quantity: ``backend``, ``quantity``, ``method``, ``columns`` refined by each
     method, ``max_error``), ``kinks`` (``quantity``, ``index``, ``at``, ``left``,
     ``right``, ``infinite``, ``values`` of each backend, ``ok``), and in each
     comparison ``reference_error`` (the reference's estimate at the worst element;
     ``allowed`` is now ``atol + rtol·|ref| + c·reference_error``, ``atol`` the one at
     the worst element where the scale is per row). Nothing was removed or renamed.
     check: ``inputs.input_names`` (every input by name, a module's parameters after its
     inputs) and ``inputs.args`` (--arg); with several inputs each trial of
     ``inputs.x`` is an object name -> array; ``inputs.mode`` may be ``module``;
     quantities are named per input (``trial0.vjp.W``) and ``trial0.forward``
     appears with ``against``, whose results are one more backend.
  3: one story (#19). Added: a top-level ``worst`` (the one worst entry, furthest
     beyond or closest to its allowed error: ``quantity`` as printed and taken by
     --explain, ``trial``, ``index``, ``name``, ``backend``, ``reference``, ``yours``,
     ``expected``, ``difference``, ``allowed``, ``max_abs_difference``,
     ``max_rel_difference``; null when nothing was compared), the same entry every view
     and the pytest helper name; ``verdict.status`` (``OK``, ``DISAGREE`` or ``NOT
     FINITE``: not finite alike on every backend) and ``verdict.findings`` (typed:
     differs, not finite, law broken, kink, pattern, excused); in each comparison
     ``name`` (the printed name, without the trial) and ``trial``; ``failing_trial`` for
     every command; in each law ``trial`` and ``rate`` (check's Taylor test, whose
     ``law`` no longer carries them). Changed: ``verdict.summary`` is the first line of every view
     (``DISAGREE: vjp.W: torch and fd agree, yours differs in 27 of 27 entries, 3 of 3
     trials``); a graph's gradients are named ``a.grad`` in verdicts (the JSON's
     ``results`` keep their nesting, ``grads.a``); kinks are no longer repeated in
     ``notes`` (they are in ``kinks``). Nothing was removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from gradcli.findings import Verdict, Worst
from gradcli.keys import Key

if TYPE_CHECKING:
    from rich.console import RenderableType

SCHEMA_VERSION = 3

# Arrays with more elements than this are summarised in JSON (shape, min, max) instead
# of written whole; --save writes them whole. 65 536 is a 256×256 Jacobian, about 1.5 MB
# of JSON text: still comfortable for jq.
JSON_MAX_ELEMENTS = 65_536

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
            "quantity": self.quantity,
            "name": self.key.name,
            "trial": self.key.trial,
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


class Shown(Protocol):
    """How a Report is shown and said, from the render side (gradcli.render.shown).

    The Report is data and imports nothing above it; whoever assembles a run (each
    command) hands the core this adapter, which the Report keeps. So `rich.print(report)`
    and Jupyter show gradcli's default view, and the verdict has its sentences, with no
    import from here to render and no module rebinding another's attributes (a registry
    filled by render at import time would be both a hidden import order and a rebinding).
    """

    def sentences(self, report: Report) -> tuple[str, tuple[str, ...]]: ...

    def rich(self, report: Report) -> RenderableType: ...

    def html(self, report: Report) -> str: ...


@dataclass(frozen=True, repr=False)
class Report:
    """What a run computed: per-backend arrays, comparisons, laws and the verdict.

    `to_dict()` defines the JSON format, `to_json()` writes it; in Jupyter and with rich
    the report renders as gradcli's default view.
    """

    command: str
    title: str  # one line saying what was computed, for people
    inputs: Mapping[str, Any]
    results: Mapping[str, BackendResult]
    comparisons: tuple[Comparison, ...]
    laws: tuple[LawCheck, ...]
    non_finite: tuple[NonFinite, ...]
    verdict: Verdict
    notes: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)  # quantity -> what a person reads
    explanation: Explanation | None = None
    sections: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (title, lines) shown as text
    extra: Mapping[str, Any] = field(default_factory=dict)  # more JSON keys of the problem
    references: tuple[ReferenceInfo, ...] = ()
    kinks: tuple[KinkInfo, ...] = ()
    keys: Mapping[str, Key] = field(default_factory=dict)  # array id -> its key
    shown: Shown | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.verdict.ok

    @property
    def worst(self) -> Worst | None:
        """The one worst entry (gradcli.verdicts.worst): furthest beyond, or closest to,
        its allowed error."""
        return self.verdict.worst

    def key(self, array_id: str) -> Key:
        """The key of a stored array (a plain key for one the command did not declare)."""
        return self.keys.get(array_id) or Key(array_id)

    def __repr__(self) -> str:
        return f"<gradcli Report {self.command}: {self.verdict.summary or self.verdict.status}>"

    def to_json(self, *, indent: bool = False, max_elements: int = JSON_MAX_ELEMENTS) -> str:
        import orjson

        option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
        if indent:
            option |= orjson.OPT_INDENT_2
        return orjson.dumps(self.to_dict(max_elements), option=option).decode()

    def __rich__(self) -> RenderableType:
        if self.shown is None:
            return repr(self)
        return self.shown.rich(self)

    def _repr_html_(self) -> str:  # Jupyter
        if self.shown is None:
            return f"<pre>{self!r}</pre>"
        return self.shown.html(self)

    def arrays(self) -> dict[str, Array]:
        """Every result array, keyed "<backend>.<quantity>" (the keys of --save)."""
        return {
            f"{name}.{quantity}": array
            for name, result in self.results.items()
            for quantity, array in result.arrays.items()
        }

    def failing_trial(self) -> dict[str, object]:
        """The worst entry's trial and what reproduces it: x, and in vjp modes the
        cotangent g. Empty on a pass or without trials."""
        worst = self.worst
        if self.ok or worst is None or worst.entry.key.trial is None:
            return {}
        trial = worst.entry.key.trial
        trials = sorted({t for c in self.comparisons if (t := c.key.trial) is not None})
        position = trials.index(trial) if trial in trials else trial  # --trial K: only K
        out: dict[str, Any] = {"trial": trial}
        xs = self.inputs.get("x")
        if isinstance(xs, list) and position < len(xs):
            out["x"] = xs[position]
        cotangents = self.extra.get("cotangents")
        if isinstance(cotangents, list) and position < len(cotangents):
            out["g"] = cotangents[position]
        return out

    def to_dict(self, max_elements: int = JSON_MAX_ELEMENTS) -> dict[str, object]:
        omitted: list[str] = []

        def jsonable(value: Any, key: str) -> Any:
            """Arrays whole up to max_elements, summarised beyond; containers walked."""
            if isinstance(value, np.ndarray):
                if value.ndim == 0:
                    return value.item()
                if value.size <= max_elements:
                    return np.ascontiguousarray(value)
                omitted.append(key)
                return summarise(value, max_elements)
            if isinstance(value, dict):
                return {k: jsonable(v, f"{key}.{k}") for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [jsonable(v, f"{key}[{i}]") for i, v in enumerate(value)]
            return value

        inputs = {key: jsonable(value, f"inputs.{key}") for key, value in self.inputs.items()}
        results: dict[str, Any] = {}
        for name, result in self.results.items():
            nested: dict[str, Any] = {}
            for quantity, array in result.arrays.items():
                # trial0.vjp.W is written as {"trial0": {"vjp": {"W": …}}}, from its key
                *parents, leaf = self.key(quantity).path()
                slot = nested
                for parent in parents:
                    slot = slot.setdefault(parent, {})
                slot[leaf] = jsonable(array, f"{name}.{quantity}")
            results[name] = nested
        extra = {key: jsonable(value, key) for key, value in self.extra.items()}
        failing = self.failing_trial()
        verdict = self.verdict
        return {
            "schema_version": SCHEMA_VERSION,
            "command": self.command,
            "inputs": inputs,
            "backends": {
                name: {"method": r.method, "precision": r.precision}
                for name, r in self.results.items()
            },
            "results": results,
            "criterion": CRITERION,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "laws": [law.to_dict() for law in self.laws],
            "non_finite": [nf.to_dict() for nf in self.non_finite],
            "references": [ref.to_dict() for ref in self.references],
            "kinks": [kink.to_dict() for kink in self.kinks],
            "omitted": omitted,
            "notes": list(self.notes),
            **({"explanation": self.explanation.to_dict()} if self.explanation else {}),
            **extra,
            **({"failing_trial": jsonable(failing, "failing_trial")} if failing else {}),
            "worst": verdict.worst.to_dict() if verdict.worst else None,
            "verdict": {
                "status": verdict.status,
                "summary": verdict.summary,
                "details": list(verdict.details),
                "findings": [f.to_dict() for f in verdict.findings],
            },
            "ok": self.ok,
        }


def summarise(array: Array, max_elements: int) -> dict[str, object]:
    """What JSON carries instead of an array too large to write whole."""
    finite = array[np.isfinite(array)]
    return {
        "omitted": True,
        "reason": f"{array.size} elements > {max_elements}; use --save FILE.npz for the array",
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "min": float(finite.min()) if finite.size else None,
        "max": float(finite.max()) if finite.size else None,
    }
