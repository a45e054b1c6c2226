"""The hand-derived formulas (gradcli/backends/analytic.py) where mutmut found them
untested: rows of very different scale, s_t at or past 0 (the finite-difference steps of
∂L/∂s go there), leading batch dimensions (fd evaluates a stack of perturbed layers in
one call) and the caller's output buffer. Each number is worked out by hand or by a
loop over the rows, independently of the vectorised formula."""

import math
import warnings

import numpy as np
import pytest

from gradcli.backends import analytic

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 2e-6, np.float64: 1e-14}

# log_softmax([0, 1, −1]) = x − log(1 + e + 1/e); a row shifted by 1000 has the same values
LOG_NORMALISER = math.log(1 + math.e + 1 / math.e)
LOG_SOFTMAX_0_1_M1 = [-LOG_NORMALISER, 1 - LOG_NORMALISER, -1 - LOG_NORMALISER]


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_shifts_each_row_by_its_own_maximum(dtype):
    # one shift for the whole batch (its largest entry, 1001) would send exp of the first
    # row to 0 and its logs to −inf
    z = np.array([[0.0, 1.0, -1.0], [1000.0, 1001.0, 999.0]], dtype=dtype)
    out = analytic.log_softmax(z)
    assert out.dtype == dtype
    np.testing.assert_allclose(out[0], LOG_SOFTMAX_0_1_M1, rtol=RTOL[dtype])
    np.testing.assert_allclose(out[1], LOG_SOFTMAX_0_1_M1, rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_of_rows_a_thousand_apart(dtype):
    # L = −(log s[0, 1] + log s[1, 2]) / 2, each row on its own
    z = np.array([[0.0, 1.0, -1.0], [1000.0, 1001.0, 999.0]], dtype=dtype)
    target = np.array([1, 2])
    loss = analytic.loss("ce", z, analytic.softmax(z), target)
    expected = -(LOG_SOFTMAX_0_1_M1[1] + LOG_SOFTMAX_0_1_M1[2]) / 2
    assert float(loss) == pytest.approx(expected, rel=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_of_s_is_inf_at_s_t_zero_without_a_warning(dtype):
    # s[0, t] = 0 (underflowed): −log 0 = inf, silently (the suite turns warnings into
    # errors; the CLI must not print numpy's "divide by zero" either)
    s = np.array([[0.0, 1.0], [0.25, 0.75]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = analytic.loss_from_s("ce", s, np.array([0, 1]))
        grad = analytic.loss_grad_s("ce", s, np.array([0, 1]))
    assert loss == np.inf
    # ∂L/∂s[r, k] = −[k = t_r] / (B s[r, k]): −inf at the zero, −1/(2·0.75) at row 1
    np.testing.assert_array_equal(grad, np.array([[-np.inf, 0.0], [0.0, -2 / 3]], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_of_s_is_nan_past_zero_without_a_warning(dtype):
    # a central difference at s_t = 1e-9 steps to s_t − h < 0: log of a negative is NaN
    s = np.array([[-1e-3, 1.0], [0.25, 0.75]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = analytic.loss_from_s("ce", s, np.array([0, 1]))
    assert np.isnan(loss)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["mse", "sum", "output"])
def test_loss_of_s_alone_is_the_loss_for_every_kind_but_ce(kind, dtype):
    s = np.array([[0.5, 0.25, 0.25], [0.0, 0.0, 1.0]], dtype=dtype)
    target = {"mse": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=dtype)}.get(
        kind, np.array(2)
    )
    # mse: (0.25 + 0.0625 + 0.0625 + 0 + 0 + 0) / 6;  sum: 2 / 2;  output: (0.25 + 1) / 2
    expected = {"mse": 0.375 / 6, "sum": 1.0, "output": 0.625}[kind]
    assert float(analytic.loss_from_s(kind, s, target)) == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mse_gradient_divides_by_the_outputs_not_by_a_leading_axis(dtype):
    # a stack of 2 layers, each B = 3 rows of 4 outputs: ∂L/∂s = 2(s − y)/(3·4), per layer
    s = np.arange(24, dtype=dtype).reshape(2, 3, 4) / 24
    y = np.zeros_like(s)
    grad = analytic.loss_grad_s("mse", s, y)
    np.testing.assert_allclose(grad, 2 * s / 12, rtol=RTOL[dtype])
    for layer in range(2):  # each layer alone gives the same
        np.testing.assert_array_equal(grad[layer], analytic.loss_grad_s("mse", s[layer], y[0]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_vjp_on_a_stack_of_layers_is_each_layer_alone(dtype):
    # dW_ij = Σ_r g[r, i]·x[r, j], written as a loop; a stack (2, B, ·) of layers gives
    # each layer's own dW, db, dx
    rng = np.random.default_rng(5)
    g = rng.normal(size=(2, 3, 4)).astype(dtype)  # (stack, B = 3, out = 4)
    x = rng.normal(size=(2, 3, 5)).astype(dtype)  # (stack, B, in = 5)
    w = rng.normal(size=(2, 4, 5)).astype(dtype)  # (stack, out, in)
    dw, db, dx = analytic.linear_vjp(g, w, x)
    assert dw.shape == (2, 4, 5)
    for k in range(2):
        by_loop = [
            [sum(float(g[k, r, i]) * float(x[k, r, j]) for r in range(3)) for j in range(5)]
            for i in range(4)
        ]
        np.testing.assert_allclose(dw[k], by_loop, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(db[k], g[k].sum(axis=0), rtol=RTOL[dtype])
        np.testing.assert_allclose(dx[k], g[k] @ w[k], rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_jacobian_writes_into_the_buffer_it_is_given(dtype):
    # the n = 4096 path passes its own n×n buffer so that no second one is allocated
    s = analytic.softmax(np.array([3.0, 1.0, -3.0, 1.0], dtype=dtype))
    buffer = np.full((4, 4), np.nan, dtype=dtype)
    jac = analytic.softmax_jacobian(s, out=buffer)
    assert jac is buffer
    # dS_i/dz_j = S_i(δ_ij − S_j); entries 1 and 3 are a tie
    expected = np.diag(s) - np.outer(s, s)
    np.testing.assert_allclose(buffer, expected, rtol=RTOL[dtype], atol=1e-12)
    assert buffer[1, 1] == buffer[3, 3]
