"""A CheckSpec from what the user named: the target loaded (a forward, a
torch.autograd.Function, or an nn.Module class, built here), the derivative under test,
and each trial's inputs by name (drawn or given). The API and the CLI both come here."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from gradcli.commands.check import conventions, guard
from gradcli.commands.check import target as check_target
from gradcli.commands.check.modules import build_module, is_module, is_module_class
from gradcli.commands.check.signature import UNNAMED, bind, parameters
from gradcli.errors import InputError
from gradcli.names import CheckMode, Second
from gradcli.spec import CheckSpec, RunOptions

DERIVATIVES: dict[str, CheckMode] = {"jacobian": "jacobian", "vjp": "vjp", "grad": "grad"}
MAX_CHECK_ELEMENTS = 10_000_000  # all inputs of one trial together
MAX_CHECK_DIMS = 32  # of one input, as a drawn shape (params.shape): torch's own limit


def build(
    target: Any,
    derivatives: Mapping[str, Any],
    *,
    inputs: Iterable[Any],
    seed: int = 0,
    full: bool = False,
    debug: bool = False,
    options: RunOptions | None = None,
    args: Mapping[str, Any] | None = None,
    order: int = 1,
    against: Any = None,
    no_grad: Iterable[str] = (),
) -> CheckSpec:
    """`inputs`: one per trial, an array (the one input) or a mapping name -> array;
    `derivatives`: at most one (gradcli.arguments refuses more).
    derivatives may name "hvp" (FN(x, v) = Hv, checked as the VJP of ∇f); order 2 checks
    a Function's backward's own derivative."""
    derivatives = dict(derivatives)
    second: Second = ""
    if "hvp" in derivatives:
        derivatives["vjp"] = derivatives.pop("hvp")
        second = "hvp"
    if order not in (1, 2):
        raise InputError(f"order must be 1 or 2, got {order!r}")
    if order == 2:
        if second:
            raise InputError("--hvp is already second order: leave out --order 2")
        second = "order2"
    args = dict(args or {})
    used: set[str] = set()  # --arg values a class built for its method took
    if isinstance(target, str):
        forward, used = check_target.load_with(target, "TARGET", args, debug=debug)
    else:
        forward = target
    behind = conventions.function_behind(forward)  # relu = MyReLU.apply, a partial of it
    if behind is not None and not derivatives:
        forward, bound = behind
        args = {**bound, **args}
    trials = tuple(_named(trial) for trial in inputs)
    if not trials:
        raise InputError("give at least one input")
    wrapped: conventions.Wrapped | None = None
    drawn: tuple[tuple[str, float], ...] = ()
    if derivatives:
        kind, derivative = next(iter(derivatives.items()))
        mode: CheckMode = DERIVATIVES[kind]  # gradcli.arguments took only these
        if isinstance(derivative, str):
            if ":" not in derivative and isinstance(target, str):  # a name in TARGET's module
                derivative = f"{target.rpartition(':')[0]}:{derivative}"
            derivative, more = check_target.load_with(derivative, f"--{mode}", args, debug=debug)
            used |= more
        if not callable(derivative):
            raise InputError(f"the {mode} to check is not callable")
        if mode == "vjp" and callable(forward) and conventions.takes_cache(derivative):
            wrapped = conventions.cs231n_layer(forward, derivative)
    elif _is_function(forward):
        if not _is_autograd_function(forward):
            raise InputError(
                f"TARGET {_name(forward)} has apply and backward but is not a "
                "torch.autograd.Function: subclass torch.autograd.Function, or give "
                "--jacobian, --vjp or --grad"
            )
        mode, derivative, forward = "function", forward, None
    elif is_module_class(forward) or is_module(forward):
        mode, derivative = "module", None
        if is_module_class(forward):
            forward, args, drawn = build_module(forward, args, seed, debug)
    else:
        wrapped = _recognised(target, forward, trials[0], args, debug)
        if wrapped is None:
            raise InputError(
                "give --jacobian, --vjp or --grad, or a torch.autograd.Function or an "
                "nn.Module as TARGET (a cs231n layer returning (out, cache): its "
                "backward(dout, cache) with --vjp)"
            )
        mode, derivative = wrapped.mode, None
    args = {k: v for k, v in args.items() if k not in used}
    if forward is not None and not callable(forward):
        raise InputError("TARGET is not callable")
    names = {
        "target": target if isinstance(target, str) else _name(target),
        "derivative": {"function": "backward", "module": "backward"}.get(mode, "")
        or next(iter(derivatives.values()), ""),
    }
    names = {k: v if isinstance(v, str) else _name(v) for k, v in names.items()}
    if wrapped is not None:
        names["derivative"] = _convention_name(wrapped, names["derivative"], target)
        forward, mode, derivative = wrapped.forward, wrapped.mode, wrapped.derivative
    if against is not None:
        names["against"] = against if isinstance(against, str) else _name(against)
    spec = CheckSpec(
        forward, derivative, mode, trials, names, seed, full, debug, options or RunOptions(), args
    )
    if isinstance(against, str):
        against = load_dotted(against, debug=debug)
    if against is not None and not callable(against):
        raise InputError("--against must name a function, such as torch.nn.functional.gelu")
    no_grad = tuple(no_grad)
    if no_grad and mode == "module":
        raise InputError("--no-grad is for a forward or a Function; a module's inputs all count")
    return dataclasses.replace(
        spec, second=second, against=against, no_grad=no_grad, drawn_parameters=drawn
    )


def _recognised(
    target: Any, forward: Any, trial: Any, args: dict[str, Any], debug: bool
) -> conventions.Wrapped | None:
    """A target given alone that follows cs231n's conventions: `NAME_forward` beside a
    `NAME_backward(dout, cache)`, or a loss returning (loss, dx) at the first trial."""
    if not callable(forward):
        return None
    if isinstance(target, str) and target.endswith("_forward"):
        backward = check_target.module_of(target)
        name = target.rpartition(":")[2].removesuffix("_forward") + "_backward"
        found = getattr(backward, name, None)
        if callable(found) and conventions.takes_cache(found):
            return conventions.cs231n_layer(forward, found)
    values = _named(trial)
    params = parameters(forward)
    if params is None:
        return None
    free = [p for p in params.positional if p not in args]
    named = {free[0] if k == UNNAMED and free else k: v for k, v in values.items()}
    positional, keywords = bind({**named, **args}, params)
    try:
        with np.errstate(all="ignore"):
            value = guard.call(forward, positional, "TARGET", kwargs=keywords, debug=debug)
    except InputError:
        return None
    first = next(iter(named.values()))
    return conventions.cs231n_loss(forward) if conventions.is_loss_pair(value, first) else None


def _convention_name(wrapped: conventions.Wrapped, derivative: str, target: Any) -> str:
    """What the header names as the derivative: the user's backward and its convention."""
    if wrapped.convention == "cs231n loss":
        name = target.rpartition(":")[2] if isinstance(target, str) else _name(target)
        return f"dx of {name}, which returns (loss, dx) as cs231n's losses do"
    if not derivative:
        derivative = target.rpartition(":")[2].removesuffix("_forward") + "_backward"
    return f"{derivative}(dout, cache), cs231n's backward"


