"""The graph program in PyTorch, differentiated by autograd (never by the formulas).

Each operation is its torch twin from the op registry (`gradcli.ops`), so the program
that torch runs is the one the parser read. torch is imported inside the function:
only a run that uses this backend pays for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from gradcli.backends.autograd import _tensor
from gradcli.ops import REGISTRY
from gradcli.spec import Program

Array = NDArray[Any]


def graph(program: Program, inputs: dict[str, Array], dtype: str) -> dict[str, Array]:
    """Every named variable's value and gradient: the program built with torch tensors,
    `retain_grad()` on every intermediate, `backward()` of sum(last value).

    A named variable that no input reaches (`c = 2 * 3`) would have no gradient in
    torch; it is made a leaf, so that torch reports ∂L/∂c as numpy's engine does."""
    import torch

    torch_dtype = getattr(torch, dtype)
    named_nodes = set(program.variables.values())
    with torch.inference_mode(False):
        values: list[torch.Tensor] = []
        for number, node in enumerate(program.nodes):
            if node.op == "input":
                value = _tensor(inputs[node.text].astype(dtype)).requires_grad_(True)
            elif node.op == "const":
                value = torch.tensor(node.params[0], dtype=torch_dtype)
            else:
                args = [values[a] for a in node.args]
                value = REGISTRY[node.op].torch(torch, args, node.params)
            if number in named_nodes and not value.requires_grad:
                # `z = 2` too: else a loss that no input reaches has no grad_fn
                value = value.detach().requires_grad_(True)
            values.append(value)
        named = {name: values[node] for name, node in program.variables.items()}
        for tensor in named.values():
            if not tensor.is_leaf:
                tensor.retain_grad()
        out = values[program.output]
        loss = out if out.ndim == 0 else out.sum()
        loss.backward()
        result = {}
        for name, tensor in named.items():
            result[f"values.{name}"] = tensor.detach().numpy().copy()
            grad = tensor.grad
            result[f"grads.{name}"] = (
                np.zeros(tuple(tensor.shape), dtype=dtype) if grad is None else grad.numpy().copy()
            )
        return result
