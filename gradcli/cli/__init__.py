"""The command line: parse and validate, build a spec, run the problem, render, exit.

Only this package imports click. numpy, rich and torch are imported inside the
commands, so that `gradcli --help` costs little more than click's own import. Each
command lives in its own module; this one holds the group, `main` and the exit statuses.
"""

from __future__ import annotations

import gc
import os
import sys
import warnings
from typing import Any, NoReturn

import click

from gradcli import __version__
from gradcli.cli import streams
from gradcli.cli.group import COMMANDS, CONTEXT_SETTINGS, LazyGroup
from gradcli.errors import OutputError
from gradcli.exit_status import ExitStatus

__all__ = [
    "check",
    "cli",
    "error_line",
    "graph",
    "layer",
    "main",
    "softmax",
    "values_behind_double_dash",
]


def _print_version(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"gradcli, version {__version__}")
        ctx.exit()


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
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
    130 interrupted (128 + n for signal n), 141 stdout closed early.

    \b
    Examples:
      gradcli softmax 3 1 -3
      gradcli softmax 3 1 -3 --json | jq .comparisons
      gradcli layer --seed 42 --loss output --index 0 --explain 'W[0,0]'
      gradcli graph "c = a / a.sum(0, keepdim=True); y = w @ c" \\
          --rand w=4x10 --rand a=10x10
    """


def __getattr__(name: str) -> Any:
    """The commands (`gradcli.cli.softmax`, …), imported when first asked for."""
    if name == "values_behind_double_dash":
        from gradcli.cli.common import values_behind_double_dash

        return values_behind_double_dash
    if name in COMMANDS:
        import importlib

        return getattr(importlib.import_module(COMMANDS[name][0]), name)
    raise AttributeError(f"module 'gradcli.cli' has no attribute {name!r}")


def main(argv: list[str] | None = None) -> NoReturn:
    """The console script: map every way of ending to its exit status (ExitStatus).

    stderr carries gradcli's own messages only: numpy's RuntimeWarnings and torch's
    UserWarnings are silenced here (the library computes under np.errstate, and the
    test suite turns any warning into an error).
    """
    warnings.simplefilter("ignore")
    # A short-lived process whose arrays are freed by reference counting: with torch
    # loaded, each full cyclic collection walks millions of objects (≈100 ms measured).
    gc.disable()
    streams.prepare()
    try:
        status = _status(argv)
    finally:  # a temporary whose `with` block a signal never let start or finish
        save = sys.modules.get("gradcli.save")  # not imported: no temporary (--help: 6 ms)
        if save is not None:
            save.remove_pending()
        mpl_home = sys.modules.get("gradcli.render.mpl_home")  # --plot's matplotlib folder
        if mpl_home is not None:
            mpl_home.remove()
    try:  # noqa: SIM105  (an error's partial output, if any; a success has written it all)
        streams.release_stdout()
    except (OSError, ValueError):
        pass
    if status in (ExitStatus.BROKEN_PIPE, ExitStatus.IO_ERROR):
        _silence_stdout()
    _settle_stderr()
    sys.exit(int(status))


def _settle_stderr() -> None:
    """A note gradcli could not write to stderr (`2>/dev/full`, `2>&-`) is lost, not a
    failure: with stderr buffered (no PYTHONUNBUFFERED), Python's own flush at exit would
    fail and turn the run's status into 120."""
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except (OSError, ValueError):
        _to_devnull(2)


def _status(argv: list[str] | None) -> int:
    if sys.stdout is None:  # started with stdout closed (`>&-`): nowhere for the answer
        streams.note("Error: cannot write the output: stdout is closed")
        return ExitStatus.IO_ERROR
    try:
        os.getcwd()
    except FileNotFoundError:  # deleted under the shell: torch's MKL then dies at import
        # with its own fatal error, and a relative path could only land somewhere else
        streams.note("Error: the current folder no longer exists; cd to one that does")
        return ExitStatus.USAGE
    try:
        status = cli.main(args=argv, prog_name="gradcli", standalone_mode=False)
        streams.release_stdout()  # the output, in one piece: a closed pipe shows here
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `gradcli`: the help itself
        streams.note(exc.ctx.get_help() if exc.ctx else exc.format_message())
        return ExitStatus.USAGE
    except click.ClickException as exc:
        streams.note(error_line(exc))
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        # click wraps a KeyboardInterrupt (gradcli's Interrupted too) in Abort
        signum = getattr(exc.__cause__ or exc, "signum", 2)
        words = "interrupted" if signum == 2 else f"terminated by signal {signum}"
        streams.note(f"gradcli: {words}")
        return 128 + signum
    except OutputError as exc:
        streams.note(f"Error: {exc}")
        return ExitStatus.IO_ERROR
    except BrokenPipeError:
        return ExitStatus.BROKEN_PIPE
    except OSError as exc:  # stdout could not be written: disk full, a closed terminal
        streams.note(f"Error: cannot write the output: {exc.strerror or exc}")
        return ExitStatus.IO_ERROR
    except SystemExit as exc:
        if streams.pipe_closed():  # click's own EPIPE handling exits with 1: it is 141
            return ExitStatus.BROKEN_PIPE
        # click's shell completion (_GRADCLI_COMPLETE=bash_source …) ends in sys.exit
        # once it has printed: what it printed is the output, released as any other
        streams.release_stdout()
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except MemoryError:  # past what was predicted: an address-space limit (ulimit -v)
        streams.note("Error: out of memory: the run needs more than this process may use")
        return ExitStatus.USAGE
    except Exception as exc:
        if isinstance(exc, ImportError) and "torch" in f"{exc.name} {exc}":
            # libtorch_cpu.so "failed to map segment": too little address space for torch
            streams.note(f"Error: torch could not be loaded: {' '.join(str(exc).split())}")
            return ExitStatus.USAGE
        import traceback

        streams.note(traceback.format_exc().rstrip())
        streams.note(
            "gradcli: this is a bug in gradcli; please report it with the command line above"
        )
        return ExitStatus.BUG
    return status if isinstance(status, int) else ExitStatus.OK


def _silence_stdout() -> None:
    """Python would print "Exception ignored … BrokenPipeError" (or the write error
    again) when it flushes stdout at exit; point stdout at /dev/null first, as the
    signal module's documentation advises."""
    try:  # noqa: SIM105  (contextlib is not imported on this path)
        _to_devnull(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # AttributeError: no stdout at all
        pass


def _to_devnull(fd: int) -> None:
    """Point `fd` at /dev/null: what is still buffered for it is dropped, not an error."""
    try:  # noqa: SIM105  (contextlib is not imported on this path)
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
    except OSError:
        pass


def error_line(exc: click.ClickException) -> str:
    """One line for any error of usage or input: what was wrong, and where help is."""
    message = " ".join(exc.format_message().split())
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        return f"Error: {message} (see '{exc.ctx.command_path} --help')"
    return f"Error: {message}"
