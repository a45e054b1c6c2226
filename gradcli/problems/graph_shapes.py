"""The shape of every node of a graph program, before anything is computed.

The same broadcasting, reduction and matmul rules as numpy and PyTorch (and as the
engine's forwards in `gradcli.backends.engine`), applied to shapes alone: a program
that cannot run is refused, naming its operation, before any memory is spent.
"""

from __future__ import annotations

import numpy as np

from gradcli.backends.engine import Params, ProgramError, axes, index_key
from gradcli.spec import Program

Shape = tuple[int, ...]


def node_shapes(program: Program, input_shapes: dict[str, Shape]) -> list[Shape]:
    """The shape of every node, by the same rules as numpy and PyTorch, computed without
    touching data: an error here names the operation before any memory is spent."""
    out: list[Shape] = []
    for number, node in enumerate(program.nodes):
        args = [out[a] for a in node.args]
        try:
            out.append(_shape(node.op, args, node.params, input_shapes.get(node.text, ())))
        except (ValueError, IndexError, TypeError) as exc:
            raise ProgramError(number, str(exc)) from None
    return out


def _shape(op: str, args: list[Shape], params: Params, input_shape: Shape) -> Shape:
    if op == "input":
        return input_shape
    if op == "const":
        return ()
    if op in ("add", "sub", "mul", "div", "pow"):
        return tuple(np.broadcast_shapes(args[0], args[1]))
    if op == "matmul":
        return _matmul_shape(args[0], args[1])
    a = args[0]
    if op in ("identity", "neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu"):
        return a
    if op in ("softmax", "log_softmax"):
        axes((params[0],), len(a))
        if not a:
            raise ValueError(f"{op} needs at least 1 dim")
        return a
    if op == "T":
        if len(a) > 2:
            raise ValueError(f".T needs a tensor of at most 2 dims, got {len(a)}; use transpose()")
        return a[::-1]
    if op == "transpose":
        d0, d1 = (axes((d,), len(a))[0] for d in params)
        swapped = list(a)
        swapped[d0], swapped[d1] = a[d1], a[d0]
        return tuple(swapped)
    if op == "reshape":
        return _reshape(a, params[0])
    if op == "index":
        dummy = np.lib.stride_tricks.as_strided(np.zeros(1), shape=a, strides=(0,) * len(a))
        return tuple(dummy[index_key(params[0])].shape)
    reduced = axes(params[0], len(a))  # sum, mean, max
    if op == "max" and 0 in [a[i] for i in reduced]:
        raise ValueError("max of an empty dimension")
    if params[1]:
        return tuple(1 if i in reduced else n for i, n in enumerate(a))
    return tuple(n for i, n in enumerate(a) if i not in reduced)


def _matmul_shape(a: Shape, b: Shape) -> Shape:
    if not a or not b:
        raise ValueError("matmul needs tensors of at least 1 dim")
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ValueError(f"matmul: inner sizes differ ({a2[-1]} and {b2[-2]})")
    batch = tuple(np.broadcast_shapes(a2[:-2], b2[:-2]))
    return batch + (a2[-2],) * (len(a) > 1) + (b2[-1],) * (len(b) > 1)


def _reshape(a: Shape, shape: Shape) -> Shape:
    size = int(np.prod(a, dtype=np.int64))
    if list(shape).count(-1) > 1 or any(n < -1 for n in shape):
        raise ValueError(f"reshape to {shape}: only one -1, no other negative size")
    known = int(np.prod([n for n in shape if n != -1], dtype=np.int64))
    if -1 in shape:
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape {a} ({size} elements) to {shape}")
        return tuple(size // known if n == -1 else n for n in shape)
    if known != size:
        raise ValueError(f"cannot reshape {a} ({size} elements) to {shape}")
    return tuple(shape)
