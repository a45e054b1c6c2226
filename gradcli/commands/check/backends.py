"""Two sides of `gradcli check`, for one trial: yours (the derivative under test) and
torch (autograd of the forward's plain operations, float64; fd is check_references).
Each returns the gradient of every input by name: a VJP for a cotangent per output,
Jacobian blocks, or an elementwise derivative.

The user's code runs here on the main thread, one call at a time (never on a pool).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.commands.check import guard
from gradcli.commands.check.signature import accepted, bind
from gradcli.commands.check.subject import Subject, tensors
from gradcli.errors import InputError

__all__ = ["Trial", "tensors", "user_values"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Trial:
    values: dict[str, Array]  # the inputs, float64, already rounded to the user's dtype
    outputs: tuple[Array, ...]  # the forward's outputs at them, float64
    dtype: str  # the user's dtype
    # per output, the magnitude f's rounding is relative to: |f|, or more where f is a
    # sum of larger terms (measured: the float32 forward's deviation over float32's ε)
    magnitudes: tuple[Array, ...] = ()
    step_factor: float = 1.0  # fd's step, times ∛ε: larger for a forward noisier than float64
    # |f| or its terms' size, without the forward's own noise: the derivative's scale
    terms: tuple[Array, ...] = ()


# --- yours ---------------------------------------------------------------------------


def user_values(subject: Subject, trial: Trial, grad: tuple[str, ...] = ()) -> dict[str, Any]:
    """The inputs as the user's code takes them: numpy arrays or tensors, in their dtype."""
    if subject.takes_numpy and not grad:
        return {k: v.astype(trial.dtype) for k, v in trial.values.items()}
    return tensors(trial.values, trial.dtype, grad)


def _user_kind(subject: Subject, array: Array, dtype: str) -> Any:
    if subject.takes_numpy:
        return array.astype(dtype)
    return tensors({"g": array}, dtype)["g"]


def yours_vjp(
    subject: Subject, spec: Any, trial: Trial, cotangents: tuple[Array, ...]
) -> dict[str, Array]:
    """Your gradient of ⟨g, f⟩ for every input: your VJP, your Function's backward, or
    your module's backward (autograd through your custom layers)."""
    if spec.mode == "vjp":
        values = user_values(subject, trial)
        gs = tuple(_user_kind(subject, g, trial.dtype) for g in cotangents)
        value = guard.call(
            spec.derivative,
            (*(values[n] for n in subject.all_inputs), *gs),
            "your vjp",
            kwargs=accepted(subject.args, spec.derivative),
            debug=spec.debug,
        )
        return _named(value, "your vjp", subject, trial)
    if spec.mode == "function" and subject.gradient_map is None:
        return _function_backward(subject, spec, trial, cotangents)
    return _autograd(subject, trial, cotangents, trial.dtype, user=True)


def _named(value: Any, what: str, subject: Subject, trial: Trial) -> dict[str, Array]:
    parts = guard.as_arrays(value, what, len(subject.names))
    return {
        name: guard.as_array(part, _gradient_of(what, name, subject), trial.values[name].shape)
        for name, part in zip(subject.names, parts, strict=True)
    }


def _gradient_of(what: str, name: str, subject: Subject) -> str:
    return what if len(subject.names) == 1 else f"{what} (the gradient of {name})"


def _function_backward(
    subject: Subject, spec: Any, trial: Trial, cotangents: tuple[Array, ...]
) -> dict[str, Array]:
    """The Function's own backward, called as autograd would (ctx from a real apply),
    its results read as they are: None or a wrong shape is named, not passed to torch."""
    import torch

    values = tensors(trial.values, trial.dtype, subject.names)
    with torch.enable_grad():
        outputs = subject.user(values)
    node = next((y.grad_fn for y in outputs if getattr(y, "grad_fn", None) is not None), None)
    if node is None:
        raise InputError("the Function's forward returned no tensor that depends on its inputs")
    gs = tuple(
        torch.from_numpy(np.array(g)).to(y.dtype) for g, y in zip(cotangents, outputs, strict=True)
    )
    raw = guard.call(node.apply, gs, "your backward", debug=spec.debug)
    raw = raw if isinstance(raw, tuple) else (raw,)
    positional, keywords = bind({**values, **subject.args}, subject.params)
    if not keywords:  # apply(*positional): autograd counts its inputs so
        raw = _as_autograd_takes(raw, positional, type(node).__name__)
    slots = {name: _slot(values[name], positional) for name in subject.names}
    result = {}
    for name in subject.names:
        slot = slots[name]
        part = raw[slot] if slot is not None and slot < len(raw) else None
        what = f"your backward (the gradient of {name}, argument {0 if slot is None else slot})"
        shape = trial.values[name].shape
        array = guard.as_array(part, what, shape if part is None else None)
        result[name] = _summed_to(array, shape, what)
    return result


def _as_autograd_takes(
    raw: tuple[Any, ...], positional: tuple[Any, ...], node: str
) -> tuple[Any, ...]:
    """autograd's rules on what a backward returns (torch/csrc/autograd/python_function):
    one gradient per forward input (extra ones only if they are None, then dropped), and
    None for an input that is not a tensor; broken, they are autograd's own errors,
    which `loss.backward()` would raise."""
    import torch

    if len(raw) > len(positional) and all(g is None for g in raw[len(positional) :]):
        raw = raw[: len(positional)]
    if len(raw) != len(positional):
        raise InputError(
            f"your backward returned an incorrect number of gradients (expected "
            f"{len(positional)}, got {len(raw)}): autograd raises this for {node}"
        )
    for i, (g, given) in enumerate(zip(raw, positional, strict=True)):
        if g is not None and not isinstance(given, torch.Tensor):
            raise InputError(
                f"your backward returned a gradient different than None at position {i + 1}, "
                f"but the corresponding forward input was not a tensor: autograd raises "
                f"this for {node}"
            )
    return raw


