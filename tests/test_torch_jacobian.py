"""softmax's torch Jacobian, built a block of rows per thread from the shifted leaf, is
bit for bit autograd of `_softmax` itself, one output at a time."""

import numpy as np
import pytest

from gradcli.backends import autograd


@pytest.mark.parametrize("temperature", [1.0, 0.7, 3.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocked_jacobian_is_autograd_of_softmax_row_by_row(monkeypatch, temperature, dtype):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(autograd, "ROWS_PER_BLOCK", 3)  # several blocks, on the threads
    rng = np.random.default_rng(7)
    z = np.concatenate([rng.normal(size=8) * 5, [1e3, 1e3, -40.0, 0.0]]).astype(dtype)
    _, jac = autograd.softmax_and_jacobian(z, temperature)
    zt = torch.tensor(z, requires_grad=True)
    s = autograd._softmax(zt, temperature)
    rows = [torch.autograd.grad(s[k], zt, retain_graph=True)[0].numpy() for k in range(z.size)]
    assert jac.dtype == dtype
    assert np.array_equal(jac, np.stack(rows))
