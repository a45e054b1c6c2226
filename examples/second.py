"""Second order for `gradcli check`: a Function's backward differentiated (--order 2, as
gradgradcheck) and a Hessian-vector product (--hvp).

gradcli check examples/second.py:Cube --shape 5 --order 2                   # exit 0
gradcli check examples/second.py:CubeDetachedBackward --shape 5 --order 2   # exit 1
gradcli check examples/second.py:quartic --hvp quartic_hvp --shape 5        # exit 0
"""

import numpy as np
import torch


class Cube(torch.autograd.Function):
    """y = x³; the backward 3x²·g is written in torch operations, so it is itself
    differentiable (∂/∂x of 3x²·g is 6x·g)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g


class CubeDetachedBackward(Cube):
    """Right to first order, wrong to second: 3x² is computed on a detached copy, so
    autograd through this backward sees no dependence on x (6x·g is lost)."""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x.detach() ** 2 * g


def quartic(x):
    """A loss: Σ x⁴ / 4 (numpy or torch); its Hessian is diag(3x²)."""
    return (x**4).sum() / 4


def quartic_hvp(x, v):
    """Right: H·v = 3x²·v."""
    return 3 * x**2 * v


def quartic_hvp_wrong(x, v):
    """Wrong: the factor 3 forgotten."""
    return x**2 * v


__all__ = ["np"]
