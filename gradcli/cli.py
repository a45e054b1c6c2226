"""The command line: parse and validate, build a spec, run the problem, render, exit.

The only module that imports click. numpy, rich and torch are imported inside the
commands, so that `gradcli --help` costs little more than click's own import.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click

from gradcli import __version__
from gradcli.backends import BACKENDS
from gradcli.errors import InputError
from gradcli.exit_status import ExitStatus
from gradcli.spec import DTYPES, RunOptions
from gradcli.tokens import NEGATIVE_NUMBER_LIKE, parse_number

if TYPE_CHECKING:
    from gradcli.report import Report

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
STDIN_MAX_BYTES = 64 * 1024 * 1024


class InputProblem(click.ClickException):
    """Bad input found after parsing: one `Error:` line on stderr, exit status 2."""

    exit_code = ExitStatus.USAGE


class NumbersAsValues(click.Command):
    """A command whose positional values may be negative numbers: `softmax 3 1 -3`.

    Plain click reads `-3` as an unknown option, and `ignore_unknown_options` is not
    enough (with a short option `-i`, `-inf` would silently become `-i nf`). So before
    click parses, every token that is not an option or an option's value is moved
    behind a `--`. No command has a short option that a number could collide with.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, values_behind_double_dash(self, ctx, args))


def values_behind_double_dash(
    command: click.Command, ctx: click.Context, args: list[str]
) -> list[str]:
    takes_value = {
        name
        for param in command.get_params(ctx)
        if isinstance(param, click.Option) and not param.is_flag and not param.count
        for name in param.opts
    }
    options: list[str] = []
    values: list[str] = []
    tokens = iter(args)
    for token in tokens:
        if token == "--":
            values.extend(tokens)
        elif token.startswith("-") and token != "-" and not NEGATIVE_NUMBER_LIKE.match(token):
            options.append(token)
            value = next(tokens, None) if token in takes_value else None
            if value is not None:  # `--temperature -2`: the next token is the option's value
                options.append(value)
        else:
            values.append(token)
    return [*options, "--", *values]


class FiniteFloat(click.ParamType):  # type: ignore[type-arg]  # generic only since click 8.2
    """A finite decimal number, read by the same strict rules as the values."""

    name = "NUMBER"

    def __init__(self, minimum: float | None = None) -> None:
        self.minimum = minimum

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        try:
            number = parse_number(str(value), "value")
        except InputError:
            self.fail(f"{value!r} is not a finite decimal number", param, ctx)
        if self.minimum is not None and number < self.minimum:
            self.fail(f"{value} is less than {self.minimum:g}", param, ctx)
        return number


