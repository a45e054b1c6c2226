"""What `gradcli check` differentiates: the user's forward as a function of named inputs,
in three forms.

- `user`: the forward as the user wrote it, in the user's dtype (a Function through its
  own `apply`, a module with its own custom layers): what "yours" differentiates.
- `reference`: the same computation on float64 tensors, differentiable by autograd
  through plain torch operations (a Function's forward run for its operations, a
  module's custom Functions replaced by their forwards): the "torch" reference.
- `evaluate`: float64 values only, on numpy arrays when the forward takes them, else on
  tensors: what finite differences call.

A forward may take numpy arrays, torch tensors or both; gradcli tries numpy first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcli.commands.check import guard
from gradcli.commands.check.signature import Parameters, bind
from gradcli.errors import InputError

Array = np.ndarray[Any, Any]


@dataclass
class Subject:
    kind: str  # "forward" | "function" | "module"
    code: Any  # the forward, the Function class, or the built module
    params: Parameters | None  # of the forward (without ctx / self)
    names: tuple[str, ...]  # the inputs whose gradients are checked, in order
    args: dict[str, Any]  # non-array arguments, by keyword
    module_inputs: tuple[str, ...] = ()  # for a module: the forward's inputs (not parameters)
    takes_numpy: bool = False  # the forward accepts numpy arrays
    autograd: bool = False  # the forward accepts tensors differentiably: torch is a reference
    debug: bool = False
    functions: tuple[Any, ...] = field(default=())  # a module's custom autograd.Functions
    _copies: dict[str, Any] = field(default_factory=dict)  # the module in each dtype
    # second order (check_second): the first derivative as the forward, (values, ops_only)
    gradient_map: Any = None
    # every input in the forward's order, those not differentiated (--no-grad) included
    call_order: tuple[str, ...] = ()
    # what a failure of this code is called: "the forward", or the --against function
    label: str = "the forward"

    @property
    def all_inputs(self) -> tuple[str, ...]:
        return self.call_order or self.names

    # --- calling -----------------------------------------------------------------------

    def _call(self, values: dict[str, Any], what: str, *, ops_only: bool = False) -> Any:
        if self.gradient_map is not None:
            return guard.call(self.gradient_map, (values, ops_only), what, debug=self.debug)
        if self.kind == "module":
            return self._call_module(values, what, ops_only=ops_only)
        positional, keywords = bind({**values, **self.args}, self.params)
        if self.kind == "function":
            if ops_only:
                return guard.call(
                    forward_ops, (self.code, positional, keywords), what, debug=self.debug
                )
            return guard.call(self.code.apply, positional, what, kwargs=keywords, debug=self.debug)
        return guard.call(self.code, positional, what, kwargs=keywords, debug=self.debug)

    def _call_module(self, values: dict[str, Any], what: str, *, ops_only: bool) -> Any:
        import torch

        any_tensor = next(iter(values.values()))
        module = self._module_in(str(any_tensor.dtype).removeprefix("torch."))
        params = {n: values[n] for n in self.names if n not in self.module_inputs}
        inputs = {n: values[n] for n in self.module_inputs}
        positional, keywords = bind({**inputs, **self.args}, self.params)

        def run() -> Any:
            return torch.func.functional_call(module, params, positional, keywords)

        with _forwards_as_ops(self.functions) if ops_only else contextlib.nullcontext():
            return guard.call(run, (), what, debug=self.debug)

    def _module_in(self, dtype: str) -> Any:
        import copy

        import torch

        if dtype not in self._copies:
            self._copies[dtype] = copy.deepcopy(self.code).to(getattr(torch, dtype))
        return self._copies[dtype]

    def outputs(self, value: Any, what: str) -> tuple[Any, ...]:
        """The forward's result as a tuple of outputs."""
        if isinstance(value, (tuple, list)) and not isinstance(value, np.ndarray):
            if not value:
                raise InputError(f"{what} returned an empty tuple")
            return tuple(value)
        return (value,)

    def user(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """The forward as written, on arrays or tensors of the user's dtype."""
        return self.outputs(self._call(values, self.label), self.label)

    def reference(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """float64 tensors in, differentiable tensors out, by plain torch operations."""
        return self.outputs(self._call(values, self.label, ops_only=True), self.label)

    @property
    def complex_capable(self) -> bool:
        """A plain forward (numpy or torch), which the complex step may call with complex
        input; whether it carries it is probed once (check_analytic)."""
        return self.kind == "forward" and self.gradient_map is None

    def evaluate_complex(self, values: dict[str, Array]) -> tuple[Array, ...] | None:
        """complex128 outputs at complex128 inputs (numpy arrays, or complex128 tensors
        for a torch-only forward), or None where the forward returns real numbers (it
        dropped the imaginary part: no complex step). What it raises is one InputError
        line, as every call of the user's code; its warnings about complex numbers (a
        cast that discards the imaginary part) are the probe's business, not output."""
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.takes_numpy:
                outputs = [guard.as_complex(y) for y in self.user(values)]
            else:
                import torch

                with torch.no_grad():
                    tensors = {
                        k: torch.from_numpy(np.array(v, dtype=np.complex128))
                        for k, v in values.items()
                    }
                    outputs = [guard.as_complex(y) for y in self.user(tensors)]
        return (
            None if any(y is None for y in outputs) else tuple(y for y in outputs if y is not None)
        )

    def evaluate(self, values: dict[str, Array]) -> tuple[Array, ...]:
        """float64 outputs at float64 inputs: what finite differences call."""
        if self.takes_numpy:
            out = self.user(values)
            return tuple(guard.as_array(y, self.label) for y in out)
        import torch

        with torch.no_grad():
            tensors = {
                k: torch.from_numpy(np.array(v, dtype=np.float64)) for k, v in values.items()
            }
            out = self.user(tensors)
        return tuple(guard.as_array(y, self.label) for y in out)


def forward_ops(function: Any, positional: tuple[Any, ...], keywords: dict[str, Any]) -> Any:
    """A Function's forward run for its operations only (autograd then differentiates
    them, never the Function's own backward)."""
    import inspect

    parameters = inspect.signature(function.forward).parameters
    if "ctx" in parameters or len(parameters) > len(positional) + len(keywords):
        ctx = _RecordingContext(len(positional))
        return function.forward(ctx, *positional, **keywords)
    return function.forward(*positional, **keywords)  # forward(*args) with setup_context


class _RecordingContext:
    """Stands in for ctx when a Function's forward runs for its operations only."""

    def __init__(self, n_inputs: int) -> None:
        self.saved_tensors: tuple[Any, ...] = ()
        self.needs_input_grad = (True,) * n_inputs

    def save_for_backward(self, *tensors: Any) -> None:
        self.saved_tensors = tensors

    def save_for_forward(self, *tensors: Any) -> None:
        pass

    def mark_non_differentiable(self, *args: Any) -> None:
        pass

    def mark_dirty(self, *args: Any) -> None:
        pass

    def set_materialize_grads(self, value: bool) -> None:
        pass


@contextlib.contextmanager
def _forwards_as_ops(functions: tuple[Any, ...]) -> Iterator[None]:
    """Every custom Function of a module applied as its forward's operations, for the
    reference pass: autograd then differentiates what the forward computes."""
    saved = {f: f.__dict__.get("apply") for f in functions}
    try:
        for function in functions:

            def apply(*args: Any, _function: Any = function, **kwargs: Any) -> Any:
                return forward_ops(_function, args, kwargs)

            function.apply = staticmethod(apply)
        yield
    finally:
        for function, original in saved.items():
            if original is None:
                del function.apply
            else:
                function.apply = original


def tensors(values: dict[str, Array], dtype: str, grad: tuple[str, ...] = ()) -> dict[str, Any]:
    """torch tensors of `dtype` (a private copy each), requiring grad for `grad`."""
    import torch

    out = {}
    for name, value in values.items():
        tensor = torch.from_numpy(np.array(value, dtype=np.float64)).to(getattr(torch, dtype))
        out[name] = tensor.requires_grad_(name in grad)
    return out
