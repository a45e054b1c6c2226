"""gradcli layer: dW, db, dx of a softmax layer, with the chain rule shown."""

from __future__ import annotations

from typing import Any

import click

from gradcli import params
from gradcli.cli.common import (
    FILE,
    SEED,
    Rule,
    check_options,
    check_plot_memory,
    emit,
    given,
    integer_range,
    npz_output,
    read_stdin,
    run_options,
    user_errors,
)
from gradcli.cli.group import COMMANDS, CONTEXT_SETTINGS
from gradcli.errors import InputError
from gradcli.exit_status import ExitStatus
from gradcli.names import LOSSES

SIZE = integer_range(1, 100_000)  # layer_inputs.MAX_FEATURES and MAX_BATCH, without numpy


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
@click.option("--index", type=integer_range(0, 2**31), help="output: k in L = s_k [0].")
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
        from gradcli.commands.layer import problem

        spec = _layer_spec(ctx, options)
        if options["plot"]:
            check_plot_memory(_layer_plot_peak(spec), "--plot of the layer's gradients")
        with npz_output(options) as npz:
            report = problem.run(spec)
            emit(report, options, npz)
    ctx.exit(ExitStatus.OK if report.ok else ExitStatus.DISAGREE)


def _layer_spec(ctx: click.Context, options: dict[str, Any]) -> Any:
    """A LayerSpec from the options, built by the API: drawn from --seed, or read from --spec."""
    from gradcli.commands.layer import inputs as layer_inputs
    from gradcli.specs import layer_spec

    if options["target"] is not None and options["targets"] is not None:
        raise InputError("--target and --targets exclude each other: give one of them")
    loss_options = {
        "target": _target_value(options["target"], options["loss"]),
        "targets": options["targets"],
        "index": options["index"],
    }
    shared = {"explain": options["explain"], "fd_mode": options["fd_mode"]}
    if options["spec_path"] is None:
        return layer_spec(
            None, None, None, options["loss"] or "ce", **loss_options, **shared,
            options=run_options(options), seed=options["seed"],
            sizes=(options["in_features"], options["out_features"], options["batch"]),
        )  # fmt: skip
    clashing = [
        f"--{n.replace('_', '-')}"
        for n in ("in_features", "out_features", "batch", "seed")
        if given(ctx, n)
    ]
    if clashing:
        raise InputError(f"--spec gives W, b and x: {', '.join(clashing)} cannot be used with it")
    doc = layer_inputs.read_spec(
        _read_json_source(options["spec_path"]), _source_name(options["spec_path"])
    )
    if doc["dtype"] and not given(ctx, "dtype"):
        options = {**options, "dtype": doc["dtype"]}
    loss = _spec_loss(doc["loss"], options["loss"], loss_options)
    return layer_spec(
        doc["W"], doc["b"], doc["x"], loss, target=None, targets=None, index=None, **shared,
        options=run_options(options),
    )  # fmt: skip


def _layer_plot_peak(spec: Any) -> int:
    from gradcli import limits

    rows = 1 if spec.x.ndim == 1 else spec.x.shape[0]
    per_row = rows * spec.w.shape[0]
    plotted = [8 * spec.w.size, 8 * spec.b.size, 8 * spec.x.size, 8 * per_row, 8 * per_row]
    elements = spec.w.size + spec.b.size + spec.x.size + 2 * per_row
    return limits.layer_peak(elements, plotted, spec.options.backends, plot=True)


def _spec_loss(from_spec: Any, kind: str | None, loss_options: dict[str, Any]) -> Any:
    """The spec's loss, with --loss/--target/--targets/--index overriding it."""
    from gradcli.commands.layer import inputs as layer_inputs

    base = dict(from_spec or {"kind": "ce"})
    if kind is not None and kind != base.get("kind"):
        base = {"kind": kind}
    for key, value in loss_options.items():
        if value is not None:
            base.pop("target" if key == "targets" else "targets" if key == "target" else key, None)
            base[key] = value
    return layer_inputs.loss_from_json(base, "--spec loss: " if from_spec else "")


def _target_value(text: str | None, kind: str | None) -> Any:
    """--target: an integer class for ce, JSON (a vector or matrix) for mse."""
    if text is None:
        return None
    from gradcli.inputs import parse_json

    value = parse_json(text, "--target")
    is_class = isinstance(value, int) and not isinstance(value, bool)
    if kind in (None, "ce") and not isinstance(value, list) and not is_class:
        raise InputError(f"--target {text!r}: a class for cross-entropy is an integer")
    return value


def _read_json_source(path: str) -> Any:
    from gradcli import inputs

    if path == "-":
        return inputs.parse_json(read_stdin(), "--spec -")
    return inputs.parse_json(inputs.read_text_file(path), path)


def _source_name(path: str) -> str:
    return "--spec -" if path == "-" else path
