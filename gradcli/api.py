"""The library under the command line: each function returns the same Report the CLI
renders, with the per-backend arrays, the comparisons, `.ok` and `.to_json()`.

    >>> import gradcli
    >>> report = gradcli.softmax([3, 1, -3])
    >>> report.ok
    True

Every argument is checked here, at the boundary, by the rules of gradcli.params (the
ones the CLI's options use): bad input raises gradcli.InputError (a ValueError) with
the CLI's message, never a TypeError, MemoryError or SystemExit. The CLI builds its
specs with the same `*_spec` functions (gradcli.specs), so the same options give the
same Report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from gradcli.specs import graph_spec, layer_spec, run_options, softmax_spec

if TYPE_CHECKING:
    from gradcli.report import Report
    from gradcli.spec import RunOptions

ALL_BACKENDS = ("numpy", "torch", "fd")


def softmax(
    z: Any,
    *,
    temperature: float = 1.0,
    dtype: str = "float64",
    backends: Iterable[str] = ALL_BACKENDS,
    rtol: float | None = None,
    atol: float | None = None,
) -> Report:
    """s = softmax(z / T) and its Jacobian through the backends (as `gradcli softmax`)."""
    from gradcli.commands.softmax import problem

    return problem.run(softmax_spec(z, temperature, run_options(backends, dtype, rtol, atol)))


def layer(
    w: Any = None,
    b: Any = None,
    x: Any = None,
    loss: str = "ce",
    *,
    target: Any = None,
    targets: Iterable[int] | None = None,
    index: int | None = None,
    explain: str | None = None,
    fd_mode: str = "auto",
    seed: int | None = None,
    in_features: int = 3,
    out_features: int = 3,
    batch: int | None = None,
    dtype: str = "float64",
    backends: Iterable[str] = ALL_BACKENDS,
    rtol: float | None = None,
    atol: float | None = None,
) -> Report:
    """A softmax layer z = W·x + b and the gradients of its loss (as `gradcli layer`).

    `target` is the class for ce and y (array-like) for mse; `targets` one class per row.
    Without W, b and x, they are drawn from `seed` with the given sizes, as the CLI does.
    """
    from gradcli.commands.layer import problem

    spec = layer_spec(
        w, b, x, loss,
        target=target, targets=targets, index=index, explain=explain, fd_mode=fd_mode,
        options=run_options(backends, dtype, rtol, atol), seed=seed,
        sizes=(in_features, out_features, batch),
    )  # fmt: skip
    return problem.run(spec)


def graph(
    program: str,
    inputs: Mapping[str, Any] | None = None,
    *,
    rand: Mapping[str, Any] | None = None,
    seed: int = 0,
    dtype: str = "float64",
    backends: Iterable[str] = ALL_BACKENDS,
    rtol: float | None = None,
    atol: float | None = None,
) -> Report:
    """Every named variable's value and gradient in `program` (as `gradcli graph`).

    `inputs` maps names to arrays; `rand` maps names to shapes ("4x10", "4x10:normal"),
    drawn as `--rand` draws them after torch.manual_seed(seed).
    """
    from gradcli.commands.graph import problem

    options = run_options(backends, dtype, rtol, atol)
    return problem.run(graph_spec(program, inputs, options, rand=rand, seed=seed))


def check_spec(
    target: Any,
    derivatives: Mapping[str, Any],
    *,
    inputs: Iterable[Any],
    seed: int = 0,
    full: bool = False,
    debug: bool = False,
    options: Any = None,
    args: Mapping[str, Any] | None = None,
    order: int = 1,
    against: Any = None,
    no_grad: Iterable[str] = (),
) -> Any:
    """A CheckSpec from objects or `path.py:name` strings (the CLI passes strings);
    `inputs` holds one array, or one mapping name -> array, per trial."""
    from gradcli.commands.check.build import build

    return build(
        target,
        derivatives,
        inputs=inputs,
        seed=seed,
        full=full,
        debug=debug,
        options=options,
        args=args,
        order=order,
        against=against,
        no_grad=no_grad,
    )


def check(
    forward: Any,
    *,
    jacobian: Any = None,
    vjp: Any = None,
    grad: Any = None,
    hvp: Any = None,
    x: Any = None,
    shape: tuple[int, ...] | None = None,
    inputs: Mapping[str, Any] | None = None,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    args: Mapping[str, Any] | None = None,
    seed: int = 0,
    trials: int = 3,
    scale: float = 1.0,
    full: bool = False,
    dtype: str = "float64",
    backends: Iterable[str] = ALL_BACKENDS,
    rtol: float | None = None,
    atol: float | None = None,
    taylor: bool = False,
    order: int = 1,
    against: Any = None,
    no_grad: Iterable[str] = (),
) -> Report:
    """Your derivative against autograd and finite differences (as `gradcli check`).

    `forward` is a function of one or more arrays (or a torch.autograd.Function class,
    whose backward is checked, or an nn.Module, whose parameters and inputs are); give
    one of `jacobian`, `vjp`, `grad`. One input: `x`, or `trials` arrays of `shape`
    drawn from `seed` (scale·N(0, 1)). Several: `inputs` (name -> array, fixed) and
    `shapes` (name -> shape, drawn); `args` are non-array arguments by keyword;
    `no_grad`: inputs passed to your code but not differentiated (a mask, an index).
    `taylor`: also the Taylor test (the remainder's rate as h halves: 2 right, 1 wrong).
    Second order: `order=2` checks a Function's backward's own derivative (as
    gradgradcheck); `hvp=FN` checks FN(x, v) = H·v of a scalar forward. `against`: a
    library function (or its dotted path) whose forward and autograd are one more
    reference.
    """
    import dataclasses

    from gradcli.commands.check import problem
    from gradcli.commands.check.build import draw
    from gradcli.errors import InputError

    if forward is None or not (callable(forward) or isinstance(forward, str)):
        from gradcli.params import shown

        raise InputError(
            f"forward {shown(forward)}: expected a function, a torch.autograd.Function or an "
            "nn.Module"
        )
    low = dtype in ("float16", "bfloat16")  # check alone runs your code in these
    options, shape, seed, trials = _check_arguments(
        shape, seed, trials, full, backends, "float64" if low else dtype, rtol, atol
    )
    options = dataclasses.replace(options, dtype=dtype)
    for value, name in ((inputs, "inputs"), (shapes, "shapes"), (args, "args")):
        if value is not None and not isinstance(value, Mapping):
            raise InputError(f"{name} must be a mapping of names, such as {{'x': ...}}")
    if not isinstance(taylor, bool):
        raise InputError(f"taylor must be True or False, got {taylor!r}"[:120])
    from gradcli import params

    params.keys(inputs or {}, "inputs")
    params.keys(shapes or {}, "shapes")
    params.keys(args or {}, "args", dotted=False)
    twice = sorted(set(inputs or {}) & set(shapes or {}))
    if twice:
        raise InputError(f"{', '.join(twice)} given both in inputs and in shapes: give one")
    fixed = dict(inputs or {})
    drawn = {str(name): params_shape(s, f"shapes[{name!r}]") for name, s in (shapes or {}).items()}
    scale = _scale(scale)
    if x is not None:
        fixed[""] = x
    if shape is not None:
        drawn[""] = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if not fixed and not drawn:
        raise InputError("give x or shape (one input), or inputs/shapes by name")
    if x is not None and shape is not None:
        raise InputError("give x, or shape for random inputs (one of them)")
    if drawn:
        arrays = draw(drawn, trials=trials, seed=seed, scales={"": scale}, fixed=fixed)
    else:
        arrays = [fixed]
    derivatives = {
        k: v
        for k, v in (("jacobian", jacobian), ("vjp", vjp), ("grad", grad), ("hvp", hvp))
        if v is not None
    }
    spec = check_spec(
        forward,
        derivatives,
        inputs=arrays,
        seed=seed,
        full=full,
        options=options,
        args=args,
        order=order,
        against=against,
        no_grad=params.names(no_grad, "no_grad"),
    )
    return problem.run(dataclasses.replace(spec, taylor=taylor))


MAX_CHECK_ELEMENTS = 10_000_000


def params_shape(shape: Any, name: str = "shape") -> tuple[int, ...]:
    from gradcli import params

    return params.shape(shape, name, MAX_CHECK_ELEMENTS)


def _scale(value: Any) -> float:
    from gradcli import params
    from gradcli.errors import InputError

    scale = params.number(value, "scale")
    if scale < 0:
        raise InputError(f"{params.where('scale', value)}: must be 0 or more")
    return scale


def _check_arguments(
    shape: Any, seed: Any, trials: Any, full: Any, backends: Any, dtype: Any, rtol: Any, atol: Any
) -> tuple[RunOptions, tuple[int, ...] | None, int, int]:
    """check's own parameters, by the rules its options use (numbers may be given as the
    strings the command line passes). `backends` is what the derivative is checked
    against, as `--backend` is: the same options as the CLI, refused (numpy alone) by
    the same problem code."""
    from gradcli import params
    from gradcli.errors import InputError

    checked_shape = None if shape is None else params_shape(shape)
    if not isinstance(full, bool):
        raise InputError(f"full {params.shown(full)}: expected True or False")
    return (
        run_options(backends, dtype, rtol, atol),
        checked_shape,
        params.seed(seed),
        params.integer(trials, "trials", 1, 100),
    )
