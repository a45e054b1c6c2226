"""gradcli check: the user's derivative (a Jacobian, a VJP, an elementwise derivative or
a torch.autograd.Function's backward) against autograd of the user's forward and
central differences of it, at several random inputs.

Backends: "yours" (the derivative under test), "torch" (autograd; only if the forward
works on tensors), "fd" (central differences in float64). Above a size, each trial is
checked along random directions (vᵀJu) instead of in full, as gradcheck's fast_mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli import compare
from gradcli.backends import finite_diff
from gradcli.errors import InputError
from gradcli.problems import check_target as target
from gradcli.report import Array, BackendResult, Comparison, Report, Tolerance
from gradcli.spec import CheckSpec

MAX_FULL_FD_CALLS = 4_000  # full fd calls the forward twice per input element
MAX_FULL_JACOBIAN = 250_000  # elements of a full Jacobian; beyond, directional checks
DIRECTIONS = 8
WORST_SHOWN = 5
QUANTITY = {"jacobian": "jacobian", "vjp": "vjp", "grad": "grad", "function": "vjp"}


def run(spec: CheckSpec) -> Report:
    options = spec.options
    references = [b for b in ("torch", "fd") if b in options.backends]
    if not references:
        raise InputError("check needs torch or fd (or both) in --backend to compare against")
    use_torch = "torch" in references and _torch_capable(spec)
    backends = ["yours", *(["torch"] if use_torch else []), *(["fd"] if "fd" in references else [])]
    if backends == ["yours"]:
        raise InputError("the forward does not take torch tensors: add fd to --backend")
    arrays: dict[str, dict[str, Array]] = {b: {} for b in backends}
    notes, directional = [], False
    cotangents: list[Array] = []  # g of each trial in vjp modes (reproducing a failure)
    for trial, x in enumerate(spec.inputs, start=spec.first_trial):
        x = x.astype(options.dtype)
        y = _forward(spec, x)
        full = spec.full or (
            x.size * max(y.size, 1) <= MAX_FULL_JACOBIAN and 2 * x.size <= MAX_FULL_FD_CALLS
        )
        directional = directional or not full
        for backend in backends:
            rng = np.random.default_rng([spec.seed, 0x636865636B, trial])  # same draws per backend
            for name, value in _quantities(spec, backend, x, y, full, rng).items():
                arrays[backend][f"trial{trial}.{name}"] = value
        if spec.mode in ("vjp", "function") and full:
            cotangents.append(
                np.random.default_rng([spec.seed, 0x636865636B, trial]).standard_normal(y.shape)
            )
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
    methods = {
        "yours": f"your {spec.mode}",
        "torch": "autograd of your forward",
        "fd": "central differences of your forward",
    }
    precisions = {"yours": options.dtype, "torch": options.dtype, "fd": "fd"}
    results = {b: BackendResult(b, methods[b], precisions[b], arrays[b]) for b in backends}
    scales = {
        q: max(max(float(np.abs(r.arrays[q]).max()) for r in results.values()), 1e-300)
        for q in arrays["yours"]
    }
    n_terms = max(x.size for x in spec.inputs)
    comparisons = compare.compare_results(results, scales, n_terms, options.rtol, options.atol)
    non_finite = compare.find_non_finite(results)
    verdict = compare.verdict(backends, comparisons, (), non_finite)
    patterns = _patterns(results, comparisons)
    if patterns and not verdict.ok:
        verdict = type(verdict)(verdict.ok, verdict.summary, (*verdict.details, *patterns))
    return Report(
        command="check",
        title=f"check {spec.names['derivative']} ({spec.mode}) of {spec.names['target']}: "
        f"{_trials(spec)}, x of shape {spec.inputs[0].shape}, {options.dtype}",
        inputs={
            "target": spec.names["target"],
            "derivative": spec.names["derivative"],
            "mode": spec.mode,
            "x": list(spec.inputs),
            "seed": spec.seed,
            "dtype": options.dtype,
        },
        results=results,
        comparisons=comparisons,
        laws=(),
        non_finite=non_finite,
        verdict=verdict,
        notes=tuple(notes),
        sections=tuple(_worst_entries(results, comparisons)),
        extra={"cotangents": cotangents} if cotangents else {},
    )


def _trials(spec: CheckSpec) -> str:
    if spec.first_trial:
        return f"trial {spec.first_trial}"
    return "1 trial" if len(spec.inputs) == 1 else f"{len(spec.inputs)} trials"


def _torch_capable(spec: CheckSpec) -> bool:
    if spec.mode == "function":
        return True
    from gradcli.backends import autograd

    return autograd.accepts_tensors(spec.forward, spec.inputs[0].astype(spec.options.dtype))


def _forward(spec: CheckSpec, x: Array) -> Array:
    if spec.mode == "function":
        from gradcli.backends import autograd

        return target.as_array(
            target.call(
                autograd.function_forward,
                (spec.derivative, x),
                "the Function's forward",
                debug=spec.debug,
            ),
            "the Function's forward",
        )
    return target.as_array(
        target.call(spec.forward, (x,), "the forward", debug=spec.debug), "the forward"
    )


def _quantities(
    spec: CheckSpec, backend: str, x: Array, y: Array, full: bool, rng: Any
) -> dict[str, Array]:
    """This backend's quantity for one trial: the derivative in full, or vᵀJu."""
    g = rng.standard_normal(y.shape)  # the cotangent of vjp and function modes
    if not full:
        u, v = (
            rng.standard_normal((DIRECTIONS, *x.shape)),
            rng.standard_normal((DIRECTIONS, *y.shape)),
        )
        return {
            "vᵀJu": np.array(
                [_directional(spec, backend, x, y, uk, vk) for uk, vk in zip(u, v, strict=True)]
            )
        }
    mode = spec.mode
    if mode == "jacobian":
        return {"jacobian": _jacobian(spec, backend, x, y)}
    if mode == "grad":
        return {"grad": _elementwise(spec, backend, x, y)}
    return {"vjp": _vjp(spec, backend, x, y, g)}


