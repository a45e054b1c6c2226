"""The complex step for torch-only forwards under `gradcli check` (issue 12, case 4): a
forward that takes only tensors and carries complex128 tensors refines fd by
Im f(x + ih)/h, so a 1e-9-relative planted error in float64 is caught; one that drops
the imaginary part or refuses complex tensors (abs, relu, .real, comparisons, softmax)
is probed once and refined by Richardson as before."""

import numpy as np
import pytest
import torch

import gradcli
from gradcli import references
from gradcli.commands.check import references as check_references
from gradcli.commands.check.analytic import carries_the_complex_step
from gradcli.commands.check.evaluator import Local
from gradcli.commands.check.subject import Subject
from tests.test_check_complex_step import columns

TIGHT = {"rtol": 1e-12, "atol": 0.0}
X_SHIFTED = 100 + np.array([0.0013, -0.0021, 0.0034, 0.00071])


def shifted(x):
    if not isinstance(x, torch.Tensor):
        raise TypeError("tensors only")  # a torch-only forward
    return torch.sin(1000 * (x - 100))


def shifted_grad(x):
    return 1000 * torch.cos(1000 * (x - 100))


@pytest.mark.parametrize("entry", [0, 3])
def test_a_planted_1e_9_error_in_a_torch_only_forward_is_caught(entry):
    def planted(x):
        g = shifted_grad(x).clone()
        g[entry] *= 1 + 1e-9
        return g

    right = gradcli.check(shifted, grad=shifted_grad, x=X_SHIFTED, backends=["fd"], **TIGHT)
    assert right.ok, right.verdict.summary
    assert columns(right) == {"cheap": 4, "complex step": 4}
    wrong = gradcli.check(shifted, grad=planted, x=X_SHIFTED, backends=["fd"], **TIGHT)
    assert not wrong.ok
    (failing,) = [c for c in wrong.comparisons if not c.ok]
    assert failing.worst_index == (entry,)
    assert failing.max_rel_error == pytest.approx(1e-9, rel=1e-3)


def test_without_the_imaginary_part_the_same_error_hides_in_richardsons_error():
    def planted(x):
        g = shifted_grad(x).clone()
        g[0] *= 1 + 1e-9
        return g

    alone = gradcli.check(
        lambda x: shifted(x.real), grad=planted, x=X_SHIFTED, backends=["fd"], **TIGHT
    )
    assert alone.ok  # Richardson's own error (about 1e-2 relative here) is larger
    assert "complex step" not in columns(alone)


def test_a_steep_torch_only_jacobian_with_the_complex_step():
    a = torch.tensor([[1.0, -2.0], [0.5, 1.0]], dtype=torch.float64)

    def forward(x):
        return torch.tanh(a.to(x.dtype) @ (x + 1000) / 1e-3)

    def jacobian(x):
        return ((1 - forward(x) ** 2)[:, None] * a / 1e-3).numpy()

    def wrong(x):
        jac = jacobian(x)
        jac[1, 0] *= 1.001
        return jac

    x = -1000 + 1e-3 * np.array([0.3, 0.1])
    right = gradcli.check(forward, jacobian=jacobian, x=x, backends=["fd"])
    assert right.ok, right.verdict.summary
    assert columns(right)["complex step"] == 2
    bad = gradcli.check(forward, jacobian=wrong, x=x, backends=["fd"])
    assert not bad.ok
    assert all(c.worst_index == (1, 0) for c in bad.comparisons if not c.ok)


X_PROBE = np.array([0.7, -1.3, 2.1, -0.4])
ONES = torch.ones(3, 4, dtype=torch.float64)
CARRY = {
    "exp": torch.exp,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "rational": lambda x: torch.sin(x) * x**3 / (1 + x**2),
    "matmul": lambda x: ONES.to(x.dtype) @ torch.exp(x),
}
REFUSE = {
    "x·|x|": lambda x: x * torch.abs(x),
    "|x|³": lambda x: torch.abs(x) ** 3,
    "relu": torch.relu,
    "clamp": lambda x: x.clamp(min=0),
    ".real": lambda x: torch.exp(x.real),
    "comparison": lambda x: torch.where(x > 0, x, 0 * x),
    "cast to real": lambda x: torch.exp(x.double()),
    "softmax": lambda x: torch.softmax(x, 0),
    "layer_norm": lambda x: torch.nn.functional.layer_norm(x, (4,)),
}


def _probe(forward):
    subject = Local(Subject("forward", forward, None, ("x",), {}, call_order=("x",)), None)

    def f_rows(rows):
        return np.stack(
            [check_references._evaluate(subject, [{"x": row}])[0][0].reshape(-1) for row in rows]
        )

    step = references.CBRT_EPS * np.maximum(1.0, np.abs(X_PROBE))
    return carries_the_complex_step(f_rows, X_PROBE, step)


@pytest.mark.parametrize("name", list(CARRY))
def test_the_probe_accepts_an_analytic_torch_forward(name):
    assert _probe(CARRY[name])


@pytest.mark.parametrize("name", list(REFUSE))
def test_the_probe_refuses_a_torch_forward_that_does_not_carry_the_complex_step(name):
    assert not _probe(REFUSE[name])


def test_a_non_analytic_torch_forward_is_checked_by_richardson(capsys):
    def x_abs_x(x):
        return x * torch.abs(x)

    right = gradcli.check(x_abs_x, grad=lambda x: 2 * torch.abs(x), x=X_PROBE, backends=["fd"])
    assert right.ok, right.verdict.summary
    assert "complex step" not in columns(right)
    trap = gradcli.check(x_abs_x, grad=torch.abs, x=X_PROBE, backends=["fd"])
    assert not trap.ok
    # torch's warning about a complex cast is the probe's business, not output
    gradcli.check(lambda x: torch.exp(x.double()), grad=torch.exp, x=X_PROBE, backends=["fd"])
    captured = capsys.readouterr()
    assert "imaginary" not in captured.err + captured.out
