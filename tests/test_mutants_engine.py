"""The numpy graph engine (gradcli/backends/engine.py) where mutmut found it untested:
constants (no gradient, even as the loss), the loss of infinities, and the engine's own
guards around a rule (as many gradients as arguments, each in its node's dtype)."""

import dataclasses
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from gradcli.backends import engine
from gradcli.cli import cli
from gradcli.ops import REGISTRY
from gradcli.problems.graph_parse import parse_program

DTYPES = ["float32", "float64"]


def run(text, dtype, **inputs):
    program = parse_program(text, tuple(inputs))
    values = engine.forward(program, {k: np.array(v) for k, v in inputs.items()}, dtype)
    grads, contributions = engine.backward(program, values)
    return program, values, grads, contributions


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_loss_of_inf_and_minus_inf_is_nan_without_a_warning(dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = engine.loss_of(np.array([np.inf, -np.inf, 0.0], dtype=dtype))
    assert np.isnan(loss)
    assert engine.loss_of(np.array([-1.5, 0.0, 2.0], dtype=dtype)) == 0.5


@pytest.mark.parametrize("dtype", DTYPES)
def test_constants_take_no_gradient(dtype):
    # y = a·2 − 1: ∂L/∂a = 2 at every element (negative, zero, positive); the constants
    # 2 and 1 are not variables, so they get no gradient and no share
    program, _, grads, contributions = run("y = a * 2 - 1", dtype, a=[-1.5, 0.0, 2.0])
    a = program.variables["a"]
    np.testing.assert_array_equal(grads[a], [2.0, 2.0, 2.0])
    assert grads[a].dtype == dtype
    constants = [n for n, node in enumerate(program.nodes) if node.op == "const"]
    assert len(constants) == 2
    assert all(grads[n] is None for n in constants)
    assert not set(constants) & set(contributions)
    mul = program.nodes[program.output].args[0]
    assert [(consumer, position) for consumer, position, _ in contributions[a]] == [(mul, 0)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_constant_loss_reaches_no_input(dtype):
    # the last statement is a constant: L = 2 does not depend on a, nothing to propagate
    program, values, grads, contributions = run("y = a * 3; z = 2", dtype, a=[1.0, -2.0])
    assert float(values[program.output]) == 2.0
    assert grads[program.output] == 1.0
    assert [n for n, g in enumerate(grads) if g is not None] == [program.output]
    assert contributions == {}


def test_a_rule_that_returns_too_few_gradients_is_an_error(monkeypatch):
    # zip(…, strict=True): a dropped gradient must not pass silently
    broken = dataclasses.replace(REGISTRY["mul"], vjp=lambda g, x, o, p: [g * x[1]])
    monkeypatch.setitem(REGISTRY, "mul", broken)
    program = parse_program("y = a * b", ("a", "b"))
    values = engine.forward(
        program, {"a": np.array([1.0, -2.0]), "b": np.array([0.0, 3.0])}, "float64"
    )
    with pytest.raises(ValueError, match="zip"):
        engine.backward(program, values)


def test_every_gradient_has_its_nodes_dtype_whatever_the_rule_returns(monkeypatch):
    # a rule computing in float64 on a float32 program: the engine casts each share back
    right = REGISTRY["mul"].vjp
    upcast = dataclasses.replace(
        REGISTRY["mul"],
        vjp=lambda g, x, o, p: [s.astype(np.float64) for s in right(g, x, o, p)],
    )
    monkeypatch.setitem(REGISTRY, "mul", upcast)
    program, _, grads, contributions = run("y = a * b", "float32", a=[1.0, -2.0], b=[0.0, 3.0])
    a, b = program.variables["a"], program.variables["b"]
    np.testing.assert_array_equal(grads[a], [0.0, 3.0])
    np.testing.assert_array_equal(grads[b], [1.0, -2.0])
    assert grads[a].dtype == grads[b].dtype == np.float32
    assert all(share.dtype == np.float32 for v in (a, b) for _, _, share in contributions[v])


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_value_is_in_the_programs_dtype(dtype):
    # inputs come in as float64, the constants as Python floats (a 0-d float64 array
    # would promote a float32 product to float64): each node's value is cast to `dtype`
    program, values, _, _ = run("y = exp(a) * 0.1 - 1; z = 2", dtype, a=[-1.5, 0.0, 2.0])
    assert [v.dtype for v in values] == [np.dtype(dtype)] * len(values)
    # float32 rounds at every step, as a float32 program does in torch
    a = np.array([-1.5, 0.0, 2.0], dtype=dtype)
    step_by_step = np.exp(a) * np.asarray(0.1, dtype=dtype) - np.asarray(1.0, dtype=dtype)
    np.testing.assert_array_equal(values[program.variables["y"]], step_by_step)


def test_a_failing_operation_names_its_node_and_numpys_reason():
    # the engine run without the shape rules (as the complex step and the references do):
    # numpy's own error becomes a ProgramError that says which node failed and why
    program = parse_program("y = exp(a); z = y + b", ("a", "b"))
    inputs = {"a": np.array([0.0, -1.0]), "b": np.array([1.0, 2.0, 3.0])}
    with pytest.raises(engine.ProgramError) as caught:
        engine.forward(program, inputs, "float64")
    assert caught.value.node == program.variables["z"]
    assert program.nodes[caught.value.node].op == "add"
    assert "could not be broadcast together with shapes (2,) (3,)" in str(caught.value)


def test_a_rule_computing_in_float64_still_gives_float32_values(monkeypatch):
    right = REGISTRY["exp"].forward
    upcast = dataclasses.replace(
        REGISTRY["exp"], forward=lambda x, p: right(x, p).astype(np.float64)
    )
    monkeypatch.setitem(REGISTRY, "exp", upcast)
    program, values, _, _ = run("y = exp(a) * 2", "float32", a=[-1.5, 0.0, 2.0])
    assert [v.dtype for v in values] == [np.dtype(np.float32)] * len(values)
    np.testing.assert_array_equal(
        values[program.output], np.exp(np.float32([-1.5, 0.0, 2.0])) * np.float32(2)
    )


def test_a_constant_loss_is_answered_not_a_crash():
    # as `y = a * 3; z = b * 2` is answered: a does not reach the loss, its gradient is 0
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        cli, ["graph", "y = a * 3; z = 2", "--var", "a=[1, -2]"]
    )
    assert "Traceback" not in result.output
    assert result.exit_code == 0, result.output
    assert "a does not reach the loss: its gradient is zero" in result.stdout
    assert "OK: numpy, torch and fd agree" in result.stdout
