"""The op registry (gradcli/ops/) where mutmut found it untested: the helpers every rule
shares (summing a gradient back over broadcast axes, reduction axes, spreading a reduced
gradient back) and the work estimates, each against numbers worked out by hand."""

import numpy as np
import pytest
from click.testing import CliRunner

from gradcli.cli import cli
from gradcli.ops import REGISTRY
from gradcli.ops.record import (
    axes,
    elements,
    expand_back,
    index_key,
    transcendental,
    unbroadcast,
)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unbroadcast_sums_added_and_stretched_axes(dtype):
    g = np.arange(24, dtype=dtype).reshape(2, 3, 4) - 11.5  # negatives, no zero
    # (2, 3, 4) back to (3, 1): the leading axis added, the last one stretched from 1
    expected = [[g[:, r, :].sum()] for r in range(3)]
    out = unbroadcast(g, (3, 1))
    assert out.shape == (3, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert unbroadcast(g, ()).shape == ()
    assert float(unbroadcast(g, ())) == pytest.approx(float(g.sum()))
    assert unbroadcast(g, (2, 3, 4)) is g  # nothing to sum


def test_reduction_axes_count_negatives_from_the_end_and_refuse_repeats():
    assert axes(None, 3) == (0, 1, 2)
    assert axes((-1, 0), 3) == (0, 2)
    assert axes((0,), 0) == ()  # a 0-d tensor accepts dim 0 and −1, as in torch
    assert axes((-1,), 0) == ()
    with pytest.raises(ValueError, match=r"dim 3 is out of range for a 3-D tensor"):
        axes((3,), 3)
    with pytest.raises(ValueError, match=r"dim -4 is out of range for a 3-D tensor"):
        axes((-4,), 3)
    with pytest.raises(ValueError, match=r"dim 2 appears more than once in \(2, -1\)"):
        axes((2, -1), 3)


def test_expand_back_puts_the_reduced_axes_back_where_they_were():
    g = np.array([1.0, -2.0])  # the sum over axes 0 and 2 of a (3, 2, 4) tensor
    out = expand_back(g, (3, 2, 4), (0, 2), keepdim=False)
    assert out.shape == (3, 2, 4)
    np.testing.assert_array_equal(out[:, 0, :], 1.0)
    np.testing.assert_array_equal(out[:, 1, :], -2.0)
    kept = expand_back(g.reshape(1, 2, 1), (3, 2, 4), (0, 2), keepdim=True)
    np.testing.assert_array_equal(kept, out)


def test_work_estimates():
    # one element operation per element of the result or the largest argument
    assert elements([(3, 4), (4,)], (3, 4), ()) == 12
    assert elements([(2, 3, 4)], (2,), ()) == 24  # a reduction reads more than it writes
    assert transcendental([(5,)], (5,), ()) == 50  # 10 per exp
    matmul = REGISTRY["matmul"].cost
    # (64·32 outputs)·128 inner / 64 per element operation, plus the largest operand
    assert matmul([(64, 128), (128, 32)], (64, 32), ()) == 2048 * 128 // 64 + 8192
    assert matmul([(3,), (3,)], (), ()) == 0 + 3  # a dot product: 1·3 // 64 = 0


UNARY = ["identity", "neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu"]


@pytest.mark.parametrize("name", UNARY)
def test_a_complex_forward_at_real_points_is_the_real_forward(name):
    # the complex step reads Re f(x + ih) as f(x): at h = 0 each complex forward must give
    # the real function's value, its domain included (log: NaN below 0, −inf at 0)
    a = np.array([-1.5, -0.0, 0.0, 0.25, 2.0])
    with np.errstate(all="ignore"):  # as in engine.forward: log(−1.5) is NaN, silently
        real = REGISTRY[name].forward([a], ())
        as_complex = REGISTRY[name].forward([a.astype(complex)], ())
    # to the last ulps (numpy's complex tanh rounds differently), −inf and NaN exactly
    np.testing.assert_allclose(as_complex.real, real, rtol=4e-16, atol=0)
    assert not np.any(as_complex.imag[np.isfinite(real)])


def test_log_and_sqrt_at_zero_and_below():
    with np.errstate(all="ignore"):
        log = REGISTRY["log"].forward([np.array([-1.0, 0.0, 1.0], dtype=complex)], ())
        sqrt = REGISTRY["sqrt"].forward([np.array([-4.0, 0.0, 4.0], dtype=complex)], ())
    assert np.isnan(log[0])
    assert log[1].real == -np.inf
    assert log[2] == 0.0
    assert np.isnan(sqrt[0])
    assert sqrt[1] == 0.0
    assert sqrt[2] == 2.0


@pytest.mark.parametrize(
    ("statement", "value"),
    [
        ("y = max(a, dim=0)", "[]"),
        ("y = max(a)", "[]"),
        ("y = max(a, dim=1)", "[[], []]"),  # (2, 0): dim 0 would be fine, dim 1 is empty
    ],
)
def test_max_over_an_empty_dimension_is_refused_in_one_line(statement, value):
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        cli, ["graph", statement, "--var", f"a={value}"]
    )
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: statement 1 ('{statement}'): {statement[4:]}: max over an empty dimension "
        "has no value (torch refuses it too)\n"
    )


