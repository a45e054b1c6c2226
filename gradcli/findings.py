"""What the core found, as types with their numbers: the verdict's spine.

:func:`gradcli.core.judge` makes these; :mod:`gradcli.render.words` turns them into
sentences; nothing reads a sentence back. One entry is *the worst* (`Verdict.worst`),
defined once in :func:`gradcli.verdicts.worst`: the entry furthest beyond its allowed
error, or, when every entry is within, the entry closest to its allowed error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gradcli.keys import Entry, Key

Status = Literal["OK", "DISAGREE", "NOT FINITE"]
# the declared rules a command may ask the core to apply (commands/check: the Taylor test)
RuleName = Literal["taylor", "surrogate"]
# the shapes of a wrong derivative that commands/check names
PatternKind = Literal["zero", "sign", "transpose", "diagonal", "factor", "identity"]
# who differs from whom: one odd one out, the two of a pair, all three, or two that
# differ from each other although each agrees with the third
DiffersKind = Literal["odd", "pair", "all", "each"]


@dataclass(frozen=True)
class Worst:
    """One entry of one pair of backends against its allowed error, with the pair's
    max abs and max rel difference over the whole quantity (numpy.testing.assert_allclose's
    two numbers) beside it."""

    entry: Entry
    backend: str  # the side under test
    reference: str  # the side it is judged against ("expected")
    value: float
    expected: float
    allowed: float  # atol + rtol·|expected| + c·error at this entry
    max_abs: float  # over the quantity, this pair
    max_rel: float

    @property
    def difference(self) -> float:
        return abs(self.value - self.expected)

    @property
    def ratio(self) -> float:
        """|value − expected| / allowed: above 1 the entry is outside."""
        gap = self.difference
        if gap != gap:
            return float("inf")
        return gap / self.allowed if self.allowed > 0 else (float("inf") if gap else 0.0)

    @property
    def outside(self) -> bool:
        return self.ratio > 1

    def to_dict(self) -> dict[str, object]:
        key = self.entry.key
        return {
            "quantity": key.name,
            "trial": key.trial,
            "index": list(self.entry.index),
            "name": str(self.entry),
            "backend": self.backend,
            "reference": self.reference,
            "yours": self.value,
            "expected": self.expected,
            "difference": self.difference,
            "allowed": self.allowed,
            "max_abs_difference": self.max_abs,
            "max_rel_difference": self.max_rel,
        }


@dataclass(frozen=True)
class Differs:
    """One quantity (over all its trials) on which some backend is outside tolerance."""

    key: Key  # without its trial
    odd: str | None  # the one backend that differs; None when no single one does
    agreeing: tuple[str, ...]  # the others, which agree with each other when `odd` is set
    n_out: int  # entries out of tolerance, over every trial, odd (or first) vs expected
    size: int
    trials_failed: tuple[int, ...]
    n_trials: int
    worst: Worst
    kind: DiffersKind = "odd"

    def to_dict(self) -> dict[str, object]:
        return {
            "finding": "differs",
            "quantity": self.key.name,
            "odd": self.odd,
            "agreeing": list(self.agreeing),
            "kind": self.kind,
            "n_out_of_tolerance": self.n_out,
            "size": self.size,
            "trials_failed": list(self.trials_failed),
            "n_trials": self.n_trials,
            "worst": self.worst.to_dict(),
        }


@dataclass(frozen=True)
class NotFinite:
    """A quantity with inf or NaN entries; `alike`: the same entries and values on every
    backend that computed it (the function itself is not finite there)."""

    key: Key
    backends: tuple[str, ...]
    count: int
    first_index: tuple[int, ...]
    alike: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "finding": "not finite",
            "quantity": str(self.key),
            "backends": list(self.backends),
            "count": self.count,
            "first_index": list(self.first_index),
            "alike": self.alike,
        }


@dataclass(frozen=True)
class LawBroken:
    backend: str
    law: str  # the law's formula, as the command declared it
    violation: float
    allowed: float
    trial: int | None = None  # a law checked per trial (check's Taylor test)
    rate: float | None = None  # the Taylor test's measured rate

    def to_dict(self) -> dict[str, object]:
        return {
            "finding": "law broken",
            "backend": self.backend,
            "law": self.law,
            "violation": self.violation,
            "allowed": self.allowed,
            "trial": self.trial,
            "rate": self.rate,
        }


@dataclass(frozen=True)
class KinkOutside:
    """A backend's value outside the interval of one-sided slopes at a kink."""

    entry: Entry
    at: str  # the command's description of the point ("relu at a[0] = 0")
    left: float
    right: float
    values: tuple[tuple[str, float], ...]  # backend, value

    def to_dict(self) -> dict[str, object]:
        return {
            "finding": "kink",
            "quantity": str(self.entry.key),
            "index": list(self.entry.index),
            "at": self.at,
            "left": self.left,
            "right": self.right,
            "values": dict(self.values),
        }


@dataclass(frozen=True)
class Pattern:
    """The shape of a wrong derivative (commands/check), in the trials it was seen in."""

    key: Key  # without its trial
    kind: PatternKind
    trials: tuple[int, ...]
    wrong: int = 0  # "diagonal": off-diagonal entries wrong, of `of`
    of: int = 0
    factor: float = 0.0  # "factor": yours / the reference

    def to_dict(self) -> dict[str, object]:
        return {
            "finding": "pattern",
            "quantity": self.key.name,
            "kind": self.kind,
            "trials": list(self.trials),
            "wrong": self.wrong,
            "of": self.of,
            "factor": self.factor,
        }


Failure = Differs | NotFinite | LawBroken | KinkOutside


@dataclass(frozen=True)
class Excused:
    """Failures a declared rule of the command excuses, and the rule."""

    rule: RuleName
    excused: tuple[Failure, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "finding": "excused",
            "rule": self.rule,
            "excused": [f.to_dict() for f in self.excused],
        }


Finding = Differs | NotFinite | LawBroken | KinkOutside | Pattern | Excused


@dataclass(frozen=True)
class Verdict:
    """The core's judgement. `summary` and `details` are its sentences, made by
    render.words from the findings (empty where the Report was built without words)."""

    ok: bool
    status: Status = "OK"
    findings: tuple[Finding, ...] = ()
    worst: Worst | None = None
    summary: str = ""  # one line
    details: tuple[str, ...] = ()  # one line per failure

    def failures(self) -> tuple[Failure, ...]:
        return tuple(
            f for f in self.findings if isinstance(f, (Differs, NotFinite, LawBroken, KinkOutside))
        )

    def differs(self) -> tuple[Differs, ...]:
        return tuple(f for f in self.findings if isinstance(f, Differs))

    def patterns(self, key: Key) -> tuple[Pattern, ...]:
        return tuple(f for f in self.findings if isinstance(f, Pattern) and f.key == key)

    def excused(self) -> Excused | None:
        return next((f for f in self.findings if isinstance(f, Excused)), None)
