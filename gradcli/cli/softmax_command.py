"""gradcli softmax: the softmax of a vector and its Jacobian."""

from __future__ import annotations

from typing import Any

import click

from gradcli import params
from gradcli.cli.common import (
    FILE,
    NumbersAsValues,
    Rule,
    check_options,
    emit,
    npz_output,
    read_stdin,
    run_options,
    user_errors,
)
from gradcli.cli.group import COMMANDS, CONTEXT_SETTINGS
from gradcli.errors import InputError
from gradcli.exit_status import ExitStatus


@click.command(
    cls=NumbersAsValues,
    context_settings=CONTEXT_SETTINGS,
    short_help=COMMANDS["softmax"][1],
)
@click.argument("values", nargs=-1, metavar="[Z]...")
@click.option(
    "--input",
    "input_path",
    type=FILE,
    help="Read z from FILE: .npy (never pickles), .json (a list), .txt or .csv.",
)
@click.option(
    "--temperature",
    type=Rule("NUMBER", params.temperature),
    default=1.0,
    show_default=True,
    help="T in softmax(z / T); from 1e-8 to 1e8.",
)
@click.option("--explain", metavar="ENTRY", help="How one entry of J comes about: 'J[0,1]'.")
@check_options
@click.pass_context
def softmax(
    ctx: click.Context,
    /,
    values: tuple[str, ...],
    input_path: str | None,
    temperature: float,
    explain: str | None,
    **options: Any,
) -> None:
    """Softmax of a vector z and its Jacobian, checked three ways.

    Computes s = softmax(z / T) and J = ∂s/∂z with the formulas in numpy
    (J = (diag(s) − s sᵀ) / T), with torch autograd, and with central finite
    differences; compares every pair and checks that J is symmetric, its rows sum to 0
    and s sums to 1.

    Give z as numbers (negative ones too), as '-' to read stdin (a JSON list, or numbers
    separated by spaces, commas or newlines), or with --input.

    \b
    Examples:
      gradcli softmax 3 1 -3
      gradcli softmax 3 1 -3 --explain 'J[0,1]'
      gradcli softmax 1000 1001 1002 --temperature 2
      echo '[3, 1, -3]' | gradcli softmax - --json | jq .ok
      gradcli softmax --input examples/z.npy --dtype float32 --save out.npz
    """
    with user_errors():
        from gradcli import api

        z = read_vector(values, input_path)
        shared = run_options(options)
        with npz_output(options) as npz:  # the Jacobians are computed into the file
            allocate = npz.empty if npz else None
            report = api.softmax(
                z, temperature=temperature, explain=explain, allocate=allocate, **shared
            )
            emit(report, options, npz)
    ctx.exit(ExitStatus.OK if report.ok else ExitStatus.DISAGREE)


def read_vector(values: tuple[str, ...], input_path: str | None) -> Any:
    """z from exactly one of: the arguments, stdin ('-'), --input FILE."""
    from gradcli import inputs

    stdin = values == ("-",)
    if "-" in values and not stdin:
        raise InputError("'-' (read stdin) cannot be mixed with numbers")
    if input_path is not None and values:
        raise InputError("give z as arguments, '-' or --input FILE, not several of them")
    if input_path is not None:
        return inputs.read_vector_file(input_path)
    if stdin:
        return inputs.parse_text(read_stdin(), "stdin")
    if not values:
        raise InputError("no input: give numbers (gradcli softmax 3 1 -3), '-' or --input FILE")
    return inputs.parse_tokens(list(values), "z", item="argument")
