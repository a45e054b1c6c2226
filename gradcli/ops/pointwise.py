"""Element-by-element operations: + − · / ** and the unary functions.

Each backward rule is torch's own formula (torch/csrc/autograd/FunctionsManual.cpp and
derivatives.yaml), in the same order of operations, so that numpy and torch agree at
0, at negative bases and at infinities too: `a ** 0` has gradient 0 at a = 0 (torch
masks b = 0), not 0·0⁻¹ = NaN. The forwards also accept complex input, with the real
function's domain kept (log, sqrt and pow give NaN where the real one does), so that the
complex step `Im f(x + ih)/h` is the derivative wherever the real function has one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradcli.ops.record import (
    Array,
    Op,
    Params,
    broadcast,
    is_complex,
    transcendental,
    unbroadcast,
)

# --- binary: a ∘ b, broadcasting as numpy and torch do -----------------------------------


def _binary_shape(shapes: Sequence[tuple[int, ...]], p: Params) -> tuple[int, ...]:
    return broadcast(shapes[0], shapes[1])


def add_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # d(a + b) = da + db
    return [unbroadcast(g, x[0].shape), unbroadcast(g, x[1].shape)]


def sub_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # d(a − b) = da − db
    return [unbroadcast(g, x[0].shape), unbroadcast(-g, x[1].shape)]


def mul_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # d(a·b) = b·da + a·db
    return [unbroadcast(g * x[1], x[0].shape), unbroadcast(g * x[0], x[1].shape)]


def div_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # d(a/b) = da/b − (a/b)/b·db   (torch divides twice: a/b² would overflow sooner)
    a, b = x
    return [unbroadcast(g / b, a.shape), unbroadcast(-g * ((a / b) / b), b.shape)]


def div_kinks(x: Sequence[Array], o: Array, p: Params) -> list[tuple[int, Array, str]]:
    return [(1, np.broadcast_to(x[1] == 0, x[1].shape), "infinite")]


def pow_forward(x: Sequence[Array], p: Params) -> Array:
    a, b = x
    out: Array = a**b
    if is_complex(out):  # a negative base to a non-integer power is NaN, as for reals
        real_power = (b.imag == 0) & (b.real == np.round(b.real))
        out = np.where((a.real < 0) & ~real_power, np.nan, out)
    return out


def pow_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # d(aᵇ) = b·aᵇ⁻¹·da + aᵇ·log(a)·db, and as torch: 0 for da where b = 0 (a⁰ = 1 is
    # constant, even at a = 0), 0 for db where a = 0 and b ≥ 0 (0ᵇ is 0 or 1 there)
    a, b = x
    da = np.where(b == 0, 0.0, g * (b * a ** (b - 1)))
    db = g * np.where((a == 0) & (b >= 0), 0.0, o * np.log(a))
    return [unbroadcast(da, a.shape), unbroadcast(db, b.shape)]


def pow_kinks(x: Sequence[Array], o: Array, p: Params) -> list[tuple[int, Array, str]]:
    # at a = 0 with 0 < b < 1 the slope is infinite; with b < 0, a pole
    a, b = np.broadcast_arrays(*x)
    infinite = (a == 0) & (b < 1) & (b != 0)
    return [(0, unbroadcast(infinite, x[0].shape) > 0, "infinite")]  # a count, summed back


ADD = Op(
    "add", 2, (), _binary_shape, lambda x, p: x[0] + x[1], add_vjp,
    lambda t, x, p: x[0] + x[1], analytic=True, function=False, operator="Add", symbol="+",
)  # fmt: skip
SUB = Op(
    "sub", 2, (), _binary_shape, lambda x, p: x[0] - x[1], sub_vjp,
    lambda t, x, p: x[0] - x[1], analytic=True, function=False, operator="Sub", symbol="-",
)  # fmt: skip
MUL = Op(
    "mul", 2, (), _binary_shape, lambda x, p: x[0] * x[1], mul_vjp,
    lambda t, x, p: x[0] * x[1], analytic=True, function=False, operator="Mult", symbol="*",
)  # fmt: skip
DIV = Op(
    "div", 2, (), _binary_shape, lambda x, p: x[0] / x[1], div_vjp,
    lambda t, x, p: x[0] / x[1], analytic=True, kinks="a pole where b = 0",
    kink_points=div_kinks, function=False, operator="Div", symbol="/",
)  # fmt: skip
POW = Op(
    "pow", 2, (), _binary_shape, pow_forward, pow_vjp, lambda t, x, p: x[0] ** x[1],
    analytic=True, kinks="an infinite slope at a = 0 when b < 1 (b ≠ 0)",
    kink_points=pow_kinks, cost=transcendental, function=False, operator="Pow", symbol="**",
)  # fmt: skip


# --- unary ---------------------------------------------------------------------------


def _same_shape(shapes: Sequence[tuple[int, ...]], p: Params) -> tuple[int, ...]:
    return shapes[0]


def identity_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # y = a:  dy = da
    return [g]


def neg_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # d(−a) = −da
    return [-g]


def exp_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # d(eᵃ) = eᵃ·da
    return [g * o]


def log_forward(x: Sequence[Array], p: Params) -> Array:
    out: Array = np.log(x[0])
    return np.where(x[0].real < 0, np.nan, out) if is_complex(out) else out


def log_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # d(log a) = da/a   (torch divides even where a < 0 and log a is NaN)
    return [g / x[0]]


def sqrt_forward(x: Sequence[Array], p: Params) -> Array:
    out: Array = np.sqrt(x[0])
    return np.where(x[0].real < 0, np.nan, out) if is_complex(out) else out


def sqrt_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # d(√a) = da/(2√a)   (infinite at a = 0, as in torch)
    return [g / (2 * o)]


def at_zero(x: Sequence[Array], o: Array, p: Params, kind: str) -> list[tuple[int, Array, str]]:
    return [(0, x[0] == 0, kind)]


def abs_forward(x: Sequence[Array], p: Params) -> Array:
    # |a| = a·sign(a); for complex step, the real function's branch a·sign(Re a), not the
    # modulus (the same numbers for real a: −0.0, ±inf and NaN included)
    out: Array = x[0] * np.sign(x[0].real)
    return out


def abs_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # d|a| = sign(a)·da   (sign(0) = 0: torch's choice in the subgradient [−1, 1]; and
    # torch's sign(NaN) = [a > 0] − [a < 0] = 0, where numpy's np.sign gives NaN)
    a = x[0]
    return [g * ((a > 0).astype(a.dtype) - (a < 0))]


def tanh_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # d tanh a = (1 − tanh²a)·da
    return [g * (1 - o * o)]


def sigmoid_forward(x: Sequence[Array], p: Params) -> Array:
    # σ(a) = (1 + tanh(a/2))/2: no overflow for large |a|, and complex-step safe
    out: Array = 0.5 * (1 + np.tanh(0.5 * x[0]))
    return out


def sigmoid_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # dσ = σ(1 − σ)·da, in torch's order g·(1 − σ)·σ
    return [g * (1 - o) * o]


def relu_forward(x: Sequence[Array], p: Params) -> Array:
    a = x[0]
    out: Array = np.where(a.real > 0, a, 0) if is_complex(a) else np.maximum(a, 0)
    return out


def relu_vjp(g: Array, x: Sequence[Array], o: Array, p: Params) -> list[Array]:
    # relu a = max(a, 0):  d relu = [relu a > 0]·da  (torch masks by the output: 0 at a = 0)
    return [np.where(o <= 0, 0.0, g)]


# pragma: no mutate start  (runs once at import, building records: no test can switch it)
def _unary(name: str, forward: object, vjp: object, twin: str, **extra: object) -> Op:
    return Op(
        name, 1, (), _same_shape, forward, vjp,  # type: ignore[arg-type]
        lambda t, x, p: getattr(t, twin)(x[0]), example=f"{name}(a)", cost=transcendental,
        **extra,  # type: ignore[arg-type]
    )  # fmt: skip


# pragma: no mutate end
IDENTITY = Op(
    "identity", 1, (), _same_shape, lambda x, p: x[0], identity_vjp, lambda t, x, p: x[0],
    analytic=True, function=False, rounding="exact",
)  # fmt: skip
NEG = Op(
    "neg", 1, (), _same_shape, lambda x, p: -x[0], neg_vjp, lambda t, x, p: -x[0],
    analytic=True, function=False, operator="USub", symbol="-", rounding="exact",
)  # fmt: skip
EXP = _unary("exp", lambda x, p: np.exp(x[0]), exp_vjp, "exp", analytic=True)
LOG = _unary(
    "log", log_forward, log_vjp, "log", analytic=True, kinks="a pole at a = 0",
    kink_points=lambda x, o, p: at_zero(x, o, p, "infinite"),
)  # fmt: skip
SQRT = _unary(
    "sqrt", sqrt_forward, sqrt_vjp, "sqrt", analytic=True,
    kinks="an infinite slope at a = 0", kink_points=lambda x, o, p: at_zero(x, o, p, "infinite"),
)  # fmt: skip
ABS = _unary(
    "abs", abs_forward, abs_vjp, "abs", analytic=False,
    kinks="a kink at a = 0 (slopes −1 and 1)", kink_points=lambda x, o, p: at_zero(x, o, p, "kink"),
    rounding="exact",
)  # fmt: skip
TANH = _unary("tanh", lambda x, p: np.tanh(x[0]), tanh_vjp, "tanh", analytic=True)
SIGMOID = _unary("sigmoid", sigmoid_forward, sigmoid_vjp, "sigmoid", analytic=True)
RELU = _unary(
    "relu", relu_forward, relu_vjp, "relu", analytic=False,
    kinks="a kink at a = 0 (slopes 0 and 1)", kink_points=lambda x, o, p: at_zero(x, o, p, "kink"),
    rounding="exact",
)  # fmt: skip

OPS = (ADD, SUB, MUL, DIV, POW, IDENTITY, NEG, EXP, LOG, SQRT, ABS, TANH, SIGMOID, RELU)
