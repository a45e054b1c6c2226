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
from dataclasses import replace

import numpy as np

from gradcli import compare, comparing, verdicts
from gradcli.comparing import REFINE_BUDGET, ROUNDING_FACTOR
from gradcli.declaration import (
    Declaration,
    Describe,
    NumericalReference,
    Quantity,
    Rule,
    Sections,
)
from gradcli.findings import (
    Excused,
    Failure,
    Finding,
    KinkOutside,
    LawBroken,
    NotFinite,
    Status,
    Verdict,
)
from gradcli.keys import Entry, Key
from gradcli.report import (
    BackendResult,
    KinkInfo,
    LawCheck,
    NonFinite,
    ReferenceInfo,
    Report,
)
from gradcli.spec import RunOptions

__all__ = [
    "REFINE_BUDGET",
    "ROUNDING_FACTOR",
    "Declaration",
    "Describe",
    "NumericalReference",
    "Quantity",
    "Rule",
    "Sections",
    "judge",
    "said",
]


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
        for c in comparing.compare_all(results, quantities, refs, options, refine=True)
    )
    kinks = _kinks(results, refs, quantities)
    law_checks = tuple(laws(results) if callable(laws) else laws)
    skip = set(excluded_non_finite)
    names = {q.name for q in quantities}
    infinite = {r.quantity for r in references_ if any(k.infinite for k in r.derivative.kinks)}
    # all listed (JSON writes them as null); what the comparisons saw finite is not read
    non_finite = compare.find_non_finite(results, compare.compared_finite(comparisons, infinite))
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
