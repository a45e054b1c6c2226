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
    from gradcli.problems import softmax as problem

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
    from gradcli.problems import layer as problem

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
    from gradcli.problems import graph as problem

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
) -> Any:
    """A CheckSpec from objects or `path.py:name` strings (the CLI passes strings)."""
    from gradcli.errors import InputError
    from gradcli.problems import check_target
    from gradcli.spec import CheckSpec, RunOptions

    forward = (
        check_target.load(target, "TARGET", debug=debug) if isinstance(target, str) else target
    )
    if len(derivatives) > 1:
        raise InputError("give one of jacobian, vjp and grad")
    if derivatives:
        mode, derivative = next(iter(derivatives.items()))
        if isinstance(derivative, str):
            if ":" not in derivative and isinstance(target, str):  # a name in TARGET's module
                derivative = f"{target.rpartition(':')[0]}:{derivative}"
            derivative = check_target.load(derivative, f"--{mode}", debug=debug)
        if not callable(derivative):
            raise InputError(f"the {mode} to check is not callable")
    elif isinstance(forward, type) and hasattr(forward, "apply") and hasattr(forward, "backward"):
        mode, derivative, forward = "function", forward, None
    else:
        raise InputError("give --jacobian, --vjp or --grad, or a torch.autograd.Function as TARGET")
    if forward is not None and not callable(forward):
        raise InputError("TARGET is not callable")
    from gradcli.arrays import real_array

    arrays = tuple(real_array(x, "x") for x in inputs)
    if not arrays or any(a.size == 0 for a in arrays):
        raise InputError("x must be a non-empty array")
    names = {
        "target": target if isinstance(target, str) else _name(target),
        "derivative": next(iter(derivatives.values()), "backward") if derivatives else "backward",
    }
    names = {k: v if isinstance(v, str) else _name(v) for k, v in names.items()}
    return CheckSpec(
        forward, derivative, mode, arrays, names, seed, full, debug, options or RunOptions()
    )


def _name(obj: Any) -> str:
    return str(getattr(obj, "__qualname__", getattr(obj, "__name__", type(obj).__name__)))


def check(
    forward: Any,
    *,
    jacobian: Any = None,
    vjp: Any = None,
    grad: Any = None,
    x: Any = None,
    shape: tuple[int, ...] | None = None,
    seed: int = 0,
    trials: int = 3,
    full: bool = False,
    dtype: str = "float64",
    backends: Iterable[str] = ALL_BACKENDS,
    rtol: float | None = None,
    atol: float | None = None,
) -> Report:
    """Your derivative against autograd and finite differences (as `gradcli check`).

    `forward` is a function of one array (or a torch.autograd.Function class, whose
    backward is checked); give one of `jacobian`, `vjp`, `grad`; the input is `x`, or
    `trials` standard normal arrays of `shape` drawn from `seed`.
    """
    import numpy as np

    from gradcli.errors import InputError
    from gradcli.problems import check as problem

    options, shape, seed, trials = _check_arguments(
        shape, seed, trials, full, backends, dtype, rtol, atol
    )
    if (x is None) == (shape is None):
        raise InputError("give x, or shape for random inputs (one of them)")
    if x is not None:
        inputs = [x]
    else:
        rng = np.random.default_rng(seed)
        inputs = [rng.standard_normal(shape) for _ in range(trials)]
    derivatives = {
        k: v for k, v in (("jacobian", jacobian), ("vjp", vjp), ("grad", grad)) if v is not None
    }
    spec = check_spec(forward, derivatives, inputs=inputs, seed=seed, full=full, options=options)
    return problem.run(spec)


MAX_CHECK_ELEMENTS = 10_000_000


def params_shape(shape: Any) -> tuple[int, ...]:
    from gradcli import params

    return params.shape(shape, "shape", MAX_CHECK_ELEMENTS)


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
