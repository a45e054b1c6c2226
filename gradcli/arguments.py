"""What the API's functions share: `--plot` checked before and drawn after, and
`gradcli.check`'s arguments, each checked once, here, for the API and the CLI alike
(the CLI parses its options into these and calls gradcli.check): the target first, one
derivative, the inputs (given, or drawn with their scale and distribution: check_inputs),
the trial to keep, the precision, and the worker processes (`jobs`, `timeout`). A check
in this process gets a CheckSpec (`check_spec`, which imports the code), one in worker
processes a Request (`check_request`, which never does). Messages name the parameter as
the caller spells it (params.named: `shapes['x']` or `--shape x=`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from gradcli import params
from gradcli.check_inputs import Inputs, trial_inputs
from gradcli.errors import InputError

if TYPE_CHECKING:
    from gradcli.commands.check.supervisor import Request
    from gradcli.commands.check.surrogate import Surrogate
    from gradcli.report import Report
    from gradcli.spec import CheckSpec, RunOptions

LOW_PRECISION = ("float16", "bfloat16")  # check alone runs your code in these
MAX_JOBS = 64  # worker processes of one check
# The command line a plot is headed with (the CLI sets it around its call; the API: none)
PLOT_COMMAND: ContextVar[str | None] = ContextVar("gradcli_plot_command", default=None)


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
    from gradcli.commands.check.target import load

    if forward is None or not (callable(forward) or isinstance(forward, str)):
        raise InputError(
            f"forward {params.shown(forward)}: expected a function, a torch.autograd.Function "
            "or an nn.Module"
        )
    _flags(full=full, debug=debug, taylor=taylor)
    if isinstance(forward, str):
        load(forward, "TARGET", debug=debug)  # a bad target is said before any input
    checked = _checked(
        derivatives, given, trials=trials, seed=seed, dtype=dtype, backends=backends,
        rtol=rtol, atol=atol, args=rest.pop("args", None), no_grad=rest.pop("no_grad", ()),
        surrogate=rest.pop("surrogate", None), taylor=taylor,
    )  # fmt: skip
    stubbed = tuple(rest.pop("stubbed", ()))
    spec = build(
        forward,
        checked.derivatives,
        inputs=checked.inputs,
        seed=checked.seed,
        full=full,
        debug=debug,
        options=checked.options,
        args=checked.args,
        no_grad=checked.no_grad,
        **rest,
    )
    spec = dataclasses.replace(spec, taylor=taylor, stubbed=stubbed, surrogate=checked.surrogate)
    k = _trial(trial, len(spec.inputs))
    if k is not None:  # trial K alone, numbered K (so that its cotangent is drawn the same)
        spec = dataclasses.replace(spec, inputs=(spec.inputs[k],), first_trial=k)
    if explain is not None:  # explained in the run: fd's one-sided slopes need the forward
        spec = dataclasses.replace(spec, explain=_explain(explain))
    return spec


def check_request(
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
    args: Any = None,
    order: Any = 1,
    against: Any = None,
    no_grad: Any = (),
    stubbed: tuple[str, ...] = (),
    surrogate: Any = None,
) -> Request:
    """gradcli.check(worker=True)'s request: the same arguments as `check_spec`, checked
    by the same rules, with the code named ("path.py:name") and never imported here (the
    worker builds the spec: its errors come back as one line)."""
    from gradcli.commands.check.supervisor import Request

    named = [forward, *(d for d in derivatives.values() if d is not None)]
    if not all(isinstance(n, str) for n in [*named, *([] if against is None else [against])]):
        raise InputError(
            "worker=True runs code by name: give forward, the derivative and against as "
            "'path.py:name' strings"
        )
    _flags(full=full, debug=debug, taylor=taylor)
    checked = _checked(
        derivatives, given, trials=trials, seed=seed, dtype=dtype, backends=backends,
        rtol=rtol, atol=atol, args=args, no_grad=no_grad, surrogate=surrogate, taylor=taylor,
    )  # fmt: skip
    k = _trial(trial, len(checked.inputs))
    return Request(
        forward,
        {name: str(fn) for name, fn in checked.derivatives.items()},
        checked.inputs if k is None else [checked.inputs[k]],
        seed=checked.seed,
        full=full,
        debug=debug,
        options=checked.options,
        args=dict(checked.args or {}),
        order=order,
        against=against,
        no_grad=checked.no_grad,
        taylor=taylor,
        explain=None if explain is None else _explain(explain),
        first_trial=k or 0,
        as_options=params.named("", "cli") == "cli",
        stubbed=stubbed,
        surrogate=checked.surrogate,
    )


def workers(jobs: Any, timeout: Any) -> tuple[int, float | None]:
    """gradcli.check's `jobs` (1 to MAX_JOBS worker processes) and `timeout` (seconds a
    request may take: a finite number above 0, or None for no limit)."""
    count = params.integer(jobs, params.named("jobs", "--jobs"), 1, MAX_JOBS)
    if timeout is None:
        return count, None
    where = params.named("timeout", "--timeout")
    seconds = params.number(timeout, where)
    if seconds <= 0:
        raise InputError(f"{params.where(where, timeout)}: must be more than 0 seconds")
    return count, seconds


@dataclasses.dataclass(frozen=True)
class _Checked:
    """What check_spec and check_request share, checked."""

    derivatives: dict[str, Any]
    options: RunOptions
    args: Mapping[str, Any] | None
    seed: int
    inputs: list[dict[str, Any]]
    no_grad: tuple[str, ...]
    surrogate: Surrogate | None = None


def _flags(**flags: Any) -> None:
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise InputError(f"{name} {params.shown(value)}: expected True or False")


def _checked(
    derivatives: Mapping[str, Any],
    given: Inputs,
    *,
    trials: Any,
    seed: Any,
    dtype: Any,
    backends: Any,
    rtol: Any,
    atol: Any,
    args: Any,
    no_grad: Any,
    surrogate: Any = None,
    taylor: bool = False,
) -> _Checked:
    from gradcli.commands.check.surrogate import parse as parse_surrogate
    from gradcli.specs import run_options

    chosen = {k: v for k, v in derivatives.items() if v is not None}
    if len(chosen) > 1:
        spelled = params.named("jacobian, vjp, grad and hvp", "--jacobian, --vjp, --grad and --hvp")
        raise InputError(f"give one of {spelled}")
    low = dtype in LOW_PRECISION
    options = dataclasses.replace(
        run_options(backends, "float64" if low else dtype, rtol, atol), dtype=dtype
    )
    if args is not None and not isinstance(args, Mapping):
        raise InputError("args must be a mapping of names, such as {'eps': 1e-5}")
    params.keys(args or {}, "args", dotted=False)
    seed = params.seed(seed, params.named("seed", "--seed"))
    trials = params.integer(trials, params.named("trials", "--trials"), 1, 100)
    arrays = trial_inputs(given, trials=trials, seed=seed)
    names = params.names(no_grad, params.named("no_grad", "--no-grad"))
    where = params.named("surrogate", "--surrogate")
    surrogate = parse_surrogate(surrogate, where)
    if surrogate is not None and taylor:
        raise InputError(
            f"{params.named('taylor', '--taylor')} tests the derivative, and a "
            f"{where} is meant not to be it: give one"
        )
    return _Checked(chosen, options, args, seed, arrays, names, surrogate)


def _trial(trial: Any, count: int) -> int | None:
    """--trial K: K among the `count` trials drawn, or None for all of them."""
    if trial is None:
        return None
    where = params.named("trial", "--trial")
    k = params.integer(trial, where, 0, 99)
    if k >= count:
        raise InputError(f"{where} {k}: there are {count} trials, 0 to {count - 1}")
    return k


def _explain(explain: Any) -> str:
    return params.explain(explain, params.named("explain", "--explain"))


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
