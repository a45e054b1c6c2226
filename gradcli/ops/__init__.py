"""The operations of the graph language, each declared once (micrograd / JAX primitives).

An `Op` record holds everything about one operation: its name and arguments (read by
the parser, `gradcli.commands.graph.parse`), its shape rule (`graph_shapes`), its numpy
forward and its backward rule with the math in a comment (the numpy engine,
`gradcli.backends.engine`), its torch twin (`gradcli.backends.autograd_graph`),
whether it is analytic or where its derivative is not defined, and how its result
rounds (`gradcli.commands.graph.rounding`). Nothing else lists them.

For references that need it (the complex step, kink detection):

- `program_is_analytic(program, values=None)`: True when every operation is analytic,
  so that `engine.forward(program, inputs, "complex128")` gives `Im f(x + ih)/h = f'(x)`
  to rounding; with `values`, also False where an argument sits at an infinite slope.
  Where it is False for relu, abs or max, the complex forward still follows the real
  function's branch (relu(a) = a·[Re a > 0]), so the complex step is right
  everywhere except exactly at the points `kink_points` names.
- `kink_points(program, values)`: where, at these values, an operation's argument sits
  at a point without a derivative: relu and abs at 0 ("kink"), max at ties ("tie"),
  sqrt and pow (exponent < 1) at 0, log at 0 and a divisor at 0 ("infinite").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gradcli.ops import pointwise, structural
from gradcli.ops.record import REQUIRED, Op, Param

if TYPE_CHECKING:
    from gradcli.ops.record import Array
    from gradcli.spec import Program

__all__ = ["REGISTRY", "REQUIRED", "KinkPoint", "Op", "Param", "kink_points"]

REGISTRY: dict[str, Op] = {op.name: op for op in (*pointwise.OPS, *structural.OPS)}
FUNCTIONS = tuple(name for name, op in REGISTRY.items() if op.function)
OPERATORS = {op.operator: op.name for op in REGISTRY.values() if op.operator}
LEAVES = ("input", "const")  # program nodes that are not operations


def program_is_analytic(program: Program, values: list[Array] | None = None) -> bool:
    """Whether every operation of the program is analytic (complex-step exact); given
    the values (`engine.forward`'s, real), also whether no argument sits at a point
    without a derivative there (sqrt at 0, a divisor at 0, …), where the complex step
    would return a finite number for an infinite slope."""
    if nonanalytic_operations(program):
        return False
    return values is None or not kink_points(program, values)


def nonanalytic_operations(program: Program) -> list[tuple[int, str]]:
    """(node, what) for each operation that is not analytic: relu, abs, max."""
    return [
        (number, f"{node.op} ({REGISTRY[node.op].kinks})")
        for number, node in enumerate(program.nodes)
        if node.op not in LEAVES and not REGISTRY[node.op].analytic
    ]


@dataclass(frozen=True)
class KinkPoint:
    """An operation whose argument, at these values, sits where it has no derivative."""

    node: int  # the operation's node in program.nodes
    op: str
    argument: int  # which of its arguments (0 or 1)
    argument_text: str  # the argument's variable name, or its source ("a - 1")
    indices: tuple[tuple[int, ...], ...]  # where in that argument (its own indices)
    kind: str  # "kink", "tie" or "infinite"
    description: str  # the op's kinks in words


def kink_points(program: Program, values: list[Array]) -> list[KinkPoint]:
    """Every point of non-differentiability that the values hit (`values` as
    `engine.forward` returns them, real)."""
    import numpy as np

    found = []
    named = {node: name for name, node in program.variables.items()}
    for number, node in enumerate(program.nodes):
        rule = None if node.op in LEAVES else REGISTRY[node.op].kink_points
        if rule is None:
            continue
        args = [values[a] for a in node.args]
        for argument, mask, kind in rule(args, values[number], node.params):
            where = tuple(tuple(int(i) for i in idx) for idx in np.argwhere(mask))
            if where:
                arg = node.args[argument]
                text = named.get(arg, program.nodes[arg].text)
                description = REGISTRY[node.op].kinks
                found.append(KinkPoint(number, node.op, argument, text, where, kind, description))
    return found
