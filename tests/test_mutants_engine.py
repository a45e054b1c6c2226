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
from gradcli.commands.graph.parse import parse_program
from gradcli.ops import REGISTRY

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
    assert "OK: numpy, torch and fd (finite differences) agree" in result.stdout


def backward_calls(text, **inputs):
    """backward's calls of `perturb` (value, magnitude, short), with a perturb that
    changes nothing, so that the grads are the plain ones."""
    program = parse_program(text, tuple(inputs))
    values = engine.forward(program, {k: np.array(v) for k, v in inputs.items()}, "float64")
    calls = []

    def record(value, magnitude, short):
        calls.append((np.array(value), np.array(magnitude), short))
        return value

    grads, _ = engine.backward(program, values, perturb=record)
    return program, grads, calls


def test_an_exact_rule_is_not_perturbed():
    # relu only masks: its share is exact, and nothing else in the program rounds
    _, grads, calls = backward_calls("y = relu(a)", a=[-1.0, 0.0, 2.0])
    assert calls == []
    np.testing.assert_array_equal(grads[0], [0.0, 0.0, 1.0])


def test_a_unary_rule_rounds_relative_to_its_share():
    # d(eᵃ) = eᵃ·da: one product per element, so relative to the share itself, short
    _, _, calls = backward_calls("y = exp(a)", a=[-1.0, 0.0, 2.0])
    assert len(calls) == 1
    value, magnitude, short = calls[0]
    np.testing.assert_array_equal(value, np.exp([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(magnitude, np.exp([-1.0, 0.0, 2.0]))
    assert short is True


def test_a_binary_rule_rounds_relative_to_the_rule_on_magnitudes():
    # d(a·b) = b·da + a·db, summed back over broadcast axes: relative to the same rule
    # run on |g|, |a|, |b| (here b broadcasts, so its share is a sum of terms)
    _, _, calls = backward_calls("y = a * b", a=[-2.0, 0.0, 3.0], b=-1.5)
    assert [short for _, _, short in calls] == [False, False]
    (share_a, size_a, _), (share_b, size_b, _) = calls
    np.testing.assert_array_equal(share_a, [-1.5, -1.5, -1.5])
    np.testing.assert_array_equal(size_a, [1.5, 1.5, 1.5])
    assert float(share_b) == 1.0  # −2 + 0 + 3
    assert float(size_b) == 5.0  # |−2| + |0| + |3|: the terms' size, not the sum's


def test_a_sum_rule_and_a_sum_of_shares_are_rounded():
    # sum: "terms" (a sum inside); a·a: two shares of a added, then rounded as one sum
    _, grads, calls = backward_calls("y = sum(a * a)", a=[-2.0, 0.0, 3.0])
    shorts = [short for _, _, short in calls]
    assert shorts == [False, False, False, True]  # sum's share, mul's two, their total
    total, magnitude, _ = calls[-1]
    np.testing.assert_array_equal(total, [-4.0, 0.0, 6.0])
    np.testing.assert_array_equal(magnitude, [4.0, 0.0, 6.0])
    np.testing.assert_array_equal(grads[0], [-4.0, 0.0, 6.0])


def test_the_magnitudes_of_pow_use_the_magnitude_of_its_result():
    # the rule run on |g| = 1, |a| = [2, 0.5, 1], |out| = |a³| = [8, 0.125, 1]:
    # da: |b|·|a|^(b−1) = [12, 0.75, 3]; db (b broadcasts): Σ |out|·log|a| = 7.875·log 2
    _, _, calls = backward_calls("y = a ** b", a=[2.0, 0.5, -1.0], b=3.0)
    (_, size_a, _), (_, size_b, _) = calls
    np.testing.assert_allclose(size_a, [12.0, 0.75, 3.0], rtol=1e-15)
    assert float(size_b) == pytest.approx(7.875 * np.log(2.0), rel=1e-14)


def test_forward_rounds_each_result_as_the_registry_says():
    # relu: exact, untouched; a·b: relative to itself, short; sum: relative to Σ|terms|
    program = parse_program("y = sum(relu(a) * b)", ("a", "b"))
    inputs = {"a": np.array([-1.0, 2.0, 3.0]), "b": np.array([5.0, -4.0, 1.0])}
    calls = []

    def record(value, magnitude, short):
        calls.append((np.array(value), np.array(magnitude), short))
        return value

    values = engine.forward(program, inputs, "float64", perturb=record)
    assert float(values[program.output]) == -5.0  # 0·5 + 2·(−4) + 3·1
    assert [short for _, _, short in calls] == [True, False]
    (product, size, _), (total, terms, _) = calls
    np.testing.assert_array_equal(product, [0.0, -8.0, 3.0])
    np.testing.assert_array_equal(size, [0.0, 8.0, 3.0])
    assert float(total) == -5.0
    assert float(terms) == 11.0  # |0| + |−8| + |3|


def test_forward_rounds_a_cancelling_sum_of_two_relative_to_its_result():
    # a + b rounds once, relative to |a + b| (one operation), not to |a| + |b|
    program = parse_program("y = a + b", ("a", "b"))
    inputs = {"a": np.array([1.0, -2.0, 0.0]), "b": np.array([-1.0, 5.0, 0.0])}
    calls = []

    def record(value, magnitude, short):
        calls.append((np.array(value), np.array(magnitude), short))
        return value

    engine.forward(program, inputs, "float64", perturb=record)
    ((total, size, short),) = calls
    np.testing.assert_array_equal(total, [0.0, 3.0, 0.0])
    np.testing.assert_array_equal(size, [0.0, 3.0, 0.0])
    assert short is True
