"""One rule per parameter, shared by the command line and the Python API.

Each rule takes the value as the user gave it (a command-line string, or any Python
object through the API), returns the checked value, or raises InputError whose message
names the parameter and shows the value *as given*: `--temperature 100000001: must lie
in [1e-08, 1e+08]`, never a rounded or converted form that would contradict the bound.
The CLI's parameter types (cli/common.py) and the API's functions (api.py) call these,
so `gradcli softmax --rtol x` and `gradcli.softmax(z, rtol="x")` are refused by the same
rule. No numpy here: the CLI builds its options from these without paying for numpy;
the rules for arrays are in gradcli.arrays.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar, cast, overload

from gradcli.errors import InputError
from gradcli.names import BACKENDS, DTYPES, FD_MODES, Backend, Dtype, FdMode
from gradcli.tokens import parse_number

Chosen = TypeVar("Chosen", bound=str)  # one of a closed set of names (gradcli.names)

MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-8, 1e8
MAX_SEED = 2**63 - 1  # what numpy's default_rng and torch.manual_seed both take

# An integer on the command line: ASCII digits only. str.isdigit() is also true for
# '²' and other Unicode digits that int() refuses, and int() itself accepts '1_000',
# ' 7 ' and Arabic-Indic digits; none of them is a number here. Twenty digits is more
# than any limit gradcli has, and keeps int() far from Python's 4300-digit guard.
INTEGER = re.compile(r"[+-]?[0-9]{1,20}\Z")
DIGIT_RUN = re.compile(r"[0-9]{19,}")


# Whether messages name parameters as the command line spells them (`--rand a=`) or as
# the Python API does (`rand['a']`): one message, made where the rule is, for both.
_AS_OPTIONS: ContextVar[bool] = ContextVar("gradcli_as_options", default=False)


@contextmanager
def as_options() -> Iterator[None]:
    """Within this block (the CLI's commands), `named` gives the option's spelling."""
    token = _AS_OPTIONS.set(True)
    try:
        yield
    finally:
        _AS_OPTIONS.reset(token)


def named(parameter: str, option: str) -> str:
    """`parameter` (the API's name) or, under `as_options`, `option` (the CLI's)."""
    return option if _AS_OPTIONS.get() else parameter


def shown(value: object, limit: int = 40) -> str:
    """`value` as the user gave it, cut to `limit` characters: a string as typed, other
    objects by repr (a 5000-digit int by its size: repr would raise)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"(an integer of about {int(value.bit_length() * 0.30103) + 1} digits)"
    try:  # a string as typed; one that is empty or only spaces, quoted (or it is unseen)
        text = value if isinstance(value, str) and value.strip() else repr(value)
    except Exception:  # a user's object whose __repr__ raises
        text = f"a {type(value).__name__}"
    text = " ".join(text.split()) if "\n" in text else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def where(name: str, value: object) -> str:
    """`--seed x`, `temperature 0`; `--rand a=4y4` (a name ending in = takes no space)."""
    return f"{name}{shown(value)}" if name.endswith("=") else f"{name} {shown(value)}"


def number(value: object, name: str) -> float:
    """A finite float: a real number (not a bool), or a string that is a decimal number."""
    if isinstance(value, str):
        return parse_number(value, name) if len(value) <= 400 else _too_long(value, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{where(name, value)}: expected a number")
    try:
        result = float(value)
    except (OverflowError, ValueError, TypeError):
        raise InputError(f"{where(name, value)}: overflows float64") from None
    if not math.isfinite(result):
        raise InputError(f"{where(name, value)}: is not a finite number")
    return result


def _too_long(value: str, name: str) -> float:
    raise InputError(f"{where(name, value)}: {len(value)} characters, not a number")


def integer(value: object, name: str, low: int, high: int) -> int:
    """An int in [low, high]: an Integral (not a bool), or a string of ASCII digits."""
    if isinstance(value, str):
        if not INTEGER.match(value):
            raise InputError(f"{where(name, value)}: expected an integer (digits 0-9)")
        result = int(value)
    elif isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{where(name, value)}: expected an integer")
    else:
        result = int(value)
    if not low <= result <= high:
        raise InputError(f"{where(name, value)}: must be from {low} to {high}")
    return result


def seed(value: object, name: str = "seed") -> int:
    return integer(value, name, 0, MAX_SEED)


def temperature(value: object, name: str = "temperature") -> float:
    result = number(value, name)
    if not MIN_TEMPERATURE <= result <= MAX_TEMPERATURE:
        raise InputError(
            f"{where(name, value)}: must lie in [{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}]"
        )
    return result


def tolerance(value: object, name: str) -> float | None:
    """rtol or atol: None (the default) or a finite number ≥ 0."""
    if value is None:
        return None
    result = number(value, name)
    if result < 0:
        raise InputError(f"{where(name, value)}: must be 0 or more")
    return result


def choice(value: object, name: str, choices: tuple[Chosen, ...]) -> Chosen:
    """The one of `choices` that `value` is (typed as the closed set it belongs to)."""
    found = next((c for c in choices if isinstance(value, str) and value == c), None)
    if found is None:
        raise InputError(f"{where(name, value)}: must be one of {', '.join(choices)}")
    return found


def dtype(value: object, name: str = "dtype") -> Dtype:
    return choice(value, name, DTYPES)


def fd_mode(value: object, name: str = "fd_mode") -> FdMode:
    return choice(value, name, FD_MODES)


@overload
def backends(value: object, name: str = ...) -> tuple[Backend, ...]: ...
@overload
def backends(value: object, name: str, allowed: tuple[Chosen, ...]) -> tuple[Chosen, ...]: ...
def backends(
    value: object, name: str = "backends", allowed: tuple[str, ...] = BACKENDS
) -> tuple[str, ...]:
    """Backend names, from a comma-separated string or an iterable of strings, returned
    in the canonical order of `allowed`. Each name once: `torch,torch` is refused rather
    than read as `torch` (a typo for another backend, most likely)."""
    known = tuple(allowed)
    if isinstance(value, str):
        names: list[object] = [part.strip() for part in value.split(",")] if value.strip() else []
    else:
        try:
            names = list(cast("Iterable[object]", value))  # a TypeError is refused below
        except TypeError:
            raise InputError(f"{where(name, value)}: expected backend names") from None
    if not names:
        raise InputError(f"{where(name, value)}: choose at least one of {', '.join(known)}")
    seen: set[str] = set()
    for item in names:
        if isinstance(item, str) and not item.strip():
            raise InputError(f"{where(name, value)}: an empty backend name")
        if not isinstance(item, str) or item not in known:
            raise InputError(
                f"{where(name, value)}: unknown backend {shown(item)}"
                f"{_did_you_mean(item, known)} (choose from {', '.join(known)})"
            )
        if item in seen:
            raise InputError(f"{where(name, value)}: {item} is named twice")
        seen.add(item)
    return tuple(b for b in known if b in names)


def _did_you_mean(item: Any, known: tuple[str, ...]) -> str:
    """ "; did you mean torch?" for a name that differs from one in case, spaces or a
    typo or two; "" when nothing is close."""
    if not isinstance(item, str):
        return ""
    import difflib  # the error path only

    folded = item.strip().lower()
    close = [k for k in known if k == folded] or difflib.get_close_matches(folded, known, n=1)
    return f"; did you mean {close[0]}?" if close else ""


def shape(value: object, name: str, max_elements: int, minimum: int = 1) -> tuple[int, ...]:
    """Sizes joined by x ("4x10", "5"; "" for a scalar) or a sequence of ints; every
    size at least `minimum`, and at most `max_elements` elements in all (counted in
    Python ints: a product never wraps)."""
    if isinstance(value, str):
        parts = value.split("x") if value else []
        if not all(INTEGER.match(p) and p[0] not in "+-" for p in parts):
            raise InputError(f"{where(name, value)}: the shape is sizes joined by x, such as 4x6")
        sizes = [int(p) for p in parts]
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        sizes = [int(value)]
    else:
        try:
            items = list(cast("Iterable[object]", value))  # a TypeError is refused below
        except TypeError:
            raise InputError(f"{where(name, value)}: expected a shape such as (4, 6)") from None
        if not all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in items):
            raise InputError(f"{where(name, value)}: expected a shape such as (4, 6)")
        sizes = [int(cast(numbers.Integral, i)) for i in items]
    if len(sizes) > 32:
        raise InputError(f"{where(name, value)}: {len(sizes)} dimensions; the limit is 32")
    if any(size < minimum for size in sizes):
        raise InputError(f"{where(name, value)}: every size must be {minimum} or more")
    if math.prod(sizes) > max_elements:
        raise InputError(
            f"{where(name, value)}: {math.prod(sizes)} elements; the limit is {max_elements}"
        )
    return tuple(sizes)


def classes(value: object, name: str) -> list[int]:
    """Class indices: "0,2,1" or a sequence of ints (ranges are checked against the layer)."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        if not all(INTEGER.match(p) and p[0] not in "+-" for p in parts):
            raise InputError(
                f"{where(name, value)}: expected classes separated by commas, e.g. 0,2,1"
            )
        return [int(p) for p in parts]
    try:
        items = list(cast("Iterable[object]", value))  # a TypeError is refused below
    except TypeError:
        raise InputError(f"{where(name, value)}: expected a list of classes") from None
    return [integer(item, f"{name} item", 0, 2**31) for item in items]


def not_empty(value: object, name: str, example: str) -> str:
    """A file name or an entry given as a string that says something: `--save ''` is
    refused, not read as "no --save"."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name} {shown(value)}: give {example}")
    return value


