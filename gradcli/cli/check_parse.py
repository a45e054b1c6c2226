"""Parsing `gradcli check`'s repeatable input options: [NAME=]AxB shapes, [NAME=]FILE
inputs, [NAME=]S scales, [NAME=]DIST distributions and NAME=VALUE arguments."""

from __future__ import annotations

import ast
from typing import Any

from gradcli.errors import InputError

DISTS = ("normal", "uniform")


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


def params_where(option: str, text: str) -> str:
    from gradcli import params

    return params.where(option, text)


def shape(text: str, option: str = "--shape") -> tuple[int, ...]:
    """The rule gradcli.check(shape=...) uses (gradcli.params): ASCII sizes joined by x;
    `option` ends with = for a named input (`--shape x=`)."""
    from gradcli import params
    from gradcli.commands.check.build import MAX_CHECK_ELEMENTS

    if not text:
        raise InputError(f"{params_where(option, text)}: sizes joined by x, such as 5 or 4x6")
    return params.shape(text, option, MAX_CHECK_ELEMENTS)


def trial_inputs(options: dict[str, Any]) -> list[dict[str, Any]]:
    """One mapping name -> array per trial: drawn from --shape, read from --input."""
    from gradcli import inputs
    from gradcli.commands.check.build import draw

    shapes = {
        name: shape(value, f"--shape {name}=" if name else "--shape")
        for name, value in _by_name(options["shapes"], "--shape").items()
    }
    files = _by_name(options["input_paths"], "--input")
    if not shapes and not files:
        raise InputError("give the input as --shape AxB (random) or --input FILE (one of them)")
    both = set(shapes) & set(files)
    if both:
        named = ", ".join(sorted(both)) or "the input"
        raise InputError(f"{named} given both by --shape and --input: give one")
    for name, path in files.items():
        if not path.strip():
            raise InputError(f"--input {name + '=' if name else ''}'': give a .npy or .json file")
    if (len(shapes) + len(files) > 1) and "" in (set(shapes) | set(files)):
        raise InputError("with several inputs, name each one: --shape x=8x16 --input W=w.npy")
    fixed = {}
    for name, path in files.items():
        if path.endswith(".npy"):
            fixed[name] = inputs.load_npy(path)
        else:
            fixed[name] = inputs.to_array(
                inputs.parse_json(inputs.read_text_file(path), path), path
            )
    scales = {}
    for name, text in _by_name(options["scales"], "--scale").items():
        from gradcli import params  # the rule every numeric option uses

        option = f"--scale {name}=" if name else "--scale"  # the value as given: W=-1
        value = params.number(text, option.rstrip("="))
        if value < 0:
            raise InputError(f"{params.where(option, text)}: must be 0 or more")
        scales[name] = value
    dists = _by_name(options["dists"], "--dist")
    for text in dists.values():
        if text not in DISTS:
            raise InputError(f"--dist {text!r}: one of {', '.join(DISTS)}")
    if not shapes:
        if scales or dists:
            raise InputError("--scale and --dist are for inputs drawn with --shape")
        return [fixed]
    return draw(
        shapes,
        trials=options["trials"],
        seed=options["seed"],
        scales=scales,
        dists=dists,
        fixed=fixed,
    )


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
    return out
