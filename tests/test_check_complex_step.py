"""`gradcli check`'s complex-step reference (issue 12): a numpy forward that carries
complex input refines the fd reference by Im f(x + ih)/h, accurate to a few ulp; a
forward that drops the imaginary part (abs, `.real`, a real result) or raises on
complex input is probed once and refines by Richardson as before."""

import json

import numpy as np
import pytest

import gradcli
from gradcli import references
from gradcli.commands.check.analytic import carries_the_complex_step


def columns(report):
    """The refinement methods each fd reference used, merged over the quantities."""
    used = {}
    for ref in json.loads(report.to_json())["references"]:
        for method, count in ref["columns"].items():
            used[method] = used.get(method, 0) + count
    return used


def very_steep(x):
    return np.sin(1e5 * x)


def very_steep_grad(x):
    return 1e5 * np.cos(1e5 * x)


X_STEEP = np.array([0.0013, -0.0021, 0.0034, 0.00071])


def test_a_very_steep_correct_derivative_passes_thanks_to_the_complex_step():
    report = gradcli.check(very_steep, grad=very_steep_grad, x=X_STEEP, backends=["fd"])
    assert report.ok, report.verdict.summary
    assert columns(report) == {"cheap": 4, "complex step": 4}
    (complex_ref,) = json.loads(report.to_json())["references"]
    assert complex_ref["max_error"] < 1e-14 * 1e5  # a few ulp of |J| ≤ 1e5

    # the same forward with the imaginary part dropped: fd alone, Richardson, which
    # resolves sin(1e5·x) only at 1/64 of its step (about 1e-9 of the derivative),
    # 1e4 times less precise than the complex step
    alone = gradcli.check(
        lambda x: very_steep(np.real(x)), grad=very_steep_grad, x=X_STEEP, backends=["fd"]
    )
    assert columns(alone) == {"cheap": 4, "richardson": 4}
    (ref,) = json.loads(alone.to_json())["references"]
    assert 1e-10 * 1e5 < ref["max_error"] < 1e-8 * 1e5
    assert ref["max_error"] > 1e4 * complex_ref["max_error"]


def test_a_very_steep_derivative_off_by_1e_8_fails_at_the_default_tolerance():
    report = gradcli.check(
        very_steep, grad=lambda x: (1 + 1e-8) * very_steep_grad(x), x=X_STEEP, backends=["fd"]
    )
    assert not report.ok
    assert "yours" in report.verdict.summary
    assert any("wrong by a constant factor 1 + 1e-08" in d for d in report.verdict.details)


def shifted(x):
    return np.sin(1000 * (x - 100))


def shifted_grad(x):
    return 1000 * np.cos(1000 * (x - 100))


X_SHIFTED = 100 + np.array([0.0013, -0.0021, 0.0034, 0.00071])
TIGHT = {"rtol": 1e-12, "atol": 0.0}


@pytest.mark.parametrize("entry", [0, 3])
def test_a_planted_1e_9_relative_error_is_caught_in_float64(entry):
    def planted(x):
        g = shifted_grad(x)
        g[entry] *= 1 + 1e-9
        return g

    right = gradcli.check(shifted, grad=shifted_grad, x=X_SHIFTED, backends=["fd"], **TIGHT)
    assert right.ok, right.verdict.summary
    wrong = gradcli.check(shifted, grad=planted, x=X_SHIFTED, backends=["fd"], **TIGHT)
    assert not wrong.ok
    assert "complex step" in columns(wrong)
    (failing,) = [c for c in wrong.comparisons if not c.ok]
    assert failing.worst_index == (entry,)
    assert failing.max_rel_error == pytest.approx(1e-9, rel=1e-3)
    # without the complex step the reference's own error (1e-2 relative) hides it
    alone = gradcli.check(
        lambda x: shifted(np.real(x)), grad=planted, x=X_SHIFTED, backends=["fd"], **TIGHT
    )
    assert alone.ok
    assert "complex step" not in columns(alone)


