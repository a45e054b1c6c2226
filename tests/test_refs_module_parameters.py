"""A module is not checked at its parameters as built (issue 20, item 6): a parameter
built constant (a norm's weight 1, its bias 0) hides a backward that drops it, so
gradcli draws it around its value and says so."""

import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from gradcli.cli import cli
from gradcli.commands.check.modules import PARAMETER_SPREAD, draw_constant_parameters

torch = pytest.importorskip("torch")

# NAFNet's LayerNorm2d (weight 1, bias 0 as built), its backward as published but for
# the weight: DROPS_WEIGHT leaves it out of the input's gradient
CODE = textwrap.dedent(
    """
    import torch
    from torch import nn

    DROPS_WEIGHT = {drops}


    class LayerNormFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, weight, bias, eps):
            ctx.eps = eps
            C = x.size(1)
            mu = x.mean(1, keepdim=True)
            var = (x - mu).pow(2).mean(1, keepdim=True)
            y = (x - mu) / (var + eps).sqrt()
            ctx.save_for_backward(y, var, weight)
            return weight.view(1, C, 1, 1) * y + bias.view(1, C, 1, 1)

        @staticmethod
        def backward(ctx, grad_output):
            C = grad_output.size(1)
            y, var, weight = ctx.saved_tensors
            g = grad_output if DROPS_WEIGHT else grad_output * weight.view(1, C, 1, 1)
            mean_g = g.mean(dim=1, keepdim=True)
            mean_gy = (g * y).mean(dim=1, keepdim=True)
            gx = 1.0 / torch.sqrt(var + ctx.eps) * (g - y * mean_gy - mean_g)
            return gx, (grad_output * y).sum(dim=(0, 2, 3)), grad_output.sum(dim=(0, 2, 3)), None


    class LayerNorm2d(nn.Module):
        def __init__(self, channels=4, eps=1e-6):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))
            self.eps = eps

        def forward(self, x):
            return LayerNormFunction.apply(x, self.weight, self.bias, self.eps)
    """
)
NOTE = "note: parameters built constant (weight = 1, bias = 0) are drawn around that"


@pytest.mark.parametrize(("drops", "code"), [(True, 1), (False, 0)])
def test_a_backward_that_drops_a_weight_built_as_one_is_caught(tmp_path, monkeypatch, drops, code):
    (tmp_path / "naf.py").write_text(CODE.format(drops=drops))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(cli, ["check", "naf.py:LayerNorm2d", "--shape", "x=2x4x3x3"])
    assert result.exit_code == code, result.output
    assert NOTE in result.output
    first = result.output.splitlines()[0]
    assert first.startswith("DISAGREE: vjp.x:" if drops else "OK: yours, torch and fd")


def test_constant_parameters_are_drawn_around_their_value_and_others_kept():
    module = torch.nn.Module()
    module.weight = torch.nn.Parameter(torch.full((1000,), -2.0, dtype=torch.float64))
    module.bias = torch.nn.Parameter(torch.zeros(1000, dtype=torch.float64))
    module.mixed = torch.nn.Parameter(torch.tensor([1.0, 2.0], dtype=torch.float64))
    module.steps = torch.nn.Parameter(torch.ones(3, dtype=torch.int64), requires_grad=False)
    drawn = draw_constant_parameters(module, seed=7)
    assert drawn == (("weight", -2.0), ("bias", 0.0))
    w, b = module.weight.detach().numpy(), module.bias.detach().numpy()
    assert np.all(w <= -2.0 * (1 - PARAMETER_SPREAD))
    assert np.all(w >= -2.0 * (1 + PARAMETER_SPREAD))
    assert np.all(np.abs(b) <= PARAMETER_SPREAD)
    assert w.std() > 0.2
    assert b.std() > 0.2
    assert len(np.unique(w)) == 1000
    assert module.mixed.tolist() == [1.0, 2.0]  # not constant: as built
    assert module.steps.tolist() == [1, 1, 1]  # not floating
    again = torch.nn.Module()
    again.weight = torch.nn.Parameter(torch.full((1000,), -2.0, dtype=torch.float64))
    again.bias = torch.nn.Parameter(torch.zeros(1000, dtype=torch.float64))
    draw_constant_parameters(again, seed=7)
    assert torch.equal(again.weight, module.weight)  # the same module every run


def test_the_same_file_name_in_another_folder_or_edited_is_another_module(tmp_path):
    import gradcli

    for folder, factor in (("a", 2.0), ("b", 3.0)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "mine.py").write_text(
            f"def f(x):\n    return {factor} * x\n\n\ndef g(x):\n    return {factor} + 0 * x\n"
        )
    for folder in ("a", "b"):
        target = str(tmp_path / folder / "mine.py") + ":f"
        assert gradcli.check(target, grad="g", shape=3, backends=["fd"]).ok
    edited = tmp_path / "a" / "mine.py"
    edited.write_text("def f(x):\n    return 5.0 * x\n\n\ndef g(x):\n    return 2.0 + 0 * x\n")
    import os

    os.utime(edited, ns=(10**18, 10**18))  # another modification time, whatever the clock
    assert not gradcli.check(str(edited) + ":f", grad="g", shape=3, backends=["fd"]).ok
