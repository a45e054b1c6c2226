"""gradcli layer: dW, db, dx of a softmax layer, with the chain rule shown."""

from __future__ import annotations

from typing import Any

import click

from gradcli import params
from gradcli.cli.common import (
    FILE,
    INTEGER,
    SEED,
    Rule,
    check_options,
    emit,
    given,
    npz_output,
    read_stdin,
    run_options,
    user_errors,
)
from gradcli.cli.group import COMMANDS, CONTEXT_SETTINGS
from gradcli.errors import InputError
from gradcli.exit_status import ExitStatus
from gradcli.names import LOSSES

SIZE = INTEGER  # its range (1 to layer_inputs.MAX_FEATURES, MAX_BATCH) is the API's


@click.command(context_settings=CONTEXT_SETTINGS, short_help=COMMANDS["layer"][1])
@click.option("--in-features", type=SIZE, default=3, show_default=True, help="Inputs of the layer.")
@click.option("--out-features", type=SIZE, default=3, show_default=True, help="Outputs (classes).")
@click.option("--batch", type=SIZE, help="Rows of x: x is (batch, in) [default: one vector x].")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of W, b, x and y.")
@click.option(
    "--loss",
    type=click.Choice(LOSSES),
    help="ce (cross-entropy), mse, sum (L = Σ s) or output (L = s_k)  [default: ce]",
)
@click.option(
    "--target", metavar="K|JSON", help="ce: the class K [0]; mse: y as JSON [drawn from the seed]."
)
@click.option(
    "--targets", type=Rule("K,K,…", params.classes), help="ce with a batch: one class per row."
)
@click.option("--index", type=INTEGER, help="output: k in L = s_k [0].")
@click.option(
    "--spec",
    "spec_path",
    type=Rule("FILE|-", FILE.rule, files=True),
    help="W, b, x (and loss) from JSON.",
)
@click.option(
    "--explain",
    type=Rule("ENTRY", params.explain),
    help="Show the chain rule for W[i,j], b[i], x[j] or x[r,j].",
)
@click.option(
    "--fd-mode",
    type=click.Choice(("auto", "full", "directional")),
    default="auto",
    show_default=True,
    help="fd on every element (full), along 8 random directions, or full unless too costly.",
)
@check_options
@click.pass_context
def layer(ctx: click.Context, /, **options: Any) -> None:
    """A softmax layer z = W·x + b, s = softmax(z), a loss L(s): dW, db, dx three ways.

    numpy follows the chain rule by hand (∂L/∂z = Jᵀ·∂L/∂s, dW = (∂L/∂z)ᵀ·x,
    db = Σ ∂L/∂z, dx = ∂L/∂z·W), torch uses autograd, fd perturbs every parameter.
    W and b are drawn uniform in ±1/√in (as torch.nn.Linear), x standard normal,
    an mse target from Dirichlet(1), all from --seed; or given with --spec.

    \b
    Examples:
      gradcli layer --seed 42
      gradcli layer --seed 42 --loss output --index 0 --explain 'W[0,0]'
      gradcli layer --in-features 5 --out-features 4 --batch 8 --seed 7 --loss mse
      gradcli layer --seed 42 --json | gradcli layer --spec - --json
    """
    with user_errors():
        from gradcli import api

        arguments = _layer_arguments(ctx, options)
        with npz_output(options) as npz:
            report = api.layer(**arguments)
            emit(report, options, npz)
    ctx.exit(ExitStatus.OK if report.ok else ExitStatus.DISAGREE)


def _layer_arguments(ctx: click.Context, options: dict[str, Any]) -> dict[str, Any]:
    """gradcli.layer's arguments from the options: drawn from --seed, or read from --spec."""
    arguments = {
        "loss": options["loss"],
        "target": _target_value(options["target"]),
        "targets": options["targets"],
        "index": options["index"],
        "explain": options["explain"],
        "fd_mode": options["fd_mode"],
        **run_options(options),
    }
    if options["spec_path"] is None:
        sizes = ("in_features", "out_features", "batch", "seed")
        return {**arguments, **{name: options[name] for name in sizes}}
    clashing = [
        f"--{n.replace('_', '-')}"
        for n in ("in_features", "out_features", "batch", "seed")
        if given(ctx, n)
    ]
    if clashing:
        raise InputError(f"--spec gives W, b and x: {', '.join(clashing)} cannot be used with it")
    path = options["spec_path"]
    spec = _read_stdin_json() if path == "-" else path
    # the spec's dtype unless --dtype is given
    return {**arguments, "spec": spec, "dtype": options["dtype"] if given(ctx, "dtype") else None}


def _target_value(text: str | None) -> Any:
    """--target as JSON: an integer class for ce, a vector or matrix y for mse (the
    loss decides which it must be)."""
    if text is None:
        return None
    from gradcli.inputs import parse_json

    value = parse_json(text, "--target")
    if value is None:  # JSON null would read as no --target at all
        raise InputError(f"--target {text!r}: give a class (an integer) or y (a JSON vector)")
    return value


def _read_stdin_json() -> Any:
    from gradcli import inputs

    return inputs.parse_json(read_stdin(), "--spec -")
