"""What the API's functions share: `--plot` checked before and drawn after, and
`gradcli.check`'s arguments, each checked once, here, for the API and the CLI alike
(the CLI parses its options into these and calls gradcli.check): the target first, one
derivative, the inputs (given, or drawn with their scale and distribution), the trial
to keep and the precision. Messages name the parameter as the caller spells it
(params.named: `shapes['x']` or `--shape x=`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from gradcli import params
from gradcli.errors import InputError

if TYPE_CHECKING:
    from gradcli.report import Report
    from gradcli.spec import CheckSpec

DISTS = ("normal", "uniform")
LOW_PRECISION = ("float16", "bfloat16")  # check alone runs your code in these
# The command line a plot is headed with (the CLI sets it around its call; the API: none)
PLOT_COMMAND: ContextVar[str | None] = ContextVar("gradcli_plot_command", default=None)


@dataclasses.dataclass(frozen=True)
class Inputs:
    """What gradcli.check takes for its inputs (one unnamed input is named "")."""

    x: Any = None
    shape: Any = None
    inputs: Mapping[str, Any] | None = None
    shapes: Mapping[str, Any] | None = None
    scale: Any = 1.0
    dist: Any = "normal"


def check_spec(
    forward: Any,
    derivatives: Mapping[str, Any],
    given: Inputs,
    *,
    trials: Any,
    seed: Any,
    trial: Any,
    explain: Any,
    taylor: Any,
    full: Any,
    debug: Any,
    dtype: Any,
    backends: Any,
    rtol: Any,
    atol: Any,
    **rest: Any,
) -> CheckSpec:
    """The CheckSpec of one gradcli.check call; `rest` is build()'s own (args, order,
    against, no_grad)."""
    from gradcli.commands.check.build import build
    from gradcli.commands.check.surrogate import parse as parse_surrogate
    from gradcli.commands.check.target import load
    from gradcli.specs import run_options

    if forward is None or not (callable(forward) or isinstance(forward, str)):
        raise InputError(
            f"forward {params.shown(forward)}: expected a function, a torch.autograd.Function "
            "or an nn.Module"
        )
    for value, name in ((full, "full"), (debug, "debug"), (taylor, "taylor")):
        if not isinstance(value, bool):
            raise InputError(f"{name} {params.shown(value)}: expected True or False")
    if isinstance(forward, str):
        load(forward, "TARGET", debug=debug)  # a bad target is said before any input
    chosen = {k: v for k, v in derivatives.items() if v is not None}
    if len(chosen) > 1:
        spelled = params.named("jacobian, vjp, grad and hvp", "--jacobian, --vjp, --grad and --hvp")
        raise InputError(f"give one of {spelled}")
    low = dtype in LOW_PRECISION
    options = dataclasses.replace(
        run_options(backends, "float64" if low else dtype, rtol, atol), dtype=dtype
    )
    args = rest.pop("args", None)
    if args is not None and not isinstance(args, Mapping):
        raise InputError("args must be a mapping of names, such as {'eps': 1e-5}")
    params.keys(args or {}, "args", dotted=False)
    seed = params.seed(seed, params.named("seed", "--seed"))
    trials = params.integer(trials, params.named("trials", "--trials"), 1, 100)
    arrays = trial_inputs(given, trials=trials, seed=seed)
    no_grad = params.names(rest.pop("no_grad", ()), params.named("no_grad", "--no-grad"))
    stubbed = tuple(rest.pop("stubbed", ()))
    surrogate = parse_surrogate(
        rest.pop("surrogate", None), params.named("surrogate", "--surrogate")
    )
    if surrogate is not None and taylor:
        raise InputError(
            f"{params.named('taylor', '--taylor')} tests the derivative, and a "
            f"{params.named('surrogate', '--surrogate')} is meant not to be it: give one"
        )
    spec = build(
        forward,
        chosen,
        inputs=arrays,
        seed=seed,
        full=full,
        debug=debug,
        options=options,
        args=args,
        no_grad=no_grad,
        **rest,
    )
    spec = dataclasses.replace(spec, taylor=taylor, stubbed=stubbed, surrogate=surrogate)
    if trial is not None:  # trial K alone, numbered K (so that its cotangent is drawn the same)
        where = params.named("trial", "--trial")
        k = params.integer(trial, where, 0, 99)
        if k >= len(spec.inputs):
            n = len(spec.inputs)
            raise InputError(f"{where} {k}: there are {n} trials, 0 to {n - 1}")
        spec = dataclasses.replace(spec, inputs=(spec.inputs[k],), first_trial=k)
    if explain is not None:  # explained in the run: fd's one-sided slopes need the forward
        spec = dataclasses.replace(
            spec, explain=params.explain(explain, params.named("explain", "--explain"))
        )
    return spec


def trial_inputs(given: Inputs, *, trials: int, seed: int) -> list[dict[str, Any]]:
    """One mapping name -> array per trial: the given ones, and the drawn ones (their
    scale and distribution by name, the key "" for every input not named)."""
    from gradcli.commands.check.build import draw

    for value, name in ((given.inputs, "inputs"), (given.shapes, "shapes")):
        if value is not None and not isinstance(value, Mapping):
            raise InputError(f"{name} must be a mapping of names, such as {{'x': ...}}")
        params.keys(value or {}, name)
    fixed = dict(given.inputs or {})
    drawn = {
        str(name): _shape(size, params.named(f"shapes[{name!r}]", f"--shape {name}="))
        for name, size in (given.shapes or {}).items()
    }
    twice = sorted(set(fixed) & set(drawn))
    if twice:
        both = params.named("in inputs and in shapes", "by --shape and --input")
        raise InputError(f"{', '.join(twice)} given both {both}: give one")
    if given.x is not None and given.shape is not None:
        shape, x = params.named("shape", "--shape"), params.named("x", "--input")
        raise InputError(f"the input given both by {shape} and {x}: give one")
    if given.x is not None:
        fixed[""] = given.x
    if given.shape is not None:
        drawn[""] = _shape(given.shape, params.named("shape", "--shape"))
    if not fixed and not drawn:
        raise InputError(
            params.named(
                "give x or shape (one input), or inputs/shapes by name",
                "give the input as --shape AxB (random) or --input FILE (one of them)",
            )
        )
    if "" in {*fixed, *drawn} and len(fixed) + len(drawn) > 1:
        example = params.named("shapes={'x': (8, 16)}", "--shape x=8x16 --input W=w.npy")
        raise InputError(f"with several inputs, name each one: {example}")
    scales = {name: _scale(value, name) for name, value in _by_name(given.scale, "scale").items()}
    dists = {name: _dist(value, name) for name, value in _by_name(given.dist, "dist").items()}
    if not drawn:
        if given.scale != 1.0 or given.dist != "normal":
            raise InputError(
                params.named(
                    "scale and dist are for inputs drawn with shape or shapes",
                    "--scale and --dist are for inputs drawn with --shape",
                )
            )
        return [fixed]
    return draw(drawn, trials=trials, seed=seed, scales=scales, dists=dists, fixed=fixed)


def _shape(value: Any, where: str) -> tuple[int, ...]:
    """Sizes joined by x or a sequence of them, by the rule of every shape option: at
    least one size (an empty shape is not an input to check)."""
    from gradcli.commands.check.build import MAX_CHECK_ELEMENTS

    if isinstance(value, str) and not value:
        raise InputError(f"{params.where(where, value)}: sizes joined by x, such as 5 or 4x6")
    return params.shape(value, where, MAX_CHECK_ELEMENTS)


def _by_name(value: Any, what: str) -> dict[str, Any]:
    """A value for every input ({"": value}), or a mapping name -> value."""
    if isinstance(value, Mapping):
        params.keys({k: v for k, v in value.items() if k != ""}, what)
        return {str(k): v for k, v in value.items()}
    return {"": value}


def _scale(value: Any, name: str) -> float:
    where = params.named(
        f"scale[{name!r}]" if name else "scale", f"--scale {name}=" if name else "--scale"
    )
    scale = params.number(value, where.rstrip("="))
    if scale < 0:
        raise InputError(f"{params.where(where, value)}: must be 0 or more")
    return scale


def _dist(value: Any, name: str) -> str:
    where = params.named(
        f"dist[{name!r}]" if name else "dist", f"--dist {name}=" if name else "--dist"
    )
    if not isinstance(value, str) or value not in DISTS:
        raise InputError(f"{params.where(where, value)}: one of {', '.join(DISTS)}")
    return value


def plot_fits(path: Any, peak: int | None = None, what: str = "") -> None:
    """Refuse a --plot path, a missing matplotlib, or a plot whose estimated peak
    (limits' model) would not fit, before anything is computed."""
    from gradcli import limits, params
    from gradcli.render.plot import check_plot_path

    where = params.named("plot", "--plot")
    check_plot_path(params.not_empty(path, where, "a .png or .svg file name"))
    if peak:
        limits.check_memory(
            peak, f"{where} of {what}", f"leave out {where}, or plot a smaller problem"
        )


def drawn(report: Report, plot: str | None) -> Report:
    if plot is not None:
        from gradcli.render.plot import save_plot

        save_plot(report, plot, PLOT_COMMAND.get())
    return report


def layer_plot_peak(spec: Any) -> int:
    from gradcli import limits

    rows = 1 if spec.x.ndim == 1 else spec.x.shape[0]
    per_row = rows * spec.w.shape[0]
    plotted = [8 * spec.w.size, 8 * spec.b.size, 8 * spec.x.size, 8 * per_row, 8 * per_row]
    elements = spec.w.size + spec.b.size + spec.x.size + 2 * per_row
    return limits.layer_peak(elements, plotted, spec.options.backends, plot=True)
