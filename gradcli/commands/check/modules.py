"""An nn.Module as check's TARGET: recognised without importing torch where it is not
loaded, built from its class with the --arg values its __init__ takes, and its
parameters built constant drawn around their value (a backward that drops a weight of
1 or a bias of 0 gives the right numbers there)."""

from __future__ import annotations

from typing import Any

from gradcli.commands.check import guard
from gradcli.commands.check.signature import parameters
from gradcli.errors import InputError


def is_module_class(obj: Any) -> bool:
    return isinstance(obj, type) and _torch_module_type(obj) and issubclass(obj, _module_base())


def is_module(obj: Any) -> bool:
    return (
        not isinstance(obj, type)
        and _torch_module_type(type(obj))
        and isinstance(obj, _module_base())
    )


def _torch_module_type(cls: type) -> bool:
    return any(base.__module__.startswith("torch.nn") for base in cls.__mro__)


def _module_base() -> type:
    import torch

    base: type = torch.nn.Module
    return base


def build_module(
    cls: type, args: dict[str, Any], seed: int, debug: bool
) -> tuple[Any, dict[str, Any], tuple[tuple[str, float], ...]]:
    """cls(**the --arg values its __init__ takes), its parameters drawn after
    torch.manual_seed(seed) (the same module every run); the rest of --arg is for
    forward. A parameter built constant (a norm's weight 1, its bias 0) is drawn around
    its value (`draw_constant_parameters`), and named in the third result."""
    import torch

    params = parameters(cls)  # the signature of cls(...): __init__'s without self
    takes = set(params.all) if params is not None else set()
    init_args = {k: v for k, v in args.items() if k in takes}
    torch.manual_seed(seed)
    module = guard.call(
        cls, (), f"building the module {cls.__name__}", kwargs=init_args, debug=debug
    )
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"building the module {cls.__name__} did not give an nn.Module")
    module = module.double()
    drawn = draw_constant_parameters(module, seed)
    return module, {k: v for k, v in args.items() if k not in init_args}, drawn


# A parameter that is constant as built is drawn in c·U(1 − SPREAD, 1 + SPREAD), or
# U(−SPREAD, SPREAD) where c = 0: at 1 or 0, a backward that drops the parameter (a
# product with weight 1, a sum with bias 0) gives the right numbers, and the check would
# pass it. The sign of c is kept (a scale stays positive).
PARAMETER_SPREAD = 0.5


def draw_constant_parameters(module: Any, seed: int) -> tuple[tuple[str, float], ...]:
    """Draw, in place, every floating parameter of `module` whose entries are all
    equal; return their names and the value they were built with."""
    import torch

    generator = torch.Generator().manual_seed(seed + 1)
    drawn = []
    with torch.no_grad():
        for name, p in module.named_parameters():
            if not p.is_floating_point() or p.numel() == 0 or p.is_meta:
                continue
            flat = p.detach().reshape(-1)
            c = float(flat[0])
            if not bool((flat == flat[0]).all()):
                continue
            u = torch.rand(p.shape, generator=generator, dtype=torch.float64)
            u = (2 * u - 1) * PARAMETER_SPREAD  # U(−SPREAD, SPREAD)
            p.copy_((c * (1 + u) if c != 0 else u).to(p.dtype))
            drawn.append((name, c))
    return tuple(drawn)
