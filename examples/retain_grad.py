"""The PyTorch program gradcli grew from. Run it, then compare with:

    gradcli graph "b = a.sum(dim=0, keepdim=True); c = a/b; y = w@c" \
        --rand w=4x10 --rand a=10x10 --seed 42 --dtype float32

The draws are the same numbers (torch.rand after torch.manual_seed(42), in order), and
y.grad, c.grad, b.grad and a.grad are the gradients gradcli reports.
"""

import torch

torch.manual_seed(42)
w = torch.rand((4, 10))
a = torch.rand((10, 10), requires_grad=True)
b = a.sum(dim=0, keepdim=True)
c = a / b
y = w @ c
for t in (b, c, y):
    t.retain_grad()
torch.sum(y).backward()
for name, t in (("y", y), ("c", c), ("b", b), ("a", a)):
    print(f"{name}.grad[0, :4] = {t.grad[0, :4].tolist()}")
