"""Each side's quantities for one trial of `gradcli check`, under the same random draws:
the derivative in full (a VJP per input, Jacobian blocks, or the elementwise
derivative) or, for large inputs, vᵀJu along random directions; fd's as references
that know their own error (check_references)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcli import core
from gradcli.commands.check import noise as check_noise
from gradcli.commands.check import references as fd
from gradcli.commands.check.backends import Trial
from gradcli.commands.check.evaluator import Evaluator
from gradcli.keys import Key

Array = np.ndarray[Any, Any]
DIRECTIONS = 8


@dataclass(frozen=True)
class Draws:
    """The random cotangents and directions of one trial, the same for every side."""

    cotangents: tuple[Array, ...]
    u: dict[str, Array]  # input -> (DIRECTIONS, *shape)
    v: list[tuple[Array, ...]]  # per direction, a cotangent per output


@dataclass
class Computed:
    arrays: dict[str, Array] = field(default_factory=dict)
    views: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (m, n)
    references: list[core.NumericalReference] = field(default_factory=list)
    # key -> the computation's magnitude, measured: torch's float32 result's deviation
    # from its float64 one, in units of float32's ε (the rounding it does, whatever the
    # size of the result: a zero gradient of a sum of large terms, a saturated softmax)
    magnitudes: dict[str, Array] = field(default_factory=dict)  # (m, 1) for a Jacobian
    keys: dict[str, Key] = field(default_factory=dict)  # id -> key

    def name(
        self, trial: int, quantity: str, subject: Evaluator, input_: str, output: int | None = None
    ) -> str:
        """Where the quantity's array is stored (its key's id); the key is kept."""
        k = key(trial, quantity, subject, input_, output)
        self.keys[k.id] = k
        return k.id


def draws(seed: int, subject: Evaluator, trial: Trial, index: int) -> Draws:
    rng = np.random.default_rng([seed, 0x636865636B, index])
    cotangents = tuple(np.asarray(rng.standard_normal(y.shape)) for y in trial.outputs)
    u = {n: rng.standard_normal((DIRECTIONS, *trial.values[n].shape)) for n in subject.facts.names}
    v = [
        tuple(np.asarray(rng.standard_normal(y.shape)) for y in trial.outputs)
        for _ in range(DIRECTIONS)
    ]
    return Draws(cotangents, u, v)


def key(trial: int, quantity: str, subject: Evaluator, name: str, output: int | None = None) -> Key:
    """ "vjp" for one input, "vjp.W" for several; "jacobian.out1.W" for several outputs."""
    symbol = "J" if quantity == "jacobian" else None  # as the view has always printed it
    return Key(quantity, trial, output, None if len(subject.facts.names) == 1 else name, symbol)


def compute(
    spec: Any, subject: Evaluator, backend: str, trial: Trial, index: int, full: bool, drawn: Draws
) -> Computed:
    out = Computed()
    if not full:
        _directional(spec, subject, backend, trial, drawn, index, out)
    elif spec.mode == "jacobian":
        several = len(trial.outputs) > 1
        for o, y in enumerate(trial.outputs):
            for n in subject.facts.names:
                name = out.name(index, "jacobian", subject, n, o if several else None)
                out.views[name] = (y.size, trial.values[n].size)
        if backend == "fd":
            for o, n in [(o, n) for o in range(len(trial.outputs)) for n in subject.facts.names]:
                name = out.name(index, "jacobian", subject, n, o if several else None)
                out.arrays[name], ref = fd.jacobian(subject, trial, o, n, name, f"trial{index}:{n}")
                out.references.append(ref)
        else:
            blocks = (
                subject.yours_jacobian(trial)
                if backend == "yours"
                else subject.torch_jacobian(trial)
            )
            for (o, n), block in blocks.items():
                out.arrays[out.name(index, "jacobian", subject, n, o if several else None)] = block
            if backend == "torch":
                for dtype in _measured_in(trial):
                    low = _in_float32(lambda d=dtype: subject.torch_jacobian(trial, d))
                    for (o, n), block in (low or {}).items():
                        name = out.name(index, "jacobian", subject, n, o if several else None)
                        _measure(out, name, block, dtype, rows=True)
    else:
        quantity = {"grad": "grad"}.get(spec.mode, "hvp" if spec.second == "hvp" else "vjp")
        cotangents = (
            tuple(np.ones_like(y) for y in trial.outputs)
            if spec.mode == "grad"
            else drawn.cotangents
        )
        for n in subject.facts.names:
            out.views[out.name(index, quantity, subject, n)] = (1, trial.values[n].size)
        if backend == "fd":
            for n in subject.facts.names:
                name = out.name(index, quantity, subject, n)
                out.arrays[name], ref = fd.vjp(
                    subject, trial, n, cotangents, name, f"trial{index}:{n}"
                )
                out.references.append(ref)
        else:
            if backend == "yours" and spec.mode == "grad":
                grads = {subject.facts.names[0]: subject.yours_grad(trial)}
            elif backend == "yours":
                grads = subject.yours_vjp(trial, cotangents)
            else:
                grads = subject.torch_vjp(trial, cotangents)
            for n, g in grads.items():
                out.arrays[out.name(index, quantity, subject, n)] = g
            if backend == "torch":
                for dtype in _measured_in(trial):
                    low = _in_float32(lambda d=dtype: subject.torch_vjp(trial, cotangents, d))
                    for n, g in (low or {}).items():
                        _measure(out, out.name(index, quantity, subject, n), g, dtype, rows=False)
    return out


def _directional(
    spec: Any,
    subject: Evaluator,
    backend: str,
    trial: Trial,
    drawn: Draws,
    index: int,
    out: Computed,
) -> None:
    """vᵀJu per input along DIRECTIONS random (u, v): yours and torch from their Jᵀv (or
    your Jacobian, or your elementwise derivative), fd as a reference."""
    u, v = drawn.u, drawn.v
    for n in subject.facts.names:
        out.views[out.name(index, "vᵀJu", subject, n)] = (1, DIRECTIONS)
    if backend == "fd":
        for n in subject.facts.names:
            name = out.name(index, "vᵀJu", subject, n)
            out.arrays[name], ref = fd.directional(subject, trial, n, u[n], v, name, name)
            out.references.append(ref)
        return
    values: dict[str, list[float]] = {n: [] for n in subject.facts.names}
    if spec.mode == "jacobian" and backend == "yours":
        blocks = subject.yours_jacobian(trial)
        for n in subject.facts.names:
            for k in range(DIRECTIONS):
                values[n].append(
                    sum(
                        float(v[k][o].reshape(-1) @ blocks[o, n] @ u[n][k].reshape(-1))
                        for o in range(len(trial.outputs))
                    )
                )
    elif spec.mode == "grad" and backend == "yours":
        (n,) = subject.facts.names
        d = subject.yours_grad(trial)
        values[n] = [float(np.sum(v[k][0] * d * u[n][k])) for k in range(DIRECTIONS)]
    else:
        for k in range(DIRECTIONS):
            if backend == "yours":
                grads = subject.yours_vjp(trial, v[k])
            else:
                grads = subject.torch_vjp(trial, v[k])
            for n in subject.facts.names:
                values[n].append(float(np.sum(grads[n] * u[n][k])))
    for n in subject.facts.names:
        out.arrays[out.name(index, "vᵀJu", subject, n)] = np.array(values[n])


def _in_float32(compute: Any) -> Any:
    """The torch reference once more in float32, or None where the forward cannot run
    in it (a float64 constant mixed in, say): then no magnitude is measured."""
    from gradcli.errors import InputError

    try:
        return compute()
    except (InputError, RuntimeError, TypeError, ValueError):
        return None


def _measured_in(trial: Trial) -> tuple[str, ...]:
    """The dtypes autograd of the forward is run in to measure the rounding: float32 (its
    deviation over ε₃₂ sizes float64's, which has nothing finer to be measured against),
    and the dtype under test when it is lower still (float16's own rounding is not
    float32's scaled: a shift of 30 costs float16 a whole digit)."""
    return ("float32",) if trial.dtype in ("float64", "float32") else ("float32", trial.dtype)


def _measure(out: Computed, name: str, low: Array, dtype: str, *, rows: bool) -> None:
    found = _magnitude(low, out.arrays[name], dtype, rows=rows)
    out.magnitudes[name] = (
        found if name not in out.magnitudes else np.maximum(out.magnitudes[name], found)
    )


def _magnitude(low: Array, high: Array, dtype: str = "float32", *, rows: bool) -> Array:
    """max |low − float64| / ε of `dtype`, where it is rounding (check_noise.deviation:
    not underflow): per row of a Jacobian (m, 1), else one number."""
    deviation = check_noise.deviation(low, high, dtype)
    eps = check_noise.EPS[dtype]
    if rows:
        return np.asarray(
            deviation.reshape(deviation.shape[0], -1).max(axis=1, keepdims=True) / eps
        )
    return np.asarray(float(deviation.max(initial=0.0)) / eps)
