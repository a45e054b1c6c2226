"""Matching the inputs and --arg values the user named to the parameters of their
forward (and derivative), as Python would bind them, with one clear line when they do
not match: both lists are named."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from gradcli.errors import InputError

UNNAMED = ""  # an input given without a name (--shape 5): the first free parameter


@dataclass(frozen=True)
class Parameters:
    """A function's parameters: positional ones in order, keyword-only ones, which of
    them have no default, and whether it takes **kwargs."""

    positional: tuple[str, ...]
    keyword_only: tuple[str, ...]
    required: tuple[str, ...]
    var_keyword: bool
    var_positional: bool

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.positional, *self.keyword_only)


def parameters(function: Any, *, skip: int = 0) -> Parameters | None:
    """The parameters of `function` (the first `skip` positional ones left out: ctx,
    self); None where Python cannot tell (some builtins)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    kinds = inspect.Parameter
    params = list(signature.parameters.values())
    positional = [
        p for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    ]
    positional = positional[skip:]
    keyword_only = [p for p in params if p.kind == kinds.KEYWORD_ONLY]
    empty = inspect.Parameter.empty
    return Parameters(
        positional=tuple(p.name for p in positional),
        keyword_only=tuple(p.name for p in keyword_only),
        required=tuple(p.name for p in (*positional, *keyword_only) if p.default is empty),
        var_keyword=any(p.kind == kinds.VAR_KEYWORD for p in params),
        var_positional=any(p.kind == kinds.VAR_POSITIONAL for p in params),
    )


def name_inputs(
    given: list[str], args: dict[str, Any], params: Parameters | None, what: str
) -> tuple[str, ...]:
    """The names of the inputs, in the forward's order; an UNNAMED input takes the first
    parameter that no --arg fills. Raises InputError listing both sides on a mismatch."""
    if params is None:  # no signature (a numpy ufunc): one input, called positionally
        if len(given) != 1:
            raise InputError(f"{what} has no signature gradcli can read: give one input")
        return ("x",) if given == [UNNAMED] else tuple(given)
    both = [n for n in given if n in args]
    if both:  # an array and an --arg for one parameter: which one would be passed?
        raise InputError(f"{_list(both)} given both as an input and by --arg: give one")
    free = [p for p in params.positional if p not in args and p not in given]
    names = []
    for name in given:
        if name == UNNAMED:
            if not free:
                raise InputError(
                    f"{what} takes {_list(params.all)}: no parameter left for the input"
                )
            name = free.pop(0)
        names.append(name)
    unknown = [n for n in [*names, *args] if n not in params.all]
    if unknown and not (params.var_keyword and all(n in args for n in unknown)):
        raise InputError(
            f"{what} takes {_list(params.all)}, but the inputs and --arg name "
            f"{_list([*names, *args])}: {_list(unknown)} matches no parameter"
        )
    missing = [p for p in params.required if p not in names and p not in args]
    if missing:
        raise InputError(
            f"{what} takes {_list(params.all)}, but the inputs and --arg name "
            f"{_list([*names, *args])}: give {_list(missing)} (--shape NAME=AxB, --input "
            "NAME=FILE or --arg NAME=VALUE)"
        )
    order = {p: i for i, p in enumerate(params.all)}
    return tuple(sorted(names, key=lambda n: order.get(n, len(order))))


def bind(
    values: dict[str, Any], params: Parameters | None
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """(positional, keyword) arguments for a call with `values` by name: positionally as
    far as the parameters are given in order, then by keyword."""
    if params is None:
        return tuple(values.values()), {}
    positional: list[Any] = []
    for name in params.positional:
        if name not in values:
            break
        positional.append(values[name])
    keywords = {k: v for k, v in values.items() if k not in params.positional[: len(positional)]}
    return tuple(positional), keywords


def accepted(args: dict[str, Any], function: Any) -> dict[str, Any]:
    """The --arg values that `function` (a derivative) takes by keyword."""
    params = parameters(function)
    if params is None or params.var_keyword:
        return dict(args)
    return {k: v for k, v in args.items() if k in params.all}


def _list(names: Any) -> str:
    return "(" + ", ".join(names) + ")"
