"""The user's code under test: `path.py:name` or `module.path:name`, imported as pytest
imports test files (running the user's own code is the point), and called through a
guard that turns any failure into one clear line (its traceback only with --debug)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from gradcli.errors import InputError

_MODULES: dict[str, ModuleType] = {}  # one module object per file, shared by every target


def load(target: str, what: str, *, debug: bool = False) -> Any:
    """The object `name` of `path.py:name` or `module.path:name`."""
    location, sep, name = target.rpartition(":")
    if not sep or not location or not name.isidentifier():
        raise InputError(f"{what} {target!r}: write path.py:name or module.path:name")
    module = _module(location, what, target, debug)
    try:
        return getattr(module, name)
    except AttributeError:
        raise InputError(f"{what} {target!r}: {location} has no {name!r}") from None


def _module(location: str, what: str, target: str, debug: bool) -> ModuleType:
    if location in _MODULES:
        return _MODULES[location]
    try:
        if location.endswith(".py"):
            path = Path(location)
            if not path.is_file():
                raise InputError(f"{what} {target!r}: no file {location}")
            spec = importlib.util.spec_from_file_location(f"gradcli_target_{path.stem}", path)
            if spec is None or spec.loader is None:
                raise InputError(f"{what} {target!r}: cannot import {location}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(location)
    except InputError:
        raise
    except BaseException as exc:  # the user's module may raise anything while importing
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise InputError(_failure(f"{what} {target!r}: importing it raised", exc, debug)) from None
    _MODULES[location] = module
    return module


def call(function: Any, args: tuple[Any, ...], what: str, *, debug: bool = False) -> Any:
    """function(*args); anything it raises becomes one line naming `what`."""
    try:
        return function(*args)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        raise InputError(_failure(f"{what} raised", exc, debug)) from None


def as_array(value: Any, what: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """The user's result as a float64 array (of `shape`, if given), or one clear line."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if not isinstance(value, (np.ndarray, list, tuple, float, int)) or isinstance(value, bool):
        raise InputError(f"{what} returned {type(value).__name__}, not an array")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what} returned something that is not an array of numbers") from None
    if shape is not None and array.size == int(np.prod(shape)) and array.shape != shape:
        array = array.reshape(shape)  # e.g. a Jacobian as (out, in) for (out..., in...)
    if shape is not None and array.shape != shape:
        raise InputError(f"{what} returned shape {array.shape}, expected {shape}")
    return array


def _failure(prefix: str, exc: BaseException, debug: bool) -> str:
    if debug:
        traceback.print_exception(exc)
    return f"{prefix} {type(exc).__name__}: {exc}" + (
        "" if debug else " (--debug shows the traceback)"
    )
