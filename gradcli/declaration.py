"""What a command declares to the core (gradcli.core.judge): its quantities, with
their scales; its numerical references; the rules it applies after comparing; and what
the Report says besides the numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gradcli import references
from gradcli.findings import (
    Failure,
    Pattern,
    RuleName,
)
from gradcli.keys import Key
from gradcli.report import (
    Array,
    BackendName,
    BackendResult,
    Comparison,
    Explanation,
    LawCheck,
    Shown,
)


@dataclass(frozen=True)
class Quantity:
    """A quantity the backends computed. `scale` is its magnitude (a number, or per
    element: an array broadcastable to the quantity's shape, e.g. a per-row (m, 1)
    column of a Jacobian), from the inputs or the reference side, never from the side
    under test. `n_terms`: the length of the sums behind it."""

    name: str  # where the backends' arrays are: `key.id` when a key is given
    scale: float | Array = 1.0
    n_terms: int = 1
    view: tuple[int, int] | None = None
    floor_scale: float = 1.0  # quantity / underlying value, for the dtype's tiny floor
    condition: float = 0.0  # relative rounding beyond the dtype's: condition·ε (exp of |z|)
    # the computation's own rounding noise per element (graph_rounding), added ROUNDING_FACTOR
    # times to every pair's default atol; called only where a comparison fails without it
    rounding: Callable[[], Array] | None = None
    # the scale carries the computation's measured rounding: `ulps` of ε, relative and
    # of it, instead of the fixed table's margins (compare.measured_band); None: the table
    ulps: float | None = None
    key: Key | None = None  # the quantity by its parts; None: a plain Key(name)

    def __post_init__(self) -> None:
        if self.key is not None and self.key.id != self.name:
            raise ValueError(f"quantity {self.name!r} declared with key {self.key.id!r}")


class Rule(Protocol):
    """A rule a command declares and the core applies after comparing: when it
    `excuses` the failures, the verdict is OK and says which rule decided (check: the
    Taylor test decides where only fd differs)."""

    @property
    def name(self) -> RuleName: ...

    def excuses(
        self,
        failures: Sequence[Failure],
        comparisons: Sequence[Comparison],
        laws: Sequence[LawCheck],
    ) -> bool: ...


Sections = tuple[tuple[str, tuple[str, ...]], ...]
# what a command finds in its failures beyond the numbers: the patterns (the shape of a
# wrong derivative) and sections of text (check: the worst entries)
Describe = Callable[
    [Mapping[str, BackendResult], Sequence[Comparison]], tuple[tuple[Pattern, ...], Sections]
]


@dataclass
class NumericalReference:
    """`backend`'s `quantity` (fd's, usually) as a references.Derivative, refinable by
    its Differentiator (None: as it is). `analytic`: the complex step may refine it.
    `to_columns` maps the Derivative's columns to the view of the quantity when they
    differ (directional references); `describe` names element (i, j) for a kink."""

    backend: BackendName
    quantity: str
    derivative: references.Derivative
    differentiator: references.Differentiator | None = None
    analytic: bool = False
    describe: Callable[[tuple[int, ...]], str] | None = None


@dataclass(frozen=True)
class Declaration:
    """What the Report says besides the numbers."""

    command: str
    title: str
    inputs: Mapping[str, Any]
    labels: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    sections: Sections = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    explanation: Explanation | None = None
    keys: Sequence[Key] = ()  # the keys of arrays shown but not compared (check's forward)
    rules: Sequence[Rule] = ()
    describe: Describe | None = None
    shown: Shown | None = None  # render's adapter: the verdict's words, rich and Jupyter
