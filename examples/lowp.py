"""A bfloat16 backward, right and with the classic bug, for `gradcli check --dtype bfloat16`.

The right backward multiplies bf16 tensors but accumulates the sums of the matrix
products in float32 (as mixed-precision kernels do) and rounds once at the end; the
wrong one keeps its running sum in bf16, so every addition rounds to 8 bits and the
error grows with the length of the sum (≈ ε·√K relative for K terms).

gradcli check examples/lowp.py:Linear --shape x=4096x8 --shape W=8x4 --dtype bfloat16
gradcli check examples/lowp.py:LinearBf16Sum --shape x=4096x8 --shape W=8x4 --dtype bfloat16
"""

import torch


def matmul_float32_sum(a, b):
    """a @ b with the sums in float32 at least (float64 stays float64), rounded to a's
    dtype once."""
    wide = torch.promote_types(a.dtype, torch.float32)
    return (a.to(wide) @ b.to(wide)).to(a.dtype)


def matmul_bf16_sum(a, b):
    """The bug: a @ b with the running sum kept in a's dtype (bf16): one rounding per term."""
    total = torch.zeros(a.shape[0], b.shape[1], dtype=a.dtype)
    for k in range(a.shape[1]):
        total = total + a[:, k : k + 1] * b[k : k + 1, :]
    return total


class Linear(torch.autograd.Function):
    """y = x·W; dL/dx = g·Wᵀ, dL/dW = xᵀ·g, both summed in float32."""

    @staticmethod
    def forward(ctx, x, W):
        ctx.save_for_backward(x, W)
        return matmul_float32_sum(x, W)

    @staticmethod
    def backward(ctx, g):
        x, W = ctx.saved_tensors
        return matmul_float32_sum(g, W.T), matmul_float32_sum(x.T, g)


class LinearBf16Sum(Linear):
    """Wrong in bf16: dL/dW = xᵀ·g sums over the batch (4096 terms) in bf16."""

    @staticmethod
    def backward(ctx, g):
        x, W = ctx.saved_tensors
        return matmul_float32_sum(g, W.T), matmul_bf16_sum(x.T, g)
