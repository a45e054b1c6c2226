"""gradcli check: the user's derivative (a Jacobian, a VJP, an elementwise derivative, a
torch.autograd.Function's backward, or a module's backward) against autograd of the
user's forward and a numerical reference that knows its own error, at several random
inputs, for every input by name.

Backends: "yours" (the derivative under test, in the user's dtype), "torch" (autograd
of the forward's plain operations in float64; only if the forward works on tensors),
"fd" (central differences in float64 with error estimates, refined by the core where a
comparison is inconclusive). Above a size, each trial is checked along random
directions (vᵀJu) instead of in full, as gradcheck's fast_mode. One judge
(gradcli.core.judge) compares and decides.

The user's code is untrusted (check_guard): its prints go to stderr for the whole run.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping

import numpy as np

from gradcli import core, limits
from gradcli.commands.check import guard as check_guard
from gradcli.commands.check import noise as check_noise
from gradcli.commands.check import patterns as check_explain
from gradcli.commands.check import quantities as check_quantities
from gradcli.commands.check import report as check_report
from gradcli.commands.check import surrogate as check_surrogate
from gradcli.commands.check import ties as check_ties
from gradcli.commands.check.backends import Trial
from gradcli.commands.check.evaluator import Evaluator
from gradcli.commands.check.explain import entry_index, explain_check
from gradcli.commands.check.opened import Opened
from gradcli.commands.check.surrogate import described
from gradcli.errors import InputError
from gradcli.keys import Key
from gradcli.names import Backend
from gradcli.render import shown
from gradcli.report import Array, BackendResult, LawCheck, Report, backend_name, precision
from gradcli.spec import CheckSpec

MAX_FULL_FD_CALLS = 4_000  # full fd calls the forward twice per input element
MAX_FULL_JACOBIAN = 250_000  # elements of a full Jacobian; beyond, directional checks
DIRECTIONS = check_quantities.DIRECTIONS
REFERENCES: tuple[Backend, ...] = ("torch", "fd")
LOW_PRECISION = check_report.LOW_PRECISION
# The allowed error of each element is NOISE_ULPS·ε of the dtype under test, relative
# and of the quantity's scale, plus twice the reference's own error estimate. The scale
# is at least the measured rounding of the computation in units of ε (autograd of the
# same forward in float32 and in the dtype, against float64): so NOISE_ULPS times that
# measured noise (check_report.NOISE_ULPS says why 8, or 2 in float16 and bfloat16).
NOISE_ULPS = check_report.NOISE_ULPS


def run(spec: CheckSpec) -> Report:
    """The check in this process, the user's code called directly (the Python API with
    callables): what it does to this process is not fenced off (see gradcli.check)."""
    from gradcli.commands.check.opened import open_local

    references_of(spec)
    with check_guard.user_stdout():  # the user's prints are not gradcli's output
        return judge(spec, open_local(spec))


def references_of(spec: CheckSpec) -> list[Backend]:
    references = [b for b in REFERENCES if b in spec.options.backends]
    if not references:
        raise InputError("check needs torch or fd (or both) in --backend to compare against")
    return references


def judge(spec: CheckSpec, opened: Opened) -> Report:
    """The check from what the user's code answers (in this process or in a worker):
    every fd difference, comparison and the verdict are made here."""
    options = spec.options
    references = references_of(spec)
    subject, named_trials, library = opened.subject, opened.trials, opened.library
    use_torch = "torch" in references and subject.facts.autograd
    backends = ["yours", *(["torch"] if use_torch else []), *(["fd"] if "fd" in references else [])]
    if backends == ["yours"]:
        if subject.facts.kind == "function":
            raise InputError(
                "the Function's forward leaves torch (numpy inside), so autograd cannot "
                "differentiate it: add fd to --backend"
            )
        raise InputError("the forward does not take torch tensors: add fd to --backend")
    if library is not None:
        backends.insert(backends.index("fd") if "fd" in backends else len(backends), "against")
    trials = []
    for t, values in enumerate(named_trials):
        subject.begin(t + spec.first_trial, values)
        trials.append(_trial(subject, values, options.dtype, spec.seed + t))
    arrays: dict[str, dict[str, Array]] = {b: {} for b in backends}
    views: dict[str, tuple[int, int]] = {}
    numerical: list[core.NumericalReference] = []
    magnitudes: dict[str, Array] = {}
    keys: dict[str, Key] = {}
    directional = False
    cotangents: list[Array] = []  # g of each trial in vjp modes, to reproduce a failure
    identity: dict[str, Callable[[], Array]] = {}  # what an identity backward gives
    for t, trial in enumerate(trials, start=spec.first_trial):  # --trial K keeps K's draws
        for who in (subject, library):
            if who is not None:
                who.begin(t, trial.values)
        if spec.mode == "grad":
            _check_elementwise(trial)
        full = spec.full or _small(trial)
        _check_memory(spec, trial, len(backends), full)
        directional = directional or not full
        if library is not None:
            _same_outputs(library, trial)
        drawn = check_quantities.draws(spec.seed, subject, trial, t)
        if spec.mode not in ("jacobian", "grad") and full and len(drawn.cotangents) == 1:
            cotangents.append(drawn.cotangents[0])
        for backend in backends:
            who, side = (library, "torch") if backend == "against" else (subject, backend)
            assert who is not None
            done = check_quantities.compute(spec, who, side, trial, t, full, drawn)
            arrays[backend].update(done.arrays)
            views.update(done.views)
            numerical.extend(done.references)
            magnitudes.update(done.magnitudes)
            keys.update(done.keys)
        if spec.surrogate == "identity" and not full:
            raise InputError("--surrogate identity needs the full check: add --full")
        if full:  # what an identity backward gives: the patterns name it, --surrogate checks it
            mine = [
                q for q in arrays["yours"] if keys[q].trial == t and keys[q].quantity != "forward"
            ]
            identity.update(
                check_surrogate.identities(
                    spec.mode, trial.values, trial.outputs, drawn.cotangents, mine
                )
            )
        if library is not None:
            for side, who in (("yours", subject), ("against", library)):
                dtype = trial.dtype if side == "yours" else "float64"
                for o, y in enumerate(who.forward([trial.values], dtype)[0]):
                    k = Key("forward", t, o if len(trial.outputs) > 1 else None)
                    keys[k.id] = k
                    arrays[side][k.id] = y
                    views[k.id] = (1, y.size)
    notes = check_report.notes(spec, subject, references, use_torch, directional, trials)
    methods = {
        "yours": f"your {spec.mode if spec.mode != 'module' else 'module backward'}",
        "torch": "autograd of your forward's operations (float64)",
        "fd": "central differences of your forward, with error estimates",
        "against": f"the forward and autograd of {spec.names.get('against')} (float64)",
    }
    precisions = {"yours": options.dtype, "torch": "float64", "fd": "fd", "against": "float64"}
    results = {
        b: BackendResult(backend_name(b), methods[b], precision(precisions[b]), arrays[b])
        for b in backends
    }
    low = options.dtype in LOW_PRECISION
    if low:
        notes.append(check_report.low_precision_note(options))
    n_terms = 1 if low else max(sum(v.size for v in t.values.values()) for t in trials)
    quantities = [
        core.Quantity(
            q,
            _scale(results, keys[q], trials, views[q], magnitudes.get(q)),
            n_terms,
            views[q],
            key=keys[q],
            ulps=NOISE_ULPS[options.dtype],
        )
        for q in arrays["yours"]
    ]
    laws, sections = check_report.taylor(spec, subject, trials)
    rules: list[core.Rule] = [check_report.TaylorDecides()] if laws else []
    declared = check_surrogate.SurrogateDeclared()
    if spec.surrogate is not None:
        rules.append(declared)
        notes.append(f"declared surrogate: yours is meant to be {described(spec.surrogate)}")

    def every_law(done: Mapping[str, BackendResult]) -> tuple[LawCheck, ...]:
        # after the core's refinement, which found the kinks
        if spec.surrogate is not None:
            declared.made[:] = check_surrogate.laws(
                spec.surrogate, done, quantities, numerical, identity, options
            )
        return (*laws, *check_ties.tied_laws(numerical, done), *declared.made)

    report = core.judge(
        core.Declaration(
            command="check",
            title=check_report.title(spec, subject, trials),
            inputs=check_report.inputs(spec, subject, trials),
            notes=tuple(notes),
            sections=tuple(sections),
            extra={"cotangents": cotangents} if cotangents else {},
            keys=tuple(keys.values()),
            rules=tuple(rules),
            describe=functools.partial(check_explain.describe, identity=identity),
            shown=shown.ADAPTER,
        ),
        results,
        quantities,
        options=options,
        references_=numerical,
        laws=every_law,
    )
    if spec.explain is not None:  # not part of the verdict: added to the judged Report
        explanation = explain_check(
            report, spec.explain, _one_sided(report, spec.explain, numerical)
        )
        report = dataclasses.replace(report, explanation=explanation)
    return report


def _one_sided(
    report: Report, text: str, numerical: list[core.NumericalReference]
) -> dict[str, tuple[float, float]]:
    """The entry's one-sided slopes (left, right) in each trial, from fd's own
    differentiator (full mode: a directional reference has directions, not entries)."""
    slopes = {}
    index = entry_index(report, text)
    for reference in numerical:
        d = reference.differentiator
        rows, columns = reference.derivative.value.shape
        array = report.results["yours"].arrays.get(reference.quantity)
        if d is None or array is None or array.size != rows * columns:
            continue
        if len(index) != array.ndim or not all(
            0 <= k < n for k, n in zip(index, array.shape, strict=True)
        ):
            continue  # explain_check says what is wrong with the entry
        i, j = divmod(int(np.ravel_multi_index(index, array.shape)), columns)
        left, right = d.one_sided(j)
        slopes[reference.quantity] = (float(left[i]), float(right[i]))
    return slopes


def _same_outputs(library: Evaluator, trial: Trial) -> None:
    """The --against function computes what the forward does: as many outputs, of the
    same shapes (torch.sum against an elementwise forward is refused, not compared)."""
    theirs = [y.shape for y in library.forward([trial.values])[0]]
    yours = [y.shape for y in trial.outputs]
    if theirs != yours:
        raise InputError(
            f"{library.facts.label} returns {_shapes(theirs) or 'nothing'} where the forward "
            f"returns {_shapes(yours)}: it must compute the same function"
        )


def _trial(subject: Evaluator, values: dict[str, Array], dtype: str, seed: int) -> Trial:
    """The inputs rounded to the user's dtype (so that every side sees the same values),
    and the forward's float64 outputs there."""
    rounded = {k: _round(v, dtype) for k, v in values.items()}
    outputs, again = subject.forward([rounded, rounded])  # two calls, one request
    check_guard.repeatable(subject.facts.label, outputs, again, dtype)
    sizes, step_factor, terms = check_noise.magnitudes(subject, rounded, outputs, seed)
    return Trial(rounded, outputs, dtype, sizes, step_factor, terms)


