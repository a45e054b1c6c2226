"""gradcli check: your own derivative against autograd and finite differences."""

from __future__ import annotations

from typing import Any

import click

from gradcli.api import CHECK_BACKENDS
from gradcli.arguments import LOW_PRECISION
from gradcli.cli.common import (
    INTEGER,
    SEED,
    check_options,
    emit,
    npz_output,
    run_options,
    user_errors,
)
from gradcli.cli.group import COMMANDS, CONTEXT_SETTINGS
from gradcli.exit_status import ExitStatus
from gradcli.names import DTYPES


@click.command(
    # your derivative always runs; what it is checked against is torch and fd
    context_settings={**CONTEXT_SETTINGS, "default_map": {"backends": ",".join(CHECK_BACKENDS)}},
    short_help=COMMANDS["check"][1],
)
@click.argument("target", metavar="TARGET")
@click.option("--jacobian", metavar="FN", help="Your Jacobian: FN(x) -> (outputs, inputs).")
@click.option("--vjp", metavar="FN", help="Your vector-Jacobian product: FN(x, g) -> like x.")
@click.option("--grad", metavar="FN", help="Your elementwise derivative: FN(x) -> like x.")
@click.option(
    "--hvp",
    metavar="FN",
    help="Your Hessian-vector product of a scalar forward: FN(x, v) -> like x.",
)
@click.option(
    "--against",
    metavar="DOTTED",
    help="A library function (torch.nn.functional.gelu): its forward and autograd are one "
    "more reference.",
)
@click.option(
    "--order",
    type=click.IntRange(1, 2),
    default=1,
    show_default=True,
    help="2: your Function's backward is differentiated and checked (as gradgradcheck).",
)
@click.option(
    "--shape",
    "shapes",
    metavar="[NAME=]AxB",
    multiple=True,
    help="Random input of this shape, e.g. 5, 4x6 or W=16x4; repeat for each input.",
)
@click.option(
    "--input",
    "input_paths",
    metavar="[NAME=]FILE",
    multiple=True,
    help="An input from .npy or .json, e.g. W=w.npy; repeat for each input.",
)
@click.option(
    "--arg",
    "arg_values",
    metavar="NAME=VALUE",
    multiple=True,
    help="A non-array argument by keyword (a Python literal), e.g. eps=1e-5.",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the inputs.")
@click.option(
    "--dist",
    "dists",
    metavar="[NAME=]normal|uniform",
    multiple=True,
    help="Random inputs: scale·N(0, 1) (default), or uniform in ±scale; for all or one.",
)
@click.option(
    "--scale",
    "scales",
    metavar="[NAME=]S",
    multiple=True,
    help="Scale of the random inputs (default 1), for all or one (W=0.1).",
)
@click.option(
    "--trials",
    type=INTEGER,  # ASCII digits, as every integer option; 1 to 100, by gradcli.check
    default=3,
    show_default=True,
    help="Random inputs to check.",
)
@click.option(
    "--trial",
    type=INTEGER,
    metavar="K",
    help="Check only trial K of the --trials drawn (the rerun line of a failure).",
)
@click.option(
    "--explain",
    metavar="ENTRY",
    help="One entry in every trial: yours, each reference, fd's one-sided slopes.",
)
@click.option(
    "--taylor",
    is_flag=True,
    help="Also the Taylor test: the remainder's rate as h halves (2 right, 1 wrong).",
)
@click.option(
    "--no-grad",
    "no_grad",
    metavar="NAME",
    multiple=True,
    help="An input passed to your code but not differentiated (a mask); repeatable.",
)
@click.option(
    "--surrogate",
    metavar="KIND",
    help="Yours is meant not to be the derivative: identity (a straight-through "
    "estimator), negated, or a factor K (-0.5: a gradient reversal layer).",
)
@click.option(
    "--stub",
    metavar="MODULE",
    multiple=True,
    help="A module TARGET imports but the check does not need (not installed here): "
    "a stand-in; repeatable.",
)
@click.option("--full", is_flag=True, help="Check element by element however large the input.")
@click.option("--debug", is_flag=True, help="Show the traceback of an error in your code.")
@click.option(
    "--jobs",
    type=INTEGER,  # 1 to 64, by gradcli.check
    default=1,
    show_default=True,
    help="Worker processes that run your code (they share the forward's evaluations).",
)
@click.option(
    "--timeout",
    metavar="SECONDS",  # a finite number above 0, by gradcli.check
    help="End your code's process if one request to it takes longer.",
)
@check_options
@click.pass_context
def check(ctx: click.Context, /, **options: Any) -> None:
    """Your derivative against autograd of your forward and finite differences.

    TARGET is path.py:name or module.path:name: a forward taking arrays (numpy or torch)
    and returning one array or a tuple, a torch.autograd.Function (its backward is
    checked), or an nn.Module class (built; every parameter's gradient and the input's
    are checked). FN is path.py:name, module:name, or a name in TARGET's module. Your
    derivative always runs; --backend torch,fd chooses what it is checked against.
    Several inputs are named after the forward's parameters (--shape x=8x16 --shape
    W=16x4).

    \b
    Examples:
      gradcli check examples/ops.py:softmax --jacobian softmax_jacobian --shape 5
      gradcli check examples/ops.py:softmax --jacobian softmax_jacobian \\
          --input examples/z.npy
      gradcli check examples/ops.py:Square --shape 4x6
      gradcli check examples/linear.py:linear --vjp linear_vjp --shape x=8x16 \\
          --shape W=16x4 --shape b=4
      gradcli check examples/ops.py:softmax \\
          --jacobian softmax_jacobian_no_cross_terms \\
          --shape 5 --trial 1 --explain 'J[0,1]'
    """
    with user_errors():
        from gradcli import api
        from gradcli.api_check import workers_started
        from gradcli.cli import check_parse

        # your code runs in worker processes, started first: their import of torch and
        # of TARGET overlaps the reading of the inputs here
        workers = {"jobs": options["jobs"], "timeout": options["timeout"]}
        early = {"debug": options["debug"], "stub": options["stub"]}
        with workers_started(options["target"], **workers, **early):
            derivatives = {k: options[k] for k in ("jacobian", "vjp", "grad", "hvp")}
            arguments = {
                k: options[k]
                for k in ("seed", "trials", "trial", "explain", "taylor", "order", "against")
            }
            shared = run_options(options)
            given = check_parse.input_arguments(options)
            args = check_parse.arguments(options["arg_values"])
            with npz_output(options) as npz:
                report = api.check(
                    options["target"],
                    **derivatives,
                    **given,
                    **arguments,
                    args=args,
                    no_grad=options["no_grad"],
                    stub=options["stub"],
                    surrogate=options["surrogate"],
                    full=options["full"],
                    debug=options["debug"],
                    **shared,
                    worker=True,
                    **workers,
                )
                emit(report, options, npz)
    ctx.exit(ExitStatus.OK if report.ok else ExitStatus.DISAGREE)


# check alone runs code in float16 and bfloat16 (the references stay in float64)
CHECK_DTYPES = (*DTYPES, *LOW_PRECISION)  # gradcli.check decides what each means
for _param in check.params:
    if _param.name == "dtype":
        _param.type = click.Choice(CHECK_DTYPES)
        _param.help = (
            "Precision of your code (float16/bfloat16: tolerances from the dtype's "
            "resolution); the references run in float64."
        )