def _jacobian(spec: CheckSpec, backend: str, x: Array, y: Array) -> Array:
    shape = (y.size, x.size)
    if backend == "yours":
        value = target.call(spec.derivative, (x,), "your jacobian", debug=spec.debug)
        return target.as_array(value, "your jacobian", shape)
    if backend == "torch":
        from gradcli.backends import autograd

        return autograd.user_jacobian(spec.forward, x)
    return _fd_jacobian(spec, x, y)


def _vjp(spec: CheckSpec, backend: str, x: Array, y: Array, g: Array) -> Array:
    from gradcli.backends import autograd

    if spec.mode == "function":
        if backend == "fd":
            return _fd_vjp(spec, x, g)
        return autograd.function_vjp(spec.derivative, x, g, own_backward=backend == "yours")
    if backend == "yours":
        value = target.call(spec.derivative, (x, g.astype(x.dtype)), "your vjp", debug=spec.debug)
        return target.as_array(value, "your vjp", x.shape)
    if backend == "torch":
        return autograd.user_vjp(spec.forward, x, g)
    return _fd_vjp(spec, x, g)


def _elementwise(spec: CheckSpec, backend: str, x: Array, y: Array) -> Array:
    if y.shape != x.shape:
        raise InputError(
            f"--grad is for elementwise functions, but the forward maps {x.shape} to {y.shape}"
        )
    if backend == "yours":
        return target.as_array(
            target.call(spec.derivative, (x,), "your grad", debug=spec.debug), "your grad", x.shape
        )
    if backend == "torch":
        from gradcli.backends import autograd

        return autograd.user_vjp(spec.forward, x, np.ones_like(x))
    x64 = x.astype(np.float64)
    step = finite_diff.cube_root_step(x64)
    upper, lower = x64 + step, x64 - step
    with np.errstate(all="ignore"):
        return (_f64(spec, upper) - _f64(spec, lower)) / (upper - lower)


def _directional(spec: CheckSpec, backend: str, x: Array, y: Array, u: Array, v: Array) -> float:
    """vᵀJu: yours and torch from their Jᵀv, fd from the derivative of f along u."""
    if backend == "fd":
        x64 = x.astype(np.float64)
        h = (
            float(np.cbrt(np.finfo(np.float64).eps))
            * max(1.0, float(np.abs(x64).max()))
            / float(np.abs(u).max())
        )
        with np.errstate(all="ignore"):
            return float(np.sum(v * (_f64(spec, x64 + h * u) - _f64(spec, x64 - h * u))) / (2 * h))
    if spec.mode == "jacobian":
        return float(v.reshape(-1) @ _jacobian(spec, backend, x, y) @ u.reshape(-1))
    if spec.mode == "grad":
        return float(np.sum(v * _elementwise(spec, backend, x, y) * u))
    return float(np.sum(_vjp(spec, backend, x, y, v) * u))