def _round(x: Array, dtype: str) -> Array:
    if dtype == "bfloat16":
        import torch

        rounded: Array = torch.from_numpy(np.array(x)).to(torch.bfloat16).double().numpy()
        return rounded
    return np.asarray(x).astype(dtype).astype(np.float64)


def _small(trial: Trial) -> bool:
    n_in = sum(v.size for v in trial.values.values())
    n_out = sum(y.size for y in trial.outputs)
    return n_in * max(n_out, 1) <= MAX_FULL_JACOBIAN and 2 * n_in <= MAX_FULL_FD_CALLS


def _check_memory(spec: CheckSpec, trial: Trial, n_backends: int, full: bool) -> None:
    """The check's peak (limits.check_peak, checked against measured runs)."""
    n_in = sum(v.size for v in trial.values.values())
    n_out = sum(y.size for y in trial.outputs)
    estimate = limits.check_peak(n_in, n_out, n_backends, full and spec.mode == "jacobian")
    if full:
        what, advice = "the full check", "leave out --full (directional checks need less memory)"
    else:
        what, advice = "the check", "use smaller inputs"
    limits.check_memory(estimate, what, advice)


def _check_elementwise(trial: Trial) -> None:
    shapes = [v.shape for v in trial.values.values()]
    outputs = [y.shape for y in trial.outputs]
    if len(shapes) != 1 or outputs != shapes:
        raise InputError(
            "--grad is for elementwise functions (one input, one output of its shape), but "
            f"the forward maps {_shapes(shapes)} to {_shapes(outputs)}: use --vjp or --jacobian"
        )


