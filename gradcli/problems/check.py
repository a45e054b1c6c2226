"""gradcli check: the user's derivative (a Jacobian, a VJP, an elementwise derivative, a
torch.autograd.Function's backward, or a module's backward) against autograd of the
user's forward and central differences of it, at several random inputs, for every
input by name.

Backends: "yours" (the derivative under test, in the user's dtype), "torch" (autograd
of the forward's plain operations in float64; only if the forward works on tensors),
"fd" (central differences in float64). Above a size, each trial is checked along random
directions (vᵀJu) instead of in full, as gradcheck's fast_mode.

The user's code is untrusted (check_guard): its prints go to stderr for the whole run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli import compare, limits
from gradcli.errors import InputError
from gradcli.problems import check_backends as sides
from gradcli.problems import check_explain, check_guard
from gradcli.problems.check_backends import Trial
from gradcli.problems.check_plan import plan
from gradcli.problems.check_subject import Subject
from gradcli.report import Array, BackendResult, LawCheck, Report
from gradcli.spec import CheckSpec

MAX_FULL_FD_CALLS = 4_000  # full fd calls the forward twice per input element
MAX_FULL_JACOBIAN = 250_000  # elements of a full Jacobian; beyond, directional checks
DIRECTIONS = 8
REFERENCES = ("torch", "fd")


def run(spec: CheckSpec) -> Report:
    with check_guard.user_stdout():  # the user's prints are not gradcli's output
        return _run(spec)


def _run(spec: CheckSpec) -> Report:
    options = spec.options
    references = [b for b in REFERENCES if b in options.backends]
    if not references:
        raise InputError("check needs torch or fd (or both) in --backend to compare against")
    subject, named_trials = plan(spec)
    use_torch = "torch" in references and subject.autograd
    backends = ["yours", *(["torch"] if use_torch else []), *(["fd"] if "fd" in references else [])]
    if backends == ["yours"]:
        raise InputError("the forward does not take torch tensors: add fd to --backend")
    trials = [_trial(subject, values, options.dtype) for values in named_trials]
    arrays: dict[str, dict[str, Array]] = {b: {} for b in backends}
    directional = False
    cotangents: list[Array] = []  # g of each trial in vjp modes, to reproduce a failure
    for t, trial in enumerate(trials, start=spec.first_trial):
        full = spec.full or _small(trial)
        if full:
            _check_memory(spec, trial, len(backends))
        directional = directional or not full
        for backend in backends:
            rng = np.random.default_rng([spec.seed, 0x636865636B, t])  # same draws per backend
            for key, value in _quantities(spec, subject, backend, trial, full, rng).items():
                arrays[backend][f"trial{t}.{key}"] = value
        if spec.mode not in ("jacobian", "grad") and full and len(trial.outputs) == 1:
            rng = np.random.default_rng([spec.seed, 0x636865636B, t])  # as _quantities draws
            cotangents.append(np.asarray(rng.standard_normal(trial.outputs[0].shape)))
    notes = _notes(spec, subject, references, use_torch, directional)
    methods = {
        "yours": f"your {spec.mode if spec.mode != 'module' else 'module backward'}",
        "torch": "autograd of your forward's operations (float64)",
        "fd": "central differences of your forward",
    }
    precisions = {"yours": options.dtype, "torch": "float64", "fd": "fd"}
    results = {b: BackendResult(b, methods[b], precisions[b], arrays[b]) for b in backends}
    scales = {q: _reference_scale(results, q) for q in arrays["yours"]}
    n_terms = max(sum(v.size for v in trial.values.values()) for trial in trials)
    comparisons = compare.compare_results(results, scales, n_terms, options.rtol, options.atol)
    non_finite = compare.find_non_finite(results)
    laws, sections = _taylor(spec, subject, trials)
    verdict = compare.verdict(backends, comparisons, laws, non_finite)
    patterns = check_explain.patterns(results, comparisons)
    if patterns and not verdict.ok:
        verdict = type(verdict)(verdict.ok, verdict.summary, (*verdict.details, *patterns))
    if laws and all(law.ok for law in laws) and not non_finite:
        failing = [c for c in comparisons if not c.ok]
        if failing and all("fd" in c.backends for c in failing):
            notes.append(
                "fd differs, but only fd, and the Taylor remainder falls as h² in every "
                f"trial: the Taylor test decides ({verdict.details[0]})"
            )
            verdict = type(verdict)(True, "OK: the Taylor test passes in every trial", ())
    return Report(
        command="check",
        title=_title(spec, subject, trials),
        inputs=_inputs(spec, subject, trials),
        results=results,
        comparisons=comparisons,
        laws=laws,
        non_finite=non_finite,
        verdict=verdict,
        notes=tuple(notes),
        sections=(*check_explain.worst_entries(results, comparisons), *sections),
        extra={"cotangents": cotangents} if cotangents else {},
    )


def _taylor(
    spec: CheckSpec, subject: Subject, trials: list[Trial]
) -> tuple[tuple[LawCheck, ...], list[tuple[str, tuple[str, ...]]]]:
    if not spec.taylor:
        return (), []
    from gradcli.problems.check_taylor import taylor_test

    laws: list[LawCheck] = []
    lines: list[str] = []
    for t, trial in enumerate(trials, start=spec.first_trial):
        law, shown = taylor_test(spec, subject, trial, t)
        laws.append(law)
        lines.extend(shown if not law.ok or t == 0 else shown[:1])
    return tuple(laws), [("Taylor test: the remainder's rate as h halves", tuple(lines))]


def _trial(subject: Subject, values: dict[str, Array], dtype: str) -> Trial:
    """The inputs rounded to the user's dtype (so that every side sees the same values),
    and the forward's float64 outputs there."""
    rounded = {k: _round(v, dtype) for k, v in values.items()}
    return Trial(rounded, subject.evaluate(rounded), dtype)


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


