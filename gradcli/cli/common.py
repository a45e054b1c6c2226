"""What every command shares: parameter types, the common options, input errors, and
printing or saving a report (the group and its context are in group.py). Only the cli
package imports click."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from gradcli import params
from gradcli.cli.group import Command
from gradcli.cli.streams import note
from gradcli.errors import InputError, OutputError
from gradcli.exit_status import ExitStatus
from gradcli.names import BACKENDS, DTYPES
from gradcli.tokens import NEGATIVE_NUMBER_LIKE

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from gradcli.npz import NpzWriter
    from gradcli.report import Report


class InputProblem(click.ClickException):
    """Bad input found after parsing: one `Error:` line on stderr, exit status 2."""

    exit_code = ExitStatus.USAGE


class NumbersAsValues(Command):
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


class Rule(click.ParamType):  # type: ignore[type-arg]  # generic only since click 8.2
    """An option checked by its rule in gradcli.params, the rule the API uses too; the
    message names the option and shows the value as typed."""

    def __init__(
        self, metavar: str, rule: Callable[[Any, str], Any], *, files: bool = False
    ) -> None:
        self.name = metavar
        self.rule = rule
        self.files = files  # a file name: shell completion offers the shell's files

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(incomplete, type="file")] if self.files else []

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        option = max(param.opts, key=len) if param is not None and param.opts else "value"
        try:
            return self.rule(value, option)
        except InputError as exc:
            raise click.UsageError(str(exc), ctx) from None


def integer_range(low: int, high: int) -> Rule:
    return Rule("INTEGER", lambda value, name: params.integer(value, name, low, high))


SEED = Rule("INTEGER", params.seed)  # 0 to 2**63 - 1: what numpy and torch both take
# An integer in ASCII digits, its range decided by the API (gradcli.params' rules there)
INTEGER = Rule("INTEGER", lambda value, name: params.integer(value, name, -(2**63), 2**63))


def FiniteFloat(minimum: float | None = None) -> Rule:
    """A finite decimal number (at least `minimum`), read by the same rule as the values."""

    def rule(value: Any, name: str) -> float:
        number = params.number(value, name)
        if minimum is not None and number < minimum:
            raise InputError(f"{name} {params.shown(value)}: must be {minimum:g} or more")
        return number

    return Rule("NUMBER", rule)


BackendList = Rule("LIST", params.backends)
FILE = Rule("FILE", lambda value, name: params.not_empty(value, name, "a file name"), files=True)


class OutputProblem(click.ClickException):
    """A result that could not be written (--save, --plot): one `Error:` line, exit 74."""

    exit_code = ExitStatus.IO_ERROR


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's InputError into click's one-line error with exit status 2,
    and its OutputError into one with 74."""
    from gradcli.arguments import PLOT_COMMAND

    token = PLOT_COMMAND.set(command_line())  # a --plot is headed with the command
    try:
        with params.as_options():  # the library's messages name the options as typed
            yield
    except InputError as exc:
        raise InputProblem(str(exc)) from None
    except OutputError as exc:
        raise OutputProblem(str(exc)) from None
    finally:
        PLOT_COMMAND.reset(token)


