"""Issue 20's references and bands, unit by unit: underflow is not rounding, the
complex step that underflows gives way to Richardson, fd near 0 steps at x's own
scale, and tied kinks are checked together (separable ones are not)."""

import numpy as np
import pytest

import gradcli
from gradcli import references
from gradcli.commands.check import noise

torch = pytest.importorskip("torch")


def test_underflow_is_not_rounding_but_cancellation_is():
    high = np.array([1e-300, 1e-9, 1e-40, 1.0])
    low = np.array([0.0, 0.0, 3e-8, 1.0 + 2.0**-23])
    # 1e-300 → 0 is underflow (nothing); 1e-9 → 0 and 1e-40 → 3e-8 are a cancellation's
    # rounding; 1 → 1 + ε₃₂ is one ulp
    assert noise.deviation(low, high).tolist() == [0.0, 1e-9, 3e-8 - 1e-40, 2.0**-23]


def test_a_complex_step_that_underflows_is_refined_by_richardson():
    x = np.array([0.3, -1.2])
    d = references.Differentiator(references.rows_of(lambda v: 1e-300 * v * v, x.shape), x)
    derivative = d.cheap()
    d.complex_step(derivative, [0, 1])  # Im f = 1e-20·1e-300 underflows
    exact = 2e-300 * x
    assert np.allclose(np.diag(derivative.value), exact, rtol=1e-9, atol=0)
    assert derivative.error.max() < 1e-9 * np.abs(exact).max()
    assert derivative.methods_used.get("richardson") == 2


@pytest.mark.parametrize(
    ("f", "fprime", "x"),
    [
        (lambda v: v * np.log(v), lambda v: np.log(v) + 1, 1e-300),  # steps below 0 before
        (np.cbrt, lambda v: 1 / (3 * np.cbrt(v) ** 2), 3e-7),  # straddled 0 before
        (np.cbrt, lambda v: 1 / (3 * np.cbrt(v) ** 2), -2e-6),
    ],
)
def test_fd_near_zero_steps_at_the_scale_of_x(f, fprime, x):
    point = np.array([x, 1.0])
    d = references.Differentiator(references.rows_of(f, point.shape), point)
    derivative = d.cheap()
    d.richardson(derivative, [0])
    assert derivative.value[0, 0] == pytest.approx(fprime(x), rel=1e-8)
    assert not derivative.kinks  # finite near 0 is not called infinite, nor a kink


def test_the_cube_root_at_zero_is_still_infinite():
    point = np.array([0.0, 1.0])
    d = references.Differentiator(references.rows_of(np.cbrt, point.shape), point)
    derivative = d.cheap()
    d.richardson(derivative, [0])
    assert [k.infinite for k in derivative.kinks] == [True]


def test_independent_kinks_with_mixed_cotangents_are_not_a_tie():
    """relu at two zeros, ⟨g, relu(x)⟩ with g of both signs: each coordinate's choice in
    [0, 1] is valid, so there is no law on their sum (a tie check there would fail the
    right backward with 1 at one zero and 0 at the other)."""
    x = np.array([0.0, 0.0, 0.7])

    def relu(v):
        return v * (v > 0)

    def vjp(v, g):
        return g * np.where(v == 0, np.array([1.0, 0.0, 0.0]), v > 0)

    report = gradcli.check(relu, vjp=vjp, x=x, seed=3)
    assert report.ok, report.verdict.summary
    assert not report.laws
    assert len(report.kinks) == 2


def test_a_tied_max_pool_giving_every_maximum_the_gradient_fails_on_the_tie():
    x = np.array([[1.0, 3.0, 3.0, 0.0]])

    def pool(v):
        return v.max(-1)[0] if isinstance(v, torch.Tensor) else v.max(-1)

    def every(v, g):
        return (v == v.max(-1, keepdims=True)) * g[:, None]

    def first(v, g):
        out = np.zeros_like(v)
        out[0, v.argmax(-1)] = g
        return out

    wrong = gradcli.check(pool, vjp=every, x=x)
    assert not wrong.ok
    (law,) = [law for law in wrong.laws if law.backend == "yours"]
    assert law.max_violation == pytest.approx(abs(wrong.kinks[0].left + wrong.kinks[0].right))
    assert gradcli.check(pool, vjp=first, x=x).ok
