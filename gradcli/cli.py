"""The command line: parse and validate, build a spec, run the problem, render, exit.

The only module that imports click. numpy, rich and torch are imported inside the
commands, so that `gradcli --help` costs little more than click's own import.
"""

from __future__ import annotations

import gc
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click

from gradcli import __version__
from gradcli.errors import InputError
from gradcli.exit_status import ExitStatus
from gradcli.names import BACKENDS, DTYPES, LOSSES
from gradcli.tokens import NEGATIVE_NUMBER_LIKE, parse_number

if TYPE_CHECKING:
    from gradcli.report import Report
    from gradcli.spec import RunOptions

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
SEED = click.IntRange(0, 2**63 - 1)  # what numpy's default_rng and torch.manual_seed both take


class _Context(click.Context):
    """Gives click the help width itself: click would import shutil for it (11 ms of
    bz2, lzma and zlib) on every --help. The same rule as shutil.get_terminal_size."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.terminal_width is None:
            columns = _terminal_columns()
            self.terminal_width = max(min(columns, self.max_content_width or 80) - 2, 50)


def _terminal_columns() -> int:
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 80
    except (AttributeError, ValueError, OSError):
        return 80


class _Command(click.Command):
    context_class = _Context


class _Group(click.Group):
    context_class = _Context
    command_class = _Command


class InputProblem(click.ClickException):
    """Bad input found after parsing: one `Error:` line on stderr, exit status 2."""

    exit_code = ExitStatus.USAGE


class NumbersAsValues(_Command):
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
        click.option("--quiet", is_flag=True, help="Print only the one-line verdict."),
        click.option(
            "--heatmap", is_flag=True, help="Show arrays as sign-and-magnitude grids, not numbers."
        ),
        click.option(
            "--plot",
            metavar="FILE.png|.svg",
            help="Draw each array per backend and |difference| (needs gradcli[plot]).",
        ),
        click.option(
            "--save",
            metavar="FILE.npz",
            help='Write every result array to FILE.npz (keys "<backend>.<quantity>").',
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _print_version(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"gradcli, version {__version__}")
        ctx.exit()


@click.group(cls=_Group, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",  # not click.version_option: its gettext costs ms
)
def cli() -> None:
    """See a derivative and check it: numpy formulas, torch autograd and finite
    differences, side by side.

    Exit status: 0 the backends agree, 1 they disagree (or a result is not finite),
    2 bad usage or input, 70 a bug in gradcli, 74 the output could not be written,
    130 interrupted, 141 stdout closed early.

    \b
    Examples:
      gradcli softmax 3 1 -3
      gradcli softmax 3 1 -3 --json | jq .comparisons
      gradcli layer --seed 42 --loss output --index 0 --explain 'W[0,0]'
      gradcli graph "c = a / a.sum(0, keepdim=True); y = w @ c" --rand w=4x10 --rand a=10x10
    """


@cli.command(
    cls=NumbersAsValues,
    context_settings=CONTEXT_SETTINGS,
    short_help="Softmax of a vector and its Jacobian.",
)
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


@cli.command(context_settings=CONTEXT_SETTINGS, short_help="dW, db, dx of a softmax layer.")
@click.option("--in-features", type=int, default=3, show_default=True, help="Inputs of the layer.")
@click.option("--out-features", type=int, default=3, show_default=True, help="Outputs (classes).")
@click.option("--batch", type=int, help="Rows of x: x is (batch, in) [default: one vector x].")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of W, b, x and y.")
@click.option(
    "--loss",
    type=click.Choice(LOSSES),
    help="ce (cross-entropy), mse, sum (L = Σ s) or output (L = s_k)  [default: ce]",
)
@click.option(
    "--target", metavar="K|JSON", help="ce: the class K [0]; mse: y as JSON [drawn from the seed]."
)
@click.option("--targets", metavar="K,K,…", help="ce with a batch: one class per row.")
@click.option("--index", type=int, help="output: k in L = s_k [0].")
@click.option("--spec", "spec_path", metavar="FILE|-", help="W, b, x (and loss) from JSON.")
@click.option(
    "--explain", metavar="ENTRY", help="Show the chain rule for W[i,j], b[i], x[j] or x[r,j]."
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
        from gradcli.problems import layer as problem

        spec = _layer_spec(ctx, options)
        if options["save"]:
            from gradcli.save import check_save_path

            check_save_path(options["save"])
        report = problem.run(spec)
        emit(report, options)
    ctx.exit(ExitStatus.OK if report.ok else ExitStatus.DISAGREE)


@cli.command(
    context_settings=CONTEXT_SETTINGS, short_help="Every gradient of a small tensor program."
)
@click.argument("program", required=False)
@click.option("-f", "--file", "program_file", metavar="FILE", help="Read the program from FILE.")
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
      gradcli graph -f program.txt --var 'z=[3, 1, -3]'
    """
    with user_errors():
        from gradcli.problems import graph as problem

        spec = _graph_spec(options)
        if options["save"]:
            from gradcli.save import check_save_path

            check_save_path(options["save"])
        report = problem.run(spec)
        emit(report, options)
    ctx.exit(ExitStatus.OK if report.ok else ExitStatus.DISAGREE)