def _check_memory(spec: CheckSpec, trial: Trial, n_backends: int) -> None:
    """A full Jacobian is (outputs × inputs) per backend, and the torch reference holds
    its rows twice while building it; a VJP holds arrays the size of the inputs."""
    n_in = sum(v.size for v in trial.values.values())
    n_out = sum(y.size for y in trial.outputs)
    per_element = 8 * (n_backends + 2) if spec.mode == "jacobian" else 0
    estimate = per_element * n_in * n_out + 8 * 16 * (n_in + n_out)
    limits.check_memory(
        estimate, "the full check", "leave out --full (directional checks need little memory)"
    )


def _key(quantity: str, subject: Subject, name: str, output: int | None = None) -> str:
    key = quantity if output is None else f"{quantity}.out{output}"
    return key if len(subject.names) == 1 else f"{key}.{name}"


def _quantities(
    spec: CheckSpec, subject: Subject, backend: str, trial: Trial, full: bool, rng: Any
) -> dict[str, Array]:
    """This backend's quantities for one trial: the derivative in full, or vᵀJu."""
    cotangents = tuple(rng.standard_normal(y.shape) for y in trial.outputs)
    if spec.mode == "grad":
        _check_elementwise(subject, trial)
    if not full:
        return _directional(spec, subject, backend, trial, rng)
    if spec.mode == "jacobian":
        blocks = _jacobian(spec, subject, backend, trial)
        several = len(trial.outputs) > 1
        return {
            _key("jacobian", subject, n, o if several else None): b for (o, n), b in blocks.items()
        }
    if spec.mode == "grad":
        return {"grad": _grad(spec, subject, backend, trial)}
    vjp = _vjp(spec, subject, backend, trial, cotangents)
    return {_key("vjp", subject, n): g for n, g in vjp.items()}


def _check_elementwise(subject: Subject, trial: Trial) -> None:
    shapes = [v.shape for v in trial.values.values()]
    outputs = [y.shape for y in trial.outputs]
    if len(shapes) != 1 or outputs != shapes:
        raise InputError(
            "--grad is for elementwise functions (one input, one output of its shape), but "
            f"the forward maps {_shapes(shapes)} to {_shapes(outputs)}: use --vjp or --jacobian"
        )


def _shapes(shapes: list[tuple[int, ...]]) -> str:
    return ", ".join(str(s) for s in shapes)


def _jacobian(
    spec: CheckSpec, subject: Subject, backend: str, trial: Trial
) -> dict[tuple[int, str], Array]:
    if backend == "yours":
        return sides.yours_jacobian(subject, spec, trial)
    if backend == "torch":
        return sides.torch_jacobian(subject, trial)
    return sides.fd_jacobian(subject, trial)


def _grad(spec: CheckSpec, subject: Subject, backend: str, trial: Trial) -> Array:
    if backend == "yours":
        return sides.yours_grad(subject, spec, trial)
    if backend == "torch":
        (y,) = trial.outputs
        (g,) = sides.torch_vjp(subject, trial, (np.ones_like(y),)).values()
        return g
    return sides.fd_grad(subject, trial)


