"""The Taylor test (`--taylor`): a verdict that needs no tolerance.

Along a random direction u (every input at once) and for a random cotangent v, with
φ(x) = ⟨v, f(x)⟩ and D your directional derivative ⟨v, J·u⟩ (from your VJP, Jacobian,
elementwise derivative or backward), the remainder

    r(h) = |φ(x + h·u) − φ(x) − h·D|

is O(h²) when D is right (the next Taylor term) and O(h) when it is wrong (then
h·|D − D_true| dominates as h → 0). For h = h₀/2ᵏ the measured rate log₂(r(h)/r(h/2))
tends to 2 or to 1. Remainders that have sunk into rounding (of φ in float64, and of D
in your dtype) carry no information and are left out; if every remainder is rounding,
D agrees with φ to rounding at every step, which passes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.commands.check.backends import Trial
from gradcli.commands.check.evaluator import Evaluator
from gradcli.report import LawCheck

STEPS = 24  # h₀ / 2ᵏ, k < STEPS: from 0.5 down to 6e-8 of the inputs' scale
# ... and on while the remainder is above rounding: f steep on a scale below 6e-8 of the
# inputs' (sin(1e5·x)) has its h² term still above a wrong D's h·|D − D_true| there, so
# a wrong derivative would measure rate 2; halving on reaches the regime where h wins
MAX_STEPS = 56
H0 = 0.5
PASS_RATE = 1.5  # between the rates 1 (wrong) and 2 (right)
# φ(t) = ⟨v, f(x + t·u)⟩ along a random direction u, against the derivative's ⟨v, J·u⟩
LAW = "Taylor remainder |φ(x+h·u) − φ(x) − h·⟨v, J·u⟩| falls as h²"
LAST_RATES = 3  # the rates of the smallest valid steps decide (the asymptotic regime)
NOISE_ULPS = 256.0  # of |φ|'s terms, below which a remainder is rounding
CLEAR = 16.0  # times that rounding: a remainder whose rate is not bent by it


def taylor_test(
    spec: Any, subject: Evaluator, trial: Trial, index: int
) -> tuple[LawCheck, tuple[str, ...]]:
    """The law "the remainder falls as h²" for one trial, and the lines that show it."""
    rng = np.random.default_rng([spec.seed, 0x7461796C6F72, index])
    u = {n: rng.standard_normal(trial.values[n].shape) for n in subject.facts.names}
    v = tuple(rng.standard_normal(y.shape) for y in trial.outputs)
    d, d_abs = _yours_along(spec, subject, trial, u, v)
    # x + h·u is rounded to ε·|x|: φ moves by up to ε·Σ|∂φ/∂x_j·x_j| whatever h is (a
    # steep f at x ~ 1, sin(1e5·x), has this floor far above ε·|φ|)
    _, x_abs = _yours_along(spec, subject, trial, {n: np.abs(trial.values[n]) for n in u}, v)
    phi0, phi0_abs = _phi(subject, trial, u, v, 0.0)
    scale = max(1.0, *(float(np.abs(x).max()) for x in trial.values.values()))
    scale /= max(float(np.abs(w).max()) for w in u.values())
    eps_yours = float(np.finfo(np.float32 if trial.dtype != "float64" else np.float64).eps)
    if trial.dtype in ("float16", "bfloat16"):
        eps_yours = {"float16": 2.0**-10, "bfloat16": 2.0**-7}[trial.dtype]
    steps: list[float] = []
    remainders: list[float] = []
    noise: list[float] = []
    k = 0
    while k < STEPS or (k < MAX_STEPS and remainders[-1] > noise[-1]):
        h = H0 * scale / 2**k
        k += 1
        phi, phi_abs = _phi(subject, trial, u, v, h)
        steps.append(h)
        with np.errstate(all="ignore"):
            remainders.append(abs(phi - phi0 - h * d))
        eps64 = float(np.finfo(np.float64).eps)
        rounding = eps64 * (phi_abs + phi0_abs + x_abs) + h * eps_yours * d_abs
        noise.append(NOISE_ULPS * rounding)
    rates = [
        float(np.log2(remainders[k] / remainders[k + 1]))
        if remainders[k + 1] > noise[k + 1] and remainders[k] > noise[k]
        else None
        for k in range(len(steps) - 1)
    ]
    valid = [r for r in rates if r is not None and np.isfinite(r)]
    # near the rounding floor, rounding flattens the remainder and lowers the rate (a
    # right D measured 1.5 there): the smallest steps well clear of it decide
    clear = [
        r
        for k, r in enumerate(rates)
        if r is not None and np.isfinite(r) and remainders[k + 1] > CLEAR * noise[k + 1]
    ]
    decisive = (clear or valid)[-LAST_RATES:]
    rate = float(np.median(decisive)) if decisive else None
    ok = rate is None or rate >= PASS_RATE
    if not np.isfinite(d) or not np.isfinite(phi0):
        ok, rate = False, float("nan")
    said = "every remainder is rounding" if rate is None else f"rate {rate:.2f}"
    law = LawCheck(
        "yours",
        LAW,
        max_violation=0.0 if rate is None else max(0.0, 2.0 - rate),
        allowed=2.0 - PASS_RATE,
        ok=ok,
        trial=index,
        rate=rate,
    )
    lines = tuple(
        f"h = {steps[k]:.3g}: remainder {remainders[k]:.3g}"
        + (f", rate {rates[k - 1]:.2f}" if k and rates[k - 1] is not None else "")
        + ("" if remainders[k] > noise[k] else " (rounding)")
        for k in range(len(steps))
    )
    head = f"trial{index}: {said} (right: 2, wrong: 1; decided by the smallest steps)"
    return law, (head, *lines)


def _phi(
    subject: Evaluator, trial: Trial, u: dict[str, Any], v: tuple[Any, ...], h: float
) -> tuple[float, float]:
    """⟨v, f(x + h·u)⟩ in float64, and Σ|v||f| (the magnitude its rounding scales with)."""
    moved = (
        {n: v + h * u[n] if n in u else v for n, v in trial.values.items()} if h else trial.values
    )
    outputs = subject.forward([moved])[0]
    with np.errstate(all="ignore"):
        value = sum(float(np.sum(vo * yo)) for vo, yo in zip(v, outputs, strict=True))
        magnitude = sum(float(np.sum(np.abs(vo * yo))) for vo, yo in zip(v, outputs, strict=True))
    return value, magnitude


def _yours_along(
    spec: Any, subject: Evaluator, trial: Trial, u: dict[str, Any], v: tuple[Any, ...]
) -> tuple[float, float]:
    """Your ⟨v, J·u⟩ and the sum of the magnitudes of its terms."""
    with np.errstate(all="ignore"):
        if spec.mode == "jacobian":
            blocks = subject.yours_jacobian(trial)
            terms = [
                v[o].reshape(-1)[:, None] * block * u[n].reshape(-1)[None, :]
                for (o, n), block in blocks.items()
            ]
        elif spec.mode == "grad":
            (n,) = subject.facts.names
            terms = [v[0] * subject.yours_grad(trial) * u[n]]
        else:
            grads = subject.yours_vjp(trial, v)
            terms = [grads[n] * u[n] for n in subject.facts.names]
        return (
            sum(float(np.sum(t)) for t in terms),
            sum(float(np.sum(np.abs(t))) for t in terms),
        )