def _f64(spec: CheckSpec, x: Array) -> Array:
    if spec.mode == "function":
        from gradcli.backends import autograd

        return autograd.function_forward(spec.derivative, x)
    return target.as_array(
        target.call(spec.forward, (x,), "the forward", debug=spec.debug), "the forward"
    )


def _fd_jacobian(spec: CheckSpec, x: Array, y: Array) -> Array:
    def rows(batch: Array) -> Array:
        return np.stack([_f64(spec, row.reshape(x.shape)).reshape(-1) for row in batch])

    x64 = x.astype(np.float64).reshape(-1)
    return finite_diff.central_jacobian(rows, x64, finite_diff.cube_root_step(x64))


def _fd_vjp(spec: CheckSpec, x: Array, g: Array) -> Array:
    def rows(batch: Array) -> Array:
        return np.array([[np.sum(g * _f64(spec, row.reshape(x.shape)))] for row in batch])

    x64 = x.astype(np.float64).reshape(-1)
    gradient: Array = finite_diff.central_jacobian(rows, x64, finite_diff.cube_root_step(x64))[0]
    return gradient.reshape(x.shape)


def _failed_pairs(comparisons: tuple[Comparison, ...]) -> list[Comparison]:
    return [c for c in comparisons if c.backends[0] == "yours" and not c.ok]


def _patterns(results: dict[str, BackendResult], comparisons: tuple[Comparison, ...]) -> list[str]:
    """Name the shape of a wrong derivative, when it has one."""
    found: list[str] = []
    for c in _failed_pairs(comparisons):
        yours = results["yours"].arrays[c.quantity].astype(np.float64)
        ref = results[c.backends[1]].arrays[c.quantity].astype(np.float64)
        tol = c.tolerance

        def close(a: Array, b: Array, tol: Tolerance = tol) -> bool:
            return bool(np.all(np.abs(a - b) <= tol.atol + tol.rtol * np.abs(b)))

        big = np.abs(ref) > 10 * tol.atol
        if close(yours, -ref):
            found.append(f"{c.quantity}: yours has the wrong sign")
        elif yours.ndim == 2 and yours.shape[0] == yours.shape[1] and close(yours, ref.T):
            found.append(f"{c.quantity}: yours is the transpose of the Jacobian")
        elif (
            yours.ndim == 2
            and yours.shape[0] == yours.shape[1]
            and close(np.diag(yours), np.diag(ref))
        ):
            found.append(f"{c.quantity}: diagonal right, off-diagonal entries wrong")
        elif big.any():
            ratio = yours[big] / ref[big]
            if np.ptp(ratio) <= 1e-6 * abs(float(ratio.mean())):
                found.append(f"{c.quantity}: wrong by a constant factor {float(ratio.mean()):.6g}")
    return list(dict.fromkeys(found))


def _worst_entries(
    results: dict[str, BackendResult], comparisons: tuple[Comparison, ...]
) -> list[tuple[str, tuple[str, ...]]]:
    sections = []
    chosen: dict[str, Comparison] = {}
    for c in _failed_pairs(comparisons):  # one table per quantity, against fd if it ran
        if c.quantity not in chosen or c.backends[1] == "fd":
            chosen[c.quantity] = c
    for c in chosen.values():
        yours = results["yours"].arrays[c.quantity].astype(np.float64)
        ref = results[c.backends[1]].arrays[c.quantity].astype(np.float64)
        with np.errstate(all="ignore"):
            gap = np.nan_to_num(np.abs(yours - ref), nan=np.inf)
        order = np.argsort(gap, axis=None)[::-1][:WORST_SHOWN]
        lines = []
        for flat in order:
            index = tuple(int(i) for i in np.unravel_index(flat, gap.shape))
            lines.append(
                f"{list(index)}: yours {yours[index]:.8g}, {c.backends[1]} {ref[index]:.8g}, "
                f"difference {yours[index] - ref[index]:.3g}"
            )
        sections.append((f"Worst entries of {c.quantity}, yours vs {c.backends[1]}", tuple(lines)))
    return sections