def check_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every checking command shares."""
    decorators = [
        click.option(
            "--backend",
            "backends",
            type=BackendList,
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
            type=Rule("NUMBER", params.tolerance),
            help="Relative tolerance for every comparison [default: by precision].",
        ),
        click.option(
            "--atol",
            type=Rule("NUMBER", params.tolerance),
            help="Absolute tolerance for every comparison [default: by precision and scale].",
        ),
        click.option(
            "--precision",
            type=integer_range(1, 17),
            default=6,
            show_default=True,
            help="Significant digits in tables.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout."),
        click.option(
            "--quiet", is_flag=True, help="Print one line: the verdict, its counts and pattern."
        ),
        click.option(
            "--detail",
            is_flag=True,
            help="Every backend's table, every pair, tolerance and law (not the short view).",
        ),
        click.option(
            "--heatmap", is_flag=True, help="Show arrays as sign-and-magnitude grids, not numbers."
        ),
        click.option(
            "--plot",
            type=Rule("FILE.png|.svg", FILE.rule, files=True),
            help="Draw each result, its difference against the tolerance, and the verdict "
            "(graph: the graph too; needs gradcli[plot]).",
        ),
        click.option(
            "--save",
            type=Rule("FILE.npz", FILE.rule, files=True),
            help='Write every result array to FILE.npz (keys "<backend>.<quantity>").',
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE


def read_stdin() -> str:
    from gradcli.inputs import read_text

    if sys.stdin is None:  # started with stdin closed (`<&-`)
        raise InputError("stdin is closed: give the input as arguments or a file")
    try:
        return read_text(sys.stdin.buffer, "stdin")
    except OSError as exc:  # stdin open on something unreadable (a write-only fd)
        raise InputError(f"cannot read stdin: {exc.strerror or exc}") from None


def run_options(options: dict[str, Any]) -> dict[str, Any]:
    """The API's arguments that every command shares (--backend, --dtype, --rtol,
    --atol, --plot), once the output options are checked, before anything is computed."""
    if options["quiet"] and options["as_json"]:
        raise InputError("--quiet and --json exclude each other")
    if options["save"] is not None:  # `--save ''` is refused, not ignored
        from gradcli.save import check_save_path

        check_save_path(options["save"])
    return {k: options[k] for k in ("backends", "dtype", "rtol", "atol", "plot")}


@contextmanager
def npz_output(options: dict[str, Any]) -> Iterator[NpzWriter | None]:
    """The --save file, open while the report is computed so that large results can be
    computed straight into it (None without --save). Removed if the block raises."""
    if not options["save"]:
        yield None
        return
    from gradcli.npz import NpzWriter

    with NpzWriter(options["save"]) as writer:
        yield writer


def emit(report: Report, options: dict[str, Any], npz: NpzWriter | None) -> None:
    """Save first (a consumer of the JSON can rely on the file), then print. `npz` is
    the --save file from npz_output (None without --save)."""
    if npz is not None:
        from gradcli.render.findings import failing_inputs

        arrays = report.arrays()
        failing = failing_inputs(report)  # the failing trial's x (and g), to reproduce it
        arrays.update({f"failing_trial.{k}": v for k, v in failing.items() if k != "trial"})
        npz.finish(arrays)
        note(f"gradcli: saved {len(arrays)} arrays to {npz.path}")
    if options["plot"]:  # drawn by the API (gradcli.X(..., plot=FILE))
        note(f"gradcli: plotted to {options['plot']}")
    if options["quiet"]:
        from gradcli.render.findings import quiet_line

        if report.explanation is not None:  # asked for by name: --quiet keeps it
            click.echo("\n".join(report.explanation.lines), file=sys.stdout)
        click.echo(quiet_line(report), file=sys.stdout)
    elif options["as_json"]:
        from gradcli.render import json

        payload = json.for_stream(
            json.dumps(report, indent=sys.stdout.isatty()), sys.stdout.encoding
        )
        if hasattr(sys.stdout, "buffer"):
            click.echo(payload, nl=False)
        else:  # a text-only stdout (io.StringIO when gradcli.cli.main runs in process):
            # click would hand it the bytes
            click.echo(payload.decode(sys.stdout.encoding or "utf-8"), nl=False)
    elif options["detail"] or options["heatmap"]:
        from gradcli.render import table

        table.print_report(report, precision=options["precision"], heatmap=options["heatmap"])
    else:
        from gradcli.render import table

        table.print_view(report, precision=options["precision"], rerun=command_line())


OUTPUT_OPTIONS = ("trial", "json", "quiet", "detail", "heatmap", "plot", "save", "precision")


def command_line() -> str:
    """The command as typed, rebuilt from what click parsed (for a "rerun" line)."""
    import shlex

    ctx = click.get_current_context()
    words = ["gradcli", ctx.info_name or ""]
    for param in ctx.command.params:
        if not param.name or not given(ctx, param.name) or param.name in OUTPUT_OPTIONS:
            continue
        value = ctx.params[param.name]
        values = (
            value if isinstance(value, tuple) and getattr(param, "multiple", False) else [value]
        )
        for item in values:
            if isinstance(param, click.Argument):
                words += [str(v) for v in (item if isinstance(item, tuple) else (item,))]
            elif isinstance(param, click.Option) and param.is_flag:
                words.append(param.opts[0])
            elif isinstance(param, click.Option):
                text = ",".join(item) if isinstance(item, tuple) else str(item)
                words += [param.opts[-1], text]
    return shlex.join(words)
