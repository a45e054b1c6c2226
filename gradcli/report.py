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
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from gradcli.findings import Verdict, Worst
from gradcli.keys import Key
from gradcli.records import (
    BACKEND_NAMES,
    CRITERION,
    PRECISIONS,
    Array,
    BackendName,
    BackendResult,
    Comparison,
    Explanation,
    KinkInfo,
    LawCheck,
    NonFinite,
    Precision,
    ReferenceInfo,
    Term,
    Tolerance,
    backend_name,
    precision,
)

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = [
    "BACKEND_NAMES",
    "CRITERION",
    "PRECISIONS",
    "SCHEMA_VERSION",
    "Array",
    "BackendName",
    "BackendResult",
    "Comparison",
    "Explanation",
    "Key",
    "KinkInfo",
    "LawCheck",
    "NonFinite",
    "Precision",
    "ReferenceInfo",
    "Report",
    "Shown",
    "Term",
    "Tolerance",
    "Verdict",
    "Worst",
    "backend_name",
    "precision",
    "summarise",
]

SCHEMA_VERSION = 3

# Arrays with more elements than this are summarised in JSON (shape, min, max) instead
# of written whole; --save writes them whole. 65 536 is a 256×256 Jacobian, about 1.5 MB
# of JSON text: still comfortable for jq.
JSON_MAX_ELEMENTS = 65_536


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

    def _named(self, document: dict[str, object]) -> dict[str, object]:
        return _named_fields(self, document)

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
            "non_finite": [self._named(nf.to_dict()) for nf in self.non_finite],
            "references": [self._named(ref.to_dict()) for ref in self.references],
            "kinks": [self._named(kink.to_dict()) for kink in self.kinks],
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


def _named_fields(report: Report, document: dict[str, object]) -> dict[str, object]:
    """A record's stored `quantity` as the JSON says every quantity: its printed name,
    its trial and, as `id`, the stored array's path in `results`."""
    key = report.key(str(document["quantity"]))
    rest = {k: v for k, v in document.items() if k != "quantity"}
    return {"quantity": key.name, "trial": key.trial, "id": key.id, **rest}


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