def _graph_spec(options: dict[str, Any]) -> Any:
    from gradcli import inputs
    from gradcli.problems.graph_parse import parse_program
    from gradcli.spec import GraphSpec

    if (options["program"] is None) == (options["program_file"] is None):
        raise InputError("give the program as an argument or with -f FILE (one of them)")
    text = options["program"]
    if text is None:
        text = (
            _read_stdin()
            if options["program_file"] == "-"
            else inputs.read_text_file(options["program_file"])
        )
    draws: list[tuple[str, tuple[int, ...], str]] = []
    values: dict[str, Any] = {}
    for item in options["rand"]:
        name, shape, dist = _parse_rand(item)
        if name in values or any(d[0] == name for d in draws):
            raise InputError(f"--rand {item}: {name!r} is given twice")
        draws.append((name, shape, dist))
    for item in options["var"]:
        name, _, value = item.partition("=")
        if not _:
            raise InputError(f"--var {item!r}: write NAME=JSON or NAME=@file.npy")
        if name in values or any(d[0] == name for d in draws):
            raise InputError(f"--var {item}: {name!r} is given twice")
        values[name] = _var_value(name, value)
    names = tuple([d[0] for d in draws] + list(values))
    program = parse_program(text, names)
    if draws:
        from gradcli.backends import autograd

        values = {**autograd.rand_inputs(draws, options["seed"]), **values}
    labels = tuple(
        f"{n}={'x'.join(map(str, s)) or '()'}{':normal' if d == 'normal' else ''}"
        for n, s, d in draws
    )
    return GraphSpec(
        program,
        {n: values[n] for n in names},
        options["seed"] if draws else None,
        labels,
        _run_options(options),
    )


MAX_RAND_ELEMENTS = 10_000_000


def _parse_rand(item: str) -> tuple[str, tuple[int, ...], str]:
    name, sep, rest = item.partition("=")
    shape_text, _, dist = rest.partition(":")
    if not sep or not name:
        raise InputError(f"--rand {item!r}: write NAME=SHAPE such as a=10x10 (or a=10x10:normal)")
    if dist not in ("", "normal", "uniform"):
        raise InputError(f"--rand {item!r}: the distribution is :normal or :uniform, not {dist!r}")
    parts = shape_text.split("x") if shape_text else []
    if not all(p.isdigit() for p in parts):
        raise InputError(f"--rand {item!r}: the shape is sizes joined by x, such as 4x10")
    shape = tuple(int(p) for p in parts)
    size = 1
    for n in shape:
        size *= n
    if size > MAX_RAND_ELEMENTS:
        raise InputError(f"--rand {item}: {size} elements; the limit is {MAX_RAND_ELEMENTS}")
    return name, shape, "normal" if dist == "normal" else "uniform"


def _var_value(name: str, text: str) -> Any:
    from gradcli import inputs

    if text.startswith("@"):
        return (
            inputs.load_npy(text[1:])
            if text.endswith(".npy")
            else inputs.to_array(
                inputs.parse_json(inputs.read_text_file(text[1:]), text[1:]), text[1:]
            )
        )
    return inputs.to_array(inputs.parse_json(text, f"--var {name}"), f"--var {name}")


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE


def _layer_spec(ctx: click.Context, options: dict[str, Any]) -> Any:
    """A LayerSpec from the options: drawn from --seed, or read from --spec."""
    from gradcli.problems import layer_inputs
    from gradcli.spec import LayerSpec

    loss_options = {
        "target": _target_value(options["target"], options["loss"]),
        "targets": _targets_value(options["targets"]),
        "index": options["index"],
    }
    if options["spec_path"] is None:
        layer_inputs.check_sizes(options["in_features"], options["out_features"], options["batch"])
        drawn = layer_inputs.draw_layer(
            options["seed"], options["in_features"], options["out_features"], options["batch"]
        )
        loss = layer_inputs.build_loss(options["loss"] or "ce", drawn_y=drawn["y"], **loss_options)
        return LayerSpec(
            drawn["W"],
            drawn["b"],
            drawn["x"],
            loss,
            options["seed"],
            options["explain"],
            _run_options(options),
            options["fd_mode"],
        )
    clashing = [
        f"--{n.replace('_', '-')}"
        for n in ("in_features", "out_features", "batch", "seed")
        if _given(ctx, n)
    ]
    if clashing:
        raise InputError(f"--spec gives W, b and x: {', '.join(clashing)} cannot be used with it")
    doc = layer_inputs.read_spec(
        _read_json_source(options["spec_path"]), _source_name(options["spec_path"])
    )
    loss = _spec_loss(doc["loss"], options["loss"], loss_options)
    if doc["dtype"] and not _given(ctx, "dtype"):
        options = {**options, "dtype": doc["dtype"]}
    return LayerSpec(
        doc["W"],
        doc["b"],
        doc["x"],
        loss,
        None,
        options["explain"],
        _run_options(options),
        options["fd_mode"],
    )


