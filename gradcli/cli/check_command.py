"""gradcli check: your own derivative against autograd and finite differences."""

from __future__ import annotations

from typing import Any

import click

from gradcli.cli.common import (
    SEED,
    FiniteFloat,
    check_options,
    emit,
    npz_output,
    run_options,
    user_errors,
)
from gradcli.cli.group import COMMANDS, CONTEXT_SETTINGS
from gradcli.errors import InputError
from gradcli.exit_status import ExitStatus

MAX_CHECK_ELEMENTS = 10_000_000


@click.command(context_settings=CONTEXT_SETTINGS, short_help=COMMANDS["check"][1])
@click.argument("target", metavar="TARGET")
@click.option("--jacobian", metavar="FN", help="Your Jacobian: FN(x) -> (outputs, inputs).")
@click.option("--vjp", metavar="FN", help="Your vector-Jacobian product: FN(x, g) -> like x.")
@click.option("--grad", metavar="FN", help="Your elementwise derivative: FN(x) -> like x.")
@click.option("--shape", metavar="AxB", help="Random inputs of this shape, e.g. 5 or 4x6.")
@click.option("--input", "input_path", metavar="FILE", help="One input from .npy or .json.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the inputs.")
@click.option(
    "--dist",
    type=click.Choice(("normal", "uniform")),
    default="normal",
    show_default=True,
    help="Random inputs: scale·N(0, 1), or uniform in ±scale.",
)
@click.option(
    "--scale",
    type=FiniteFloat(minimum=0.0),
    default=1.0,
    show_default=True,
    help="Scale of the inputs.",
)
@click.option(
    "--trials",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="Random inputs to check.",
)
@click.option(
    "--trial",
    type=click.IntRange(0, 99),
    metavar="K",
    help="Check only trial K of the --trials drawn (the rerun line of a failure).",
)
@click.option(
    "--explain", metavar="ENTRY", help="One entry in every trial, yours beside each reference."
)
@click.option("--full", is_flag=True, help="Check element by element however large the input.")
@click.option("--debug", is_flag=True, help="Show the traceback of an error in your code.")
@check_options
@click.pass_context
def check(ctx: click.Context, /, **options: Any) -> None:
    """Your derivative against autograd of your forward and finite differences.

    TARGET is path.py:name or module.path:name: a forward taking one array and returning
    one array (if it also takes torch tensors, autograd is a backend), or a
    torch.autograd.Function, whose backward is then checked. FN is path.py:name,
    module:name, or a name in TARGET's module. Your derivative always runs;
    --backend torch,fd chooses what it is checked against.

    \b
    Examples:
      gradcli check ops.py:my_softmax --jacobian ops.py:my_softmax_jacobian --shape 5
      gradcli check ops.py:my_softmax --vjp my_softmax_vjp --input z.npy
      gradcli check ops.py:MySoftmax --shape 4x6
    """
    with user_errors():
        from gradcli.api import check_spec
        from gradcli.problems import check as problem
        from gradcli.problems.explanations import with_explanation

        derivatives = {k: options[k] for k in ("jacobian", "vjp", "grad") if options[k]}
        if len(derivatives) > 1:
            raise InputError("give one of --jacobian, --vjp and --grad")
        spec = check_spec(
            options["target"],
            derivatives,
            inputs=_inputs(options),
            seed=options["seed"],
            full=options["full"],
            debug=options["debug"],
            options=run_options(options),
        )
        spec = _only_trial(spec, options["trial"])
        with npz_output(options) as npz:
            report = with_explanation(problem.run(spec), options["explain"])
            emit(report, options, npz)
    ctx.exit(ExitStatus.OK if report.ok else ExitStatus.DISAGREE)


def _only_trial(spec: Any, trial: int | None) -> Any:
    """The spec with trial K alone, numbered K (so its cotangent g is drawn the same)."""
    if trial is None:
        return spec
    import dataclasses

    if trial >= len(spec.inputs):
        raise InputError(
            f"--trial {trial}: there are {len(spec.inputs)} trials, 0 to {len(spec.inputs) - 1}"
        )
    return dataclasses.replace(spec, inputs=(spec.inputs[trial],), first_trial=trial)


def _inputs(options: dict[str, Any]) -> list[Any]:
    """One array per trial: drawn from --shape, or the one of --input."""
    import numpy as np

    from gradcli import inputs

    if (options["shape"] is None) == (options["input_path"] is None):
        raise InputError("give the input as --shape AxB (random) or --input FILE (one of them)")
    if options["input_path"] is not None:
        path = options["input_path"]
        if path.endswith(".npy"):
            return [inputs.load_npy(path)]
        return [inputs.to_array(inputs.parse_json(inputs.read_text_file(path), path), path)]
    parts = options["shape"].split("x")
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise InputError(f"--shape {options['shape']!r}: sizes joined by x, such as 5 or 4x6")
    shape = tuple(int(p) for p in parts)
    if int(np.prod(shape)) > MAX_CHECK_ELEMENTS:
        raise InputError(f"--shape {options['shape']}: more than {MAX_CHECK_ELEMENTS} elements")
    rng = np.random.default_rng(options["seed"])
    scale = options["scale"]
    if options["dist"] == "uniform":
        return [rng.uniform(-scale, scale, size=shape) for _ in range(options["trials"])]
    return [scale * rng.standard_normal(shape) for _ in range(options["trials"])]
