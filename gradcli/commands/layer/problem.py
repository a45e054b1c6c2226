"""The layer problem: z = x Wᵀ + b, s = softmax(z), a loss L(s), and every gradient.

numpy follows the hand-derived chain rule, torch uses autograd, fd uses central
differences of the whole float64 loss on every parameter. Internally every backend sees
2-D rows (a single vector x is a batch of one) and the results are shaped back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli import core
from gradcli import directional as directional_fd
from gradcli.backends import analytic
from gradcli.commands.layer import explain as explainer
from gradcli.commands.layer import fd as layer_fd
from gradcli.commands.layer import laws as layer_laws
from gradcli.commands.layer.inputs import validate
from gradcli.keys import Key
from gradcli.render import shown
from gradcli.report import (
    Array,
    BackendResult,
    Report,
    backend_name,
    precision,
)
from gradcli.spec import LayerSpec, LossSpec

QUANTITIES = ("z", "s", "loss", "dL_ds", "dL_dz", "dW", "db", "dx")
# every quantity's key, and its projection along random directions (directional fd)
KEYS = {k.id: k for q in QUANTITIES for k in (Key(q), Key(q, projected=True))}
LABELS = {
    "z": "z = W·x + b",
    "s": "s = softmax(z)",
    "loss": "L",
    "dL_ds": "∂L/∂s",
    "dL_dz": "∂L/∂z = Jᵀ·∂L/∂s",
    "dW": "∂L/∂W = (∂L/∂z)ᵀ·x",
    "db": "∂L/∂b = Σ_rows ∂L/∂z",
    "dx": "∂L/∂x = ∂L/∂z·W",
}


def run(spec: LayerSpec) -> Report:
    validate(spec)
    if spec.explain:
        explainer.parse_target(spec.explain, spec)  # a bad --explain fails before any work
    directional = layer_fd.fd_mode(spec) == "directional"
    options = spec.options
    w, b, x2, target = _rows(spec)
    dirs = directional_fd.directions(layer_fd.gradient_shapes(w, x2), spec.seed or 0)
    results: dict[str, BackendResult] = {}
    refs: list[core.NumericalReference] = []
    for name in options.backends:
        if name == "fd" and directional:
            results[name], refs = layer_fd.fd_directional(
                w, b, x2, spec.loss.kind, target, options.dtype, dirs
            )
            continue
        if name == "fd":
            arrays, refs = layer_fd.fd(w, b, x2, spec.loss.kind, target, options.dtype)
        else:
            arrays = (_numpy if name == "numpy" else _torch)(
                w, b, x2, spec.loss.kind, target, options.dtype
            )
        results[name] = _shaped(name, arrays, spec, options.dtype)
        if directional:
            results[name] = layer_fd.with_projections(results[name], dirs)
    shadow = layer_fd.fd_forward(w, b, x2, spec.loss.kind, target)
    notes: list[str] = []
    scales = layer_laws.scales_of(spec, shadow, target, notes)
    if directional:
        scales.update(layer_fd.projected_scales(scales, dirs))
        notes.append(layer_fd.directional_note(spec))
    n_terms = max(*spec.w.shape, x2.shape[0])
    explained = results.get("numpy") or next(iter(results.values()))
    # exp(z − max z) rounds z − max z by ε·|z|: every quantity after softmax carries a
    # relative error of about that many ulp of the checked dtype
    condition = 4.0 * float(np.max(np.abs(shadow["z"]), initial=0.0))
    after_softmax = {"s", "loss", "dL_ds", "dL_dz", "dW", "db", "dx"}
    # products of probabilities near the dtype's underflow (s_i·s_k) lose their digits:
    # six decades above the smallest normal number, times what multiplies them
    floor_scale = 1e6 * max(
        1.0, float(np.abs(x2).sum(axis=0).max()), float(np.abs(w).sum(axis=0).max())
    )
    return core.judge(
        core.Declaration(
            command="layer",
            title=_title(spec),
            inputs=_inputs(spec),
            notes=tuple(notes),
            labels=LABELS,
            shown=shown.ADAPTER,
            explanation=explainer.explain(spec, explained) if spec.explain else None,
        ),
        results,
        [
            core.Quantity(
                q,
                scale,
                n_terms,
                condition=condition if KEYS[q].quantity in after_softmax else 0.0,
                floor_scale=floor_scale,
                key=KEYS[q],
            )
            for q, scale in scales.items()
        ],
        options=options,
        references_=refs,
        laws=lambda done: layer_laws.laws_of(spec, dict(done), scales, n_terms),
    )


def _rows(spec: LayerSpec) -> tuple[Array, Array, Array, Array]:
    """W, b, x as rows (B, in), and the loss target in the form analytic.loss takes."""
    x2 = spec.x.reshape(1, -1) if spec.x.ndim == 1 else spec.x
    batch = x2.shape[0]
    loss = spec.loss
    if loss.kind == "ce":
        targets = loss.targets if loss.per_row else loss.targets * batch
        target: Array = np.array(targets, dtype=np.int64)
    elif loss.kind == "mse":
        assert loss.y is not None
        target = np.broadcast_to(loss.y, (batch, spec.w.shape[0])).copy()
    else:
        target = np.array(loss.index or 0)
    return spec.w, spec.b, x2, target


def _numpy(w: Array, b: Array, x: Array, kind: str, target: Array, dtype: str) -> dict[str, Array]:
    w, b, x = (a.astype(dtype) for a in (w, b, x))
    t = target.astype(dtype) if kind == "mse" else target
    with np.errstate(all="ignore"):
        z = analytic.linear(w, b, x)
        s = analytic.softmax(z)
        dl_ds = analytic.loss_grad_s(kind, s, t)
        # ce: the fused s − onehot(t), finite where s_t underflows (the chain would be inf·0)
        dl_dz = analytic.ce_grad_z(s, t) if kind == "ce" else analytic.softmax_vjp(s, dl_ds)
        dw, db, dx = analytic.linear_vjp(dl_dz, w, x)
        loss = analytic.loss(kind, z, s, t)
    return {
        "z": z,
        "s": s,
        "loss": loss,
        "dL_ds": dl_ds,
        "dL_dz": dl_dz,
        "dW": dw,
        "db": db,
        "dx": dx,
    }


def _torch(w: Array, b: Array, x: Array, kind: str, target: Array, dtype: str) -> dict[str, Array]:
    from gradcli.backends import autograd

    t = target.astype(dtype) if kind == "mse" else target
    return autograd.layer(w.astype(dtype), b.astype(dtype), x.astype(dtype), kind, t)


def _shaped(name: str, arrays: dict[str, Array], spec: LayerSpec, dtype: str) -> BackendResult:
    """Back to the user's shapes: a single vector x gives vectors z, s, … and a vector dx."""
    single = spec.x.ndim == 1
    out = {}
    for q in QUANTITIES:
        a = np.asarray(arrays[q])
        if single and q in ("z", "s", "dL_ds", "dL_dz", "dx"):
            a = a.reshape(-1)
        out[q] = a if a.flags.c_contiguous else a.copy()
    method = {"numpy": "chain rule by hand", "torch": "autograd", "fd": "central differences"}
    return BackendResult(
        backend_name(name), method[name], precision("fd" if name == "fd" else dtype), out
    )


