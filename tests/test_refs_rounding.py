"""A graph program's own rounding noise (gradcli/commands/graph/rounding.py): correct
code at ill-conditioned inputs passes, in float64 and float32, and planted errors above
that noise are still caught (issue 12, "no false alarm ... every planted error caught")."""

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner

from gradcli import core, ops
from gradcli.backends import autograd_graph, engine
from gradcli.cli import cli
from gradcli.commands.graph import rounding as graph_rounding
from gradcli.commands.graph.parse import parse_program
from tests.test_graph import run

LAYER_NORM = (
    "m = a.mean(dim=1, keepdim=True); d = a - m; v = (d * d).mean(dim=1, keepdim=True); "
    "y = d / sqrt(v + 1e-5)"
)
PROGRAMS = {
    "layer norm": LAYER_NORM,
    "layer norm times w": LAYER_NORM.replace("y = d /", "n = d /") + "; y = n * w",
    "log-sum-exp": (
        "m = a.max(dim=1, keepdim=True); y = m + log(exp(a - m).sum(dim=1, keepdim=True))"
    ),
    "softmax(a*1000)": "y = softmax(a*1000, dim=1) * w",
    "log_softmax": "y = log_softmax(a, dim=1) * w",
    "tanh of centred a": "c = a - a.mean(); y = tanh(c) * w",
}


def _inputs(shift, spread, seed=0):
    rng = np.random.default_rng(seed)
    return {"a": shift + spread * rng.standard_normal((3, 6)), "w": rng.standard_normal((3, 6))}


