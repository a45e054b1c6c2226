"""What one operation of the graph language declares, and the tensor helpers its rules
share (broadcasting, reduction axes, spreading a gradient back over reduced axes).

Nothing here knows a particular operation; `pointwise.py` and `structural.py` hold the
records, and `gradcli.ops` gathers them into the registry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]
Shape = tuple[int, ...]
Params = tuple[Any, ...]

# The rules' signatures. Each raises ValueError (with a message for people) on bad shapes.
ShapeRule = Callable[[Sequence[Shape], Params], Shape]
Forward = Callable[[Sequence[Array], Params], Array]  # real or complex arrays
# vjp(g, args, out, params): one gradient per argument, in torch's formula, rounding order
# included, so that numpy and torch agree to the last bits and at 0, ties and negatives.
Vjp = Callable[[Array, Sequence[Array], Array, Params], list[Array]]
TorchTwin = Callable[[Any, Sequence[Any], Params], Any]  # (the torch module, tensors, params)
# Where the derivative is not defined: [(argument, mask over that argument, kind)], kind
# "kink" (one-sided slopes differ), "tie" (max: several elements share the peak) or
# "infinite" (an infinite slope or a pole: sqrt at 0, log at 0, 1/b at b = 0).
KinkRule = Callable[[Sequence[Array], Array, Params], list[tuple[int, Array, str]]]
Cost = Callable[[Sequence[Shape], Shape, Params], int]  # floating-point operations

MAX_DIMS = 64  # numpy's limit (torch's is higher): a shape with more is refused


REQUIRED: Any = object()  # the default of a parameter that has none


@dataclass(frozen=True)
class Param:
    """A literal parameter after the tensor arguments. kind: "int" (an integer), "dims"
    (an integer or a tuple of them; None for all), "bool", or "shape" (the sizes, as
    separate integers or one tuple)."""

    name: str
    kind: str
    default: Any = REQUIRED


# Work is counted in element operations: one numpy pass over one element (a multiply).
# Measured on the 2-core CI machine: numpy multiplies 0.47e9 elements/s and takes exp of
# 0.048e9/s (10× slower), while BLAS does 36e9 multiply-adds/s in a matmul (77× faster).
TRANSCENDENTAL = 10  # element operations per exp, log, tanh, pow, … of one element
MULTIPLY_ADDS = 64  # multiply-adds of a matmul per element operation


def elements(shapes: Sequence[Shape], out: Shape, params: Params) -> int:
    """The default cost: one operation per element of the result or of the largest
    argument, whichever is more (a reduction reads more than it writes)."""
    return max([math.prod(out), *(math.prod(s) for s in shapes)])


def transcendental(shapes: Sequence[Shape], out: Shape, params: Params) -> int:
    return TRANSCENDENTAL * elements(shapes, out, params)


@dataclass(frozen=True)
class Op:
    """One operation: the single place where it is declared."""

    name: str
    tensors: int  # how many tensor arguments
    params: tuple[Param, ...]
    shape: ShapeRule
    forward: Forward
    vjp: Vjp
    torch: TorchTwin
    analytic: bool  # the forward extends to complex input: complex step is exact here
    kinks: str = ""  # where the derivative is not defined, in words ("" if nowhere)
    kink_points: KinkRule | None = None
    cost: Cost = elements
    function: bool = True  # callable as name(x, …) and as x.name(…)
    operator: str = ""  # the ast class of its infix or prefix operator: "Add", "USub"
    symbol: str = ""  # how people write the operator: "+", "-"
    example: str = ""  # a call that works, for messages
    # how its result rounds (a model for gradcli.commands.graph.rounding): "result" relative
    # to itself (elementwise arithmetic), "terms" relative to the same op on |args| (a sum,
    # a matmul: a cancelling sum keeps the rounding of its terms), "exact" not at all
    # (moving, picking or masking elements, negating)
    rounding: str = "result"


# --- helpers the rules share ------------------------------------------------------------


def unbroadcast(g: Array, shape: Shape) -> Array:
    """Sum g over the axes that broadcasting added or stretched, back to `shape`."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def broadcast(a: Shape, b: Shape) -> Shape:
    """numpy's and torch's broadcasting of two shapes (ValueError if they do not)."""
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        raise ValueError(f"shapes {a} and {b} do not broadcast") from None


def axes(dims: tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    """Reduction axes, negatives counted from the end; None means all of them. A 0-d
    tensor accepts dim 0 and -1, as in torch. A repeated dim is an error, as in torch."""
    if dims is None:
        return tuple(range(ndim))
    bound = max(ndim, 1)
    for d in dims:
        if not -bound <= d < bound:
            raise ValueError(f"dim {d} is out of range for a {ndim}-D tensor")
    normalised = [d % bound for d in dims]
    for d in normalised:
        if normalised.count(d) > 1:
            raise ValueError(f"dim {d} appears more than once in {dims}")
    return tuple(sorted(normalised)) if ndim else ()


def expand_back(g: Array, shape: Shape, reduced: tuple[int, ...], keepdim: bool) -> Array:
    """The gradient of a reduction, spread back over the reduced axes."""
    if not keepdim:
        for axis in reduced:
            g = np.expand_dims(g, axis)
    return np.broadcast_to(g, shape)


def index_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """The parser's index key (("int", i) and ("slice", lo, hi, step)) as a Python key."""
    return tuple(slice(*k[1:]) if k[0] == "slice" else k[1] for k in key)


def is_complex(a: Array) -> bool:
    return bool(np.iscomplexobj(a))
