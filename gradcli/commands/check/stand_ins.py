"""Stand-ins for modules a target imports but the check does not need (`--stub NAME`).

Research code imports what is not installed here (torchviz, triton, a project's own
package) for things the check never calls: plots, kernels, training. A stand-in module
lets the import succeed: every attribute is a stand-in too, `from NAME.sub import f`
works, a stand-in called with one function returns it (a decorator such as
`@triton.jit` leaves the function as it is), a capitalised name is a class that can be
subclassed and built with any arguments, and anything else called gives another
stand-in. What the check called is recorded, so the note can say so: a stand-in that the
forward or the derivative used means the check ran on stand-in values.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from gradcli.errors import InputError

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
CALLED: list[str] = []  # what the user's code called, in order, each name once


def _called(name: str) -> None:
    if name not in CALLED:
        CALLED.append(name)


class StandIn(ModuleType):
    """A module, or a name in one, standing in for what is not installed."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__path__: list[str] = []  # a package: its submodules are stand-ins too

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # copy, pickle, inspect ask for dunders: none here
        full = f"{self.__name__}.{name}"
        value: Any = _class(full) if name[:1].isupper() else StandIn(full)
        setattr(self, name, value)
        return value

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and callable(args[0]):
            return args[0]  # a decorator: the function as it is
        _called(self.__name__)
        return StandIn(f"{self.__name__}(…)")

    def __repr__(self) -> str:
        return f"<stand-in for {self.__name__}>"


def _class(full: str) -> type:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        _called(full)

    def __getattr__(self: Any, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return StandIn(f"{full}().{name}")

    return type(full.rpartition(".")[2], (), {"__init__": __init__, "__getattr__": __getattr__})


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds NAME and NAME.anything for the stubbed names, before any other finder."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if any(fullname == n or fullname.startswith(n + ".") for n in self.names):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return StandIn(spec.name)

    def exec_module(self, module: ModuleType) -> None:
        parent, _, child = module.__name__.rpartition(".")
        if parent in sys.modules:  # `import a.b` binds b on a, as for real packages
            setattr(sys.modules[parent], child, module)


def names(given: Iterable[Any], where: str) -> tuple[str, ...]:
    """The module names to stub, checked: dotted Python names."""
    if isinstance(given, str):
        given = (given,)
    out = []
    for name in given:
        if not isinstance(name, str) or not _DOTTED.match(name):
            raise InputError(f"{where} {name!r}: expected a module name, such as torchviz")
        out.append(name)
    return tuple(dict.fromkeys(out))


@contextmanager
def stand_ins(stubbed: Sequence[str]) -> Iterator[None]:
    """Stand-ins for `stubbed` while the check runs; the modules they replaced, and the
    import system, as they were afterwards (the user's process, under the API)."""
    if not stubbed:
        yield
        return
    CALLED.clear()
    finder = _Finder(stubbed)
    replaced = {
        k: v
        for k, v in sys.modules.items()
        if any(k == n or k.startswith(n + ".") for n in stubbed)
    }
    for k in replaced:
        del sys.modules[k]
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for k in [k for k, v in sys.modules.items() if isinstance(v, StandIn)]:
            del sys.modules[k]
        sys.modules.update(replaced)


_INSTALLED: list[_Finder] = []  # a worker's stand-ins, for its life (install)


def install(stubbed: Sequence[str]) -> None:
    """Stand-ins for `stubbed` for the rest of this process (a worker's: it ends with the
    check); more names add to those installed."""
    have = {n for f in _INSTALLED for n in f.names}
    fresh = [n for n in stubbed if n not in have]
    if fresh:
        finder = _Finder(fresh)
        sys.meta_path.insert(0, finder)
        _INSTALLED.append(finder)


def active() -> bool:
    """Whether stand-ins serve this process's imports now: then CALLED says what the
    user's code called of them (the supervisor of a worker check knows nothing of it)."""
    return any(isinstance(f, _Finder) for f in sys.meta_path)


def missing_module(exc: BaseException) -> str | None:
    """The module an import failed to find, for the hint that --stub stands in for it."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return exc.name.partition(".")[0]
    return None