def test_the_issues_ill_conditioned_layer_norm_passes_and_says_why():
    a = 1000 + 1e-3 * np.random.default_rng(0).standard_normal((3, 6))
    result = CliRunner().invoke(
        cli, ["graph", LAYER_NORM, "--var", f"a={json.dumps(a.tolist())}", "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    (v,) = [c for c in doc["comparisons"] if c["id"] == "grads.v"]
    assert v["quantity"] == "v.grad"  # as the view prints it
    # ∂L/∂v is exactly 0 in exact arithmetic; torch's rounding makes it ~1e-5, numpy's
    # ~1e-12: a difference of 1e-5 that the program's measured noise allows
    assert 5e-6 < v["max_abs_error"] < 2e-5
    assert v["max_abs_error"] < v["allowed"] < 1e-3
    # fd's rounding bound is relative to the loss's measured noise, not ε·max|a|
    (ref,) = doc["references"]
    assert 1e-8 < ref["max_error"] < 1e-5


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("shift", "spread"), [(1e3, 1.0), (1e4, 1.0), (1e3, 1e-3), (1e4, 1e-2)])
@pytest.mark.parametrize("program", list(PROGRAMS), ids=list(PROGRAMS))
def test_no_false_alarm_at_ill_conditioned_inputs(program, shift, spread, dtype):
    inputs = _inputs(shift, spread)
    text = PROGRAMS[program]
    report = run(text, dtype=dtype, **{k: v for k, v in inputs.items() if k in text})
    assert report.ok, report.verdict.summary


def _planted(monkeypatch, name, relative):
    real = ops.REGISTRY[name]
    wrong = dataclasses.replace(
        real, vjp=lambda g, x, o, p: [v * (1 + relative) for v in real.vjp(g, x, o, p)]
    )
    monkeypatch.setitem(ops.REGISTRY, name, wrong)


@pytest.mark.parametrize("op", ["div", "sqrt", "mean"])
def test_a_planted_error_in_the_ill_conditioned_layer_norm_is_caught(monkeypatch, op):
    # 1e-6 relative in float64: the noise the program makes is ~1e-11 of ∂L/∂d there
    _planted(monkeypatch, op, 1e-6)
    a = 1000 + 1e-3 * np.random.default_rng(0).standard_normal((3, 6))
    text = PROGRAMS["layer norm times w"]
    report = run(text, a=a, w=_inputs(0, 1)["w"])
    assert not report.ok
    assert "numpy differs" in report.verdict.summary or "disagree" in report.verdict.summary


@pytest.mark.parametrize(("dtype", "relative"), [("float64", 1e-6), ("float32", 1e-3)])
def test_a_planted_error_at_1e4_is_caught(monkeypatch, dtype, relative):
    _planted(monkeypatch, "tanh", relative)
    inputs = _inputs(1e4 if dtype == "float64" else 100.0, 1.0, seed=1)
    report = run(PROGRAMS["tanh of centred a"], dtype=dtype, **inputs)
    assert report.verdict.summary.startswith("DISAGREE: a.grad: torch and fd agree, numpy differs")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("program", list(PROGRAMS), ids=list(PROGRAMS))
def test_the_measured_noise_covers_torchs_distance_from_numpy(program, dtype):
    """The law the core relies on: two correct float implementations differ by at most
    a few times the noise (beyond rtol), here with ROUNDING_FACTOR / 2 to spare."""
    text = PROGRAMS[program]
    for seed in range(3):
        inputs = {k: v for k, v in _inputs(1e3, 1e-2, seed).items() if k in text}
        program_ = parse_program(text, tuple(inputs))
        shadow = {k: v.astype(dtype).astype(np.float64) for k, v in inputs.items()}
        noise = graph_rounding.noise(program_, shadow, dtype)
        values = engine.forward(program_, {k: v.astype(dtype) for k, v in shadow.items()}, dtype)
        grads, _ = engine.backward(program_, values)
        torch = autograd_graph.graph(program_, shadow, dtype)
        rtol = 1e-9 if dtype == "float64" else 1e-4
        for name, node in program_.variables.items():
            mine, theirs = grads[node], torch[f"grads.{name}"]
            beyond = np.abs(mine - theirs) - rtol * np.abs(theirs) - 1e-300
            assert np.all(beyond <= core.ROUNDING_FACTOR / 2 * noise[f"grads.{name}"]), name


def test_the_noise_of_a_well_conditioned_program_is_a_few_ulp():
    program = parse_program("y = tanh(a * w)", ("a", "w"))
    inputs = {"a": np.array([0.5, -1.0, 2.0]), "w": np.array([1.5, 0.25, -0.75])}
    noise = graph_rounding.noise(program, inputs, "float64")
    grad = (1 - np.tanh(inputs["a"] * inputs["w"]) ** 2) * inputs["w"]
    assert np.all(noise["grads.a"] <= 32 * np.finfo(float).eps * np.abs(grad))
    assert np.any(noise["grads.a"] > 0)  # it does perturb
    # and float32's is about 2**29 times larger
    noise32 = graph_rounding.noise(program, inputs, "float32")
    assert np.all(noise32["grads.a"] <= 32 * 2.0**-23 * np.abs(grad))
    assert noise32["grads.a"].max() > 1e6 * noise["grads.a"].max()


def test_the_simulated_rounding_keeps_ties_and_zeros():
    # a tie of max stays a tie and relu's 0 stays 0 under the perturbation
    program = parse_program("b = a * 3; y = b.max() + relu(b - 6)", ("a",))
    a = np.array([2.0, 2.0, 1.0])
    noise = graph_rounding.noise(program, {"a": a}, "float32")
    assert np.all(noise["grads.a"] < 1e-5)  # each tied element keeps 3/2 (not 3 or 0)
    unit = graph_rounding._unit(np.array([1.5, 1.5, -2.0]), 0)
    assert unit[0] == unit[1]
    assert unit.min() >= -1
    assert unit.max() < 1


def test_a_users_atol_replaces_the_measured_noise():
    a = 1000 + 1e-3 * np.random.default_rng(0).standard_normal((3, 6))
    args = ["graph", LAYER_NORM, "--var", f"a={json.dumps(a.tolist())}"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    strict = CliRunner().invoke(cli, [*args, "--atol", "1e-12"])
    assert strict.exit_code == 1  # the rounding differences, asked for, are shown


def test_a_shift_below_half_an_ulp_still_moves_the_value_by_one_ulp():
    perturb = graph_rounding._perturbation(2.0**-52, 0)
    value = np.array([1e4, 1e4 + 2.0**-39, -3.0])
    moved = perturb(value, np.array([1e-3, 1e-3, 0.0]), False)  # shifts of ~1e-19 vanish
    assert np.all(np.abs(moved[:2] - value[:2]) == np.spacing(value[:2]))
    assert moved[2] == -3.0  # nothing to round (a zero magnitude): left alone
    # a short result of one operation is exact and left alone; a sum's is not
    assert perturb(np.array([6.0]), np.array([6.0]), True)[0] == 6.0
    assert perturb(np.array([6.0]), np.array([6.0]), False)[0] != 6.0


def test_moving_elements_adds_no_noise_and_a_sum_rounds_on_its_terms():
    program = parse_program("b = a.T; c = b.reshape(6); y = c[1:4]", ("a",))
    a = np.random.default_rng(3).standard_normal((2, 3))
    noise = graph_rounding.noise(program, {"a": a}, "float64")
    assert all(np.all(v == 0) for v in noise.values())
    # a sum that cancels to 1 keeps the rounding of its terms (1e8), not of its result
    program = parse_program("y = a.sum()", ("a",))
    noise = graph_rounding.noise(program, {"a": np.array([1e8 + 0.5, -1e8 + 0.5])}, "float64")
    assert 1e-9 < float(noise["values.y"]) < 1e-7  # about ε·2e8 = 4.4e-8


@pytest.mark.parametrize(
    "text",
    [
        *("y = a", "y = -a", "y = abs(a)", "y = relu(a)", "y = a.max()", "y = a.max(dim=0)"),
        *("y = a.T", "y = transpose(a, 0, 1)", "y = a.reshape(6)", "y = a[1, 0:2]"),
    ],
)
def test_every_exact_operation_adds_no_noise(text):
    program = parse_program(text, ("a",))
    a = np.array([[0.1, -0.7, 1.3], [2.9, 0.3, -1.1]])
    noise = graph_rounding.noise(program, {"a": a}, "float32")
    assert all(np.all(v == 0) for v in noise.values()), text


@pytest.mark.parametrize(
    ("text", "b"),
    [("y = a.sum()", None), ("y = a.mean()", None), ("y = a @ b", np.array([1.0, 1.0]))],
)
def test_a_cancelling_sum_mean_or_matmul_rounds_on_its_terms(text, b):
    inputs = {"a": np.array([1e8 + 0.5, -1e8 + 0.5])}
    if b is not None:
        inputs["b"] = b
    program = parse_program(text, tuple(inputs))
    noise = graph_rounding.noise(program, inputs, "float64")
    # |terms| ≈ 2e8 (1e8 for the mean): ε of that is about 2e-8, ε of the result 2e-16
    assert 1e-9 < float(noise["values.y"]) < 1e-7, text
    # and the backward of a·b through a broadcast sum rounds on its terms too
    program = parse_program("y = (a * c).sum(dim=0)", ("a", "c"))
    a, c = np.array([[1e8 + 0.5], [-1e8 + 0.5]]), np.array([[1.0, 3.0]])
    noise = graph_rounding.noise(program, {"a": a, "c": c}, "float64")
    assert 1e-9 < float(noise["grads.c"].max()) < 1e-6
