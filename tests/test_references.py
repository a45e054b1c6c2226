"""The references know their own error: the exact derivative lies within it, kinks and
infinite derivatives are named, and the complex step is accurate to a few ulp."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcli import references

# (name, f, f', points): steep, shifted, tiny and huge arguments
SMOOTH = [
    ("exp(1000a)", lambda a: np.exp(1000 * a), lambda a: 1000 * np.exp(1000 * a), [0.001, -0.002]),
    ("sin(1000a)", lambda a: np.sin(1000 * a), lambda a: 1000 * np.cos(1000 * a), [0.3, 1.7]),
    ("a³ shifted", lambda a: (a - 1e4) ** 3, lambda a: 3 * (a - 1e4) ** 2, [1e4 + 0.5, 1e4 - 2]),
    ("tiny a²", lambda a: a * a, lambda a: 2 * a, [1e-8, -3e-9]),
    ("huge log", np.log, lambda a: 1 / a, [1e12, 3e15]),
    ("tanh", np.tanh, lambda a: 1 / np.cosh(a) ** 2, [0.0, 2.5, -7.0]),  # 1 − tanh² cancels
]


@pytest.mark.parametrize(("name", "f", "df", "points"), SMOOTH, ids=[s[0] for s in SMOOTH])
def test_richardson_holds_the_exact_derivative_within_its_error(name, f, df, points):
    x = np.array(points)
    d = references.central_differences(f, x)
    exact = np.diag(df(x))
    error = d.error.dense()
    assert d.kinks == []
    assert np.all(np.abs(d.value - exact) <= error)
    # and the estimate is useful: within 1e-6 of the derivative's size
    assert np.all(np.diag(error) <= 1e-6 * np.abs(np.diag(exact)) + 1e-9)


@pytest.mark.parametrize(("name", "f", "df", "points"), SMOOTH, ids=[s[0] for s in SMOOTH])
def test_complex_step_is_accurate_to_a_few_ulp(name, f, df, points):
    x = np.array(points)
    d = references.complex_step(f, x)
    exact = df(x)
    assert np.diag(d.value) == pytest.approx(exact, rel=1e-13, abs=1e-300)
    assert np.all(np.abs(np.diag(d.value) - exact) <= np.diag(d.error.dense()))


def test_relu_at_zero_is_a_kink_with_slopes_zero_and_one():
    d = references.central_differences(lambda a: np.maximum(a, 0), np.array([0.0, 1.0, -1.0]))
    assert d.kinks == [references.Kink(0, 0, 0.0, 1.0)]
    assert np.diag(d.value)[1:] == pytest.approx([1.0, 0.0])


def test_abs_at_zero_and_max_at_a_tie_are_kinks():
    d = references.central_differences(np.abs, np.array([0.0, 2.0]))
    (kink,) = d.kinks
    assert (kink.i, kink.j, kink.low, kink.high) == (0, 0, pytest.approx(-1.0), pytest.approx(1.0))
    tie = references.central_differences(lambda v: np.max(v, keepdims=True), np.array([3.0, 3.0]))
    assert [(k.j, k.low, k.high) for k in tie.kinks] == [
        (0, pytest.approx(0.0), pytest.approx(1.0)),
        (1, pytest.approx(0.0), pytest.approx(1.0)),
    ]


def test_sqrt_at_zero_is_an_infinite_derivative():
    d = references.central_differences(np.sqrt, np.array([0.0, 4.0]))
    (kink,) = d.kinks
    assert kink.infinite
    assert (kink.i, kink.j) == (0, 0)
    assert kink.right > 100
    assert kink.left == -np.inf
    assert d.value[1, 1] == pytest.approx(0.25, rel=1e-10)


def test_a_smooth_function_with_curvature_has_no_kink():
    d = references.central_differences(lambda a: np.exp(a) * a**2, np.array([0.0, -1.0, 3.0]))
    assert d.kinks == []


def test_cheap_error_is_the_rounding_bound_of_its_step():
    x = np.array([0.5, -2.0])
    d = references.Differentiator(lambda rows: np.sin(rows), x)
    cheap = d.cheap()
    h = references.CHEAP_STEP_FRACTION * references.CBRT_EPS * np.maximum(1, np.abs(x))
    width = (x + h) - (x - h)
    expected = 2 * references.ROUNDING * references.EPS * np.abs(np.sin(x)).max() / width
    assert np.diag(cheap.error.dense()) == pytest.approx(expected)
    assert np.diag(cheap.value) == pytest.approx(np.cos(x), abs=1e-9)


def test_refinement_replaces_only_the_columns_asked_for():
    x = np.array([0.001, 0.002])
    f = lambda rows: np.exp(1000 * rows)  # noqa: E731
    d = references.Differentiator(f, x)
    derivative = d.cheap()
    before = derivative.value[:, 1].copy()
    d.complex_step(derivative, [0])
    assert derivative.value[0, 0] == pytest.approx(1000 * np.exp(1.0), rel=1e-14)
    assert (derivative.value[:, 1] == before).all()
    assert list(derivative.error.refined) == [0]
    assert derivative.methods_used == {"cheap": 2, "complex step": 1}


@given(
    st.floats(-50, 50),
    st.floats(0.01, 100),
    st.sampled_from([np.sin, np.exp, np.tanh, np.arctan]),
)
def test_the_error_estimate_covers_the_exact_derivative(a, scale, f):
    """Any point, any steepness: |Richardson − f'| ≤ its own estimate."""
    x = np.array([a / scale])
    d = references.central_differences(lambda v: f(scale * v), x)
    exact = complex_derivative(lambda v: f(scale * v), x[0])
    assert abs(d.value[0, 0] - exact) <= d.error.dense()[0, 0] + 1e-300


def complex_derivative(f, x):
    return float(np.imag(f(np.array([x + 1e-30j]))[0]) / 1e-30)


def test_the_largest_error_is_over_cheap_and_refined_columns_alike():
    error = references.ErrorEstimate(np.array([1.0, 3.0]), np.array([2.0, 5.0, 0.5]))
    assert error.max() == 15.0  # rows[1]·cols[1]
    error.refined[1] = np.array([0.1, 0.2])  # column 1 refined: its cheap bound is gone
    assert error.max() == 6.0  # rows[1]·cols[0]
    error.refined[0] = np.array([7.0, 0.0])
    assert error.max() == 7.0
    assert error.dense().tolist() == [[7.0, 0.1, 0.5], [0.0, 0.2, 1.5]]
    assert references.ErrorEstimate(np.zeros(0), np.zeros(0)).max() == 0.0


def test_one_sided_slopes_differ_only_at_a_kink():
    x = np.array([0.0, 0.3, -2.0])
    d = references.Differentiator(lambda rows: np.abs(rows) + np.sin(rows), x)
    left, right = d.one_sided(0)  # |x| + sin x at 0: slopes -1 + 1 and 1 + 1
    assert left[0] == pytest.approx(0.0, abs=1e-7)
    assert right[0] == pytest.approx(2.0, abs=1e-7)
    assert (left[1:] == 0).all()  # outputs that x_0 does not reach
    assert (right[1:] == 0).all()
    for j, slope in ((1, 1 + np.cos(0.3)), (2, -1 + np.cos(-2.0))):
        left, right = d.one_sided(j)
        assert left[j] == pytest.approx(slope, rel=1e-7)  # extrapolated: O(h²), h ≈ 6e-6
        assert right[j] == pytest.approx(slope, rel=1e-7)
