"""check with the user's code in worker processes: the supervisor never imports it.

It owns stdout, gradcli's messages, the files, the signals and the exit status; the
workers answer what an Evaluator is asked (check.remote.Remote), and the judge
(check.problem.judge) forms every finite difference and the verdict here. A worker that
dies, breaks the protocol or runs past --timeout is one InputError line naming the
phase (import, the forward, your derivative, trial K), with the inputs that reproduce
it saved as .npy files. `jobs` workers share the forward's blocks of points.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from gradcli.commands.check.evaluator import Facts, Point
from gradcli.commands.check.opened import Opened
from gradcli.commands.check.remote import Remote
from gradcli.commands.check.surrogate import Surrogate
from gradcli.commands.check.workers import Died, Refused, Worker
from gradcli.errors import InputError
from gradcli.names import CHECK_MODES, SECONDS
from gradcli.report import Report
from gradcli.spec import CheckSpec, RunOptions

Array = np.ndarray[Any, Any]
Chosen = TypeVar("Chosen", bound=str)


class WorkerFailed(InputError):
    """The user's code ended or hung its process: one line, exit status 2."""


@dataclass(frozen=True)
class Request:
    """A check of an importable target, as the worker builds it (check.build.build)."""

    target: str
    derivatives: dict[str, str]
    inputs: list[dict[str, Array]]
    seed: int = 0
    full: bool = False
    debug: bool = False
    options: RunOptions = field(default_factory=RunOptions)
    args: dict[str, Any] = field(default_factory=dict)
    order: int = 1
    against: str | None = None
    no_grad: tuple[str, ...] = ()
    taylor: bool = False
    explain: str | None = None
    first_trial: int = 0  # --trial K: inputs holds trial K alone
    as_options: bool = False  # the worker's messages name the CLI's options (the CLI's)
    stubbed: tuple[str, ...] = ()  # --stub: stand-ins in the worker, before the import
    surrogate: Surrogate | None = None  # --surrogate: judged here

    def build_arguments(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "derivatives": self.derivatives,
            "inputs": self.inputs,
            "seed": self.seed,
            "full": self.full,
            "debug": self.debug,
            "options": self.options,
            "args": self.args,
            "order": self.order,
            "against": self.against,
            "no_grad": self.no_grad,
        }


