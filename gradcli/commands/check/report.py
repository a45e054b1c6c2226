"""What `gradcli check`'s Report says besides the numbers: its title, its inputs (by
name), its notes, the low-precision tolerances and the Taylor test's lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli import params
from gradcli.commands.check.backends import Trial
from gradcli.commands.check.evaluator import Evaluator
from gradcli.commands.check.modules import PARAMETER_SPREAD
from gradcli.commands.check.quantities import DIRECTIONS
from gradcli.findings import Differs, Failure, RuleName
from gradcli.report import Comparison, LawCheck
from gradcli.spec import CheckSpec, RunOptions

# The resolution ε (spacing just above 1) of the low-precision dtypes your code may run
# in. Every dtype's tolerance is NOISE_ULPS of its ε, relative and of each quantity's
# scale, which is at least the measured rounding of autograd of the same forward in that
# dtype (over ε): a fixed rtol would be blind to conditioning (float16 at x = 30 + N(0, 1)
# loses a digit that float16 at N(0, 1) does not).
LOW_PRECISION = {"float16": 2.0**-10, "bfloat16": 2.0**-7}
# 8 for float64 and float32: a correct derivative's rounding within a few times
# autograd's largest, and 30 ulps of float32 outside; 2 for float16 and bfloat16, whose
# right result is rounded once (ε/2) and whose measured rounding is already most of ε.
NOISE_ULPS = {"float64": 8.0, "float32": 8.0, "float16": 2.0, "bfloat16": 2.0}


def low_precision_note(options: RunOptions) -> str:
    eps = LOW_PRECISION[options.dtype]
    ulps = NOISE_ULPS[options.dtype]
    chosen = []
    if options.rtol is None:
        chosen.append(f"rtol = {ulps:g}ε = {ulps * eps:.3g}")
    if options.atol is None:
        chosen.append(
            f"atol = {ulps:g}ε · each quantity's scale (its largest |reference|, at "
            f"least autograd's measured rounding in {options.dtype} over ε)"
        )
    how = "; ".join(chosen) if chosen else "as given by --rtol and --atol"
    return (
        f"{options.dtype}: your code ran in {options.dtype} (ε = {eps:.3g}), the references in "
        f"float64 on the same rounded values; yours is judged with {how}"
    )


def taylor(
    spec: CheckSpec, subject: Evaluator, trials: list[Trial]
) -> tuple[tuple[LawCheck, ...], list[tuple[str, tuple[str, ...]]]]:
    if not spec.taylor:
        return (), []
    from gradcli.commands.check.taylor import taylor_test

    laws: list[LawCheck] = []
    lines: list[str] = []
    for t, trial in enumerate(trials, start=spec.first_trial):
        law, shown = taylor_test(spec, subject, trial, t)
        laws.append(law)
        lines.extend(shown if not law.ok else ())  # the steps of a failing trial only
    # each trial's rate is said once, on the laws' line (render.view)
    if not lines:
        return tuple(laws), []
    return tuple(laws), [("Taylor test: the remainder's rate as h halves", tuple(lines))]


def notes(
    spec: CheckSpec,
    subject: Evaluator,
    references: Sequence[str],
    use_torch: bool,
    directional: bool,
    trials: Sequence[Trial] = (),
) -> list[str]:
    notes = []
    if "torch" in references and not use_torch and subject.facts.kind == "function":
        notes.append(
            "the Function's forward leaves torch (numpy inside), so autograd cannot "
            "differentiate it: the check is your backward against finite differences only"
        )
    elif "torch" in references and not use_torch:
        notes.append(
            "the forward does not take torch tensors: the check is your derivative "
            "against finite differences only"
        )
    for t, trial in enumerate(trials if spec.mode != "jacobian" else (), start=spec.first_trial):
        bad = [(o, y) for o, y in enumerate(trial.outputs) if not np.isfinite(y).all()]
        if bad:
            o, y = bad[0]
            count = sum(int(np.size(y) - np.count_nonzero(np.isfinite(y))) for _, y in bad)
            first = tuple(int(i) for i in np.argwhere(~np.isfinite(y))[0])
            where = f"output {o} " if len(trial.outputs) > 1 else ""
            notes.append(
                f"the forward is not finite at {count} of "
                f"{sum(np.size(y) for y in trial.outputs)} outputs in trial {t} (first at "
                f"{where}{list(first)}: {float(y[first])}): where it stays that infinity "
                "as fd steps (a fully masked row), fd takes it as constant"
            )
            break
    if directional:
        notes.append(
            f"large input: each trial compared along {DIRECTIONS} random directions "
            "(vᵀJu: the Jacobian between random vectors u and v), not element by element; "
            "--full forces the full check"
        )
    if spec.stubbed:
        known = subject.called_stand_ins()
        called = ", ".join(known or ())
        said = "what your code called of them did nothing and returned a stand-in"
        if known is not None:
            said = (
                f"your code called {called}: each did nothing and returned a stand-in"
                if called
                else "your code did not call them during the check"
            )
        notes.append(
            f"stand-ins ({params.named('stub', '--stub')}) for {', '.join(spec.stubbed)}: {said}"
        )
    if spec.drawn_parameters:
        built = ", ".join(f"{name} = {value:g}" for name, value in spec.drawn_parameters)
        notes.append(
            f"parameters built constant ({built}) are drawn around that value "
            f"(×U({1 - PARAMETER_SPREAD:g}, {1 + PARAMETER_SPREAD:g}), or "
            f"U(±{PARAMETER_SPREAD:g}) for 0): at 1 or 0 a backward that drops them would pass"
        )
    if subject.facts.kind == "module" and not subject.facts.has_functions:
        notes.append("the module has no custom autograd.Function: torch is its own autograd")
    return notes


def title(spec: CheckSpec, subject: Evaluator, trials: list[Trial]) -> str:
    values = trials[0].values
    if len(values) == 1:
        what = f"x of shape {next(iter(values.values())).shape}"
    else:
        what = "inputs " + ", ".join(f"{n} {values[n].shape}" for n in subject.facts.names)
    return (
        f"check {spec.names['derivative']} ({spec.mode}) of {spec.names['target']}: "
        f"{_trials(spec, trials)}, {what}, {spec.options.dtype}"
    )


def inputs(spec: CheckSpec, subject: Evaluator, trials: list[Trial]) -> dict[str, Any]:
    one = len(trials[0].values) == 1
    return {
        "target": spec.names["target"],
        "derivative": spec.names["derivative"],
        "mode": spec.mode,
        "x": [next(iter(t.values.values())) if one else dict(t.values) for t in trials],
        "input_names": list(subject.facts.names),
        "no_grad": [n for n in subject.facts.all_inputs if n not in subject.facts.names],
        "args": dict(subject.facts.args),
        "seed": spec.seed,
        "dtype": spec.options.dtype,
    }


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _trials(spec: CheckSpec, trials: list[Any]) -> str:
    if spec.first_trial:  # --trial K
        return f"trial {spec.first_trial}"
    return "1 trial" if len(trials) == 1 else f"{len(trials)} trials"


@dataclass(frozen=True)
class TaylorDecides:
    """check's declared rule (core.Rule): where only fd differs, every law (the Taylor
    test of each trial) holds and nothing is non-finite, the Taylor test decides: fd's
    own error there is beyond its estimate, and the remainder falling as h² says the
    derivative is right."""

    name: RuleName = "taylor"

    def excuses(
        self,
        failures: Sequence[Failure],
        comparisons: Sequence[Comparison],
        laws: Sequence[LawCheck],
    ) -> bool:
        failing = [c for c in comparisons if not c.ok]
        return (
            bool(laws)
            and all(law.ok for law in laws)
            and all(isinstance(f, Differs) for f in failures)
            and bool(failing)
            and all("fd" in c.backends for c in failing)
        )
