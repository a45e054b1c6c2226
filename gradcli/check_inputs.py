"""gradcli.check's inputs, as the API and the CLI give them: one unnamed input (x, or a
shape drawn) or several by name (inputs given, shapes drawn), each drawn one with its
scale and distribution. Messages name the parameter as the caller spells it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from gradcli import params
from gradcli.errors import InputError

DISTS = ("normal", "uniform")
# The largest scale of drawn inputs (messages say "1e300"): float64 ends at 1.8e308,
# which uniform's range (2·scale), a normal draw's tail and fd's steps x ± h would reach
MAX_SCALE = 1e300


@dataclasses.dataclass(frozen=True)
class Inputs:
    """What gradcli.check takes for its inputs (one unnamed input is named "")."""

    x: Any = None
    shape: Any = None
    inputs: Mapping[str, Any] | None = None
    shapes: Mapping[str, Any] | None = None
    scale: Any = 1.0
    dist: Any = "normal"


def trial_inputs(given: Inputs, *, trials: int, seed: int) -> list[dict[str, Any]]:
    """One mapping name -> array per trial: the given ones, and the drawn ones (their
    scale and distribution by name, the key "" for every input not named)."""
    from gradcli.commands.check.build import draw

    for value, name in ((given.inputs, "inputs"), (given.shapes, "shapes")):
        if value is not None and not isinstance(value, Mapping):
            raise InputError(f"{name} must be a mapping of names, such as {{'x': ...}}")
        params.keys(value or {}, name)
    fixed = dict(given.inputs or {})
    drawn = {
        str(name): _shape(size, params.named(f"shapes[{name!r}]", f"--shape {name}="))
        for name, size in (given.shapes or {}).items()
    }
    twice = sorted(set(fixed) & set(drawn))
    if twice:
        both = params.named("in inputs and in shapes", "by --shape and --input")
        raise InputError(f"{', '.join(twice)} given both {both}: give one")
    if given.x is not None and given.shape is not None:
        shape, x = params.named("shape", "--shape"), params.named("x", "--input")
        raise InputError(f"the input given both by {shape} and {x}: give one")
    if given.x is not None:
        fixed[""] = given.x
    if given.shape is not None:
        drawn[""] = _shape(given.shape, params.named("shape", "--shape"))
    if not fixed and not drawn:
        raise InputError(
            params.named(
                "give x or shape (one input), or inputs/shapes by name",
                "give the input as --shape AxB (random) or --input FILE (one of them)",
            )
        )
    if "" in {*fixed, *drawn} and len(fixed) + len(drawn) > 1:
        example = params.named("shapes={'x': (8, 16)}", "--shape x=8x16 --input W=w.npy")
        raise InputError(f"with several inputs, name each one: {example}")
    scales = {name: _scale(value, name) for name, value in _by_name(given.scale, "scale").items()}
    dists = {name: _dist(value, name) for name, value in _by_name(given.dist, "dist").items()}
    if not drawn:
        if given.scale != 1.0 or given.dist != "normal":
            raise InputError(
                params.named(
                    "scale and dist are for inputs drawn with shape or shapes",
                    "--scale and --dist are for inputs drawn with --shape",
                )
            )
        return [fixed]
    return draw(drawn, trials=trials, seed=seed, scales=scales, dists=dists, fixed=fixed)


def _shape(value: Any, where: str) -> tuple[int, ...]:
    """Sizes joined by x or a sequence of them, by the rule of every shape option: at
    least one size (an empty shape is not an input to check)."""
    from gradcli.commands.check.build import MAX_CHECK_ELEMENTS

    if isinstance(value, str) and not value:
        raise InputError(f"{params.where(where, value)}: sizes joined by x, such as 5 or 4x6")
    return params.shape(value, where, MAX_CHECK_ELEMENTS)


def _by_name(value: Any, what: str) -> dict[str, Any]:
    """A value for every input ({"": value}), or a mapping name -> value."""
    if isinstance(value, Mapping):
        params.keys({k: v for k, v in value.items() if k != ""}, what)
        return {str(k): v for k, v in value.items()}
    return {"": value}


def _scale(value: Any, name: str) -> float:
    where = params.named(
        f"scale[{name!r}]" if name else "scale", f"--scale {name}=" if name else "--scale"
    )
    scale = params.number(value, where.rstrip("="))
    if scale < 0:
        raise InputError(f"{params.where(where, value)}: must be 0 or more")
    if scale > MAX_SCALE:  # draws and fd's steps near float64's limit overflow
        raise InputError(f"{params.where(where, value)}: at most 1e300")
    return scale


def _dist(value: Any, name: str) -> str:
    where = params.named(
        f"dist[{name!r}]" if name else "dist", f"--dist {name}=" if name else "--dist"
    )
    if not isinstance(value, str) or value not in DISTS:
        raise InputError(f"{params.where(where, value)}: one of {', '.join(DISTS)}")
    return value