def test_max_over_a_non_empty_dimension_of_an_empty_tensor_is_empty():
    shape = REGISTRY["max"].shape([(2, 0)], ((0,), False))
    assert shape == (0,)


def test_dot_t_of_three_dims_is_refused_in_one_line():
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        cli, ["graph", "y = a.T", "--var", "a=[[[1, 2]]]"]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "Error: statement 1 ('y = a.T'): a.T: .T needs a tensor of at most 2 dims, got 3; "
        "use transpose()\n"
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_indexing_picks_the_elements_python_picks(dtype):
    # a[1::2, -1] of a 4×3 tensor: rows 1 and 3, last column; numpy and torch share the
    # key, so only known numbers catch a key built wrong
    key = (("slice", 1, None, 2), ("int", -1))
    assert index_key(key) == (slice(1, None, 2), -1)
    assert index_key((("slice", None, 3, None),)) == (slice(None, 3, None),)
    a = np.arange(1, 13, dtype=dtype).reshape(4, 3) - 6  # −5 … 6, a zero at [1, 2]
    index = REGISTRY["index"]
    np.testing.assert_array_equal(index.forward([a], (key,)), [0.0, 6.0])
    assert index.shape([(4, 3)], (key,)) == (2,)
    g = np.array([-2.0, 0.5], dtype=dtype)
    (grad,) = index.vjp(g, [a], index.forward([a], (key,)), (key,))
    expected = np.zeros((4, 3), dtype=dtype)
    expected[1, 2], expected[3, 2] = -2.0, 0.5
    np.testing.assert_array_equal(grad, expected)
    assert grad.dtype == dtype


@pytest.mark.parametrize(
    ("statement", "value", "reason"),
    [
        ("y = softmax(a, dim=0)", "2", "softmax needs a tensor of at least 1 dim"),
        ("y = softmax(a, dim=1)", "[1, 2]", "dim 1 is out of range for a 1-D tensor"),
        ("y = log_softmax(a, dim=-2)", "[1, 2]", "dim -2 is out of range for a 1-D tensor"),
        (
            "y = reshape(a, -2, -2)",
            "[1, 2, 3, 4]",
            "reshape to (-2, -2): only one -1, no other negative size",
        ),
        (
            "y = reshape(a, -1, -1)",
            "[1, 2, 3, 4]",
            "reshape to (-1, -1): only one -1, no other negative size",
        ),
    ],
)
def test_shape_rules_refuse_with_the_reason(statement, value, reason):
    # the shape rule refuses before any forward runs, and says why in one line
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        cli, ["graph", statement, "--var", f"a={value}"]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: statement 1 ('{statement}'): {statement[4:]}: {reason}\n"


def test_reshape_takes_numpys_64_dims_and_no_more():
    reshape = REGISTRY["reshape"].shape
    sixty_four = (2, *(1,) * 63)
    assert reshape([(2,)], (sixty_four,)) == sixty_four
    assert REGISTRY["reshape"].forward([np.array([-1.0, 0.0])], (sixty_four,)).ndim == 64
    with pytest.raises(ValueError, match=r"^reshape to 65 dims: at most 64$"):
        reshape([(2,)], ((2, *(1,) * 64),))


def test_complex_pow_at_real_points_is_the_real_pow():
    # bases below, at and above 0 (−0.0 too) and exponents integer, fractional, negative
    # and 0: NaN only where the real power is NaN (a negative base, a fractional exponent)
    a = np.array([-2.0, -2.0, -2.0, 0.0, -0.0, 0.0, 0.0, 0.0, 0.5, 2.0])
    b = np.array([2.0, 0.5, -1.0, 0.5, 0.5, 2.0, 0.0, 3.0, -1.5, 0.5])
    power = REGISTRY["pow"].forward
    with np.errstate(all="ignore"):
        real = power([a, b], ())
        as_complex = power([a.astype(complex), b.astype(complex)], ())
    np.testing.assert_array_equal(np.isnan(real), [0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(as_complex.real, real, rtol=4e-16, atol=0)
    np.testing.assert_array_equal(as_complex.imag[~np.isnan(real)], 0.0)
