"""An nn.Module with a custom layer, for `gradcli check model.py:Net --shape x=8x16`:
every parameter's gradient (fc1.weight, fc1.bias, scale.gamma, …) and the input's are
checked by name.

gradcli check examples/model.py:Net --shape x=8x16            # right: exit 0
gradcli check examples/model.py:NetDropsATerm --shape x=8x16  # wrong: exit 1, names gamma
"""

import torch
from torch import nn


class ScaleShift(torch.autograd.Function):
    """y = γ ⊙ x + β, with γ, β per feature."""

    @staticmethod
    def forward(ctx, x, gamma, beta):
        ctx.save_for_backward(x, gamma)
        return gamma * x + beta

    @staticmethod
    def backward(ctx, g):
        x, gamma = ctx.saved_tensors
        # dL/dx = g ⊙ γ; dL/dγ = Σ_rows g ⊙ x; dL/dβ = Σ_rows g
        return g * gamma, (g * x).sum(0), g.sum(0)


class ScaleShiftDropsATerm(ScaleShift):
    """Wrong: dL/dγ forgot the factor x (it is the code of dL/dβ)."""

    @staticmethod
    def backward(ctx, g):
        _, gamma = ctx.saved_tensors
        return g * gamma, g.sum(0), g.sum(0)


class Net(nn.Module):
    layer = ScaleShift

    def __init__(self, features=16, hidden=8):
        super().__init__()
        self.fc1 = nn.Linear(features, hidden)
        self.gamma = nn.Parameter(torch.linspace(0.5, 1.5, hidden))
        self.beta = nn.Parameter(torch.zeros(hidden))

    def forward(self, x):
        return torch.tanh(self.layer.apply(self.fc1(x), self.gamma, self.beta))


class NetDropsATerm(Net):
    layer = ScaleShiftDropsATerm
