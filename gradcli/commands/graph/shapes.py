"""The shape of every node of a graph program, and the work of running it, before
anything is computed.

Each operation's shape rule is in the op registry (`gradcli.ops`): the same
broadcasting, reduction and matmul rules as numpy and PyTorch, applied to shapes alone,
so that a program that cannot run is refused, naming its operation, before any memory
is spent. Sizes are Python integers: an element count cannot wrap around int64.
"""

from __future__ import annotations

import math

from gradcli.backends.engine import ProgramError
from gradcli.errors import InputError
from gradcli.ops import LEAVES, REGISTRY
from gradcli.ops.record import MAX_DIMS
from gradcli.spec import Program

Shape = tuple[int, ...]


def node_shapes(program: Program, input_shapes: dict[str, Shape]) -> list[Shape]:
    """The shape of every node, by the same rules as numpy and PyTorch, computed without
    touching data: an error here names the operation before any memory is spent."""
    out: list[Shape] = []
    for number, node in enumerate(program.nodes):
        if node.op == "input":
            out.append(tuple(input_shapes.get(node.text, ())))
            continue
        if node.op == "const":
            out.append(())
            continue
        args = [out[a] for a in node.args]
        try:
            shape = REGISTRY[node.op].shape(args, node.params)
        except (ValueError, IndexError, TypeError, OverflowError) as exc:
            raise ProgramError(number, str(exc)) from None
        if len(shape) > MAX_DIMS:
            raise ProgramError(number, f"the result has {len(shape)} dims; at most {MAX_DIMS}")
        out.append(shape)
    return out


def forward_flops(program: Program, shapes: list[Shape]) -> int:
    """Floating-point operations of one forward pass: one per element for elementwise
    operations and reductions, 2·m·k·n for a matmul (the op registry's `cost`)."""
    total = 0
    for number, node in enumerate(program.nodes):
        if node.op not in LEAVES:
            args = [shapes[a] for a in node.args]
            total += REGISTRY[node.op].cost(args, shapes[number], node.params)
    return total


def elements(shape: Shape) -> int:
    return math.prod(shape)


def shorten(text: str, limit: int = 60) -> str:
    """`text` if short, else its start and end around an ellipsis: a message about a
    100 000-character expression stays one readable line."""
    if len(text) <= limit:
        return text
    head = (limit - 5) * 2 // 3
    return f"{text[:head]} … {text[-(limit - 5 - head) :]}"


def where(program: Program, number: int, reason: str) -> str:
    """'statement 3 ('y = a / b'): a / b: reason', with long sources shortened."""
    node = program.nodes[number]
    statement = program.statements[node.statement][1] if node.statement >= 0 else node.text
    return (
        f"statement {node.statement + 1} ({shorten(statement)!r}): {shorten(node.text)}: {reason}"
    )


# The most work a run may take, in element operations (see gradcli/ops/record.py): about
# 10 s on the 2-core CI machine. Estimated before anything runs, fd's passes included.
WORK_BUDGET = 4e9


def check_work(program: Program, shapes: list[Shape], passes: dict[str, int]) -> None:
    """Refuse a run whose estimated work is beyond WORK_BUDGET. `passes`: how many
    forward passes' worth of work each backend does (a backward pass costs about two)."""
    one = forward_flops(program, shapes)
    total = one * sum(passes.values())
    if total <= WORK_BUDGET:
        return
    count = sum(passes.values())
    parts = ", ".join(f"{name} {n}" for name, n in passes.items())
    advice = "use smaller inputs"
    if "fd" in passes and one * (sum(passes.values()) - passes["fd"]) <= WORK_BUDGET:
        advice = "check without finite differences (--backend numpy,torch) or use smaller inputs"
    raise InputError(
        f"the program would take about {total:.2g} element operations, {one:.2g} per "
        f"forward pass × {count} passes ({parts}); the limit is {WORK_BUDGET:.0g}: {advice}"
    )
