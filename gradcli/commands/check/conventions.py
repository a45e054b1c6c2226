"""Targets as people write them (issue 20, item 8), turned into what check takes:

- a Function's alias (`relu = MyReLU.apply`, PyTorch's tutorial) or a functools.partial
  of one: the Function, with the partial's arguments as --arg values;
- a class's method (`GELU.fn`, `--grad GELU.grad`): the method of one instance, built
  without arguments or with the --arg values its __init__ takes, shared by the target
  and its derivative;
- cs231n's layers, `layer_forward(x, w, b) -> (out, cache)` with
  `layer_backward(dout, cache) -> (dx, dw, db)`: the forward's `out`, and a VJP that runs
  the forward for its cache and calls the backward; a `--vjp` whose parameters are
  (dout, cache) is one, and so is a target `NAME_forward` given alone whose module has
  `NAME_backward`;
- cs231n's losses, `loss(x, y) -> (loss, dx)` given alone: the loss, and dx as its
  gradient (recognised by calling it once on the first trial's inputs).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from gradcli.commands.check import guard
from gradcli.commands.check.signature import parameters
from gradcli.errors import InputError
from gradcli.names import CheckMode

Convention = Literal["cs231n layer", "cs231n loss"]


def function_behind(obj: Any) -> tuple[type, dict[str, Any]] | None:
    """The torch.autograd.Function behind `MyFn.apply` or a functools.partial of it,
    with the partial's arguments by the forward's parameter names (after ctx)."""
    bound: dict[str, Any] = {}
    if isinstance(obj, functools.partial):
        inner = function_behind(obj.func)
        if inner is None:
            return None
        cls, bound = inner
        params = parameters(cls.forward, skip=1)  # type: ignore[attr-defined]
        if params is None or len(obj.args) > len(params.positional):
            return None
        bound = {**bound, **dict(zip(params.positional, obj.args, strict=False))}
        return cls, {**bound, **obj.keywords}
    owner = getattr(obj, "__self__", None)
    if getattr(obj, "__name__", "") == "apply" and isinstance(owner, type) and is_function(owner):
        return owner, bound
    return None


def is_function(obj: Any) -> bool:
    return isinstance(obj, type) and hasattr(obj, "apply") and hasattr(obj, "backward")


_INSTANCES: dict[tuple[int, str], Any] = {}  # (class id, its kwargs) -> the instance


def attribute(
    obj: Any, path: list[str], what: str, init: dict[str, Any], debug: bool
) -> tuple[Any, set[str]]:
    """`obj.a.b` along `path`; a method of a class is taken from one instance of it,
    built with the values of `init` its __init__ takes. Returns the object and the names
    of `init` the constructor used."""
    used: set[str] = set()
    for name in path:
        if isinstance(obj, type):
            try:
                static = inspect.getattr_static(obj, name)
            except AttributeError:
                raise InputError(f"{what}: {obj.__name__} has no {name!r}") from None
            if inspect.isfunction(static):  # a method: it needs an instance
                obj, used = _instance(obj, init, debug), used | _init_names(obj, init)
        if not hasattr(obj, name):
            raise InputError(f"{what}: {type(obj).__name__} has no {name!r}")
        obj = getattr(obj, name)
    return obj, used


def _init_names(cls: type, init: dict[str, Any]) -> set[str]:
    params = parameters(cls)
    return {k for k in init if params is not None and k in params.all}


def _instance(cls: type, init: dict[str, Any], debug: bool) -> Any:
    """One instance per class and constructor arguments: the target's and the
    derivative's methods are bound to the same object."""
    kwargs = {k: init[k] for k in sorted(_init_names(cls, init))}
    key = (id(cls), repr(kwargs))
    if key not in _INSTANCES:
        _INSTANCES[key] = guard.call(
            cls, (), f"building {cls.__name__} for its methods", kwargs=kwargs, debug=debug
        )
    return _INSTANCES[key]


def takes_cache(derivative: Any) -> bool:
    """A backward in cs231n's form: two positional parameters, the second `cache`."""
    params = parameters(derivative)
    return params is not None and len(params.positional) == 2 and params.positional[1] == "cache"


@dataclass(frozen=True)
class Wrapped:
    """The forward and the derivative check runs instead of the user's, and the
    convention they follow (for the report's note)."""

    forward: Callable[..., Any]
    mode: CheckMode
    derivative: Callable[..., Any]
    convention: Convention


def cs231n_layer(forward: Callable[..., Any], backward: Callable[..., Any]) -> Wrapped:
    """`forward(...) -> (out, cache)`, `backward(dout, cache) -> dx or (dx, dw, ...)`."""
    call = _caller(forward)

    @functools.wraps(forward)
    def out(*args: Any, **kwargs: Any) -> Any:
        return _pair(forward(*args, **kwargs), "your forward (out, cache)")[0]

    def vjp(*args: Any, **kwargs: Any) -> Any:
        *inputs, g = args
        _, cache = _pair(call(inputs, kwargs), "your forward (out, cache)")
        return backward(g, cache)

    return Wrapped(out, "vjp", vjp, "cs231n layer")


def cs231n_loss(forward: Callable[..., Any]) -> Wrapped:
    """`loss(x, ...) -> (loss, dx)`: the loss, and dx times the cotangent."""
    call = _caller(forward)

    @functools.wraps(forward)
    def loss(*args: Any, **kwargs: Any) -> Any:
        return _pair(forward(*args, **kwargs), "your loss (loss, dx)")[0]

    def vjp(*args: Any, **kwargs: Any) -> Any:
        *inputs, g = args
        _, dx = _pair(call(inputs, kwargs), "your loss (loss, dx)")
        return np.asarray(g) * np.asarray(dx)

    return Wrapped(loss, "vjp", vjp, "cs231n loss")


def is_loss_pair(value: Any, first: Any) -> bool:
    """(a scalar, an array shaped like the first input): a loss and its gradient."""
    if not isinstance(value, tuple) or len(value) != 2:
        return False
    loss, dx = value
    try:
        return bool(
            np.ndim(loss) == 0 and np.shape(dx) == np.shape(first) and np.isfinite(float(loss))
        )
    except (TypeError, ValueError):
        return False


def _pair(value: Any, what: str) -> tuple[Any, Any]:
    if not isinstance(value, tuple) or len(value) != 2:
        raise InputError(f"{what} returned {type(value).__name__}, not a pair")
    return value[0], value[1]


def _caller(forward: Callable[..., Any]) -> Callable[[list[Any], dict[str, Any]], Any]:
    """forward called with check's inputs (in the forward's order, those that no --arg
    names) and the --arg values by name."""
    params = parameters(forward)

    def call(inputs: list[Any], kwargs: dict[str, Any]) -> Any:
        if params is None:
            return forward(*inputs, **kwargs)
        free = [p for p in params.positional if p not in kwargs]
        bound = dict(zip(free, inputs, strict=False))
        return forward(**bound, **kwargs)

    return call
