"""From a CheckSpec to a Subject: the forward's inputs matched to the names given, a
module's parameters added as inputs, and whether the forward takes numpy arrays, torch
tensors or both (tried in that order, and both failures named if neither works)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.commands.check import guard
from gradcli.commands.check.signature import UNNAMED, Parameters, bind, name_inputs, parameters
from gradcli.commands.check.subject import Subject, tensors
from gradcli.errors import InputError

Array = np.ndarray[Any, Any]


def plan(spec: Any) -> tuple[Subject, list[dict[str, Array]]]:
    """The subject, and each trial's inputs by name (a module's parameters included);
    for second order, the first derivative made the subject (check_second)."""
    from gradcli.commands.check import second as check_second

    if spec.mode == "function":
        subject, trials = _function(spec)
        _no_grad(subject, spec.no_grad)
        if spec.second == "order2":
            trials = check_second.order_two(subject, trials, spec.seed)
        return subject, trials
    if spec.second == "order2":
        raise InputError("--order 2 is for a torch.autograd.Function; for a loss, use --hvp FN")
    if spec.mode == "module":
        return _module(spec)
    params = parameters(spec.forward)
    names, trials = _named_trials(spec, params, "the forward")
    subject = Subject("forward", spec.forward, params, names, dict(spec.args), debug=spec.debug)
    _no_grad(subject, spec.no_grad)
    _probe(subject, trials[0], spec.options.dtype)
    if spec.second == "hvp":
        check_second.hvp(subject)
    return subject, trials


def _no_grad(subject: Subject, names: tuple[str, ...]) -> None:
    """Inputs passed to the code but not differentiated (needs_input_grad False)."""
    if not names:
        return
    unknown = [n for n in names if n not in subject.names]
    if unknown:
        raise InputError(
            f"--no-grad names {', '.join(unknown)}, which is not an input "
            f"(the inputs are {', '.join(subject.names)})"
        )
    if set(names) >= set(subject.names):
        raise InputError("--no-grad leaves no input to differentiate")
    subject.call_order = subject.names
    subject.names = tuple(n for n in subject.names if n not in names)


def _named_trials(
    spec: Any, params: Parameters | None, what: str
) -> tuple[tuple[str, ...], list[dict[str, Array]]]:
    given = list(spec.inputs[0])
    names = name_inputs(given, spec.args, params, what)
    if UNNAMED in given:
        (resolved,) = set(names) - (set(given) - {UNNAMED})
        rename = {UNNAMED: resolved}
    else:
        rename = {}
    trials = [{rename.get(k, k): v for k, v in trial.items()} for trial in spec.inputs]
    return names, [{n: t[n] for n in names} for t in trials]


def _function(spec: Any) -> tuple[Subject, list[dict[str, Array]]]:
    import torch

    function = spec.derivative
    own_setup = getattr(function, "setup_context", None) is not getattr(
        torch.autograd.Function, "setup_context", None
    )
    params = parameters(function.forward, skip=0 if own_setup else 1)
    names, trials = _named_trials(spec, params, "the Function's forward")
    subject = Subject("function", function, params, names, dict(spec.args), debug=spec.debug)
    subject.autograd = _differentiable(subject, trials[0])
    return subject, trials


def _differentiable(subject: Subject, values: dict[str, Array]) -> bool:
    """Whether autograd can differentiate the Function's forward as plain operations:
    a forward that calls numpy inside (PyTorch's "extending with numpy" tutorial) leaves
    torch, and its result depends on no input (or `.numpy()` of an input that requires
    grad raises). Then fd alone is the reference, and the report says so."""
    import torch

    try:
        with torch.enable_grad(), guard.user_stdout():
            outputs = subject.reference(tensors(values, "float64", subject.names))
    except InputError:
        return False
    return any(getattr(y, "requires_grad", False) for y in outputs)


def _module(spec: Any) -> tuple[Subject, list[dict[str, Array]]]:
    import torch

    module = spec.forward
    params = parameters(module.forward)
    forward_args = dict(spec.args)
    names, trials = _named_trials(spec, params, "the module's forward")
    meta = [name for name, p in module.named_parameters() if p.is_meta]
    if meta:
        raise InputError(
            f"the module's parameter {meta[0]} is on the meta device, which holds no values: "
            "make the module on the CPU (or .to_empty(device='cpu') and initialise it)"
        )
    weights = {
        name: p.detach().to("cpu", torch.float64).numpy().copy()
        for name, p in module.named_parameters()
        if p.requires_grad
    }
    if not weights and not names:
        raise InputError("the module has no parameters and no inputs to check")
    clash = set(weights) & set(names)
    if clash:
        raise InputError(f"the module's inputs and parameters share names: {sorted(clash)}")
    functions = tuple(_custom_functions(module))
    subject = Subject(
        "module",
        module,
        params,
        (*names, *weights),
        forward_args,
        module_inputs=names,
        autograd=True,
        debug=spec.debug,
        functions=functions,
    )
    return subject, [{**t, **weights} for t in trials]


def _custom_functions(module: Any) -> list[Any]:
    """The torch.autograd.Function subclasses in the modules that define the module's
    layers: the reference replaces their apply with their forward's operations."""
    import sys

    import torch

    found: list[Any] = []
    sources = {type(m).__module__ for m in module.modules()}
    for source in sources:
        namespace = vars(sys.modules[source]) if source in sys.modules else {}
        for value in namespace.values():
            if (
                isinstance(value, type)
                and issubclass(value, torch.autograd.Function)
                and value.__module__ == source
                and value not in found
            ):
                found.append(value)
    return found


def _probe(subject: Subject, values: dict[str, Array], dtype: str) -> None:
    """Whether the forward takes numpy arrays (tried first) and torch tensors (then
    autograd is a reference); one line naming both failures if it takes neither."""
    numpy_error: Exception | None = None
    if dtype != "bfloat16":  # numpy has no bfloat16
        try:
            _call(subject, {k: v.astype(dtype) for k, v in values.items()})
            subject.takes_numpy = True
        except InputError:
            raise
        except Exception as exc:
            numpy_error = exc
    torch_error: Exception | None = None
    try:
        outputs = _call(subject, tensors(values, dtype, subject.names))
        subject.autograd = all(getattr(y, "requires_grad", False) for y in outputs)
    except InputError:
        raise
    except Exception as exc:
        torch_error = exc
    if subject.takes_numpy or subject.autograd:
        return
    if numpy_error is not None and _text(numpy_error) == _text(torch_error):
        raise InputError(
            guard.failure("the forward raised", numpy_error, subject.debug)
            + " (on numpy arrays and on torch tensors)"
        )
    if numpy_error is not None and subject.debug:
        guard.failure("", numpy_error, True)
    on_torch = (
        "it returned no tensor that depends on its inputs"
        if torch_error is None
        else f"it raised {_text(torch_error)}"
    )
    tried = f"on torch tensors ({dtype}) {on_torch}"
    if numpy_error is not None:
        tried = f"on numpy arrays ({dtype}) it raised {_text(numpy_error)}; {tried}"
    raise InputError(f"the forward takes neither numpy arrays nor torch tensors: {tried}")


def _text(exc: Exception | None) -> str:
    if exc is None:
        return ""
    text = " ".join(guard.safe_str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _call(subject: Subject, values: dict[str, Any]) -> tuple[Any, ...]:
    """The forward once, for the probe: Exceptions pass to the caller (it tries the other
    kind), anything else (SystemExit, GeneratorExit) is reported at once."""
    positional, keywords = bind({**values, **subject.args}, subject.params)
    try:
        with guard.user_stdout():
            value = subject.code(*positional, **keywords)
    except (KeyboardInterrupt, Exception):
        raise
    except BaseException as exc:
        raise InputError(guard.failure("the forward raised", exc, subject.debug)) from None
    outputs = subject.outputs(value, "the forward")
    for y in outputs:
        guard.as_array(y, "the forward")
    return outputs
