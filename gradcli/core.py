"""One checking core: a problem declares what it computed; :func:`judge` compares,
refines the references where a comparison is inconclusive, names the kinks, applies the
laws' results, gives the verdict and builds the Report.

A problem (softmax, layer, graph, check) calls it as

    d = references.Differentiator(f_rows, x)          # f_rows: (k, n) -> (k, m)
    derivative = d.cheap()                             # fd's J, refined later if needed
    results["fd"] = BackendResult("fd", "central differences", "fd", {"jacobian": derivative.value})
    report = core.judge(
        Declaration(command="softmax", title=..., inputs=..., labels=...),
        results,        # {"numpy": BackendResult, "torch": ..., "fd": ...}
        [Quantity("jacobian", scale=s[:, None] / T, view=(n, n))],
        options=spec.options,
        references_=[NumericalReference("fd", "jacobian", derivative, d, analytic=True)],
        laws=laws_of,   # called with the results after refinement
    )

The reference's array in `results` must be `derivative.value` itself (or a view of it):
refinement writes into it, so that what is shown and saved is what was judged.

Every pair of backends is compared on every quantity both have; the reference of a pair
is fd when present, else torch. Against a :class:`NumericalReference` an element may be
off by ``atol + rtol·|ref| + c·error`` where `error` is the reference's own estimate.
Where some backend is outside that, the reference is refined on those columns (the
complex step where the function is analytic, else Richardson with kink detection and an
adaptive step), within ``REFINE_BUDGET``, and every pair is compared again. A quantity
that declares its computation's `rounding` noise (graph programs) gets ``ROUNDING_FACTOR``
times it added to every pair's default atol (a user's atol replaces both), measured only
where a comparison fails without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any, Protocol

import numpy as np

from gradcli import compare, references, verdicts
from gradcli.findings import (
    Excused,
    Failure,
    Finding,
    KinkOutside,
    LawBroken,
    NotFinite,
    Pattern,
    RuleName,
    Status,
    Verdict,
)
from gradcli.keys import Entry, Key
from gradcli.report import (
    Array,
    BackendName,
    BackendResult,
    Comparison,
    Explanation,
    KinkInfo,
    LawCheck,
    NonFinite,
    ReferenceInfo,
    Report,
    Shown,
)
from gradcli.spec import RunOptions

# Refinement is paid for only where the cheap reference was inconclusive, and at most
# this many element-evaluations of f (columns × 7 evaluations × n inputs) per quantity.
REFINE_BUDGET = 4e7
ROUNDING_FACTOR = 8.0  # of a Quantity's measured rounding noise (the max of a few samples)


@dataclass(frozen=True)
class Quantity:
    """A quantity the backends computed. `scale` is its magnitude (a number, or per
    element: an array broadcastable to the quantity's shape, e.g. a per-row (m, 1)
    column of a Jacobian), from the inputs or the reference side, never from the side
    under test. `n_terms`: the length of the sums behind it."""

    name: str  # where the backends' arrays are: `key.id` when a key is given
    scale: float | Array = 1.0
    n_terms: int = 1
    view: tuple[int, int] | None = None
    floor_scale: float = 1.0  # quantity / underlying value, for the dtype's tiny floor
    condition: float = 0.0  # relative rounding beyond the dtype's: condition·ε (exp of |z|)
    # the computation's own rounding noise per element (graph_rounding), added ROUNDING_FACTOR
    # times to every pair's default atol; called only where a comparison fails without it
    rounding: Callable[[], Array] | None = None
    key: Key | None = None  # the quantity by its parts; None: a plain Key(name)

    def __post_init__(self) -> None:
        if self.key is not None and self.key.id != self.name:
            raise ValueError(f"quantity {self.name!r} declared with key {self.key.id!r}")


class Rule(Protocol):
    """A rule a command declares and the core applies after comparing: when it
    `excuses` the failures, the verdict is OK and says which rule decided (check: the
    Taylor test decides where only fd differs)."""

    @property
    def name(self) -> RuleName: ...

    def excuses(
        self,
        failures: Sequence[Failure],
        comparisons: Sequence[Comparison],
        laws: Sequence[LawCheck],
    ) -> bool: ...


Sections = tuple[tuple[str, tuple[str, ...]], ...]
# what a command finds in its failures beyond the numbers: the patterns (the shape of a
# wrong derivative) and sections of text (check: the worst entries)
Describe = Callable[
    [Mapping[str, BackendResult], Sequence[Comparison]], tuple[tuple[Pattern, ...], Sections]
]


@dataclass
class NumericalReference:
    """`backend`'s `quantity` (fd's, usually) as a references.Derivative, refinable by
    its Differentiator (None: as it is). `analytic`: the complex step may refine it.
    `to_columns` maps the Derivative's columns to the view of the quantity when they
    differ (directional references); `describe` names element (i, j) for a kink."""

    backend: BackendName
    quantity: str
    derivative: references.Derivative
    differentiator: references.Differentiator | None = None
    analytic: bool = False
    describe: Callable[[tuple[int, ...]], str] | None = None


@dataclass(frozen=True)
class Declaration:
    """What the Report says besides the numbers."""

    command: str
    title: str
    inputs: Mapping[str, Any]
    labels: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    sections: Sections = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    explanation: Explanation | None = None
    keys: Sequence[Key] = ()  # the keys of arrays shown but not compared (check's forward)
    rules: Sequence[Rule] = ()
    describe: Describe | None = None
    shown: Shown | None = None  # render's adapter: the verdict's words, rich and Jupyter


def judge(
    declaration: Declaration,
    results: Mapping[str, BackendResult],
    quantities: Sequence[Quantity],
    *,
    options: RunOptions,
    references_: Sequence[NumericalReference] = (),
    laws: Callable[[Mapping[str, BackendResult]], Iterable[LawCheck]] | Iterable[LawCheck] = (),
    excluded_non_finite: Iterable[str] = (),
) -> Report:
    """Compare, refine, judge, and build the Report (see the module docstring).
    `excluded_non_finite`: quantities shown but not compared (their non-finite values
    do not fail the verdict)."""
    refs: dict[tuple[str, str], NumericalReference] = {
        (r.backend, r.quantity): r for r in references_
    }
    keys = {k.id: k for k in declaration.keys}
    keys |= {q.name: q.key or Key(q.name) for q in quantities}
    comparisons = tuple(
        replace(c, key=keys[c.quantity])
        for c in _compare_all(results, quantities, refs, options, refine=True)
    )
    kinks = _kinks(results, refs, quantities)
    law_checks = tuple(laws(results) if callable(laws) else laws)
    skip = set(excluded_non_finite)
    names = {q.name for q in quantities}
    non_finite = compare.find_non_finite(results)  # all listed: JSON writes them as null
    judged = [
        nf
        for nf in _excuse_infinite_kinks(non_finite, results, refs, quantities)
        if nf.quantity in names and nf.quantity not in skip
    ]
    differs = verdicts.leading(verdicts.differs(comparisons))
    failures: list[Failure] = [
        *differs,
        *verdicts.not_finite(judged, results, keys, [q.name for q in quantities]),
        *(
            LawBroken(w.backend, w.law, w.max_violation, w.allowed, w.trial, w.rate)
            for w in law_checks
            if not w.ok
        ),
    ]
    rule = next(
        (r for r in declaration.rules if failures and r.excuses(failures, comparisons, law_checks)),
        None,
    )
    # a value just outside a kink's interval, within the tolerance, is no failure of its
    # own; beside another failure it says where the interval was missed
    if failures and rule is None:
        failures += [_outside(k, keys) for k in kinks if not k.ok]
    findings: tuple[Finding, ...] = tuple(failures)
    sections = declaration.sections
    if declaration.describe is not None and differs:
        patterns, more = declaration.describe(results, comparisons)
        findings += patterns if rule is None else ()
        sections += more
    status: Status = "OK"
    if rule is not None:
        findings = (Excused(rule.name, tuple(failures)),)
    elif failures:
        # not finite alike on every backend, first in the order of the computation (the
        # gradients after it are what fd cannot difference there): the function itself
        first = failures[0]
        alike = isinstance(first, NotFinite) and first.alike
        status = (
            "NOT FINITE"
            if alike and all(isinstance(f, NotFinite) for f in failures)
            else "DISAGREE"
        )
    chosen = verdicts.worst(comparisons)
    worst = (
        differs[0].worst
        if differs and rule is None
        else (verdicts.as_worst(chosen) if chosen is not None else None)
    )
    report = Report(
        command=declaration.command,
        title=declaration.title,
        inputs=declaration.inputs,
        results=results,
        comparisons=comparisons,
        laws=law_checks,
        non_finite=non_finite,
        verdict=Verdict(status == "OK", status, findings, worst),
        notes=declaration.notes,
        labels=declaration.labels,
        explanation=declaration.explanation,
        sections=sections,
        extra=declaration.extra,
        references=tuple(_reference_info(r) for r in references_),
        kinks=tuple(kinks),
        keys=keys,
        shown=declaration.shown,
    )
    return said(report)


def said(report: Report) -> Report:
    """The Report with its verdict's sentences, made by render's adapter from the
    findings (unchanged without one). A command that adds to a judged Report (check's
    --explain) calls it again."""
    if report.shown is None:
        return report
    summary, details = report.shown.sentences(report)
    return replace(report, verdict=replace(report.verdict, summary=summary, details=details))


def _outside(k: KinkInfo, keys: Mapping[str, Key]) -> KinkOutside:
    values = tuple(k.values.items())
    return KinkOutside(Entry(keys[k.quantity], k.index), k.at, k.left, k.right, values)


def _compare_all(
    results: Mapping[str, BackendResult],
    quantities: Sequence[Quantity],
    refs: dict[tuple[str, str], NumericalReference],
    options: RunOptions,
    refine: bool,
) -> tuple[Comparison, ...]:
    names = [b for b in compare.BACKEND_ORDER if b in results] + [
        b for b in results if b not in compare.BACKEND_ORDER
    ]
    out: list[Comparison] = []
    for q in quantities:
        pairs = [
            compare.reference_order(x, y)
            for x, y in combinations(names, 2)
            if q.name in results[x].arrays and q.name in results[y].arrays
        ]
        numerical = next((refs[(r, q.name)] for _, r in pairs if (r, q.name) in refs), None)
        done = _compare_quantity(results, q, pairs, refs, options)
        noise = None
        rounding = q.rounding if options.atol is None else None  # --atol replaces it
        if rounding is not None and any(c.n_out_of_tolerance > c.n_non_finite for c, _ in done):
            noise = ROUNDING_FACTOR * rounding()
            done = _compare_quantity(results, q, pairs, refs, options, noise)
        if refine and numerical is not None and numerical.differentiator is not None:
            # every pair's failing columns: where two backends disagree, fd arbitrates
            # only if it is precise there
            failing = np.zeros(numerical.derivative.value.shape[1], dtype=bool)
            for _, cols in done:
                failing |= cols
            if failing.any() and _refine(numerical, np.flatnonzero(failing)):
                done = _compare_quantity(results, q, pairs, refs, options, noise)
        out.extend(c for c, _ in done)
    return tuple(out)


def _compare_quantity(
    results: Mapping[str, BackendResult],
    q: Quantity,
    pairs: list[tuple[str, str]],
    refs: dict[tuple[str, str], NumericalReference],
    options: RunOptions,
    noise: Array | None = None,
) -> list[tuple[Comparison, Array]]:
    of_quantity = next((r for (_, name), r in refs.items() if name == q.name), None)
    kinks = tuple(of_quantity.derivative.kinks) if of_quantity else ()
    view = q.view
    if of_quantity is not None:  # the reference's (m, n): its kinks and columns index it
        rows, cols = of_quantity.derivative.value.shape
        view = (rows, cols)
    bands: dict[tuple[str, int], compare.Allowed] = {}

    def band(precision: str, numerical: NumericalReference | None) -> compare.Allowed:
        # one Allowed object per precision and reference error: the pairs that judge
        # against the same reference array with it share one band (compare_views)
        key = (precision, id(numerical))
        if key not in bands:
            bands[key] = compare.allowed_for(
                precision,
                q.scale,
                q.n_terms,
                options.rtol,
                options.atol,
                error=numerical.derivative.error if numerical is not None else None,
                kinks=kinks,
                floor_scale=q.floor_scale,
                condition=q.condition,
            )
            if noise is not None:  # the computation's own rounding, on every pair's atol
                bands[key] = replace(bands[key], atol=bands[key].atol + noise)
        return bands[key]

    jobs = []
    for a_name, ref_name in pairs:
        a, ref = results[a_name], results[ref_name]
        numerical = refs.get((ref_name, q.name))
        allowed = band(a.precision, numerical)
        if numerical is None and ref.precision != "fd":
            # two backends, neither a numerical reference: the looser precision of the two
            other = band(ref.precision, None)
            if other.rtol > allowed.rtol:
                allowed = compare.Allowed(other.rtol, other.atol, None, allowed.c, kinks)
            if of_quantity is not None:
                # a difference between two backends below the numerical reference's own
                # resolution is not a verdict: fd arbitrates there, and where it is
                # refined (complex step) its error is a few ulp
                allowed = compare.Allowed(
                    allowed.rtol, allowed.atol, of_quantity.derivative.error, allowed.c, kinks
                )
        jobs.append(((a_name, ref_name), a.arrays[q.name], ref.arrays[q.name], allowed))
    return compare.compare_views(q.name, jobs, view)


def _refine(numerical: NumericalReference, columns: Array) -> bool:
    """Refine the columns that some backend found inconclusive; False if none could be."""
    d = numerical.differentiator
    assert d is not None
    per_column = 7 * max(d.x.size, 1)
    fresh = [int(j) for j in columns if int(j) not in numerical.derivative.error.refined]
    fresh = fresh[: max(1, int(REFINE_BUDGET // per_column))]
    if not fresh:
        return False
    if numerical.analytic:
        d.complex_step(numerical.derivative, fresh)
    else:
        d.richardson(numerical.derivative, fresh)
    return True


def _kinks(
    results: Mapping[str, BackendResult],
    refs: dict[tuple[str, str], NumericalReference],
    quantities: Sequence[Quantity],
) -> list[KinkInfo]:
    out = []
    for (backend, name), ref in refs.items():
        shape = results[backend].arrays[name].shape
        m, n = ref.derivative.value.shape
        for k in ref.derivative.kinks:
            index = tuple(int(v) for v in np.unravel_index(k.i * n + k.j, shape))
            values = {
                b: float(r.arrays[name].reshape(m, n)[k.i, k.j])
                for b, r in results.items()
                if b != backend and name in r.arrays
            }
            inside = [
                (np.isinf(v) if k.infinite else k.low <= v <= k.high) for v in values.values()
            ]
            at = ref.describe(index) if ref.describe else f"{name}{list(index)}"
            out.append(KinkInfo(name, index, at, k.left, k.right, k.infinite, values, all(inside)))
    return out


def _excuse_infinite_kinks(
    found: Sequence[NonFinite],
    results: Mapping[str, BackendResult],
    refs: dict[tuple[str, str], NumericalReference],
    quantities: Sequence[Quantity],
) -> tuple[NonFinite, ...]:
    """An infinite value where the reference found an infinite derivative is right."""
    kept = []
    for nf in found:
        ref = next((r for (b, q), r in refs.items() if q == nf.quantity), None)
        infinite = [k for k in ref.derivative.kinks if k.infinite] if ref else []
        if not infinite or ref is None or nf.backend == ref.backend:
            kept.append(nf)
            continue
        array = results[nf.backend].arrays[nf.quantity]
        bad = ~np.isfinite(array.reshape(ref.derivative.value.shape))
        for k in infinite:
            if np.isinf(array.reshape(bad.shape)[k.i, k.j]):
                bad[k.i, k.j] = False
        if bad.any():
            first = np.unravel_index(int(np.argmax(bad.reshape(-1))), array.shape)
            kept.append(
                NonFinite(nf.backend, nf.quantity, int(bad.sum()), tuple(int(i) for i in first))
            )
    # fd's own NaN at an infinite derivative (one side undefined) is not a failure either
    return tuple(
        nf
        for nf in kept
        if not (
            (nf.backend, nf.quantity) in refs
            and any(k.infinite for k in refs[(nf.backend, nf.quantity)].derivative.kinks)
        )
    )


def _reference_info(r: NumericalReference) -> ReferenceInfo:
    d = r.derivative
    return ReferenceInfo(r.backend, r.quantity, d.method, dict(d.methods_used), d.error.max())
