"""Specs from what the user gave: every argument checked by its rule in gradcli.params
(the rules the CLI's options use), then the frozen spec a problem runs. The API's
functions and the CLI's commands both build their specs here, so the same options give
the same Report through both (tests/test_api_params.py compares the documents).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradcli.spec import GraphSpec, LayerSpec, LossSpec, RunOptions, SoftmaxSpec


def run_options(backends: Any, dtype: Any, rtol: Any, atol: Any) -> RunOptions:
    """The options every problem shares, each by its rule."""
    from gradcli import params
    from gradcli.spec import RunOptions

    return RunOptions(
        params.backends(backends, params.named("backends", "--backend")),
        params.dtype(dtype, params.named("dtype", "--dtype")),
        params.tolerance(rtol, params.named("rtol", "--rtol")),
        params.tolerance(atol, params.named("atol", "--atol")),
    )


def _fits(arrays: Mapping[str, Any], dtype: str) -> None:
    """Values that would overflow `dtype` (1e39 in float32) are refused, not made inf."""
    from gradcli.inputs import check_fits_dtype

    for name, array in arrays.items():
        check_fits_dtype(array, dtype, name)


def softmax_spec(z: Any, temperature: Any, options: RunOptions) -> SoftmaxSpec:
    from gradcli import params
    from gradcli.arrays import real_array
    from gradcli.spec import SoftmaxSpec

    t = params.temperature(temperature, params.named("temperature", "--temperature"))
    return SoftmaxSpec(real_array(z, "z"), t, options)


def layer_spec(
    w: Any,
    b: Any,
    x: Any,
    loss: Any,
    *,
    target: Any,
    targets: Any,
    index: Any,
    explain: Any,
    fd_mode: Any,
    options: RunOptions,
    seed: Any = None,
    sizes: tuple[Any, Any, Any] = (3, 3, None),
    drawn_y: Any = None,
) -> LayerSpec:
    """A LayerSpec: W, b and x as given, or (all three None) drawn from `seed` with
    `sizes` = (in_features, out_features, batch), as `gradcli layer --seed` draws them."""
    from gradcli import params
    from gradcli.arrays import real_array
    from gradcli.commands.layer import inputs as layer_inputs
    from gradcli.errors import InputError
    from gradcli.names import LOSSES
    from gradcli.spec import LayerSpec, LossSpec

    prebuilt = loss if isinstance(loss, LossSpec) else None  # --spec's loss, with overrides
    kind = (
        prebuilt.kind if prebuilt else params.choice("ce" if loss is None else loss, "loss", LOSSES)
    )
    params.exclusive(
        {params.named("target", "--target"): target, params.named("targets", "--targets"): targets}
    )
    classes = (
        None if targets is None else params.classes(targets, params.named("targets", "--targets"))
    )
    if index is not None:
        index = params.integer(index, params.named("index", "--index"), 0, 2**31)
    if explain is not None:
        explain = params.explain(explain, params.named("explain", "--explain"))
    mode = params.fd_mode(fd_mode)
    if target is not None and kind == "mse":
        target = real_array(target, "target").tolist()
    elif target is not None and kind == "ce":
        where = params.named("target", "--target")
        if isinstance(target, bool) or not isinstance(target, (int, str)):
            raise InputError(
                f"{params.where(where, target)}: a class for cross-entropy is an integer"
            )
        target = params.integer(target, where, 0, 2**31)
    drawn: dict[str, Any] = {}
    if w is None and b is None and x is None:
        seed = params.seed(0 if seed is None else seed, params.named("seed", "--seed"))
        features, rows = layer_inputs.MAX_FEATURES, layer_inputs.MAX_BATCH
        in_f = params.integer(sizes[0], params.named("in_features", "--in-features"), 1, features)
        out_f = params.integer(
            sizes[1], params.named("out_features", "--out-features"), 1, features
        )
        batch = (
            None
            if sizes[2] is None
            else params.integer(sizes[2], params.named("batch", "--batch"), 1, rows)
        )
        layer_inputs.check_sizes(in_f, out_f, batch)
        drawn = layer_inputs.draw_layer(seed, in_f, out_f, batch)
        w, b, x, drawn_y = drawn["W"], drawn["b"], drawn["x"], drawn["y"]
    else:
        seed = None
        w, b, x = real_array(w, "W"), real_array(b, "b"), real_array(x, "x")
    _fits({"W": w, "b": b, "x": x}, options.dtype)
    loss_spec = prebuilt or layer_inputs.build_loss(
        kind, target=target, targets=classes, index=index, drawn_y=drawn_y
    )
    return LayerSpec(w, b, x, loss_spec, seed, explain, options, mode)


def layer_document(document: Any) -> dict[str, Any]:
    """W, b, x (arrays), the loss (a dict or None) and dtype (or None) of a layer's spec:
    a mapping ({"W", "b", "x", "loss"}, or a `gradcli layer --json` document), or the
    path of a JSON file holding one."""
    import os

    from gradcli import inputs, params
    from gradcli.commands.layer.inputs import read_spec

    if isinstance(document, (str, os.PathLike)):
        path = params.not_empty(os.fspath(document), params.named("spec", "--spec"), "a file")
        return read_spec(inputs.parse_json(inputs.read_text_file(path), path), path)
    return read_spec(document, params.named("spec", "--spec -"))


def layer_loss(from_spec: dict[str, Any] | None, kind: Any, overrides: dict[str, Any]) -> LossSpec:
    """The spec's loss, with the loss, target, targets and index given beside it
    overriding it (another kind of loss replaces it whole)."""
    from gradcli import params
    from gradcli.commands.layer.inputs import loss_from_json
    from gradcli.names import LOSSES

    base = dict(from_spec or {"kind": "ce"})
    if kind is not None:
        kind = params.choice(kind, params.named("loss", "--loss"), LOSSES)
        if kind != base.get("kind"):
            base = {"kind": kind}
    for key, value in overrides.items():
        if value is not None:
            base.pop("target" if key == "targets" else "targets" if key == "target" else key, None)
            base[key] = value
    where = params.named("spec loss: ", "--spec loss: ") if from_spec else ""
    return loss_from_json(base, where)


MAX_RAND_ELEMENTS = 10_000_000
MAX_NAME_LENGTH = 1000  # of a graph variable: a --save member "<backend>.grads.<name>.npy"


def graph_spec(
    program: Any,
    inputs: Any,
    options: RunOptions,
    *,
    rand: Any = None,
    seed: Any = 0,
) -> GraphSpec:
    """A GraphSpec: `rand` maps names to "SHAPE[:normal|:uniform]" (drawn by torch after
    manual_seed(seed), first, in order), `inputs` names to arrays."""
    from gradcli import params
    from gradcli.arrays import real_array
    from gradcli.commands.graph.parse import parse_program
    from gradcli.errors import InputError
    from gradcli.spec import GraphSpec

    if not isinstance(program, str):
        raise InputError(f"program: expected the program's text, got {params.shown(program)}")
    for what, mapping in (("inputs", inputs), ("rand", rand)):
        if mapping is not None and not isinstance(mapping, Mapping):
            raise InputError(f"{what}: expected a mapping of names, got {params.shown(mapping)}")
        if mapping is not None and not all(isinstance(k, str) for k in mapping):
            raise InputError(f"{what}: every name must be a string")
    draws = [_draw(name, text) for name, text in (rand or {}).items()]
    values = {}
    for name, value in (inputs or {}).items():
        var = params.named(name, f"--var {name}")
        if name in (rand or {}):
            raise InputError(f"{var}: {name!r} is given twice")
        values[name] = real_array(value, var, max_dims=32)
    names = tuple([d[0] for d in draws] + list(values))
    parsed = parse_program(program, names)
    too_long = [n for n in parsed.variables if len(n) > MAX_NAME_LENGTH]
    if too_long:
        raise InputError(
            f"the name {too_long[0][:40]}… has {len(too_long[0])} characters; "
            f"the limit is {MAX_NAME_LENGTH}"
        )
    seed = params.seed(seed, params.named("seed", "--seed"))
    if draws:
        from gradcli.backends import autograd

        values = {**autograd.rand_inputs(draws, seed), **values}
    _fits(values, options.dtype)
    labels = tuple(
        f"{n}={'x'.join(map(str, s)) or '()'}{':normal' if d == 'normal' else ''}"
        for n, s, d in draws
    )
    return GraphSpec(
        parsed, {n: values[n] for n in names}, seed if draws else None, labels, options
    )


def _draw(name: str, text: Any) -> tuple[str, tuple[int, ...], str]:
    from gradcli import params
    from gradcli.errors import InputError

    where = params.named(f"rand[{name!r}]", f"--rand {name}=")
    if not name:
        raise InputError(f"{where}{text}: write NAME=SHAPE such as a=10x10 (or a=10x10:normal)")
    dist = "uniform"
    if isinstance(text, str):
        text, _, dist = text.partition(":")
        if dist not in ("", "normal", "uniform"):
            raise InputError(
                f"{params.where(where, text)}: the distribution is :normal or :uniform, "
                f"not {dist!r}"
            )
    shape = params.shape(text, where, MAX_RAND_ELEMENTS, minimum=0)
    return name, shape, "normal" if dist == "normal" else "uniform"
