"""Second order: the first derivative made a forward, so that the first-order machinery
checks its derivative.

- `--order 2` with a torch.autograd.Function (what gradgradcheck does): the map
  G(x, g) = Jᵀg computed through the Function's own backward (create_graph), whose own
  derivative is then checked: yours is autograd *through your backward* (double
  backward), torch is autograd twice through the forward's plain operations, fd is
  finite differences of your backward's values. A backward that is not differentiable
  (numpy inside, a detach, a hand-written double backward that is wrong) differs.
- `--hvp FN`: for a scalar forward f, G(x) = ∇f(x) by autograd; FN(x, v) is checked as
  G's VJP (H symmetric, so Hv = Hᵀv) against autograd of ∇f and fd of ∇f.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.commands.check.signature import bind
from gradcli.commands.check.subject import Subject, forward_ops
from gradcli.errors import InputError

Array = np.ndarray[Any, Any]


def order_two(
    subject: Subject, trials: list[dict[str, Array]], seed: int
) -> list[dict[str, Array]]:
    """Make `subject` (a Function) the map (x, g) -> your backward's Jᵀg; each trial gains
    a cotangent per output ("grad_out", or "grad_out0", … for several), drawn from seed."""
    import torch

    function, names, params, args = subject.code, subject.names, subject.params, subject.args
    outputs = subject.evaluate(trials[0])
    g_names = (
        ("grad_out",) if len(outputs) == 1 else tuple(f"grad_out{k}" for k in range(len(outputs)))
    )
    clash = set(g_names) & set(names)
    if clash:
        raise InputError(f"--order 2 names the cotangents {sorted(clash)}, as the inputs are")

    def gradient_map(values: dict[str, Any], ops_only: bool) -> tuple[Any, ...]:
        with torch.enable_grad():
            xs = {n: _leaf(values[n]) for n in names}
            positional, keywords = bind({**xs, **args}, params)
            if ops_only:
                out = forward_ops(function, positional, keywords)
            else:
                out = function.apply(*positional, **keywords)
            out = out if isinstance(out, tuple) else (out,)
            gs = [values[g].to(y.dtype) for g, y in zip(g_names, out, strict=True)]
            grads = torch.autograd.grad(
                out, [xs[n] for n in names], grad_outputs=gs, create_graph=True, allow_unused=True
            )
        return tuple(
            torch.zeros_like(xs[n]) if g is None else g for n, g in zip(names, grads, strict=True)
        )

    shapes = [tuple(y.shape for y in subject.evaluate(trial)) for trial in trials]
    subject.gradient_map = gradient_map
    subject.names = (*names, *g_names)
    rng = np.random.default_rng([seed, 0x6F7264, 2])
    return [
        {**trial, **{g: rng.standard_normal(shape) for g, shape in zip(g_names, ys, strict=True)}}
        for trial, ys in zip(trials, shapes, strict=True)
    ]


def hvp(subject: Subject) -> None:
    """Make `subject` (a scalar forward that takes tensors) the map x -> ∇f(x)."""
    import torch

    if not subject.autograd:
        raise InputError("--hvp needs a forward that takes torch tensors (autograd makes ∇f)")
    base = subject.code
    names, params, args = subject.names, subject.params, subject.args

    def gradient_map(values: dict[str, Any], ops_only: bool) -> tuple[Any, ...]:
        with torch.enable_grad():
            xs = {n: _leaf(values[n]) for n in names}
            positional, keywords = bind({**xs, **args}, params)
            out = base(*positional, **keywords)
            if not isinstance(out, torch.Tensor) or out.numel() != 1:
                raise InputError("--hvp is for a forward that returns one number (a loss)")
            grads = torch.autograd.grad(
                out.reshape(()), [xs[n] for n in names], create_graph=True, allow_unused=True
            )
        return tuple(
            torch.zeros_like(xs[n]) if g is None else g for n, g in zip(names, grads, strict=True)
        )

    subject.gradient_map = gradient_map


def _leaf(value: Any) -> Any:
    """A tensor that autograd differentiates through: itself if it already requires grad
    (the outer derivative needs the path), else a float64 leaf."""
    import torch

    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.array(value, dtype=np.float64))
    return value if value.requires_grad else value.detach().requires_grad_(True)
