"""Two-input code for `gradcli check`: y = x·W (+ b), by hand and as torch Functions.

gradcli check examples/linear.py:linear --vjp linear_vjp --shape x=8x16 --shape W=16x4
gradcli check examples/linear.py:MyLinear --shape x=8x16 --shape W=16x4
gradcli check examples/linear.py:MyLinearWrongW --shape x=8x16 --shape W=16x4   # exit 1
"""

import numpy as np
import torch


def linear(x, W, b):
    """y = x·W + b (numpy or torch: both have @)."""
    return x @ W + b


def linear_vjp(x, W, b, g):
    """Right: dx = g·Wᵀ, dW = xᵀ·g, db = Σ_rows g."""
    return g @ W.T, x.T @ g, g.sum(axis=0)


def linear_vjp_wrong_w(x, W, b, g):
    """Wrong: dW = x·gᵀ is (rows × rows), where xᵀ·g is (in × out)."""
    return g @ W.T, x.T @ g / x.shape[0], g.sum(axis=0)


class MyLinear(torch.autograd.Function):
    """Right: y = x·W; the backward computes only the gradients asked for."""

    @staticmethod
    def forward(ctx, x, W):
        ctx.save_for_backward(x, W)
        return x @ W

    @staticmethod
    def backward(ctx, g):
        x, W = ctx.saved_tensors
        dx = g @ W.T if ctx.needs_input_grad[0] else None  # dL/dx = g·Wᵀ
        dW = x.T @ g if ctx.needs_input_grad[1] else None  # dL/dW = xᵀ·g
        return dx, dW


class MyLinearWrongW(torch.autograd.Function):
    """Wrong: dW forgets to transpose x, written as (x·… )ᵀ in a way that keeps the shape:
    it uses the mean over the batch instead of the sum."""

    @staticmethod
    def forward(ctx, x, W):
        ctx.save_for_backward(x, W)
        return x @ W

    @staticmethod
    def backward(ctx, g):
        x, W = ctx.saved_tensors
        return g @ W.T, x.T @ g / x.shape[0]


class ScaledTanh(torch.autograd.Function):
    """A non-tensor argument: y = tanh(a·x), `a` by --arg a=2.0 (its gradient is None)."""

    @staticmethod
    def forward(ctx, x, a):
        y = torch.tanh(a * x)
        ctx.save_for_backward(y)
        ctx.a = a
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * ctx.a * (1 - y * y), None  # dy/dx = a(1 − tanh²(a·x))


def torch_gelu(x):
    """A torch-only forward: numpy arrays have no .erf."""
    return 0.5 * x * (1 + torch.erf(x / 2**0.5))


def torch_gelu_grad(x):
    """Right: Φ(x) + x·φ(x); it takes and returns tensors."""
    cdf = 0.5 * (1 + torch.erf(x / 2**0.5))
    pdf = torch.exp(-0.5 * x * x) / (2 * torch.pi) ** 0.5
    return cdf + x * pdf


def split(x):
    """Two outputs: the VJP receives one cotangent for each."""
    return np.sin(x), np.cos(x) * 2


def split_vjp(x, g_sin, g_cos):
    return g_sin * np.cos(x) - 2 * g_cos * np.sin(x)


def my_gelu(x):
    """GELU by hand (numpy or torch), for --against torch.nn.functional.gelu."""
    erf = torch.erf if isinstance(x, torch.Tensor) else np.vectorize(__import__("math").erf)
    return 0.5 * x * (1 + erf(x / 2**0.5))


def my_gelu_grad(x):
    """Right: Φ(x) + x·φ(x)."""
    from math import erf, pi

    cdf = 0.5 * (1 + np.vectorize(erf)(x / 2**0.5))
    return cdf + x * np.exp(-0.5 * x * x) / np.sqrt(2 * pi)


def my_gelu_tanh(x):
    """Wrong forward for the exact GELU: the tanh approximation (off by up to 5e-4)."""
    inner = np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)
    return 0.5 * x * (1 + np.tanh(inner))


class MaskedScale(torch.autograd.Function):
    """y = mask ⊙ x · w: `mask` is an input that is not differentiated (--no-grad mask);
    the backward computes only what needs_input_grad asks for."""

    @staticmethod
    def forward(ctx, x, mask, w):
        ctx.save_for_backward(x, mask, w)
        return mask * x * w

    @staticmethod
    def backward(ctx, g):
        x, mask, w = ctx.saved_tensors
        assert not ctx.needs_input_grad[1], "mask must not need a gradient"
        dx = g * mask * w if ctx.needs_input_grad[0] else None
        dw = g * mask * x if ctx.needs_input_grad[2] else None
        return dx, None, dw
