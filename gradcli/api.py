"""The library under the command line: each function returns the same Report the CLI
renders, with the per-backend arrays, the comparisons, `.ok` and `.to_json()`.

    >>> import gradcli
    >>> report = gradcli.softmax([3, 1, -3])
    >>> report.ok
    True

Bad input raises gradcli.InputError (a ValueError) with the CLI's message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradcli.report import Report

ALL_BACKENDS = ("numpy", "torch", "fd")


def _options(backends: Iterable[str], dtype: str, rtol: float | None, atol: float | None) -> Any:
    from gradcli.errors import InputError
    from gradcli.names import BACKENDS, DTYPES
    from gradcli.spec import RunOptions

    chosen = tuple(b for b in BACKENDS if b in set(backends))
    unknown = set(backends) - set(BACKENDS)
    if unknown or not chosen:
        raise InputError(f"backends must be some of {', '.join(BACKENDS)}, got {list(backends)}")
    if dtype not in DTYPES:
        raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return RunOptions(chosen, dtype, rtol, atol)


def _array(value: Any, name: str) -> Any:
    import numpy as np

    from gradcli.errors import InputError

    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: not an array of numbers ({exc})") from None
    if not np.isfinite(array).all():
        raise InputError(f"{name}: holds values that are not finite")
    return array


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
    from gradcli.spec import SoftmaxSpec

    spec = SoftmaxSpec(_array(z, "z"), float(temperature), _options(backends, dtype, rtol, atol))
    return problem.run(spec)


def layer(
    w: Any,
    b: Any,
    x: Any,
    loss: str = "ce",
    *,
    target: Any = None,
    targets: Iterable[int] | None = None,
    index: int | None = None,
    explain: str | None = None,
    fd_mode: str = "auto",
    dtype: str = "float64",
    backends: Iterable[str] = ALL_BACKENDS,
    rtol: float | None = None,
    atol: float | None = None,
) -> Report:
    """A softmax layer z = W·x + b and the gradients of its loss (as `gradcli layer`).

    `target` is the class for ce and y (array-like) for mse; `targets` one class per row.
    """
    from gradcli.problems import layer as problem
    from gradcli.problems.layer_inputs import build_loss
    from gradcli.spec import LayerSpec

    y = None if target is None or loss != "mse" else _array(target, "target").tolist()
    loss_spec = build_loss(
        loss,
        target=y if loss == "mse" else target,
        targets=None if targets is None else list(targets),
        index=index,
    )
    options = _options(backends, dtype, rtol, atol)
    arrays = (_array(w, "W"), _array(b, "b"), _array(x, "x"))
    return problem.run(LayerSpec(*arrays, loss_spec, None, explain, options, fd_mode))


def graph(
    program: str,
    inputs: Mapping[str, Any],
    *,
    dtype: str = "float64",
    backends: Iterable[str] = ALL_BACKENDS,
    rtol: float | None = None,
    atol: float | None = None,
) -> Report:
    """Every named variable's value and gradient in `program` (as `gradcli graph`)."""
    from gradcli.problems import graph as problem
    from gradcli.problems.graph_parse import parse_program
    from gradcli.spec import GraphSpec

    arrays = {name: _array(value, name) for name, value in inputs.items()}
    spec = GraphSpec(
        parse_program(program, tuple(arrays)),
        arrays,
        options=_options(backends, dtype, rtol, atol),
    )
    return problem.run(spec)


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
) -> Any:
    """A CheckSpec from objects or `path.py:name` strings (the CLI passes strings);
    `inputs` holds one array, or one mapping name -> array, per trial."""
    from gradcli.problems.check_build import build

    return build(
        target,
        derivatives,
        inputs=inputs,
        seed=seed,
        full=full,
        debug=debug,
        options=options,
        args=args,
    )


def check(
    forward: Any,
    *,
    jacobian: Any = None,
    vjp: Any = None,
    grad: Any = None,
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
) -> Report:
    """Your derivative against autograd and finite differences (as `gradcli check`).

    `forward` is a function of one or more arrays (or a torch.autograd.Function class,
    whose backward is checked, or an nn.Module, whose parameters and inputs are); give
    one of `jacobian`, `vjp`, `grad`. One input: `x`, or `trials` arrays of `shape`
    drawn from `seed` (scale·N(0, 1)). Several: `inputs` (name -> array, fixed) and
    `shapes` (name -> shape, drawn); `args` are non-array arguments by keyword.
    """
    import dataclasses

    from gradcli.errors import InputError
    from gradcli.problems import check as problem
    from gradcli.problems.check_build import draw

    fixed = dict(inputs or {})
    drawn = dict(shapes or {})
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
        k: v for k, v in (("jacobian", jacobian), ("vjp", vjp), ("grad", grad)) if v is not None
    }
    chosen = [b if b != "numpy" else "yours" for b in backends]
    options = _options([b for b in chosen if b != "yours"] or ["fd"], dtype, rtol, atol)
    spec = check_spec(
        forward, derivatives, inputs=arrays, seed=seed, full=full, options=options, args=args
    )
    return problem.run(dataclasses.replace(spec, taylor=bool(taylor)))
