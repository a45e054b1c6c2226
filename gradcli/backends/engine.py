"""Reverse mode by hand, at tensor level, over the op registry (`gradcli.ops`): each
operation's forward and backward rule (its vector-Jacobian product, with the math in a
comment) is declared once there, as in micrograd's engine.py; this module only runs
them in order and back. Broadcasting follows numpy (the same rules as PyTorch); a
gradient flowing into a broadcast argument is summed back to its shape.

`forward` also runs in complex128, for the complex-step reference: see
`gradcli.ops.program_is_analytic` and `gradcli.ops.kink_points` for where that is exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcli.ops import REGISTRY
from gradcli.spec import Program

Array = NDArray[Any]


# --- running a program -----------------------------------------------------------------


class ProgramError(ValueError):
    """An operation failed on these shapes; `node` says which."""

    def __init__(self, node: int, reason: str) -> None:
        super().__init__(reason)
        self.node = node


def forward(program: Program, inputs: dict[str, Array], dtype: str) -> list[Array]:
    """The value of every node, in `dtype`: float32, float64, or complex128 for the
    complex step (the forwards keep the real functions' branches and domains)."""
    values: list[Array] = []
    with np.errstate(all="ignore"):
        for number, node in enumerate(program.nodes):
            if node.op == "input":
                values.append(np.asarray(inputs[node.text], dtype=dtype))
            elif node.op == "const":
                values.append(np.asarray(node.params[0], dtype=dtype))
            else:
                args = [values[a] for a in node.args]
                try:
                    values.append(
                        np.asarray(REGISTRY[node.op].forward(args, node.params), dtype=dtype)
                    )
                except (ValueError, IndexError, TypeError) as exc:
                    raise ProgramError(number, str(exc)) from None
    return values


def loss_of(out: Array) -> Array:
    """The loss: the sum of the last statement's value, or the value itself if 0-d."""
    with np.errstate(all="ignore"):  # inf − inf in the sum is a NaN loss, reported as such
        return out if out.ndim == 0 else np.asarray(out.sum())


def backward(
    program: Program, values: list[Array]
) -> tuple[list[Array | None], dict[int, list[tuple[int, int, Array]]]]:
    """∂L/∂(every node), and each use's share: contributions[v] = [(consumer, arg, grad)].

    A node that the loss does not reach gets None.
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
            args = [values[a] for a in node.args]
            shares = REGISTRY[node.op].vjp(g, args, values[number], node.params)
            for position, (arg, share) in enumerate(zip(node.args, shares, strict=True)):
                if program.nodes[arg].op == "const":
                    continue
                share = np.asarray(share, dtype=values[arg].dtype)
                contributions.setdefault(arg, []).append((number, position, share))
                previous = grads[arg]
                grads[arg] = share.copy() if previous is None else previous + share
    return grads, contributions
