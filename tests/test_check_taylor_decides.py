"""`check --taylor` decides where only fd differs (issue 12, item 7): a right derivative
whose remainder falls as h² is OK although the fd reference, inconclusive, disagrees;
a wrong one (rate 1) still fails. The forward drops the imaginary part (`np.real`), so
no complex step can rescue fd: sin(1e5·x) varies over 1e-5, below fd's steps."""

import numpy as np
import pytest

import gradcli

torch = pytest.importorskip("torch")

K = 1e5


def wave(x):
    if isinstance(x, torch.Tensor):
        return torch.sin(K * x)
    return np.sin(K * np.real(x))  # real only: fd refines by Richardson, not the complex step


def wave_grad(x):
    return K * np.cos(K * x)


X = np.array([0.0013, -0.0021, 0.0034, 0.00071])  # where fd's Richardson is far off


def rates(report):
    return [law.rate for law in report.laws]


STEEP = 3e6  # sin(1e5·x) fd resolves at a step 64 times smaller; sin(3e6·x) at none


def steep(x):
    if isinstance(x, torch.Tensor):
        return torch.sin(STEEP * x)
    return np.sin(STEEP * np.real(x))


def steep_grad(x):
    return STEEP * np.cos(STEEP * x)


@pytest.mark.parametrize("backends", [["fd"], ["torch", "fd"]])
def test_fd_resolves_the_wave_at_a_smaller_step(backends):
    """sin(1e5·x)'s one-sided slopes grow as the step halves, as an infinite derivative's
    do; at 1/64 of the step fd's column is clean and within 1e-9 of max|K·cos(K·x)|."""
    report = gradcli.check(wave, grad=wave_grad, x=X, backends=backends)
    assert report.ok
    assert not report.kinks
    (fd,) = (c for c in report.comparisons if c.backends == ("yours", "fd"))
    assert fd.max_abs_error < 1e-9 * np.max(np.abs(wave_grad(X)))


@pytest.mark.parametrize("backends", [["fd"], ["torch", "fd"]])
def test_a_right_derivative_that_only_fd_calls_wrong_passes_by_the_taylor_test(backends):
    wave, wave_grad = steep, steep_grad  # this test's own, steeper wave
    plain = gradcli.check(wave, grad=wave_grad, x=X, backends=backends)
    failing = [c for c in plain.comparisons if not c.ok]
    # the premise: fd alone is inconclusive here, and only fd differs
    assert not plain.ok
    assert failing
    assert all("fd" in c.backends for c in failing)
    assert all(c.ok for c in plain.comparisons if "fd" not in c.backends)

    report = gradcli.check(wave, grad=wave_grad, x=X, backends=backends, taylor=True)
    assert report.ok
    assert report.verdict.summary == "OK: the Taylor test passes in every trial"
    assert len(report.laws) == 1
    assert all(abs(r - 2.0) < 0.1 for r in rates(report)), rates(report)
    assert any("the Taylor test decides" in d for d in report.verdict.details)
    assert report.verdict.excused() is not None
    assert report.verdict.excused().rule == "taylor"


@pytest.mark.parametrize("factor", [1.001, 1 - 1e-4])
@pytest.mark.parametrize("backends", [["fd"], ["torch", "fd"]])
def test_a_wrong_derivative_fails_with_a_taylor_rate_near_1(factor, backends):
    """The h² term of a function this steep still exceeds h·|D − D_true| at 6e-8 of the
    inputs' scale: the steps go on until the remainder is rounding, where h wins."""
    report = gradcli.check(
        wave, grad=lambda x: factor * wave_grad(x), x=X, backends=backends, taylor=True
    )
    assert not report.ok
    assert not all(law.ok for law in report.laws)
    assert min(rates(report)) < 1.3, rates(report)
    assert not any("the Taylor test decides" in n for n in report.notes)
    assert "yours" in report.verdict.summary or "DISAGREE" in report.verdict.summary


def test_an_ordinary_function_keeps_its_24_steps(monkeypatch):
    """Halving goes on only while the remainder is above rounding: sin(x) sinks into
    rounding within the 24 steps, so each trial takes 24 steps. (A passing trial's steps
    are not shown, so they are counted where the test makes them.)"""
    from gradcli.commands.check import taylor

    made = []

    def counted(*args):
        law, lines = original(*args)
        made.append(sum(line.startswith("h = ") for line in lines))
        return law, lines

    original = taylor.taylor_test
    monkeypatch.setattr(taylor, "taylor_test", counted)
    report = gradcli.check(
        lambda x: np.sin(x), grad=np.cos, shape=(3,), backends=["fd"], taylor=True
    )
    assert report.ok
    assert report.sections == ()  # a pass shows no steps
    assert made == [24] * 3


@pytest.mark.parametrize("seed", range(4))
def test_at_random_inputs_the_steep_wave_is_right_at_rate_2_and_wrong_at_rate_1(seed):
    """At x ~ N(0, 1), sin(1e5·x) moves by 1e5·ε·|x| when x + h·u is rounded: that floor
    is part of the rounding the rates leave out (else a right derivative measured 1)."""
    right = gradcli.check(wave, grad=wave_grad, shape=(5,), seed=seed, backends=["fd"], taylor=True)
    assert all(law.ok for law in right.laws), rates(right)
    assert all(abs(r - 2.0) < 0.15 for r in rates(right)), rates(right)
    wrong = gradcli.check(
        wave,
        grad=lambda x: 1.001 * wave_grad(x),
        shape=(5,),
        seed=seed,
        backends=["fd"],
        taylor=True,
    )
    # the verdict needs one trial at rate ~1 (a trial whose random u, v make the error
    # term small against the curvature can still measure 2 here)
    assert not all(law.ok for law in wrong.laws), rates(wrong)
    assert min(rates(wrong)) < 1.3, rates(wrong)
    assert not wrong.ok