def _shapes(shapes: list[tuple[int, ...]]) -> str:
    return ", ".join(str(s) for s in shapes)


def _scale(
    results: dict[str, BackendResult],
    key: Key,
    trials: list[Trial],
    view: tuple[int, int],
    measured: Array | None,
) -> float | Array:
    """The quantity's scale, from the references (never the side under test): their
    largest finite magnitude, at least max|f| over the inputs' scale (the size of a
    derivative of f at this x; |f| as large as the terms f sums), and at least the
    rounding torch's float32 run measures (`measured`). A Jacobian's is per row (m, 1):
    a saturated output's row is judged on its own size, not on the largest row's."""
    rows = key.quantity == "jacobian" and view[0] > 1
    m = view[0] if rows else 1
    scale = np.zeros((m, 1))
    for backend, result in results.items():
        if backend == "yours" or key.id not in result.arrays:
            continue
        values = np.abs(result.arrays[key.id]).reshape(m, -1)
        finite = np.where(np.isfinite(values), values, 0.0)
        scale = np.maximum(scale, finite.max(axis=1, keepdims=True))
    number = key.trial or 0
    trial = trials[number if len(trials) > number else -1]  # --trial K: trials == [trial K]
    sizes = trial.terms or tuple(np.abs(y) for y in trial.outputs)
    output = key.output or 0
    with np.errstate(all="ignore"):
        reach = max(1.0, *(float(np.abs(x).max()) for x in trial.values.values()))
        if rows:
            natural = sizes[output].reshape(m, 1) / reach
        else:
            natural = np.full((1, 1), max(float(np.max(s, initial=0.0)) for s in sizes) / reach)
    scale = np.maximum(scale, np.nan_to_num(natural, nan=0.0, posinf=0.0))
    if measured is not None:
        scale = np.maximum(scale, np.asarray(measured).reshape(-1, 1) if rows else measured)
    scale = np.maximum(scale, 1e-300)
    return scale if rows else float(scale.max())
