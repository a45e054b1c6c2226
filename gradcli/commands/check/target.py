"""The user's code under test: `path.py:name` or `module.path:name`, imported as pytest
imports test files (running the user's own code is the point), its stdout sent to
stderr and any failure turned into one clear line (its traceback only with --debug).

A file's own directory is put on sys.path first, so that a target may import the
modules that sit beside it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from gradcli import params
from gradcli.commands.check import stand_ins
from gradcli.commands.check.guard import as_array, call, failure, user_stdout
from gradcli.errors import InputError

__all__ = ["as_array", "call", "load", "load_with", "module_of"]

_MODULES: dict[str, ModuleType] = {}  # one module object per file, shared by every target


def load(target: str, what: str, *, debug: bool = False) -> Any:
    """The object `name` of `path.py:name` or `module.path:name`."""
    return load_with(target, what, {}, debug=debug)[0]


def load_with(
    target: str, what: str, init: dict[str, Any], *, debug: bool = False
) -> tuple[Any, set[str]]:
    """The object `name` (or `Class.method`) of `path.py:name` or `module.path:name`, and
    the names of `init` (the --arg values) a class built for its method took."""
    require_name(target, what, debug=debug)
    location, _, name = target.rpartition(":")
    head, *rest = name.split(".")
    module = _module(location, what, target, debug)
    try:
        obj = getattr(module, head)
    except AttributeError:
        raise InputError(
            f"{what} {target!r}: {location} has no {head!r}{_names(module, head)}"
        ) from None
    if not rest:
        return obj, set()
    from gradcli.commands.check import conventions

    return conventions.attribute(obj, rest, f"{what} {target!r}", init, debug)


def require_name(target: str, what: str, *, debug: bool = False) -> None:
    """Refuse a target that names no object: `lowp.py` or `lowp.py:` says the name is
    missing and lists what the file defines (checked before anything else of check)."""
    location, sep, name = target.rpartition(":")
    if sep and location and all(part.isidentifier() for part in name.split(".")):
        return
    if sep and location and name:
        raise InputError(f"{what} {target!r}: {name!r} is not a Python name")
    place = location if sep else target
    if place.endswith(".py") and not Path(place).is_file():
        raise InputError(f"{what} {target!r}: no file {place}")
    if place.endswith(".py"):
        own = _own_names(_module(place, what, target, debug))
        defines = f" ({place} defines {', '.join(own)})" if own else ""
        raise InputError(f"{what} {target!r}: name what to check, as {place}:NAME{defines}")
    module, dot, last = place.rpartition(".")
    hint = f"; did you mean {module}:{last}?" if dot and module and last.isidentifier() else ""
    raise InputError(f"{what} {target!r}: write path.py:name or module.path:name{hint}")


def _own_names(module: ModuleType) -> list[str]:
    """The public callables `module` defines (not the ones it imports)."""
    return [
        n
        for n, v in vars(module).items()
        if callable(v)
        and not n.startswith("_")
        and getattr(v, "__module__", None) == module.__name__
    ]


def _names(module: ModuleType, name: str) -> str:
    """ "did you mean" and the callables the module does have (not the ones it imports)."""
    import difflib

    own = _own_names(module)
    close = difflib.get_close_matches(name, own, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (it has: {', '.join(own)})" if own else hint


def module_of(target: str) -> ModuleType | None:
    """The module a target string was loaded from (None if it was not loaded)."""
    return _MODULES.get(_cache_key(target.rpartition(":")[0]))


def _module(location: str, what: str, target: str, debug: bool) -> ModuleType:
    key = _cache_key(location)
    if key in _MODULES:
        return _MODULES[key]
    try:
        with user_stdout():
            module = _import(location, what, target)
    except InputError:
        raise
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the user's module may raise anything while importing
        missing = stand_ins.missing_module(exc)
        hint = ""
        if missing is not None:
            stub = params.named(f"stub=[{missing!r}]", f"--stub {missing}")
            hint = f"if the check does not need {missing}, {stub} stands in for it"
        raise InputError(
            failure(f"{what} {target!r}: importing it raised", exc, debug, hint)
        ) from None
    _MODULES[key] = module
    return module


def _cache_key(location: str) -> str:
    """A file by its resolved path and modification time: the same "naf.py" in another
    folder, or edited since (a notebook's second run), is another module. A name that
    no longer leads to a file (the user's code changed directory after its import) is
    the module it named last."""
    if not location.endswith(".py"):
        return location
    path = Path(location)
    try:
        key = f"{path.resolve()}@{path.stat().st_mtime_ns}"
    except OSError:  # gone from here: what it named, or _import says what is wrong
        return _NAMED.get(location, location)
    _NAMED[location] = key
    return key


_NAMED: dict[str, str] = {}  # a target's location as typed -> the key it last named


def _import(location: str, what: str, target: str) -> ModuleType:
    if location.endswith(".py"):
        path = Path(location)
        if not path.is_file():
            raise InputError(f"{what} {target!r}: no file {location}")
        folder = str(path.resolve().parent)
        if folder not in sys.path:  # `import helpers` of a helpers.py beside the target
            sys.path.insert(0, folder)
        spec = importlib.util.spec_from_file_location(f"gradcli_target_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise InputError(f"{what} {target!r}: cannot import {location}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return importlib.import_module(location)