class BackendList(click.ParamType):  # type: ignore[type-arg]  # generic only since click 8.2
    """Comma-separated backend names, returned in the canonical order numpy, torch, fd."""

    name = "LIST"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        names = [name.strip() for name in str(value).split(",")]
        for name in names:
            if name not in BACKENDS:
                self.fail(f"unknown backend {name!r} (choose from {', '.join(BACKENDS)})")
        return tuple(b for b in BACKENDS if b in names)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's InputError into click's one-line error with exit status 2."""
    try:
        yield
    except InputError as exc:
        raise InputProblem(str(exc)) from None


def check_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every checking command shares."""
    decorators = [
        click.option(
            "--backend",
            "backends",
            type=BackendList(),
            default=",".join(BACKENDS),
            show_default=True,
            help="Backends to run, comma-separated: numpy (formulas), torch (autograd), "
            "fd (finite differences).",
        ),
        click.option(
            "--dtype",
            type=click.Choice(DTYPES),
            default="float64",
            show_default=True,
            help="Precision of numpy and torch (fd always works in float64).",
        ),
        click.option(
            "--rtol",
            type=FiniteFloat(minimum=0.0),
            help="Relative tolerance for every comparison [default: by precision].",
        ),
        click.option(
            "--atol",
            type=FiniteFloat(minimum=0.0),
            help="Absolute tolerance for every comparison [default: by precision and scale].",
        ),
        click.option(
            "--precision",
            type=click.IntRange(1, 17),
            default=6,
            show_default=True,
            help="Significant digits in tables.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout."),
        click.option(
            "--save",
            metavar="FILE.npz",
            help='Write every result array to FILE.npz (keys "<backend>.<quantity>").',
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="gradcli")
def cli() -> None:
    """See a derivative and check it: numpy formulas, torch autograd and finite
    differences, side by side.

    Exit status: 0 the backends agree, 1 they disagree (or a result is not finite),
    2 bad usage or input, 130 interrupted.

    \b
    Examples:
      gradcli softmax 3 1 -3
      gradcli softmax 3 1 -3 --json | jq .comparisons
    """


@cli.command(cls=NumbersAsValues, context_settings=CONTEXT_SETTINGS)
@click.argument("values", nargs=-1, metavar="[Z]...")
@click.option(
    "--input",
    "input_path",
    metavar="FILE",
    help="Read z from FILE: .npy (never pickles), .json (a list), .txt or .csv.",
)
@click.option(
    "--temperature",
    type=FiniteFloat(),
    default=1.0,
    show_default=True,
    help="T in softmax(z / T); from 1e-8 to 1e8.",
)
@check_options
@click.pass_context
def softmax(
    ctx: click.Context,
    /,
    values: tuple[str, ...],
    input_path: str | None,
    temperature: float,
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
      gradcli softmax 1000 1001 1002 --temperature 2
      echo '[3, 1, -3]' | gradcli softmax - --json | jq .ok
      gradcli softmax --input z.npy --dtype float32 --save out.npz
    """
    with user_errors():
        from gradcli.problems import softmax as problem
        from gradcli.spec import SoftmaxSpec

        z = read_vector(values, input_path)
        run_options = _run_options(options)
        if options["save"]:
            from gradcli.save import check_save_path

            check_save_path(options["save"])
        report = problem.run(SoftmaxSpec(z, temperature, run_options))
        emit(report, options)
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
        data = sys.stdin.buffer.read(STDIN_MAX_BYTES + 1)
        if len(data) > STDIN_MAX_BYTES:
            raise InputError(f"stdin: larger than {STDIN_MAX_BYTES // 2**20} MiB")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"stdin: not UTF-8 text (byte {exc.start})") from None
        return inputs.parse_text(text, "stdin")
    if not values:
        raise InputError("no input: give numbers (gradcli softmax 3 1 -3), '-' or --input FILE")
    return inputs.parse_tokens(list(values), "z", item="argument")


def _run_options(options: dict[str, Any]) -> RunOptions:
    return RunOptions(
        backends=options["backends"],
        dtype=options["dtype"],
        rtol=options["rtol"],
        atol=options["atol"],
    )


def emit(report: Report, options: dict[str, Any]) -> None:
    """Save first (a consumer of the JSON can rely on the file), then print."""
    if options["save"]:
        from gradcli.save import save_npz

        arrays = report.arrays()
        save_npz(options["save"], arrays)
        click.echo(f"gradcli: saved {len(arrays)} arrays to {options['save']}", err=True)
    if options["as_json"]:
        from gradcli.render import json

        click.echo(json.dumps(report, indent=sys.stdout.isatty()), nl=False)
    else:
        from gradcli.render import table

        table.print_report(report, precision=options["precision"])


def main(argv: list[str] | None = None) -> NoReturn:
    """The console script: map every way of ending to its exit status."""
    try:
        status = cli.main(args=argv, prog_name="gradcli", standalone_mode=False)
        sys.stdout.flush()
    except click.ClickException as exc:
        exc.show()
        status = exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("gradcli: interrupted", err=True)
        status = ExitStatus.INTERRUPTED
    except BrokenPipeError:
        status = ExitStatus.BROKEN_PIPE
    except Exception:
        traceback.print_exc()
        click.echo(
            "gradcli: this is a bug in gradcli; please report it with the command line above",
            err=True,
        )
        status = ExitStatus.BUG
    if status == ExitStatus.BROKEN_PIPE:
        # Python would print "Exception ignored ... BrokenPipeError" when it flushes
        # stdout at exit; point stdout at /dev/null first (as the signal docs advise).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(int(status) if isinstance(status, int) else 0)
