"""The command group's own pieces: what `gradcli --help` needs and nothing more.

Kept apart from common.py (the commands' options, parameter types and output), so that
the group's help imports neither those nor the modules they use.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Context(click.Context):
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


class Command(click.Command):
    context_class = Context


class Group(click.Group):
    context_class = Context
    command_class = Command


# name -> (module, short help). The group lists commands from this table and imports a
# command's module only to run it: `gradcli --help` builds no command's options.
COMMANDS = {
    "check": ("gradcli.cli.check_command", "Check your own derivative."),
    "graph": ("gradcli.cli.graph_command", "Every gradient of a small tensor program."),
    "layer": ("gradcli.cli.layer_command", "dW, db, dx of a softmax layer."),
    "softmax": ("gradcli.cli.softmax_command", "Softmax of a vector and its Jacobian."),
}


class LazyGroup(Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and name not in COMMANDS and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint} The commands: {', '.join(COMMANDS)}.")
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        import importlib

        command: click.Command = getattr(importlib.import_module(COMMANDS[cmd_name][0]), cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])
