"""Issue 20's goals on well-conditioned code: in float64 a derivative off by a relative
1e-10 is caught, in float32 one off by 30 ulps (30·2⁻²³ relative) is caught, and the
right derivative passes in both, over several seeds and functions (elementwise, a
Jacobian, a VJP of a matrix product)."""

import numpy as np
import pytest

import gradcli

torch = pytest.importorskip("torch")

EPS32 = 2.0**-23


def _lib(x):
    return torch if isinstance(x, torch.Tensor) else np


def sin(x):
    return _lib(x).sin(x)


def tanh(x):
    return _lib(x).tanh(x)


def exp_half(x):
    return _lib(x).exp(x / 2)


def softmax(z):
    if isinstance(z, torch.Tensor):
        return torch.softmax(z, dim=-1)
    e = np.exp(z - z.max())
    return e / e.sum()


def softmax_jacobian(z):
    s = softmax(z)
    return np.diag(s) - np.outer(s, s)


W = np.random.default_rng(11).standard_normal((6, 3))


def matmul(x):
    return x @ (torch.as_tensor(W, dtype=x.dtype) if isinstance(x, torch.Tensor) else W)


def matmul_vjp(x, g):
    return g @ W.T.astype(x.dtype)


ELEMENTWISE = {
    "sin": (sin, np.cos),
    "tanh": (tanh, lambda x: 1 - np.tanh(x) ** 2),
    "exp(x/2)": (exp_half, lambda x: np.exp(x / 2) / 2),
}


def off_by(derivative, relative):
    def wrong(*args):
        value = np.asarray(derivative(*args))
        return value * np.asarray(1 + relative, dtype=value.dtype)

    return wrong


def verdicts(dtype, relative, seed):
    """(right passes, wrong fails) for every function at this seed."""
    out = {}
    for name, (f, d) in ELEMENTWISE.items():
        kw = {"shape": 8, "seed": seed, "dtype": dtype}
        out[name] = (
            gradcli.check(f, grad=d, **kw).ok,
            not gradcli.check(f, grad=off_by(d, relative), **kw).ok,
        )
    kw = {"shape": 6, "seed": seed, "dtype": dtype}
    out["softmax"] = (
        gradcli.check(softmax, jacobian=softmax_jacobian, **kw).ok,
        not gradcli.check(softmax, jacobian=off_by(softmax_jacobian, relative), **kw).ok,
    )
    kw = {"shape": (4, 6), "seed": seed, "dtype": dtype}
    out["x @ W"] = (
        gradcli.check(matmul, vjp=matmul_vjp, **kw).ok,
        not gradcli.check(matmul, vjp=off_by(matmul_vjp, relative), **kw).ok,
    )
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_float64_catches_a_relative_error_of_1e_10(seed):
    assert verdicts("float64", 1e-10, seed) == dict.fromkeys(
        [*ELEMENTWISE, "softmax", "x @ W"], (True, True)
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_float32_catches_30_ulps(seed):
    assert verdicts("float32", 30 * EPS32, seed) == dict.fromkeys(
        [*ELEMENTWISE, "softmax", "x @ W"], (True, True)
    )


def test_float32_still_passes_a_few_ulps_of_rounding():
    """The other side of the band: an error of 1 ulp (what a float32 derivative rounded
    once can be off by) passes, so the 30-ulp catch is not a band of zero."""
    for f, d in ELEMENTWISE.values():
        assert gradcli.check(f, grad=off_by(d, EPS32), shape=8, dtype="float32").ok
