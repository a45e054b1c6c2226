"""gradcli graph: every intermediate gradient of a small tensor program."""

from __future__ import annotations

from typing import Any

import click

from gradcli.cli.common import (
    FILE,
    SEED,
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


@click.command(context_settings=CONTEXT_SETTINGS, short_help=COMMANDS["graph"][1])
@click.argument("program", required=False)
@click.option("-f", "--file", "program_file", type=FILE, help="Read the program from FILE.")
@click.option(
    "--rand",
    multiple=True,
    metavar="NAME=SHAPE[:normal]",
    help="An input drawn by torch.rand (or torch.randn with :normal) in float32, in order.",
)
@click.option(
    "--var", multiple=True, metavar="NAME=JSON|@FILE.npy", help="An input given by value."
)
@click.option(
    "--seed", type=SEED, default=0, show_default=True, help="torch.manual_seed before --rand."
)
@click.option(
    "--explain",
    metavar="NAME",
    help="Where a gradient comes from: each use of NAME (or NAME[i,j]).",
)
@click.option("--dot", metavar="FILE", help="Write the graph as Graphviz text (dot -Tsvg FILE).")
@check_options
@click.pass_context
def graph(ctx: click.Context, /, **options: Any) -> None:
    """Every intermediate gradient of a small tensor program, three ways.

    PROGRAM is statements `name = expression`, separated by ; or newlines, in PyTorch's
    tensor semantics: + - * / ** @, unary -, .T, indexing and slices, sum mean max
    (dim, keepdim), exp log sqrt abs tanh sigmoid relu, softmax(x, dim),
    log_softmax(x, dim), matmul, transpose, reshape, as functions or methods. The loss
    is the sum of the last statement's value. The program is parsed, never evaluated.

    \b
    Examples:
      gradcli graph "b = a.sum(dim=0, keepdim=True); c = a/b; y = w@c" \\
          --rand w=4x10 --rand a=10x10 --seed 42
      gradcli graph "s = softmax(z, dim=0); y = s[0]" --var 'z=[3, 1, -3]' --json
      gradcli graph "b = a.sum(dim=0, keepdim=True); c = a/b; y = w@c" \\
          --rand w=4x10 --rand a=10x10 --explain 'a[0,0]' \\
          --plot graph.svg --dot graph.dot
      gradcli graph -f examples/program.txt --rand x=2x3 --rand W1=3x4
    """
    with user_errors():
        from gradcli import api

        if options["dot"] is not None:  # one file named twice: one would be lost
            from gradcli.save import check_distinct

            check_distinct(
                {"--dot": options["dot"], "--plot": options["plot"], "--save": options["save"]}
            )
        arguments = _graph_arguments(options)
        with npz_output(options) as npz:
            report = api.graph(**arguments)
            emit(report, options, npz)
    ctx.exit(ExitStatus.OK if report.ok else ExitStatus.DISAGREE)


def _graph_arguments(options: dict[str, Any]) -> dict[str, Any]:
    """gradcli.graph's arguments from the options: the program's text, --rand and --var."""
    from gradcli import inputs

    if (options["program"] is None) == (options["program_file"] is None):
        raise InputError("give the program as an argument or with -f FILE (one of them)")
    text = options["program"]
    if text is None:
        text = (
            read_stdin()
            if options["program_file"] == "-"
            else inputs.read_text_file(options["program_file"])
        )
    rand: dict[str, str] = {}
    values: dict[str, Any] = {}
    for option, item in [("--rand", r) for r in options["rand"]] + [
        ("--var", v) for v in options["var"]
    ]:
        name, sep, value = item.partition("=")
        if not sep or not name:
            form = "SHAPE such as a=10x10 (or a=10x10:normal)" if option == "--rand" else ""
            raise InputError(f"{option} {item!r}: write NAME={form or 'JSON or NAME=@file.npy'}")
        if name in rand or name in values:
            raise InputError(f"{option} {item}: {name!r} is given twice")
        if option == "--rand":
            rand[name] = value
        else:
            values[name] = _var_value(name, value)
    shared = run_options(options)
    return {
        "program": text, "inputs": values, "rand": rand, "seed": options["seed"],
        "explain": options["explain"], "dot": options["dot"], **shared,
    }  # fmt: skip


def _var_value(name: str, text: str) -> Any:
    from gradcli import inputs

    if text.startswith("@"):
        return (
            inputs.load_npy(text[1:])
            if text.endswith(".npy")
            else inputs.to_array(
                inputs.parse_json(inputs.read_text_file(text[1:]), text[1:]), text[1:], GRAPH_DIMS
            )
        )
    return inputs.to_array(inputs.parse_json(text, f"--var {name}"), f"--var {name}", GRAPH_DIMS)


GRAPH_DIMS = 32  # torch's limit on a tensor's dimensions