def explain(value: object, name: str = "explain") -> str:
    """An --explain entry: not empty, and no index longer than any array could be."""
    entry = not_empty(value, name, "an entry such as 'W[0,0]'")
    if DIGIT_RUN.search(entry):
        raise InputError(f"{where(name, entry)}: the index is out of range")
    return entry


def is_name(value: object) -> bool:
    """A Python name, or names joined by dots (a module's parameter: fc1.weight)."""
    return isinstance(value, str) and all(part.isidentifier() for part in value.split("."))


def names(value: object, name: str) -> tuple[str, ...]:
    """Input names (--no-grad, no_grad=): one name, or an iterable of them; each a name
    (is_name), each once."""
    if isinstance(value, str):
        items: list[Any] = [value]
    else:
        try:
            items = list(cast("Iterable[object]", value))  # a TypeError is refused below
        except TypeError:
            raise InputError(f"{where(name, value)}: expected input names") from None
    for item in items:
        if not is_name(item):
            raise InputError(f"{where(name, value)}: {shown(item)} is not an input name")
        if items.count(item) > 1:
            raise InputError(f"{where(name, item)}: given twice")
    return tuple(items)


def keys(mapping: Any, name: str, *, dotted: bool = True) -> None:
    """The keys of `inputs`, `shapes` or `args`: names (dotted ones only where a module's
    parameter may be meant)."""
    for key in mapping:
        if not (is_name(key) if dotted else isinstance(key, str) and key.isidentifier()):
            raise InputError(f"{name}: the key {shown(key)} is not a name such as 'x'")


def exclusive(given: dict[str, Any]) -> None:
    """At most one of the named parameters is given (not None)."""
    present = [name for name, value in given.items() if value is not None]
    if len(present) > 1:
        raise InputError(f"{' and '.join(present)} exclude each other: give one of them")
