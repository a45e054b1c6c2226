"""The graph problem: every named variable's value and gradient in a small tensor program.

numpy runs the program with the hand-written VJP rules of `backends/engine.py`, torch
builds it with autograd and retain_grad(), fd perturbs the leaves (the inputs) and
differentiates the float64 forward. Intermediates are compared between numpy and torch.
Where a variable feeds several operations, its gradient is a sum over those uses: the
report shows each use's share and that they add up.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from gradcli import core, limits
from gradcli import directional as directional_fd
from gradcli.backends import engine
from gradcli.commands.graph import fd as graph_fd
from gradcli.commands.graph import rounding as graph_rounding
from gradcli.commands.graph import shapes as graph_shapes
from gradcli.commands.graph import text as graph_text
from gradcli.commands.graph.shapes import node_shapes
from gradcli.errors import InputError
from gradcli.report import Array, BackendResult, Report
from gradcli.spec import GraphSpec, Program

MAX_ELEMENTS = 10_000_000  # in any one tensor of the program (80 MB in float64)
MAX_TOTAL_ELEMENTS = 50_000_000  # in all of them together
# Full central differences: two forward passes per input element. Above this many,
# fd checks directional derivatives instead (2 × 8 passes per input, whatever its size).
FD_FULL_FORWARDS = 2_000


def validate(spec: GraphSpec) -> list[tuple[int, ...]]:
    """Shapes of every node, checked before any memory is spent; InputError names the
    statement, the expression and the shapes."""
    program = spec.program
    _constants_fit(program, spec.options.dtype)
    input_shapes = {name: tuple(a.shape) for name, a in spec.inputs.items()}
    try:
        shapes = node_shapes(program, input_shapes)
    except engine.ProgramError as exc:
        raise InputError(_where(program, exc.node, [], str(exc))) from None
    for number, shape in enumerate(shapes):
        if graph_shapes.elements(shape) > MAX_ELEMENTS:
            raise InputError(
                _where(
                    program, number, [], f"the result {shape} has more than {MAX_ELEMENTS} elements"
                )
            )
    if sum(graph_shapes.elements(s) for s in shapes) > MAX_TOTAL_ELEMENTS:
        raise InputError(
            f"the program's tensors hold more than {MAX_TOTAL_ELEMENTS} elements in all"
        )
    # forward passes' worth of work per backend (a backward costs about two forwards)
    passes = {"numpy": 3, "torch": 3, "fd": _fd_forwards(spec) + 1}
    graph_shapes.check_work(program, shapes, {b: passes[b] for b in spec.options.backends})
    return shapes


def _constants_fit(program: Program, dtype: str) -> None:
    """A constant that overflows the dtype (1e39 in float32) is refused, as an input
    that does is: both backends would silently compute with inf."""
    largest = float(np.finfo(np.dtype(dtype)).max)
    for number, node in enumerate(program.nodes):
        if node.op == "const" and abs(float(node.params[0])) > largest:
            reason = f"the constant overflows {dtype} (largest is {largest:.8g})"
            raise InputError(graph_shapes.where(program, number, reason))


def _directional(spec: GraphSpec) -> bool:
    return 2 * sum(a.size for a in spec.inputs.values()) > FD_FULL_FORWARDS


def _fd_along(spec: GraphSpec) -> bool:
    return "fd" in spec.options.backends and _directional(spec)


def _fd_forwards(spec: GraphSpec) -> int:
    if _directional(spec):
        return 2 * directional_fd.DIRECTIONS * len(spec.inputs)
    return 2 * sum(a.size for a in spec.inputs.values())


def _where(program: Program, number: int, shapes: list[tuple[int, ...]], reason: str) -> str:
    return graph_shapes.where(program, number, reason)


def run(spec: GraphSpec) -> Report:
    shapes = validate(spec)
    # the model of limits.graph_peak, checked in test_memory.py
    sizes = [graph_shapes.elements(shape) for shape in shapes]
    along = sum(a.size for a in spec.inputs.values()) if _fd_along(spec) else 0
    peak = limits.graph_peak(sizes, spec.options.backends, bool(spec.draws), along)
    limits.check_memory(peak, "the program", "use smaller inputs")
    program, options = spec.program, spec.options
    results: dict[str, BackendResult] = {}
    refs: list[core.NumericalReference] = []
    paths: dict[str, Any] = {}
    unreached: list[str] = []
    directional = "fd" in options.backends and _directional(spec)
    dirs = directional_fd.directions(
        {f"grads.{n}": a.shape for n, a in spec.inputs.items()}, spec.seed or 0
    )
    # fd's float64 shadow: the inputs as the checked dtype holds them, promoted
    shadow = {n: a.astype(options.dtype).astype(np.float64) for n, a in spec.inputs.items()}
    values64 = engine.forward(program, shadow, "float64")
    for name in options.backends:
        if name == "fd":
            arrays = {f"values.{n}": values64[node] for n, node in program.variables.items()}
            if directional:
                grads, refs = graph_fd.along(spec, shadow, dirs)
            else:
                describe = graph_fd.kink_describer(program, values64, shadow)
                grads, refs = graph_fd.full(spec, shadow, describe)
            arrays.update(grads)
            method = _DIRECTIONAL_METHOD if directional else _METHOD["fd"]
        else:
            arrays, extra = (_numpy if name == "numpy" else _torch)(spec)
            method = _METHOD[name]
            if name == "numpy":
                paths, unreached = extra["paths"], extra["unreached"]
            if directional:
                arrays = {**arrays, **directional_fd.project(arrays, dirs)}
        precision = "fd" if name == "fd" else options.dtype
        results[name] = BackendResult(name, method, precision, arrays)
    # what L's rounding is relative to (a loss that is 0 still rounds its terms)
    loss = graph_fd.loss_rounding_scale(program, shadow)
    scales = _scales(program, values64, results, loss)
    for q, v in dirs.items() if directional else ():
        largest = float(np.abs(v).reshape(len(v), -1).sum(axis=1).max())
        scales[directional_fd.projected_name(q)] = scales[q] * largest
    n_terms = max([1, *(n for s in shapes for n in s)])
    notes = [f"{name} does not reach the loss: its gradient is zero" for name in unreached]
    notes += graph_text.first_non_finite(program, results)
    if directional:
        notes.append(
            f"fd checked directional derivatives along {directional_fd.DIRECTIONS} random "
            "directions per input (⟨v, grad⟩ below), not every element: full central "
            f"differences would need {2 * sum(a.size for a in spec.inputs.values())} passes"
        )
    graph = graph_text.graph_lines(program, shapes)
    noise = functools.cache(
        lambda: graph_rounding.noise(program, shadow, options.dtype, dirs if directional else None)
    )
    # measured only where a comparison fails, and only if it fits beside the run
    available = limits.available_memory()
    noise_bytes = graph_rounding.BYTES_PER_ELEMENT * sum(sizes)
    measurable = available is None or peak + noise_bytes <= limits.MEMORY_SHARE * available
    return core.judge(
        core.Declaration(
            command="graph",
            title=f"graph of {len(program.statements)} statement"
            f"{'' if len(program.statements) == 1 else 's'}, loss = "
            f"{_loss_words(program, shapes)}, {options.dtype}",
            inputs=_inputs(spec),
            notes=tuple(notes),
            sections=(
                ("Graph (who feeds whom, by which operation)", tuple(graph[0])),
                *graph_text.path_sections(paths, results),
            ),
            extra={"graph": graph[1], "paths": paths},
            labels={
                **{f"values.{n}": f"{n} (value)" for n in program.variables},
                **{f"grads.{n}": f"∂L/∂{n} = {n}.grad" for n in program.variables},
            },
        ),
        results,
        [
            core.Quantity(
                q,
                scale,
                n_terms,
                rounding=(lambda q=q: noise()[q]) if measurable else None,  # type: ignore[misc]
            )
            for q, scale in scales.items()
        ],
        options=options,
        references_=refs,
    )


_METHOD = {"numpy": "VJP rules by hand", "torch": "autograd", "fd": "central differences"}
_DIRECTIONAL_METHOD = f"central differences along {directional_fd.DIRECTIONS} random directions"


def _numpy(spec: GraphSpec) -> tuple[dict[str, Array], dict[str, Any]]:
    program = spec.program
    values = engine.forward(program, spec.inputs, spec.options.dtype)
    grads, contributions = engine.backward(program, values)
    arrays: dict[str, Array] = {}
    unreached = []
    for name, node in program.variables.items():
        arrays[f"values.{name}"] = values[node]
        grad = grads[node]
        if grad is None:
            unreached.append(name)
            grad = np.zeros_like(values[node])
        arrays[f"grads.{name}"] = grad
    return arrays, {
        "paths": graph_text.paths(program, contributions, arrays),
        "unreached": unreached,
    }


def _torch(spec: GraphSpec) -> tuple[dict[str, Array], dict[str, Any]]:
    from gradcli.backends import autograd_graph

    return autograd_graph.graph(spec.program, spec.inputs, spec.options.dtype), {}


def _scales(
    program: Program, shadow: list[Array], results: dict[str, BackendResult], loss: float
) -> dict[str, float]:
    """values: the largest magnitude met on the way to them (float64 forward): a − mean(a)
    at a ≈ 1e3 rounds by ε·1e3, not by ε·|a − mean(a)|. Gradients: the largest of the
    reference side (fd if it ran, else torch, else numpy; never the side under test),
    and at least `loss` / max(1, spread of v), where `loss` is the magnitude L's rounding is
    relative to: a gradient that is exactly zero (the sum of a softmax) is then judged by
    the rounding of L, not by its own noise."""
    scales = {}
    reach: list[float] = []  # per node: the largest magnitude among it and its ancestors
    for number, op in enumerate(program.nodes):
        reach.append(max([_max_abs(shadow[number]), *[reach[a] for a in op.args]]))
    for name, node in program.variables.items():
        scales[f"values.{name}"] = max(reach[node], 1e-300)
    reference = next(b for b in ("fd", "torch", "numpy") if b in results)
    for name, node in program.variables.items():
        key = f"grads.{name}"
        ref = results[reference].arrays.get(key)
        if ref is None:  # fd has no gradients of intermediates: torch is their reference
            ref = next((r.arrays[key] for r in results.values() if key in r.arrays), None)
        largest = _max_abs(ref) if ref is not None else 0.0
        # L varies on the spread of v, not on |v|: a shifted input (a ≈ 1e4 + N(0, 1))
        # keeps the spread, and its gradients round on the scale of L's rounding over it
        natural = loss / max(1.0, _spread(shadow[node]))
        scales[key] = max(largest, natural, 1e-300)
    return scales


def _spread(a: Array) -> float:
    finite = a[np.isfinite(a)]
    return float(finite.max() - finite.min()) if finite.size > 1 else _max_abs(a)


def _max_abs(a: Array) -> float:
    finite = np.abs(a[np.isfinite(a)])
    return float(finite.max()) if finite.size else 0.0


def _loss_words(program: Program, shapes: list[tuple[int, ...]]) -> str:
    last = program.statements[-1][0]
    return last if not shapes[program.output] else f"sum({last})"


def _inputs(spec: GraphSpec) -> dict[str, Any]:
    return {
        "program": "; ".join(source for _, source in spec.program.statements),
        "values": dict(spec.inputs),
        "rand": list(spec.draws),
        "seed": spec.seed,
        "dtype": spec.options.dtype,
    }