def _vjp(
    spec: CheckSpec, subject: Subject, backend: str, trial: Trial, cotangents: tuple[Array, ...]
) -> dict[str, Array]:
    if backend == "yours":
        return sides.yours_vjp(subject, spec, trial, cotangents)
    if backend == "torch":
        return sides.torch_vjp(subject, trial, cotangents)
    return sides.fd_vjp(subject, trial, cotangents)


def _directional(
    spec: CheckSpec, subject: Subject, backend: str, trial: Trial, rng: Any
) -> dict[str, Array]:
    """vᵀJu for each input along DIRECTIONS random (u, v): yours and torch from their
    Jᵀv (or your Jacobian), fd from the derivative of ⟨v, f⟩ along u."""
    u = {n: rng.standard_normal((DIRECTIONS, *trial.values[n].shape)) for n in subject.names}
    v = [tuple(rng.standard_normal(y.shape) for y in trial.outputs) for _ in range(DIRECTIONS)]
    values: dict[str, list[float]] = {n: [] for n in subject.names}
    if backend == "fd":
        for n in subject.names:
            values[n] = [
                sides.fd_directional(subject, trial, n, u[n][k], v[k]) for k in range(DIRECTIONS)
            ]
    elif spec.mode == "jacobian" and backend == "yours":
        blocks = sides.yours_jacobian(subject, spec, trial)
        for n in subject.names:
            for k in range(DIRECTIONS):
                values[n].append(
                    sum(
                        float(v[k][o].reshape(-1) @ blocks[o, n] @ u[n][k].reshape(-1))
                        for o in range(len(trial.outputs))
                    )
                )
    elif spec.mode == "grad" and backend == "yours":
        (n,) = subject.names
        d = sides.yours_grad(subject, spec, trial)
        values[n] = [float(np.sum(v[k][0] * d * u[n][k])) for k in range(DIRECTIONS)]
    else:
        for k in range(DIRECTIONS):
            if backend == "yours" and spec.mode not in ("jacobian", "grad"):
                grads = sides.yours_vjp(subject, spec, trial, v[k])
            else:
                grads = sides.torch_vjp(subject, trial, v[k])
            for n in subject.names:
                values[n].append(float(np.sum(grads[n] * u[n][k])))
    return {_key("vᵀJu", subject, n): np.array(values[n]) for n in subject.names}


def _reference_scale(results: dict[str, BackendResult], quantity: str) -> float:
    """The largest finite magnitude the references (never the side under test) give."""
    scale = 0.0
    for backend, result in results.items():
        if backend == "yours" or quantity not in result.arrays:
            continue
        values = np.abs(result.arrays[quantity])
        finite = values[np.isfinite(values)]
        if finite.size:
            scale = max(scale, float(finite.max()))
    return max(scale, 1e-300)


def _notes(
    spec: CheckSpec, subject: Subject, references: list[str], use_torch: bool, directional: bool
) -> list[str]:
    notes = []
    if "torch" in references and not use_torch:
        notes.append(
            "the forward does not take torch tensors: the check is your derivative "
            "against finite differences only"
        )
    if directional:
        notes.append(
            f"large input: each trial compared along {DIRECTIONS} random directions "
            "(vᵀJu), not element by element; --full forces the full check"
        )
    if subject.kind == "module" and not subject.functions:
        notes.append("the module has no custom autograd.Function: torch is its own autograd")
    return notes


def _title(spec: CheckSpec, subject: Subject, trials: list[Trial]) -> str:
    values = trials[0].values
    if len(values) == 1:
        what = f"x of shape {next(iter(values.values())).shape}"
    else:
        what = "inputs " + ", ".join(f"{n} {values[n].shape}" for n in subject.names)
    return (
        f"check {spec.names['derivative']} ({spec.mode}) of {spec.names['target']}: "
        f"{_trials(spec, trials)}, {what}, {spec.options.dtype}"
    )


def _trials(spec: CheckSpec, trials: list[Trial]) -> str:
    if spec.first_trial:  # --trial K
        return f"trial {spec.first_trial}"
    return "1 trial" if len(trials) == 1 else f"{len(trials)} trials"


def _inputs(spec: CheckSpec, subject: Subject, trials: list[Trial]) -> dict[str, Any]:
    one = len(subject.names) == 1
    return {
        "target": spec.names["target"],
        "derivative": spec.names["derivative"],
        "mode": spec.mode,
        "x": [next(iter(t.values.values())) if one else dict(t.values) for t in trials],
        "input_names": list(subject.names),
        "args": {k: _jsonable(v) for k, v in subject.args.items()},
        "seed": spec.seed,
        "dtype": spec.options.dtype,
    }


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