def _spec_loss(from_spec: Any, kind: str | None, loss_options: dict[str, Any]) -> Any:
    """The spec's loss, with --loss/--target/--targets/--index overriding it."""
    from gradcli.problems import layer_inputs

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


def _targets_value(text: str | None) -> list[int] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() for p in parts):
        raise InputError(f"--targets {text!r}: expected classes separated by commas, e.g. 0,2,1")
    return [int(p) for p in parts]


def _read_json_source(path: str) -> Any:
    from gradcli import inputs

    if path == "-":
        return inputs.parse_json(_read_stdin(), "--spec -")
    return inputs.parse_json(inputs.read_text_file(path), path)


def _source_name(path: str) -> str:
    return "--spec -" if path == "-" else path


def _read_stdin() -> str:
    from gradcli.inputs import read_text

    return read_text(sys.stdin.buffer, "stdin")


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
        return inputs.parse_text(_read_stdin(), "stdin")
    if not values:
        raise InputError("no input: give numbers (gradcli softmax 3 1 -3), '-' or --input FILE")
    return inputs.parse_tokens(list(values), "z", item="argument")


def _run_options(options: dict[str, Any]) -> RunOptions:
    """The options every command shares, checked before anything is computed."""
    from gradcli.spec import RunOptions

    if options["quiet"] and options["as_json"]:
        raise InputError("--quiet and --json exclude each other")
    if options["plot"]:
        from gradcli.render.plot import check_plot_path

        check_plot_path(options["plot"])
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
    if options["plot"]:
        from gradcli.render.plot import save_plot

        save_plot(report, options["plot"])
        click.echo(f"gradcli: plotted to {options['plot']}", err=True)
    if options["quiet"]:
        click.echo(report.verdict.summary)
    elif options["as_json"]:
        from gradcli.render import json

        click.echo(json.dumps(report, indent=sys.stdout.isatty()), nl=False)
    else:
        from gradcli.render import table

        table.print_report(report, precision=options["precision"], heatmap=options["heatmap"])


def main(argv: list[str] | None = None) -> NoReturn:
    """The console script: map every way of ending to its exit status.

    stderr carries gradcli's own messages only: numpy's RuntimeWarnings and torch's
    UserWarnings are silenced here (the library computes under np.errstate, and the
    test suite turns any warning into an error).
    """
    warnings.simplefilter("ignore")
    # A short-lived process whose arrays are freed by reference counting: with torch
    # loaded, each full cyclic collection walks millions of objects (≈100 ms measured).
    gc.disable()
    try:
        status = cli.main(args=argv, prog_name="gradcli", standalone_mode=False)
        sys.stdout.flush()
    except click.ClickException as exc:
        click.echo(error_line(exc), err=True)
        status = exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("gradcli: interrupted", err=True)
        status = ExitStatus.INTERRUPTED
    except BrokenPipeError:
        status = ExitStatus.BROKEN_PIPE
    except OSError as exc:  # stdout could not be written: disk full, a closed terminal
        click.echo(f"Error: cannot write the output: {exc.strerror or exc}", err=True)
        status = ExitStatus.IO_ERROR
        _silence_stdout()
    except Exception:
        import traceback

        traceback.print_exc()
        click.echo(
            "gradcli: this is a bug in gradcli; please report it with the command line above",
            err=True,
        )
        status = ExitStatus.BUG
    if status == ExitStatus.BROKEN_PIPE:
        _silence_stdout()
    sys.exit(int(status) if isinstance(status, int) else 0)


def _silence_stdout() -> None:
    """Python would print "Exception ignored … BrokenPipeError" (or the write error
    again) when it flushes stdout at exit; point stdout at /dev/null first, as the
    signal module's documentation advises."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def error_line(exc: click.ClickException) -> str:
    """One line for any error of usage or input: what was wrong, and where help is."""
    message = " ".join(exc.format_message().split())
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        return f"Error: {message} (see '{exc.ctx.command_path} --help')"
    return f"Error: {message}"