class Session:
    """The workers of one check; a context manager that always ends them."""

    def __init__(
        self, jobs: int = 1, timeout: float | None = None, started: list[Worker] | None = None
    ) -> None:
        self.workers = started or [Worker(timeout) for _ in range(max(1, jobs))]
        self.target: str | None = None  # what `load` imports
        self._loading = False

    def __enter__(self) -> Session:
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        for worker in self.workers:
            if isinstance(exc, KeyboardInterrupt):
                worker.interrupt()
            worker.close()

    def load(
        self, target: str, debug: bool, stub: Sequence[str] = (), as_options: bool = False
    ) -> None:
        """Ask every worker to import TARGET (with stand-ins for `stub`); `loaded` reads
        the answers (what the supervisor does meanwhile overlaps the workers' imports).
        `as_options`: its messages name the CLI's options."""
        request = {
            "op": "load", "target": target, "debug": debug, "stub": list(stub),
            "as_options": as_options,
        }  # fmt: skip
        self.send_all(request, f"importing {target}")
        self.target, self._loading = target, True

    def loaded(self) -> None:
        """The answers to `load` (once; nothing if it was not asked): its error first."""
        if self._loading:
            self._loading = False
            self.receive_all(f"importing {self.target}", None)

    def check(self, request: Request) -> Report:
        from gradcli.commands.check.problem import judge, references_of

        self.loaded()
        spec = CheckSpec(None, None, "vjp", tuple(request.inputs), {}, options=request.options)
        references_of(spec)
        # open: import (if `load` did not), build a module, call the forward on trial
        # 0's input to learn what it takes
        phase = f"running the forward (trial {request.first_trial})"
        build = {"op": "open", "build": request.build_arguments(), "stub": list(request.stubbed)}
        self.send_all({**build, "as_options": request.as_options}, phase)
        answer = self.receive_all(phase, request.inputs[0])
        spec = CheckSpec(
            None,
            None,
            _one_of(answer["mode"], CHECK_MODES),
            tuple(request.inputs),
            {str(k): str(v) for k, v in answer["names"].items()},
            seed=request.seed,
            full=request.full,
            debug=request.debug,
            options=request.options,
            args=dict(request.args),
            taylor=request.taylor,
            second=_one_of(answer["second"], SECONDS),
            against=request.against,
            no_grad=tuple(answer["no_grad"]),
            first_trial=request.first_trial,
            explain=request.explain,
            stubbed=request.stubbed,
            surrogate=request.surrogate,
            drawn_parameters=tuple((str(n), float(v)) for n, v in answer["drawn_parameters"]),
        )
        library = answer["library"]
        return judge(
            spec,
            Opened(
                Remote(self, "subject", Facts.from_wire(answer["facts"])),
                [dict(t) for t in answer["trials"]],
                None if library is None else Remote(self, "against", Facts.from_wire(library)),
            ),
        )

    # --- asking ------------------------------------------------------------------------

    def send_all(self, request: dict[str, Any], phase: str) -> None:
        for worker in self.workers:
            self._send(worker, request, phase, None)

    def receive_all(self, phase: str, values: Point | None) -> Any:
        answers = [self._receive(w, phase, values) for w in self.workers]
        return answers[0]

    def ask_all(self, request: dict[str, Any], phase: str) -> list[Any]:
        """One request to every worker, every answer."""
        self.send_all(request, phase)
        return [self._receive(w, phase, None) for w in self.workers]

    def ask(self, request: dict[str, Any], phase: str, values: Point | None) -> Any:
        worker = self.workers[0]
        self._send(worker, request, phase, values)
        return self._receive(worker, phase, values)

    def spread(
        self, request: dict[str, Any], points: Sequence[Point], phase: str, values: Point | None
    ) -> list[Any]:
        """The points in blocks of at most BLOCK_BYTES (what a request and its copies on
        the wire hold at once), each block spread over the workers."""
        out: list[Any] = []
        start = 0
        while start < len(points):
            stop, size = start + 1, _size(points[start])
            while stop < len(points) and size + _size(points[stop]) <= BLOCK_BYTES:
                size += _size(points[stop])
                stop += 1
            out.extend(self._spread(request, points[start:stop], phase, values))
            start = stop
        return out

    def _spread(
        self, request: dict[str, Any], points: Sequence[Point], phase: str, values: Point | None
    ) -> list[Any]:
        """The points split into one run of consecutive points per worker, all asked
        before any answer is read: the workers evaluate them at the same time."""
        n = min(len(self.workers), max(1, len(points) // 2))
        bounds = [len(points) * k // n for k in range(n + 1)]
        busy = []
        for worker, start, stop in zip(self.workers, bounds, bounds[1:], strict=False):
            self._send(worker, {**request, "points": list(points[start:stop])}, phase, values)
            busy.append(worker)
        out: list[Any] = []
        for worker in busy:
            out.extend(self._receive(worker, phase, values))
        return out

    def _send(self, worker: Worker, request: dict[str, Any], phase: str, values: Any) -> None:
        try:
            worker.send(request)
        except Died as died:
            raise self._failed(phase, died.how, values) from None

    def _receive(self, worker: Worker, phase: str, values: Point | None) -> Any:
        try:
            return worker.receive()
        except Refused as refused:
            raise InputError(str(refused)) from None
        except Died as died:
            raise self._failed(phase, died.how, values) from None

    def _failed(self, phase: str, how: str, values: Point | None) -> WorkerFailed:
        saved = ""
        if values is not None:
            folder = Path(tempfile.mkdtemp(prefix="gradcli-failed-"))
            for name, value in values.items():
                np.save(folder / f"{name or 'x'}.npy", np.asarray(value))
            given = " ".join(
                f"--input {(name + '=') if name else ''}{folder / f'{name or chr(120)}.npy'}"
                for name in values
            )
            saved = f"; its input is saved in {folder}/ (rerun with {given})"
        return WorkerFailed(f"your code ended gradcli's run of it while {phase}: {how}{saved}")


BLOCK_BYTES = 4 * 2**20  # of points in one request: its pickle, frame and the worker's copies


def _size(point: Point) -> int:
    return sum(int(np.asarray(v).nbytes) for v in point.values())


def _one_of(value: Any, choices: tuple[Chosen, ...]) -> Chosen:
    """A name the worker sent, one of a closed set (else its answer is broken)."""
    for choice in choices:
        if value == choice:
            return choice
    raise WorkerFailed(f"your code's process sent {str(value)[:40]!r} for one of {choices}")


@contextlib.contextmanager
def session(jobs: int = 1, timeout: float | None = None) -> Iterator[Session]:
    with Session(jobs, timeout) as started:
        yield started


def check(request: Request, *, jobs: int = 1, timeout: float | None = None) -> Report:
    """The check of an importable target with its code in `jobs` worker processes."""
    with session(jobs, timeout) as started:
        return started.check(dataclasses.replace(request))
