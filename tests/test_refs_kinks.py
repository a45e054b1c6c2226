"""Kinks at x, not within the step of x (issue 12, case 2): relu at 1e-300 or at the
smallest subnormal is differentiable with slope 1 and is no kink; relu at 0 and a tie
of first-argmax are kinks, whose derivative is an interval."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import gradcli
from gradcli import references
from gradcli.cli import cli


def graph(program, value):
    result = CliRunner().invoke(
        cli, ["graph", program, "--var", value, "--json"], env={"COLUMNS": "200"}
    )
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize(
    ("a", "slope"),
    [(1e-300, 1.0), (1e-200, 1.0), (-1e-300, 0.0), (5e-324, 1.0), (-5e-324, 0.0), (1e-320, 1.0)],
)
def test_relu_next_to_zero_is_no_kink(a, slope):
    code, doc = graph("y = relu(a)", f"a=[{a!r}]")
    assert code == 0
    assert doc["kinks"] == []
    for backend in ("numpy", "torch", "fd"):
        assert doc["results"][backend]["grads"]["a"] == [slope]


def test_relu_at_zero_beside_a_subnormal_is_one_kink_at_zero():
    code, doc = graph("y = relu(a)", "a=[0, 5e-324, 1e-300, -1e-300, 2]")
    assert code == 0
    ((kink),) = doc["kinks"]
    assert kink["index"] == [0]
    assert (kink["left"], kink["right"]) == pytest.approx((0.0, 1.0), abs=1e-6)
    assert doc["results"]["fd"]["grads"]["a"][1:] == [1.0, 1.0, 0.0, 1.0]


def test_an_opaque_function_near_its_kink_has_the_slope_at_x():
    # what check's forwards are: no op registry, only the recheck at a smaller step
    def f(x):
        return np.concatenate([np.maximum(x[:3], 0), np.abs(x[3:] - 1)])

    x = np.array([1e-300, -1e-300, 0.0, 1 + 1e-9, 1 - 1e-9, 1.0])
    d = references.central_differences(f, x)
    assert sorted((k.i, k.j) for k in d.kinks) == [(2, 2), (5, 5)]
    diagonal = np.diag(d.value)
    assert diagonal[[0, 1, 3, 4]] == pytest.approx([1.0, 0.0, 1.0, -1.0], abs=1e-6)
    (at_zero, at_one) = sorted(d.kinks, key=lambda k: k.j)
    assert (at_zero.low, at_zero.high) == pytest.approx((0.0, 1.0), abs=1e-6)
    assert (at_one.low, at_one.high) == pytest.approx((-1.0, 1.0), abs=1e-6)


def relu(x):
    return torch.relu(x) if isinstance(x, torch.Tensor) else np.maximum(x, 0)


def test_check_of_relu_next_to_zero_is_ok_without_kinks():
    report = gradcli.check(
        relu, grad=lambda x: (x > 0).astype(float), x=np.array([1e-300, -1e-300, 2.0, -3.0])
    )
    assert report.ok, report.verdict.summary
    assert report.kinks == ()
    # and a wrong slope next to zero is still caught: 0.5 is no subgradient at 1e-300
    wrong = gradcli.check(
        relu,
        grad=lambda x: np.where(np.abs(x) < 1e-200, 0.5, (x > 0).astype(float)),
        x=np.array([1e-300, 2.0]),
    )
    assert not wrong.ok


def first_max(x):
    index = torch.argmax(x) if isinstance(x, torch.Tensor) else np.argmax(x)
    return x[index].reshape(1)


@pytest.mark.parametrize(("share", "ok"), [(1.0, True), (0.25, True), (1.5, False)])
def test_a_tie_stays_a_kink_through_a_vjp_too(share, ok):
    # x[1] and x[2] tie: the gradient of x[argmax x] there is any split of g between them
    def vjp(x, g):
        out = np.zeros(x.shape)
        out[1], out[2] = share * g[0], (1 - share) * g[0] if share <= 1 else 0.0
        return out

    report = gradcli.check(first_max, vjp=vjp, x=np.array([1.0, 3.0, 3.0, -2.0]))
    assert report.ok is ok, report.verdict.summary
    assert {k.index for k in report.kinks} == {(1,), (2,)}
    for kink in report.kinks:  # slopes 0 and g (the random cotangent), at every step
        slopes = sorted((kink.left, kink.right), key=abs)
        assert abs(slopes[0]) < 1e-6
        assert abs(slopes[1]) > 0.1
