"""How far a correct run of a graph program may be off, element by element: the rounding
noise of the computation itself, measured by running it with its rounding simulated.

Two correct backends differ by their rounding, and a program can amplify it far beyond
ε: in layer norm at a = 1000 + 1e-3·N(0, 1), d = a − mean(a) keeps ~6 of float64's 16
digits, and ∂L/∂v, whose true value is 0, comes out as ±1e-5 from torch and ±1e-12 from
numpy. No fixed rtol/atol holds both that and a planted 1e-6 error elsewhere, and a
bound from the op's Jacobian alone misses that the backward reads values (d) that the
forward already made inexact.

So the program is run again in float64, `SAMPLES` times, with every operation's result,
every gradient share and every sum of shares moved by ε·u times the magnitude its
rounding is relative to (the op registry's `rounding`: the result itself, the sum of
|terms| for a sum or a matmul, nothing for moving or picking elements), u in [−1, 1] and
ε the checked dtype's (stochastic arithmetic, as CESTAC and Monte Carlo arithmetic do):
each run is what some correct implementation could have computed (a shift below half an
ulp moves the value by one ulp). u is a hash of the value's bits and the
run's number, not a fresh random draw: equal values stay equal (a tie of max stays a
tie, as real rounding never breaks an exact tie), and the same run gives the same
Report. The result of one operation short enough to be exact in the checked dtype
(2·3 = 6) is not perturbed: relu(2·3 − 6) stays at its kink (a sum's is: its partial
sums round even where the total is short). The noise of an element is the largest
distance of those runs from the unperturbed float64 run. Measured over 10 random
inputs each of layer norm, layer norm times w, log-sum-exp, softmax(a·1000), log_softmax
and tanh(a − mean a) at offsets 0, 1e3 and 1e4 and spreads 1e-3 to 1: torch's distance
from numpy, beyond rtol·|value|, was at most 2.1 of this noise in float64 and 4.5 in
float32, except 8.0 for layer norm at 1e4 with a spread of 0.01 in float32 (ten float32
ulps); the core allows `comparing.ROUNDING_FACTOR` = 8 of it, on top of atol.

It costs `SAMPLES` forward and backward passes in float64 and the hashing (measured 8-14
times one numpy pass on 1000×1000 programs), paid only where a comparison would otherwise
fail (`core.Quantity.rounding` is called lazily), and only where it fits in memory.
"""

from __future__ import annotations

import numpy as np

from gradcli import directional as directional_fd
from gradcli.backends import engine
from gradcli.report import Array
from gradcli.spec import Program

SAMPLES = 4
# the peak of `noise` per element of every node, beyond the run's own (measured: 59 bytes
# with tracemalloc on a 1000×1000 layer-norm-like program); above the memory it may
# take, the graph problem does not measure it
BYTES_PER_ELEMENT = 64
_GOLDEN = 0x9E3779B97F4A7C15  # splitmix64's increment and multipliers
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _unit(a: Array, run: int) -> Array:
    """A number in [−1, 1) per element, a hash (splitmix64) of its float64 bits and `run`."""
    salt = np.uint64((run + 1) * _GOLDEN % 2**64)
    with np.errstate(over="ignore"):  # modulo 2⁶⁴ is the point (0-d arrays would warn)
        z = np.asarray(a, dtype=np.float64).view(np.uint64) + salt
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z = z ^ (z >> np.uint64(31))
    unit: Array = np.asarray((z >> np.uint64(11)).astype(np.float64) * 2.0**-52 - 1.0)
    return unit


def noise(
    program: Program, shadow: dict[str, Array], dtype: str, dirs: dict[str, Array] | None = None
) -> dict[str, Array]:
    """{"values.x": noise, "grads.x": noise} for every named variable x (and "grads.x·v"
    for each gradient projected on `dirs`): the largest distance of `SAMPLES` runs with
    simulated rounding of `dtype` from the float64 run on the same inputs (`shadow`:
    the inputs as the checked dtype holds them, in float64)."""
    eps = float(np.finfo(dtype).eps)
    base = _named(program, shadow, None, dirs)
    out = {q: np.zeros_like(v, dtype=np.float64) for q, v in base.items()}
    for run in range(SAMPLES):
        for q, v in _named(program, shadow, _perturbation(eps, run), dirs).items():
            with np.errstate(all="ignore"):
                distance = np.abs(v - base[q])
            # a non-finite run says nothing about rounding: the NonFinite line says it
            np.fmax(out[q], np.where(np.isfinite(distance), distance, 0.0), out=out[q])
    return out


def loss_noise(program: Program, shadow: dict[str, Array]) -> float:
    """The loss's own rounding noise in float64: the largest distance of `SAMPLES`
    forward runs with simulated rounding from the plain one. fd's rounding bound is
    relative to it: in layer norm at a = 1000 + 1e-3·N(0, 1) the loss is off by ~1e-10,
    not by ε·1000, because 1/√v amplifies d's rounding."""
    eps = float(np.finfo(np.float64).eps)
    base = engine.loss_of(engine.forward(program, shadow, "float64")[program.output])
    largest = 0.0
    for run in range(SAMPLES):
        values = engine.forward(program, shadow, "float64", _perturbation(eps, run))
        with np.errstate(all="ignore"):
            distance = float(np.abs(engine.loss_of(values[program.output]) - base))
        if np.isfinite(distance):
            largest = max(largest, distance)
    return largest


def _perturbation(eps: float, run: int) -> engine.Perturb:
    # a result that fits in this many bits is taken as exact (2·3 = 6, a float32 product
    # held in float64): a rounded one does so by chance with probability 2⁻¹²
    bits = min(41, round(-np.log2(eps)) + 1)
    low = np.uint64((1 << (53 - bits)) - 1)

    def perturb(value: Array, magnitude: Array, short_is_exact: bool) -> Array:
        if value.dtype != np.float64:
            return value
        inexact = (np.asarray(value).view(np.uint64) & low) != 0 if short_is_exact else True
        with np.errstate(all="ignore"):
            shift = inexact * (eps * _unit(value, run) * magnitude)
            jittered: Array = value + shift
            # a shift below half an ulp would vanish: then one ulp its way
            stuck = (jittered == value) & (shift != 0)
            jittered = np.where(stuck, np.nextafter(value, np.sign(shift) * np.inf), jittered)
        return np.where(np.isfinite(jittered), jittered, value)

    return perturb


def _named(
    program: Program,
    shadow: dict[str, Array],
    perturb: engine.Perturb | None,
    dirs: dict[str, Array] | None,
) -> dict[str, Array]:
    values = engine.forward(program, shadow, "float64", perturb)
    grads, _ = engine.backward(program, values, perturb)
    out: dict[str, Array] = {}
    for name, node in program.variables.items():
        out[f"values.{name}"] = values[node]
        grad = grads[node]
        out[f"grads.{name}"] = np.zeros_like(values[node]) if grad is None else grad
    if dirs:
        out.update(directional_fd.project(out, dirs))
    return out