def _summed_to(array: Array, shape: tuple[int, ...], what: str) -> Array:
    """A gradient of a shape the input broadcasts to, summed to the input's shape, as
    autograd does (a bias's gradient returned per row); any other shape is refused."""
    if array.shape != shape and array.ndim >= len(shape):
        try:
            broadcast = np.broadcast_shapes(shape, array.shape) == array.shape
        except ValueError:
            broadcast = False
        if broadcast:
            lead = array.ndim - len(shape)
            axes = tuple(range(lead)) + tuple(
                lead + k for k, n in enumerate(shape) if n == 1 and array.shape[lead + k] != 1
            )
            return np.asarray(array.sum(axis=axes).reshape(shape))
    return guard.as_array(array, what, shape)


def _slot(tensor: Any, positional: tuple[Any, ...]) -> int | None:
    return next((i for i, p in enumerate(positional) if p is tensor), None)


def yours_jacobian(subject: Subject, spec: Any, trial: Trial) -> dict[tuple[int, str], Array]:
    """Your Jacobian blocks, (output, input) -> (outputs, inputs)."""
    values = user_values(subject, trial)
    value = guard.call(
        spec.derivative,
        tuple(values[n] for n in subject.all_inputs),
        "your jacobian",
        kwargs=accepted(subject.args, spec.derivative),
        debug=spec.debug,
    )
    n_out = len(trial.outputs)
    rows = guard.as_arrays(value, "your jacobian", n_out) if n_out > 1 else (value,)
    blocks = {}
    for o, row in enumerate(rows):
        what = "your jacobian" if n_out == 1 else f"your jacobian (output {o})"
        for name, block in zip(
            subject.names, guard.as_arrays(row, what, len(subject.names)), strict=True
        ):
            blocks[o, name] = guard.as_jacobian(
                block,
                _gradient_of(what, name, subject),
                trial.outputs[o].shape,
                trial.values[name].shape,
            )
    return blocks


def yours_grad(subject: Subject, spec: Any, trial: Trial) -> Array:
    """Your elementwise derivative f'(x) (one input, one output of its shape)."""
    (name,) = subject.names
    values = user_values(subject, trial)
    value = guard.call(
        spec.derivative,
        (values[name],),
        "your grad",
        kwargs=accepted(subject.args, spec.derivative),
        debug=spec.debug,
    )
    return guard.as_array(value, "your grad", trial.values[name].shape)


# --- torch: autograd of the plain operations, float64 ----------------------------------


def _autograd(
    subject: Subject, trial: Trial, cotangents: tuple[Array, ...], dtype: str, *, user: bool
) -> dict[str, Array]:
    import torch

    values = tensors(trial.values, dtype, subject.names)
    with torch.enable_grad():
        outputs = subject.user(values) if user else subject.reference(values)
        _check_outputs(outputs, trial, subject.label)
        loss = sum(
            (y * torch.from_numpy(np.array(g)).to(y.dtype)).sum()
            for y, g in zip(outputs, cotangents, strict=True)
        )
        what = "your backward" if user else "autograd of the forward"
        grads = guard.call(
            torch.autograd.grad,
            (loss, [values[n] for n in subject.names]),
            what,
            kwargs={"allow_unused": True},
        )
    return {
        name: np.zeros(trial.values[name].shape)
        if grad is None
        else guard.as_array(grad, _gradient_of(what, name, subject), trial.values[name].shape)
        for name, grad in zip(subject.names, grads, strict=True)
    }


def _check_outputs(outputs: tuple[Any, ...], trial: Trial, what: str) -> None:
    if len(outputs) != len(trial.outputs) or not all(hasattr(y, "grad_fn") for y in outputs):
        raise InputError(f"{what} returned something other than tensors for tensor inputs")
    for o, (y, expected) in enumerate(zip(outputs, trial.outputs, strict=True)):
        if tuple(y.shape) != expected.shape:  # autograd of another function than fd's
            which = f"output {o} of {what}" if len(outputs) > 1 else what
            raise InputError(
                f"{which} has shape {tuple(y.shape)} on tensors but {expected.shape} on "
                "arrays: it must compute the same function on both"
            )


def torch_vjp(
    subject: Subject, trial: Trial, cotangents: tuple[Array, ...], dtype: str = "float64"
) -> dict[str, Array]:
    return _autograd(subject, trial, cotangents, dtype, user=False)


def torch_jacobian(
    subject: Subject, trial: Trial, dtype: str = "float64"
) -> dict[tuple[int, str], Array]:
    """Rows of every block by autograd: one backward per output element."""
    import torch

    values = tensors(trial.values, dtype, subject.names)
    blocks = {}
    with torch.enable_grad():
        outputs = subject.reference(values)
        _check_outputs(outputs, trial, subject.label)
        inputs = [values[n] for n in subject.names]
        for o, y in enumerate(outputs):
            flat = y.reshape(-1)
            rows: dict[str, list[Array]] = {n: [] for n in subject.names}
            for k in range(flat.numel()):
                grads = torch.autograd.grad(flat[k], inputs, retain_graph=True, allow_unused=True)
                for name, grad, x in zip(subject.names, grads, inputs, strict=True):
                    rows[name].append(
                        np.zeros(x.numel()) if grad is None else grad.reshape(-1).double().numpy()
                    )
            for name in subject.names:
                blocks[o, name] = np.array(rows[name]).reshape(flat.numel(), -1)
    return blocks
