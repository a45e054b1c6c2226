"""The Evaluator of the user's code in check's worker processes (check.supervisor's
Session asks them): each method is one request, a block of points or one trial, and
what the worker answers is read as arrays (check.wire), never as code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from gradcli.commands.check.backends import Trial
from gradcli.commands.check.evaluator import Blocks, Facts, Point

Array = np.ndarray[Any, Any]


class Asker(Protocol):
    """What Remote needs of the supervisor's Session."""

    def ask(self, request: dict[str, Any], phase: str, values: Point | None) -> Any: ...

    def ask_all(self, request: dict[str, Any], phase: str) -> list[Any]: ...

    def spread(
        self, request: dict[str, Any], points: Sequence[Point], phase: str, values: Point | None
    ) -> list[Any]: ...


class Remote:
    """The Evaluator of code in the workers: each method one request (a block)."""

    def __init__(self, session: Asker, who: str, facts: Facts) -> None:
        self.session = session
        self.who = who
        self._facts = facts
        self._trial: int | None = None
        self._values: Point | None = None

    @property
    def facts(self) -> Facts:
        return self._facts

    def begin(self, trial: int, values: Point) -> None:
        self._trial, self._values = trial, values

    def _phase(self, what: str) -> str:
        return what if self._trial is None else f"{what} (trial {self._trial})"

    def forward(self, points: Sequence[Point], dtype: str = "float64") -> list[tuple[Array, ...]]:
        request = {"op": "forward", "who": self.who, "dtype": dtype}
        phase = self._phase(f"running {self._facts.label}")
        return [tuple(y) for y in self.session.spread(request, points, phase, self._values)]

    def forward_complex(self, points: Sequence[Point]) -> list[tuple[Array, ...] | None]:
        request = {"op": "forward_complex", "who": self.who}
        phase = self._phase(f"running {self._facts.label} on complex numbers")
        answers = self.session.spread(request, points, phase, self._values)
        return [None if y is None else tuple(y) for y in answers]

    def _side(self, op: str, trial: Trial, what: str, **extra: Any) -> Any:
        request = {
            "op": op,
            "who": self.who,
            "values": trial.values,
            "outputs": trial.outputs,
            "trial_dtype": trial.dtype,
            **extra,
        }
        return self.session.ask(request, self._phase(what), trial.values)

    def yours_vjp(self, trial: Trial, cotangents: tuple[Array, ...]) -> dict[str, Array]:
        return dict(
            self._side("yours_vjp", trial, "running your derivative", cotangents=cotangents)
        )

    def yours_jacobian(self, trial: Trial) -> Blocks:
        return dict(self._side("yours_jacobian", trial, "running your jacobian"))

    def yours_grad(self, trial: Trial) -> Array:
        return np.asarray(self._side("yours_grad", trial, "running your grad"))

    def torch_vjp(
        self, trial: Trial, cotangents: tuple[Array, ...], dtype: str = "float64"
    ) -> dict[str, Array]:
        what = "running autograd of your forward"
        return dict(self._side("torch_vjp", trial, what, cotangents=cotangents, dtype=dtype))

    def torch_jacobian(self, trial: Trial, dtype: str = "float64") -> Blocks:
        what = "running autograd of your forward"
        return dict(self._side("torch_jacobian", trial, what, dtype=dtype))

    def called_stand_ins(self) -> tuple[str, ...] | None:
        """What the code called of the stand-ins, in every worker (names only)."""
        answers = self.session.ask_all({"op": "called_stand_ins"}, "asking of the stand-ins")
        return tuple(dict.fromkeys(str(n) for answer in answers for n in answer))
