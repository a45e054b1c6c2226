"""What the judge starts from: the user's code behind an Evaluator (the subject, and
the --against function if any) and each trial's inputs by name.

`open_local` makes it in this process from a CheckSpec of callables; the worker makes
the same with `open_local` on its side, and the supervisor's `Remote` stands for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.commands.check.evaluator import Evaluator, Local
from gradcli.commands.check.plan import plan
from gradcli.commands.check.signature import accepted
from gradcli.commands.check.subject import Subject
from gradcli.spec import CheckSpec

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Opened:
    subject: Evaluator
    trials: list[dict[str, Array]]  # each trial's inputs by name (a module's weights too)
    library: Evaluator | None = None  # the --against function


def open_local(spec: CheckSpec) -> Opened:
    subject, trials = plan(spec)
    library = against(spec, subject)
    return Opened(
        Local(subject, spec), trials, Local(library, spec) if library is not None else None
    )


def against(spec: CheckSpec, subject: Subject) -> Subject | None:
    """The library function as a subject that takes the same inputs, by position."""
    if spec.against is None:
        return None
    return Subject(
        "forward",
        spec.against,
        None,
        subject.names,
        accepted(subject.args, spec.against),
        autograd=True,
        debug=spec.debug,
        label=f"the --against function {spec.names.get('against')}",
    )
