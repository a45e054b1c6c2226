"""Specs from what the user gave: every argument checked by its rule in gradcli.params
(the rules the CLI's options use), then the frozen spec a problem runs. The API's
functions and the CLI's commands both build their specs here, so the same options give
the same Report through both (tests/test_api_params.py compares the documents).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradcli.spec import GraphSpec, LayerSpec, RunOptions, SoftmaxSpec


def run_options(
    backends: Any, dtype: Any, rtol: Any, atol: Any, *, cli: bool = False
) -> RunOptions:
    """The options every problem shares, each by its rule (`cli` names them as options)."""
    from gradcli import params
    from gradcli.spec import RunOptions

    names = (
        ("--backend", "--dtype", "--rtol", "--atol")
        if cli
        else ("backends", "dtype", "rtol", "atol")
    )
    return RunOptions(
        params.backends(backends, names[0]),
        params.dtype(dtype, names[1]),
        params.tolerance(rtol, names[2]),
        params.tolerance(atol, names[3]),
    )


def _fits(arrays: Mapping[str, Any], dtype: str) -> None:
    """Values that would overflow `dtype` (1e39 in float32) are refused, not made inf."""
    from gradcli.inputs import check_fits_dtype

    for name, array in arrays.items():
        check_fits_dtype(array, dtype, name)


def softmax_spec(
    z: Any, temperature: Any, options: RunOptions, *, cli: bool = False
) -> SoftmaxSpec:
    from gradcli import params
    from gradcli.arrays import real_array
    from gradcli.spec import SoftmaxSpec

    t = params.temperature(temperature, "--temperature" if cli else "temperature")
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
    from gradcli.names import LOSSES
    from gradcli.spec import LayerSpec, LossSpec

    prebuilt = loss if isinstance(loss, LossSpec) else None  # --spec's loss, with overrides
    kind = (
        prebuilt.kind if prebuilt else params.choice("ce" if loss is None else loss, "loss", LOSSES)
    )
    params.exclusive({"target": target, "targets": targets})
    classes = None if targets is None else params.classes(targets, "targets")
    if index is not None:
        index = params.integer(index, "index", 0, 2**31)
    if explain is not None:
        explain = params.explain(explain, "explain")
    mode = params.fd_mode(fd_mode)
    if target is not None and kind == "mse":
        target = real_array(target, "target").tolist()
    elif target is not None and kind == "ce":
        target = params.integer(target, "target", 0, 2**31)
    drawn: dict[str, Any] = {}
    if w is None and b is None and x is None:
        seed = params.seed(0 if seed is None else seed)
        in_f, out_f, batch = (
            params.integer(sizes[0], "in_features", 1, layer_inputs.MAX_FEATURES),
            params.integer(sizes[1], "out_features", 1, layer_inputs.MAX_FEATURES),
            None
            if sizes[2] is None
            else params.integer(sizes[2], "batch", 1, layer_inputs.MAX_BATCH),
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


MAX_RAND_ELEMENTS = 10_000_000
MAX_NAME_LENGTH = 1000  # of a graph variable: a --save member "<backend>.grads.<name>.npy"


def graph_spec(
    program: Any,
    inputs: Any,
    options: RunOptions,
    *,
    rand: Any = None,
    seed: Any = 0,
    cli: bool = False,
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
    draws = [_draw(name, text, cli) for name, text in (rand or {}).items()]
    values = {}
    for name, value in (inputs or {}).items():
        if name in (rand or {}):
            raise InputError(f"{'--var ' if cli else ''}{name}: {name!r} is given twice")
        values[name] = real_array(value, f"--var {name}" if cli else name, max_dims=32)
    names = tuple([d[0] for d in draws] + list(values))
    parsed = parse_program(program, names)
    too_long = [n for n in parsed.variables if len(n) > MAX_NAME_LENGTH]
    if too_long:
        raise InputError(
            f"the name {too_long[0][:40]}… has {len(too_long[0])} characters; "
            f"the limit is {MAX_NAME_LENGTH}"
        )
    seed = params.seed(seed, "--seed" if cli else "seed")
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


def _draw(name: str, text: Any, cli: bool) -> tuple[str, tuple[int, ...], str]:
    from gradcli import params
    from gradcli.errors import InputError

    where = f"--rand {name}=" if cli else f"rand[{name!r}]"
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