def load_dotted(text: str, *, debug: bool = False) -> Any:
    """`torch.nn.functional.gelu` (a dotted path to a library function), or path.py:name."""
    import importlib

    if ":" in text:
        return check_target.load(text, "--against", debug=debug)
    module_name, _, name = text.rpartition(".")
    if not module_name or not name.isidentifier():
        raise InputError(
            f"--against {text!r}: write a dotted path such as torch.nn.functional.gelu"
        )
    try:
        module = guard.call(
            importlib.import_module,
            (module_name,),
            f"--against: importing {module_name}",
            debug=debug,
        )
    except InputError as exc:
        raise InputError(str(exc)) from None
    if not hasattr(module, name):
        raise InputError(f"--against {text!r}: {module_name} has no {name!r}")
    return getattr(module, name)


def _named(trial: Any) -> dict[str, Any]:
    items = trial.items() if isinstance(trial, Mapping) else [(UNNAMED, trial)]
    arrays = {str(name): _array(value, name or "x") for name, value in items}
    if not arrays:
        raise InputError("give at least one input")
    if sum(a.size for a in arrays.values()) > MAX_CHECK_ELEMENTS:
        raise InputError(f"the inputs hold more than {MAX_CHECK_ELEMENTS} elements together")
    return arrays


def _array(value: Any, name: str) -> Any:
    """The rule of the API's arrays (gradcli.arrays): real, finite, float64; not empty."""
    from gradcli.arrays import real_array

    array = real_array(value, name, MAX_CHECK_DIMS)
    if array.size == 0:
        raise InputError(f"{name}: must be a non-empty array")
    return array


def _is_function(obj: Any) -> bool:
    return isinstance(obj, type) and hasattr(obj, "apply") and hasattr(obj, "backward")


def _is_autograd_function(cls: type) -> bool:
    if not any(base.__module__.startswith("torch.autograd") for base in cls.__mro__):
        return False  # (torch is not imported for a class that cannot be one)
    import torch

    return issubclass(cls, torch.autograd.Function)


def _name(obj: Any) -> str:
    return str(getattr(obj, "__qualname__", getattr(obj, "__name__", type(obj).__name__)))


def draw(
    shapes: Mapping[str, tuple[int, ...]],
    *,
    trials: int,
    seed: int,
    scales: Mapping[str, float] | None = None,
    dists: Mapping[str, str] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Random inputs, trial by trial and input by input from one generator (so a single
    input draws exactly what it always did): scale·N(0, 1) or uniform in ±scale. A name's
    own scale/dist wins over the one for all (key "")."""
    scales, dists, fixed = dict(scales or {}), dict(dists or {}), dict(fixed or {})
    for name, shape in shapes.items():
        if any(not isinstance(n, (int, np.integer)) or n <= 0 for n in shape):
            raise InputError(
                f"shape of {name or 'x'}: sizes must be positive integers, got {shape}"
            )
    total = sum(int(np.prod(s, dtype=np.float64)) for s in shapes.values())
    if total > MAX_CHECK_ELEMENTS:
        raise InputError(f"the inputs would hold more than {MAX_CHECK_ELEMENTS} elements")
    unknown = (set(scales) | set(dists)) - set(shapes) - {UNNAMED}
    if unknown:
        raise InputError(f"--scale/--dist name {sorted(unknown)}, which no --shape draws")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(trials):
        trial: dict[str, Any] = {}
        for name, shape in shapes.items():
            scale = float(scales.get(name, scales.get(UNNAMED, 1.0)))
            if dists.get(name, dists.get(UNNAMED, "normal")) == "uniform":
                trial[name] = rng.uniform(-scale, scale, size=shape)
            else:
                trial[name] = scale * rng.standard_normal(shape)
        out.append({**trial, **fixed})
    return out
