"""The softmax problem end to end in the library: verdicts, laws, planted errors."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gradcli.backends import analytic, autograd
from gradcli.commands.softmax import problem
from gradcli.errors import InputError
from gradcli.spec import RunOptions, SoftmaxSpec


def run(z, temperature=1.0, **options):
    return problem.run(SoftmaxSpec(np.asarray(z, dtype=float), temperature, RunOptions(**options)))


def test_worked_example_agrees_and_reports_known_values():
    report = run([3, 1, -3])
    assert report.ok
    for name in ("numpy", "torch", "fd"):
        np.testing.assert_allclose(
            report.results[name].arrays["softmax"], [0.87887824, 0.11894324, 0.00217852], atol=1e-8
        )
    assert [c.backends for c in report.comparisons] == [
        ("numpy", "torch"),
        ("numpy", "fd"),
        ("torch", "fd"),
    ] * 2
    assert len(report.laws) == 9
    assert all(law.ok for law in report.laws)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "z",
    [[1000, 1001, 1002], [-1e4, 0, 1e4], [0] * 50, [1e6 + 0.5, 1e6, 1e6 - 0.5], [0] + [-40] * 999],
)
def test_no_false_alarm_on_extreme_inputs(z, dtype):
    for temperature in (1e-3, 1.0, 3.0, 1e3):
        report = run(z, temperature, dtype=dtype)
        assert report.ok, report.verdict.details


finite_logits = arrays(
    np.float64,
    st.integers(1, 40),
    elements=st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
)


@given(finite_logits, st.sampled_from(["float64", "float32"]), st.floats(1e-2, 1e2))
def test_backends_agree_on_random_inputs(z, dtype, temperature):
    report = run(z, temperature, dtype=dtype)
    assert report.ok, report.verdict.details


def forgot_off_diagonal(s, temperature=1.0, out=None):
    return np.diag(s * (1 - s)) / temperature


def wrong_sign(s, temperature=1.0, out=None):
    return (np.diag(s) + np.outer(s, s)) / temperature


def factor_1001(s, temperature=1.0, out=None):
    return 1.001 * (np.diag(s) - np.outer(s, s)) / temperature


def forgot_temperature(s, temperature=1.0, out=None):
    return np.diag(s) - np.outer(s, s)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "wrong", [forgot_off_diagonal, wrong_sign, factor_1001, forgot_temperature]
)
def test_a_wrong_formula_is_caught_and_named(monkeypatch, wrong, dtype):
    monkeypatch.setattr(analytic, "softmax_jacobian", wrong)
    report = run([3, 1, -3], 2.0, dtype=dtype)
    assert not report.ok
    assert "DISAGREE: J: torch and fd agree, numpy differs in " in report.verdict.summary


def test_a_wrong_autograd_forward_is_caught_and_named(monkeypatch):
    # A torch forward that forgets the temperature: autograd differentiates it faithfully.
    right = autograd._softmax
    monkeypatch.setattr(autograd, "_softmax", lambda z, t: right(z, 1.0))
    report = run([3, 1, -3], 2.0)
    assert not report.ok
    details = " ".join(report.verdict.details)
    assert "s: numpy and fd agree, torch differs in 3 of 3 entries" in details
    assert "J: numpy and fd agree, torch differs in 9 of 9 entries" in details


def test_an_asymmetric_jacobian_breaks_a_law(monkeypatch):
    monkeypatch.setattr(
        analytic, "softmax_jacobian", lambda s, t=1.0, out=None: np.diag(s) - np.outer(s, s**0.5)
    )
    report = run([3, 1, -3], backends=("numpy",))
    broken = {law.law for law in report.laws if not law.ok}
    assert "J symmetric" in broken
    assert not report.ok


def test_non_finite_results_are_never_ok(monkeypatch):
    monkeypatch.setattr(
        analytic, "softmax_jacobian", lambda s, t=1.0, out=None: np.full((s.size, s.size), np.nan)
    )
    report = run([3, 1, -3], backends=("numpy",))
    assert not report.ok
    assert report.non_finite[0].backend == "numpy"
    assert report.verdict.summary == "DISAGREE: J: 9 elements not finite on numpy, first at [0, 0]"


def test_one_backend_checks_only_laws():
    report = run([3, 1, -3], backends=("numpy",))
    assert report.ok
    assert report.comparisons == ()
    assert "only numpy ran" in report.verdict.summary


def test_fd_uses_the_float64_shadow_of_float32_inputs():
    report = run([0.1, 0.2], dtype="float32")
    z32 = np.array([0.1, 0.2], dtype=np.float32).astype(np.float64)
    np.testing.assert_allclose(
        report.results["fd"].arrays["softmax"], analytic.softmax(z32), rtol=1e-15
    )
    assert report.results["fd"].arrays["jacobian"].dtype == np.float64
    assert report.results["numpy"].arrays["jacobian"].dtype == np.float32


def test_n_4096_works_with_dense_jacobians():
    z = np.random.default_rng(0).normal(size=4096)
    report = run(z, backends=("numpy", "fd"))
    assert report.ok
    assert report.results["fd"].arrays["jacobian"].shape == (4096, 4096)


@pytest.mark.parametrize(
    ("z", "temperature", "message"),
    [
        (
            np.zeros(200_000),
            1.0,
            "z has 200000 elements: a dense 200000×200000 Jacobian takes 298 GiB",
        ),
        ([1.0, 2.0], 0.0, "--temperature 0: must lie in [1e-08, 1e+08]"),
        ([1.0, 2.0], 1e9, "--temperature 1e+09: must lie in [1e-08, 1e+08]"),
        ([1.7e308, -1.7e308], 1.0, "max(z) − min(z) overflows float64"),
        ([], 1.0, "z must be a non-empty vector"),
    ],
)
def test_refusals(z, temperature, message):
    with pytest.raises(InputError, match=re.escape(message)):
        run(z, temperature)
