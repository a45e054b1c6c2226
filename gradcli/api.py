"""The library under the command line: each function returns the Report the CLI renders
(the per-backend arrays, the comparisons, `.ok`, `.to_json()`), and each takes every
option its command offers; the CLI parses its options and calls these, so the same
options give the same Report, and every decision (a limit, a draw, a precision) is made
once, here or below.

    >>> import gradcli
    >>> gradcli.softmax([3, 1, -3]).ok
    True

Every argument is checked at this boundary by the rules of gradcli.params (the ones the
CLI's options use): bad input raises gradcli.InputError (a ValueError) with the CLI's
message, never a TypeError, MemoryError or SystemExit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from gradcli.api_check import CHECK_BACKENDS, check
from gradcli.arguments import drawn as _drawn
from gradcli.arguments import layer_plot_peak, plot_fits
from gradcli.errors import InputError
from gradcli.specs import graph_spec, layer_spec, run_options, softmax_spec

if TYPE_CHECKING:
    from gradcli.limits import Allocate
    from gradcli.report import Report

ALL_BACKENDS = ("numpy", "torch", "fd")
__all__ = ["ALL_BACKENDS", "CHECK_BACKENDS", "check", "graph", "layer", "softmax"]


def softmax(
    z: Any,
    *,
    temperature: float = 1.0,
    explain: str | None = None,
    dtype: str = "float64",
    backends: Iterable[str] = ALL_BACKENDS,
    rtol: float | None = None,
    atol: float | None = None,
    plot: str | None = None,
    allocate: Allocate | None = None,
) -> Report:
    """The softmax s = softmax(z / T) and its Jacobian, checked three ways.

    As ``gradcli softmax``: J from the formulas in numpy, from torch autograd and from
    central finite differences, every pair compared, and the laws of J checked (it is
    symmetric, its rows sum to 0, s sums to 1).

    Parameters
    ----------
    z : array_like
        The logits: a non-empty vector of real, finite numbers.
    temperature : float
        T in softmax(z / T), from 1e-8 to 1e8.
    explain : str, optional
        One entry of J to explain with its numbers, such as ``"J[0,1]"``.
    dtype : {"float64", "float32"}
        The precision of numpy and torch (fd always works in float64).
    backends : iterable of str or str
        Some of "numpy", "torch", "fd" (or one string "numpy,fd").
    rtol, atol : float, optional
        Tolerances for every comparison (default: by precision and scale).
    plot : str, optional
        Draw the results and their differences to this .png or .svg file
        (needs matplotlib: ``pip install 'gradcli[plot]'``).
    allocate : callable, optional
        Makes each backend's Jacobian, as ``allocate(key, shape, dtype)``; the CLI's
        ``--save`` passes its file's, so that large Jacobians are computed into it.

    Returns
    -------
    Report
        ``.ok``, ``.verdict``, ``.results[backend].arrays``, ``.comparisons``,
        ``.to_json()``.

    Raises
    ------
    gradcli.InputError
        A bad argument, with the message the CLI gives for the same option.

    Examples
    --------
    >>> import gradcli
    >>> report = gradcli.softmax([3, 1, -3], backends=["numpy", "fd"])
    >>> report.ok
    True
    >>> report.results["numpy"].arrays["softmax"].round(4)
    array([0.8789, 0.1189, 0.0022])
    """
    from gradcli import params
    from gradcli.commands.softmax import problem
    from gradcli.explanations import with_explanation
    from gradcli.limits import in_memory

    spec = softmax_spec(z, temperature, run_options(backends, dtype, rtol, atol))
    if explain is not None:
        from gradcli.commands.softmax.explain import parse_target

        # a bad entry fails before any work
        parse_target(params.explain(explain, params.named("explain", "--explain")), spec.z.size)
    if plot is not None:
        from gradcli import limits

        n = spec.z.size
        plot_fits(
            plot, limits.softmax_peak(n, spec.options.backends, plot=True), f"{n}×{n} Jacobians"
        )
    report = with_explanation(problem.run(spec, allocate or in_memory), explain)
    return _drawn(report, plot)


def layer(
    w: Any = None,
    b: Any = None,
    x: Any = None,
    loss: str | None = None,
    *,
    target: Any = None,
    targets: Iterable[int] | None = None,
    index: int | None = None,
    spec: Any = None,
    explain: str | None = None,
    fd_mode: str = "auto",
    seed: int | None = None,
    in_features: int = 3,
    out_features: int = 3,
    batch: int | None = None,
    dtype: str | None = None,
    backends: Iterable[str] = ALL_BACKENDS,
    rtol: float | None = None,
    atol: float | None = None,
    plot: str | None = None,
) -> Report:
    """A softmax layer z = W·x + b, s = softmax(z), a loss L(s): dW, db, dx three ways.

    As ``gradcli layer``: numpy follows the chain rule by hand, torch uses autograd,
    fd perturbs every parameter (or, for large layers, 8 random directions).

    Parameters
    ----------
    w, b, x : array_like, optional
        W (out, in), b (out,) and x (in,) or (batch, in). Without all three, they are
        drawn from `seed` with the sizes given, as the CLI draws them.
    loss : {"ce", "mse", "sum", "output"}, optional
        Cross-entropy (the default), mean squared error, L = Σ s, or L = s_k.
    target : int or array_like, optional
        ce: the class (default 0); mse: y (drawn from the seed when W, b, x are).
    targets : sequence of int, optional
        ce with a batch: one class per row.
    index : int, optional
        output: k in L = s_k (default 0).
    spec : mapping or str, optional
        W, b, x (and loss, dtype) from a document ``{"W", "b", "x", "loss"}`` or a
        ``gradcli layer --json`` output, or the path of a JSON file holding one; `loss`,
        `target`, `targets`, `index` and `dtype` given beside it override its own.
    explain : str, optional
        Show the chain rule for one entry: ``"W[i,j]"``, ``"b[i]"``, ``"x[j]"``.
    fd_mode : {"auto", "full", "directional"}
        fd on every element, along 8 random directions, or full unless too costly.
    seed : int, optional
        The seed of W, b, x (and an mse target) when they are drawn (default 0).
    in_features, out_features, batch : int
        The sizes drawn (batch None: one vector x).
    dtype : {"float64", "float32"}, optional
        The precision of numpy and torch (default float64, or the one `spec` names).
    backends, rtol, atol, plot
        As for :func:`softmax`.

    Returns
    -------
    Report
        With ``.explanation`` when `explain` is given.

    Raises
    ------
    gradcli.InputError
        A bad argument, shapes that do not fit, a class out of range.

    Examples
    --------
    >>> import numpy as np, gradcli
    >>> report = gradcli.layer(np.eye(2), [0, 0], [1, 0], loss="mse", target=[0.5, 0.5])
    >>> report.ok
    True
    >>> gradcli.layer(seed=42, loss="output", explain="W[0,0]").explanation is not None
    True
    """
    from gradcli import params
    from gradcli.commands.layer import problem
    from gradcli.specs import layer_document, layer_loss

    overrides = {"target": target, "targets": targets, "index": index}
    chosen: Any = "ce" if loss is None else loss  # the loss's kind, or the spec's LossSpec
    if spec is not None:
        given = [n for n, v in (("W", w), ("b", b), ("x", x), ("seed", seed)) if v is not None]
        if given:
            where = params.named("spec", "--spec")
            raise InputError(f"{where} gives W, b and x: {', '.join(given)} cannot be used with it")
        document = layer_document(spec)
        w, b, x, dtype = document["W"], document["b"], document["x"], dtype or document["dtype"]
        chosen = layer_loss(document["loss"], loss, overrides)
        overrides = dict.fromkeys(overrides)  # in the spec's loss now
    built = layer_spec(
        w, b, x, chosen, **overrides, explain=explain, fd_mode=fd_mode,
        options=run_options(backends, dtype or "float64", rtol, atol), seed=seed,
        sizes=(in_features, out_features, batch),
    )  # fmt: skip
    if plot is not None:
        plot_fits(plot, layer_plot_peak(built), "the layer's gradients")
    return _drawn(problem.run(built), plot)


def graph(
    program: str,
    inputs: Mapping[str, Any] | None = None,
    *,
    rand: Mapping[str, Any] | None = None,
    seed: int = 0,
    explain: str | None = None,
    dot: str | None = None,
    dtype: str = "float64",
    backends: Iterable[str] = ALL_BACKENDS,
    rtol: float | None = None,
    atol: float | None = None,
    plot: str | None = None,
) -> Report:
    """Every named variable's value and gradient in a small tensor program, three ways.

    As ``gradcli graph``: the program is statements ``name = expression`` separated by
    ``;`` or newlines, in PyTorch's tensor semantics; it is parsed, never evaluated. The
    loss is the sum of the last statement's value.

    Parameters
    ----------
    program : str
        The program's text, such as ``"b = a.sum(0, keepdim=True); y = (a / b).sum()"``.
    inputs : mapping of str to array_like, optional
        Inputs given by value.
    rand : mapping of str to str or shape, optional
        Inputs drawn by torch after ``torch.manual_seed(seed)``, in order: a shape
        ("4x10", (4, 10)) for torch.rand, or "4x10:normal" for torch.randn.
    seed : int
        The seed of the `rand` inputs.
    explain : str, optional
        Where a gradient comes from: each use of a variable (``"a"``, ``"a[0,0]"``).
    dot : str, optional
        Also write the graph to this file as Graphviz text (``dot -Tsvg FILE``).
    dtype, backends, rtol, atol, plot
        As for :func:`softmax`.

    Returns
    -------
    Report
        ``.results[backend].arrays["grads.a"]`` is the gradient of the loss in ``a``.

    Raises
    ------
    gradcli.InputError
        A program that does not parse, shapes that do not fit, an unknown name.

    Examples
    --------
    >>> import gradcli
    >>> report = gradcli.graph("y = (a * a).sum()", {"a": [1.0, 2.0]})
    >>> report.results["numpy"].arrays["grads.a"]
    array([2., 4.])
    """
    from gradcli import params
    from gradcli.commands.graph import problem
    from gradcli.explanations import with_explanation

    options = run_options(backends, dtype, rtol, atol)
    spec = graph_spec(program, inputs, options, rand=rand, seed=seed)
    if explain is not None:
        from gradcli.entries import parse_target

        entry = params.explain(explain, params.named("explain", "--explain"))
        parse_target(entry, list(spec.program.variables))  # before any work
    if dot is not None:
        from gradcli.save import check_distinct

        where = params.named("dot", "--dot")
        params.not_empty(dot, where, "a file name")
        check_distinct({where: dot, params.named("plot", "--plot"): plot})
    if plot is not None:  # the model of limits.graph_plot_peak, checked in test_memory.py
        from gradcli import limits
        from gradcli.commands.graph.shapes import elements

        sizes = [elements(shape) for shape in problem.validate(spec)]
        peak = limits.graph_plot_peak(sizes, spec.options.backends, bool(spec.draws))
        plot_fits(plot, peak, "the program's gradients")
    report = with_explanation(problem.run(spec), explain)
    if dot is not None:
        from gradcli.render.graph_picture import save_dot

        save_dot(report, dot)
    return _drawn(report, plot)
