"""The seam between check's judge and the user's code: an Evaluator answers, in float64
arrays, what the judge asks of the code (the forward at a block of points, the
derivative under test, autograd of the forward), and says what the code is (Facts).

Two implementations: `Local` calls the code in this process (the Python API with
callables; and inside the worker), `check.remote.Remote` asks a worker process. The
judge (problem, quantities, references, noise, taylor) is the same code for both, and
forms every finite difference itself from the forward values it asked for.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from gradcli.commands.check import backends as sides
from gradcli.commands.check import guard
from gradcli.commands.check.backends import Trial
from gradcli.commands.check.subject import Subject
from gradcli.errors import InputError

Array = np.ndarray[Any, Any]
Point = Mapping[str, Array]
Blocks = dict[tuple[int, str], Array]


@dataclass(frozen=True)
class Facts:
    """What the judge may know of the user's code: names, kinds, never the code."""

    kind: str  # "forward" | "function" | "module"
    names: tuple[str, ...]  # the inputs differentiated, in order
    call_order: tuple[str, ...] = ()  # every input (--no-grad ones too), or () if the same
    label: str = "the forward"
    takes_numpy: bool = False
    autograd: bool = False
    complex_capable: bool = False
    has_functions: bool = False  # a module with custom autograd.Functions
    args: dict[str, Any] = field(default_factory=dict)  # --arg values, as JSON shows them

    @property
    def all_inputs(self) -> tuple[str, ...]:
        return self.call_order or self.names

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Facts:
        return cls(
            kind=str(data["kind"]),
            names=tuple(str(n) for n in data["names"]),
            call_order=tuple(str(n) for n in data["call_order"]),
            label=str(data["label"]),
            takes_numpy=bool(data["takes_numpy"]),
            autograd=bool(data["autograd"]),
            complex_capable=bool(data["complex_capable"]),
            has_functions=bool(data["has_functions"]),
            args=dict(data["args"]),
        )


class Evaluator(Protocol):
    """What the judge asks of the user's code; every answer is float64 (complex128)."""

    @property
    def facts(self) -> Facts: ...

    def begin(self, trial: int, values: Point) -> None:
        """The trial the next requests belong to (named if the code fails there)."""

    def forward(self, points: Sequence[Point], dtype: str = "float64") -> list[tuple[Array, ...]]:
        """The forward's outputs at each point, run in `dtype`, read as float64."""

    def forward_complex(self, points: Sequence[Point]) -> list[tuple[Array, ...] | None]:
        """complex128 outputs at complex points, None where the forward drops the
        imaginary part."""

    def yours_vjp(self, trial: Trial, cotangents: tuple[Array, ...]) -> dict[str, Array]: ...

    def yours_jacobian(self, trial: Trial) -> Blocks: ...

    def yours_grad(self, trial: Trial) -> Array: ...

    def torch_vjp(
        self, trial: Trial, cotangents: tuple[Array, ...], dtype: str = "float64"
    ) -> dict[str, Array]: ...

    def torch_jacobian(self, trial: Trial, dtype: str = "float64") -> Blocks: ...

    def called_stand_ins(self) -> tuple[str, ...] | None:
        """What the code called of --stub's stand-ins (None: unknown here)."""


def facts_of(subject: Subject) -> Facts:
    from gradcli.commands.check.report import jsonable

    return Facts(
        kind=subject.kind,
        names=subject.names,
        call_order=subject.call_order,
        label=subject.label,
        takes_numpy=subject.takes_numpy,
        autograd=subject.autograd,
        complex_capable=subject.complex_capable,
        has_functions=bool(subject.functions),
        args={k: jsonable(v) for k, v in subject.args.items()},
    )


