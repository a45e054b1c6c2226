"""Where a layer comes from: drawn from a seed, or read from a --spec JSON document."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.errors import InputError
from gradcli.inputs import to_array
from gradcli.limits import check_memory, layer_peak
from gradcli.names import LOSSES
from gradcli.params import INTEGER
from gradcli.spec import LayerSpec, LossSpec

MAX_FEATURES = 100_000
MAX_BATCH = 100_000


def draw_layer(seed: int, in_features: int, out_features: int, batch: int | None) -> dict[str, Any]:
    """W and b uniform in ±1/√in (as torch.nn.Linear initialises them), x standard normal,
    and an mse target y from Dirichlet(1), in that order, from numpy.random.default_rng."""
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(in_features)
    w = rng.uniform(-bound, bound, size=(out_features, in_features))
    b = rng.uniform(-bound, bound, size=out_features)
    x = rng.standard_normal(size=(in_features,) if batch is None else (batch, in_features))
    y = rng.dirichlet(np.ones(out_features), size=None if batch is None else batch)
    return {"W": w, "b": b, "x": x, "y": y}


def check_sizes(in_features: int, out_features: int, batch: int | None) -> None:
    """Sizes in range, and the layer's arrays within the memory available, before any
    of them is drawn."""
    for name, value, limit in (
        ("--in-features", in_features, MAX_FEATURES),
        ("--out-features", out_features, MAX_FEATURES),
        ("--batch", batch, MAX_BATCH),
    ):
        if value is not None and not 1 <= value <= limit:
            raise InputError(f"{name} {value}: must be from 1 to {limit}")
    rows = batch or 1
    elements = out_features * in_features + out_features + rows * (in_features + out_features)
    check_memory(
        layer_peak(elements, [], ("numpy", "torch", "fd"), plot=False),  # test_memory.py
        f"a {out_features}×{in_features} layer with a batch of {rows}",
        "use a smaller layer",
    )


SPEC_KEYS = frozenset({"W", "b", "x", "loss", "dtype", "seed"})  # "seed": layer --json's
LOSS_KEYS = frozenset({"kind", "target", "targets", "index"})


def read_spec(doc: Any, source: str) -> dict[str, Any]:
    """W, b, x (arrays), the loss (a dict or None) and dtype (or None) from a spec document:
    a plain {"W", "b", "x", "loss"} or a gradcli layer --json output (its "inputs")."""
    if not isinstance(doc, dict):
        raise InputError(f"{source}: expected a JSON object with W, b and x")
    if "inputs" in doc:
        if doc.get("command") not in (None, "layer"):
            raise InputError(f"{source}: a gradcli {doc.get('command')} document, not a layer")
        doc = doc["inputs"]
        if not isinstance(doc, dict):
            raise InputError(f'{source}: "inputs" must be an object')
    else:  # a plain spec: a key gradcli does not read is a typo, not a comment
        unknown = sorted(set(doc) - SPEC_KEYS)
        if unknown:
            hint = '; targets go in the loss: {"kind": "ce", "targets": [0, 1]}'
            raise InputError(
                f"{source}: unknown key {unknown[0]!r} (a spec has {', '.join(sorted(SPEC_KEYS))})"
                + (hint if unknown[0] in LOSS_KEYS else "")
            )
    missing = [key for key in ("W", "b", "x") if key not in doc]
    if missing:
        raise InputError(f"{source}: missing {', '.join(missing)}")
    arrays = {key: _spec_array(doc[key], f"{source}: {key}") for key in ("W", "b", "x")}
    loss = doc.get("loss")
    if loss is not None and not isinstance(loss, dict):
        raise InputError(
            f'{source}: "loss" must be an object such as {{"kind": "ce", "target": 0}}'
        )
    unknown = sorted(set(loss or {}) - LOSS_KEYS)
    if unknown:
        raise InputError(
            f"{source}: loss: unknown key {unknown[0]!r} "
            f"(a loss has {', '.join(sorted(LOSS_KEYS))})"
        )
    dtype = doc.get("dtype")
    if dtype is not None and dtype not in ("float64", "float32"):
        raise InputError(f"{source}: dtype {dtype!r} is not float64 or float32")
    return {**arrays, "loss": loss, "dtype": dtype}


def _spec_array(value: Any, where: str) -> np.ndarray:
    if isinstance(value, dict) and value.get("omitted"):
        raise InputError(
            f"{where} was omitted from that JSON (too large); use --save and a plain spec"
        )
    if not isinstance(value, list):
        raise InputError(f"{where}: expected a list of numbers")
    return to_array(value, where)


def build_loss(
    kind: str,
    *,
    target: Any = None,
    targets: Any = None,
    index: Any = None,
    drawn_y: np.ndarray | None = None,
    where: str = "",
) -> LossSpec:
    """A LossSpec from loose values (command line or JSON); shapes are checked later."""
    if kind not in LOSSES:
        raise InputError(f"{where}loss {kind!r} is not one of {', '.join(LOSSES)}")
    if kind != "ce" and targets is not None:
        raise InputError(f"{where}--targets goes with --loss ce")
    if kind in ("sum", "output") and target is not None:
        raise InputError(f"{where}--target goes with --loss ce or mse, not {kind}")
    if kind != "output" and index is not None:
        raise InputError(f"{where}--index goes with --loss output")
    if kind == "ce":
        if targets is not None:
            if not isinstance(targets, (list, tuple)):
                raise InputError(
                    f"{where}targets {targets!r}: one class per row, as a list such as [0, 2]"
                )
            return LossSpec("ce", tuple(_class(t, where) for t in targets), per_row=True)
        return LossSpec("ce", (_class(0 if target is None else target, where),))
    if kind == "mse":
        if target is None and drawn_y is None:
            raise InputError(f"{where}--loss mse needs --target (a JSON vector or matrix)")
        y = drawn_y if target is None else to_array(target, f"{where}--target")
        return LossSpec("mse", y=y)
    if kind == "output":
        return LossSpec("output", index=_class(0 if index is None else index, where))
    return LossSpec("sum")


def loss_from_json(loss: dict[str, Any], where: str) -> LossSpec:
    kind = loss.get("kind", "ce")
    return build_loss(
        str(kind),
        target=loss.get("target"),
        targets=loss.get("targets"),
        index=loss.get("index"),
        where=where,
    )


def _class(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and INTEGER.match(value.strip()):  # ASCII digits: not '²'
            return int(value)
        raise InputError(f"{where}class {value!r} is not an integer")
    return value


def validate(spec: LayerSpec) -> None:
    """Shapes that fit, finite values, classes and indices in range."""
    w, b, x = spec.w, spec.b, spec.x
    if w.ndim != 2 or 0 in w.shape:
        raise InputError(f"W must be a non-empty (out, in) matrix, got shape {w.shape}")
    out_features, in_features = w.shape
    if b.shape != (out_features,):
        raise InputError(f"b has shape {b.shape}, but W {w.shape} needs ({out_features},)")
    if x.ndim not in (1, 2) or x.shape[-1] != in_features or 0 in x.shape:
        needs = f"({in_features},) or (batch, {in_features})"
        raise InputError(f"x has shape {x.shape}, but W {w.shape} needs {needs}")
    batch = 1 if x.ndim == 1 else x.shape[0]
    loss = spec.loss
    if loss.kind == "ce":
        if loss.per_row and len(loss.targets) != batch:
            raise InputError(f"--targets lists {len(loss.targets)} classes for a batch of {batch}")
        for t in loss.targets:
            if not 0 <= t < out_features:
                raise InputError(f"target class {t} is out of range 0..{out_features - 1}")
    if loss.kind == "output" and not 0 <= (loss.index or 0) < out_features:
        raise InputError(f"--index {loss.index} is out of range 0..{out_features - 1}")
    if loss.kind == "mse":
        assert loss.y is not None
        allowed = {(out_features,), (batch, out_features)} if x.ndim == 2 else {(out_features,)}
        if loss.y.shape not in allowed:
            raise InputError(
                f"mse target has shape {loss.y.shape}, expected "
                + " or ".join(str(a) for a in sorted(allowed))
            )
