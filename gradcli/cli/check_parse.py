"""Parsing `gradcli check`'s repeatable input options: [NAME=]AxB shapes, [NAME=]FILE
inputs, [NAME=]S scales, [NAME=]DIST distributions and NAME=VALUE arguments."""

from __future__ import annotations

import ast
from typing import Any

from gradcli.errors import InputError


def _split(text: str, option: str, *, named: bool = False) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        if named:
            raise InputError(f"{option} {text!r}: write NAME=VALUE")
        return "", text
    if not name.isidentifier() and not all(p.isidentifier() for p in name.split(".")):
        raise InputError(f"{option} {text!r}: {name!r} is not a name")
    return name, value


def _by_name(values: tuple[str, ...], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for text in values:
        name, value = _split(text, option)
        if name in out:
            raise InputError(f"{option} given twice for {name or 'every input'}")
        out[name] = value
    return out


def input_arguments(options: dict[str, Any]) -> dict[str, Any]:
    """gradcli.check's inputs from --shape, --input, --scale and --dist ([NAME=]VALUE;
    no name: the one input, or every input for --scale and --dist): the files read
    here, every value checked (and the inputs drawn) by gradcli.check."""
    from gradcli import inputs

    shapes = _by_name(options["shapes"], "--shape")
    files = _by_name(options["input_paths"], "--input")
    for name, path in files.items():
        if not path.strip():
            raise InputError(f"--input {name + '=' if name else ''}'': give a .npy or .json file")
    fixed = {}
    for name, path in files.items():
        if path.endswith(".npy"):
            fixed[name] = inputs.load_npy(path)
        else:
            fixed[name] = inputs.to_array(
                inputs.parse_json(inputs.read_text_file(path), path), path
            )
    arguments: dict[str, Any] = {
        "x": fixed.pop("", None),
        "shape": shapes.pop("", None),
        "inputs": fixed or None,
        "shapes": shapes or None,
    }
    scales = _by_name(options["scales"], "--scale")
    dists = _by_name(options["dists"], "--dist")
    if scales:  # a mapping: the key "" for every input not named, as gradcli.check reads it
        arguments["scale"] = scales
    if dists:
        arguments["dist"] = dists
    return arguments


def arguments(values: tuple[str, ...]) -> dict[str, Any]:
    """--arg NAME=VALUE: VALUE as a Python literal (1e-5, True, (2, 3), 'text'), else the
    text itself."""
    out: dict[str, Any] = {}
    for text in values:
        name, value = _split(text, "--arg", named=True)
        if name in out:
            raise InputError(f"--arg {name} given twice")
        try:
            out[name] = ast.literal_eval(value) if len(value) < 1000 else value
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            out[name] = value
        except TypeError as exc:  # a literal that cannot be made: {[1]: 2}, {{1}}
            raise InputError(f"--arg {text}: not a value Python can make ({exc})") from None
    return out
