"""Reverse mode by hand, at tensor level, over the op registry (`gradcli.ops`): each
operation's forward and backward rule (its vector-Jacobian product, with the math in a
comment) is declared once there, as in micrograd's engine.py; this module only runs
them in order and back. Broadcasting follows numpy (the same rules as PyTorch); a
gradient flowing into a broadcast argument is summed back to its shape.

`forward` also runs in complex128, for the complex-step reference: see
`gradcli.ops.program_is_analytic` and `gradcli.ops.kink_points` for where that is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcli.ops import REGISTRY, Op
from gradcli.spec import Program

Array = NDArray[Any]
# A model of rounding (gradcli.commands.graph.rounding): (value, the magnitude its
# rounding is relative to, whether it is one operation whose short result is exact)
# -> the value as some correct implementation might round it. A sum of several terms
# rounds its partial sums even where the result is short.
Perturb = Callable[[Array, Array, bool], Array]


# --- running a program -----------------------------------------------------------------


class ProgramError(ValueError):
    """An operation failed on these shapes; `node` says which."""

    def __init__(self, node: int, reason: str) -> None:
        super().__init__(reason)
        self.node = node


def forward(
    program: Program, inputs: dict[str, Array], dtype: str, perturb: Perturb | None = None
) -> list[Array]:
    """The value of every node, in `dtype`: float32, float64, or complex128 for the
    complex step (the forwards keep the real functions' branches and domains).
    `perturb`: applied to each operation's result, as the op registry's `rounding` says
    (not at all for an exact one; relative to |args| summed for a sum or a matmul)."""
    values: list[Array] = []
    with np.errstate(all="ignore"):
        for number, node in enumerate(program.nodes):
            if node.op == "input":
                values.append(np.asarray(inputs[node.text], dtype=dtype))
            elif node.op == "const":
                values.append(np.asarray(node.params[0], dtype=dtype))
            else:
                args = [values[a] for a in node.args]
                op = REGISTRY[node.op]
                try:
                    out = np.asarray(op.forward(args, node.params), dtype=dtype)
                except (ValueError, IndexError, TypeError) as exc:
                    raise ProgramError(number, str(exc)) from None
                if perturb is not None and op.rounding != "exact":
                    terms = op.rounding == "terms"
                    size = op.forward([np.abs(a) for a in args], node.params) if terms else out
                    out = perturb(out, np.abs(size), not terms)
                values.append(out)
    return values


def loss_of(out: Array) -> Array:
    """The loss: the sum of the last statement's value, or the value itself if 0-d."""
    with np.errstate(all="ignore"):  # inf − inf in the sum is a NaN loss, reported as such
        return out if out.ndim == 0 else np.asarray(out.sum())


def backward(
    program: Program, values: list[Array], perturb: Perturb | None = None
) -> tuple[list[Array | None], dict[int, list[tuple[int, int, Array]]]]:
    """∂L/∂(every node), and each use's share: contributions[v] = [(consumer, arg, grad)].

    A node that the loss does not reach gets None. `perturb`: applied to each share
    (relative to the rule run on magnitudes where it sums terms: a matmul, a sum back
    over broadcast axes) and to each sum of shares.
    """
    grads: list[Array | None] = [None] * len(values)
    out = program.output
    grads[out] = np.ones_like(values[out])
    contributions: dict[int, list[tuple[int, int, Array]]] = {}
    with np.errstate(all="ignore"):
        for number in range(len(values) - 1, -1, -1):
            node, g = program.nodes[number], grads[number]
            if g is None or node.op in ("input", "const"):
                continue
            args, op = [values[a] for a in node.args], REGISTRY[node.op]
            shares = op.vjp(g, args, values[number], node.params)
            if perturb is not None:
                shares = _perturbed_shares(
                    op, perturb, shares, g, args, values[number], node.params
                )
            for position, (arg, share) in enumerate(zip(node.args, shares, strict=True)):
                if program.nodes[arg].op == "const":
                    continue
                share = np.asarray(share, dtype=values[arg].dtype)
                contributions.setdefault(arg, []).append((number, position, share))
                previous = grads[arg]
                if previous is None:
                    grads[arg] = share.copy()
                else:
                    total = previous + share
                    grads[arg] = total if perturb is None else perturb(total, np.abs(total), True)
    return grads, contributions


def _perturbed_shares(
    op: Op,
    perturb: Perturb,
    shares: list[Array],
    g: Array,
    args: list[Array],
    out: Array,
    params: tuple[Any, ...],
) -> list[Array]:
    """The shares as rounded (see `backward`): an exact rule's as they are."""
    if op.rounding == "exact":
        return shares
    sums = op.rounding == "terms" or op.tensors == 2  # a sum inside: back over broadcast axes
    if sums:
        magnitudes = op.vjp(np.abs(g), [np.abs(a) for a in args], np.abs(out), params)
    else:
        magnitudes = shares
    return [
        perturb(np.asarray(s), np.abs(np.asarray(m)), not sums)
        for s, m in zip(shares, magnitudes, strict=True)
    ]
