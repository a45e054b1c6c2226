"""The same forwards in PyTorch, differentiated by autograd (never by the formula).

torch is imported inside the functions: importing it costs over a second, and only a
run that uses this backend should pay that.

The Jacobian is built from vector-Jacobian products with the rows of the identity,
a block of rows at a time: the input is repeated once per row (``Z[k] = z``), the
forward runs on the batch, and one backward of the scalar ``Σ_k S[k, start + k]`` (the
sum of a diagonal: the rows of the identity without multiplying by them) gives row k of
J in ``Z.grad[k]``. A scalar loss also keeps ``autograd.grad`` off its ``grad_outputs``
path, whose first call imports sympy (≈0.3 s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from gradcli import parallel

if TYPE_CHECKING:
    import torch

Array = NDArray[Any]

# Rows of J computed per backward pass: bounds the batch to ~ROWS_PER_BLOCK × n elements.
ROWS_PER_BLOCK = 64


def _tensor(array: Array) -> torch.Tensor:
    import torch

    # A private, writable copy: torch warns on read-only numpy buffers.
    return torch.from_numpy(np.array(array, copy=True))


def _softmax(z: torch.Tensor, temperature: float) -> torch.Tensor:
    import torch

    # The shift is a constant of the math (softmax ignores it), so it is detached:
    # its gradient is zero in exact arithmetic and only adds rounding otherwise.
    shift = z.detach().amax(dim=-1, keepdim=True)
    u = z - shift
    return torch.softmax(u / temperature if temperature != 1.0 else u, dim=-1)  # x / 1 is x


def softmax_and_jacobian(
    z: Array, temperature: float = 1.0, out: Array | None = None
) -> tuple[Array, Array]:
    """s = softmax(z / T) and J = ∂s/∂z by autograd, in the dtype of `z` (J into `out`).

    Torch runs on one intra-op thread: the Jacobian is many small ops (a block of 64
    rows each), and torch's intra-op threads meet at a barrier after every one. On a
    busy 2-core machine a descheduled partner stalls each barrier: n = 4096 measured
    16.9 s on 2 threads against 0.64 s on one (load average 11). The cores are used
    instead by giving each Python thread its own blocks of rows (`parallel`): no barrier
    between them, and autograd runs a CPU backward on the thread that calls it.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode(False):
            zt = _tensor(z)
            s = _softmax(zt, temperature).numpy()
        return s, _softmax_jacobian_by_rows(zt, temperature, out)
    finally:
        torch.set_num_threads(threads)


def _softmax_jacobian_by_rows(z: torch.Tensor, temperature: float, out: Array | None) -> Array:
    """Row k of J is the gradient of s_k: a block of rows is one backward of the sum of
    the diagonal (k, start + k) of softmax over a batch of copies of z.

    The leaf is u = z − max z (the detached shift of `_softmax`, taken once: ∂s/∂u =
    ∂s/∂z exactly; `_softmax` of u shifts by max u = 0, exactly), and the diagonal is
    picked rather than multiplied by a selector: the same bits as before, fewer passes.
    """
    import torch

    n = int(z.numel())
    dtype = np.dtype(str(z.dtype).removeprefix("torch."))
    jac = np.empty((n, n), dtype=dtype) if out is None else out
    shifted = (z - z.amax(dim=-1, keepdim=True)).detach()

    def block(span: tuple[int, int]) -> None:
        start, stop = span
        with torch.inference_mode(False), torch.enable_grad():  # both are per thread
            batch = shifted.expand(stop - start, n).clone().requires_grad_(True)
            picked = _softmax(batch, temperature).diagonal(offset=start)  # s_k of row k
            (grad,) = torch.autograd.grad(picked.sum(), batch)
            jac[start:stop] = grad.numpy()

    parallel.map_chunks(block, parallel.spans(n, ROWS_PER_BLOCK))
    return jac


def layer(w: Array, b: Array, x: Array, kind: str, target: Array) -> dict[str, Array]:
    """z = x Wᵀ + b, s = softmax(z), L, and every gradient by autograd.

    Rows of `x` are samples (2-D). Cross-entropy is torch's own `cross_entropy` on z
    (log-softmax inside, finite where s underflows); the other losses are built on s.
    `retain_grad()` keeps ∂L/∂z. ∂L/∂s is autograd of the same loss written as a
    function of s (for ce, −mean log s_t): s is not on cross-entropy's path.
    """
    import torch

    with torch.inference_mode(False):
        wt, bt, xt = (_tensor(a).requires_grad_(True) for a in (w, b, x))
        z = xt @ wt.T + bt
        z.retain_grad()
        s = torch.softmax(z, dim=-1)
        loss = _loss_of_z(kind, z, s, target)
        loss.backward()
        s_leaf = s.detach().clone().requires_grad_(True)
        (dl_ds,) = torch.autograd.grad(_loss_of_s(kind, s_leaf, target), s_leaf)
        grads = {"dL_dz": z.grad, "dW": wt.grad, "db": bt.grad, "dx": xt.grad}
        missing = [name for name, grad in grads.items() if grad is None]
        if missing:
            raise RuntimeError(f"autograd left no gradient for {missing}")
        return {
            "z": z.detach().numpy(),
            "s": s.detach().numpy(),
            "loss": loss.detach().numpy(),
            "dL_ds": dl_ds.numpy(),
            **{name: grad.numpy() for name, grad in grads.items()},
        }


def _loss_of_z(kind: str, z: torch.Tensor, s: torch.Tensor, target: Array) -> torch.Tensor:
    import torch

    if kind == "ce":
        return torch.nn.functional.cross_entropy(z, torch.from_numpy(np.asarray(target)))
    return _loss_of_s(kind, s, target)


def _loss_of_s(kind: str, s: torch.Tensor, target: Array) -> torch.Tensor:
    import torch

    if kind == "ce":
        rows = torch.arange(s.shape[0])
        return -torch.log(s[rows, torch.from_numpy(np.asarray(target))]).mean()
    if kind == "mse":
        return ((s - _tensor(target).to(s.dtype)) ** 2).mean()
    if kind == "sum":
        return s.sum(dim=-1).mean()
    return s[:, int(target)].mean()


def rand_inputs(draws: list[tuple[str, tuple[int, ...], str]], seed: int) -> dict[str, Array]:
    """torch.rand / torch.randn after torch.manual_seed(seed), in order, in float32:
    exactly the numbers of the PyTorch script that gradcli graph reproduces."""
    import torch

    torch.manual_seed(seed)
    out = {}
    for name, shape, dist in draws:
        draw = torch.randn if dist == "normal" else torch.rand
        out[name] = draw(shape, dtype=torch.float32).numpy().astype(np.float64)
    return out