class Local:
    """The user's code called in this process. A block of points runs under one guard
    (one stdout redirect, one no_grad) rather than one per call (issue 23)."""

    def __init__(self, subject: Subject, spec: Any) -> None:
        self.subject = subject
        self.spec = spec
        self._facts = facts_of(subject)
        self._unbatchable: dict[str, bool] = {}  # inputs the forward cannot batch over

    @property
    def facts(self) -> Facts:
        return self._facts

    def begin(self, trial: int, values: Point) -> None:
        pass

    def forward(self, points: Sequence[Point], dtype: str = "float64") -> list[tuple[Array, ...]]:
        with guard.user_stdout(), _no_grad():
            if dtype != "float64":
                return [self._in(p, dtype) for p in points]
            batched = self._batched(points)
            if batched is not None:
                return batched
            return [self.subject.evaluate(dict(p)) for p in points]

    def _batched(self, points: Sequence[Point]) -> list[tuple[Array, ...]] | None:
        """The block in one call where it differs in one input only and the forward
        takes a leading batch dimension there (x @ W.T + b does): fd's columns of one
        input are such a block. Trusted per block only if the batch's first and last
        rows equal those points evaluated alone, bit for bit; else (and from then on,
        for that input) point by point."""
        if len(points) < MIN_BATCH:
            return None
        first = points[0]
        varying = [n for n in first if any(p[n] is not first[n] for p in points)]
        if len(varying) != 1 or self._unbatchable.get(varying[0], False):
            return None
        (name,) = varying
        stacked = np.stack([np.asarray(p[name]) for p in points])
        try:
            with warnings.catch_warnings():  # what a batch makes torch say is ours
                warnings.simplefilter("ignore")
                together = self.subject.evaluate({**first, name: stacked})
            alone = (self.subject.evaluate(dict(first)), self.subject.evaluate(dict(points[-1])))
        except InputError:
            together = None
        rows = len(points)
        if (
            together is None
            or not all(
                t.shape == (rows, *a.shape) for t, a in zip(together, alone[0], strict=False)
            )
            or len(together) != len(alone[0])
            or not (
                _close(tuple(t[0] for t in together), alone[0])
                and _close(tuple(t[-1] for t in together), alone[1])
            )
        ):
            self._unbatchable[name] = True
            return None
        return [tuple(t[k] for t in together) for k in range(rows)]

    def _in(self, point: Point, dtype: str) -> tuple[Array, ...]:
        values = sides.user_values(self.subject, Trial(dict(point), (), dtype))
        return tuple(guard.as_array(y, self.subject.label) for y in self.subject.user(values))

    def forward_complex(self, points: Sequence[Point]) -> list[tuple[Array, ...] | None]:
        with guard.user_stdout():
            return [self.subject.evaluate_complex(dict(p)) for p in points]

    def yours_vjp(self, trial: Trial, cotangents: tuple[Array, ...]) -> dict[str, Array]:
        return sides.yours_vjp(self.subject, self.spec, trial, cotangents)

    def yours_jacobian(self, trial: Trial) -> Blocks:
        return sides.yours_jacobian(self.subject, self.spec, trial)

    def yours_grad(self, trial: Trial) -> Array:
        return sides.yours_grad(self.subject, self.spec, trial)

    def torch_vjp(
        self, trial: Trial, cotangents: tuple[Array, ...], dtype: str = "float64"
    ) -> dict[str, Array]:
        return sides.torch_vjp(self.subject, trial, cotangents, dtype)

    def torch_jacobian(self, trial: Trial, dtype: str = "float64") -> Blocks:
        return sides.torch_jacobian(self.subject, trial, dtype)

    def called_stand_ins(self) -> tuple[str, ...] | None:
        from gradcli.commands.check import stand_ins

        return tuple(stand_ins.CALLED) if stand_ins.active() else None


MIN_BATCH = 8  # points: below, two points alone (the check of a batch) cost as much


def _close(together: tuple[Array, ...], alone: tuple[Array, ...]) -> bool:
    """Bit for bit (NaN where NaN): a batch whose rounding differed from the calls
    alone would add that difference to fd's differences and to the measured noise."""
    return all(
        t.shape == a.shape and np.array_equal(t, a, equal_nan=True)
        for t, a in zip(together, alone, strict=True)
    )


@contextlib.contextmanager
def _no_grad() -> Any:
    import sys

    torch = sys.modules.get("torch")  # a numpy forward never needs torch imported
    with torch.no_grad() if torch is not None else contextlib.nullcontext():
        yield


def evaluate(evaluator: Evaluator, values: Point) -> tuple[Array, ...]:
    """The forward at one point."""
    return evaluator.forward([values])[0]
