"""Hand-derived derivatives for `gradcli check`: two right, two deliberately wrong.

gradcli check examples/ops.py:softmax --jacobian softmax_jacobian --shape 5
gradcli check examples/ops.py:softmax --jacobian softmax_jacobian_no_cross_terms --shape 5
gradcli check examples/ops.py:Square --shape 4x6
"""

import numpy as np
import torch


def softmax(z):
    """The forward; it takes numpy arrays and torch tensors, so autograd can check too."""
    if isinstance(z, torch.Tensor):
        return torch.softmax(z, dim=-1)
    e = np.exp(z - z.max())
    return e / e.sum()


def softmax_jacobian(z):
    """Right: ∂s_i/∂z_j = s_i(δ_ij − s_j)."""
    s = softmax(z)
    return np.diag(s) - np.outer(s, s)


def softmax_jacobian_no_cross_terms(z):
    """Wrong: forgot the i ≠ j terms (only s_i(1 − s_i) on the diagonal)."""
    s = softmax(z)
    return np.diag(s * (1 - s))


class Square(torch.autograd.Function):
    """Right: d(x²) = 2x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


class SquareForgotTwo(torch.autograd.Function):
    """Wrong: d(x²) = x (the factor 2 forgotten)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return x * g