def _title(spec: LayerSpec) -> str:
    out_features, in_features = spec.w.shape
    batch = "" if spec.x.ndim == 1 else f", batch {spec.x.shape[0]}"
    what = _loss_words(spec.loss, spec.x.ndim == 2)
    seed = "" if spec.seed is None else f", seed {spec.seed}"
    return (
        f"layer z = W·x + b, s = softmax(z), L = {what}\n"
        f"{in_features} → {out_features}{batch}{seed}, {spec.options.dtype}"
    )


def _loss_words(loss: LossSpec, batched: bool = False) -> str:
    if loss.kind == "ce" and loss.per_row:  # per_row implies a batch
        return f"cross-entropy to classes {list(loss.targets)} (one per row, mean over the batch)"
    if loss.kind == "ce":
        batch = " (mean over the batch)" if batched else ""
        return f"cross-entropy to class {loss.targets[0]}{batch}"
    if loss.kind == "mse":
        return "mean squared error to y"
    if loss.kind == "sum":
        return "Σ s (mean over the batch)" if batched else "Σ s"
    return f"s_{loss.index} (mean over the batch)" if batched else f"s_{loss.index}"


def _inputs(spec: LayerSpec) -> dict[str, Any]:
    loss = spec.loss
    loss_doc: dict[str, Any] = {"kind": loss.kind}
    if loss.kind == "ce":
        if loss.per_row:
            loss_doc["targets"] = list(loss.targets)
        else:
            loss_doc["target"] = loss.targets[0]
    elif loss.kind == "mse":
        loss_doc["target"] = loss.y
    elif loss.kind == "output":
        loss_doc["index"] = loss.index
    return {
        "W": spec.w,
        "b": spec.b,
        "x": spec.x,
        "loss": loss_doc,
        "seed": spec.seed,
        "dtype": spec.options.dtype,
    }