def test_a_steep_jacobian_with_torch_and_the_complex_step():
    """y = tanh(A·(x + 1000)/1e-3): fd's step at x = 1000 is six times the scale over
    which f varies, so Richardson's saturated differences are wrong; the complex step
    is exact, and a planted 1e-3 error in one entry is found where it is."""
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, -2.0], [0.5, 1.0]])

    def forward(x):
        if isinstance(x, torch.Tensor):
            return torch.tanh(torch.from_numpy(a) @ (x + 1000) / 1e-3)
        return np.tanh(a @ (x + 1000) / 1e-3)

    def jacobian(x):
        return (1 - forward(x) ** 2)[:, None] * a / 1e-3

    def wrong(x):
        jac = jacobian(x)
        jac[1, 0] *= 1.001
        return jac

    x = -1000 + 1e-3 * np.array([0.3, 0.1])
    for backends in (["fd"], ["torch", "fd"]):
        right = gradcli.check(forward, jacobian=jacobian, x=x, backends=backends)
        assert right.ok, right.verdict.summary
        assert columns(right)["complex step"] == 2
        bad = gradcli.check(forward, jacobian=wrong, x=x, backends=backends)
        assert not bad.ok
        assert all(c.worst_index == (1, 0) for c in bad.comparisons if not c.ok)


# --- the probe: forwards that must not be trusted with the complex step ---------------


def x_abs_x(x):
    return x * np.abs(x)  # complex in, complex out, but Im over h is |x|·u, not 2|x|·u


def sin_plus_abs(x):
    return np.sin(x) + np.abs(x)  # abs's part of the derivative is dropped


def abs_cubed(x):
    return np.abs(x) ** 3  # a real result: the imaginary part is gone


def real_part(x):
    return np.exp(np.real(x))


def refuses_complex(x):
    if np.iscomplexobj(x):
        raise TypeError("real input only")
    return np.exp(x)


X_PROBE = np.array([0.7, -1.3, 2.1, -0.4])


@pytest.mark.parametrize("forward", [x_abs_x, sin_plus_abs, abs_cubed, real_part, refuses_complex])
def test_the_probe_refuses_a_forward_that_does_not_carry_the_complex_step(forward):
    step = references.CBRT_EPS * np.maximum(1.0, np.abs(X_PROBE))
    f_rows = references.rows_of(forward, X_PROBE.shape)
    assert not carries_the_complex_step(f_rows, X_PROBE, step)


@pytest.mark.parametrize("forward", [np.exp, np.tanh, lambda x: np.sin(x) * x**3 / (1 + x**2)])
def test_the_probe_accepts_an_analytic_forward(forward):
    step = references.CBRT_EPS * np.maximum(1.0, np.abs(X_PROBE))
    f_rows = references.rows_of(forward, X_PROBE.shape)
    assert carries_the_complex_step(f_rows, X_PROBE, step)


def test_relu_is_trusted_away_from_its_kink_and_refused_at_it():
    """numpy orders complex numbers lexicographically, so max(x + ih, 0) takes the
    branch of x: right away from 0; at 0 the complex step says 1 or 0 by the sign of
    the direction, central differences 1/2, and the probe refuses."""
    relu = lambda x: np.maximum(x, 0)  # noqa: E731
    f_rows = references.rows_of(relu, X_PROBE.shape)
    step = references.CBRT_EPS * np.maximum(1.0, np.abs(X_PROBE))
    assert carries_the_complex_step(f_rows, X_PROBE, step)
    at_kink = np.array([0.7, 0.0, 2.1, -0.4])
    assert not carries_the_complex_step(f_rows, at_kink, step)


def test_a_non_analytic_forward_is_checked_by_richardson_not_the_complex_step():
    right = gradcli.check(x_abs_x, grad=lambda x: 2 * np.abs(x), x=X_PROBE, backends=["fd"])
    assert right.ok, right.verdict.summary
    assert "complex step" not in columns(right)
    # what the complex step would have said (|x|) is wrong, and is called wrong
    trap = gradcli.check(x_abs_x, grad=np.abs, x=X_PROBE, backends=["fd"])
    assert not trap.ok
    assert "complex step" not in columns(trap)


def test_a_forward_that_raises_on_complex_input_is_checked_as_before():
    report = gradcli.check(refuses_complex, grad=np.exp, x=X_PROBE, backends=["fd"])
    assert report.ok, report.verdict.summary
    assert "complex step" not in columns(report)
