"""The backends against closed forms, against known numbers and against each other."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gradcli.backends import analytic, autograd, finite_diff

# softmax(3, 1, -3) by hand: e^0, e^-2, e^-6 over their sum.
E = np.exp([0.0, -2.0, -6.0])
S_3_1_M3 = E / E.sum()


def test_softmax_of_the_worked_example():
    s = analytic.softmax(np.array([3.0, 1.0, -3.0]))
    np.testing.assert_allclose(s, S_3_1_M3, rtol=1e-15)
    np.testing.assert_allclose(s, [0.8789, 0.1189, 0.0022], atol=5e-5)


def test_jacobian_of_two_logits_is_s0_s1_times_the_difference_pattern():
    # For n = 2, J = s0·s1·[[1, −1], [−1, 1]].
    s = analytic.softmax(np.array([0.5, -1.0]))
    expected = s[0] * s[1] * np.array([[1.0, -1.0], [-1.0, 1.0]])
    np.testing.assert_allclose(analytic.softmax_jacobian(s), expected, rtol=1e-15)


def test_jacobian_entries_follow_s_i_delta_minus_s_j():
    s = S_3_1_M3
    jac = analytic.softmax_jacobian(s)
    assert jac[0, 0] == pytest.approx(s[0] * (1 - s[0]), rel=1e-14)
    assert jac[0, 1] == pytest.approx(-s[0] * s[1], rel=1e-14)
    assert jac[2, 1] == pytest.approx(-s[2] * s[1], rel=1e-14)


def test_temperature_divides_the_logits_and_the_jacobian():
    z = np.array([3.0, 1.0, -3.0])
    s = analytic.softmax(z, 2.0)
    np.testing.assert_allclose(s, analytic.softmax(z / 2.0), rtol=1e-15)
    np.testing.assert_allclose(
        analytic.softmax_jacobian(s, 2.0), analytic.softmax_jacobian(s) / 2.0, rtol=1e-15
    )


def test_large_logits_do_not_overflow_and_equal_the_shifted_ones():
    s = analytic.softmax(np.array([1000.0, 1001.0, 1002.0]))
    np.testing.assert_allclose(s, analytic.softmax(np.array([0.0, 1.0, 2.0])), rtol=1e-15)
    assert np.isfinite(s).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backends_keep_the_dtype(dtype):
    z = np.array([3.0, 1.0, -3.0], dtype=dtype)
    s, jac = autograd.softmax_and_jacobian(z)
    assert s.dtype == dtype
    assert jac.dtype == dtype
    assert analytic.softmax_jacobian(analytic.softmax(z)).dtype == dtype


def test_torch_jacobian_is_autograd_of_torch_softmax():
    torch = pytest.importorskip("torch")
    z = np.array([0.3, -1.2, 2.0, 0.0])
    _, jac = autograd.softmax_and_jacobian(z, 0.7)
    expected = torch.autograd.functional.jacobian(
        lambda t: torch.softmax(t / 0.7, dim=0), torch.tensor(z)
    )
    np.testing.assert_allclose(jac, expected.numpy(), rtol=1e-13, atol=1e-16)


def test_torch_jacobian_spans_several_row_blocks(monkeypatch):
    monkeypatch.setattr(autograd, "ROWS_PER_BLOCK", 3)
    z = np.linspace(-2, 2, 10)
    _, jac = autograd.softmax_and_jacobian(z)
    np.testing.assert_allclose(jac, analytic.softmax_jacobian(analytic.softmax(z)), atol=1e-16)


def test_cube_root_step():
    step = finite_diff.cube_root_step(np.array([0.0, 0.5, -1000.0]))
    eps_cbrt = np.finfo(np.float64).eps ** (1 / 3)
    np.testing.assert_allclose(step, [eps_cbrt, eps_cbrt, 1000 * eps_cbrt], rtol=1e-12)


logits = arrays(
    np.float64,
    st.integers(1, 12),
    elements=st.floats(-50, 50, allow_nan=False, allow_infinity=False),
)


@given(logits, st.sampled_from([0.25, 1.0, 4.0]))
def test_rows_of_the_jacobian_sum_to_zero_and_it_is_symmetric(z, temperature):
    jac = analytic.softmax_jacobian(analytic.softmax(z, temperature), temperature)
    np.testing.assert_allclose(jac.sum(axis=1), 0.0, atol=1e-15 / temperature)
    np.testing.assert_array_equal(jac, jac.T)


@given(logits, st.floats(-1e6, 1e6))
def test_softmax_ignores_shifts(z, shift):
    np.testing.assert_allclose(
        analytic.softmax(z + shift), analytic.softmax(z), rtol=1e-9, atol=1e-300
    )


@given(logits, st.sampled_from([np.float64, np.float32]))
def test_numpy_and_torch_agree(z, dtype):
    z = z.astype(dtype)
    s_np = analytic.softmax(z)
    s_t, jac_t = autograd.softmax_and_jacobian(z)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(s_t, s_np, rtol=tol, atol=tol)
    np.testing.assert_allclose(jac_t, analytic.softmax_jacobian(s_np), rtol=tol, atol=tol)
